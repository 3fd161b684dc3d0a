package access

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/fhir"
)

func TestLoadOrCreateDevKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k1, err := LoadOrCreateDevKey(dir)
	require.NoError(t, err)

	info, err := os.Stat(filepath.Join(dir, DevKeyFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file is left behind")

	k2, err := LoadOrCreateDevKey(dir)
	require.NoError(t, err)
	assert.Equal(t, k1.kid, k2.kid, "the key is loaded, not recreated")
	assert.JSONEq(t, string(k1.JWKS()), string(k2.JWKS()))

	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(k1.JWKS(), &set))
	require.Len(t, set.Keys, 1)
	key := set.Keys[0]
	assert.Equal(t, "EC", key["kty"])
	assert.Equal(t, "P-256", key["crv"])
	assert.Equal(t, "ES256", key["alg"])
	assert.Equal(t, "sig", key["use"])
	assert.Equal(t, k1.kid, key["kid"])
	assert.NotContains(t, key, "d", "the published set holds no private key")
}

func TestLoadOrCreateDevKeyConcurrently(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	kids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, err := LoadOrCreateDevKey(dir)
			if assert.NoError(t, err) {
				kids[i] = k.kid
			}
		})
	}
	wg.Wait()
	for _, kid := range kids {
		assert.Equal(t, kids[0], kid, "every first start agrees on one key")
	}
}

func writePKCS8(t *testing.T, dir string, key any) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	require.NoError(t, os.WriteFile(filepath.Join(dir, DevKeyFile), data, 0o600))
}

func TestLoadDevKeyRSA(t *testing.T) {
	dir := t.TempDir()
	writePKCS8(t, dir, rsaKeys())
	k, err := LoadOrCreateDevKey(dir)
	require.NoError(t, err)
	token, err := k.Mint(MintOptions{Role: CareRoleGP, Org: "A81001", Audience: testAudience})
	require.NoError(t, err)
	v, err := k.Verifier(DevIssuer, testAudience)
	require.NoError(t, err)
	_, err = v.VerifyToken(t.Context(), token)
	require.NoError(t, err)
}

