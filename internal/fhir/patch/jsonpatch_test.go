package patch

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/fhir"
)

const patient = `{"resourceType":"Patient","id":"p1","text":{"status":"generated","div":"<div>\u00e9 &amp; <b>x</b></div>"},` +
	`"active":true,"name":[{"family":"Chalmers","given":["Peter","James"]}],"multipleBirthInteger":2.0e0,"birthDate":"1974-12-25"}`

func TestJSONPatch(t *testing.T) {
	tests := []struct {
		name  string
		raw   string
		patch string
		want  string
	}{
		{"replace keeps order and untouched bytes", patient,
			`[{"op":"replace","path":"/active","value":false}]`,
			`{"resourceType":"Patient","id":"p1","text":{"status":"generated","div":"<div>\u00e9 &amp; <b>x</b></div>"},` +
				`"active":false,"name":[{"family":"Chalmers","given":["Peter","James"]}],"multipleBirthInteger":2.0e0,"birthDate":"1974-12-25"}`},
		{"add appends a new member", `{"resourceType":"Patient","id":"p1"}`,
			`[{"op":"add","path":"/gender","value":"male"}]`,
			`{"resourceType":"Patient","id":"p1","gender":"male"}`},
		{"add to an array, by index and at the end", `{"resourceType":"Patient","name":[{"given":["A"]}]}`,
			`[{"op":"add","path":"/name/0/given/0","value":"Z"},{"op":"add","path":"/name/0/given/-","value":"B"}]`,
			`{"resourceType":"Patient","name":[{"given":["Z","A","B"]}]}`},
		{"remove", `{"resourceType":"Patient","active":true,"gender":"male"}`,
			`[{"op":"remove","path":"/active"}]`,
			`{"resourceType":"Patient","gender":"male"}`},
		{"move and copy", `{"resourceType":"Patient","name":[{"given":["A","B"]}]}`,
			`[{"op":"move","from":"/name/0/given/1","path":"/name/0/given/0"},{"op":"copy","from":"/name/0","path":"/name/1"}]`,
			`{"resourceType":"Patient","name":[{"given":["B","A"]},{"given":["B","A"]}]}`},
		{"a passing test", `{"resourceType":"Patient","id":"p1","name":[{"family":"X"}]}`,
			`[{"op":"test","path":"/name/0","value":{"family":"X"}},{"op":"remove","path":"/name"}]`,
			`{"resourceType":"Patient","id":"p1"}`},
		{"escaped pointer tokens", `{"resourceType":"Basic","a/b":1,"c~d":2}`,
			`[{"op":"remove","path":"/a~1b"},{"op":"replace","path":"/c~0d","value":3}]`,
			`{"resourceType":"Basic","c~d":3}`},
		{"whitespace of the stored resource goes", "{\n  \"resourceType\": \"Patient\",\n  \"active\": true\n}",
			`[]`,
			`{"resourceType":"Patient","active":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := JSONPatch([]byte(tt.raw), []byte(tt.patch))
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
		})
	}
}

func TestJSONPatchErrors(t *testing.T) {
	tests := []struct {
		name  string
		patch string
		kind  fhir.Kind
		code  string
		diag  string
	}{
		{"not JSON", `[{`, fhir.KindInvalid, "structure", "not JSON"},
		{"operation a number", `[{"op":"remove","path":"/active"},1]`, fhir.KindInvalid, "invalid", "operation 1: must be a JSON object"},
		{"not an array", `{"op":"remove","path":"/active"}`, fhir.KindInvalid, "structure", "JSON array"},
		{"null", `null`, fhir.KindInvalid, "structure", "JSON array"},
		{"operation not an object", `[null]`, fhir.KindInvalid, "invalid", "operation 0: must be a JSON object"},
		{"unknown op", `[{"op":"remove","path":"/active"},{"op":"delete","path":"/active"}]`, fhir.KindInvalid, "invalid", `operation 1: unknown op "delete"`},
		{"op not a string", `[{"op":1,"path":"/active"}]`, fhir.KindInvalid, "invalid", `"op" must be a string`},
		{"no path", `[{"op":"remove"}]`, fhir.KindInvalid, "invalid", `"path" must be a string`},
		{"null path", `[{"op":"remove","path":null}]`, fhir.KindInvalid, "invalid", `"path" must be a string`},
		{"path without slash", `[{"op":"remove","path":"active"}]`, fhir.KindInvalid, "invalid", "must start with /"},
		{"bad escape", `[{"op":"remove","path":"/a~2"}]`, fhir.KindInvalid, "invalid", "~ must be followed by 0 or 1"},
		{"add without value", `[{"op":"add","path":"/gender"}]`, fhir.KindInvalid, "invalid", `add needs "value"`},
		{"test without value", `[{"op":"test","path":"/active"}]`, fhir.KindInvalid, "invalid", `test needs "value"`},
		{"move without from", `[{"op":"move","path":"/active"}]`, fhir.KindInvalid, "invalid", `move needs "from"`},
		{"from not a string", `[{"op":"copy","from":1,"path":"/active"}]`, fhir.KindInvalid, "invalid", `"from" must be a string`},

		{"remove a missing member", `[{"op":"test","path":"/active","value":true},{"op":"remove","path":"/gender"}]`,
			fhir.KindUnprocessable, "processing", "operation 1 (remove /gender)"},
		{"replace a missing member", `[{"op":"replace","path":"/gender","value":"male"}]`,
			fhir.KindUnprocessable, "processing", "operation 0 (replace /gender)"},
		{"add under a missing parent", `[{"op":"add","path":"/name/0/family","value":"X"}]`,
			fhir.KindUnprocessable, "processing", "operation 0 (add /name/0/family)"},
		{"index out of range", `[{"op":"remove","path":"/active"},{"op":"add","path":"/name","value":[]},{"op":"remove","path":"/name/0"}]`,
			fhir.KindUnprocessable, "processing", "operation 2 (remove /name/0)"},
		{"negative index", `[{"op":"add","path":"/name","value":["a"]},{"op":"remove","path":"/name/-1"}]`,
			fhir.KindUnprocessable, "processing", "operation 1 (remove /name/-1)"},
		{"failing test", `[{"op":"add","path":"/gender","value":"male"},{"op":"test","path":"/gender","value":"female"},{"op":"remove","path":"/active"}]`,
			fhir.KindUnprocessable, "processing", "operation 1 (test /gender)"},
		{"move into itself", `[{"op":"add","path":"/a","value":{}},{"op":"move","from":"/a","path":"/a/b"}]`,
			fhir.KindUnprocessable, "processing", "operation 1 (move /a/b from /a)"},
		{"result not an object", `[{"op":"replace","path":"","value":[1]}]`,
			fhir.KindUnprocessable, "processing", "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := JSONPatch([]byte(`{"resourceType":"Patient","active":true}`), []byte(tt.patch))
			var fe *fhir.Error
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.kind, fe.Kind)
			require.Len(t, fe.Issues, 1)
			assert.Equal(t, tt.code, fe.Issues[0].Code)
			assert.Contains(t, fe.Issues[0].Diagnostics, tt.diag)
		})
	}
}

// A patch that copies an array into itself doubles it each time; the copy
// limit stops it long before it uses up memory.
func TestJSONPatchCopyLimit(t *testing.T) {
	ops := []string{`{"op":"add","path":"/a","value":["0123456789"]}`}
	for range 40 {
		ops = append(ops, `{"op":"copy","from":"/a","path":"/a/-"}`)
	}
	_, err := JSONPatch([]byte(`{"resourceType":"Basic"}`), []byte("["+strings.Join(ops, ",")+"]"))
	assert.Equal(t, fhir.KindUnprocessable, fhir.KindOf(err))
}

func TestJSONPatchBadResource(t *testing.T) {
	for _, raw := range []string{``, `[]`, `{"a":`, `1`} {
		_, err := JSONPatch([]byte(raw), []byte(`[]`))
		require.Error(t, err)
		assert.Equal(t, fhir.KindInternal, fhir.KindOf(err), "resource %q", raw)
	}
}
