package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/summary"
)

// The R4 JSON schema is large (3 MB, draft-06): it is compiled once per
// test binary.
var (
	r4SchemaOnce sync.Once
	r4Schema     *jsonschema.Schema
	r4SchemaErr  error
)

// requireR4Valid validates body against the official R4 JSON schema.
func requireR4Valid(t *testing.T, body []byte) {
	t.Helper()
	r4SchemaOnce.Do(func() {
		path, err := filepath.Abs(filepath.Join(sharedDir, "fhir/r4-definitions/fhir.schema.json"))
		if err != nil {
			r4SchemaErr = err
			return
		}
		f, err := os.Open(path)
		if err != nil {
			r4SchemaErr = err
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			r4SchemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft6)
		url := "file://" + filepath.ToSlash(path)
		if r4SchemaErr = c.AddResource(url, doc); r4SchemaErr != nil {
			return
		}
		r4Schema, r4SchemaErr = c.Compile(url)
	})
	require.NoError(t, r4SchemaErr)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	require.NoError(t, err)
	require.NoError(t, r4Schema.Validate(inst))
}

// ipsDocument is a $summary answer, read back.
type ipsDocument struct {
	raw          []byte
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Timestamp    string `json:"timestamp"`
	Identifier   struct {
		System string `json:"system"`
		Value  string `json:"value"`
	} `json:"identifier"`
	Entry []struct {
		FullURL  string         `json:"fullUrl"`
		Resource map[string]any `json:"resource"`
	} `json:"entry"`
}

type ipsSection struct {
	Title string `json:"title"`
	Code  struct {
		Coding []struct{ System, Code string } `json:"coding"`
	} `json:"code"`
	Text struct {
		Div string `json:"div"`
	} `json:"text"`
	Entry []struct {
		Reference string `json:"reference"`
	} `json:"entry"`
	EmptyReason *struct {
		Coding []struct{ System, Code string } `json:"coding"`
	} `json:"emptyReason"`
}

type ipsComposition struct {
	Status string `json:"status"`
	Type   struct {
		Coding []struct{ System, Code string } `json:"coding"`
	} `json:"type"`
	Subject struct{ Reference string }   `json:"subject"`
	Author  []struct{ Reference string } `json:"author"`
	Meta    *struct {
		Security []struct{ System, Code string } `json:"security"`
	} `json:"meta"`
	Text struct {
		Div string `json:"div"`
	} `json:"text"`
	Section []ipsSection `json:"section"`
}

// summaryOf gets the patient's $summary as tok, checks that it is a valid
// IPS-shaped document, and returns it.
func (ts *testServer) summaryOf(t *testing.T, tok, patientID string) (ipsDocument, ipsComposition) {
	t.Helper()
	r := ts.do("GET", "Patient/"+patientID+"/$summary", nil, "Authorization", "Bearer "+tok)
	require.Equal(t, http.StatusOK, r.StatusCode, "%s", r.Body)
	requireR4Valid(t, r.Body)
	var doc ipsDocument
	require.NoError(t, json.Unmarshal(r.Body, &doc))
	doc.raw = r.Body
	require.Equal(t, "Bundle", doc.ResourceType)
	require.Equal(t, "document", doc.Type)
	require.NotEmpty(t, doc.Timestamp)
	require.Equal(t, "urn:ietf:rfc:3986", doc.Identifier.System)
	require.NotEmpty(t, doc.Entry)
	require.Equal(t, "Composition", doc.Entry[0].Resource["resourceType"], "the first entry is the Composition")
	var comp ipsComposition
	raw, err := json.Marshal(doc.Entry[0].Resource)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &comp))
	require.Equal(t, "final", comp.Status)
	require.Equal(t, "60591-5", comp.Type.Coding[0].Code)
	require.Equal(t, "Patient/"+patientID, comp.Subject.Reference)

	// Every reference of the Composition resolves to an entry, and every
	// entry has a unique fullUrl.
	urls := map[string]bool{}
	for _, e := range doc.Entry {
		require.NotEmpty(t, e.FullURL)
		require.False(t, urls[e.FullURL], "duplicate fullUrl %s", e.FullURL)
		urls[e.FullURL] = true
	}
	resolve := func(ref string) string {
		if strings.HasPrefix(ref, "urn:uuid:") {
			return ref
		}
		return ts.base + "/" + ref
	}
	require.Len(t, comp.Author, 1)
	require.True(t, urls[resolve(comp.Author[0].Reference)], "the author is in the bundle")
	require.True(t, urls[resolve(comp.Subject.Reference)], "the patient is in the bundle")
	require.Len(t, comp.Section, 7)
	for _, s := range comp.Section {
		for _, e := range s.Entry {
			require.True(t, urls[resolve(e.Reference)], "section %s: %s is not an entry", s.Title, e.Reference)
		}
		if len(s.Entry) == 0 {
			require.NotNil(t, s.EmptyReason, "empty section %s says why", s.Title)
		} else {
			require.Nil(t, s.EmptyReason, "section %s has entries and an emptyReason", s.Title)
		}
	}
	return doc, comp
}

