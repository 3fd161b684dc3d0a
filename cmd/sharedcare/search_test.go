package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The UK Core examples the search tests load, beside hand-built resources.
const (
	richard         = "UKCore-Patient-RichardSmith-Example"
	ukBloodPressure = "UKCore-Observation-VitalSigns-BloodPressure-Example"
	ukBodyWeight    = "UKCore-Observation-VitalSigns-BodyWeight-Example"
	ukCondition     = "UKCore-Condition-BleedingFromEar-Example"
)

var searchExamples = []string{
	richard, ukBloodPressure, ukBodyWeight, ukCondition,
	"UKCore-Organization-WhiteRoseMedicalCentre-Example", "UKCore-Organization-LeedsTeachingHospital-Example",
	"UKCore-Practitioner-DoctorPaulRastall-Example", "UKCore-AllergyIntolerance-Amoxicillin-Example",
	"UKCore-Encounter-InpatientEncounter-Example",
}

const nhsNumberSystem = "https://fhir.nhs.uk/Id/nhs-number"

// searchFixtures are the hand-built resources, in the order they are
// written. %[1]s is the server's base URL.
var searchFixtures = []string{
	`{"resourceType":"Practitioner","id":"prac-1","name":[{"family":"Jones"}]}`,
	`{"resourceType":"Organization","id":"org-1","name":"White Rose Surgery"}`,
	`{"resourceType":"Patient","id":"pat-ann","meta":{"tag":[{"system":"http://example.org/tags","code":"vip"}],
		"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}],"source":"http://gp.example/system"},
		"active":true,"identifier":[{"system":"` + nhsNumberSystem + `","value":"9000000009"},
		{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},"system":"https://hospital.example/mrn","value":"MRN-1"}],
		"name":[{"family":"Smith","given":["Ann"]}],"gender":"female","birthDate":"1950-04-01","address":[{"city":"York"}],
		"generalPractitioner":[{"reference":"Practitioner/prac-1"}],"managingOrganization":{"reference":"Organization/org-1"}}`,
	`{"resourceType":"Patient","id":"pat-amy","identifier":[{"value":"LOCAL-7"}],"name":[{"family":"Smith","given":["Amy"]}],"gender":"female","birthDate":"1960-01-01"}`,
	`{"resourceType":"Patient","id":"pat-bob","active":false,"identifier":[{"system":"` + nhsNumberSystem + `","value":"9000000017"}],
		"name":[{"family":"Smyth","given":["Bob"]}],"gender":"male","birthDate":"1950"}`,
	`{"resourceType":"Patient","id":"pat-zoe","name":[{"family":"Müller","given":["Zoë"]}],"gender":"female","birthDate":"1987-06-15","address":[{"city":"Leeds"}]}`,
	`{"resourceType":"Patient","id":"pat-kim","name":[{"family":"Kim"}],"birthDate":"2001-02-03"}`,
	`{"resourceType":"Patient","id":"pat-gone","name":[{"family":"Gone"}]}`,
	`{"resourceType":"List","id":"list-1","status":"current","mode":"working",
		"entry":[{"item":{"reference":"Patient/pat-ann"}},{"item":{"reference":"Patient/pat-zoe"}}]}`,
	bpJSON("obs-bp", "Patient/pat-ann", "2024-03-05T10:15:00Z", 120, 80, `,"performer":[{"reference":"Practitioner/prac-1"}]`),
	bpJSON("obs-bp2", "Patient/pat-bob", "2024-04-10", 150, 95, ""),
	obsJSON("obs-weight", "29463-7", "Body weight", `{"reference":"Patient/pat-ann"}`, `"effectiveDateTime":"2023-12-31T23:30:00Z"`, 72.5, "kg"),
	obsJSON("obs-ident", "29463-7", "Body weight", `{"identifier":{"system":"`+nhsNumberSystem+`","value":"9000000017"}}`,
		`"effectivePeriod":{"start":"2024-01-01","end":"2024-01-31"}`, 80, "kg"),
	obsJSON("obs-sys", "8480-6", "Systolic blood pressure", `{"reference":"Patient/pat-zoe"}`, `"effectiveDateTime":"2024-02-01"`, 130, "mm[Hg]"),
	obsJSON("obs-abs", "8302-2", "Body height", `{"reference":"%[1]s/Patient/pat-zoe"}`, `"effectiveDateTime":"2024-02-02"`, 165, "cm"),
	obsJSON("obs-foreign", "8302-2", "Body height", `{"reference":"http://other.example/fhir/Patient/pat-ann"}`, `"effectiveDateTime":"2024-02-03"`, 170, "cm"),
	obsJSON("obs-del", "29463-7", "Body weight", `{"reference":"Patient/pat-ann"}`, `"effectiveDateTime":"2024-01-02"`, 60, "kg"),
	`{"resourceType":"Observation","id":"obs-orphan","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"9279-1"}]},
		"subject":{"reference":"Patient/pat-gone"},"performer":[{"reference":"Practitioner/prac-1"}]}`,
	`{"resourceType":"Provenance","id":"prov-1","target":[{"reference":"Observation/obs-weight"}],"recorded":"2024-01-01T00:00:00Z",
		"agent":[{"who":{"reference":"Practitioner/prac-1"}}]}`,
	riskJSON("ra-1", `"probabilityDecimal":0.25`),
	riskJSON("ra-2", `"probabilityDecimal":0.8`),
	riskJSON("ra-3", `"probabilityRange":{"low":{"value":0.1},"high":{"value":0.3}}`),
	`{"resourceType":"ValueSet","id":"vs-1","url":"http://example.org/fhir/ValueSet/a/b","status":"active"}`,
	`{"resourceType":"ValueSet","id":"vs-2","url":"http://example.org/fhir/ValueSet/c","status":"active"}`,
	`{"resourceType":"ValueSet","id":"vs-3","url":"http://other.org/vs","status":"active"}`,
}

