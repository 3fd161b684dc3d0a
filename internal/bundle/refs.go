package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/fhir/jsonscan"
	"github.com/sharedcare/sharedcare/internal/fhir/r4"
)

// placeholder reports whether ref is a fullUrl that names an entry of the
// bundle only: urn:uuid: or urn:oid:.
func placeholder(ref string) bool {
	return strings.HasPrefix(ref, "urn:uuid:") || strings.HasPrefix(ref, "urn:oid:")
}

// absolute splits an absolute URL that names a resource
// ([base]/[type]/[id], optionally .../_history/[vid]) into its base and
// Type/id.
func absolute(u string) (base, ref string, ok bool) {
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return "", "", false
	}
	if i := strings.Index(u, "/_history/"); i >= 0 {
		u = u[:i]
	}
	slash := strings.LastIndexByte(u, '/')
	if slash <= 0 {
		return "", "", false
	}
	typeSlash := strings.LastIndexByte(u[:slash], '/')
	if typeSlash < len("https://") {
		return "", "", false
	}
	typ, id := u[typeSlash+1:slash], u[slash+1:]
	if !r4.IsResourceType(typ) || !fhir.ValidID(id) {
		return "", "", false
	}
	return u[:typeSlash], typ + "/" + id, true
}

// conditionalRef reports whether ref is a conditional reference
// (Patient?identifier=...), which the server resolves to the one match.
func conditionalRef(ref string) bool {
	if ref == "" || ref[0] == '#' || placeholder(ref) {
		return false
	}
	typ, _, ok := strings.Cut(ref, "?")
	return ok && !strings.Contains(typ, "/")
}

// rewriteRefs returns raw with every "reference" string member, at any
// depth (extensions and contained resources included), replaced by what
// resolve returns for it. Every other byte is kept as it was: the
// replacements are spliced into a copy of raw, so one pass over the bytes
// does the whole resource. (Splitting each object into members and
// re-encoding the changed ones cost 17% of an import's CPU.) A key spelt
// with escapes ("\u0072eference") is a reference member too.
func rewriteRefs(raw json.RawMessage, resolve func(ref string) (string, bool, error)) (json.RawMessage, bool, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return raw, false, nil
	}
	// Most resources hold a few references; skip the walk when none can be
	// there.
	if !bytes.Contains(raw, []byte(`"reference"`)) && !bytes.Contains(raw, []byte(`\u`)) {
		return raw, false, nil
	}
	w := refWalker{raw: raw, resolve: resolve}
	end, err := w.value(0, 0)
	if err != nil {
		return raw, false, err
	}
	if end != len(raw) {
		return raw, false, fmt.Errorf("data after the JSON value at offset %d", end)
	}
	if len(w.splices) == 0 {
		return raw, false, nil
	}
	out := make([]byte, 0, len(raw)+16*len(w.splices))
	at := 0
	for _, s := range w.splices {
		out = append(out, raw[at:s.start]...)
		out = append(out, s.with...)
		at = s.end
	}
	return append(out, raw[at:]...), true, nil
}

// maxRefDepth bounds the nesting rewriteRefs walks, as the validator
// bounds what it accepts.
const maxRefDepth = 1000

// refWalker finds the "reference" members of one JSON document.
type refWalker struct {
	raw     []byte
	resolve func(ref string) (string, bool, error)
	splices []splice
}

// splice replaces raw[start:end] with with.
type splice struct {
	start, end int
	with       []byte
}

// value walks the value at i and returns the offset just past it.
func (w *refWalker) value(i, depth int) (int, error) {
	if depth > maxRefDepth {
		return i, errors.New("JSON nested too deeply")
	}
	i = jsonscan.SkipSpace(w.raw, i)
	if i >= len(w.raw) {
		return i, errors.New("unexpected end of JSON")
	}
	switch w.raw[i] {
	case '{':
		return w.object(i, depth)
	case '[':
		i = jsonscan.SkipSpace(w.raw, i+1)
		if i < len(w.raw) && w.raw[i] == ']' {
			return i + 1, nil
		}
		for {
			end, err := w.value(i, depth+1)
			if err != nil {
				return end, err
			}
			i = jsonscan.SkipSpace(w.raw, end)
			if i >= len(w.raw) {
				return i, errors.New("unexpected end of JSON in an array")
			}
			if w.raw[i] == ']' {
				return i + 1, nil
			}
			if w.raw[i] != ',' {
				return i, fmt.Errorf("invalid character %q in an array", w.raw[i])
			}
			i++
		}
	}
	return jsonscan.SkipValue(w.raw, i)
}

// object walks the object at i.
func (w *refWalker) object(i, depth int) (int, error) {
	i = jsonscan.SkipSpace(w.raw, i+1)
	if i < len(w.raw) && w.raw[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(w.raw) || w.raw[i] != '"' {
			return i, errors.New("expected a member name")
		}
		kend, err := jsonscan.SkipString(w.raw, i)
		if err != nil {
			return kend, err
		}
		key := w.raw[i+1 : kend-1]
		isRef := string(key) == "reference"
		if !isRef && bytes.IndexByte(key, '\\') >= 0 {
			var k string
			isRef = json.Unmarshal(w.raw[i:kend], &k) == nil && k == "reference"
		}
		i = jsonscan.SkipSpace(w.raw, kend)
		if i >= len(w.raw) || w.raw[i] != ':' {
			return i, errors.New("expected ':' after a member name")
		}
		i = jsonscan.SkipSpace(w.raw, i+1)
		var end int
		if isRef && i < len(w.raw) && w.raw[i] == '"' {
			end, err = w.reference(i)
		} else {
			end, err = w.value(i, depth+1)
		}
		if err != nil {
			return end, err
		}
		i = jsonscan.SkipSpace(w.raw, end)
		if i >= len(w.raw) {
			return i, errors.New("unexpected end of JSON in an object")
		}
		if w.raw[i] == '}' {
			return i + 1, nil
		}
		if w.raw[i] != ',' {
			return i, fmt.Errorf("invalid character %q in an object", w.raw[i])
		}
		i = jsonscan.SkipSpace(w.raw, i+1)
	}
}

// reference resolves the string value of a reference member at i.
func (w *refWalker) reference(i int) (int, error) {
	end, err := jsonscan.SkipString(w.raw, i)
	if err != nil {
		return end, err
	}
	lit := w.raw[i:end]
	var ref string
	if bytes.IndexByte(lit, '\\') < 0 && utf8.Valid(lit) {
		ref = string(lit[1 : len(lit)-1])
	} else if err := json.Unmarshal(lit, &ref); err != nil {
		return end, err
	}
	to, ok, err := w.resolve(ref)
	if err != nil || !ok {
		return end, err
	}
	with, _ := json.Marshal(to)
	w.splices = append(w.splices, splice{start: i, end: end, with: with})
	return end, nil
}
