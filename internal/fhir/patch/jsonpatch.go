// Package patch applies the two patch formats of the FHIR patch interaction
// to a resource's raw JSON: JSON Patch (RFC 6902) and FHIRPath Patch (a
// Parameters resource). Both return compact JSON that keeps the members of
// the resource in the order the client wrote them and leaves every value the
// patch does not touch as it was.
package patch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/sharedcare/sharedcare/internal/fhir"
)

// minCopyLimit is the least growth that copy operations may cause. The
// library sets no limit by default, and a patch that copies the root into
// itself a few dozen times would otherwise grow without bound.
const minCopyLimit = 1 << 20

// JSONPatch applies an RFC 6902 JSON Patch document (application/json-patch+json)
// to raw, the JSON of a resource, and returns the patched resource as compact
// JSON.
//
// A patch that is not a well-formed JSON Patch document is a KindInvalid
// error; one that cannot be applied to raw (a path that does not exist, a
// failing test, a result that is not a JSON object) is KindUnprocessable. The
// diagnostics name the failing operation by its 0-based index. An error of
// any other type means raw itself is not a JSON object.
func JSONPatch(raw, patch []byte) ([]byte, error) {
	if err := checkResource(raw); err != nil {
		return nil, err
	}
	ops, err := decodeJSONPatch(patch)
	if err != nil {
		return nil, err
	}
	opts := jsonpatch.NewApplyOptions()
	// The stored resource keeps the client's bytes; HTML escaping would
	// rewrite every < in a narrative div.
	opts.EscapeHTML = false
	// RFC 6902 has no negative indices; the library allows them by default.
	opts.SupportNegativeIndices = false
	opts.AccumulatedCopySizeLimit = max(int64(len(raw)), minCopyLimit)

	out, err := ops.ApplyWithOptions(raw, opts)
	if err != nil {
		i := failingOp(ops, raw, opts)
		return nil, fhir.Errorf(fhir.KindUnprocessable, "processing",
			"JSON Patch operation %d (%s) cannot be applied: %s", i, describe(ops[i]), err)
	}
	if len(out) == 0 || out[0] != '{' {
		return nil, fhir.Errorf(fhir.KindUnprocessable, "processing",
			"JSON Patch result is not a JSON object, so it cannot be a resource")
	}
	return out, nil
}

// checkResource returns a plain error, which the REST layer treats as
// internal, when the stored resource is not a JSON object: that is the
// server's fault, not the client's.
func checkResource(raw []byte) error {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 || raw[0] != '{' || !json.Valid(raw) {
		return errors.New("patch: resource is not a JSON object")
	}
	return nil
}

// decodeJSONPatch checks every operation before handing the document to the
// library, which accepts some malformed operations (a test without a value,
// a path without its leading slash, a ~ escape other than ~0 and ~1) and
// does not say which operation is wrong.
func decodeJSONPatch(patch []byte) (jsonpatch.Patch, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(patch, &list); err != nil || list == nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return nil, fhir.Errorf(fhir.KindInvalid, "structure", "JSON Patch document is not JSON: %v", err)
		}
		return nil, fhir.Errorf(fhir.KindInvalid, "structure", "JSON Patch document must be a JSON array of operations")
	}
	for i, raw := range list {
		var op map[string]json.RawMessage
		err := json.Unmarshal(raw, &op)
		if err == nil {
			err = checkOperation(op)
		} else {
			err = errors.New("must be a JSON object")
		}
		if err != nil {
			return nil, fhir.Errorf(fhir.KindInvalid, "invalid", "JSON Patch operation %d: %s", i, err)
		}
	}
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "invalid", "JSON Patch document is not valid: %v", err)
	}
	return p, nil
}

// needs lists, for each operation, the members RFC 6902 requires besides op and path.
var needs = map[string][]string{
	"add":     {"value"},
	"remove":  nil,
	"replace": {"value"},
	"move":    {"from"},
	"copy":    {"from"},
	"test":    {"value"},
}

func checkOperation(op map[string]json.RawMessage) error {
	if op == nil {
		return errors.New("must be a JSON object")
	}
	kind, ok := jsonString(op["op"])
	if !ok {
		return errors.New(`"op" must be a string`)
	}
	required, ok := needs[kind]
	if !ok {
		return fmt.Errorf("unknown op %q (expected add, remove, replace, move, copy or test)", kind)
	}
	if err := checkPointer(op, "path"); err != nil {
		return err
	}
	for _, name := range required {
		if _, ok := op[name]; !ok {
			return fmt.Errorf("%s needs %q", kind, name)
		}
		if name == "from" {
			if err := checkPointer(op, "from"); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkPointer checks that op[name] is an RFC 6901 JSON Pointer.
func checkPointer(op map[string]json.RawMessage, name string) error {
	p, ok := jsonString(op[name])
	if !ok {
		return fmt.Errorf("%q must be a string", name)
	}
	if p != "" && p[0] != '/' {
		return fmt.Errorf("%q %q is not a JSON Pointer: it must start with /", name, p)
	}
	for i := strings.IndexByte(p, '~'); i >= 0; i = strings.IndexByte(p, '~') {
		if i+1 == len(p) || (p[i+1] != '0' && p[i+1] != '1') {
			return fmt.Errorf("%q %q is not a JSON Pointer: ~ must be followed by 0 or 1", name, p)
		}
		p = p[i+2:]
	}
	return nil
}

// jsonString decodes raw if it is a JSON string. Unmarshalling null into a
// string succeeds, which would make a null path the root.
func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// failingOp returns the index of the operation that made ops fail on raw.
// The library does not say, and applying ops one at a time would re-decode
// the document for each; a failing prefix stays failing as it grows, so a
// binary search over prefix lengths finds it in a logarithmic number of runs.
func failingOp(ops jsonpatch.Patch, raw []byte, opts *jsonpatch.ApplyOptions) int {
	lo, hi := 0, len(ops)-1 // ops[:hi+1] fails; find the shortest failing prefix
	for lo < hi {
		mid := lo + (hi-lo)/2
		if _, err := ops[:mid+1].ApplyWithOptions(raw, opts); err != nil {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// describe names an operation for diagnostics: "remove /name/0".
func describe(op jsonpatch.Operation) string {
	path, _ := op.Path()
	s := op.Kind() + " " + path
	if from, err := op.From(); err == nil && (op.Kind() == "move" || op.Kind() == "copy") {
		s += " from " + from
	}
	return s
}
