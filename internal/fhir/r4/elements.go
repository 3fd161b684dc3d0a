package r4

import (
	"strconv"
	"strings"
	"sync"
)

// Primitive describes an R4 primitive type.
type Primitive struct {
	JSON  string // the JSON type of the value: "string", "number" or "boolean"
	Regex string // the definition's regex for the value; empty for xhtml
}

// IsPrimitive reports whether code names an R4 primitive type.
func IsPrimitive(code string) bool {
	_, ok := Primitives[code]
	return ok
}

// TypeKind says what a Type describes.
type TypeKind uint8

// Type kinds.
const (
	ResourceKind TypeKind = iota + 1 // a concrete resource type
	DataTypeKind                     // a complex data type, Element included
	BackboneKind                     // an element defined inline in a resource or data type
)

// Type is the element table of one complex type, from its snapshot.
type Type struct {
	// Name is the type name, or for a backbone element its path in the
	// defining type (Patient.contact), which is also what an element typed
	// by contentReference (Questionnaire.item.item) names.
	Name     string
	Kind     TypeKind
	Elements []Element // in definition order

	members map[string]member // JSON member name -> element and type
}

// Element is one child element of a Type.
type Element struct {
	Name string // as defined, without the [x] of a choice element
	// Choice marks a choice element (value[x]), which appears in JSON under
	// one name per type: valueString, valueQuantity.
	Choice bool
	// Types are the allowed type codes: a primitive type, a complex Type's
	// Name, or "Resource" for a whole resource (contained, Bundle.entry.resource).
	Types    []string
	Min      int
	Max      int  // -1 for "*"
	Array    bool // represented as a JSON array (its base definition repeats)
	Summary  bool // part of the _summary=true view
	Modifier bool
}

// JSONName returns the JSON member name of the element carrying a value of
// type typ: the Name, or for a choice element Name followed by the type with
// its first letter in upper case.
func (e *Element) JSONName(typ string) string {
	if !e.Choice {
		return e.Name
	}
	return e.Name + strings.ToUpper(typ[:1]) + typ[1:]
}

type member struct {
	element int
	typ     string
	table   *Type
}

// Lookup resolves a JSON member name (birthDate, valueQuantity) without the
// leading underscore of a primitive's extension form. It returns the index of
// the element in t.Elements and the type the name carries, or -1 when t has
// no such element.
func (t *Type) Lookup(name string) (index int, typ string) {
	index, typ, _ = t.Resolve(name)
	return index, typ
}

// Resolve is Lookup that also returns the element table of the type (nil
// for a primitive or Resource). Validation resolves every member it sees,
// so the tables are found in advance rather than by LookupType.
func (t *Type) Resolve(name string) (index int, typ string, table *Type) {
	m, ok := t.members[name]
	if !ok {
		return -1, "", nil
	}
	return m.element, m.typ, m.table
}

// LookupType returns the element table of a complex type, a resource type or
// a backbone element path, or nil when there is none.
func LookupType(name string) *Type {
	return types()[name]
}

// types decodes elementTable on first use, so that programs and tests that
// never validate pay nothing for it.
var types = sync.OnceValue(func() map[string]*Type {
	m, err := decodeTypes(elementTable)
	if err != nil {
		panic("r4: generated element table: " + err.Error())
	}
	return m
})

// decodeTypes parses the generated table: a line "Name kind" (kind r, d or
// b) starts a type and each following line "\tname types min max flags"
// describes one element, where types is comma separated, max is a number or
// "*", and flags holds a (array), c (choice), s (summary) and m (modifier),
// or is "-".
func decodeTypes(table string) (map[string]*Type, error) {
	out := map[string]*Type{}
	var cur *Type
	for line := range strings.SplitSeq(table, "\n") {
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if line[0] != '\t' {
			if len(f) != 2 {
				return nil, errLine(line)
			}
			cur = &Type{Name: f[0], members: map[string]member{}}
			switch f[1] {
			case "r":
				cur.Kind = ResourceKind
			case "d":
				cur.Kind = DataTypeKind
			case "b":
				cur.Kind = BackboneKind
			default:
				return nil, errLine(line)
			}
			out[cur.Name] = cur
			continue
		}
		if cur == nil || len(f) != 5 {
			return nil, errLine(line)
		}
		el := Element{Name: f[0], Types: strings.Split(f[1], ","), Max: -1}
		var err error
		if el.Min, err = strconv.Atoi(f[2]); err != nil {
			return nil, errLine(line)
		}
		if f[3] != "*" {
			if el.Max, err = strconv.Atoi(f[3]); err != nil {
				return nil, errLine(line)
			}
		}
		el.Array = strings.Contains(f[4], "a")
		el.Choice = strings.Contains(f[4], "c")
		el.Summary = strings.Contains(f[4], "s")
		el.Modifier = strings.Contains(f[4], "m")
		cur.Elements = append(cur.Elements, el)
		for _, t := range el.Types {
			cur.members[el.JSONName(t)] = member{element: len(cur.Elements) - 1, typ: t}
		}
	}
	for _, t := range out {
		for name, m := range t.members {
			m.table = out[m.typ]
			t.members[name] = m
		}
	}
	return out, nil
}

type errLine string

func (e errLine) Error() string { return "bad line " + strconv.Quote(string(e)) }
