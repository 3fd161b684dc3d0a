package access

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/sharedcare/sharedcare/internal/fhir"
)

// Defaults for VerifierConfig's zero values.
const (
	// DefaultLeeway absorbs clock skew between the authorization server
	// and this server when checking exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
	// DefaultJWKSRefreshInterval bounds how long a key the authorization
	// server has withdrawn is still trusted.
	DefaultJWKSRefreshInterval = 15 * time.Minute
	// DefaultUnknownKIDRefreshInterval is the least time between two key
	// set fetches triggered by tokens with an unknown kid, so that a
	// stream of forged tokens cannot turn the server against its
	// authorization server.
	DefaultUnknownKIDRefreshInterval = time.Minute
)

const (
	// maxTokenBytes refuses absurd tokens before any parsing; real access
	// tokens, even with GP Connect resources in their claims, are a few
	// kilobytes.
	maxTokenBytes = 16 << 10
	// jwksFetchTimeout bounds one key set fetch, and with it how long a
	// request with an unknown kid can wait for the refresh it triggers.
	jwksFetchTimeout = 10 * time.Second
)

// acceptedAlgs are the only signature algorithms accepted: asymmetric, so
// that the key set can be public, and excluding none and HMAC, the classic
// JWT confusion attacks.
var acceptedAlgs = []string{"RS256", "ES256"}

// VerifierConfig says whose tokens a Verifier accepts.
type VerifierConfig struct {
	// JWKSURL is the authorization server's key set. It must be https,
	// except on a loopback address.
	JWKSURL string
	// Issuer is the exact iss claim required.
	Issuer string
	// Audience must appear in the aud claim; SMART uses the FHIR base URL.
	Audience string
	// Leeway is the clock skew allowed; zero means DefaultLeeway.
	Leeway time.Duration
	// RefreshInterval is how often the key set is fetched in the
	// background; zero means DefaultJWKSRefreshInterval.
	RefreshInterval time.Duration
	// UnknownKIDRefreshInterval is the least time between fetches
	// triggered by an unknown kid; zero means
	// DefaultUnknownKIDRefreshInterval.
	UnknownKIDRefreshInterval time.Duration
}

// Verifier checks bearer tokens and turns them into Callers. It is safe for
// concurrent use.
type Verifier struct {
	cache    tokenCache
	keys     keyfunc.Keyfunc
	parser   *jwt.Parser
	issuer   string
	audience string
}

// NewVerifier returns a Verifier for tokens signed with the keys published
// at cfg.JWKSURL. It fetches the key set once before returning, so that a
// wrong URL fails at start rather than on every request, then refreshes it
// in the background until ctx is done. A token whose kid is not in the set
// triggers an early refresh (at most one per UnknownKIDRefreshInterval), so
// that a key rotation is picked up without waiting for the next one.
func NewVerifier(ctx context.Context, cfg VerifierConfig) (*Verifier, error) {
	if err := checkVerifierConfig(cfg); err != nil {
		return nil, err
	}
	if err := checkJWKSURL(cfg.JWKSURL); err != nil {
		return nil, err
	}
	refresh := cmp.Or(cfg.RefreshInterval, DefaultJWKSRefreshInterval)
	unknownKID := cmp.Or(cfg.UnknownKIDRefreshInterval, DefaultUnknownKIDRefreshInterval)

	// The refresh goroutine starts before the first fetch, so a failed
	// construction must stop it; otherwise it runs as long as ctx.
	refreshCtx, stop := context.WithCancel(ctx)
	remote, err := jwkset.NewStorageFromHTTP(cfg.JWKSURL, jwkset.HTTPClientStorageOptions{
		Ctx:             refreshCtx,
		HTTPTimeout:     jwksFetchTimeout,
		RefreshInterval: refresh,
		RefreshErrorHandler: func(ctx context.Context, err error) {
			slog.ErrorContext(ctx, "refreshing the token signing key set failed", "url", cfg.JWKSURL, "error", err)
		},
	})
	if err != nil {
		stop()
		return nil, fmt.Errorf("access: fetching the key set from %s: %w", cfg.JWKSURL, err)
	}
	context.AfterFunc(ctx, stop)
	storage, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{cfg.JWKSURL: remote},
		RateLimitWaitMax:  jwksFetchTimeout,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(unknownKID), 1),
	})
	if err != nil {
		stop()
		return nil, fmt.Errorf("access: key set client: %w", err)
	}
	v, err := newVerifier(ctx, cfg, storage)
	if err != nil {
		stop()
		return nil, err
	}
	return v, nil
}

