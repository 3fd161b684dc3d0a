package rest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/record"
	"github.com/sharedcare/sharedcare/internal/store/postgres/pgtest"
)

// With the SQL visibility of searches switched off, the safety net alone
// still withholds everything the access model withholds, and the
// searchset says so: what the SQL might miss never goes out.
func TestRecheckCatchesWhatSQLMissed(t *testing.T) {
	if !accessChecks {
		t.Skip("the benchmark build has no access checks")
	}
	st := pgtest.Open(t)
	key, err := access.LoadOrCreateDevKey(t.TempDir())
	require.NoError(t, err)
	const base = "http://safety.test/fhir"
	verifier, err := key.Verifier(access.DevIssuer, base)
	require.NoError(t, err)
	mint := func(o access.MintOptions) string {
		o.Audience = base
		tok, err := key.Mint(o)
		require.NoError(t, err)
		return tok
	}
	srv, err := New(Config{Store: st, Records: &record.Service{Store: st}, BaseURL: base, Auth: verifier})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	h := srv.Handler()
	do := func(tok, method, path, body string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(method, "http://safety.test/fhir/"+path, bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != "" {
			req.Header.Set("Content-Type", "application/fhir+json")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var m map[string]any
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &m), "%s", w.Body)
		return w.Code, m
	}
	gp := mint(access.MintOptions{Role: access.CareRoleSystem, Org: "A81001", Source: "gp"})
	for _, w := range []struct{ path, body string }{
		{"Patient/p1", `{"resourceType":"Patient","id":"p1"}`},
		{"EpisodeOfCare/ep1", `{"resourceType":"EpisodeOfCare","id":"ep1","status":"active","patient":{"reference":"Patient/p1"},"managingOrganization":{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"VM123"}}}`},
		{"MedicationRequest/mr1", `{"resourceType":"MedicationRequest","id":"mr1","status":"active","intent":"order","medicationCodeableConcept":{"text":"x"},"subject":{"reference":"Patient/p1"}}`},
		{"Condition/c1", `{"resourceType":"Condition","id":"c1","code":{"text":"Asthma"},"subject":{"reference":"Patient/p1"}}`},
		{"Condition/hiv", `{"resourceType":"Condition","id":"hiv","code":{"coding":[{"system":"http://snomed.info/sct","code":"86406008"}]},"subject":{"reference":"Patient/p1"}}`},
		{"Patient/p2", `{"resourceType":"Patient","id":"p2"}`},
		{"Condition/c2", `{"resourceType":"Condition","id":"c2","code":{"text":"Asthma"},"subject":{"reference":"Patient/p2"}}`},
	} {
		code, m := do(gp, http.MethodPut, w.path, w.body)
		require.Contains(t, []int{200, 201}, code, "%v", m)
	}
	staff := mint(access.MintOptions{Role: access.CareRoleCareStaff, Org: "VM123"})
	ids := func(b map[string]any) (matches, included []string, suppressed bool) {
		entries, _ := b["entry"].([]any)
		for _, e := range entries {
			e := e.(map[string]any)
			res := e["resource"].(map[string]any)
			switch e["search"].(map[string]any)["mode"] {
			case "match":
				matches = append(matches, res["resourceType"].(string)+"/"+res["id"].(string))
			case "include":
				included = append(included, res["resourceType"].(string)+"/"+res["id"].(string))
			case "outcome":
				suppressed = true
			}
		}
		sort.Strings(matches)
		sort.Strings(included)
		return matches, included, suppressed
	}
	search := func(path string) ([]string, []string, bool) {
		t.Helper()
		code, b := do(staff, http.MethodGet, path, "")
		require.Equal(t, http.StatusOK, code, "%v", b)
		return ids(b)
	}
	for path, withholds := range map[string]bool{
		"Condition":         true, // GP problems are outside the restricted view; c2's patient is unrelated
		"MedicationRequest": false,
		"Patient?_revinclude=Condition:subject&_revinclude=MedicationRequest:subject": true,
	} {
		withSQL, withSQLIncluded, _ := search(path)
		skipSQLVisibility = true
		matches, included, suppressed := search(path)
		skipSQLVisibility = false
		require.Equal(t, withSQL, matches, "%s: the safety net withholds what the SQL withholds", path)
		require.Equal(t, withSQLIncluded, included, path)
		require.Equal(t, withholds, suppressed, "%s: the searchset says whether items were withheld", path)
	}
	matches, included, _ := search("Patient?_revinclude=Condition:subject&_revinclude=MedicationRequest:subject")
	require.Equal(t, []string{"Patient/p1"}, matches)
	require.Equal(t, []string{"MedicationRequest/mr1"}, included)
}