func obsJSON(id, code, display, subject, effective string, value float64, unit string) string {
	return fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":"final","code":{"coding":[{"system":"http://loinc.org","code":%q,"display":%q}]},
		"subject":%s,%s,"valueQuantity":{"value":%v,"unit":%q,"system":"http://unitsofmeasure.org","code":%q}}`,
		id, code, display, subject, effective, value, unit, unit)
}

func bpJSON(id, subject, effective string, systolic, diastolic int, more string) string {
	component := func(code string, v int) string {
		return fmt.Sprintf(`{"code":{"coding":[{"system":"http://loinc.org","code":%q}]},"valueQuantity":{"value":%d,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}`, code, v)
	}
	return fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9","display":"Blood pressure panel"}]},
		"subject":{"reference":%q},"effectiveDateTime":%q,"component":[%s,%s]%s}`,
		id, subject, effective, component("8480-6", systolic), component("8462-4", diastolic), more)
}

func riskJSON(id, prediction string) string {
	return fmt.Sprintf(`{"resourceType":"RiskAssessment","id":%q,"status":"final","subject":{"reference":"Patient/pat-ann"},"prediction":[{%s}]}`, id, prediction)
}

// putFixture writes a resource with its id and requires success.
func (ts *testServer) putFixture(body string) {
	ts.t.Helper()
	typ, id := resourceKey(ts.t, body)
	r := ts.do("PUT", typ+"/"+id, body)
	require.Contains(ts.t, []int{http.StatusOK, http.StatusCreated}, r.StatusCode, "%s/%s: %s", typ, id, r.Body)
}

func resourceKey(t *testing.T, body string) (typ, id string) {
	var m struct{ ResourceType, ID string }
	require.NoError(t, json.Unmarshal([]byte(body), &m), body)
	return m.ResourceType, m.ID
}

// loadSearchFixtures writes the search test data: the UK Core examples and
// the hand-built resources, then deletes obs-del and pat-gone.
func loadSearchFixtures(t *testing.T, ts *testServer) {
	for _, name := range searchExamples {
		raw, err := os.ReadFile(filepath.Join(sharedDir, "fhir/ukcore-examples/json", name+".json"))
		require.NoError(t, err)
		ts.putFixture(string(raw))
	}
	for _, f := range searchFixtures {
		if strings.Contains(f, "%[1]s") {
			f = fmt.Sprintf(f, ts.base)
		}
		ts.putFixture(f)
	}
	for _, p := range []string{"Observation/obs-del", "Patient/pat-gone"} {
		r := ts.do("DELETE", p, nil)
		require.Equal(t, http.StatusNoContent, r.StatusCode, "%s", r.Body)
	}
}

