// Package elements cuts a stored resource down to the subset that a read or
// search asks for with _summary or _elements, working on the raw JSON so
// that what remains keeps the client's member order and bytes (primitive
// extensions and contained resources included). Which elements belong to a
// summary comes from the isSummary flags of the R4 definitions (package r4).
//
// Every subset is marked with the SUBSETTED tag in meta.tag, as the
// specification requires, so that nobody mistakes it for the whole resource.
package elements

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/fhir/r4"
)

// Subsetted is the meta.tag that marks a resource as incomplete.
var Subsetted = fhir.Coding{System: "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", Code: "SUBSETTED"}

// Summary returns the view of a resource that _summary=mode asks for:
//
//   - true: only the elements the definitions mark as summary, at every
//     level, and the mandatory ones and the modifiers (R4 leaves a few
//     modifiers, modifierExtension above all, out of the summary, but what
//     remains would misstate the resource without them);
//   - text: resourceType, id, meta, text and the mandatory top-level elements;
//   - data: everything but text;
//   - false: raw itself, untouched.
//
// _summary=count concerns the search Bundle, not a resource, so it is an
// error here like any other unknown mode (fhir.KindInvalid).
func Summary(raw []byte, mode string) ([]byte, error) {
	if mode == "false" {
		return raw, nil
	}
	if mode != "true" && mode != "text" && mode != "data" {
		return nil, fhir.Errorf(fhir.KindInvalid, "invalid", "Unknown _summary value %q: expected true, text, data, count or false", mode)
	}
	top, t, err := resource(raw)
	if err != nil {
		return nil, err
	}
	var out []fhir.Member
	switch mode {
	case "true":
		out = summarise(top, t)
	case "text":
		out = keepTop(top, t, func(name string) bool { return name == "text" })
	case "data":
		for _, m := range top {
			if m.Key != "text" {
				out = append(out, m)
			}
		}
	}
	return tagged(out)
}

// Elements returns the view of a resource that _elements asks for: the
// listed top-level elements plus resourceType, id, meta and the mandatory
// elements. A name may carry the resource type (Patient.name), and names for
// other types are ignored, so that one list serves a search across types. A
// choice element is named with or without [x] (value, value[x]) or by one
// of its types (valueQuantity). A deeper path (name.family) selects its
// top-level element whole: the specification lets a server return more
// than was asked.
func Elements(raw []byte, elements []string) ([]byte, error) {
	top, t, err := resource(raw)
	if err != nil {
		return nil, err
	}
	want := map[int]bool{}
	for _, e := range elements {
		e = strings.TrimSpace(e)
		if typ, rest, ok := strings.Cut(e, "."); ok && typ != "" && typ[0] >= 'A' && typ[0] <= 'Z' {
			if typ != t.Name {
				continue
			}
			e = rest
		}
		e, _, _ = strings.Cut(e, ".")
		e = strings.TrimSuffix(e, "[x]")
		if i, _ := t.Lookup(e); i >= 0 {
			want[i] = true
			continue
		}
		for i := range t.Elements {
			if t.Elements[i].Name == e {
				want[i] = true
			}
		}
	}
	return tagged(keepTop(top, t, func(name string) bool {
		i, _ := t.Lookup(name)
		return want[i]
	}))
}

// resource splits raw into its members and finds its type's element table.
func resource(raw []byte) ([]fhir.Member, *r4.Type, error) {
	top, err := object(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("elements: resource is not a JSON object: %w", err)
	}
	t := resourceType(top)
	if t == nil {
		return nil, nil, errors.New("elements: no known resourceType")
	}
	return top, t, nil
}

// resourceType returns the element table of the resource whose members
// are top, or nil.
func resourceType(top []fhir.Member) *r4.Type {
	for _, m := range top {
		if m.Key == "resourceType" {
			rt, err := unquote(m.Value)
			if t := r4.LookupType(rt); err == nil && t != nil && t.Kind == r4.ResourceKind {
				return t
			}
		}
	}
	return nil
}

