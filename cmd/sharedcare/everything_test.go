package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/access"
)

// everythingRecord is a resource the test stored, with what the access
// model decides on: who owns it, its source, whether it is sensitive.
type everythingRecord struct {
	ref       string
	owner     string
	source    string
	sensitive bool
	body      map[string]any
	updated   time.Time
}

// everythingPage is one page of $everything, read.
type everythingPage struct {
	total      *int
	matches    []string
	included   []string
	suppressed bool
	next       string
}

func (ts *testServer) everythingPage(t *testing.T, tok, method, path string, body any) everythingPage {
	t.Helper()
	r := ts.do(method, path, body, "Authorization", "Bearer "+tok)
	require.Equal(t, http.StatusOK, r.StatusCode, "%s", r.Body)
	var b struct {
		Type  string `json:"type"`
		Total *int   `json:"total"`
		Link  []struct{ Relation, URL string }
		Entry []struct {
			FullURL  string          `json:"fullUrl"`
			Resource json.RawMessage `json:"resource"`
			Search   struct{ Mode string }
		}
	}
	require.NoError(t, json.Unmarshal(r.Body, &b))
	require.Equal(t, "searchset", b.Type)
	p := everythingPage{total: b.Total}
	for _, l := range b.Link {
		if l.Relation == "next" {
			p.next = l.URL
		}
	}
	for _, e := range b.Entry {
		if e.Search.Mode == "outcome" {
			p.suppressed = strings.Contains(string(e.Resource), `"code":"suppressed"`)
			continue
		}
		res := resourceOf(t, e.Resource)
		ref := res["resourceType"].(string) + "/" + res["id"].(string)
		switch e.Search.Mode {
		case "match":
			p.matches = append(p.matches, ref)
			require.Equal(t, ts.base+"/"+ref, e.FullURL)
		case "include":
			p.included = append(p.included, ref)
		default:
			t.Fatalf("entry %s: search.mode %q", ref, e.Search.Mode)
		}
	}
	return p
}

// everythingAll pages through $everything from path and returns every
// match and include, checking that the total holds on every page.
func (ts *testServer) everythingAll(t *testing.T, tok, path string) (matches, included []string, suppressed bool, pages int) {
	t.Helper()
	var total *int
	for next := path; next != ""; pages++ {
		p := ts.everythingPage(t, tok, "GET", next, nil)
		if pages == 0 {
			total = p.total
		} else if total != nil && p.total != nil {
			require.Equal(t, *total, *p.total, "the total is the same on every page")
		}
		matches = append(matches, p.matches...)
		included = append(included, p.included...)
		suppressed = suppressed || p.suppressed
		next = p.next
		require.Less(t, pages, 500)
	}
	if total != nil {
		require.Equal(t, *total, len(matches), "Bundle.total counts the visible matches")
	}
	return matches, included, suppressed, pages
}

// referencedSupporting returns the Organization/Practitioner/... references
// in the bodies of recs that point at stored resources.
func referencedSupporting(recs []everythingRecord, stored map[string]everythingRecord) []string {
	set := map[string]bool{}
	for _, r := range recs {
		for _, s := range references(r.body) {
			typ, _, _ := strings.Cut(s, "/")
			if _, ok := stored[s]; ok && slices.Contains([]string{"Organization", "Practitioner", "PractitionerRole", "Location", "Medication"}, typ) {
				set[s] = true
			}
		}
	}
	var out []string
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func refsOf(recs []everythingRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ref
	}
	return out
}

// TestEverything drives Patient/{id}/$everything over HTTP for every caller
// role of the access model, on a Synthea record pushed by the GP system
// with hospital and social care records beside it.
func TestEverything(t *testing.T) { forStores(t, testEverything) }

