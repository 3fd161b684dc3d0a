package access

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSmartConfiguration(t *testing.T) {
	tests := []struct {
		name     string
		in       SmartEndpoints
		wantJSON string
	}{
		{
			name: "backend services only",
			in:   SmartEndpoints{Issuer: "https://idp.example", JWKSURL: "https://idp.example/jwks", TokenEndpoint: "https://idp.example/token"},
			wantJSON: `{
				"issuer": "https://idp.example",
				"jwks_uri": "https://idp.example/jwks",
				"token_endpoint": "https://idp.example/token",
				"grant_types_supported": ["client_credentials"],
				"token_endpoint_auth_methods_supported": ["private_key_jwt"],
				"scopes_supported": ["system/*.cruds", "system/*.rs", "system/*.read", "system/*.write", "user/*.cruds", "user/*.rs", "user/*.read", "user/*.write", "user/AuditEvent.rs"],
				"capabilities": ["permission-v1", "permission-v2", "permission-user", "client-confidential-asymmetric"],
				"code_challenge_methods_supported": ["S256"]
			}`,
		},
		{
			name: "with an authorization endpoint",
			in:   SmartEndpoints{Issuer: "https://idp.example", JWKSURL: "https://idp.example/jwks", AuthorizationEndpoint: "https://idp.example/authorize", TokenEndpoint: "https://idp.example/token"},
			wantJSON: `{
				"issuer": "https://idp.example",
				"jwks_uri": "https://idp.example/jwks",
				"authorization_endpoint": "https://idp.example/authorize",
				"token_endpoint": "https://idp.example/token",
				"grant_types_supported": ["authorization_code", "client_credentials"],
				"token_endpoint_auth_methods_supported": ["private_key_jwt"],
				"scopes_supported": ["system/*.cruds", "system/*.rs", "system/*.read", "system/*.write", "user/*.cruds", "user/*.rs", "user/*.read", "user/*.write", "user/AuditEvent.rs"],
				"response_types_supported": ["code"],
				"capabilities": ["permission-v1", "permission-v2", "permission-user", "client-confidential-asymmetric", "launch-standalone"],
				"code_challenge_methods_supported": ["S256"]
			}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.JSONEq(t, tt.wantJSON, string(SmartConfiguration(tt.in)))
		})
	}
}

func TestSmartConfigurationDevAuth(t *testing.T) {
	var doc map[string]any
	require.NoError(t, json.Unmarshal(SmartConfiguration(SmartEndpoints{Issuer: DevIssuer, JWKSURL: "http://localhost:8080/dev/jwks.json"}), &doc))
	assert.Equal(t, DevIssuer, doc["issuer"])
	assert.NotContains(t, doc, "token_endpoint", "dev tokens are minted by the command line, not an endpoint")
	assert.NotContains(t, doc, "authorization_endpoint")
}
