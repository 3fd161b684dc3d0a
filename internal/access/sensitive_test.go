package access

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/fhir/r4"
)

// sharedDir is ../shared as seen from this package.
const sharedDir = "../../../shared"

func TestDefaultSensitiveCodes(t *testing.T) {
	s := DefaultSensitiveCodes()
	// The concepts the access model requires by name (section 5).
	for _, code := range []string{"86406008", "165816005", "105629000", "15628003", "76272004", "52637005", "57797005", "93461009"} {
		assert.True(t, s.Contains(code), code)
	}
	assert.False(t, s.Contains("26322001"), "bleeding from ear is not sensitive")
	assert.False(t, s.Contains(""))
	assert.Equal(t, 28, s.Len())
}

func TestParseSensitiveCodes(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		want    []string
		wantErr string
	}{
		{
			name: "codes with terms, comments and blank lines",
			file: "# header\n\n86406008   # HIV infection\n  15628003\t# Gonorrhoea  \n\n",
			want: []string{"86406008", "15628003"},
		},
		{name: "too long", file: "86406008\n1000000000000010010\n", wantErr: `line 2: "1000000000000010010" is not a SNOMED CT concept id`},
		{
			name: "extension concept (partition 10)",
			file: "15927341000119106 # an extension concept\n86406008\n",
			want: []string{"15927341000119106", "86406008"},
		},
		{name: "wrong check digit", file: "86406008\n86406009 # typo\n", wantErr: `line 2: "86406009"`},
		{name: "description id, not a concept", file: "2154018\n", wantErr: `line 1: "2154018"`},
		{name: "letters", file: "8640600X\n", wantErr: `line 1: "8640600X"`},
		{name: "leading zero", file: "086406008\n", wantErr: `line 1: "086406008"`},
		{name: "too short", file: "10009\n", wantErr: `line 1: "10009"`},
		{name: "two codes on a line", file: "86406008 15628003\n", wantErr: `line 1:`},
		{name: "empty", file: "# nothing here\n\n", wantErr: "no SNOMED CT codes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSensitiveCodes(strings.NewReader(tt.file))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Nil(t, s)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, len(tt.want), s.Len())
			for _, code := range tt.want {
				assert.True(t, s.Contains(code), code)
			}
		})
	}
}

