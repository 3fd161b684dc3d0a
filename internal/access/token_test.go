package access

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/fhir"
)

const (
	testIssuer   = "https://auth.example.org"
	testAudience = "https://fhir.example.org/fhir"
)

// testKey is a signing key with the kid and method tokens name it by.
type testKey struct {
	kid    string
	signer crypto.Signer
	method jwt.SigningMethod
}

func newECKey(t testing.TB, kid string) testKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return testKey{kid: kid, signer: k, method: jwt.SigningMethodES256}
}

// rsaKeys are generated once: 2048-bit generation is slow enough to matter
// across many tests.
var rsaKeys = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func newRSAKey(kid string) testKey {
	return testKey{kid: kid, signer: rsaKeys(), method: jwt.SigningMethodRS256}
}

// jwksOf publishes the public halves of keys, as an authorization server would.
func jwksOf(t testing.TB, keys ...testKey) []byte {
	t.Helper()
	set := jwkset.NewMemoryStorage()
	for _, k := range keys {
		alg := jwkset.ALG(k.method.Alg())
		jwk, err := jwkset.NewJWKFromKey(k.signer.Public(), jwkset.JWKOptions{
			Metadata: jwkset.JWKMetadataOptions{KID: k.kid, ALG: alg, USE: jwkset.UseSig},
		})
		require.NoError(t, err)
		require.NoError(t, set.KeyWrite(context.Background(), jwk))
	}
	b, err := set.JSONPublic(context.Background())
	require.NoError(t, err)
	return b
}

// validClaims are the claims of a token every test verifier accepts.
func validClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss":                     testIssuer,
		"aud":                     testAudience,
		"sub":                     "user-1",
		"exp":                     now.Add(5 * time.Minute).Unix(),
		"nbf":                     now.Add(-time.Minute).Unix(),
		"iat":                     now.Unix(),
		"jti":                     "token-1",
		"scope":                   "openid user/*.rs",
		"care_role":               "gp",
		"requesting_organization": "A81001",
		"reason_for_request":      "directcare",
	}
}

// claimsWith returns validClaims changed by edit; a nil value deletes the claim.
func claimsWith(edit map[string]any) jwt.MapClaims {
	c := validClaims()
	for k, v := range edit {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func sign(t testing.TB, k testKey, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(k.method, claims)
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.signer)
	require.NoError(t, err)
	return s
}

func requireKind(t *testing.T, err error, kind fhir.Kind, diagnostic string) {
	t.Helper()
	var fe *fhir.Error
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, kind, fe.Kind, "kind of %v", err)
	assert.Contains(t, fe.Error(), diagnostic)
}

