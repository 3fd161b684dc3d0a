package access

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// DevIssuer is the iss of tokens minted with a DevKey when no other is
// given. It is deliberately not a URL, so that it can never be mistaken for
// a real authorization server.
const DevIssuer = "sharedcare-dev"

// DevKeyFile is the name of the dev signing key in the data directory.
const DevKeyFile = "dev-signing-key.pem"

// defaultDevTokenTTL is long enough for an afternoon of manual testing.
const defaultDevTokenTTL = time.Hour

// DevKey is the local signing key of dev auth (SHAREDCARE_DEV_AUTH=1): the
// server trusts it instead of an external authorization server, and
// `sharedcare token` mints tokens with it. Anyone who can read the key file
// can mint any token, which is why dev auth is never for production.
type DevKey struct {
	signer crypto.Signer
	method jwt.SigningMethod
	kid    string
	jwks   []byte
}

// LoadOrCreateDevKey loads the dev signing key from dataDir, creating the
// directory and an ES256 key (mode 0600) on first use. It also loads an
// RS256 key (RSA, at least 2048 bits) placed there by hand. Concurrent first
// starts agree on one key.
func LoadOrCreateDevKey(dataDir string) (*DevKey, error) {
	path := filepath.Join(dataDir, DevKeyFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = createDevKeyFile(dataDir, path)
	}
	if err != nil {
		return nil, fmt.Errorf("access: dev signing key: %w", err)
	}
	k, err := parseDevKey(data)
	if err != nil {
		return nil, fmt.Errorf("access: dev signing key %s: %w", path, err)
	}
	return k, nil
}

// createDevKeyFile writes a new key to a temporary file and links it into
// place, so that no reader ever sees half a key and a concurrent creator's
// key wins without being overwritten.
func createDevKeyFile(dataDir, path string) ([]byte, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	tmp, err := os.CreateTemp(dataDir, ".dev-signing-key-*") // mode 0600
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return os.ReadFile(path)
	} else if err != nil {
		return nil, err
	}
	return data, nil
}

func parseDevKey(data []byte) (*DevKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PEM PKCS #8 private key")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	k := &DevKey{}
	var alg jwkset.ALG
	switch key := parsed.(type) {
	case *ecdsa.PrivateKey:
		if key.Curve != elliptic.P256() {
			return nil, errors.New("an ECDSA key must be on P-256 for ES256")
		}
		k.signer, k.method, alg = key, jwt.SigningMethodES256, jwkset.AlgES256
	case *rsa.PrivateKey:
		if key.N.BitLen() < 2048 {
			return nil, errors.New("an RSA key must have at least 2048 bits")
		}
		k.signer, k.method, alg = key, jwt.SigningMethodRS256, jwkset.AlgRS256
	default:
		return nil, fmt.Errorf("unsupported key type %T: use ECDSA P-256 or RSA", parsed)
	}
	k.kid, err = thumbprint(k.signer.Public())
	if err != nil {
		return nil, err
	}
	jwk, err := jwkset.NewJWKFromKey(k.signer.Public(), jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{ALG: alg, KID: k.kid, USE: jwkset.UseSig},
	})
	if err != nil {
		return nil, err
	}
	set := jwkset.NewMemoryStorage()
	if err := set.KeyWrite(context.Background(), jwk); err != nil {
		return nil, err
	}
	if k.jwks, err = set.JSONPublic(context.Background()); err != nil {
		return nil, err
	}
	return k, nil
}

// thumbprint returns the RFC 7638 JWK thumbprint of pub, a kid that stays
// the same for as long as the key does.
func thumbprint(pub crypto.PublicKey) (string, error) {
	jwk, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{})
	if err != nil {
		return "", err
	}
	m := jwk.Marshal()
	// The members required for the key type, in lexicographic order.
	var canonical any
	switch m.KTY {
	case jwkset.KtyEC:
		canonical = struct {
			CRV string `json:"crv"`
			KTY string `json:"kty"`
			X   string `json:"x"`
			Y   string `json:"y"`
		}{string(m.CRV), string(m.KTY), m.X, m.Y}
	case jwkset.KtyRSA:
		canonical = struct {
			E   string `json:"e"`
			KTY string `json:"kty"`
			N   string `json:"n"`
		}{m.E, string(m.KTY), m.N}
	default:
		return "", fmt.Errorf("no thumbprint for key type %s", m.KTY)
	}
	b, err := json.Marshal(canonical)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// JWKS returns the public JWK Set of the key, for the server to publish
