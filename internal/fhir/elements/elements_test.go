package elements

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/fhir"
)

const subsetted = `{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED"}`

const patient = `{"resourceType":"Patient","id":"p1","meta":{"versionId":"2","lastUpdated":"2024-01-01T00:00:00.000Z"},` +
	`"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Jo &amp; co</div>"},` +
	`"contained":[{"resourceType":"Organization","id":"o","name":"Org"}],` +
	`"extension":[{"url":"http://x","valueString":"e"}],` +
	`"identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9912003888","extension":[{"url":"http://y","valueCode":"c"}]}],` +
	`"active":true,"name":[{"family":"Smith & Sons","given":["Jo","Al"],"_given":[{"extension":[{"url":"http://z","valueCode":"c"}]},{"id":"g2"}]}],` +
	`"gender":"female","_gender":{"extension":[{"url":"http://g","valueCode":"x"}]},"birthDate":"1970-01-01",` +
	`"maritalStatus":{"text":"M"},"contact":[{"name":{"family":"Kin"}}],` +
	`"managingOrganization":{"reference":"#o"},"link":[{"other":{"reference":"Patient/p2"},"type":"seealso"}]}`

func TestSummary(t *testing.T) {
	cases := []struct {
		mode, in, want string
	}{
		{"true", patient, `{"resourceType":"Patient","id":"p1","meta":{"versionId":"2","lastUpdated":"2024-01-01T00:00:00.000Z","tag":[` + subsetted + `]},` +
			`"identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9912003888"}],` +
			`"active":true,"name":[{"family":"Smith & Sons","given":["Jo","Al"]}],` +
			`"gender":"female","birthDate":"1970-01-01",` +
			`"managingOrganization":{"reference":"#o"},"link":[{"other":{"reference":"Patient/p2"},"type":"seealso"}]}`},
		{"text", patient, `{"resourceType":"Patient","id":"p1","meta":{"versionId":"2","lastUpdated":"2024-01-01T00:00:00.000Z","tag":[` + subsetted + `]},` +
			`"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Jo &amp; co</div>"}}`},
		{"text", `{"resourceType":"Observation","id":"o","status":"final","_status":{"id":"s"},"code":{"text":"BP"},"valueString":"x","text":{"status":"empty","div":"<div/>"}}`,
			`{"resourceType":"Observation","id":"o","meta":{"tag":[` + subsetted + `]},"status":"final","_status":{"id":"s"},"code":{"text":"BP"},"text":{"status":"empty","div":"<div/>"}}`},
		{"data", `{"resourceType":"Patient","text":{"status":"empty","div":"<div/>"},"meta":{"tag":[{"system":"s","code":"c"}]},"gender":"male"}`,
			`{"resourceType":"Patient","meta":{"tag":[{"system":"s","code":"c"},` + subsetted + `]},"gender":"male"}`},
		{"true", `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},` +
			`"component":[{"code":{"text":"sys"},"valueQuantity":{"value":120,"extension":[{"url":"http://q","valueString":"x"}]},"interpretation":[{"text":"H"}]}],"note":[{"text":"n"}]}`,
			`{"resourceType":"Observation","meta":{"tag":[` + subsetted + `]},"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},` +
				`"component":[{"code":{"text":"sys"},"valueQuantity":{"value":120}}]}`},
		{"true", `{"resourceType":"Bundle","type":"searchset","meta":{"tag":[` + subsetted + `]},"entry":[{"fullUrl":"urn:x","resource":{"resourceType":"Patient","gender":"male","maritalStatus":{"text":"M"}}}]}`,
			`{"resourceType":"Bundle","type":"searchset","meta":{"tag":[` + subsetted + `]},"entry":[{"fullUrl":"urn:x","resource":{"resourceType":"Patient","gender":"male"}}]}`},
		{"true", `{"resourceType":"Patient","identifier":[{"extension":[{"url":"http://x","valueString":"only"}]}],"name":[{"_family":{"extension":[{"url":"http://x","valueString":"y"}]}}]}`,
			`{"resourceType":"Patient","meta":{"tag":[` + subsetted + `]}}`},
		{"true", `{"resourceType":"Patient","modifierExtension":[{"url":"http://x","valueBoolean":true}],"contact":[{"modifierExtension":[{"url":"http://m","valueCode":"c"}]}],` +
			`"link":[{"modifierExtension":[{"url":"http://m","valueCode":"c"}],"other":{"reference":"Patient/2"},"type":"refer"}]}`,
			`{"resourceType":"Patient","meta":{"tag":[` + subsetted + `]},"modifierExtension":[{"url":"http://x","valueBoolean":true}],` +
				`"link":[{"modifierExtension":[{"url":"http://m","valueCode":"c"}],"other":{"reference":"Patient/2"},"type":"refer"}]}`},
		{"true", `{"resourceType":"Questionnaire","status":"draft","item":[{"linkId":"1","type":"group","text":"t"}]}`,
			`{"resourceType":"Questionnaire","meta":{"tag":[` + subsetted + `]},"status":"draft"}`},
		{"false", patient, patient},
	}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			got, err := Summary([]byte(c.in), c.mode)
			require.NoError(t, err)
			assert.JSONEq(t, c.want, string(got))
			assert.Equal(t, c.want, string(got), "member order and bytes are kept")
		})
	}
}

