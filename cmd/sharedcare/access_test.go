package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/access"
)

// The access model on the read paths: the patient gate, the GP restricted
// view for care staff, sensitive items, purpose, objection and break-glass,
// with withheld resources answering 404 and searches saying that items
// were withheld.
func TestAccessOnReads(t *testing.T) { forStores(t, testAccessOnReads) }

func testAccessOnReads(t *testing.T) {
	ts := startServer(t, nil) // the default caller: the GP system of practice A81001
	put := func(tok, path, body string) {
		t.Helper()
		r := ts.do("PUT", path, body, "Authorization", "Bearer "+tok)
		require.Contains(t, []int{200, 201}, r.StatusCode, "%s: %s", path, r.Body)
	}
	gp := ts.token
	put(gp, "Patient/p1", `{"resourceType":"Patient","id":"p1","generalPractitioner":[{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"A81001"}}]}`)
	put(gp, "MedicationRequest/mr1", `{"resourceType":"MedicationRequest","id":"mr1","status":"active","intent":"order","medicationCodeableConcept":{"text":"Paracetamol"},"subject":{"reference":"Patient/p1"}}`)
	put(gp, "Condition/c1", `{"resourceType":"Condition","id":"c1","code":{"text":"Asthma"},"subject":{"reference":"Patient/p1"}}`)
	put(gp, "Condition/hiv", `{"resourceType":"Condition","id":"hiv","code":{"coding":[{"system":"http://snomed.info/sct","code":"86406008"}]},"subject":{"reference":"Patient/p1"}}`)
	put(gp, "Observation/r1", `{"resourceType":"Observation","id":"r1","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]},"status":"final","code":{"text":"note"},"subject":{"reference":"Patient/p1"}}`)

	staff := ts.mint(access.MintOptions{Role: access.CareRoleCareStaff, Org: "VM123"})
	clinical := ts.mint(access.MintOptions{Role: access.CareRoleCareClinical, Org: "VM123"})
	noPurpose := ts.mint(access.MintOptions{Role: access.CareRoleCareStaff, Org: "VM123", Reason: "research"})
	otherSystem := ts.mint(access.MintOptions{Role: access.CareRoleSystem, Org: "RX1", Source: "hospital"})
	breakGlass := ts.mint(access.MintOptions{Role: access.CareRoleClinician, Org: "RX9", BreakGlassReason: "collapsed in A&E"})
	auditor := ts.mint(access.MintOptions{Role: access.CareRoleAuditor, Org: "X26", Scopes: []string{"user/*.rs"}})
	status := func(tok, path string) int {
		t.Helper()
		return ts.do("GET", path, nil, "Authorization", "Bearer "+tok).StatusCode
	}

	t.Run("no relationship: 403 at the patient, 404 for the records", func(t *testing.T) {
		require.Equal(t, 403, status(staff, "Patient/p1"))
		require.Equal(t, 403, status(staff, "Patient/does-not-exist"), "the gate must not reveal which patients exist")
		require.Equal(t, 404, status(staff, "MedicationRequest/mr1"))
		require.Equal(t, 404, status(staff, "MedicationRequest/mr1/_history/1"))
		require.Equal(t, 404, status(staff, "MedicationRequest/mr1/_history"))
		require.Equal(t, 404, status(otherSystem, "MedicationRequest/mr1"))
		require.Equal(t, 403, status(auditor, "Patient/p1"))
		require.Equal(t, 404, status(auditor, "MedicationRequest/mr1"))
	})

	// The care home takes the resident on: an active EpisodeOfCare it manages.
	put(clinical, "EpisodeOfCare/ep1", `{"resourceType":"EpisodeOfCare","id":"ep1","status":"active","patient":{"reference":"Patient/p1"},"managingOrganization":{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"VM123"}}}`)

	t.Run("care staff: the GP restricted view", func(t *testing.T) {
		require.Equal(t, 200, status(staff, "Patient/p1"))
		require.Equal(t, 200, status(staff, "MedicationRequest/mr1"))
		require.Equal(t, 404, status(staff, "Condition/c1"), "problems are outside the restricted view")
		require.Equal(t, 404, status(staff, "Condition/hiv"))
		require.Equal(t, 404, status(staff, "Observation/r1"))
		require.Equal(t, 404, status(noPurpose, "MedicationRequest/mr1"), "no direct care purpose, no GP data")
	})
	t.Run("care clinical: everything but sensitive items", func(t *testing.T) {
		require.Equal(t, 200, status(clinical, "Condition/c1"))
		require.Equal(t, 404, status(clinical, "Condition/hiv"))
		require.Equal(t, 404, status(clinical, "Observation/r1"))
		require.Equal(t, 200, status(gp, "Condition/hiv"), "the owner sees its own sensitive items")
	})
	t.Run("break-glass passes the gate, not the sensitivity rule", func(t *testing.T) {
		require.Equal(t, 200, status(breakGlass, "Patient/p1"))
		require.Equal(t, 200, status(breakGlass, "Condition/c1"))
		require.Equal(t, 404, status(breakGlass, "Condition/hiv"))
	})
	t.Run("searches return only what may be seen, and say so", func(t *testing.T) {
		r := ts.do("GET", "MedicationRequest?patient=Patient/p1", nil, "Authorization", "Bearer "+staff)
		require.Equal(t, http.StatusOK, r.StatusCode, "%s", r.Body)
		b := r.JSON(t)
		require.EqualValues(t, 0, b["total"])
		entries := b["entry"].([]any)
		require.Len(t, entries, 1)
		e := entries[0].(map[string]any)
		require.Equal(t, "outcome", e["search"].(map[string]any)["mode"])
		require.Contains(t, string(r.Body), `"code":"suppressed"`)
		r = ts.do("GET", "MedicationRequest?patient=Patient/p1", nil)
		require.EqualValues(t, 1, r.JSON(t)["total"], "the owner finds its own record")
		require.NotContains(t, string(r.Body), "suppressed")
	})

	// The patient objects to sharing.
	put(gp, "Consent/objection", `{"resourceType":"Consent","id":"objection","status":"active",
		"scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
		"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],
		"patient":{"reference":"Patient/p1"},"policyRule":{"text":"objection"},"provision":{"type":"deny"}}`)
	t.Run("an objection withholds every other organisation's records, even from break-glass", func(t *testing.T) {
		require.Equal(t, 404, status(staff, "MedicationRequest/mr1"))
		require.Equal(t, 404, status(clinical, "Condition/c1"))
		require.Equal(t, 404, status(breakGlass, "Condition/c1"))
		require.Equal(t, 200, status(clinical, "EpisodeOfCare/ep1"), "the care home still sees its own records")
		require.Equal(t, 200, status(gp, "Condition/c1"))
	})
}
