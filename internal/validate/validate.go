// Package validate checks a resource's JSON against the FHIR R4 definitions,
// covering what the typed models miss: unknown elements, cardinality, choice
// types, JSON types and lexical forms of primitives, primitive extensions
// (_birthDate), and contained and nested resources; plus the UK Core rule
// that an NHS number passes its Modulus 11 check.
//
// Errors follow HAPI FHIR. A body that cannot be read as a resource at all
// (empty, not JSON, not UTF-8, nested deeper than 100 levels, not an object,
// no known resourceType) is a *fhir.Error of kind fhir.KindInvalid (400).
// Every other problem in a parseable resource, nested resources' included,
// breaks a FHIR rule and makes a fhir.KindUnprocessable (422) error, whose
// issues list each problem found (up to 100) with a FHIRPath-like
// expression such as Patient.name[0].given[1]. A primitive's extension form
// is reported at the primitive's path (_birthDate at Patient.birthDate).
//
// Issue codes: structure for the shape of the JSON (unknown or repeated
// members, empty arrays and objects, arrays where one value belongs and the
// reverse, wrong JSON types, several types of one choice element), required
// for missing mandatory elements, value for values that break their type's
// rules. When the list is cut at 100, an information issue (too-costly)
// says so.
//
// Two rules are relaxed because the UK Core examples break them: an empty
// primitive extension form ("_status": {}) is accepted, and an Extension
// with several value[x] types is checked by the first.
package validate

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/fhir/r4"
)

const (
	maxDepth  = 100 // JSON nesting; real resources stay under 20
	maxIssues = 100 // enough to fix a resource by, small enough to send
)

// NHSNumberSystem is the identifier system of NHS numbers (UK Core).
const NHSNumberSystem = "https://fhir.nhs.uk/Id/nhs-number"

// Resource validates raw, a request body holding one resource, and returns
// its resourceType. It returns a *fhir.Error describing every problem found;
// see the package documentation for kinds and codes.
func Resource(raw []byte) (resourceType string, err error) {
	v := pool.Get().(*validator)
	defer v.release()
	if err := v.parse(raw); err != nil {
		return "", fhir.Errorf(fhir.KindInvalid, "structure", "%s", err.Error())
	}
	if v.tape[0].kind != kindObject {
		return "", fhir.Errorf(fhir.KindInvalid, "structure", "The body must be a JSON object, not %s", v.tape[0].kind)
	}
	rt, n := v.member(0, "resourceType")
	switch {
	case n < 0:
		return "", fhir.Errorf(fhir.KindInvalid, "invalid", "The resource has no resourceType")
	case v.tape[n].kind != kindString:
		return "", fhir.Errorf(fhir.KindInvalid, "invalid", "resourceType must be a string")
	}
	t := r4.LookupType(string(rt))
	if t == nil || t.Kind != r4.ResourceKind {
		return "", fhir.Errorf(fhir.KindInvalid, "invalid", "Unknown resource type %s", quote(rt))
	}
	resourceType = t.Name
	v.path = append(v.path[:0], resourceType...)
	v.object(0, t)
	if len(v.issues) == 0 {
		return resourceType, nil
	}
	issues := append([]fhir.Issue(nil), v.issues...)
	if v.stopped {
		issues = append(issues, fhir.Issue{Severity: "information", Code: "too-costly", Diagnostics: fmt.Sprintf("Validation stopped after %d issues", maxIssues)})
	}
	return resourceType, &fhir.Error{Kind: fhir.KindUnprocessable, Issues: issues}
}

// validator holds the buffers of one validation; they are pooled, so that a
// validation allocates little beyond the issues it reports.
type validator struct {
	parser
	path    []byte     // the expression of the element being checked
	seen    []presence // one per element of each object on the walk, stacked
	issues  []fhir.Issue
	stopped bool // at maxIssues
}

// presence records where an object's member for one element was found.
type presence struct {
	value, ext int32    // tape indexes of name and _name; 0 when absent
	typ        string   // the type the member carries (choice elements have several)
	table      *r4.Type // typ's element table, nil for a primitive or Resource
}

