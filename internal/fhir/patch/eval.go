package patch

import (
	"errors"
	"fmt"

	"github.com/sharedcare/sharedcare/internal/fhir/r4"
)

// item is one element a path evaluates to, with what it takes to change it
// in place: the object that holds it and where.
type item struct {
	up     *item  // the item whose value holds this one; nil for the resource
	parent *node  // up's value; nil for the resource
	name   string // member name in parent, valueQuantity for a choice
	index  int    // position in list, or -1
	list   *node  // the member's array when the element repeats
	val    *node
	typ    string      // type code: primitive, data type, backbone path, or resource type
	elem   *r4.Element // the element's definition; nil for the resource
}

// typeOf returns the element table of its value, or nil for a primitive.
func (it *item) typeOf() (*r4.Type, error) {
	if r4.IsPrimitive(it.typ) {
		return nil, nil
	}
	t := r4.LookupType(it.typ)
	if t == nil {
		return nil, fmt.Errorf("no definition for type %s", it.typ)
	}
	return t, nil
}

// asResource sets the type of it, a whole resource (the one being patched
// or a contained one), from its resourceType.
func asResource(it *item) error {
	if err := it.val.decode(); err != nil {
		return err
	}
	rt, ok := jsonString(rawOf(it.val.get("resourceType")))
	if !ok || !it.val.isObject() {
		return errors.New("a resource has no resourceType")
	}
	if t := r4.LookupType(rt); t == nil || t.Kind != r4.ResourceKind {
		return fmt.Errorf("%s is not an R4 resource type", rt)
	}
	it.typ = rt
	return nil
}

// rawOf returns the JSON of an undecoded node, or nil.
func rawOf(n *node) []byte {
	if n == nil {
		return nil
	}
	return n.raw
}

// evaluate runs a parsed path from the resource. The first step may name the
// resource type, as patch paths do (Patient.name), or be the first child.
func evaluate(root *item, steps []step) ([]*item, error) {
	if steps[0].kind == stepChild && steps[0].name == root.typ {
		steps = steps[1:]
	} else if steps[0].kind == stepChild && r4.LookupType(steps[0].name) != nil {
		return nil, fmt.Errorf("the path starts with %s, but the resource is a %s", steps[0].name, root.typ)
	}
	items := []*item{root}
	for _, st := range steps {
		var err error
		if items, err = apply(items, st); err != nil {
			return nil, err
		}
	}
	return items, nil
}

func apply(items []*item, st step) ([]*item, error) {
	switch st.kind {
	case stepChild:
		return children(items, st.name)
	case stepIndex:
		if st.index < len(items) {
			return items[st.index : st.index+1], nil
		}
		return nil, nil
	case stepFirst:
		return items[:min(1, len(items))], nil
	case stepLast:
		return items[max(0, len(items)-1):], nil
	case stepOfType:
		var out []*item
		for _, it := range items {
			if it.typ == st.name {
				out = append(out, it)
			}
		}
		return out, nil
	case stepExtension:
		exts, err := children(items, "extension")
		if err != nil {
			return nil, err
		}
		return where(exts, []condition{{operand: []step{{kind: stepChild, name: "url"}}, literal: literal{'s', st.name}}})
	case stepWhere:
		return where(items, st.conds)
	}
	return nil, fmt.Errorf("unknown step %d", st.kind)
}

func where(items []*item, conds []condition) ([]*item, error) {
	var out []*item
	for _, it := range items {
		ok, err := holds(it, conds)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, it)
		}
	}
	return out, nil
}

func holds(it *item, conds []condition) (bool, error) {
	for _, c := range conds {
		vals := []*item{it}
		for _, st := range c.operand {
			var err error
			if vals, err = apply(vals, st); err != nil {
				return false, err
			}
		}
		// FHIRPath's = is empty, so false here, unless both sides are one item.
		if len(vals) != 1 || !vals[0].val.isPrimitive() || !c.literal.equals(vals[0].val.raw) {
			return false, nil
		}
	}
	return true, nil
}

// children returns the child elements called name of each item, in order,
// one item per entry of a repeating element.
func children(items []*item, name string) ([]*item, error) {
	var out []*item
	for _, it := range items {
		kids, err := childrenOf(it, name)
		if err != nil {
			return nil, err
		}
		out = append(out, kids...)
	}
	return out, nil
}

func childrenOf(it *item, name string) ([]*item, error) {
	t, err := it.typeOf()
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("cannot go into %s of the %s value %s: the id and extensions of primitive values are not supported", name, it.typ, it.name)
	}
	if err := it.val.decode(); err != nil {
		return nil, err
	}
	elem := findElement(t, name)
	if elem == nil {
		return nil, fmt.Errorf("%s has no element %s", t.Name, name)
	}
	var out []*item
	for _, m := range it.val.members {
		typ, ok := memberType(t, elem, m.name)
		// A JSON name of a choice (valueQuantity) picks that one type.
		if !ok || m.value.isNull() || (elem.Choice && name != elem.Name && name != m.name) {
			continue
		}
		if !m.value.isArray() {
			kid, err := newItem(it, m.name, nil, -1, m.value, typ, elem)
			if err != nil {
				return nil, err
			}
			out = append(out, kid)
			continue
		}
		if err := m.value.decode(); err != nil {
			return nil, err
		}
		for i, v := range m.value.items {
			if v.isNull() {
				continue
			}
			kid, err := newItem(it, m.name, m.value, i, v, typ, elem)
			if err != nil {
				return nil, err
			}
			out = append(out, kid)
		}
	}
	return out, nil
}

func newItem(up *item, name string, list *node, index int, val *node, typ string, elem *r4.Element) (*item, error) {
	it := &item{up: up, parent: up.val, name: name, index: index, list: list, val: val, typ: typ, elem: elem}
	if typ == "Resource" {
		return it, asResource(it)
	}
	return it, nil
}

// findElement returns t's element called name: its own name for a choice
// (value), or one of the JSON names (valueQuantity) that FHIRPath does not
// have but clients use.
func findElement(t *r4.Type, name string) *r4.Element {
	if i, _ := t.Lookup(name); i >= 0 {
		return &t.Elements[i]
	}
	for i := range t.Elements {
		if t.Elements[i].Name == name && t.Elements[i].Choice {
			return &t.Elements[i]
		}
	}
	return nil
}

// memberType reports whether JSON member name carries elem, and the type
// it carries.
func memberType(t *r4.Type, elem *r4.Element, name string) (string, bool) {
	i, typ := t.Lookup(name)
	if i < 0 || &t.Elements[i] != elem {
		return "", false
	}
	return typ, true
}
