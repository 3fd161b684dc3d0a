package access

import "encoding/json"

// SmartEndpoints are what /.well-known/smart-configuration announces about
// the authorization server. This server verifies tokens but never issues
// them: the endpoints belong to the external authorization server (or are
// empty under dev auth, where `sharedcare token` mints tokens).
type SmartEndpoints struct {
	Issuer                string // iss of the tokens the server accepts
	JWKSURL               string // where the signing keys are published
	AuthorizationEndpoint string // the authorization server's, for user-facing apps; optional
	TokenEndpoint         string // the authorization server's; optional, though SMART requires it
}

// smartConfiguration is the SMART App Launch 2.0 discovery document
// (https://hl7.org/fhir/smart-app-launch/conformance.html).
type smartConfiguration struct {
	Issuer                            string   `json:"issuer,omitempty"`
	JWKSURI                           string   `json:"jwks_uri,omitempty"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint,omitempty"`
	TokenEndpoint                     string   `json:"token_endpoint,omitempty"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported,omitempty"`
	Capabilities                      []string `json:"capabilities"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
}

// SmartConfiguration returns the /.well-known/smart-configuration JSON.
// Capabilities are those of this server's token handling: SMART v1 and v2
// scopes, user and system level (not patient level: there is no launch
// context), and clients authenticated with signed JWTs (backend services).
// The authorization code flow is announced only when an authorization
// endpoint is given.
func SmartConfiguration(e SmartEndpoints) []byte {
	doc := smartConfiguration{
		Issuer:                            e.Issuer,
		JWKSURI:                           e.JWKSURL,
		AuthorizationEndpoint:             e.AuthorizationEndpoint,
		TokenEndpoint:                     e.TokenEndpoint,
		GrantTypesSupported:               []string{"client_credentials"},
		TokenEndpointAuthMethodsSupported: []string{"private_key_jwt"},
		ScopesSupported: []string{
			"system/*.cruds", "system/*.rs", "system/*.read", "system/*.write",
			"user/*.cruds", "user/*.rs", "user/*.read", "user/*.write",
			"user/AuditEvent.rs",
		},
		Capabilities:                  []string{"permission-v1", "permission-v2", "permission-user", "client-confidential-asymmetric"},
		CodeChallengeMethodsSupported: []string{"S256"},
	}
	if e.AuthorizationEndpoint != "" {
		doc.GrantTypesSupported = []string{"authorization_code", "client_credentials"}
		doc.ResponseTypesSupported = []string{"code"}
		doc.Capabilities = append(doc.Capabilities, "launch-standalone")
	}
	// Marshalling strings and string slices cannot fail.
	b, _ := json.Marshal(doc)
	return b
}