var pool = sync.Pool{New: func() any { return new(validator) }}

// release returns v to the pool unless a huge document left it holding
// buffers not worth keeping.
func (v *validator) release() {
	if cap(v.tape) > 1<<16 || cap(v.scratch) > 1<<20 {
		return
	}
	v.data, v.issues, v.stopped = nil, v.issues[:0], false
	pool.Put(v)
}

func (v *validator) report(code, format string, args ...any) {
	if len(v.issues) == maxIssues {
		v.stopped = true
		return
	}
	v.issues = append(v.issues, fhir.Issue{
		Severity:    "error",
		Code:        code,
		Diagnostics: fmt.Sprintf(format, args...),
		Expression:  []string{string(v.path)},
	})
}

func (v *validator) push(name string) int {
	n := len(v.path)
	v.path = append(append(v.path, '.'), name...)
	return n
}

func (v *validator) pushBytes(name []byte) int {
	n := len(v.path)
	v.path = append(append(v.path, '.'), name...)
	return n
}

// pushElement appends an element's JSON name without building the string.
func (v *validator) pushElement(el *r4.Element, typ string) int {
	n := v.push(el.Name)
	if el.Choice {
		c := typ[0]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		v.path = append(append(v.path, c), typ[1:]...)
	}
	return n
}

func (v *validator) pushIndex(i int) int {
	n := len(v.path)
	v.path = append(strconv.AppendInt(append(v.path, '['), int64(i), 10), ']')
	return n
}

func (v *validator) pop(n int) { v.path = v.path[:n] }

// member finds the member named key in the object at tape index obj and
// returns its value's unescaped text and tape index, or -1.
func (v *validator) member(obj int32, key string) ([]byte, int32) {
	for k := obj + 1; k < v.tape[obj].next; k = v.tape[k+1].next {
		if string(v.text(v.tape[k])) == key {
			return v.text(v.tape[k+1]), k + 1
		}
	}
	return nil, -1
}

// resource checks a nested resource (contained, Bundle.entry.resource) by
// its own resourceType.
func (v *validator) resource(n int32) {
	_, rt := v.member(n, "resourceType")
	if rt < 0 || v.tape[rt].kind != kindString {
		v.report("structure", "A resource must have a resourceType")
		return
	}
	name := v.text(v.tape[rt])
	t := r4.LookupType(string(name))
	if t == nil || t.Kind != r4.ResourceKind {
		v.report("structure", "Unknown resource type %s", quote(name))
		return
	}
	v.object(n, t)
}

// object checks the members of the object at tape index n against t: first
// it notes which element each member belongs to, catching unknown and
// repeated members and mixed choice types, then it checks each element in
// definition order, so that a primitive and its _extension form are seen
// together.
func (v *validator) object(n int32, t *r4.Type) {
	obj := v.tape[n]
	if obj.count == 0 {
		// An empty extension form ("_status": {}) says nothing, and
		// converters from XML leave it behind where they drop comments (the
		// UK Core examples have it), so only other empty objects are wrong.
		if t.Name != "Element" {
			v.report("structure", "An object must have content")
		}
		return
	}
	base := len(v.seen)
	for range t.Elements {
		v.seen = append(v.seen, presence{})
	}
	for k := n + 1; k < obj.next && !v.stopped; k = v.tape[k+1].next {
		key := v.text(v.tape[k])
		if (t.Kind == r4.ResourceKind && string(key) == "resourceType") || string(key) == "fhir_comments" {
			continue
		}
		name, ext := key, false
		if len(key) > 1 && key[0] == '_' {
			name, ext = key[1:], true
		}
		i, typ, table := t.Resolve(string(name))
		if i < 0 || ext && (table != nil || typ == "Resource") {
			p := v.pushBytes(key)
			v.report("structure", "Unknown element %s", quote(key))
			v.pop(p)
			continue
		}
		p := &v.seen[base+i]
		slot := &p.value
		if ext {
			slot = &p.ext
		}
		switch {
		case p.typ != "" && p.typ != typ:
			// UK Core's own ConditionEpisode example gives an extension both
			// valueCode and valueCodeableConcept; HAPI's parser keeps one and
			// the server does not interpret extensions, so there only the
			// first counts.
			if t.Name != "Extension" {
				at := v.pushBytes(key)
				v.report("structure", "Choice element %s[x] has more than one type: %s and %s", t.Elements[i].Name, p.typ, typ)
				v.pop(at)
			}
		case *slot != 0:
			at := v.pushBytes(key)
			v.report("structure", "Element %s is repeated", quote(key))
			v.pop(at)
		default:
			*slot, p.typ, p.table = k+1, typ, table
		}
	}
	for i := range t.Elements {
		if v.stopped {
			break
		}
		el, p := &t.Elements[i], v.seen[base+i]
		if p.value == 0 && p.ext == 0 {
			if el.Min > 0 {
				at := v.push(el.Name)
				if el.Choice {
					v.path = append(v.path, "[x]"...)
				}
				v.report("required", "Element %s is required", v.path[at+1:])
				v.pop(at)
			}
			continue
		}
		at := v.pushElement(el, p.typ)
		switch {
		case el.Max == 0:
			v.report("structure", "Element %s is not allowed here", v.path[at+1:])
		case p.table == nil && p.typ != "Resource":
			v.primitiveElement(el, p.typ, p.value, p.ext)
		default:
			v.complexElement(el, p.typ, p.table, p.value)
		}
		v.pop(at)
	}
	v.seen = v.seen[:base]
	if t.Name == "Identifier" {
		v.nhsNumber(n)
	}
}