// searchBundle is a searchset Bundle, read.
type searchBundle struct {
	bundle   map[string]any
	matches  []string // ids of the match entries, in order
	included []string // ids of the include entries, in order
	outcomes []map[string]any
}

func (s searchBundle) link(rel string) string {
	links, _ := s.bundle["link"].([]any)
	for _, l := range links {
		if m := l.(map[string]any); m["relation"] == rel {
			return m["url"].(string)
		}
	}
	return ""
}

func (s searchBundle) total() (int, bool) {
	n, ok := s.bundle["total"].(float64)
	return int(n), ok
}

// search sends a search and requires a searchset Bundle.
func (ts *testServer) search(t *testing.T, method, path string, body any, headers ...string) searchBundle {
	t.Helper()
	r := ts.do(method, path, body, headers...)
	require.Equal(t, http.StatusOK, r.StatusCode, "%s %s: %s", method, path, r.Body)
	b := r.JSON(t)
	require.Equal(t, "Bundle", b["resourceType"])
	require.Equal(t, "searchset", b["type"])
	res := searchBundle{bundle: b}
	entries, _ := b["entry"].([]any)
	for _, e := range entries {
		e := e.(map[string]any)
		resource := e["resource"].(map[string]any)
		mode := e["search"].(map[string]any)["mode"]
		switch mode {
		case "match", "include":
			id := resource["id"].(string)
			require.Equal(t, ts.base+"/"+resource["resourceType"].(string)+"/"+id, e["fullUrl"])
			if mode == "match" {
				res.matches = append(res.matches, id)
			} else {
				res.included = append(res.included, id)
			}
		case "outcome":
			require.Equal(t, "OperationOutcome", resource["resourceType"])
			res.outcomes = append(res.outcomes, resource)
		default:
			t.Fatalf("entry with search.mode %v", mode)
		}
	}
	return res
}

func TestSearch(t *testing.T) { forStores(t, testSearch) }