// NewVerifierFromJWKS returns a Verifier for tokens signed with the keys of
// the JWK Set jwks, held in memory and never refreshed. Dev auth uses it so
// that the server does not fetch its own key set over HTTP. cfg.JWKSURL and
// the refresh intervals are ignored.
func NewVerifierFromJWKS(cfg VerifierConfig, jwks []byte) (*Verifier, error) {
	if err := checkVerifierConfig(cfg); err != nil {
		return nil, err
	}
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(jwks, &set); err != nil {
		return nil, fmt.Errorf("access: reading JWK Set: %w", err)
	}
	storage, err := set.ToStorage()
	if err != nil {
		return nil, fmt.Errorf("access: reading JWK Set: %w", err)
	}
	return newVerifier(context.Background(), cfg, storage)
}

func checkVerifierConfig(cfg VerifierConfig) error {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return errors.New("access: a token verifier needs an issuer and an audience")
	}
	if cfg.Leeway < 0 || cfg.RefreshInterval < 0 || cfg.UnknownKIDRefreshInterval < 0 {
		return errors.New("access: negative duration in the token verifier configuration")
	}
	return nil
}

func newVerifier(ctx context.Context, cfg VerifierConfig, storage jwkset.Storage) (*Verifier, error) {
	keys, err := keyfunc.New(keyfunc.Options{
		Ctx:     ctx,
		Storage: storage,
		// Keys published for encryption must not verify signatures; many
		// key sets leave use out, which means any use.
		UseWhitelist: []jwkset.USE{jwkset.UseSig, ""},
	})
	if err != nil {
		return nil, fmt.Errorf("access: %w", err)
	}
	ttl := tokenCacheTTL
	if cfg.RefreshInterval > 0 && cfg.RefreshInterval < ttl {
		ttl = cfg.RefreshInterval
	}
	return &Verifier{
		cache: tokenCache{ttl: ttl},
		keys:  keys,
		parser: jwt.NewParser(
			jwt.WithValidMethods(acceptedAlgs),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience(cfg.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(cmp.Or(cfg.Leeway, DefaultLeeway)),
			jwt.WithStrictDecoding(),
		),
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
	}, nil
}

// checkJWKSURL refuses a key set fetched over plain HTTP from another host:
// whoever can alter it can mint tokens.
func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("access: JWKS URL %q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return fmt.Errorf("access: JWKS URL %q must use https", raw)
}

// Verify checks the request's bearer token and returns its Caller. Errors
// are *fhir.Error: KindUnauthorized when there is no token or it cannot be
// trusted (signature, alg, kid, exp, nbf, iat, iss, aud, sub, a claim of the
// wrong shape), KindForbidden when the token is valid but its claims give
// no access here (unknown care_role, no organisation, a system without
// record_source, break-glass outside its conditions). BearerChallenge gives
// the WWW-Authenticate value that goes with a 401.
func (v *Verifier) Verify(r *http.Request) (*Caller, error) {
	token, err := bearerToken(r.Header)
	if err != nil {
		return nil, err
	}
	return v.VerifyToken(r.Context(), token)
}

// VerifyToken is Verify for a token that came some other way than an
// Authorization header. ctx bounds the key set refresh an unknown kid may
// trigger.
func (v *Verifier) VerifyToken(ctx context.Context, token string) (*Caller, error) {
	if len(token) > maxTokenBytes {
		return nil, invalidToken(nil, "security", "bearer token is longer than %d bytes", maxTokenBytes)
	}
	now := time.Now()
	if c, ok := v.cache.get(token, now); ok {
		return c, nil
	}
	var claims tokenClaims
	tok, err := v.parser.ParseWithClaims(token, &claims, v.keyfunc(ctx))
	if err != nil {
		return nil, v.tokenError(tok, &claims, err)
	}
	c, err := newCaller(&claims)
	if err != nil {
		return nil, err
	}
	if claims.ExpiresAt != nil {
		v.cache.put(token, c, claims.ExpiresAt.Time, now)
	}
	return c, nil
}

// errNoKID marks a token without a kid header. Such a token would be tried
// against every key in the set; requiring the kid keeps lookup exact and
// the unknown-kid refresh meaningful.
var errNoKID = errors.New("token has no kid header")

func (v *Verifier) keyfunc(ctx context.Context) jwt.Keyfunc {
	lookup := v.keys.KeyfuncCtx(ctx)
	return func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid == "" {
			return nil, errNoKID
		}
		return lookup(t)
	}
}

