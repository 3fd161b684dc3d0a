package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/access"
)

func TestAuthentication(t *testing.T) { forStores(t, testAuthentication) }

func testAuthentication(t *testing.T) {
	ts := startServer(t, nil)

	t.Run("metadata and smart-configuration need no token", func(t *testing.T) {
		r := ts.do("GET", "metadata", nil, "Authorization", "")
		require.Equal(t, http.StatusOK, r.StatusCode)
		require.Equal(t, "CapabilityStatement", r.JSON(t)["resourceType"])
		r = ts.do("GET", "/.well-known/smart-configuration", nil, "Authorization", "")
		require.Equal(t, http.StatusOK, r.StatusCode)
		require.Contains(t, r.JSON(t)["capabilities"], "permission-v2")
		r = ts.do("GET", ".well-known/smart-configuration", nil, "Authorization", "")
		require.Equal(t, http.StatusOK, r.StatusCode)
	})
	t.Run("no token is 401 with a bare challenge", func(t *testing.T) {
		r := ts.do("GET", "Patient/x", nil, "Authorization", "")
		requireOutcome(t, r, http.StatusUnauthorized)
		require.Equal(t, `Bearer realm="sharedcare"`, r.Header.Get("WWW-Authenticate"))
	})
	t.Run("bad token is 401 invalid_token", func(t *testing.T) {
		for _, tok := range []string{"garbage", ts.token[:len(ts.token)-4] + "AAAA", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."} {
			r := ts.do("GET", "Patient/x", nil, "Authorization", "Bearer "+tok)
			requireOutcome(t, r, http.StatusUnauthorized)
			require.True(t, strings.HasPrefix(r.Header.Get("WWW-Authenticate"), `Bearer realm="sharedcare", error="invalid_token"`))
		}
	})
	t.Run("a token for another audience is 401", func(t *testing.T) {
		key, err := access.LoadOrCreateDevKey(ts.dataDir)
		require.NoError(t, err)
		tok, err := key.Mint(access.MintOptions{Role: access.CareRoleGP, Org: "A81001", Audience: "http://elsewhere/fhir"})
		require.NoError(t, err)
		requireOutcome(t, ts.do("GET", "Patient/x", nil, "Authorization", "Bearer "+tok), http.StatusUnauthorized)
	})
	t.Run("scopes gate interactions per type", func(t *testing.T) {
		reader := ts.mint(access.MintOptions{Role: access.CareRoleCareStaff, Org: "A81001", Scopes: []string{"user/Observation.rs"}})
		r := ts.do("POST", "Observation", `{"resourceType":"Observation","status":"final","code":{"text":"x"}}`, "Authorization", "Bearer "+reader)
		requireOutcome(t, r, http.StatusForbidden)
		require.Contains(t, r.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`)
		requireOutcome(t, ts.do("GET", "Patient/x", nil, "Authorization", "Bearer "+reader), http.StatusForbidden)
		requireOutcome(t, ts.do("GET", "_history", nil, "Authorization", "Bearer "+reader), http.StatusForbidden)
		writer := ts.mint(access.MintOptions{Role: access.CareRoleCareStaff, Org: "A81001", Scopes: []string{"user/Observation.write"}})
		r = ts.do("POST", "Observation", `{"resourceType":"Observation","status":"final","code":{"text":"x"}}`, "Authorization", "Bearer "+writer)
		require.Equal(t, http.StatusCreated, r.StatusCode, "%s", r.Body)
		requireOutcome(t, ts.do("GET", "Observation/"+r.JSON(t)["id"].(string), nil, "Authorization", "Bearer "+writer), http.StatusForbidden)
	})
}

// The server stamps source and owner on every write, replacing client
// values, and only the owner may change or delete.
func TestLabellingAndOwnership(t *testing.T) { forStores(t, testLabellingAndOwnership) }

func testLabellingAndOwnership(t *testing.T) {
	ts := startServer(t, nil)
	body := `{"resourceType":"Observation","meta":{"tag":[` +
		`{"system":"https://sharedcare.dev/fhir/CodeSystem/record-source","code":"hospital"},` +
		`{"system":"https://fhir.nhs.uk/Id/ods-organization-code","code":"EVIL1"},` +
		`{"system":"http://example.org/tags","code":"keep-me"}]},"status":"final","code":{"text":"pulse"}}`
	care := ts.mint(access.MintOptions{Role: access.CareRoleCareStaff, Org: "VM123"})
	r := ts.do("POST", "Observation", body, "Authorization", "Bearer "+care)
	require.Equal(t, http.StatusCreated, r.StatusCode, "%s", r.Body)
	obs := r.JSON(t)
	id := obs["id"].(string)
	require.ElementsMatch(t, []any{
		map[string]any{"system": "http://example.org/tags", "code": "keep-me"},
		map[string]any{"system": access.RecordSourceSystem, "code": "social-care"},
		map[string]any{"system": access.ODSOrganizationSystem, "code": "VM123"},
	}, obs["meta"].(map[string]any)["tag"])

	// The default test caller is a GP system of another organisation.
	update := strings.Replace(body, `"status":"final"`, `"id":"`+id+`","status":"amended"`, 1)
	requireOutcome(t, ts.do("PUT", "Observation/"+id, update), http.StatusForbidden)
	requireOutcome(t, ts.do("DELETE", "Observation/"+id, nil), http.StatusForbidden)
	requireOutcome(t, ts.do("PATCH", "Observation/"+id, `[{"op":"replace","path":"/status","value":"amended"}]`,
		"Content-Type", "application/json-patch+json"), http.StatusForbidden)

	r = ts.do("PUT", "Observation/"+id, update, "Authorization", "Bearer "+care)
	require.Equal(t, http.StatusOK, r.StatusCode, "%s", r.Body)
	r = ts.do("DELETE", "Observation/"+id, nil, "Authorization", "Bearer "+care)
	require.Equal(t, http.StatusNoContent, r.StatusCode)

	t.Run("AuditEvents cannot be written", func(t *testing.T) {
		requireOutcome(t, ts.do("POST", "AuditEvent", `{"resourceType":"AuditEvent"}`), http.StatusMethodNotAllowed)
		requireOutcome(t, ts.do("DELETE", "AuditEvent/x", nil), http.StatusMethodNotAllowed)
	})
}
