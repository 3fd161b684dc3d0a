package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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
	noRelationship := ts.mint(access.MintOptions{Role: access.CareRoleCareClinical, Org: "ZZ999"})
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
	search := func(tok, path string) (total float64, suppressed bool, ids []string) {
		t.Helper()
		r := ts.do("GET", path, nil, "Authorization", "Bearer "+tok)
		require.Equal(t, http.StatusOK, r.StatusCode, "%s", r.Body)
		b := r.JSON(t)
		entries, _ := b["entry"].([]any)
		for _, e := range entries {
			e := e.(map[string]any)
			if e["search"].(map[string]any)["mode"] == "match" {
				ids = append(ids, e["resource"].(map[string]any)["id"].(string))
			}
		}
		total, _ = b["total"].(float64)
		return total, strings.Contains(string(r.Body), `"code":"suppressed"`), ids
	}
	t.Run("searches return only what may be seen, and say so", func(t *testing.T) {
		total, suppressed, ids := search(staff, "MedicationRequest?patient=Patient/p1")
		require.Equal(t, []string{"mr1"}, ids)
		require.EqualValues(t, 1, total)
		require.False(t, suppressed)

		total, suppressed, ids = search(staff, "Condition?patient=Patient/p1")
		require.Empty(t, ids, "the GP problem list is outside the restricted view")
		require.EqualValues(t, 0, total)
		require.True(t, suppressed, "the searchset says items were withheld")

		total, suppressed, ids = search(clinical, "Patient/p1/Condition")
		require.Equal(t, []string{"c1"}, ids)
		require.EqualValues(t, 1, total)
		require.True(t, suppressed, "the HIV diagnosis is withheld")

		total, _, _ = search(staff, "Condition?patient=Patient/p1&_summary=count")
		require.EqualValues(t, 0, total)

		_, suppressed, ids = search(gp, "Condition?patient=Patient/p1")
		require.ElementsMatch(t, []string{"c1", "hiv"}, ids, "the owner finds its own records")
		require.False(t, suppressed)
		require.Equal(t, 403, status(noRelationship, "Patient/p1/Condition"))
	})
	t.Run("care staff see only the three most recent GP encounters", func(t *testing.T) {
		for i, start := range []string{"2024-01-10", "2024-03-10", "2024-05-10", "2024-07-10"} {
			put(gp, fmt.Sprintf("Encounter/e%d", i), fmt.Sprintf(`{"resourceType":"Encounter","id":"e%d","status":"finished",`+
				`"class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},`+
				`"subject":{"reference":"Patient/p1"},"period":{"start":%q}}`, i, start))
		}
		require.Equal(t, 404, status(staff, "Encounter/e0"))
		require.Equal(t, 200, status(staff, "Encounter/e1"))
		_, suppressed, ids := search(staff, "Encounter?patient=Patient/p1")
		require.ElementsMatch(t, []string{"e1", "e2", "e3"}, ids)
		require.True(t, suppressed)
		_, _, ids = search(clinical, "Encounter?patient=Patient/p1")
		require.Len(t, ids, 4)
	})

	t.Run("chains, _has, includes and paging reveal nothing withheld", func(t *testing.T) {
		// A sensitive diagnosis must not be findable through the patient.
		_, _, ids := search(clinical, "Patient?_id=p1&_has:Condition:subject:code=86406008")
		require.Empty(t, ids, "_has through a withheld Condition")
		_, _, ids = search(clinical, "Patient?_id=p1&_has:Condition:subject:code=http://snomed.info/sct|86406008")
		require.Empty(t, ids)
		_, _, ids = search(gp, "Patient?_id=p1&_has:Condition:subject:code=86406008")
		require.Equal(t, []string{"p1"}, ids, "the owner's own view")

		// Nor through a chain from the records to the patient.
		_, _, ids = search(noRelationship, "Condition?subject:Patient._id=p1")
		require.Empty(t, ids)
		_, _, ids = search(staff, "Condition?subject:Patient._id=p1")
		require.Empty(t, ids)

		// _revinclude brings in only what the caller may see.
		r := ts.do("GET", "Patient?_id=p1&_revinclude=Condition:subject&_revinclude=MedicationRequest:subject", nil, "Authorization", "Bearer "+staff)
		require.Equal(t, http.StatusOK, r.StatusCode, "%s", r.Body)
		require.Contains(t, string(r.Body), `"id":"mr1"`)
		require.NotContains(t, string(r.Body), `"id":"c1"`)
		require.NotContains(t, string(r.Body), `"id":"hiv"`)
		r = ts.do("GET", "Patient?_id=p1&_revinclude=Condition:subject", nil, "Authorization", "Bearer "+clinical)
		require.Contains(t, string(r.Body), `"id":"c1"`)
		require.NotContains(t, string(r.Body), `"id":"hiv"`)

		// Paging: a page of one at a time never shows the withheld item.
		seen := map[string]bool{}
		next := "Condition?patient=Patient/p1&_count=1"
		for next != "" {
			r := ts.do("GET", next, nil, "Authorization", "Bearer "+clinical)
			require.Equal(t, http.StatusOK, r.StatusCode, "%s", r.Body)
			b := r.JSON(t)
			require.EqualValues(t, 1, b["total"])
			for _, e := range b["entry"].([]any) {
				e := e.(map[string]any)
				if e["search"].(map[string]any)["mode"] == "match" {
					seen[e["resource"].(map[string]any)["id"].(string)] = true
				}
			}
			next = ""
			for _, l := range b["link"].([]any) {
				if l.(map[string]any)["relation"] == "next" {
					next = l.(map[string]any)["url"].(string)
				}
			}
		}
		require.Equal(t, map[string]bool{"c1": true}, seen)

		// A transaction's GET entries pass the same rules.
		r = ts.do("POST", "", `{"resourceType":"Bundle","type":"batch","entry":[
			{"request":{"method":"GET","url":"Condition/hiv"}},
			{"request":{"method":"GET","url":"MedicationRequest/mr1"}},
			{"request":{"method":"GET","url":"Condition?patient=Patient/p1"}}]}`, "Authorization", "Bearer "+staff)
		require.Equal(t, http.StatusOK, r.StatusCode, "%s", r.Body)
		entries := r.JSON(t)["entry"].([]any)
		require.Equal(t, "404", strings.Fields(entries[0].(map[string]any)["response"].(map[string]any)["status"].(string))[0])
		require.Equal(t, "200", strings.Fields(entries[1].(map[string]any)["response"].(map[string]any)["status"].(string))[0])
		require.NotContains(t, string(r.Body), `"id":"c1"`)
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

// SHAREDCARE_SENSITIVE_CODES replaces the default sensitive set.
func TestSensitiveCodesFile(t *testing.T) { forStores(t, testSensitiveCodesFile) }

func testSensitiveCodesFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "codes.txt")
	require.NoError(t, os.WriteFile(file, []byte("# only this one\n57797005  # induced termination of pregnancy\n"), 0o600))
	ts := startServer(t, map[string]string{"SHAREDCARE_SENSITIVE_CODES": file})
	put := func(path, body string) {
		t.Helper()
		r := ts.do("PUT", path, body)
		require.Contains(t, []int{200, 201}, r.StatusCode, "%s: %s", path, r.Body)
	}
	put("Patient/p2", `{"resourceType":"Patient","id":"p2","generalPractitioner":[{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"B82005"}}]}`)
	put("Condition/hiv", `{"resourceType":"Condition","id":"hiv","code":{"coding":[{"system":"http://snomed.info/sct","code":"86406008"}]},"subject":{"reference":"Patient/p2"}}`)
	put("Condition/top", `{"resourceType":"Condition","id":"top","code":{"coding":[{"system":"http://snomed.info/sct","code":"57797005"}]},"subject":{"reference":"Patient/p2"}}`)
	other := ts.mint(access.MintOptions{Role: access.CareRoleGP, Org: "B82005"})
	require.Equal(t, 200, ts.do("GET", "Condition/hiv", nil, "Authorization", "Bearer "+other).StatusCode, "not in the replacement set")
	require.Equal(t, 404, ts.do("GET", "Condition/top", nil, "Authorization", "Bearer "+other).StatusCode)
}