// tokenError explains why golang-jwt refused a token, in words a client
// developer can act on; the library's error is kept as the cause for logs.
func (v *Verifier) tokenError(tok *jwt.Token, claims *tokenClaims, err error) *fhir.Error {
	var alg, kid string
	if tok != nil {
		alg, _ = tok.Header["alg"].(string)
		kid, _ = tok.Header["kid"].(string)
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return invalidToken(err, "security", "bearer token is not a well-formed JWT")
	case tok != nil && !slices.Contains(acceptedAlgs, alg):
		return invalidToken(err, "security", "bearer token algorithm %q is not accepted: use RS256 or ES256", alg)
	case errors.Is(err, errNoKID):
		return invalidToken(err, "security", "bearer token has no kid header")
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return invalidToken(err, "security", "bearer token signing key (kid %q, alg %s) is not in the trusted key set", kid, alg)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return invalidToken(err, "security", "bearer token signature is invalid")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		var missing []string
		if claims.ExpiresAt == nil {
			missing = append(missing, "exp")
		}
		if claims.Issuer == "" {
			missing = append(missing, "iss")
		}
		if len(claims.Audience) == 0 || slices.Equal(claims.Audience, jwt.ClaimStrings{""}) {
			missing = append(missing, "aud")
		}
		return invalidToken(err, "security", "bearer token lacks required claims %s", strings.Join(missing, ", "))
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return invalidToken(err, "security", "bearer token issuer is not %s", v.issuer)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return invalidToken(err, "security", "bearer token audience does not include %s", v.audience)
	case errors.Is(err, jwt.ErrTokenExpired):
		return invalidToken(err, "expired", "bearer token has expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return invalidToken(err, "security", "bearer token is not valid yet (nbf is in the future)")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return invalidToken(err, "security", "bearer token was issued in the future (iat)")
	}
	return invalidToken(err, "security", "bearer token is invalid")
}

// errMissingToken marks requests that carry no bearer token at all, which
// RFC 6750 section 3.1 answers with a challenge but no error code.
var errMissingToken = errors.New("no bearer token")

// bearerToken returns the token of the request's Authorization header.
// Only the header is accepted: tokens in query strings end up in logs.
func bearerToken(h http.Header) (string, error) {
	values := h.Values("Authorization")
	switch len(values) {
	case 0:
		return "", invalidToken(errMissingToken, "login", "this request needs an Authorization: Bearer token")
	case 1:
	default:
		return "", invalidToken(nil, "security", "more than one Authorization header")
	}
	scheme, token, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", invalidToken(errMissingToken, "login", "the Authorization header does not carry a Bearer token")
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", invalidToken(errMissingToken, "login", "the Authorization header has an empty Bearer token")
	}
	if strings.ContainsAny(token, " \t") {
		return "", invalidToken(nil, "security", "the Bearer token must be a single word")
	}
	return token, nil
}

func invalidToken(cause error, code, format string, args ...any) *fhir.Error {
	e := fhir.Errorf(fhir.KindUnauthorized, code, format, args...)
	e.Err = cause
	return e
}

// BearerChallenge returns the WWW-Authenticate value for err, per RFC 6750
// section 3: a bare challenge when the request had no token, invalid_token
// for any other 401, insufficient_scope for an InsufficientScope 403, and ""
// for anything else, which carries no challenge.
func BearerChallenge(realm string, err error) string {
	var fe *fhir.Error
	if !errors.As(err, &fe) {
		return ""
	}
	challenge := "Bearer realm=" + quoteAuthParam(realm)
	var code string
	switch {
	case fe.Kind == fhir.KindUnauthorized && errors.Is(err, errMissingToken):
		return challenge
	case fe.Kind == fhir.KindUnauthorized:
		code = "invalid_token"
	case fe.Kind == fhir.KindForbidden && errors.Is(err, errInsufficientScope):
		code = "insufficient_scope"
	default:
		return ""
	}
	challenge += `, error="` + code + `"`
	if len(fe.Issues) > 0 {
		challenge += ", error_description=" + quoteAuthParam(fe.Issues[0].Diagnostics)
	}
	return challenge
}

// quoteAuthParam quotes s for a challenge, keeping only the characters RFC
// 6750 allows in error_description (printable ASCII but '"' and '\').
func quoteAuthParam(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteByte('\'')
		case r == '\\' || r < 0x20 || r > 0x7e:
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