// keepTop keeps resourceType, id, meta, the mandatory elements and those
// named by want, each with its primitive extension form.
func keepTop(top []fhir.Member, t *r4.Type, want func(name string) bool) []fhir.Member {
	var out []fhir.Member
	for _, m := range top {
		name := strings.TrimPrefix(m.Key, "_")
		i, _ := t.Lookup(name)
		if m.Key == "resourceType" || name == "id" || name == "meta" || i >= 0 && t.Elements[i].Min > 0 || want(name) {
			out = append(out, m)
		}
	}
	return out
}

// summarise keeps the members of an object of type t that are summary,
// mandatory or modifier elements, and filters their values in turn. Unknown members are
// dropped; members left empty by the filtering go too.
func summarise(members []fhir.Member, t *r4.Type) []fhir.Member {
	var out []fhir.Member
	for _, m := range members {
		if m.Key == "resourceType" && t.Kind == r4.ResourceKind {
			out = append(out, m)
			continue
		}
		if strings.HasPrefix(m.Key, "_") {
			// A primitive's extension form holds only its id and
			// extensions, and neither is a summary element.
			continue
		}
		i, typ, table := t.Resolve(m.Key)
		if i < 0 {
			continue
		}
		if el := &t.Elements[i]; !el.Summary && el.Min == 0 && !el.Modifier {
			continue
		}
		var v json.RawMessage
		switch {
		case typ == "Resource":
			v = filterValue(m.Value, nil)
		case typ == "Extension" || table == nil:
			// A primitive, or an extension, which is kept whole or not at
			// all: its own url and value are not marked summary, yet mean
			// nothing apart.
			v = m.Value
		default:
			v = filterValue(m.Value, table)
		}
		if v != nil {
			out = append(out, fhir.Member{Key: m.Key, Value: v})
		}
	}
	return out
}

// filterValue summarises an object of type t, or each object in an array of
// them, or a resource when t is nil. It returns nil when nothing is left.
func filterValue(raw json.RawMessage, t *r4.Type) json.RawMessage {
	items, ok := array(raw)
	if !ok {
		return filterObject(raw, t)
	}
	out := items[:0]
	for _, item := range items {
		if f := filterObject(item, t); f != nil {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return encodeArray(out)
}

func filterObject(raw json.RawMessage, t *r4.Type) json.RawMessage {
	members, err := object(raw)
	if err != nil {
		return nil
	}
	if t == nil {
		if t = resourceType(members); t == nil {
			return nil
		}
	}
	members = summarise(members, t)
	if len(members) == 0 || len(members) == 1 && members[0].Key == "resourceType" {
		return nil
	}
	return encodeObject(members)
}

// tagged adds the SUBSETTED tag to meta.tag, creating meta after id (or
// first) when the resource has none, and encodes the resource compactly.
func tagged(top []fhir.Member) ([]byte, error) {
	metaAt := -1
	for i, m := range top {
		if m.Key == "meta" {
			metaAt = i
		}
	}
	var meta []fhir.Member
	if metaAt >= 0 {
		var err error
		if meta, err = object(top[metaAt].Value); err != nil {
			return nil, fmt.Errorf("elements: meta: %w", err)
		}
	}
	var tags []json.RawMessage
	tagAt := -1
	for i, m := range meta {
		if m.Key == "tag" {
			var ok bool
			if tags, ok = array(m.Value); !ok {
				return nil, errors.New("elements: meta.tag is not an array")
			}
			tagAt = i
		}
	}
	for _, tag := range tags {
		var c fhir.Coding
		if json.Unmarshal(tag, &c) == nil && c.System == Subsetted.System && c.Code == Subsetted.Code {
			return compact(encodeObject(top))
		}
	}
	sub, _ := json.Marshal(Subsetted)
	tagJSON := encodeArray(append(tags, sub))
	if tagAt >= 0 {
		meta[tagAt].Value = tagJSON
	} else {
		meta = append(meta, fhir.Member{Key: "tag", Value: tagJSON})
	}
	metaJSON := encodeObject(meta)
	if metaAt >= 0 {
		top[metaAt].Value = metaJSON
		return compact(encodeObject(top))
	}
	at := 0
	for i, m := range top {
		if m.Key == "resourceType" || m.Key == "id" || m.Key == "_id" {
			at = i + 1
		}
	}
	top = append(top[:at], append([]fhir.Member{{Key: "meta", Value: metaJSON}}, top[at:]...)...)
	return compact(encodeObject(top))
}
