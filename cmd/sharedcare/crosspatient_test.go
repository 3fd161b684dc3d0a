package main

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/access"
)

// Searches across patients (no patient= parameter) share other
// organisations' records of the patients the caller's organisation has a
// care relationship with, exactly as reading them by id would, with exact
// totals and paging: the access model in SQL rather than a filter.
func TestAccessAcrossPatients(t *testing.T) { forStores(t, testAccessAcrossPatients) }

// asthma is the SNOMED CT code every test patient's Conditions carry, so
// that one search by code crosses every patient.
const asthma = "http://snomed.info/sct|195967001"

func testAccessAcrossPatients(t *testing.T) {
	ts := startServer(t, nil)
	gp := ts.token // the GP system of practice A81001
	hospital := ts.mint(access.MintOptions{Role: access.CareRoleSystem, Org: "RXX01", Source: "hospital"})
	put := func(tok, path, body string) {
		t.Helper()
		r := ts.do("PUT", path, body, "Authorization", "Bearer "+tok)
		require.Contains(t, []int{200, 201}, r.StatusCode, "%s: %s", path, r.Body)
	}
	ods := func(code string) string {
		return `{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"` + code + `"}}`
	}
	condition := func(tok, id, patient, code string) {
		system, c, _ := strings.Cut(code, "|")
		put(tok, "Condition/"+id, `{"resourceType":"Condition","id":"`+id+`","code":{"coding":[{"system":"`+system+`","code":"`+c+`"}]},"subject":{"reference":"Patient/`+patient+`"}}`)
	}

	// The care home VM123 is known by an Organization resource: a literal
	// reference to it is a relationship once resolved to its ODS code.
	put(gp, "Organization/org-vm", `{"resourceType":"Organization","id":"org-vm","identifier":[{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"VM123"}],"name":"Sunny Care Home"}`)
	// Four patients of practice A81001:
	// pa: the care home looks after them (an EpisodeOfCare naming Organization/org-vm);
	// pb: no relationship with the care home;
	// pc: a relationship (a CareTeam naming VM123) but an objection;
	// pd: a relationship (EpisodeOfCare by ODS code) and a consent that denies Conditions to all but their owner.
	for _, p := range []string{"pa", "pb", "pc", "pd"} {
		put(gp, "Patient/"+p, `{"resourceType":"Patient","id":"`+p+`","generalPractitioner":[`+ods("A81001")+`]}`)
		condition(gp, "gp-"+p, p, asthma)
		condition(hospital, "hosp-"+p, p, asthma)
		condition(hospital, "hiv-"+p, p, "http://snomed.info/sct|86406008")
		put(gp, "MedicationRequest/mr-"+p, `{"resourceType":"MedicationRequest","id":"mr-`+p+`","status":"active","intent":"order","medicationCodeableConcept":{"text":"Salbutamol"},"subject":{"reference":"Patient/`+p+`"}}`)
	}
	put(gp, "EpisodeOfCare/ep-pa", `{"resourceType":"EpisodeOfCare","id":"ep-pa","status":"active","patient":{"reference":"Patient/pa"},"managingOrganization":{"reference":"Organization/org-vm"}}`)
	put(gp, "CareTeam/ct-pc", `{"resourceType":"CareTeam","id":"ct-pc","status":"active","subject":{"reference":"Patient/pc"},"participant":[{"member":`+ods("VM123")+`}]}`)
	put(gp, "Consent/objection-pc", `{"resourceType":"Consent","id":"objection-pc","status":"active",
		"scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
		"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],
		"patient":{"reference":"Patient/pc"},"policyRule":{"text":"objection"},"provision":{"type":"deny"}}`)
	put(gp, "EpisodeOfCare/ep-pd", `{"resourceType":"EpisodeOfCare","id":"ep-pd","status":"waitlist","patient":{"reference":"Patient/pd"},"managingOrganization":`+ods("VM123")+`}`)
	put(gp, "Consent/no-conditions-pd", `{"resourceType":"Consent","id":"no-conditions-pd","status":"active",
		"scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
		"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],
		"patient":{"reference":"Patient/pd"},"policyRule":{"text":"no conditions"},
		"provision":{"type":"permit","provision":[{"type":"deny","class":[{"system":"http://hl7.org/fhir/resource-types","code":"Condition"}]}]}}`)
	// Four GP encounters of pa: care staff see the three most recent.
	for i, start := range []string{"2024-01-10", "2024-03-10", "2024-05-10", "2024-07-10"} {
		put(gp, fmt.Sprintf("Encounter/enc%d", i), fmt.Sprintf(`{"resourceType":"Encounter","id":"enc%d","status":"finished",`+
			`"class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},`+
			`"subject":{"reference":"Patient/pa"},"period":{"start":%q}}`, i, start))
	}

	clinical := ts.mint(access.MintOptions{Role: access.CareRoleCareClinical, Org: "VM123"})
	staff := ts.mint(access.MintOptions{Role: access.CareRoleCareStaff, Org: "VM123"})
	stranger := ts.mint(access.MintOptions{Role: access.CareRoleCareClinical, Org: "ZZ999"})
	careSystem := ts.mint(access.MintOptions{Role: access.CareRoleSystem, Org: "VM123", Source: "social-care"})
	noPurpose := ts.mint(access.MintOptions{Role: access.CareRoleCareClinical, Org: "VM123", Reason: "research"})
	hospitalClinician := ts.mint(access.MintOptions{Role: access.CareRoleClinician, Org: "RXX01"})

	type result struct {
		ids        []string // matches, every page
		included   []string
		total      int
		suppressed bool
	}
	// search follows every page of path with _count=1, checks that each
	// page states the same total, and returns what the pages held.
	search := func(tok, path string) result {
		t.Helper()
		var res result
		res.total = -1
		next := path + "&_count=1"
		for next != "" {
			r := ts.do("GET", next, nil, "Authorization", "Bearer "+tok)
			require.Equal(t, http.StatusOK, r.StatusCode, "%s: %s", next, r.Body)
			b := r.JSON(t)
			total := int(b["total"].(float64))
			if res.total >= 0 {
				require.Equal(t, res.total, total, "every page states the same total")
			}
			res.total = total
			entries, _ := b["entry"].([]any)
			for _, e := range entries {
				e := e.(map[string]any)
				switch e["search"].(map[string]any)["mode"] {
				case "match":
					res.ids = append(res.ids, e["resource"].(map[string]any)["id"].(string))
				case "include":
					res.included = append(res.included, e["resource"].(map[string]any)["id"].(string))
				case "outcome":
					res.suppressed = res.suppressed || strings.Contains(fmt.Sprint(e["resource"]), "suppressed")
				}
			}
			next = ""
			for _, l := range b["link"].([]any) {
				if l.(map[string]any)["relation"] == "next" {
					next = l.(map[string]any)["url"].(string)
				}
			}
		}
		sort.Strings(res.ids)
		sort.Strings(res.included)
		require.Len(t, res.ids, res.total, "the total counts exactly what the pages hold")
		return res
	}
	// readable lists the ids among candidates that a read by id shows the
	// caller: the per-resource path the search must agree with.
	readable := func(tok, typ string, ids ...string) []string {
		t.Helper()
		var out []string
		for _, id := range ids {
			st := ts.do("GET", typ+"/"+id, nil, "Authorization", "Bearer "+tok).StatusCode
			require.Contains(t, []int{200, 403, 404}, st)
			if st == 200 {
				out = append(out, id)
			}
		}
		sort.Strings(out)
		return out
	}
	var conditions, encounters, patients, medications []string
	for _, p := range []string{"pa", "pb", "pc", "pd"} {
		conditions = append(conditions, "gp-"+p, "hosp-"+p)
		patients = append(patients, p)
		medications = append(medications, "mr-"+p)
	}
	for i := range 4 {
		encounters = append(encounters, fmt.Sprintf("enc%d", i))
	}

	t.Run("care clinical: related patients without consents, and consents judged", func(t *testing.T) {
		res := search(clinical, "Condition?code="+asthma)
		require.Equal(t, []string{"gp-pa", "hosp-pa"}, res.ids,
			"pb: no relationship; pc: objection; pd: consent denies Conditions")
		require.True(t, res.suppressed)
		require.Equal(t, readable(clinical, "Condition", conditions...), res.ids, "search and read agree")

		res = search(clinical, "MedicationRequest?status=active")
		require.Equal(t, []string{"mr-pa", "mr-pd"}, res.ids, "pd's consent denies Conditions only")
		require.Equal(t, readable(clinical, "MedicationRequest", medications...), res.ids)

		res = search(clinical, "Patient?general-practitioner:identifier=https://fhir.nhs.uk/Id/ods-organization-code|A81001")
		require.Equal(t, []string{"pa", "pd"}, res.ids)
		require.Equal(t, readable(clinical, "Patient", patients...), res.ids)
	})
	t.Run("sensitive items stay hidden across patients", func(t *testing.T) {
		res := search(clinical, "Condition?code=http://snomed.info/sct|86406008")
		require.Empty(t, res.ids)
		require.Zero(t, res.total)
		require.True(t, res.suppressed)
		res = search(hospitalClinician, "Condition?code=http://snomed.info/sct|86406008")
		require.Equal(t, []string{"hiv-pa", "hiv-pb", "hiv-pc", "hiv-pd"}, res.ids, "the owner sees its own")
	})
	t.Run("care staff: the GP restricted view across patients", func(t *testing.T) {
		res := search(staff, "Condition?code="+asthma)
		require.Equal(t, []string{"hosp-pa"}, res.ids, "GP problems are outside the restricted view")
		require.Equal(t, readable(staff, "Condition", conditions...), res.ids)

		res = search(staff, "Encounter?status=finished")
		require.Equal(t, []string{"enc1", "enc2", "enc3"}, res.ids, "the three most recent GP encounters")
		require.True(t, res.suppressed)
		require.Equal(t, readable(staff, "Encounter", encounters...), res.ids)
	})
	t.Run("_include and _revinclude across patients", func(t *testing.T) {
		res := search(clinical, "Patient?general-practitioner:identifier=https://fhir.nhs.uk/Id/ods-organization-code|A81001&_revinclude=Condition:subject")
		require.Equal(t, []string{"pa", "pd"}, res.ids)
		require.Equal(t, []string{"gp-pa", "hosp-pa"}, res.included)

		res = search(clinical, "Condition?code="+asthma+"&_include=Condition:subject")
		require.Equal(t, []string{"pa"}, dedupe(res.included))
	})
	t.Run("no relationship, no purpose, or a system: only what they own", func(t *testing.T) {
		for name, tok := range map[string]string{"stranger": stranger, "no purpose": noPurpose, "care system": careSystem} {
			res := search(tok, "Condition?code="+asthma)
			require.Empty(t, res.ids, name)
			require.True(t, res.suppressed, name)
		}
		res := search(hospital, "Condition?code="+asthma)
		require.Equal(t, []string{"hosp-pa", "hosp-pb", "hosp-pc", "hosp-pd"}, res.ids, "a source system sees what it pushed")
	})
	t.Run("ending the relationship ends the sharing", func(t *testing.T) {
		put(gp, "EpisodeOfCare/ep-pa", `{"resourceType":"EpisodeOfCare","id":"ep-pa","status":"finished","patient":{"reference":"Patient/pa"},"managingOrganization":{"reference":"Organization/org-vm"}}`)
		res := search(clinical, "Condition?code="+asthma)
		require.Empty(t, res.ids)
		require.Equal(t, readable(clinical, "Condition", conditions...), res.ids)
		// A new CareTeam naming the care home's Organization resource restores it.
		put(gp, "CareTeam/ct-pa", `{"resourceType":"CareTeam","id":"ct-pa","status":"active","subject":{"reference":"Patient/pa"},"managingOrganization":[{"reference":"Organization/org-vm"}]}`)
		res = search(clinical, "Condition?code="+asthma)
		require.Equal(t, []string{"gp-pa", "hosp-pa"}, res.ids)
		// Deleting it ends it again.
		r := ts.do("DELETE", "CareTeam/ct-pa", nil, "Authorization", "Bearer "+gp)
		require.Equal(t, http.StatusNoContent, r.StatusCode, "%s", r.Body)
		res = search(clinical, "Condition?code="+asthma)
		require.Empty(t, res.ids)
	})
	t.Run("owning a record of the patient is a relationship", func(t *testing.T) {
		put(clinical, "Observation/obs-pb", `{"resourceType":"Observation","id":"obs-pb","status":"final","code":{"text":"weight"},"subject":{"reference":"Patient/pb"}}`)
		res := search(clinical, "Condition?code="+asthma)
		require.Equal(t, []string{"gp-pb", "hosp-pb"}, res.ids)
		require.Equal(t, readable(clinical, "Condition", conditions...), res.ids)
	})
}