func TestLoadSensitiveCodes(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "codes.txt")
	require.NoError(t, os.WriteFile(good, []byte("26322001 # Bleeding from ear\n"), 0o600))
	s, err := LoadSensitiveCodes(good)
	require.NoError(t, err)
	assert.True(t, s.Contains("26322001"))
	assert.False(t, s.Contains("86406008"), "a replacement file replaces the default set")

	bad := filepath.Join(dir, "bad.txt")
	require.NoError(t, os.WriteFile(bad, []byte("26322002\n"), 0o600))
	_, err = LoadSensitiveCodes(bad)
	require.ErrorContains(t, err, "bad.txt: line 1")

	_, err = LoadSensitiveCodes(filepath.Join(dir, "missing.txt"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestValidConceptID(t *testing.T) {
	for _, id := range []string{"86406008", "165816005", "105629000", "15628003", "76272004", "52637005", "57797005", "93461009", "138875005", "404684003"} {
		assert.True(t, validConceptID(id), id)
	}
	for _, id := range []string{"86406007", "165816004", "1", "", "12345a78", "0000000", "900000000000012004x"} {
		assert.False(t, validConceptID(id), id)
	}
}

// resourceJSON writes a resource with the server's tags, security labels
// and top-level members given as JSON.
func resourceJSON(typ, owner, source string, security []string, members ...string) string {
	var b strings.Builder
	b.WriteString(`{"resourceType":"` + typ + `","id":"x","meta":{"versionId":"1","tag":[`)
	b.WriteString(`{"system":"` + RecordSourceSystem + `","code":"` + source + `"},`)
	b.WriteString(`{"system":"` + ODSOrganizationSystem + `","code":"` + owner + `"}]`)
	if len(security) > 0 {
		b.WriteString(`,"security":[`)
		for i, l := range security {
			system, code, _ := strings.Cut(l, "|")
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"system":"` + system + `","code":"` + code + `"}`)
		}
		b.WriteByte(']')
	}
	b.WriteString("}")
	for _, m := range members {
		b.WriteString("," + m)
	}
	b.WriteString("}")
	return b.String()
}

func snomed(code string) string {
	return `{"coding":[{"system":"http://snomed.info/sct","code":"` + code + `","display":"x"}],"text":"x"}`
}

func TestClassify(t *testing.T) {
	const conf, act = ConfidentialitySystem, ActCodeSystem
	tests := []struct {
		name  string
		typ   string
		raw   string
		codes *SensitiveCodes
		want  Labels
	}{
		{
			name: "ordinary condition",
			typ:  "Condition",
			raw:  resourceJSON("Condition", "A81001", "gp", nil, `"code":`+snomed("26322001")),
			want: Labels{Source: "gp", Owner: "A81001"},
		},
		{
			name: "confidentiality normal is not sensitive",
			typ:  "Condition",
			raw:  resourceJSON("Condition", "A81001", "gp", []string{conf + "|N"}),
			want: Labels{Source: "gp", Owner: "A81001", SecurityLabels: []string{conf + "|N"}},
		},
		{
			name: "confidentiality restricted",
			typ:  "Observation",
			raw:  resourceJSON("Observation", "RXH01", "hospital", []string{conf + "|R"}),
			want: Labels{Source: "hospital", Owner: "RXH01", Sensitive: true, SecurityLabels: []string{conf + "|R"}},
		},
		{
			name: "confidentiality very restricted",
			typ:  "Observation",
			raw:  resourceJSON("Observation", "RXH01", "hospital", []string{conf + "|V"}),
			want: Labels{Source: "hospital", Owner: "RXH01", Sensitive: true, SecurityLabels: []string{conf + "|V"}},
		},
		{
			name: "every ActCode sensitivity of the access model",
			typ:  "Condition",
			raw:  resourceJSON("Condition", "V12345", "social-care", []string{act + "|HIV", act + "|PSY", act + "|SDV", act + "|ETH", act + "|STD", act + "|SEX"}),
			want: Labels{Source: "social-care", Owner: "V12345", Sensitive: true,
				SecurityLabels: []string{act + "|HIV", act + "|PSY", act + "|SDV", act + "|ETH", act + "|STD", act + "|SEX"}},
		},
	}
	for _, label := range []string{"HIV", "PSY", "SDV", "ETH", "STD", "SEX"} {
		tests = append(tests, struct {
			name  string
			typ   string
			raw   string
			codes *SensitiveCodes
			want  Labels
		}{
			name: "ActCode " + label,
			typ:  "Procedure",
			raw:  resourceJSON("Procedure", "A81001", "gp", []string{act + "|" + label}),
			want: Labels{Source: "gp", Owner: "A81001", Sensitive: true, SecurityLabels: []string{act + "|" + label}},
		})
	}
	tests = append(tests, []struct {
		name  string
		typ   string
		raw   string
		codes *SensitiveCodes
		want  Labels
	}{
		{
			name: "other ActCode labels are not sensitive",
			typ:  "Condition",
			raw:  resourceJSON("Condition", "A81001", "gp", []string{act + "|TBOO"}),
			want: Labels{Source: "gp", Owner: "A81001", SecurityLabels: []string{act + "|TBOO"}},
		},
		{
			name: "R under another system is not the confidentiality R",
			typ:  "Condition",
			raw:  resourceJSON("Condition", "A81001", "gp", []string{"http://example.org/labels|R"}),
			want: Labels{Source: "gp", Owner: "A81001", SecurityLabels: []string{"http://example.org/labels|R"}},
		},
		{
			name: "older system names are recognised and reported in the current form",
			typ:  "Condition",
			raw:  resourceJSON("Condition", "A81001", "gp", []string{"http://hl7.org/fhir/v3/Confidentiality|R", "urn:oid:2.16.840.1.113883.5.4|STD"}),
			want: Labels{Source: "gp", Owner: "A81001", Sensitive: true, SecurityLabels: []string{conf + "|R", act + "|STD"}},
		},
		{
			name: "sensitive code",
			typ:  "Condition",
			raw:  resourceJSON("Condition", "A81001", "gp", nil, `"code":`+snomed("86406008")),
			want: Labels{Source: "gp", Owner: "A81001", Sensitive: true, MatchedCodes: []string{"86406008"}},
		},
		{
			name: "sensitive code among others in one concept",
			typ:  "Condition",
			raw: resourceJSON("Condition", "A81001", "gp", nil,
				`"code":{"coding":[{"system":"http://example.org/local","code":"X1"},{"system":"http://snomed.info/sct","code":"76272004"}]}`),
			want: Labels{Source: "gp", Owner: "A81001", Sensitive: true, MatchedCodes: []string{"76272004"}},
		},
		{
			name: "the same digits in another code system",
			typ:  "Observation",
			raw:  resourceJSON("Observation", "A81001", "gp", nil, `"code":{"coding":[{"system":"http://loinc.org","code":"86406008"}]}`),
			want: Labels{Source: "gp", Owner: "A81001"},
		},
		{
			name: "SNOMED CT by OID",
			typ:  "Observation",
			raw:  resourceJSON("Observation", "A81001", "gp", nil, `"code":{"coding":[{"system":"urn:oid:2.16.840.1.113883.6.96","code":"86406008"}]}`),
			want: Labels{Source: "gp", Owner: "A81001", Sensitive: true, MatchedCodes: []string{"86406008"}},
		},
		{
			name: "vaccineCode",
			typ:  "Immunization",
			raw:  resourceJSON("Immunization", "A81001", "gp", nil, `"vaccineCode":`+snomed("52637005")),
			want: Labels{Source: "gp", Owner: "A81001", Sensitive: true, MatchedCodes: []string{"52637005"}},
		},
		{
			name: "medicationCodeableConcept",
			typ:  "MedicationRequest",
			raw:  resourceJSON("MedicationRequest", "A81001", "gp", nil, `"medicationCodeableConcept":`+snomed("57797005")),
			want: Labels{Source: "gp", Owner: "A81001", Sensitive: true, MatchedCodes: []string{"57797005"}},
		},
		{
			name: "second reasonCode",
			typ:  "Encounter",
			raw:  resourceJSON("Encounter", "A81001", "gp", nil, `"reasonCode":[`+snomed("26322001")+`,`+snomed("93461009")+`]`),
			want: Labels{Source: "gp", Owner: "A81001", Sensitive: true, MatchedCodes: []string{"93461009"}},
		},
		{
			name: "a list of Codings",
			typ:  "Observation",
			raw:  resourceJSON("Observation", "A81001", "gp", nil, `"code":[{"system":"http://snomed.info/sct","code":"15628003"}]`),
			want: Labels{Source: "gp", Owner: "A81001", Sensitive: true, MatchedCodes: []string{"15628003"}},
		},
		{
			name: "codes below the top level are not read",
			typ:  "Observation",
			raw: resourceJSON("Observation", "A81001", "gp", nil, `"code":`+snomed("26322001"),
				`"component":[{"code":`+snomed("86406008")+`}]`, `"valueCodeableConcept":`+snomed("86406008")),
			want: Labels{Source: "gp", Owner: "A81001"},
		},
		{
			name: "codes of non-patient resources are not read",
			typ:  "Medication",
			raw:  resourceJSON("Medication", "RXH01", "hospital", nil, `"code":`+snomed("86406008")),
			want: Labels{Source: "hospital", Owner: "RXH01"},
		},
		{
			name: "labels of non-patient resources are",
			typ:  "Medication",
			raw:  resourceJSON("Medication", "RXH01", "hospital", []string{conf + "|R"}),
			want: Labels{Source: "hospital", Owner: "RXH01", Sensitive: true, SecurityLabels: []string{conf + "|R"}},
		},
		{
			name: "escaped member name and code",
			typ:  "Condition",
			raw:  resourceJSON("Condition", "A81001", "gp", nil, `"co\u0064e":{"coding":[{"system":"http:\/\/snomed.info\/sct","code":"8640600\u0038"}]}`),
			want: Labels{Source: "gp", Owner: "A81001", Sensitive: true, MatchedCodes: []string{"86406008"}},
		},
		{
			name: "pretty-printed",
			typ:  "Condition",
			raw: "{\n  \"resourceType\" : \"Condition\",\n  \"meta\" : {\n    \"tag\" : [ { \"system\" : \"" + ODSOrganizationSystem + "\", \"code\" : \"A81001\" } ]\n  },\n" +
				"  \"code\" : {\n    \"coding\" : [ {\n      \"system\" : \"http://snomed.info/sct\",\n      \"code\" : \"105629000\"\n    } ]\n  }\n}\n",
			want: Labels{Owner: "A81001", Sensitive: true, MatchedCodes: []string{"105629000"}},
		},
		{
			name:  "replacement code set",
			typ:   "Condition",
			raw:   resourceJSON("Condition", "A81001", "gp", nil, `"code":`+snomed("26322001")),
			codes: mustCodes(t, "26322001"),
			want:  Labels{Source: "gp", Owner: "A81001", Sensitive: true, MatchedCodes: []string{"26322001"}},
		},
		{
			name:  "replacement code set without the default codes",
			typ:   "Condition",
			raw:   resourceJSON("Condition", "A81001", "gp", nil, `"code":`+snomed("86406008")),
			codes: mustCodes(t, "26322001"),
			want:  Labels{Source: "gp", Owner: "A81001"},
		},
		{
			name: "no meta",
			typ:  "Condition",
			raw:  `{"resourceType":"Condition","code":` + snomed("26322001") + `}`,
			want: Labels{},
		},
		{
			name: "truncated JSON fails closed",
			typ:  "Condition",
			raw:  strings.TrimSuffix(resourceJSON("Condition", "A81001", "gp", nil, `"code":`+snomed("26322001")), "}"),
			want: Labels{Source: "gp", Owner: "A81001", Sensitive: true},
		},
		{
			name: "JSON cut inside meta fails closed",
			typ:  "Condition",
			raw:  resourceJSON("Condition", "A81001", "gp", nil)[:60],
			want: Labels{Sensitive: true},
		},
		{
			name: "not an object",
			typ:  "Condition",
			raw:  `["Condition"]`,
			want: Labels{Sensitive: true},
		},
		{
			name: "meta of the wrong shape fails closed",
			typ:  "Condition",
			raw:  `{"resourceType":"Condition","meta":{"security":{"system":"x","code":"y"}}}`,
			want: Labels{Sensitive: true},
		},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Classify(tt.typ, []byte(tt.raw), tt.codes)
			assert.Equal(t, tt.want, got)
		})
	}
}

func mustCodes(t *testing.T, codes ...string) *SensitiveCodes {
	t.Helper()
	s, err := ParseSensitiveCodes(strings.NewReader(strings.Join(codes, "\n")))
	require.NoError(t, err)
	return s
}

// referenceSensitive is a slow, obviously correct reading of the
// sensitive-item rule with encoding/json, for the fuzz target to compare
// Classify with.
func referenceSensitive(typ string, raw []byte, codes *SensitiveCodes) bool {
	var doc map[string]any
	if json.Unmarshal(raw, &doc) != nil {
		return true
	}
	// objects returns v's objects: v itself or the items of a list.
	objects := func(v any) []map[string]any {
		items, ok := v.([]any)
		if !ok {
			items = []any{v}
		}
		var out []map[string]any
		for _, item := range items {
			if obj, ok := item.(map[string]any); ok {
				out = append(out, obj)
			}
		}
		return out
	}
	// codings returns the Codings of a CodeableConcept, a Coding, or a
	// list of either.
	codings := func(v any) []map[string]any {
		var out []map[string]any
		for _, obj := range objects(v) {
			out = append(out, obj)
			out = append(out, objects(obj["coding"])...)
		}
		return out
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	if meta, ok := doc["meta"].(map[string]any); ok {
		for _, l := range objects(meta["security"]) {
			if sensitiveLabels[canonicalSystem(str(l, "system"))+"|"+str(l, "code")] {
				return true
			}
		}
	}
	if !r4.InPatientCompartment(typ) {
		return false
	}
	for _, element := range []string{"code", "vaccineCode", "medicationCodeableConcept", "reasonCode"} {
		for _, c := range codings(doc[element]) {
			if canonicalSystem(str(c, "system")) == SNOMEDSystem && codes.Contains(str(c, "code")) {
				return true
			}
		}
	}
	return false
}

// FuzzClassify checks that Classify never panics, and that on valid JSON it
// never finds a resource less sensitive than the reference reading does.
func FuzzClassify(f *testing.F) {
	f.Add("Condition", []byte(resourceJSON("Condition", "A81001", "gp", nil, `"code":`+snomed("86406008"))))
	f.Add("Observation", []byte(resourceJSON("Observation", "RXH01", "hospital", []string{ConfidentialitySystem + "|R"})))
	f.Add("Encounter", []byte(resourceJSON("Encounter", "A81001", "gp", nil, `"reasonCode":[`+snomed("93461009")+`]`)))
	f.Add("Medication", []byte(`{"resourceType":"Medication","code":{"coding":[{"system":"http://snomed.info/sct","code":"86406008"}]}}`))
	f.Add("Condition", []byte(`{"meta":{"tag":[{"code":1}]},"code":[1,"a",{"coding":{}}]}`))
	codes := DefaultSensitiveCodes()
	f.Fuzz(func(t *testing.T, typ string, raw []byte) {
		got := Classify(typ, raw, codes)
		if !json.Valid(raw) {
			return
		}
		if referenceSensitive(typ, raw, codes) {
			require.True(t, got.Sensitive, "Classify missed a sensitive item")
		}
	})
}

// BenchmarkClassify measures Classify on UK Core examples as the server
// stores them (with its meta tags).
func BenchmarkClassify(b *testing.B) {
	for _, name := range []string{
		"UKCore-Condition-BleedingFromEar-Example",
		"UKCore-Encounter-InpatientEncounter-Example",
		"UKCore-Patient-RichardSmith-Example",
	} {
		raw, err := os.ReadFile(filepath.Join(sharedDir, "fhir/ukcore-examples/json", name+".json"))
		require.NoError(b, err)
		typ, id, err := fhir.Peek(raw)
		require.NoError(b, err)
		raw, err = fhir.Stamp(raw, id, 1, time.Now(), []fhir.Coding{
			{System: RecordSourceSystem, Code: RecordSourceGP},
			{System: ODSOrganizationSystem, Code: "A81001"},
		})
		require.NoError(b, err)
		codes := DefaultSensitiveCodes()
		b.Run(typ, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if l := Classify(typ, raw, codes); l.Owner != "A81001" || l.Sensitive {
					b.Fatalf("unexpected labels %+v", l)
				}
			}
		})
	}
}

// TestClassifyUKCoreExamples reads every UK Core example: none is
// sensitive, and all are well-formed.
func TestClassifyUKCoreExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(sharedDir, "fhir/ukcore-examples/json/*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "the UK Core examples are missing")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		typ, _, err := fhir.Peek(raw)
		require.NoError(t, err)
		l := Classify(typ, raw, nil)
		assert.Equal(t, referenceSensitive(typ, raw, DefaultSensitiveCodes()), l.Sensitive, filepath.Base(f))
		assert.False(t, slices.Contains(l.SecurityLabels, ConfidentialitySystem+"|R"), filepath.Base(f))
	}
}