// section returns the section with LOINC code.
func (c ipsComposition) section(t *testing.T, code string) ipsSection {
	t.Helper()
	for _, s := range c.Section {
		if s.Code.Coding[0].Code == code {
			return s
		}
	}
	t.Fatalf("no section %s", code)
	return ipsSection{}
}

// refs returns the section's entry references, sorted.
func (s ipsSection) refs() []string {
	var out []string
	for _, e := range s.Entry {
		out = append(out, e.Reference)
	}
	sort.Strings(out)
	return out
}

func (s ipsSection) emptyReason() string {
	if s.EmptyReason == nil {
		return ""
	}
	return s.EmptyReason.Coding[0].Code
}

// row returns the narrative table row that mentions text, with its cells'
// markup dropped.
func (s ipsSection) row(t *testing.T, text string) string {
	t.Helper()
	for _, tr := range regexp.MustCompile(`<tr>(.*?)</tr>`).FindAllStringSubmatch(s.Text.Div, -1) {
		cells := regexp.MustCompile(`<br/>`).ReplaceAllString(tr[1], "\n")
		cells = regexp.MustCompile(`</td><td>`).ReplaceAllString(cells, " | ")
		cells = regexp.MustCompile(`<[^>]+>`).ReplaceAllString(cells, "")
		if strings.Contains(cells, text) {
			return cells
		}
	}
	t.Fatalf("section %s has no row with %q: %s", s.Title, text, s.Text.Div)
	return ""
}

// redacted reports whether the Composition carries the withheld label.
func (c ipsComposition) redacted() bool {
	if c.Meta == nil {
		return false
	}
	for _, s := range c.Meta.Security {
		if s.Code == "REDACTED" {
			return true
		}
	}
	return false
}

const summaryPatient = "UKCore-Patient-RichardSmith-Example"

// $summary over HTTP for every caller role of the access model, on the UK
// Core examples pushed by a GP, a care home's MAR and care plan history,
// and a hospital-free GP record: which entries each section holds, the
// empty reasons, the last administration row and the changed care plan.
func TestPatientSummaryAccess(t *testing.T) { forStores(t, testPatientSummaryAccess) }

