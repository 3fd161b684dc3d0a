package patch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/fhir/r4"
)

// FHIRPathPatch applies a FHIRPath Patch, a Parameters resource of
// "operation" parameters (http://hl7.org/fhir/R4/fhirpatch.html), to raw,
// the JSON of an R4 resource, and returns the patched resource as compact
// JSON. The operations apply in order, each to the result of the ones before.
//
// Paths use a FHIRPath subset (see the grammar in fhirpath.go): child
// names, [n], first(), last(), where() with equality conditions joined by
// and, ofType() and extension(). The element definitions of package r4
// decide whether an added element repeats and whether a value has the type
// its element needs.
//
// A document that is not a well-formed FHIRPath Patch is a KindInvalid
// error; an operation that cannot be applied to raw (its path matches no
// element or more than one, an element that does not exist, a value of the
// wrong type, an index out of range) is KindUnprocessable. Diagnostics name
// the failing operation by its 0-based index. An error of any other type
// means raw itself is not a JSON object.
func FHIRPathPatch(raw, params []byte) ([]byte, error) {
	if err := checkResource(raw); err != nil {
		return nil, err
	}
	ops, err := decodeOperations(params)
	if err != nil {
		return nil, err
	}
	var doc bytes.Buffer
	if err := json.Compact(&doc, raw); err != nil {
		return nil, err
	}
	top := rawNode(doc.Bytes())
	root := &item{index: -1, val: top}
	if err := asResource(root); err != nil {
		return nil, fhir.Errorf(fhir.KindUnprocessable, "processing", "FHIRPath Patch cannot be applied: %v", err)
	}
	for i, op := range ops {
		if err := op.apply(root); err != nil {
			return nil, fhir.AtPath(fhir.KindUnprocessable, "processing", fmt.Sprintf("Parameters.parameter[%d]", i),
				"FHIRPath Patch operation %d (%s %s) cannot be applied: %v", i, op.typ, op.path, err)
		}
	}
	var out bytes.Buffer
	top.write(&out)
	return out.Bytes(), nil
}

// operation is one decoded "operation" parameter.
type operation struct {
	typ         string // add | insert | delete | replace | move
	path        string
	steps       []step
	name        string
	value       *param
	index       int
	source      int
	destination int
}

// param is one parameter or part of a Parameters resource.
type param struct {
	name      string
	value     json.RawMessage // value[x]
	valueType string          // the type code value[x] names: date, CodeableConcept
	ext       json.RawMessage // _value[x], the id and extensions of a primitive value
	resource  json.RawMessage
	parts     []*param
}

// needed lists, for each operation type, the parts it requires besides
// type and path.
var needed = map[string][]string{
	"add":     {"name", "value"},
	"insert":  {"index", "value"},
	"delete":  nil,
	"replace": {"value"},
	"move":    {"source", "destination"},
}

func decodeOperations(params []byte) ([]*operation, error) {
	var doc bytes.Buffer
	if err := json.Compact(&doc, params); err != nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "structure", "FHIRPath Patch document is not JSON: %v", err)
	}
	top, err := fhir.Object(doc.Bytes())
	if err != nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "structure", "FHIRPath Patch document must be a Parameters resource")
	}
	var rt string
	var list []json.RawMessage
	for _, m := range top {
		switch m.Key {
		case "resourceType":
			rt, _ = jsonString(m.Value)
		case "parameter":
			if json.Unmarshal(m.Value, &list) != nil {
				return nil, fhir.AtPath(fhir.KindInvalid, "structure", "Parameters.parameter", "parameter must be an array")
			}
		}
	}
	if rt != "Parameters" {
		return nil, fhir.Errorf(fhir.KindInvalid, "invalid", "FHIRPath Patch document must be a Parameters resource")
	}
	ops := make([]*operation, len(list))
	for i, raw := range list {
		at := fmt.Sprintf("Parameters.parameter[%d]", i)
		p, err := parseParam(raw, at)
		if err == nil {
			ops[i], err = toOperation(p)
		}
		if err != nil {
			return nil, fhir.AtPath(fhir.KindInvalid, "invalid", at, "FHIRPath Patch operation %d: %v", i, err)
		}
	}
	return ops, nil
}