func TestVerifyToken(t *testing.T) {
	ec := newECKey(t, "ec-1")
	rs := newRSAKey("rsa-1")
	v, err := NewVerifierFromJWKS(VerifierConfig{Issuer: testIssuer, Audience: testAudience}, jwksOf(t, ec, rs))
	require.NoError(t, err)
	now := time.Now()

	rsaPublicPEM := func() []byte {
		der, err := x509.MarshalPKIXPublicKey(rs.signer.Public())
		require.NoError(t, err)
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	hs256WithPublicKey := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims())
		tok.Header["kid"] = rs.kid
		s, err := tok.SignedString(rsaPublicPEM())
		require.NoError(t, err)
		return s
	}
	algNone := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, validClaims())
		tok.Header["kid"] = ec.kid
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		require.NoError(t, err)
		return s
	}
	noKID := func() string {
		tok := jwt.NewWithClaims(ec.method, validClaims())
		s, err := tok.SignedString(ec.signer)
		require.NoError(t, err)
		return s
	}
	tampered := func() string {
		parts := strings.Split(sign(t, ec, validClaims()), ".")
		other := strings.Split(sign(t, ec, claimsWith(map[string]any{"care_role": "auditor"})), ".")
		return parts[0] + "." + other[1] + "." + parts[2]
	}

	tests := []struct {
		name     string
		token    string
		wantKind fhir.Kind // 0 (KindInternal) means success
		wantDiag string
	}{
		{"ES256", sign(t, ec, validClaims()), 0, ""},
		{"RS256", sign(t, rs, validClaims()), 0, ""},
		{"aud array containing ours", sign(t, ec, claimsWith(map[string]any{"aud": []string{"other", testAudience}})), 0, ""},
		{"expired within leeway", sign(t, ec, claimsWith(map[string]any{"exp": now.Add(-10 * time.Second).Unix()})), 0, ""},
		{"nbf within leeway", sign(t, ec, claimsWith(map[string]any{"nbf": now.Add(10 * time.Second).Unix()})), 0, ""},
		{"no nbf", sign(t, ec, claimsWith(map[string]any{"nbf": nil})), 0, ""},
		{"expired", sign(t, ec, claimsWith(map[string]any{"exp": now.Add(-2 * time.Minute).Unix()})), fhir.KindUnauthorized, "expired"},
		{"nbf in the future", sign(t, ec, claimsWith(map[string]any{"nbf": now.Add(2 * time.Minute).Unix()})), fhir.KindUnauthorized, "not valid yet"},
		{"iat in the future", sign(t, ec, claimsWith(map[string]any{"iat": now.Add(2 * time.Minute).Unix()})), fhir.KindUnauthorized, "issued in the future"},
		{"no exp", sign(t, ec, claimsWith(map[string]any{"exp": nil})), fhir.KindUnauthorized, "lacks required claims exp"},
		{"no iss", sign(t, ec, claimsWith(map[string]any{"iss": nil})), fhir.KindUnauthorized, "lacks required claims iss"},
		{"no aud", sign(t, ec, claimsWith(map[string]any{"aud": nil})), fhir.KindUnauthorized, "lacks required claims aud"},
		{"wrong iss", sign(t, ec, claimsWith(map[string]any{"iss": "https://evil.example"})), fhir.KindUnauthorized, "issuer is not " + testIssuer},
		{"wrong aud", sign(t, ec, claimsWith(map[string]any{"aud": "https://other.example/fhir"})), fhir.KindUnauthorized, "audience does not include " + testAudience},
		{"no sub", sign(t, ec, claimsWith(map[string]any{"sub": nil})), fhir.KindUnauthorized, "no sub claim"},
		{"alg none", algNone(), fhir.KindUnauthorized, `algorithm "none" is not accepted`},
		{"HS256 with the public key as secret", hs256WithPublicKey(), fhir.KindUnauthorized, `algorithm "HS256" is not accepted`},
		{"unknown kid", sign(t, newECKey(t, "ec-unknown"), validClaims()), fhir.KindUnauthorized, `kid "ec-unknown"`},
		{"no kid", noKID(), fhir.KindUnauthorized, "no kid header"},
		{"known kid, other key", sign(t, newECKey(t, ec.kid), validClaims()), fhir.KindUnauthorized, "signature is invalid"},
		{"ES256 token naming an RSA key", sign(t, testKey{kid: rs.kid, signer: ec.signer, method: ec.method}, validClaims()), fhir.KindUnauthorized, "not in the trusted key set"},
		{"tampered payload", tampered(), fhir.KindUnauthorized, "signature is invalid"},
		{"not a JWT", "a.b.c", fhir.KindUnauthorized, "not a well-formed JWT"},
		{"two segments", "abc.def", fhir.KindUnauthorized, "not a well-formed JWT"},
		{"claim of the wrong type", sign(t, ec, claimsWith(map[string]any{"care_role": 7})), fhir.KindUnauthorized, "not a well-formed JWT"},
		{"too long", strings.Repeat("a", maxTokenBytes+1), fhir.KindUnauthorized, "longer than"},
		{"valid but unknown role", sign(t, ec, claimsWith(map[string]any{"care_role": "janitor"})), fhir.KindForbidden, `care_role "janitor"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caller, err := v.VerifyToken(t.Context(), tt.token)
			if tt.wantKind == 0 {
				require.NoError(t, err)
				assert.Equal(t, "user-1", caller.Subject)
				assert.Equal(t, CareRoleGP, caller.CareRole)
				assert.Equal(t, "A81001", caller.Organization)
				assert.Equal(t, "token-1", caller.TokenID)
				assert.Equal(t, []Scope{{Context: "user", ResourceType: "*", perms: permRead | permSearch, raw: "user/*.rs"}}, caller.Scopes)
				return
			}
			assert.Nil(t, caller)
			requireKind(t, err, tt.wantKind, tt.wantDiag)
		})
	}
}

func TestVerifyHeader(t *testing.T) {
	k := newECKey(t, "k1")
	v, err := NewVerifierFromJWKS(VerifierConfig{Issuer: testIssuer, Audience: testAudience}, jwksOf(t, k))
	require.NoError(t, err)
	token := sign(t, k, validClaims())

	tests := []struct {
		name          string
		headers       []string
		wantErr       string
		wantChallenge string // for realm "sharedcare"
	}{
		{"Bearer", []string{"Bearer " + token}, "", ""},
		{"scheme is case-insensitive", []string{"bearer " + token}, "", ""},
		{"surrounding spaces", []string{"Bearer   " + token + " "}, "", ""},
		{"no header", nil, "needs an Authorization: Bearer token", `Bearer realm="sharedcare"`},
		{"Basic", []string{"Basic dXNlcjpwYXNz"}, "does not carry a Bearer token", `Bearer realm="sharedcare"`},
		{"scheme only", []string{"Bearer"}, "empty Bearer token", `Bearer realm="sharedcare"`},
		{"empty token", []string{"Bearer   "}, "empty Bearer token", `Bearer realm="sharedcare"`},
		{"two words", []string{"Bearer " + token + " extra"}, "single word", `Bearer realm="sharedcare", error="invalid_token", error_description="the Bearer token must be a single word"`},
		{"two headers", []string{"Bearer " + token, "Bearer " + token}, "more than one", `Bearer realm="sharedcare", error="invalid_token", error_description="more than one Authorization header"`},
		{"garbage", []string{"Bearer x.y.z"}, "not a well-formed JWT", `Bearer realm="sharedcare", error="invalid_token", error_description="bearer token is not a well-formed JWT"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/fhir/Patient", nil)
			for _, h := range tt.headers {
				r.Header.Add("Authorization", h)
			}
			caller, err := v.Verify(r)
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, "user-1", caller.Subject)
				return
			}
			requireKind(t, err, fhir.KindUnauthorized, tt.wantErr)
			assert.Equal(t, tt.wantChallenge, BearerChallenge("sharedcare", err))
		})
	}
}

