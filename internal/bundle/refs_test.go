package bundle

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReferenceKinds(t *testing.T) {
	for _, tc := range []struct {
		ref                      string
		placeholder, conditional bool
	}{
		{"urn:uuid:1c0e3f5a-0000-4000-8000-000000000000", true, false},
		{"urn:oid:1.2.3", true, false},
		{"Patient/123", false, false},
		{"#contained", false, false},
		{"http://example.org/fhir/Patient/1", false, false},
		{"Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009", false, true},
		{"Patient/1?x=y", false, false},
	} {
		assert.Equal(t, tc.placeholder, placeholder(tc.ref), tc.ref)
		assert.Equal(t, tc.conditional, conditionalRef(tc.ref), tc.ref)
	}
}

func TestRewriteRefs(t *testing.T) {
	to := map[string]string{"urn:uuid:a": "Patient/1", "urn:uuid:b": "Practitioner/2"}
	resolve := func(ref string) (string, bool, error) {
		v, ok := to[ref]
		return v, ok, nil
	}
	for _, tc := range []struct {
		name, in, want string
		changed        bool
	}{
		{"top level", `{"subject":{"reference":"urn:uuid:a"},"status":"final"}`,
			`{"subject":{"reference":"Patient/1"},"status":"final"}`, true},
		{"in arrays, extensions and contained resources",
			`{"contained":[{"resourceType":"Provenance","agent":[{"who":{"reference":"urn:uuid:b"}}]}],` +
				`"extension":[{"url":"u","valueReference":{"reference":"urn:uuid:a"}}],"value":1.50}`,
			`{"contained":[{"resourceType":"Provenance","agent":[{"who":{"reference":"Practitioner/2"}}]}],` +
				`"extension":[{"url":"u","valueReference":{"reference":"Patient/1"}}],"value":1.50}`, true},
		{"untouched bytes stay as they were", `{"subject": {"reference": "Patient/9"},  "n": 1.0}`,
			`{"subject": {"reference": "Patient/9"},  "n": 1.0}`, false},
		{"a reference member that is not a string is walked", `{"reference":{"reference":"urn:uuid:a"}}`,
			`{"reference":{"reference":"Patient/1"}}`, true},
		{"white space around a replaced reference stays", "{ \"a\" : [ { \"reference\" :\n \"urn:uuid:b\" } ] }",
			"{ \"a\" : [ { \"reference\" :\n \"Practitioner/2\" } ] }", true},
		{"a key spelt with escapes", `{"\u0072eference":"urn:uuid:a"}`, `{"\u0072eference":"Patient/1"}`, true},
		{"a value spelt with escapes", `{"reference":"urn:uuid\u003aa"}`, `{"reference":"Patient/1"}`, true},
		{"a string that says reference is no member", `{"type":"reference","x":["reference"]}`,
			`{"type":"reference","x":["reference"]}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed, err := rewriteRefs(json.RawMessage(tc.in), resolve)
			require.NoError(t, err)
			assert.Equal(t, tc.changed, changed)
			assert.Equal(t, tc.want, string(got))
		})
	}
}

func TestRewriteRefsRejectsBrokenJSON(t *testing.T) {
	resolve := func(string) (string, bool, error) { return "Patient/1", true, nil }
	for _, in := range []string{
		`{"reference":"urn:uuid:a"`, `{"reference":"urn:uuid:a}`, `{"a":[{"reference":"x"},}`,
		`{"reference" "x"}`, `{"reference":"x"} {}`, `[{"reference":"x"}`, `{"reference":"x",}`,
	} {
		_, _, err := rewriteRefs(json.RawMessage(in), resolve)
		assert.Error(t, err, in)
	}
}

// FuzzRewriteRefs checks the splicing rewriter against a decode of the
// document: for valid JSON, the output decodes to the input's value with
// every string "reference" member replaced, and nothing else changed.
func FuzzRewriteRefs(f *testing.F) {
	for _, s := range []string{
		`{"subject":{"reference":"urn:uuid:a"},"status":"final"}`,
		`{"contained":[{"resourceType":"Provenance","agent":[{"who":{"reference":"urn:uuid:b"}}]}]}`,
		`{"\u0072eference":"x","reference":{"reference":"y"}}`, `{"reference":1,"a":[[],{}],"b":null}`,
		`{ "reference" : "z" , "n" : -1.5e3 }`,
	} {
		f.Add(s)
	}
	resolve := func(ref string) (string, bool, error) { return "Patient/" + ref, true, nil }
	f.Fuzz(func(t *testing.T, in string) {
		out, _, err := rewriteRefs(json.RawMessage(in), resolve)
		var want any
		if json.Unmarshal([]byte(in), &want) != nil {
			return // any error or output will do; it must not panic
		}
		require.NoError(t, err, in)
		var got any
		require.NoError(t, json.Unmarshal(out, &got), string(out))
		require.Equal(t, replaceRefs(want), got, in)
	})
}

// replaceRefs is the rewrite of FuzzRewriteRefs on a decoded document.
func replaceRefs(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "reference" {
				v[k] = "Patient/" + s
			} else {
				v[k] = replaceRefs(x)
			}
		}
	case []any:
		for i, x := range v {
			v[i] = replaceRefs(x)
		}
	}
	return v
}

func TestAbsolute(t *testing.T) {
	for u, want := range map[string][2]string{
		"http://example.org/fhir/Patient/abc":           {"http://example.org/fhir", "Patient/abc"},
		"https://x.nhs.uk/Patient/1/_history/2":         {"https://x.nhs.uk", "Patient/1"},
		"http://example.org/fhir/NotAType/abc":          {},
		"http://example.org/fhir/Patient/bad id":        {},
		"urn:uuid:5b1e4a6c-0d63-4d0e-9a3c-6f0e1d2c3b4a": {},
		"Patient/abc":        {},
		"http://Patient/abc": {},
		"http://example.org/fhir/Patient?identifier=x|1": {},
	} {
		base, ref, ok := absolute(u)
		require.Equal(t, want[0] != "", ok, u)
		require.Equal(t, want[0], base, u)
		require.Equal(t, want[1], ref, u)
	}
}