// dedupe returns the distinct strings of a sorted list.
func dedupe(sorted []string) []string {
	var out []string
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// Conditional interactions decide only on the caller's own records and
// non-patient resources: a withheld match, or another organisation's
// record, is never revealed, changed or deleted through them.
func TestConditionalNeverTouchesOthersRecords(t *testing.T) {
	forStores(t, testConditionalNeverTouchesOthersRecords)
}

func testConditionalNeverTouchesOthersRecords(t *testing.T) {
	ts := startServer(t, nil)
	gp := ts.token
	care := ts.mint(access.MintOptions{Role: access.CareRoleCareClinical, Org: "VM123"})
	do := func(tok, method, path, body string, headers ...string) response {
		t.Helper()
		return ts.do(method, path, body, append([]string{"Authorization", "Bearer " + tok}, headers...)...)
	}
	const ident = "https://gp.example/conditions|c-hiv"
	for _, r := range []struct{ path, body string }{
		{"Patient/px", `{"resourceType":"Patient","id":"px","generalPractitioner":[{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"A81001"}}]}`},
		{"EpisodeOfCare/epx", `{"resourceType":"EpisodeOfCare","id":"epx","status":"active","patient":{"reference":"Patient/px"},"managingOrganization":{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"VM123"}}}`},
		{"Condition/hiv", `{"resourceType":"Condition","id":"hiv","identifier":[{"system":"https://gp.example/conditions","value":"c-hiv"}],"code":{"coding":[{"system":"http://snomed.info/sct","code":"86406008"}]},"subject":{"reference":"Patient/px"}}`},
	} {
		res := do(gp, "PUT", r.path, r.body)
		require.Contains(t, []int{200, 201}, res.StatusCode, "%s", res.Body)
	}
	version := func() string {
		return ts.do("GET", "Condition/hiv", nil).JSON(t)["meta"].(map[string]any)["versionId"].(string)
	}
	body := `{"resourceType":"Condition","identifier":[{"system":"https://gp.example/conditions","value":"c-hiv"}],"code":{"text":"overwritten"},"subject":{"reference":"Patient/px"}}`

	// Conditional update: the withheld match is not found, so the care
	// home creates its own resource instead of touching the GP's.
	r := do(care, "PUT", "Condition?identifier="+ident, body)
	require.Equal(t, http.StatusCreated, r.StatusCode, "%s", r.Body)
	require.NotEqual(t, "hiv", r.JSON(t)["id"])
	require.Equal(t, "1", version(), "the GP's record is untouched")

	// Conditional create: the withheld match does not stop the create, and
	// is not returned.
	r = do(care, "POST", "Condition", body, "If-None-Exist", "identifier="+ident+"-other")
	require.Equal(t, http.StatusCreated, r.StatusCode, "%s", r.Body)
	require.NotContains(t, string(r.Body), "86406008")

	// Conditional delete and patch: nothing of the GP's is matched.
	r = do(care, "DELETE", "Condition?identifier=https://gp.example/conditions|c-hiv&subject=Patient/px&code=86406008", "")
	require.Contains(t, []int{200, 204}, r.StatusCode, "%s", r.Body)
	require.Equal(t, http.StatusOK, ts.do("GET", "Condition/hiv", nil).StatusCode)
	r = do(care, "PATCH", "Condition?code=86406008", `[{"op":"replace","path":"/code/text","value":"x"}]`, "Content-Type", "application/json-patch+json")
	requireOutcome(t, r, http.StatusNotFound)
	require.Equal(t, "1", version())
}
