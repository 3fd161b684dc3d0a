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
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed, err := rewriteRefs(json.RawMessage(tc.in), resolve)
			require.NoError(t, err)
			assert.Equal(t, tc.changed, changed)
			assert.Equal(t, tc.want, string(got))
		})
	}
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
