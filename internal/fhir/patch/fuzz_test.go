package patch

import (
	"encoding/json"
	"testing"

	"github.com/sharedcare/sharedcare/internal/fhir"
)

// The seed corpora are in testdata/fuzz; go test runs them as tests.

func FuzzJSONPatch(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw, patch []byte) {
		out, err := JSONPatch(raw, patch)
		checkResult(t, raw, out, err)
	})
}

func FuzzFHIRPathPatch(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw, params []byte) {
		out, err := FHIRPathPatch(raw, params)
		checkResult(t, raw, out, err)
		if err == nil {
			before, _, _ := fhir.Peek(raw)
			after, _, _ := fhir.Peek(out)
			if before != after {
				t.Fatalf("resourceType changed from %q to %q", before, after)
			}
		}
	})
}

// checkResult checks what both patch functions promise: a JSON object, a
// client error of one of the two patch kinds, or an internal error only for
// a stored resource that is not a JSON object.
func checkResult(t *testing.T, raw, out []byte, err error) {
	t.Helper()
	switch kind := fhir.KindOf(err); {
	case err == nil:
		var obj map[string]json.RawMessage
		if json.Unmarshal(out, &obj) != nil {
			t.Fatalf("result is not a JSON object: %s", out)
		}
	case kind == fhir.KindInternal:
		if checkResource(raw) == nil {
			t.Fatalf("internal error for a valid resource: %v", err)
		}
	case kind != fhir.KindInvalid && kind != fhir.KindUnprocessable:
		t.Fatalf("error of kind %d: %v", kind, err)
	}
}