func testPatientSummaryAccess(t *testing.T) {
	ts := startServer(t, nil) // the default caller: the GP system of practice A81001
	gpSystem := ts.token
	put := func(tok, path string, body any) {
		t.Helper()
		r := ts.do("PUT", path, body, "Authorization", "Bearer "+tok)
		require.Contains(t, []int{200, 201}, r.StatusCode, "%s: %s", path, r.Body)
	}
	for _, name := range []string{
		"UKCore-Patient-RichardSmith-Example", "UKCore-AllergyIntolerance-Amoxicillin-Example",
		"UKCore-MedicationStatement-Amoxicillin-Example", "UKCore-Condition-BleedingFromEar-Example",
		"UKCore-Condition-HipReplacement-Example", "UKCore-Immunization-InfluenzaVaccine-Example",
		"UKCore-Encounter-InpatientEncounter-Example", "UKCore-CarePlan-WellnessPlan-Example",
	} {
		raw := readFixture(t, filepath.Join(ukcoreExamples, name+".json"))
		var res map[string]any
		require.NoError(t, json.Unmarshal(raw, &res))
		put(gpSystem, res["resourceType"].(string)+"/"+name, raw)
	}
	subject := `"subject":{"reference":"Patient/` + summaryPatient + `"}`
	// A sensitive diagnosis only its owner may see.
	put(gpSystem, "Condition/hiv", `{"resourceType":"Condition","id":"hiv","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},`+
		`"code":{"coding":[{"system":"http://snomed.info/sct","code":"86406008","display":"HIV infection"}]},`+subject+`}`)
	now := time.Now().UTC()
	at := func(d time.Duration) string { return now.Add(-d).Format(time.RFC3339) }
	// Four GP encounters more recent than the UK Core one: care staff see
	// the three most recent GP encounters.
	for i, ago := range []time.Duration{100, 60, 20, 10} {
		put(gpSystem, fmt.Sprintf("Encounter/gp-enc-%d", i), fmt.Sprintf(`{"resourceType":"Encounter","id":"gp-enc-%d","status":"finished",`+
			`"class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB","display":"ambulatory"},`+
			`"type":[{"text":"GP consultation %d"}],%s,"period":{"start":%q,"end":%q}}`, i, i, subject, at(ago*24*time.Hour), at(ago*24*time.Hour-time.Hour)))
	}

	// The care home takes the resident on and writes its MAR and care plan.
	home := ts.mint(access.MintOptions{Role: access.CareRoleCareClinical, Org: "VM123"})
	put(home, "EpisodeOfCare/home-ep", `{"resourceType":"EpisodeOfCare","id":"home-ep","status":"active","patient":{"reference":"Patient/`+summaryPatient+`"},`+
		`"managingOrganization":{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"VM123"}}}`)
	amoxicillin := `"medicationCodeableConcept":{"coding":[{"system":"https://dmd.nhs.uk","code":"39732311000001104","display":"Amoxicillin 250mg capsules"}]}`
	paracetamol := `"medicationCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"322236009","display":"Paracetamol 500mg tablets"}]}`
	admin := func(id, status, med, when, extra string) {
		put(home, "MedicationAdministration/"+id, fmt.Sprintf(`{"resourceType":"MedicationAdministration","id":%q,"status":%q,%s,%s,"effectiveDateTime":%q%s}`,
			id, status, med, subject, when, extra))
	}
	admin("mar-1", "completed", amoxicillin, at(26*time.Hour), `,"performer":[{"actor":{"display":"Carer Alex Jones"}}]`)
	admin("mar-2", "completed", amoxicillin, at(2*time.Hour), `,"performer":[{"actor":{"display":"Nurse Bina Patel"}}]`)
	admin("mar-missed", "not-done", amoxicillin, at(30*time.Hour), `,"statusReason":[{"text":"Resident asleep"}]`)
	admin("mar-refused", "not-done", amoxicillin, at(72*time.Hour),
		`,"statusReason":[{"coding":[{"system":"http://snomed.info/sct","code":"182895007","display":"Drug declined by patient"}]}]`)
	admin("mar-old-refusal", "not-done", amoxicillin, at(10*24*time.Hour), `,"statusReason":[{"text":"Refused last month"}]`)
	admin("mar-paracetamol", "completed", paracetamol, at(5*time.Hour), `,"performer":[{"actor":{"display":"Carer Alex Jones"}}]`)

	plan := func(status, periodJSON string, activities ...string) string {
		var acts []string
		for _, a := range activities {
			name, st, _ := strings.Cut(a, "=")
			acts = append(acts, fmt.Sprintf(`{"detail":{"code":{"text":%q},"status":%q}}`, name, st))
		}
		return fmt.Sprintf(`{"resourceType":"CarePlan","id":"home-plan","status":%q,"intent":"plan","title":"Daily living support",%s%s,"activity":[%s]}`,
			status, subject, periodJSON, strings.Join(acts, ","))
	}
	put(home, "CarePlan/home-plan", plan("draft", "", "Assist with washing=not-started"))
	put(home, "CarePlan/home-plan", plan("active", "", "Assist with washing=not-started", "Mobility exercises=scheduled"))
	put(home, "CarePlan/home-plan", plan("active", `,"period":{"start":"`+now.Format("2006-01-02")+`"}`, "Assist with washing=in-progress"))

	// The hospital records the same allergy: one row, both sources.
	hospital := ts.mint(access.MintOptions{Role: access.CareRoleSystem, Org: "RX1", Source: access.RecordSourceHospital})
	put(hospital, "AllergyIntolerance/hospital-amoxicillin", `{"resourceType":"AllergyIntolerance","id":"hospital-amoxicillin",`+
		`"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"active"}]},`+
		`"code":{"coding":[{"system":"http://snomed.info/sct","code":"372687004","display":"Amoxicillin"}]},"criticality":"high",`+
		`"patient":{"reference":"Patient/`+summaryPatient+`"}}`)

	gpUser := ts.mint(access.MintOptions{Role: access.CareRoleGP, Org: "A81001"})
	staff := ts.mint(access.MintOptions{Role: access.CareRoleCareStaff, Org: "VM123"})
	breakGlass := ts.mint(access.MintOptions{Role: access.CareRoleClinician, Org: "RX9", BreakGlassReason: "collapsed in A&E"})
	noRelationship := ts.mint(access.MintOptions{Role: access.CareRoleCareClinical, Org: "ZZ999"})
	noPurpose := ts.mint(access.MintOptions{Role: access.CareRoleCareStaff, Org: "VM123", Reason: "research"})
	otherSystem := ts.mint(access.MintOptions{Role: access.CareRoleSystem, Org: "RX2", Source: "hospital"})
	auditor := ts.mint(access.MintOptions{Role: access.CareRoleAuditor, Org: "X26", Scopes: []string{"user/*.rs"}})

	ukProblems := []string{"Condition/UKCore-Condition-BleedingFromEar-Example", "Condition/UKCore-Condition-HipReplacement-Example"}
	recentGP := []string{"Encounter/gp-enc-1", "Encounter/gp-enc-2", "Encounter/gp-enc-3"}
	allergies := []string{"AllergyIntolerance/UKCore-AllergyIntolerance-Amoxicillin-Example", "AllergyIntolerance/hospital-amoxicillin"}

	t.Run("the practice's own GP sees everything, the MAR grouped with its statement", func(t *testing.T) {
		_, comp := ts.summaryOf(t, gpUser, summaryPatient)
		require.False(t, comp.redacted())
		require.NotContains(t, comp.Text.Div, summary.SuppressedText)

		problems := comp.section(t, summary.CodeProblems)
		require.Equal(t, append(append([]string{}, ukProblems...), "Condition/hiv"), problems.refs())
		require.NotContains(t, problems.Text.Div, summary.WithheldNote)
		require.Contains(t, problems.row(t, "Bleeding from ear"), "GP: Condition")

		allergy := comp.section(t, summary.CodeAllergies)
		require.Equal(t, allergies, allergy.refs())
		row := allergy.row(t, "Amoxicillin")
		require.Contains(t, row, "GP: AllergyIntolerance (updated ")
		require.Contains(t, row, "Hospital: AllergyIntolerance (updated ")
		require.Contains(t, row, "Urticarial rash")
		require.Contains(t, row, "high")
		require.Equal(t, []string{"Immunization/UKCore-Immunization-InfluenzaVaccine-Example"}, comp.section(t, summary.CodeImmunizations).refs())
		require.Equal(t, recentGP, comp.section(t, summary.CodeEncounters).refs(), "the three most recent encounters")

		meds := comp.section(t, summary.CodeMedications)
		require.Equal(t, []string{"MedicationAdministration/mar-2", "MedicationAdministration/mar-paracetamol",
			"MedicationStatement/UKCore-MedicationStatement-Amoxicillin-Example"}, meds.refs())
		row = meds.row(t, "Amoxicillin 250mg capsules")
		require.Contains(t, row, "GP: MedicationStatement", "the GP's statement and the care home's MAR are one row")
		require.Contains(t, row, "Social care: MedicationAdministration")
		require.Contains(t, row, at(2*time.Hour)+" by Nurse Bina Patel")
		require.Contains(t, meds.row(t, "Paracetamol 500mg tablets"), "Social care: MedicationAdministration")
		require.NotContains(t, meds.row(t, "Paracetamol 500mg tablets"), "GP:")

		admins := comp.section(t, summary.CodeAdministrations)
		require.Equal(t, []string{"MedicationAdministration/mar-2", "MedicationAdministration/mar-missed",
			"MedicationAdministration/mar-paracetamol", "MedicationAdministration/mar-refused"}, admins.refs())
		row = admins.row(t, "Amoxicillin 250mg capsules")
		require.Contains(t, row, at(2*time.Hour)+" | Nurse Bina Patel | Social care")
		require.Contains(t, row, at(30*time.Hour)+": not given (Resident asleep), Social care")
		require.Contains(t, row, at(72*time.Hour)+": not given (Drug declined by patient), Social care")
		require.NotContains(t, row, "Refused last month", "only the last 7 days")
		require.Contains(t, admins.row(t, "Paracetamol"), at(5*time.Hour)+" | Carer Alex Jones")

		plans := comp.section(t, summary.CodeCarePlans)
		require.Equal(t, []string{"CarePlan/UKCore-CarePlan-WellnessPlan-Example", "CarePlan/home-plan"}, plans.refs())
		row = plans.row(t, "Daily living support")
		require.Contains(t, row, "Version 3 (")
		require.Contains(t, row, "period changed from (none) to from "+now.Format("2006-01-02"))
		require.Contains(t, row, "activity Assist with washing: status changed from not-started to in-progress")
		require.Contains(t, row, "activity removed: Mobility exercises")
		require.Contains(t, row, "status changed from draft to active; activity added: Mobility exercises")
		require.Contains(t, row, "Version 1 (")
		require.Contains(t, row, "Social care (updated ")
		require.Contains(t, plans.row(t, "Weight management plan"), "Version 1 (", "a plan created in the last 30 days says so")
	})

	t.Run("the GP system sees what its practice pushed, and no MAR", func(t *testing.T) {
		_, comp := ts.summaryOf(t, gpSystem, summaryPatient)
		require.True(t, comp.redacted(), "the care home's records were withheld")
		require.Contains(t, comp.Text.Div, summary.SuppressedText)
		require.Len(t, comp.section(t, summary.CodeProblems).refs(), 3)
		admins := comp.section(t, summary.CodeAdministrations)
		require.Empty(t, admins.Entry)
		require.Equal(t, "withheld", admins.emptyReason())
		require.NotContains(t, string(admins.Text.Div), "Nurse", "withheld content is not revealed")
		allergy := comp.section(t, summary.CodeAllergies)
		require.Equal(t, allergies[:1], allergy.refs(), "the hospital's allergy is not the GP system's")
		require.Contains(t, allergy.Text.Div, summary.WithheldNote)
		require.NotContains(t, allergy.Text.Div, "Hospital")
		meds := comp.section(t, summary.CodeMedications)
		require.Equal(t, []string{"MedicationStatement/UKCore-MedicationStatement-Amoxicillin-Example"}, meds.refs())
		require.Equal(t, []string{"CarePlan/UKCore-CarePlan-WellnessPlan-Example"}, comp.section(t, summary.CodeCarePlans).refs())
		require.Contains(t, comp.section(t, summary.CodeCarePlans).Text.Div, summary.WithheldNote)
	})

	t.Run("care clinical staff see everything but the sensitive diagnosis", func(t *testing.T) {
		doc, comp := ts.summaryOf(t, home, summaryPatient)
		require.True(t, comp.redacted())
		problems := comp.section(t, summary.CodeProblems)
		require.Equal(t, ukProblems, problems.refs())
		require.Contains(t, problems.Text.Div, summary.WithheldNote)
		require.NotContains(t, string(doc.raw), "86406008", "nothing of the withheld record is in the document")
		require.NotContains(t, string(doc.raw), "HIV")
		require.Len(t, comp.section(t, summary.CodeMedications).refs(), 3)
		require.Equal(t, recentGP, comp.section(t, summary.CodeEncounters).refs())
		require.NotContains(t, comp.section(t, summary.CodeEncounters).Text.Div, summary.WithheldNote)
	})

	t.Run("care staff get the GP restricted view", func(t *testing.T) {
		doc, comp := ts.summaryOf(t, staff, summaryPatient)
		require.True(t, comp.redacted())
		problems := comp.section(t, summary.CodeProblems)
		require.Empty(t, problems.Entry, "the GP problem list is outside the restricted view")
		require.Equal(t, "withheld", problems.emptyReason())
		require.NotContains(t, string(doc.raw), "Bleeding from ear")
		require.Equal(t, allergies, comp.section(t, summary.CodeAllergies).refs())
		require.Equal(t, []string{"Immunization/UKCore-Immunization-InfluenzaVaccine-Example"}, comp.section(t, summary.CodeImmunizations).refs())
		enc := comp.section(t, summary.CodeEncounters)
		require.Equal(t, recentGP, enc.refs())
		require.NotContains(t, enc.Text.Div, summary.WithheldNote, "nothing as recent as the three shown was withheld")
		meds := comp.section(t, summary.CodeMedications)
		row := meds.row(t, "Amoxicillin 250mg capsules")
		require.Contains(t, row, "GP: MedicationStatement")
		require.Contains(t, row, "Social care: MedicationAdministration")
		admins := comp.section(t, summary.CodeAdministrations)
		require.Contains(t, admins.row(t, "Amoxicillin"), "Nurse Bina Patel")
		plans := comp.section(t, summary.CodeCarePlans)
		require.Equal(t, []string{"CarePlan/home-plan"}, plans.refs(), "the GP care plan is outside the restricted view")
		require.Contains(t, plans.Text.Div, summary.WithheldNote)
		require.NotContains(t, string(doc.raw), "Weight management")
	})

	t.Run("break-glass shows the clinical view without the sensitive diagnosis", func(t *testing.T) {
		_, comp := ts.summaryOf(t, breakGlass, summaryPatient)
		require.Equal(t, ukProblems, comp.section(t, summary.CodeProblems).refs())
		require.True(t, comp.redacted())
	})

	t.Run("the gate answers exactly as a read of the Patient", func(t *testing.T) {
		for name, tok := range map[string]string{"no relationship": noRelationship, "no purpose": noPurpose,
			"other system": otherSystem, "auditor": auditor, "gp": gpUser, "staff": staff} {
			for _, pid := range []string{summaryPatient, "no-such-patient"} {
				read := ts.do("GET", "Patient/"+pid, nil, "Authorization", "Bearer "+tok)
				sum := ts.do("GET", "Patient/"+pid+"/$summary", nil, "Authorization", "Bearer "+tok)
				require.Equal(t, read.StatusCode, sum.StatusCode, "%s, %s: %s", name, pid, sum.Body)
				if sum.StatusCode != http.StatusOK {
					requireOutcome(t, sum, sum.StatusCode)
				}
			}
		}
		require.Equal(t, http.StatusForbidden, ts.do("GET", "Patient/"+summaryPatient+"/$summary", nil, "Authorization", "Bearer "+noRelationship).StatusCode)
	})

	t.Run("an objection withholds the patient from others and leaves the owner its records", func(t *testing.T) {
		put(gpSystem, "Consent/objection", `{"resourceType":"Consent","id":"objection","status":"active",
			"scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
			"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],
			"patient":{"reference":"Patient/`+summaryPatient+`"},"policyRule":{"text":"objection"},"provision":{"type":"deny"}}`)
		read := ts.do("GET", "Patient/"+summaryPatient, nil, "Authorization", "Bearer "+home)
		sum := ts.do("GET", "Patient/"+summaryPatient+"/$summary", nil, "Authorization", "Bearer "+home)
		require.Equal(t, http.StatusNotFound, read.StatusCode, "the GP's Patient is withheld from the care home")
		requireOutcome(t, sum, read.StatusCode)
		require.NotContains(t, string(sum.Body), "Amoxicillin")

		_, comp := ts.summaryOf(t, gpUser, summaryPatient)
		require.Len(t, comp.section(t, summary.CodeProblems).refs(), 3, "the owner still sees its own records")
		meds := comp.section(t, summary.CodeMedications)
		require.Equal(t, []string{"MedicationStatement/UKCore-MedicationStatement-Amoxicillin-Example"}, meds.refs(),
			"the care home's MAR is withheld from the GP")
		require.Equal(t, "withheld", comp.section(t, summary.CodeAdministrations).emptyReason())
		require.True(t, comp.redacted())
	})

	t.Run("the CapabilityStatement lists the operation on Patient", func(t *testing.T) {
		var cs struct {
			Rest []struct {
				Resource []struct {
					Type      string `json:"type"`
					Operation []struct {
						Name       string `json:"name"`
						Definition string `json:"definition"`
					} `json:"operation"`
				} `json:"resource"`
			} `json:"rest"`
		}
		require.NoError(t, json.Unmarshal(ts.do("GET", "metadata", nil).Body, &cs))
		found := false
		for _, res := range cs.Rest[0].Resource {
			for _, op := range res.Operation {
				if op.Name == "summary" {
					require.Equal(t, "Patient", res.Type)
					require.Equal(t, "http://hl7.org/fhir/uv/ips/OperationDefinition/summary", op.Definition)
					found = true
				}
			}
		}
		require.True(t, found)
	})

	t.Run("bad requests change nothing and say why", func(t *testing.T) {
		requireOutcome(t, ts.do("GET", "Observation/x/$summary", nil), http.StatusNotFound)
		requireOutcome(t, ts.do("GET", "Patient/"+summaryPatient+"/$summary?section=all", nil), http.StatusBadRequest)
		requireOutcome(t, ts.do("GET", "Patient/bad_id!/$summary", nil), http.StatusBadRequest)
		requireOutcome(t, ts.do("POST", "Patient/"+summaryPatient+"/$summary", "{}"), http.StatusMethodNotAllowed)
	})
}