// (at /dev/jwks.json) so that other tools can verify dev tokens too.
func (k *DevKey) JWKS() []byte {
	return k.jwks
}

// Verifier returns a Verifier that trusts this key only, without fetching
// the key set over HTTP.
func (k *DevKey) Verifier(issuer, audience string) (*Verifier, error) {
	return NewVerifierFromJWKS(VerifierConfig{Issuer: issuer, Audience: audience}, k.jwks)
}

// MintOptions describe a dev token. Role, Org and Audience are required;
// the rest have defaults that give a working token for the role.
type MintOptions struct {
	Role             CareRole      // care_role
	Org              string        // requesting_organization (ODS code)
	Audience         string        // aud: the FHIR base URL the server was started with
	Subject          string        // sub; default "dev-<role>"
	Practitioner     string        // requesting_practitioner; optional
	Reason           string        // reason_for_request; default directcare for staff, emergency with a BreakGlassReason, none for auditor and system
	BreakGlassReason string        // break_glass_reason
	Scopes           []string      // default: user/*.cruds for staff, system/*.cruds for system, user/AuditEvent.rs for auditor
	Source           string        // record_source; required for system
	TTL              time.Duration // default one hour
	Issuer           string        // default DevIssuer
}

// devClaims is what Mint signs: the claims of tokenClaims in the plain
// string forms.
type devClaims struct {
	jwt.RegisteredClaims
	Scope                  string `json:"scope,omitempty"`
	CareRole               string `json:"care_role"`
	RequestingOrganization string `json:"requesting_organization"`
	RequestingPractitioner string `json:"requesting_practitioner,omitempty"`
	ReasonForRequest       string `json:"reason_for_request,omitempty"`
	BreakGlassReason       string `json:"break_glass_reason,omitempty"`
	RecordSource           string `json:"record_source,omitempty"`
}

// Mint returns a signed access token. It refuses options no server would
// accept (unknown role, no organisation, a system without a source), so that
// a typo fails at the command line rather than as a 403 later.
func (k *DevKey) Mint(o MintOptions) (string, error) {
	if !o.Role.Known() {
		return "", fmt.Errorf("access: unknown care role %q", o.Role)
	}
	if !validODSCode(o.Org) {
		return "", fmt.Errorf("access: organisation %q is not an ODS code", o.Org)
	}
	if o.Audience == "" {
		return "", errors.New("access: a token needs an audience (the FHIR base URL)")
	}
	if o.Role == CareRoleSystem && o.Source == "" {
		return "", errors.New("access: a system token needs a record source (gp, hospital or social-care)")
	}
	staff := o.Role != CareRoleSystem && o.Role != CareRoleAuditor
	if o.Reason == "" && staff {
		o.Reason = ReasonDirectCare
		if o.BreakGlassReason != "" {
			o.Reason = ReasonEmergency
		}
	}
	if len(o.Scopes) == 0 {
		switch o.Role {
		case CareRoleSystem:
			o.Scopes = []string{"system/*.cruds"}
		case CareRoleAuditor:
			o.Scopes = []string{"user/AuditEvent.rs"}
		default:
			o.Scopes = []string{"user/*.cruds"}
		}
	}
	now := time.Now()
	claims := devClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    cmp.Or(o.Issuer, DevIssuer),
			Subject:   cmp.Or(o.Subject, "dev-"+string(o.Role)),
			Audience:  jwt.ClaimStrings{o.Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(cmp.Or(o.TTL, defaultDevTokenTTL))),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        rand.Text(),
		},
		Scope:                  strings.Join(o.Scopes, " "),
		CareRole:               string(o.Role),
		RequestingOrganization: o.Org,
		RequestingPractitioner: o.Practitioner,
		ReasonForRequest:       o.Reason,
		BreakGlassReason:       o.BreakGlassReason,
		RecordSource:           o.Source,
	}
	tok := jwt.NewWithClaims(k.method, claims)
	tok.Header["kid"] = k.kid
	return tok.SignedString(k.signer)
}