func TestSummaryErrors(t *testing.T) {
	for _, mode := range []string{"count", "TRUE", ""} {
		_, err := Summary([]byte(patient), mode)
		require.Error(t, err)
		assert.Equal(t, fhir.KindInvalid, fhir.KindOf(err), mode)
	}
	for _, raw := range []string{`[]`, `{"resourceType":"Nope"}`, `{"resourceType":1}`, `{`} {
		_, err := Summary([]byte(raw), "true")
		assert.Error(t, err, raw)
		_, err = Elements([]byte(raw), []string{"name"})
		assert.Error(t, err, raw)
	}
}

func TestElements(t *testing.T) {
	const obs = `{"resourceType":"Observation","id":"o","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/1"},` +
		`"effectiveDateTime":"2024","_effectiveDateTime":{"id":"e"},"valueQuantity":{"value":1},"note":[{"text":"n"}]}`
	cases := []struct {
		name     string
		in       string
		elements []string
		want     string
	}{
		{"listed and mandatory", obs, []string{"subject"},
			`{"resourceType":"Observation","id":"o","meta":{"tag":[` + subsetted + `]},"status":"final","code":{"text":"x"},"subject":{"reference":"Patient/1"}}`},
		{"choice by base name", obs, []string{"effective", "value[x]"},
			`{"resourceType":"Observation","id":"o","meta":{"tag":[` + subsetted + `]},"status":"final","code":{"text":"x"},"effectiveDateTime":"2024","_effectiveDateTime":{"id":"e"},"valueQuantity":{"value":1}}`},
		{"choice by type", obs, []string{"valueQuantity", "valueString"},
			`{"resourceType":"Observation","id":"o","meta":{"tag":[` + subsetted + `]},"status":"final","code":{"text":"x"},"valueQuantity":{"value":1}}`},
		{"type prefix and deeper path", obs, []string{"Observation.note.text", "Patient.subject", " effective "},
			`{"resourceType":"Observation","id":"o","meta":{"tag":[` + subsetted + `]},"status":"final","code":{"text":"x"},"effectiveDateTime":"2024","_effectiveDateTime":{"id":"e"},"note":[{"text":"n"}]}`},
		{"unknown names ignored", obs, []string{"nope", ""},
			`{"resourceType":"Observation","id":"o","meta":{"tag":[` + subsetted + `]},"status":"final","code":{"text":"x"}}`},
		{"existing tags kept", `{"resourceType":"Patient","meta":{"versionId":"1","tag":[{"system":"s","code":"c"}]},"text":{"status":"empty","div":"<div/>"},"gender":"male","name":[{"family":"F"}]}`, []string{"name"},
			`{"resourceType":"Patient","meta":{"versionId":"1","tag":[{"system":"s","code":"c"},` + subsetted + `]},"name":[{"family":"F"}]}`},
		{"already subsetted", `{"resourceType":"Patient","meta":{"tag":[` + subsetted + `]},"gender":"male"}`, []string{"gender"},
			`{"resourceType":"Patient","meta":{"tag":[` + subsetted + `]},"gender":"male"}`},
		{"meta after id", `{"id":"x","resourceType":"Patient","gender":"male"}`, nil,
			`{"id":"x","resourceType":"Patient","meta":{"tag":[` + subsetted + `]}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Elements([]byte(c.in), c.elements)
			require.NoError(t, err)
			assert.Equal(t, c.want, string(got))
		})
	}
}

// TestSummaryOfExamples runs every UK Core example through each view and
// checks that the result is a JSON object with the SUBSETTED tag that kept
// resourceType and id.
func TestSummaryOfExamples(t *testing.T) {
	files, err := filepath.Glob("../../../../shared/fhir/ukcore-examples/json/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files, "the UK Core examples are missing")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		var in struct {
			ResourceType, ID string
		}
		require.NoError(t, json.Unmarshal(raw, &in))
		for _, mode := range []string{"true", "text", "data"} {
			out, err := Summary(raw, mode)
			require.NoError(t, err, f)
			var got struct {
				ResourceType, ID string
				Meta             struct{ Tag []fhir.Coding }
			}
			require.NoError(t, json.Unmarshal(out, &got), f)
			assert.Equal(t, in.ResourceType, got.ResourceType)
			assert.Equal(t, in.ID, got.ID)
			assert.Contains(t, got.Meta.Tag, Subsetted, f)
		}
	}
}

func BenchmarkSummary(b *testing.B) {
	raw, err := os.ReadFile("../../../../shared/fhir/ukcore-examples/json/UKCore-Patient-RichardSmith-Example.json")
	require.NoError(b, err)
	var compact bytes.Buffer
	require.NoError(b, json.Compact(&compact, raw))
	for _, mode := range []string{"true", "text", "data"} {
		b.Run(mode, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Summary(compact.Bytes(), mode); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("elements", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Elements(compact.Bytes(), []string{"name", "birthDate"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestSplitMalformed(t *testing.T) {
	for _, raw := range []string{``, `{`, `{"a"`, `{"a":`, `{"a":1`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `{"a":"x}`, `{"a":[1,}`,
		`{"a":{"b":1}`, `{"a":1}}`, `[1]`, `"x"`, `{"a":"\"}`, `{"a":,"b":1}`} {
		_, err := object([]byte(raw))
		assert.Error(t, err, raw)
	}
	for _, raw := range []string{`[`, `[1,`, `[1 2]`, `{}`, `[,]`} {
		_, ok := array([]byte(raw))
		assert.False(t, ok, raw)
	}
	members, err := object([]byte(` { "a" : [1, {"b":"}]"}] , "c\u0064" : "x\"y" , "e":null} `))
	require.NoError(t, err)
	assert.Equal(t, []fhir.Member{{Key: "a", Value: []byte(`[1, {"b":"}]"}]`)}, {Key: "cd", Value: []byte(`"x\"y"`)}, {Key: "e", Value: []byte(`null`)}}, members)
}

// FuzzSummary holds the views to never panicking and to producing JSON.
func FuzzSummary(f *testing.F) {
	f.Add([]byte(patient), "true")
	f.Add([]byte(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","meta":{"tag":[]}}}]}`), "text")
	f.Add([]byte(`{"resourceType":"Observation","meta":{"tag":{}},"component":[{"code":{}}]}`), "data")
	f.Fuzz(func(t *testing.T, raw []byte, mode string) {
		for _, view := range []func() ([]byte, error){
			func() ([]byte, error) { return Summary(raw, mode) },
			func() ([]byte, error) { return Elements(raw, []string{mode}) },
		} {
			out, err := view()
			if err == nil && mode != "false" && !json.Valid(out) {
				t.Fatalf("invalid output %q", out)
			}
		}
	})
}