func TestLoadDevKeyRefusesBadFiles(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)

	tests := []struct {
		name    string
		write   func(t *testing.T, dir string)
		wantErr string
	}{
		{"not PEM", func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, DevKeyFile), []byte("hello"), 0o600))
		}, "not a PEM PKCS #8 private key"},
		{"PKCS #1", func(t *testing.T, dir string) {
			data := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKeys())})
			require.NoError(t, os.WriteFile(filepath.Join(dir, DevKeyFile), data, 0o600))
		}, "not a PEM PKCS #8 private key"},
		{"small RSA", func(t *testing.T, dir string) { writePKCS8(t, dir, small) }, "at least 2048 bits"},
		{"P-384", func(t *testing.T, dir string) { writePKCS8(t, dir, p384) }, "must be on P-256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.write(t, dir)
			_, err := LoadOrCreateDevKey(dir)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestDevKeyMint(t *testing.T) {
	k, err := LoadOrCreateDevKey(t.TempDir())
	require.NoError(t, err)
	v, err := k.Verifier(DevIssuer, testAudience)
	require.NoError(t, err)

	tests := []struct {
		name string
		opts MintOptions
		want Caller // TokenID is checked apart: it is random
	}{
		{
			name: "gp defaults",
			opts: MintOptions{Role: CareRoleGP, Org: "A81001", Audience: testAudience},
			want: Caller{Subject: "dev-gp", CareRole: CareRoleGP, Organization: "A81001", Reason: ReasonDirectCare, Scopes: ParseScopes("user/*.cruds")},
		},
		{
			name: "care staff",
			opts: MintOptions{Role: CareRoleCareStaff, Org: "V12345", Audience: testAudience, Subject: "carer-1", Practitioner: "P1"},
			want: Caller{Subject: "carer-1", CareRole: CareRoleCareStaff, Organization: "V12345", Practitioner: CallerPractitioner{ID: "P1"}, Reason: ReasonDirectCare, Scopes: ParseScopes("user/*.cruds")},
		},
		{
			name: "break-glass",
			opts: MintOptions{Role: CareRoleClinician, Org: "RXH", Audience: testAudience, BreakGlassReason: "collapsed in A&E"},
			want: Caller{Subject: "dev-clinician", CareRole: CareRoleClinician, Organization: "RXH", Reason: ReasonEmergency, BreakGlassReason: "collapsed in A&E", Scopes: ParseScopes("user/*.cruds")},
		},
		{
			name: "system",
			opts: MintOptions{Role: CareRoleSystem, Org: "RXH", Audience: testAudience, Source: RecordSourceHospital},
			want: Caller{Subject: "dev-system", CareRole: CareRoleSystem, Organization: "RXH", RecordSource: RecordSourceHospital, Scopes: ParseScopes("system/*.cruds")},
		},
		{
			name: "auditor",
			opts: MintOptions{Role: CareRoleAuditor, Org: "X26", Audience: testAudience},
			want: Caller{Subject: "dev-auditor", CareRole: CareRoleAuditor, Organization: "X26", Scopes: ParseScopes("user/AuditEvent.rs")},
		},
		{
			name: "explicit scopes and reason",
			opts: MintOptions{Role: CareRoleGP, Org: "A81001", Audience: testAudience, Reason: "research", Scopes: []string{"user/Patient.read", "user/Observation.rs"}},
			want: Caller{Subject: "dev-gp", CareRole: CareRoleGP, Organization: "A81001", Reason: "research", Scopes: ParseScopes("user/Patient.read user/Observation.rs")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, err := k.Mint(tt.opts)
			require.NoError(t, err)
			got, err := v.VerifyToken(t.Context(), token)
			require.NoError(t, err)
			assert.NotEmpty(t, got.TokenID)
			got.TokenID = ""
			assert.Equal(t, tt.want, *got)
		})
	}
}

func TestDevKeyMintIssuerAndTTL(t *testing.T) {
	k, err := LoadOrCreateDevKey(t.TempDir())
	require.NoError(t, err)
	opts := MintOptions{Role: CareRoleGP, Org: "A81001", Audience: testAudience, Issuer: "https://idp.example", TTL: -time.Minute}
	token, err := k.Mint(opts)
	require.NoError(t, err)

	v, err := k.Verifier("https://idp.example", testAudience)
	require.NoError(t, err)
	_, err = v.VerifyToken(t.Context(), token)
	requireKind(t, err, fhir.KindUnauthorized, "expired")

	devIssuer, err := k.Verifier(DevIssuer, testAudience)
	require.NoError(t, err)
	_, err = devIssuer.VerifyToken(t.Context(), token)
	requireKind(t, err, fhir.KindUnauthorized, "issuer is not sharedcare-dev")

	other, err := LoadOrCreateDevKey(t.TempDir())
	require.NoError(t, err)
	otherV, err := other.Verifier("https://idp.example", testAudience)
	require.NoError(t, err)
	_, err = otherV.VerifyToken(t.Context(), token)
	requireKind(t, err, fhir.KindUnauthorized, "not in the trusted key set")
}

func TestDevKeyMintErrors(t *testing.T) {
	k, err := LoadOrCreateDevKey(t.TempDir())
	require.NoError(t, err)
	tests := []struct {
		name    string
		opts    MintOptions
		wantErr string
	}{
		{"no role", MintOptions{Org: "A81001", Audience: testAudience}, `unknown care role ""`},
		{"unknown role", MintOptions{Role: "nurse", Org: "A81001", Audience: testAudience}, `unknown care role "nurse"`},
		{"no organisation", MintOptions{Role: CareRoleGP, Audience: testAudience}, "is not an ODS code"},
		{"no audience", MintOptions{Role: CareRoleGP, Org: "A81001"}, "needs an audience"},
		{"system without source", MintOptions{Role: CareRoleSystem, Org: "A81001", Audience: testAudience}, "needs a record source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := k.Mint(tt.opts)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestThumbprintRFC7638(t *testing.T) {
	// The RSA example key of RFC 7638 section 3.1 and its thumbprint.
	const n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	der, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: base64URLInt(t, n), E: 65537})
	require.NoError(t, err)
	pub, err := x509.ParsePKIXPublicKey(der)
	require.NoError(t, err)
	got, err := thumbprint(pub)
	require.NoError(t, err)
	assert.Equal(t, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", got)
}

func base64URLInt(t *testing.T, s string) *big.Int {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	require.NoError(t, err)
	return new(big.Int).SetBytes(b)
}