func TestBearerChallenge(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"expired", invalidToken(nil, "expired", "bearer token has expired"), `Bearer realm="r", error="invalid_token", error_description="bearer token has expired"`},
		{"quotes and control characters", invalidToken(nil, "security", "kid \"a\\b\"\n\u00e9"), `Bearer realm="r", error="invalid_token", error_description="kid 'ab'"`},
		{"insufficient scope", InsufficientScope("Observation", InteractionCreate), `Bearer realm="r", error="insufficient_scope", error_description="the token's scopes do not permit create on Observation"`},
		{"other 403", forbiddenClaim("no organisation"), ""},
		{"not found", fhir.NotFound("Patient", "1"), ""},
		{"plain error", context.Canceled, ""},
		{"nil", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, BearerChallenge("r", tt.err))
		})
	}
}

// jwksServer serves a key set that tests can replace, and counts fetches.
type jwksServer struct {
	*httptest.Server
	set     atomic.Pointer[[]byte]
	fetches atomic.Int32
}

func newJWKSServer(t *testing.T, jwks []byte) *jwksServer {
	s := &jwksServer{}
	s.set.Store(&jwks)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(*s.set.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) publish(jwks []byte) { s.set.Store(&jwks) }

func urlConfig(url string) VerifierConfig {
	return VerifierConfig{JWKSURL: url, Issuer: testIssuer, Audience: testAudience}
}

func TestNewVerifierFromURL(t *testing.T) {
	k := newECKey(t, "k1")
	srv := newJWKSServer(t, jwksOf(t, k))
	v, err := NewVerifier(t.Context(), urlConfig(srv.URL))
	require.NoError(t, err)
	assert.EqualValues(t, 1, srv.fetches.Load(), "the key set is fetched before NewVerifier returns")

	caller, err := v.VerifyToken(t.Context(), sign(t, k, validClaims()))
	require.NoError(t, err)
	assert.Equal(t, "A81001", caller.Organization)
}

func TestVerifierPicksUpRotatedKey(t *testing.T) {
	old, next := newECKey(t, "2024"), newRSAKey("2025")
	srv := newJWKSServer(t, jwksOf(t, old))
	v, err := NewVerifier(t.Context(), urlConfig(srv.URL))
	require.NoError(t, err)

	srv.publish(jwksOf(t, old, next))
	_, err = v.VerifyToken(t.Context(), sign(t, next, validClaims()))
	require.NoError(t, err, "an unknown kid triggers a refresh")
	assert.EqualValues(t, 2, srv.fetches.Load())

	_, err = v.VerifyToken(t.Context(), sign(t, old, validClaims()))
	require.NoError(t, err, "the old key stays valid while it is published")
}

func TestVerifierRateLimitsUnknownKIDRefresh(t *testing.T) {
	k := newECKey(t, "k1")
	srv := newJWKSServer(t, jwksOf(t, k))
	v, err := NewVerifier(t.Context(), urlConfig(srv.URL))
	require.NoError(t, err)

	_, err = v.VerifyToken(t.Context(), sign(t, newECKey(t, "forged-1"), validClaims()))
	requireKind(t, err, fhir.KindUnauthorized, `kid "forged-1"`)
	assert.EqualValues(t, 2, srv.fetches.Load(), "the first unknown kid refreshes")

	start := time.Now()
	_, err = v.VerifyToken(t.Context(), sign(t, newECKey(t, "forged-2"), validClaims()))
	requireKind(t, err, fhir.KindUnauthorized, `kid "forged-2"`)
	assert.EqualValues(t, 2, srv.fetches.Load(), "a second unknown kid within the interval does not")
	assert.Less(t, time.Since(start), time.Second, "nor does it wait for the rate limiter")
}

func TestVerifierDropsWithdrawnKey(t *testing.T) {
	old, next := newECKey(t, "old"), newECKey(t, "next")
	srv := newJWKSServer(t, jwksOf(t, old))
	cfg := urlConfig(srv.URL)
	cfg.RefreshInterval = 20 * time.Millisecond
	v, err := NewVerifier(t.Context(), cfg)
	require.NoError(t, err)
	token := sign(t, old, validClaims())
	_, err = v.VerifyToken(t.Context(), token)
	require.NoError(t, err)

	srv.publish(jwksOf(t, next))
	require.Eventually(t, func() bool {
		_, err := v.VerifyToken(t.Context(), token)
		return err != nil
	}, 5*time.Second, 10*time.Millisecond)
}

func TestNewVerifierErrors(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	notJSON := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html>"))
	}))
	t.Cleanup(notJSON.Close)

	tests := []struct {
		name    string
		cfg     VerifierConfig
		wantErr string
	}{
		{"plain http to another host", urlConfig("http://auth.example.org/jwks"), "must use https"},
		{"other scheme", urlConfig("file:///etc/jwks.json"), "not an absolute URL"},
		{"relative", urlConfig("/jwks.json"), "not an absolute URL"},
		{"no issuer", VerifierConfig{JWKSURL: failing.URL, Audience: testAudience}, "needs an issuer and an audience"},
		{"no audience", VerifierConfig{JWKSURL: failing.URL, Issuer: testIssuer}, "needs an issuer and an audience"},
		{"negative leeway", VerifierConfig{JWKSURL: failing.URL, Issuer: testIssuer, Audience: testAudience, Leeway: -time.Second}, "negative duration"},
		{"server error", urlConfig(failing.URL), "fetching the key set"},
		{"not a key set", urlConfig(notJSON.URL), "fetching the key set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(t.Context(), tt.cfg)
			assert.Nil(t, v)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestCheckJWKSURL(t *testing.T) {
	for _, ok := range []string{"https://auth.example.org/jwks", "http://localhost:8080/dev/jwks.json", "http://127.0.0.1:9/jwks", "http://[::1]/jwks"} {
		assert.NoError(t, checkJWKSURL(ok), ok)
	}
	for _, bad := range []string{"", "http://10.0.0.1/jwks", "ftp://auth.example.org/jwks", "http://localhost.evil.example/jwks", "https:///jwks"} {
		assert.Error(t, checkJWKSURL(bad), bad)
	}
}

func TestNewVerifierFromJWKSErrors(t *testing.T) {
	cfg := VerifierConfig{Issuer: testIssuer, Audience: testAudience}
	_, err := NewVerifierFromJWKS(cfg, []byte("not json"))
	require.ErrorContains(t, err, "reading JWK Set")
	_, err = NewVerifierFromJWKS(cfg, []byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA"}]}`))
	require.ErrorContains(t, err, "reading JWK Set")
	_, err = NewVerifierFromJWKS(VerifierConfig{Issuer: testIssuer}, jwksOf(t, newECKey(t, "k")))
	require.ErrorContains(t, err, "needs an issuer and an audience")
}

// FuzzVerify feeds arbitrary Authorization headers to a real verifier: it
// must never panic, and must answer with either a Caller or a 401/403.
func FuzzVerify(f *testing.F) {
	k := newECKey(f, "fuzz")
	v, err := NewVerifierFromJWKS(VerifierConfig{Issuer: testIssuer, Audience: testAudience}, jwksOf(f, k))
	require.NoError(f, err)
	f.Add("Bearer " + sign(f, k, validClaims()))
	f.Add("Bearer " + sign(f, k, claimsWith(map[string]any{
		"care_role":               "system",
		"record_source":           "hospital",
		"requesting_organization": map[string]any{"resourceType": "Organization", "identifier": []any{map[string]any{"system": ODSOrganizationSystem, "value": "RXH"}}},
	})))
	f.Add("")
	f.Add("Bearer")
	f.Add("Bearer a.b.c")
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest(http.MethodGet, "/fhir/metadata", nil)
		r.Header["Authorization"] = []string{header}
		caller, err := v.Verify(r)
		if err != nil {
			require.Nil(t, caller)
			kind := fhir.KindOf(err)
			require.True(t, kind == fhir.KindUnauthorized || kind == fhir.KindForbidden, "kind %v for %v", kind, err)
			BearerChallenge("fuzz", err)
			return
		}
		require.NotNil(t, caller)
		require.True(t, caller.CareRole.Known())
	})
}
