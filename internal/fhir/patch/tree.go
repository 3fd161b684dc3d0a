package patch

import (
	"bytes"
	"encoding/json"

	"github.com/sharedcare/sharedcare/internal/fhir"
)

// node is a JSON value that a FHIRPath Patch may edit. Only the objects and
// arrays that a path walks into are decoded; every other value stays as the
// compact bytes the client sent, so that writing the tree back changes
// nothing the patch did not touch.
type node struct {
	raw     json.RawMessage // the value's JSON while it is not decoded
	kind    byte            // '{' or '[' once decoded, 0 before
	members []member        // a decoded object's members, in document order
	items   []*node         // a decoded array's items
}

type member struct {
	name  string
	value *node
}

func rawNode(raw json.RawMessage) *node { return &node{raw: raw} }

func newObject() *node { return &node{kind: '{'} }

func newArray(items ...*node) *node { return &node{kind: '[', items: items} }

// first returns the first byte of n's JSON, which tells its type.
func (n *node) first() byte {
	if n.kind != 0 {
		return n.kind
	}
	if len(n.raw) == 0 {
		return 0
	}
	return n.raw[0]
}

func (n *node) isObject() bool { return n.first() == '{' }
func (n *node) isArray() bool  { return n.first() == '[' }

// isPrimitive reports whether n is a JSON string, number or boolean.
func (n *node) isPrimitive() bool {
	c := n.first()
	return c != '{' && c != '[' && c != 'n' && c != 0
}

func (n *node) isNull() bool { return n.kind == 0 && string(n.raw) == "null" }

// decode turns an object or array node into its members or items. The raw
// bytes were checked to be valid JSON when the tree was made, so an error
// here means a bug.
func (n *node) decode() error {
	if n.kind != 0 {
		return nil
	}
	switch n.first() {
	case '{':
		ms, err := fhir.Object(n.raw)
		if err != nil {
			return err
		}
		n.members = make([]member, len(ms))
		for i, m := range ms {
			n.members[i] = member{m.Key, rawNode(m.Value)}
		}
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(n.raw, &items); err != nil {
			return err
		}
		n.items = make([]*node, len(items))
		for i, it := range items {
			n.items[i] = rawNode(it)
		}
	default:
		return nil
	}
	n.kind, n.raw = n.first(), nil
	return nil
}

// get returns the value of member name of a decoded object, or nil.
func (n *node) get(name string) *node {
	if i := n.index(name); i >= 0 {
		return n.members[i].value
	}
	return nil
}

func (n *node) index(name string) int {
	for i, m := range n.members {
		if m.name == name {
			return i
		}
	}
	return -1
}

// set replaces member name of a decoded object in place, or appends it.
func (n *node) set(name string, v *node) {
	if i := n.index(name); i >= 0 {
		n.members[i].value = v
		return
	}
	n.members = append(n.members, member{name, v})
}

// remove deletes member name of a decoded object, if present.
func (n *node) remove(name string) {
	if i := n.index(name); i >= 0 {
		n.members = append(n.members[:i], n.members[i+1:]...)
	}
}

// rename gives member from the name to, keeping its place.
func (n *node) rename(from, to string) {
	if i := n.index(from); i >= 0 {
		n.members[i].name = to
	}
}

// insertItem inserts v at position i of a decoded array.
func (n *node) insertItem(i int, v *node) {
	n.items = append(n.items, nil)
	copy(n.items[i+1:], n.items[i:])
	n.items[i] = v
}

func (n *node) removeItem(i int) {
	n.items = append(n.items[:i], n.items[i+1:]...)
}

// write appends n's compact JSON to b.
func (n *node) write(b *bytes.Buffer) {
	switch n.kind {
	case '{':
		b.WriteByte('{')
		for i, m := range n.members {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, m.name)
			b.WriteByte(':')
			m.value.write(b)
		}
		b.WriteByte('}')
	case '[':
		b.WriteByte('[')
		for i, it := range n.items {
			if i > 0 {
				b.WriteByte(',')
			}
			it.write(b)
		}
		b.WriteByte(']')
	default:
		b.Write(n.raw)
	}
}

// writeString writes s as a JSON string without the HTML escaping of
// json.Marshal, to match how the rest of the document is kept.
func writeString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // encoding a string cannot fail
	// Encode ends what it writes with a newline.
	b.Truncate(b.Len() - 1)
}