// parseParam decodes a parameter or part. at locates it for diagnostics.
func parseParam(raw json.RawMessage, at string) (*param, error) {
	members, err := fhir.Object(raw)
	if err != nil {
		return nil, fmt.Errorf("%s must be an object", at)
	}
	p := &param{}
	seen := map[string]bool{}
	for _, m := range members {
		if seen[m.Key] {
			return nil, fmt.Errorf("%s has %s twice", at, m.Key)
		}
		seen[m.Key] = true
		switch {
		case m.Key == "id" || m.Key == "extension" || m.Key == "modifierExtension":
		case m.Key == "name":
			var ok bool
			if p.name, ok = jsonString(m.Value); !ok || p.name == "" {
				return nil, fmt.Errorf("%s.name must be a non-empty string", at)
			}
		case m.Key == "part":
			var parts []json.RawMessage
			if json.Unmarshal(m.Value, &parts) != nil || len(parts) == 0 {
				return nil, fmt.Errorf("%s.part must be a non-empty array", at)
			}
			for i, raw := range parts {
				part, err := parseParam(raw, fmt.Sprintf("%s.part[%d]", at, i))
				if err != nil {
					return nil, err
				}
				p.parts = append(p.parts, part)
			}
		case m.Key == "resource":
			if len(m.Value) == 0 || m.Value[0] != '{' {
				return nil, fmt.Errorf("%s.resource must be an object", at)
			}
			p.resource = m.Value
		case strings.HasPrefix(m.Key, "_value"):
			if len(m.Value) == 0 || m.Value[0] != '{' {
				return nil, fmt.Errorf("%s.%s must be an object", at, m.Key)
			}
			p.ext = m.Value
		case strings.HasPrefix(m.Key, "value"):
			if p.value != nil {
				return nil, fmt.Errorf("%s has more than one value[x]", at)
			}
			if p.valueType, err = valueType(m.Key, m.Value); err != nil {
				return nil, fmt.Errorf("%s.%s: %v", at, m.Key, err)
			}
			p.value = m.Value
		default:
			return nil, fmt.Errorf("%s has an unknown member %s", at, m.Key)
		}
	}
	if p.name == "" {
		return nil, fmt.Errorf("%s has no name", at)
	}
	n := 0
	for _, has := range []bool{p.value != nil, p.resource != nil, p.parts != nil} {
		if has {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("%s (%s) must have exactly one of value[x], resource and part", at, p.name)
	}
	if p.ext != nil && (p.value == nil || !r4.IsPrimitive(p.valueType)) {
		return nil, fmt.Errorf("%s has _value[x] without a primitive value[x]", at)
	}
	return p, nil
}

// valueType returns the type code a value[x] member names, and checks that
// the JSON value has the form of that type.
func valueType(key string, raw json.RawMessage) (string, error) {
	suffix := key[len("value"):]
	if suffix == "" || suffix[0] < 'A' || suffix[0] > 'Z' {
		return "", errors.New("not a value[x] name")
	}
	first := byte(0)
	if len(raw) > 0 {
		first = raw[0]
	}
	if code := strings.ToLower(suffix[:1]) + suffix[1:]; r4.IsPrimitive(code) {
		form := r4.Primitives[code].JSON
		ok := false
		switch form {
		case "string":
			ok = first == '"'
		case "number":
			ok = first == '-' || isDigit(first)
		case "boolean":
			ok = string(raw) == "true" || string(raw) == "false"
		}
		if !ok {
			return "", fmt.Errorf("a %s must be a JSON %s", code, form)
		}
		return code, nil
	}
	if t := r4.LookupType(suffix); t == nil || t.Kind != r4.DataTypeKind {
		return "", fmt.Errorf("%s is not an R4 data type", suffix)
	}
	if first != '{' {
		return "", fmt.Errorf("a %s must be a JSON object", suffix)
	}
	return suffix, nil
}

func toOperation(p *param) (*operation, error) {
	if p.name != "operation" {
		return nil, fmt.Errorf("parameter %q is not an operation", p.name)
	}
	if p.parts == nil {
		return nil, errors.New("an operation has its type, path and arguments as parts")
	}
	op := &operation{}
	parts := map[string]*param{}
	for _, part := range p.parts {
		if parts[part.name] != nil {
			return nil, fmt.Errorf("part %s is given twice", part.name)
		}
		parts[part.name] = part
		var err error
		switch part.name {
		case "type":
			op.typ, err = stringPart(part)
		case "path":
			op.path, err = stringPart(part)
		case "name":
			op.name, err = stringPart(part)
		case "value":
			op.value = part
		case "index":
			op.index, err = intPart(part)
		case "source":
			op.source, err = intPart(part)
		case "destination":
			op.destination, err = intPart(part)
		default:
			err = errors.New("unknown part (expected type, path, name, value, index, source or destination)")
		}
		if err != nil {
			return nil, fmt.Errorf("part %s: %v", part.name, err)
		}
	}
	need, ok := needed[op.typ]
	if !ok {
		return nil, fmt.Errorf("type %q is not add, insert, delete, replace or move", op.typ)
	}
	for _, name := range append([]string{"path"}, need...) {
		if parts[name] == nil {
			return nil, fmt.Errorf("%s needs a %s part", op.typ, name)
		}
	}
	var err error
	if op.steps, err = parsePath(op.path); err != nil {
		return nil, err
	}
	if (op.typ == "insert" || op.typ == "move") && op.steps[len(op.steps)-1].kind != stepChild {
		return nil, fmt.Errorf("%s needs a path that ends at a list element's name, not %q", op.typ, op.path)
	}
	return op, nil
}

func stringPart(p *param) (string, error) {
	s, ok := jsonString(p.value)
	if !ok || s == "" {
		return "", errors.New("must be a non-empty string value")
	}
	return s, nil
}

func intPart(p *param) (int, error) {
	n, err := strconv.Atoi(string(p.value))
	if p.value == nil || err != nil || n < 0 {
		return 0, errors.New("must be a valueInteger of 0 or more")
	}
	return n, nil
}

func (op *operation) apply(root *item) error {
	switch op.typ {
	case "add":
		return op.add(root)
	case "insert":
		return op.insert(root)
	case "delete":
		return op.delete(root)
	case "replace":
		return op.replace(root)
	default:
		return op.move(root)
	}
}

// one evaluates the operation's path and requires it to match exactly one
// element, as the spec requires of every path but delete's.
func (op *operation) one(root *item, steps []step, verb string) (*item, error) {
	items, err := evaluate(root, steps)
	if err != nil {
		return nil, err
	}
	switch len(items) {
	case 0:
		return nil, fmt.Errorf("no content found at the path to %s", verb)
	case 1:
		return items[0], nil
	}
	return nil, fmt.Errorf("the path matches %d elements, so it is not clear where to %s", len(items), verb)
}

// add adds name to the element at path, as one more entry of a repeating
// element or as the value of an absent single one.
func (op *operation) add(root *item) error {
	target, err := op.one(root, op.steps, "add")
	if err != nil {
		return err
	}
	t, err := target.typeOf()
	if err != nil {
		return err
	}
	if t == nil {
		return fmt.Errorf("cannot add %s to a %s value", op.name, target.typ)
	}
	if err := target.val.decode(); err != nil {
		return err
	}
	elem, member, typ, err := resolveChild(t, op.name, op.value)
	if err != nil {
		return err
	}
	val, ext, err := buildValue(op.value, typ)
	if err != nil {
		return err
	}
	return addChild(target.val, t, elem, member, val, ext)
}

// insert and move take the path of a list: its last step names the
// repeating element, which may be absent (for insert at 0), and the steps
// before it the one element that holds the list.
func (op *operation) list(root *item) (*node, string, *r4.Element, error) {
	name := op.steps[len(op.steps)-1].name
	holder := root
	if len(op.steps) > 1 {
		var err error
		if holder, err = op.one(root, op.steps[:len(op.steps)-1], op.typ); err != nil {
			return nil, "", nil, err
		}
	}
	t, err := holder.typeOf()
	if err != nil {
		return nil, "", nil, err
	}
	if t == nil {
		return nil, "", nil, fmt.Errorf("a %s value has no %s list", holder.typ, name)
	}
	elem := findElement(t, name)
	if elem == nil {
		return nil, "", nil, fmt.Errorf("%s has no element %s", t.Name, name)
	}
	if !elem.Array {
		return nil, "", nil, fmt.Errorf("%s.%s does not repeat, so it is not a list", t.Name, name)
	}
	if err := holder.val.decode(); err != nil {
		return nil, "", nil, err
	}
	return holder.val, name, elem, nil
}

func (op *operation) insert(root *item) error {
	obj, name, elem, err := op.list(root)
	if err != nil {
		return err
	}
	val, ext, err := buildValue(op.value, elem.Types[0])
	if err != nil {
		return err
	}
	return insertChild(obj, name, op.index, val, ext)
}

func (op *operation) move(root *item) error {
	obj, name, _, err := op.list(root)
	if err != nil {
		return err
	}
	list := obj.get(name)
	n := 0
	if list != nil && list.isArray() {
		if err := list.decode(); err != nil {
			return err
		}
		n = len(list.items)
	}
	if op.source >= n || op.destination >= n {
		return fmt.Errorf("the list has %d entries; source %d and destination %d must both be less", n, op.source, op.destination)
	}
	moveItem(list, op.source, op.destination)
	if comp := companion(obj, name); comp != nil && op.source < len(comp.items) && op.destination < len(comp.items) {
		moveItem(comp, op.source, op.destination)
	}
	return nil
}

// delete removes the element at path, if there is one, and then any
// element the removal left empty, which JSON for FHIR does not allow.
func (op *operation) delete(root *item) error {
	items, err := evaluate(root, op.steps)
	if err != nil {
		return err
	}
	switch {
	case len(items) == 0:
		return nil
	case len(items) > 1:
		return fmt.Errorf("the path matches %d elements; delete removes one", len(items))
	case items[0].up == nil:
		return errors.New("cannot delete the resource itself")
	}
	it := items[0]
	removeChild(it)
	for p := it.up; p.up != nil && isEmptyObject(p.val); p = p.up {
		removeChild(p)
	}
	return nil
}

func (op *operation) replace(root *item) error {
	it, err := op.one(root, op.steps, "replace")
	if err != nil {
		return err
	}
	if it.up == nil {
		return errors.New("cannot replace the resource itself; use update")
	}
	member, typ := it.name, it.typ
	switch {
	case slices.Contains(it.elem.Types, "Resource"):
		typ = "Resource"
	case it.elem.Choice && op.value.valueType != "" && op.value.valueType != typ:
		// A choice may change type: valueQuantity becomes valueString.
		if !slices.Contains(it.elem.Types, op.value.valueType) {
			return fmt.Errorf("%s cannot be a %s (it can be %s)", it.elem.Name, op.value.valueType, strings.Join(it.elem.Types, ", "))
		}
		typ = op.value.valueType
		member = it.elem.JSONName(typ)
	}
	val, ext, err := buildValue(op.value, typ)
	if err != nil {
		return err
	}
	obj := it.parent
	if it.index < 0 {
		obj.set(it.name, val)
		obj.rename(it.name, member)
		obj.remove("_" + it.name)
		if ext != nil {
			obj.set("_"+member, ext)
		}
		return nil
	}
	it.list.items[it.index] = val
	setCompanion(obj, it.name, it.index, ext)
	return nil
}

// resolveChild finds the element of t that name refers to and returns it
// with the JSON member name and type that v gives it. A choice named by its
// element name (value) takes its JSON name from v's type (valueQuantity).
func resolveChild(t *r4.Type, name string, v *param) (*r4.Element, string, string, error) {
	elem := findElement(t, name)
	if elem == nil {
		return nil, "", "", fmt.Errorf("%s has no element %s", t.Name, name)
	}
	if !elem.Choice {
		return elem, name, elem.Types[0], nil
	}
	if name != elem.Name {
		_, typ := t.Lookup(name)
		return elem, name, typ, nil
	}
	if v.valueType == "" || !slices.Contains(elem.Types, v.valueType) {
		return nil, "", "", fmt.Errorf("%s.%s[x] needs a value[x] of one of its types: %s", t.Name, elem.Name, strings.Join(elem.Types, ", "))
	}
	return elem, elem.JSONName(v.valueType), v.valueType, nil
}

// buildValue turns a value part into the JSON of an element of type typ,
// and the JSON of its _name companion when a primitive comes with an id or
// extensions.
func buildValue(v *param, typ string) (val, ext *node, err error) {
	switch {
	case v.value != nil:
		if err := compatible(v.valueType, typ); err != nil {
			return nil, nil, err
		}
		if v.ext != nil {
			ext = rawNode(v.ext)
		}
		return rawNode(v.value), ext, nil
	case v.resource != nil:
		if typ != "Resource" {
			return nil, nil, fmt.Errorf("the value is a resource, but the element needs a %s", typ)
		}
		val = rawNode(v.resource)
		if err := asResource(&item{val: val}); err != nil {
			return nil, nil, err
		}
		return val, nil, nil
	}
	if r4.IsPrimitive(typ) || typ == "Resource" {
		return nil, nil, fmt.Errorf("a %s must be given as a value, not as parts", typ)
	}
	t := r4.LookupType(typ)
	if t == nil {
		return nil, nil, fmt.Errorf("no definition for type %s", typ)
	}
	obj := newObject()
	for _, part := range v.parts {
		elem, member, ptyp, err := resolveChild(t, part.name, part)
		if err != nil {
			return nil, nil, err
		}
		pval, pext, err := buildValue(part, ptyp)
		if err != nil {
			return nil, nil, fmt.Errorf("part %s: %w", part.name, err)
		}
		if err := addChild(obj, t, elem, member, pval, pext); err != nil {
			return nil, nil, err
		}
	}
	return obj, nil, nil
}

// quantities are the data types that specialise Quantity and so may stand
// where a Quantity is expected.
var quantities = []string{"Age", "Count", "Distance", "Duration"}

// compatible reports, as an error, whether a value of type vt may stand for
// an element of type typ. Primitives whose JSON has the same form are
// interchangeable, so a code may be sent as a valueString, as clients do.
func compatible(vt, typ string) error {
	if vt == typ {
		return nil
	}
	vp, vok := r4.Primitives[vt]
	tp, tok := r4.Primitives[typ]
	if (vok && tok && vp.JSON == tp.JSON) || (typ == "Quantity" && slices.Contains(quantities, vt)) {
		return nil
	}
	if t := r4.LookupType(typ); t != nil && t.Kind == r4.BackboneKind {
		return fmt.Errorf("the value is a %s, but %s has no type of its own: give its content as parts", vt, typ)
	}
	return fmt.Errorf("the value is a %s, but the element needs a %s", vt, typ)
}

// addChild adds val as member of obj, an object of type t: appended to the
// array of a repeating element, or as the value of a single element, which
// must not have one yet.
func addChild(obj *node, t *r4.Type, elem *r4.Element, member string, val, ext *node) error {
	if !elem.Array {
		for _, m := range obj.members {
			if _, ok := memberType(t, elem, m.name); ok {
				return fmt.Errorf("%s already has %s; use replace to change it", t.Name, m.name)
			}
		}
		obj.set(member, val)
		if ext != nil {
			obj.set("_"+member, ext)
		}
		return nil
	}
	n := 0
	if list := obj.get(member); list != nil {
		if err := list.decode(); err != nil {
			return err
		}
		n = len(list.items)
	}
	return insertChild(obj, member, n, val, ext)
}

// insertChild inserts val at position i of obj's array member, creating it
// when absent, and keeps the _member companion array in step.
func insertChild(obj *node, member string, i int, val, ext *node) error {
	list := obj.get(member)
	if list == nil {
		list = newArray()
		obj.set(member, list)
	}
	if !list.isArray() {
		return fmt.Errorf("%s is not an array", member)
	}
	if err := list.decode(); err != nil {
		return err
	}
	if i > len(list.items) {
		return fmt.Errorf("index %d is past the end of %s, which has %d entries", i, member, len(list.items))
	}
	list.insertItem(i, val)
	comp := companion(obj, member)
	if comp == nil && ext == nil {
		return nil
	}
	if comp == nil {
		comp = newArray()
		obj.set("_"+member, comp)
	}
	for len(comp.items) < len(list.items)-1 {
		comp.items = append(comp.items, rawNode(json.RawMessage("null")))
	}
	if ext == nil {
		ext = rawNode(json.RawMessage("null"))
	}
	comp.insertItem(min(i, len(comp.items)), ext)
	return nil
}

// removeChild removes the element at it from its parent, with its share of
// the _name companion, and drops an array it leaves empty.
func removeChild(it *item) {
	obj := it.parent
	if it.index < 0 {
		obj.remove(it.name)
		obj.remove("_" + it.name)
		return
	}
	it.list.removeItem(it.index)
	if comp := companion(obj, it.name); comp != nil && it.index < len(comp.items) {
		comp.removeItem(it.index)
		dropIfNull(obj, "_"+it.name)
	}
	if len(it.list.items) == 0 {
		obj.remove(it.name)
		obj.remove("_" + it.name)
	}
}

// setCompanion sets the id and extensions of entry i of obj's primitive
// array member to ext, or clears them when ext is nil.
func setCompanion(obj *node, member string, i int, ext *node) {
	comp := companion(obj, member)
	if comp == nil && ext == nil {
		return
	}
	if comp == nil {
		comp = newArray()
		obj.set("_"+member, comp)
	}
	for len(comp.items) <= i {
		comp.items = append(comp.items, rawNode(json.RawMessage("null")))
	}
	if ext == nil {
		ext = rawNode(json.RawMessage("null"))
	}
	comp.items[i] = ext
	dropIfNull(obj, "_"+member)
}

// companion returns the decoded _member array that holds the ids and
// extensions of a primitive array's entries, or nil.
func companion(obj *node, member string) *node {
	comp := obj.get("_" + member)
	if comp == nil || !comp.isArray() || comp.decode() != nil {
		return nil
	}
	return comp
}

// dropIfNull removes a companion array that no longer carries anything.
func dropIfNull(obj *node, name string) {
	comp := obj.get(name)
	for _, it := range comp.items {
		if !it.isNull() {
			return
		}
	}
	obj.remove(name)
}

func moveItem(list *node, from, to int) {
	v := list.items[from]
	list.removeItem(from)
	list.insertItem(to, v)
}

func isEmptyObject(n *node) bool {
	return n.isObject() && n.decode() == nil && len(n.members) == 0
}