// shape checks that the value at n is an array if and only if el repeats,
// that an array is not empty and holds no more than el.Max items. prefix is
// "_" for a primitive's extension form.
func (v *validator) shape(el *r4.Element, n int32, prefix string) bool {
	nd := v.tape[n]
	switch {
	case el.Array && nd.kind != kindArray:
		v.report("structure", "Element %s%s must be an array", prefix, v.name())
	case !el.Array && nd.kind == kindArray:
		v.report("structure", "Element %s%s must be a single value, not an array", prefix, v.name())
	case el.Array && nd.count == 0:
		v.report("structure", "Array %s%s must not be empty: leave the element out instead", prefix, v.name())
	case el.Array && el.Max >= 0 && int(nd.count) > el.Max:
		v.report("structure", "Element %s%s has %d items, more than its maximum %d", prefix, v.name(), nd.count, el.Max)
	default:
		return true
	}
	return false
}

// name returns the last name on the path, that of the element being checked.
func (v *validator) name() []byte {
	return v.path[bytes.LastIndexByte(v.path, '.')+1:]
}

// primitiveElement checks a primitive element given as value (index val),
// as extension form (index ext), or both. In arrays the two are aligned item
// by item, with null standing for a missing side.
func (v *validator) primitiveElement(el *r4.Element, typ string, val, ext int32) {
	if val != 0 && !v.shape(el, val, "") {
		val = 0
	}
	if ext != 0 && !v.shape(el, ext, "_") {
		ext = 0
	}
	if !el.Array {
		if val != 0 {
			v.primitive(val, typ)
		}
		if ext != 0 {
			v.extension(ext)
		}
		return
	}
	if val != 0 && ext != 0 && v.tape[val].count != v.tape[ext].count {
		v.report("structure", "Arrays %s and _%[1]s must have the same number of items", v.name())
		return
	}
	vi, ei := val+1, ext+1
	for i := 0; (val != 0 && vi < v.tape[val].next) || (ext != 0 && ei < v.tape[ext].next); i++ {
		at := v.pushIndex(i)
		vNull := val == 0 || v.tape[vi].kind == kindNull
		eNull := ext == 0 || v.tape[ei].kind == kindNull
		if vNull && eNull {
			v.report("structure", "An item of a primitive array must have a value or an extension, not null")
		}
		if !vNull {
			v.primitive(vi, typ)
		}
		if !eNull {
			v.extension(ei)
		}
		v.pop(at)
		if val != 0 {
			vi = v.tape[vi].next
		}
		if ext != 0 {
			ei = v.tape[ei].next
		}
	}
}