func testSearch(t *testing.T) {
	start := time.Now().UTC().Add(-time.Second)
	ts := startServer(t, nil)
	loadSearchFixtures(t, ts)
	base := ts.base
	allPatients := []string{"pat-ann", "pat-amy", "pat-bob", "pat-zoe", "pat-kim", richard}

	// Every expected result below was worked out by hand from the fixtures.
	t.Run("parameters", func(t *testing.T) {
		tests := []struct {
			query string
			want  []string
		}{
			// string: normalized starts-with, :exact, :contains, OR and AND
			{"Patient?name=smi", []string{"pat-ann", "pat-amy", richard}},
			{"Patient?family=sm", []string{"pat-ann", "pat-amy", "pat-bob", richard}},
			{"Patient?name=zoe", []string{"pat-zoe"}},
			{"Patient?name=MULLER", []string{"pat-zoe"}},
			{"Patient?family:exact=Smith", []string{"pat-ann", "pat-amy"}},
			{"Patient?family:exact=smith", nil},
			{"Patient?name:contains=ich", []string{richard}},
			{"Patient?address-city=leeds", []string{"pat-zoe", richard}},
			{"Patient?name=smith,muller", []string{"pat-ann", "pat-amy", "pat-zoe", richard}},
			{"Patient?name=smith&given=ann", []string{"pat-ann"}},
			// token: code, system|code, |code, system|, :not, :missing, :of-type, :text, boolean
			{"Patient?gender=female", []string{"pat-ann", "pat-amy", "pat-zoe"}},
			{"Patient?gender:not=female", []string{"pat-bob", "pat-kim", richard}},
			{"Patient?gender:missing=true", []string{"pat-kim"}},
			{"Patient?identifier=" + nhsNumberSystem + "|9000000009", []string{"pat-ann"}},
			{"Patient?identifier=9000000017", []string{"pat-bob"}},
			{"Patient?identifier=" + nhsNumberSystem + "|", []string{"pat-ann", "pat-bob", richard}},
			{"Patient?identifier=|LOCAL-7", []string{"pat-amy"}},
			{"Patient?identifier=|MRN-1", nil},
			{"Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|MRN-1", []string{"pat-ann"}},
			{"Patient?active=true", []string{"pat-ann"}},
			{"Patient?active=false", []string{"pat-bob"}},
			{"Observation?code:text=body%20w", []string{"obs-weight", "obs-ident", ukBodyWeight}},
			{"Observation?code=http://loinc.org|29463-7,http://loinc.org|8302-2", []string{"obs-weight", "obs-ident", ukBodyWeight, "obs-abs", "obs-foreign"}},
			// date: precision, prefixes, boundaries
			{"Patient?birthdate=1950", []string{"pat-ann", "pat-bob"}},
			{"Patient?birthdate=1950-04-01", []string{"pat-ann"}},
			{"Patient?birthdate=ge1950-04-01", allPatients},
			{"Patient?birthdate=gt1950-04-01", []string{"pat-bob", "pat-amy", "pat-zoe", "pat-kim", richard}},
			{"Patient?birthdate=le1950-04-01", []string{"pat-ann", "pat-bob"}},
			{"Patient?birthdate=lt1950-04-01", []string{"pat-bob"}},
			{"Patient?birthdate=sa1950", []string{"pat-amy", "pat-zoe", "pat-kim", richard}},
			{"Patient?birthdate=eb1960-01-01", []string{"pat-ann", "pat-bob"}},
			{"Patient?birthdate=ne1950", []string{"pat-amy", "pat-zoe", "pat-kim", richard}},
			{"Patient?birthdate=ge1950-04-01&birthdate=le1960-01-01", []string{"pat-ann", "pat-bob", "pat-amy"}},
			{"Patient?birthdate=ap1950-04-01", []string{"pat-ann", "pat-bob"}},
			{"Observation?date=2024-01", []string{"obs-ident"}},
			{"Observation?date=2024-01-15", nil},
			{"Observation?date=ge2024-01-15&date=le2024-01-15", []string{"obs-ident"}},
			{"Observation?date=lt2024-01-01", []string{"obs-weight", ukBloodPressure, ukBodyWeight}},
			{"Observation?date=eb2024-02-01", []string{"obs-weight", "obs-ident", ukBloodPressure, ukBodyWeight}},
			{"Observation?date=sa2024-02-01", []string{"obs-abs", "obs-foreign", "obs-bp", "obs-bp2"}},
			{"Observation?date=2024-03-05T10:15", []string{"obs-bp"}},
			{"Observation?date=2024-03-05T11:15%2B01:00", []string{"obs-bp"}},
			{"Patient?_lastUpdated=ge" + start.Format(time.RFC3339), allPatients},
			{"Patient?_lastUpdated=lt" + start.Format(time.RFC3339), nil},
			// number: precision of eq, Range values
			{"RiskAssessment?probability=0.25", []string{"ra-1"}},
			{"RiskAssessment?probability=0.3", []string{"ra-1"}},
			{"RiskAssessment?probability=gt0.5", []string{"ra-2"}},
			{"RiskAssessment?probability=lt0.2", []string{"ra-3"}},
			{"RiskAssessment?probability=ge0.8", []string{"ra-2"}},
			{"RiskAssessment?probability=le0.25", []string{"ra-1", "ra-3"}},
			{"RiskAssessment?probability=sa0.5", []string{"ra-2"}},
			{"RiskAssessment?probability=eb0.5", []string{"ra-1", "ra-3"}},
			{"RiskAssessment?probability=ap0.25", []string{"ra-1", "ra-3"}},
			{"RiskAssessment?probability=ne0.25", []string{"ra-2", "ra-3"}},
			// quantity
			{"Observation?value-quantity=72.5", []string{"obs-weight"}},
			{"Observation?value-quantity=72", nil},
			{"Observation?value-quantity=73", []string{"obs-weight"}},
			{"Observation?value-quantity=gt75|http://unitsofmeasure.org|kg", []string{"obs-ident", ukBodyWeight}},
			{"Observation?value-quantity=le80||kg", []string{"obs-weight", "obs-ident"}},
			{"Observation?value-quantity=72.5|http://unitsofmeasure.org|g", nil},
			{"Observation?value-quantity=ap80", []string{"obs-weight", "obs-ident"}},
			{"Observation?value-quantity=ge165", []string{"obs-abs", "obs-foreign"}},
			// composite: the parts of one value, never of two
			{"Observation?code-value-quantity=http://loinc.org|8480-6$gt100", []string{"obs-sys"}},
			{"Observation?component-code-value-quantity=http://loinc.org|8480-6$gt130", []string{"obs-bp2", ukBloodPressure}},
			{"Observation?component-code-value-quantity=http://loinc.org|8462-4$gt100", nil},
			{"Observation?combo-code-value-quantity=http://loinc.org|8480-6$gt125", []string{"obs-sys", "obs-bp2", ukBloodPressure}},
			// reference
			{"Observation?subject=Patient/pat-ann", []string{"obs-bp", "obs-weight"}},
			{"Observation?subject=pat-ann", []string{"obs-bp", "obs-weight"}},
			{"Observation?subject:Patient=pat-ann", []string{"obs-bp", "obs-weight"}},
			{"Observation?subject=" + base + "/Patient/pat-ann", []string{"obs-bp", "obs-weight"}},
			{"Observation?subject=Patient/pat-zoe", []string{"obs-sys", "obs-abs"}},
			{"Observation?subject=http://other.example/fhir/Patient/pat-ann", []string{"obs-foreign"}},
			{"Observation?subject:identifier=" + nhsNumberSystem + "|9000000017", []string{"obs-ident", "obs-bp2"}},
			{"Observation?subject:identifier=" + nhsNumberSystem + "|9912003888", []string{ukBloodPressure, ukBodyWeight}},
			{"Observation?performer:missing=true", []string{"obs-bp2", "obs-weight", "obs-ident", "obs-sys", "obs-abs", "obs-foreign"}},
			{"Observation?subject:missing=false&code=8302-2", []string{"obs-abs", "obs-foreign"}},
			// uri
			{"ValueSet?url=http://example.org/fhir/ValueSet/c", []string{"vs-2"}},
			{"ValueSet?url:below=http://example.org/fhir/", []string{"vs-1", "vs-2"}},
			{"ValueSet?url:above=http://example.org/fhir/ValueSet/a/b/c", []string{"vs-1"}},
			// the parameters of every resource
			{"Patient?_id=pat-ann,pat-bob", []string{"pat-ann", "pat-bob"}},
			{"Patient?_id:not=pat-ann&gender=female", []string{"pat-amy", "pat-zoe"}},
			{"Patient?_tag=http://example.org/tags|vip", []string{"pat-ann"}},
			{"Patient?_tag=https://fhir.nhs.uk/Id/ods-organization-code|A81001&gender=male", []string{"pat-bob", richard}},
			{"Patient?_security=R", []string{"pat-ann"}},
			{"Patient?_source=http://gp.example/system", []string{"pat-ann"}},
			{"Patient?_list=list-1", []string{"pat-ann", "pat-zoe"}},
			// chains, through literal and logical (identifier) references
			{"Observation?subject:Patient.name=smyth", []string{"obs-bp2", "obs-ident"}},
			{"Observation?subject.name=smyth", []string{"obs-bp2", "obs-ident"}},
			{"Observation?patient.identifier=" + nhsNumberSystem + "|9912003888", []string{ukBloodPressure, ukBodyWeight}},
			{"Observation?subject:Patient.organization.name=white", []string{"obs-bp", "obs-weight"}},
			{"Observation?subject:Patient.gender=male&code=29463-7", []string{"obs-ident", ukBodyWeight}},
			{"Patient?general-practitioner.name=jones", []string{"pat-ann"}},
			// reverse chains, nested
			{"Patient?_has:Observation:subject:code=29463-7", []string{"pat-ann", "pat-bob", richard}},
			{"Patient?_has:Observation:patient:code=8480-6", []string{"pat-zoe"}},
			{"Patient?_has:Observation:subject:_has:Provenance:target:agent=Practitioner/prac-1", []string{"pat-ann"}},
			// deleted resources never match, not even through a chain
			{"Observation?_id=obs-del", nil},
			{"Observation?subject:Patient.name=gone", nil},
			{"Observation?code=9279-1", []string{"obs-orphan"}},
			{"Patient?_has:Observation:subject:code=9279-1", nil},
		}
		for _, tt := range tests {
			t.Run(tt.query, func(t *testing.T) {
				res := ts.search(t, "GET", tt.query, nil)
				assert.ElementsMatch(t, tt.want, res.matches)
				assert.Empty(t, res.outcomes)
				n, ok := res.total()
				assert.True(t, ok)
				assert.Equal(t, len(tt.want), n)
			})
		}
	})

	t.Run("sort", func(t *testing.T) {
		tests := []struct{ query, want string }{
			{"Patient?_id=pat-ann,pat-amy,pat-bob,pat-zoe&_sort=family,-birthdate", "pat-zoe pat-amy pat-ann pat-bob"},
			{"Patient?_sort=-birthdate", "pat-kim pat-zoe " + richard + " pat-amy pat-bob pat-ann"},
			{"Patient?_id=pat-ann,pat-amy,pat-bob,pat-zoe,pat-kim&_sort=gender,_id", "pat-amy pat-ann pat-zoe pat-bob pat-kim"},
			{"Patient?_id=pat-ann,pat-amy,pat-bob,pat-zoe,pat-kim&_sort=-gender,-_id", "pat-bob pat-zoe pat-ann pat-amy pat-kim"},
			{"Observation?code=29463-7&_sort=-date", "obs-ident obs-weight " + ukBodyWeight},
			{"Patient?_id=pat-zoe,pat-ann&_sort=-_lastUpdated", "pat-zoe pat-ann"},
			{"RiskAssessment?_sort=probability", "ra-3 ra-1 ra-2"},
		}
		for _, tt := range tests {
			t.Run(tt.query, func(t *testing.T) {
				assert.Equal(t, tt.want, strings.Join(ts.search(t, "GET", tt.query, nil).matches, " "))
			})
		}
	})

	t.Run("include and revinclude", func(t *testing.T) {
		tests := []struct {
			query            string
			matches, include []string
		}{
			{"Observation?_id=obs-bp&_include=Observation:subject", []string{"obs-bp"}, []string{"pat-ann"}},
			{"Observation?_id=obs-bp&_include=Observation:subject&_include:iterate=Patient:general-practitioner",
				[]string{"obs-bp"}, []string{"pat-ann", "prac-1"}},
			{"Observation?_id=obs-bp&_include=*", []string{"obs-bp"}, []string{"pat-ann", "prac-1"}},
			{"Observation?_id=obs-bp&_include=Observation:performer:Organization", []string{"obs-bp"}, nil},
			{"Patient?_id=pat-ann&_revinclude=Observation:subject", []string{"pat-ann"}, []string{"obs-bp", "obs-weight"}},
			{"Patient?_id=pat-ann&_revinclude=Observation:subject&_revinclude:iterate=Provenance:target",
				[]string{"pat-ann"}, []string{"obs-bp", "obs-weight", "prov-1"}},
			{"Patient?_id=pat-ann,pat-zoe&_include=Patient:general-practitioner&_revinclude=List:item",
				[]string{"pat-ann", "pat-zoe"}, []string{"prac-1", "list-1"}},
			{"Patient?_id=pat-ann&_revinclude=Observation:subject&_include:iterate=Observation:subject", []string{"pat-ann"}, []string{"obs-bp", "obs-weight"}},
		}
		for _, tt := range tests {
			t.Run(tt.query, func(t *testing.T) {
				res := ts.search(t, "GET", tt.query, nil)
				assert.ElementsMatch(t, tt.matches, res.matches)
				assert.ElementsMatch(t, tt.include, res.included)
				n, _ := res.total()
				assert.Equal(t, len(tt.matches), n, "included resources are not counted")
			})
		}
	})

	t.Run("compartment", func(t *testing.T) {
		tests := []struct {
			path string
			want []string
		}{
			{"Patient/pat-ann/Observation", []string{"obs-bp", "obs-weight"}},
			{"Patient/pat-ann/Observation?code=29463-7", []string{"obs-weight"}},
			{"Patient/pat-zoe/Observation", []string{"obs-sys", "obs-abs"}},
			{"Patient/" + richard + "/Condition", []string{ukCondition}},
			{"Patient/pat-ann/RiskAssessment?probability=gt0.26", []string{"ra-2", "ra-3"}},
			{"Patient/pat-ann/Patient", []string{"pat-ann"}},
		}
		for _, tt := range tests {
			t.Run(tt.path, func(t *testing.T) {
				assert.ElementsMatch(t, tt.want, ts.search(t, "GET", tt.path, nil).matches)
			})
		}
		requireOutcome(t, ts.do("GET", "Patient/pat-ann/Organization", nil), http.StatusBadRequest)
		requireOutcome(t, ts.do("GET", "Observation/obs-bp/Patient", nil), http.StatusNotFound)
		requireOutcome(t, ts.do("GET", "Patient/pat-ann/Nope", nil), http.StatusNotFound)
	})

	t.Run("system search", func(t *testing.T) {
		res := ts.search(t, "GET", base+"?_type=Patient,Observation&_id=pat-ann,obs-bp,prac-1", nil)
		assert.ElementsMatch(t, []string{"pat-ann", "obs-bp"}, res.matches)
		res = ts.search(t, "GET", base+"?_id=pat-ann,prac-1", nil)
		assert.ElementsMatch(t, []string{"pat-ann", "prac-1"}, res.matches)
		res = ts.search(t, "GET", base+"?_type=Observation,Condition&patient="+richard, nil)
		assert.ElementsMatch(t, []string{ukBloodPressure, ukBodyWeight, ukCondition}, res.matches)
		res = ts.search(t, "POST", base+"/_search", "_type=Patient&gender=male", "Content-Type", "application/x-www-form-urlencoded")
		assert.ElementsMatch(t, []string{"pat-bob", richard}, res.matches)
		res = ts.search(t, "GET", base+"?_id=pat-ann&gender=female", nil)
		assert.Equal(t, []string{"pat-ann"}, res.matches, "gender is not a parameter of every type: ignored")
		require.Len(t, res.outcomes, 1)
	})

	t.Run("POST _search merges the body with the URL", func(t *testing.T) {
		res := ts.search(t, "POST", "Patient/_search?gender=female", "name=smith", "Content-Type", "application/x-www-form-urlencoded")
		assert.ElementsMatch(t, []string{"pat-ann", "pat-amy"}, res.matches)
		self, err := url.Parse(res.link("self"))
		require.NoError(t, err)
		assert.Equal(t, ts.base+"/Patient", self.Scheme+"://"+self.Host+self.Path)
		assert.Equal(t, url.Values{"gender": {"female"}, "name": {"smith"}}, self.Query())
		assert.ElementsMatch(t, res.matches, ts.search(t, "GET", res.link("self"), nil).matches, "self is a GET that searches the same")
		requireOutcome(t, ts.do("POST", "Patient/_search", `{"name":"x"}`), http.StatusUnsupportedMediaType)
	})

	t.Run("summary, elements and total", func(t *testing.T) {
		res := ts.search(t, "GET", "Patient?gender=female&_summary=count", nil)
		n, ok := res.total()
		assert.True(t, ok)
		assert.Equal(t, 3, n)
		assert.Nil(t, res.bundle["entry"])
		res = ts.search(t, "GET", "Patient?gender=female&_count=0", nil)
		n, _ = res.total()
		assert.Equal(t, 3, n)
		assert.Nil(t, res.bundle["entry"])

		r := ts.do("GET", "Patient?_id=pat-ann&_elements=gender", nil)
		require.Equal(t, http.StatusOK, r.StatusCode)
		p := r.JSON(t)["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
		assert.Equal(t, "female", p["gender"])
		assert.Nil(t, p["name"])
		assert.Contains(t, fmt.Sprint(p["meta"]), "SUBSETTED")
		r = ts.do("GET", "Patient?_id=pat-ann&_summary=true", nil)
		p = r.JSON(t)["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
		assert.NotNil(t, p["name"])
		assert.Contains(t, fmt.Sprint(p["meta"]), "SUBSETTED")

		res = ts.search(t, "GET", "Patient?gender=female&_total=none", nil)
		_, ok = res.total()
		assert.False(t, ok)
		assert.Len(t, res.matches, 3)
		res = ts.search(t, "GET", "Patient?gender=female&_total=accurate&_count=1", nil)
		n, _ = res.total()
		assert.Equal(t, 3, n)
		assert.Len(t, res.matches, 1)
		res = ts.search(t, "GET", "Patient?gender=female&_count=1", nil)
		n, _ = res.total()
		assert.Equal(t, 3, n, "a small total is cheap, so the default counts it")
	})

	t.Run("unknown parameters", func(t *testing.T) {
		res := ts.search(t, "GET", "Patient?gender=male&foo=bar&_text=x", nil)
		assert.ElementsMatch(t, []string{"pat-bob", richard}, res.matches)
		require.Len(t, res.outcomes, 1)
		issues := res.outcomes[0]["issue"].([]any)
		require.Len(t, issues, 2)
		for _, is := range issues {
			assert.Equal(t, "warning", is.(map[string]any)["severity"])
		}
		assert.Contains(t, fmt.Sprint(issues), `"foo"`)

		oo := requireOutcome(t, ts.do("GET", "Patient?gender=male&foo=bar", nil, "Prefer", "handling=strict"), http.StatusBadRequest)
		assert.Contains(t, fmt.Sprint(oo), "foo")
		res = ts.search(t, "GET", "Patient?gender=male", nil, "Prefer", "handling=strict")
		assert.Len(t, res.matches, 2)
	})

	t.Run("bad input is 400", func(t *testing.T) {
		for _, q := range []string{
			"Patient?birthdate=yesterday", "Patient?gender:below=x", "Patient?_sort=nope", "Patient?_count=-1",
			"Observation?value-quantity=5|kg", "Observation?code.name=x", "Patient?_page=nope",
			"Observation?_include=Patient:general-practitioner",
		} {
			requireOutcome(t, ts.do("GET", q, nil), http.StatusBadRequest)
		}
	})
}

// TestSearchPaging walks the pages of searches while resources are
// written, forward by next and back by previous: every resource there all
// along is seen exactly once, in order, with no duplicate.
func TestSearchPaging(t *testing.T) { forStores(t, testSearchPaging) }

func testSearchPaging(t *testing.T) {
	ts := startServer(t, nil)
	const n = 23
	type item struct{ id, date string }
	var items []item
	bodies := map[string]string{}
	for i := 0; i < n; i++ {
		date := ""
		effective := ""
		if i%6 != 5 { // every sixth has no date: those sort last
			date = fmt.Sprintf("2020-01-%02d", i%4+1)
			effective = fmt.Sprintf(`,"effectiveDateTime":%q`, date)
		}
		id := fmt.Sprintf("page-%02d", (i*7)%n) // ids not in date order
		items = append(items, item{id, date})
		bodies[id] = fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":"final","code":{"coding":[{"system":"http://example.org","code":"paging"}]}%s}`, id, effective)
		ts.putFixture(bodies[id])
	}
	// The order _sort=date asks for: by date, missing dates last, then by id.
	sort.Slice(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if (a.date == "") != (b.date == "") {
			return b.date == ""
		}
		if a.date != b.date {
			return a.date < b.date
		}
		return a.id < b.id
	})
	var want []string
	for _, it := range items {
		want = append(want, it.id)
	}

	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"Observation?code=paging&_sort=date&_count=4", want},
		{"Observation?code=paging&_count=5", sortedIDs(want)},
	} {
		t.Run(tt.query, func(t *testing.T) {
			var got, pages []string
			seen := map[string]int{}
			next := tt.query
			for i := 0; next != ""; i++ {
				require.Less(t, i, 50, "paging does not end")
				res := ts.search(t, "GET", next, nil)
				pages = append(pages, strings.Join(res.matches, " "))
				for _, id := range res.matches {
					seen[id]++
					if !strings.HasPrefix(id, "new-") {
						got = append(got, id)
					}
				}
				// Writes between pages: new matches before and after the
				// cursor, and an update of one not yet read.
				ts.putFixture(bodies[tt.want[len(tt.want)-1]])
				ts.putFixture(fmt.Sprintf(`{"resourceType":"Observation","id":"new-%d","status":"final","code":{"coding":[{"system":"http://example.org","code":"paging"}]},"effectiveDateTime":"2020-01-0%d"}`, i, i%4+1))
				next = res.link("next")
				if i > 0 {
					assert.NotEmpty(t, res.link("previous"), "page %d", i)
				}
			}
			assert.Equal(t, tt.want, got, "every original match once, in order")
			for id, k := range seen {
				assert.Equal(t, 1, k, "%s seen %d times", id, k)
			}
		})
	}

	t.Run("previous walks back over the same pages", func(t *testing.T) {
		query := "Observation?code=paging&_sort=-date,_id&_count=6"
		var forward [][]string
		last := ""
		for next := query; next != ""; {
			res := ts.search(t, "GET", next, nil)
			forward = append(forward, res.matches)
			last = res.link("self")
			next = res.link("next")
		}
		require.Greater(t, len(forward), 2)
		res := ts.search(t, "GET", last, nil)
		var backward [][]string
		for {
			backward = append([][]string{res.matches}, backward...)
			prev := res.link("previous")
			if prev == "" {
				break
			}
			res = ts.search(t, "GET", prev, nil)
		}
		assert.Equal(t, forward, backward)
	})
}

func sortedIDs(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}