// $summary of a whole Synthea record, pushed by a GP system as a
// transaction: the sections hold what the record says, worked out from the
// file, and the document validates.
func TestPatientSummarySynthea(t *testing.T) { forStores(t, testPatientSummarySynthea) }

func testPatientSummarySynthea(t *testing.T) {
	ts := startServer(t, nil)
	raw := syntheaFixture(t, aliHarris)
	in := entriesOf(t, raw)
	out := ts.postBundle(t, raw)
	ids := map[string]string{}
	for i, e := range out.Entry {
		res := resourceOf(t, e.Resource)
		ids[in[i].FullURL] = res["resourceType"].(string) + "/" + res["id"].(string)
	}
	patient := strings.TrimPrefix(ids[in[0].FullURL], "Patient/")

	// What the file says each section holds.
	want := map[string][]string{}
	type dated struct{ ref, start string }
	var encounters []dated
	for _, e := range in {
		r, ref := e.Resource, ids[e.FullURL]
		clinical := ""
		if cs, ok := r["clinicalStatus"].(map[string]any); ok {
			clinical = cs["coding"].([]any)[0].(map[string]any)["code"].(string)
		}
		switch r["resourceType"] {
		case "Condition":
			if clinical == "active" || clinical == "recurrence" || clinical == "relapse" {
				want[summary.CodeProblems] = append(want[summary.CodeProblems], ref)
			}
		case "MedicationRequest":
			if r["status"] == "active" || r["status"] == "on-hold" {
				want[summary.CodeMedications] = append(want[summary.CodeMedications], ref)
			}
		case "Immunization":
			want[summary.CodeImmunizations] = append(want[summary.CodeImmunizations], ref)
		case "CarePlan":
			// Every plan was written just now: each changed in the last
			// 30 days, active or not.
			want[summary.CodeCarePlans] = append(want[summary.CodeCarePlans], ref)
		case "Encounter":
			encounters = append(encounters, dated{ref, r["period"].(map[string]any)["start"].(string)})
		}
	}
	sort.Slice(encounters, func(i, j int) bool {
		a, _ := time.Parse(time.RFC3339, encounters[i].start)
		b, _ := time.Parse(time.RFC3339, encounters[j].start)
		return a.After(b)
	})
	for _, e := range encounters[:3] {
		want[summary.CodeEncounters] = append(want[summary.CodeEncounters], e.ref)
	}
	require.NotEmpty(t, want[summary.CodeProblems])
	require.NotEmpty(t, want[summary.CodeMedications])

	_, comp := ts.summaryOf(t, ts.token, patient)
	require.False(t, comp.redacted())
	for code, refs := range want {
		sort.Strings(refs)
		require.Equal(t, refs, comp.section(t, code).refs(), "section %s", code)
	}
	allergies := comp.section(t, summary.CodeAllergies)
	require.Empty(t, allergies.Entry)
	require.Equal(t, "notasked", allergies.emptyReason(), "no source recorded allergies: not the same as none known")
	require.Equal(t, "nilknown", comp.section(t, summary.CodeAdministrations).emptyReason())
	require.Contains(t, comp.section(t, summary.CodeProblems).row(t, "Hypertension"), "GP: Condition")
}