// extension checks the object of a primitive's extension form (_birthDate),
// which holds the id and extensions of the primitive.
func (v *validator) extension(n int32) {
	if v.tape[n].kind != kindObject {
		v.report("structure", "The extension form of a primitive must be an object, not %s", v.tape[n].kind)
		return
	}
	v.object(n, elementType())
}

// elementType is the table of Element, which describes a primitive's
// extension form.
var elementType = sync.OnceValue(func() *r4.Type { return r4.LookupType("Element") })

// complexElement checks an element of a complex type, or of Resource when
// table is nil.
func (v *validator) complexElement(el *r4.Element, typ string, table *r4.Type, val int32) {
	if !v.shape(el, val, "") {
		return
	}
	if !el.Array {
		v.complex(val, typ, table)
		return
	}
	for i, item := 0, val+1; item < v.tape[val].next; i, item = i+1, v.tape[item].next {
		at := v.pushIndex(i)
		v.complex(item, typ, table)
		v.pop(at)
	}
}

func (v *validator) complex(n int32, typ string, table *r4.Type) {
	if v.tape[n].kind != kindObject {
		v.report("structure", "Expected an object for type %s, found %s", typ, v.tape[n].kind)
		return
	}
	if table == nil {
		v.resource(n)
		return
	}
	v.object(n, table)
}

// primitive checks the JSON type and the lexical form of a primitive value.
func (v *validator) primitive(n int32, typ string) {
	nd := v.tape[n]
	want := r4.Primitives[typ].JSON
	got := "string"
	switch nd.kind {
	case kindNumber:
		got = "number"
	case kindTrue, kindFalse:
		got = "boolean"
	case kindString:
	default:
		v.report("structure", "A %s must be a JSON %s, not %s", typ, want, nd.kind)
		return
	}
	if got != want {
		v.report("structure", "A %s must be a JSON %s, not %s", typ, want, nd.kind)
		return
	}
	if nd.kind != kindString && nd.kind != kindNumber {
		return
	}
	s := v.text(nd)
	if msg := checkPrimitive(s, typ); msg != "" {
		v.report("value", "The %s value %s %s", typ, quote(s), msg)
	}
}

// checkPrimitive reports why s is not a valid value of the primitive type
// typ, or "". Numbers arrive as their JSON literal, which already matches
// decimal.
func checkPrimitive(s []byte, typ string) string {
	ok := true
	switch typ {
	case "string", "markdown":
		return checkString(s)
	case "id":
		ok = isID(s)
	case "code":
		ok = isCode(s)
	case "uri", "url", "canonical":
		ok = isURI(s)
	case "oid":
		ok = isOID(s)
	case "uuid":
		ok = isUUID(s)
	case "base64Binary":
		ok = isBase64(s)
	case "date", "dateTime", "instant":
		return checkDateTime(s, typ)
	case "time":
		return checkTime(s)
	case "integer", "positiveInt", "unsignedInt":
		return checkInteger(s, typ)
	case "xhtml":
		if !isXHTML(s) {
			return "must be a div element"
		}
	}
	if !ok {
		return "is not a valid " + typ
	}
	return ""
}

// nhsNumber applies the UK Core rule to the Identifier at n: an NHS number
// must be ten digits passing the Modulus 11 check.
func (v *validator) nhsNumber(n int32) {
	_, sys := v.member(n, "system")
	if sys < 0 || v.tape[sys].kind != kindString || string(v.text(v.tape[sys])) != NHSNumberSystem {
		return
	}
	at := v.push("value")
	defer v.pop(at)
	val, i := v.member(n, "value")
	switch {
	case i < 0:
		v.report("value", "An NHS number identifier must have a value")
	case v.tape[i].kind == kindString && !validNHSNumber(val):
		v.report("value", "NHS number %s is not valid: it must be 10 digits passing the Modulus 11 check", quote(val))
	}
}

// quote renders a client's value for a message, cut short so that an
// outcome never echoes a large payload.
func quote(b []byte) string {
	const max = 64
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "..."
	}
	return strconv.Quote(string(b))
}