func testEverything(t *testing.T) {
	ts := startServer(t, nil) // the default caller: the GP system of practice A81001
	gpSystem := ts.token
	stored := map[string]everythingRecord{}
	keep := func(res map[string]any, owner, source string, sensitive bool) everythingRecord {
		ref := res["resourceType"].(string) + "/" + res["id"].(string)
		updated, err := time.Parse(time.RFC3339Nano, res["meta"].(map[string]any)["lastUpdated"].(string))
		require.NoError(t, err)
		rec := everythingRecord{ref: ref, owner: owner, source: source, sensitive: sensitive, body: res, updated: updated}
		stored[ref] = rec
		return rec
	}

	out := ts.postBundle(t, syntheaFixture(t, barneyAbbott))
	var patient string
	var loaded time.Time
	for _, e := range out.Entry {
		rec := keep(resourceOf(t, e.Resource), "A81001", "gp", false) // Barney's record holds no sensitive code
		if strings.HasPrefix(rec.ref, "Patient/") {
			patient = rec.ref
		}
		if rec.updated.After(loaded) {
			loaded = rec.updated
		}
	}
	require.NotEmpty(t, patient)
	pid := strings.TrimPrefix(patient, "Patient/")
	time.Sleep(5 * time.Millisecond) // what follows is later than _since below

	put := func(tok, owner, source string, sensitive bool, path, body string) {
		t.Helper()
		r := ts.do("PUT", path, body, "Authorization", "Bearer "+tok)
		require.Contains(t, []int{200, 201}, r.StatusCode, "%s: %s", path, r.Body)
		keep(r.JSON(t), owner, source, sensitive)
	}
	hospital := ts.mint(access.MintOptions{Role: access.CareRoleSystem, Org: "RX1", Source: access.RecordSourceHospital})
	careClinical := ts.mint(access.MintOptions{Role: access.CareRoleCareClinical, Org: "VM123"})
	subject := `"subject":{"reference":"` + patient + `"}`
	put(gpSystem, "A81001", "gp", true, "Condition/ev-hiv", `{"resourceType":"Condition","id":"ev-hiv",`+subject+`,
		"code":{"coding":[{"system":"http://snomed.info/sct","code":"86406008"}]}}`)
	put(hospital, "RX1", "hospital", false, "Organization/ev-rx1", `{"resourceType":"Organization","id":"ev-rx1",
		"identifier":[{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"RX1"}],"name":"Hospital"}`)
	put(hospital, "RX1", "hospital", false, "Encounter/ev-h1", `{"resourceType":"Encounter","id":"ev-h1","status":"finished",
		"class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMP"},`+subject+`,
		"period":{"start":"2024-02-01T10:00:00Z"},"serviceProvider":{"reference":"Organization/ev-rx1"}}`)
	put(hospital, "RX1", "hospital", false, "Observation/ev-h2", `{"resourceType":"Observation","id":"ev-h2","status":"final",
		"code":{"text":"pulse"},`+subject+`,"effectiveDateTime":"2024-02-01T11:00:00Z","encounter":{"reference":"Encounter/ev-h1"}}`)
	// The care home takes Barney on: an active EpisodeOfCare it manages.
	put(careClinical, "VM123", "social-care", false, "EpisodeOfCare/ev-ep", `{"resourceType":"EpisodeOfCare","id":"ev-ep","status":"active",
		"patient":{"reference":"`+patient+`"},"period":{"start":"2024-03-01"},
		"managingOrganization":{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"VM123"}}}`)

	// A second patient, who objects to sharing, with a sensitive problem.
	put(gpSystem, "A81001", "gp", false, "Patient/ev-p2", `{"resourceType":"Patient","id":"ev-p2",
		"generalPractitioner":[{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"A81001"}}]}`)
	p2 := `"subject":{"reference":"Patient/ev-p2"}`
	put(gpSystem, "A81001", "gp", false, "Condition/ev-p2-asthma", `{"resourceType":"Condition","id":"ev-p2-asthma",`+p2+`,"code":{"text":"Asthma"}}`)
	put(gpSystem, "A81001", "gp", true, "Condition/ev-p2-hiv", `{"resourceType":"Condition","id":"ev-p2-hiv",`+p2+`,
		"code":{"coding":[{"system":"http://snomed.info/sct","code":"86406008"}]}}`)
	put(gpSystem, "A81001", "gp", false, "Consent/ev-p2-objection", `{"resourceType":"Consent","id":"ev-p2-objection","status":"active",
		"scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
		"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],
		"patient":{"reference":"Patient/ev-p2"},"policyRule":{"text":"objection"},"provision":{"type":"deny"}}`)
	put(hospital, "RX1", "hospital", false, "Observation/ev-p2-obs", `{"resourceType":"Observation","id":"ev-p2-obs","status":"final",
		"code":{"text":"pulse"},`+p2+`}`)

	// The records in each patient's compartment, by the documented rule:
	// everything stored about the patient but the supporting resources.
	compartment := func(pid string) []everythingRecord {
		var out []everythingRecord
		for _, r := range stored {
			typ, _, _ := strings.Cut(r.ref, "/")
			if typ == "Organization" || typ == "Practitioner" {
				continue
			}
			if r.ref == "Patient/"+pid || strings.Contains(mustJSON(t, r.body), `"reference":"Patient/`+pid+`"`) {
				out = append(out, r)
			}
		}
		return out
	}
	where := func(recs []everythingRecord, keep func(everythingRecord) bool) []everythingRecord {
		var out []everythingRecord
		for _, r := range recs {
			if keep(r) {
				out = append(out, r)
			}
		}
		return out
	}
	barney := compartment(pid)
	require.Greater(t, len(barney), 130)

	// The care-staff restricted view (access model, section 5): GP records
	// of four types and the three most recent GP Encounters; others'
	// records and the Patient; nothing sensitive.
	var gpEncounters []everythingRecord
	for _, r := range barney {
		if strings.HasPrefix(r.ref, "Encounter/") && r.source == "gp" {
			gpEncounters = append(gpEncounters, r)
		}
	}
	sort.Slice(gpEncounters, func(i, j int) bool {
		return gpEncounters[i].body["period"].(map[string]any)["start"].(string) > gpEncounters[j].body["period"].(map[string]any)["start"].(string)
	})
	recent := refsOf(gpEncounters[:3])
	restricted := where(barney, func(r everythingRecord) bool {
		typ, _, _ := strings.Cut(r.ref, "/")
		switch {
		case r.sensitive:
			return false
		case typ == "Patient" || r.source != "gp":
			return true
		case typ == "Encounter":
			return slices.Contains(recent, r.ref)
		}
		return slices.Contains([]string{"AllergyIntolerance", "MedicationStatement", "MedicationRequest", "Immunization"}, typ)
	})
	notSensitive := where(barney, func(r everythingRecord) bool { return !r.sensitive })
	ownedBy := func(org string) []everythingRecord {
		return where(barney, func(r everythingRecord) bool { return r.owner == org })
	}

	path := "Patient/" + pid + "/$everything"
	readStatus := func(tok, ref string) int {
		return ts.do("GET", ref, nil, "Authorization", "Bearer "+tok).StatusCode
	}
	roles := []struct {
		name       string
		token      string
		want       []everythingRecord
		suppressed bool
		status     int // when not 200: the status of reading the Patient
	}{
		{"gp of the owning practice", ts.mint(access.MintOptions{Role: access.CareRoleGP, Org: "A81001"}), barney, false, 200},
		{"gp of another practice without a relationship", ts.mint(access.MintOptions{Role: access.CareRoleGP, Org: "B82002"}), nil, false, 403},
		{"clinician of the hospital", ts.mint(access.MintOptions{Role: access.CareRoleClinician, Org: "RX1"}), notSensitive, true, 200},
		{"care-clinical of the care home", careClinical, notSensitive, true, 200},
		{"care-staff of the care home", ts.mint(access.MintOptions{Role: access.CareRoleCareStaff, Org: "VM123"}), restricted, true, 200},
		{"auditor", ts.mint(access.MintOptions{Role: access.CareRoleAuditor, Org: "X26", Scopes: []string{"user/*.rs"}}), nil, false, 403},
		{"the GP system", gpSystem, ownedBy("A81001"), true, 200},
		{"the hospital system", hospital, nil, false, 404},
	}
	for _, role := range roles {
		t.Run(role.name, func(t *testing.T) {
			read := ts.do("GET", patient, nil, "Authorization", "Bearer "+role.token)
			require.Equal(t, role.status, read.StatusCode, "reading the Patient: %s", read.Body)
			if role.status != 200 {
				got := ts.do("GET", path, nil, "Authorization", "Bearer "+role.token)
				requireOutcome(t, got, role.status)
				require.Equal(t, read.JSON(t)["issue"], got.JSON(t)["issue"], "$everything answers as the read does")
				return
			}
			p := ts.everythingPage(t, role.token, "GET", path+"?_count=1000", nil)
			require.ElementsMatch(t, refsOf(role.want), p.matches)
			require.Equal(t, patient, p.matches[0], "the Patient comes first")
			require.Equal(t, role.suppressed, p.suppressed)
			require.NotNil(t, p.total)
			require.Equal(t, len(role.want), *p.total)
			require.Equal(t, referencedSupporting(role.want, stored), p.included, "each referenced Organization and Practitioner once")
			// Read by id, each record answers as $everything does.
			for _, r := range barney {
				want := 404
				if slices.Contains(p.matches, r.ref) {
					want = 200
				}
				require.Equal(t, want, readStatus(role.token, r.ref), "%s", r.ref)
			}
		})
	}
	gpOwn, staff := roles[0].token, roles[4].token

	t.Run("paging with _count=10 returns each resource once, the same as one page", func(t *testing.T) {
		for _, tok := range []string{gpOwn, staff} {
			one := ts.everythingPage(t, tok, "GET", path+"?_count=1000", nil)
			matches, included, _, pages := ts.everythingAll(t, tok, path+"?_count=10")
			require.Equal(t, (len(one.matches)+9)/10, pages)
			require.ElementsMatch(t, one.matches, matches)
			require.Len(t, matches, len(one.matches))
			seen := map[string]bool{}
			for _, m := range matches {
				require.False(t, seen[m], "%s twice", m)
				seen[m] = true
			}
			for _, inc := range one.included {
				require.Contains(t, included, inc)
			}
		}
		matches, _, _, pages := ts.everythingAll(t, staff, path+"?_count=1")
		require.Equal(t, len(restricted), pages)
		require.ElementsMatch(t, refsOf(restricted), matches)
	})

	t.Run("_type", func(t *testing.T) {
		p := ts.everythingPage(t, careClinical, "GET", path+"?_type=Condition,Organization&_count=1000", nil)
		want := where(notSensitive, func(r everythingRecord) bool { return strings.HasPrefix(r.ref, "Condition/") })
		require.NotEmpty(t, want)
		require.ElementsMatch(t, refsOf(want), p.matches, "no Patient, no other type")
		require.True(t, p.suppressed, "the sensitive Condition is withheld")
		for _, inc := range p.included {
			require.True(t, strings.HasPrefix(inc, "Organization/"), inc)
		}
		post := ts.everythingPage(t, careClinical, "POST", path, `{"resourceType":"Parameters","parameter":[
			{"name":"_type","valueCode":"Condition,Organization"},{"name":"_count","valueInteger":1000}]}`)
		require.ElementsMatch(t, p.matches, post.matches, "POST takes the same parameters in a Parameters resource")
	})

	t.Run("_since", func(t *testing.T) {
		since := loaded.Add(time.Millisecond).UTC().Format("2006-01-02T15:04:05.000Z")
		p := ts.everythingPage(t, gpOwn, "GET", path+"?_count=1000&_since="+url.QueryEscape(since), nil)
		want := where(barney, func(r everythingRecord) bool { return !r.updated.Before(loaded.Add(time.Millisecond)) })
		require.Len(t, want, 4, "the records written after the Synthea load")
		require.ElementsMatch(t, refsOf(want), p.matches)
	})

	t.Run("start and end bound the care dates; undated records stay", func(t *testing.T) {
		// Barney's Synthea record is dated before 1991; the hospital and
		// care home records are of 2024; the Patient and the HIV
		// diagnosis (no onset) have no care date.
		late := []string{patient, "Condition/ev-hiv", "Encounter/ev-h1", "Observation/ev-h2", "EpisodeOfCare/ev-ep"}
		p := ts.everythingPage(t, gpOwn, "GET", path+"?_count=1000&start=2000-01-01", nil)
		require.ElementsMatch(t, late, p.matches)
		require.Equal(t, []string{"Organization/ev-rx1"}, p.included)
		p = ts.everythingPage(t, gpOwn, "GET", path+"?_count=1000&end=1999-12-31", nil)
		var early []string
		for _, r := range barney {
			if r.ref == patient || r.ref == "Condition/ev-hiv" || !slices.Contains(late, r.ref) {
				early = append(early, r.ref)
			}
		}
		require.ElementsMatch(t, early, p.matches)
		p = ts.everythingPage(t, gpOwn, "GET", path+"?_count=1000&start=2024-02-01&end=2024-02-28", nil)
		require.ElementsMatch(t, []string{patient, "Condition/ev-hiv", "Encounter/ev-h1", "Observation/ev-h2"}, p.matches)
	})

	t.Run("an objection: each organisation sees only its own records of the second patient", func(t *testing.T) {
		p := ts.everythingPage(t, gpOwn, "GET", "Patient/ev-p2/$everything", nil)
		require.ElementsMatch(t, []string{"Patient/ev-p2", "Condition/ev-p2-asthma", "Condition/ev-p2-hiv", "Consent/ev-p2-objection"}, p.matches)
		require.True(t, p.suppressed, "the hospital's record is withheld from the practice")
		clinician := roles[2].token
		read := ts.do("GET", "Patient/ev-p2", nil, "Authorization", "Bearer "+clinician)
		if read.StatusCode != http.StatusOK {
			// The objection withholds the GP's Patient resource too: the
			// operation answers as its read does.
			got := ts.do("GET", "Patient/ev-p2/$everything", nil, "Authorization", "Bearer "+clinician)
			requireOutcome(t, got, read.StatusCode)
			require.Equal(t, read.JSON(t)["issue"], got.JSON(t)["issue"])
			return
		}
		p = ts.everythingPage(t, clinician, "GET", "Patient/ev-p2/$everything", nil)
		require.ElementsMatch(t, []string{"Patient/ev-p2", "Observation/ev-p2-obs"}, p.matches)
		require.True(t, p.suppressed)
	})

	t.Run("unknown patients, other types and bad input", func(t *testing.T) {
		breakGlass := ts.mint(access.MintOptions{Role: access.CareRoleClinician, Org: "RX9", BreakGlassReason: "collapsed in A&E"})
		for _, tok := range []string{gpOwn, breakGlass} {
			read := ts.do("GET", "Patient/ev-nobody", nil, "Authorization", "Bearer "+tok)
			got := ts.do("GET", "Patient/ev-nobody/$everything", nil, "Authorization", "Bearer "+tok)
			requireOutcome(t, got, read.StatusCode)
		}
		requireOutcome(t, ts.do("GET", "Patient/ev-nobody/$everything", nil, "Authorization", "Bearer "+breakGlass), 404)
		requireOutcome(t, ts.do("GET", "Observation/ev-h2/$everything", nil), 404)
		require.Equal(t, http.StatusOK, ts.do("GET", path[:len(path)-len("$everything")]+"Observation", nil).StatusCode,
			"compartment search still routes")
		for _, q := range []string{"_count=abc", "_count=0", "start=yesterday", "end=2024-13-01", "_since=soon",
			"_type=Foo", "_type=AuditEvent", "_sort=_id", "start=2024-02-01&end=2024-01-01", "_page=bogus"} {
			requireOutcome(t, ts.do("GET", path+"?"+q, nil, "Authorization", "Bearer "+gpOwn), 400)
		}
		requireOutcome(t, ts.do("POST", path, `{"resourceType":"Patient"}`, "Authorization", "Bearer "+gpOwn), 400)
		requireOutcome(t, ts.do("POST", path, `{"resourceType":"Parameters","parameter":[{"name":"_count","valueInteger":-1}]}`,
			"Authorization", "Bearer "+gpOwn), 400)
	})

	t.Run("the CapabilityStatement lists the operation", func(t *testing.T) {
		r := ts.do("GET", "metadata", nil)
		require.Equal(t, http.StatusOK, r.StatusCode)
		require.Contains(t, string(r.Body), `"name":"everything","definition":"http://hl7.org/fhir/OperationDefinition/Patient-everything"`)
	})

	t.Run("the audit trail records the patient", func(t *testing.T) {
		auditor := roles[5].token
		r := ts.do("GET", "AuditEvent?patient="+patient+"&_count=1000", nil, "Authorization", "Bearer "+auditor)
		require.Equal(t, http.StatusOK, r.StatusCode, "%s", r.Body)
		assert.Contains(t, string(r.Body), `{"system":"http://hl7.org/fhir/restful-interaction","code":"operation"}`)
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
