package searchparam

import (
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/sharedcare/sharedcare/internal/fhir"
)

// Value is one index entry: a value of one search parameter in a resource.
// Type says which of the typed fields holds it.
type Value struct {
	Param string // the parameter's code
	Type  Type

	String     StringValue    // TypeString
	Token      TokenValue     // TypeToken
	Date       DateValue      // TypeDate
	Number     NumberValue    // TypeNumber
	Quantity   QuantityValue  // TypeQuantity
	Reference  ReferenceValue // TypeReference
	URI        string         // TypeURI
	Components []Value        // TypeComposite: one value per component, in the parameter's order
}

// StringValue is the value of a string parameter.
type StringValue struct {
	Value      string // as written
	Normalized string // Normalize(Value), for case- and accent-insensitive starts-with matching
}

// TokenValue is the value of a token parameter: a code in a system, or an
// identifier's value in its namespace.
type TokenValue struct {
	System  string // Coding.system, Identifier.system or ContactPoint.system
	Code    string // Coding.code, Identifier.value, ContactPoint.value, or the primitive ("true" for a boolean)
	Display string // Coding.display, for :text
	Text    string // CodeableConcept.text or Identifier.type.text, for :text
	// TypeSystem and TypeCode are the first coding of Identifier.type, for :of-type.
	TypeSystem, TypeCode string
}

// DateValue is the period of time a date parameter's value covers, from Low
// (inclusive) to High (exclusive): the date 2024-03 covers
// [2024-03-01T00:00:00Z, 2024-04-01T00:00:00Z). An open end of a Period is
// MinTime or MaxTime. Times are in UTC; a dateTime without a time zone is
// taken as UTC.
type DateValue struct {
	Low, High time.Time
}

// MinTime and MaxTime stand for the open ends of a Period. Both fit a
// Postgres timestamptz.
var (
	MinTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

// NumberValue is a decimal and the range its precision implies: 5.4 stands
// for any number in [5.35, 5.45]. Value is the decimal as written; it is
// empty for a Range, whose Low and High come from its ends. An empty Low
// or High is unbounded.
type NumberValue struct {
	Value, Low, High string
}

// QuantityValue is the value of a quantity parameter. Money is a quantity
// whose system is urn:iso:std:iso:4217 and whose code is the currency.
type QuantityValue struct {
	NumberValue
	System, Code, Unit string
}

// ReferenceValue is the value of a reference parameter.
type ReferenceValue struct {
	// Type and ID name the target when the reference is Type/id, or an
	// absolute URL ending in Type/id; Type also comes from Reference.type.
	Type, ID, Version string
	// URL is the reference as written unless it is a relative Type/id: an
	// absolute URL, a urn:uuid:, a #contained reference or a canonical.
	URL string
	// IdentifierSystem and IdentifierValue are Reference.identifier, for a
	// logical reference.
	IdentifierSystem, IdentifierValue string
}

// maxCombinations bounds the values a composite takes from one item, so that
// a resource with long lists cannot multiply its index rows without limit.
const maxCombinations = 64

// Extract returns the values of every search parameter of resourceType in
// the resource raw. Parameters without an index (see Param.Indexed) give
// none. The error is a fhir.KindInvalid error when raw is not a JSON object of
// that type.
func Extract(resourceType string, raw []byte) ([]Value, error) {
	params, ok := reg.sorted[resourceType]
	if !ok {
		return nil, fhir.Errorf(fhir.KindInvalid, "not-supported", "unknown resource type %q", resourceType)
	}
	root, err := decode(resourceType, raw)
	if err != nil {
		return nil, err
	}
	c := getCtx(root)
	defer putCtx(c)
	// Values are large; collect them in the pooled scratch slice and return
	// a copy of exactly the right size.
	vals := c.vals
	for _, p := range params {
		if p.prog != nil {
			vals = p.prog.appendValues(c, vals)
		}
	}
	c.vals = vals
	return append([]Value(nil), vals...), nil
}

// decode parses raw once into the generic form the walkers read: objects
// are map[string]any and numbers json.Number, so decimals keep their digits.
func decode(resourceType string, raw []byte) (map[string]any, error) {
	v, err := parseJSON(raw) // as json.Decoder with UseNumber, without reflection
	if errors.Is(err, errTrailingData) {
		return nil, fhir.Errorf(fhir.KindInvalid, "structure", "resource has data after its JSON object")
	}
	if err != nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "structure", "resource is not valid JSON: %v", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fhir.Errorf(fhir.KindInvalid, "structure", "resource is not a JSON object")
	}
	if rt, _ := m["resourceType"].(string); rt != resourceType {
		return nil, fhir.Errorf(fhir.KindInvalid, "invalid", "resourceType is %q, expected %q", rt, resourceType)
	}
	return m, nil
}

var ctxPool = sync.Pool{New: func() any { return &evalCtx{buf: make([]item, 0, 64), vals: make([]Value, 0, 32)} }}

func getCtx(root map[string]any) *evalCtx {
	c := ctxPool.Get().(*evalCtx)
	c.root = item{v: root}
	return c
}

// maxPooledItems bounds the scratch space kept for reuse, so that one huge
// resource does not pin its memory in the pool.
const maxPooledItems = 1 << 14

func putCtx(c *evalCtx) {
	if cap(c.buf) > maxPooledItems || cap(c.vals) > maxPooledItems {
		return
	}
	clear(c.buf[:cap(c.buf)]) // drop references into the decoded resource
	c.buf = c.buf[:0]
	clear(c.vals)
	c.vals = c.vals[:0]
	c.root = item{}
	ctxPool.Put(c)
}

// appendValues evaluates the program over the resource and appends its
// values to out.
func (p *program) appendValues(c *evalCtx, out []Value) []Value {
	start := len(c.buf)
	items := p.root.eval(c, c.push(c.root))
	first := len(out)
	if p.typ == TypeComposite {
		for _, it := range items {
			out = p.appendComposites(c, it, out)
		}
	} else {
		for _, it := range items {
			out = appendItem(out, p.code, p.typ, it)
		}
	}
	c.buf = c.buf[:start]
	return dedupe(out, first)
}

// appendComposites appends one composite value for each combination of the
// components' values on the item focus. Each component value carries the
// code of the parameter that defines it.
func (p *program) appendComposites(c *evalCtx, focus item, out []Value) []Value {
	parts := make([][]Value, len(p.components))
	combinations := 1
	for i, comp := range p.components {
		mark := len(c.buf)
		for _, it := range comp.root.eval(c, c.push(focus)) {
			parts[i] = appendItem(parts[i], comp.code, comp.typ, it)
		}
		c.buf = c.buf[:mark]
		parts[i] = dedupe(parts[i], 0)
		combinations = min(combinations*len(parts[i]), maxCombinations)
		if combinations == 0 {
			return out
		}
	}
	pick := make([]int, len(parts))
	for range combinations {
		v := Value{Param: p.code, Type: TypeComposite, Components: make([]Value, len(parts))}
		for i, idx := range pick {
			v.Components[i] = parts[i][idx]
		}
		out = append(out, v)
		for i := len(pick) - 1; i >= 0; i-- { // next combination, like an odometer
			if pick[i]++; pick[i] < len(parts[i]) {
				break
			}
			pick[i] = 0
		}
	}
	return out
}

// appendItem appends the values of type t that the item holds.
func appendItem(out []Value, code string, t Type, it item) []Value {
	switch t {
	case TypeString:
		return appendStrings(out, code, it)
	case TypeToken:
		return appendTokens(out, code, it)
	case TypeDate:
		return appendDates(out, code, it)
	case TypeNumber:
		if n, ok := numberOf(it.v); ok {
			return append(out, Value{Param: code, Type: TypeNumber, Number: n})
		}
	case TypeQuantity:
		return appendQuantity(out, code, it)
	case TypeReference:
		if r, ok := referenceOf(it.v); ok {
			return append(out, Value{Param: code, Type: TypeReference, Reference: r})
		}
	case TypeURI:
		if s, ok := it.v.(string); ok && s != "" {
			return append(out, Value{Param: code, Type: TypeURI, URI: s})
		}
	}
	return out
}

// stringParts are the members of HumanName and Address (and the text of
// any element) that a string parameter on them matches.
var stringParts = []string{"text", "family", "given", "prefix", "suffix", "line", "city", "district", "state", "postalCode", "country"}

func appendStrings(out []Value, code string, it item) []Value {
	add := func(s string) {
		if s != "" {
			out = append(out, Value{Param: code, Type: TypeString, String: StringValue{Value: s, Normalized: Normalize(s)}})
		}
	}
	switch v := it.v.(type) {
	case string:
		add(v)
	case map[string]any:
		for _, k := range stringParts {
			switch p := v[k].(type) {
			case string:
				add(p)
			case []any:
				for _, e := range p {
					if s, ok := e.(string); ok {
						add(s)
					}
				}
			}
		}
	}
	return out
}

// notTokens are data types that a choice element may take but that a token
// parameter does not match.
var notTokens = map[string]bool{
	"Quantity": true, "Range": true, "Ratio": true, "Period": true, "Reference": true,
	"SampledData": true, "Attachment": true, "Age": true, "Duration": true, "Money": true,
}

func appendTokens(out []Value, code string, it item) []Value {
	tok := func(t TokenValue) {
		out = append(out, Value{Param: code, Type: TypeToken, Token: t})
	}
	switch v := it.v.(type) {
	case string:
		if v != "" {
			tok(TokenValue{Code: v})
		}
	case bool:
		if v {
			tok(TokenValue{Code: "true"})
		} else {
			tok(TokenValue{Code: "false"})
		}
	case map[string]any:
		if notTokens[it.typ] {
			return out
		}
		_, hasCoding := v["coding"]
		value, hasValue := v["value"].(string)
		switch {
		case hasCoding || it.typ == "CodeableConcept" || (!hasValue && v["code"] == nil && v["system"] == nil):
			text := str(v, "text")
			n := len(out)
			codings, _ := v["coding"].([]any)
			for _, e := range codings {
				if cd, ok := e.(map[string]any); ok {
					if t, ok := coding(cd); ok {
						t.Text = text
						tok(t)
					}
				}
			}
			if len(out) == n && text != "" {
				tok(TokenValue{Text: text})
			}
		case hasValue:
			t := TokenValue{System: str(v, "system"), Code: value}
			if typ, ok := v["type"].(map[string]any); ok {
				t.Text = str(typ, "text")
				if cd, ok := firstObject(typ["coding"]); ok {
					t.TypeSystem, t.TypeCode = str(cd, "system"), str(cd, "code")
				}
			}
			if t.Code != "" || t.System != "" {
				tok(t)
			}
		default:
			if t, ok := coding(v); ok {
				tok(t)
			}
		}
	}
	return out
}

func coding(m map[string]any) (TokenValue, bool) {
	t := TokenValue{System: str(m, "system"), Code: str(m, "code"), Display: str(m, "display")}
	return t, t.System != "" || t.Code != ""
}

func appendDates(out []Value, code string, it item) []Value {
	add := func(low, high time.Time) {
		out = append(out, Value{Param: code, Type: TypeDate, Date: DateValue{Low: low, High: high}})
	}
	switch v := it.v.(type) {
	case string:
		if low, high, ok := dateRange(v); ok {
			add(low, high)
		}
	case map[string]any:
		if low, high, ok := period(v); ok {
			add(low, high)
		}
		// A Timing covers each of its events and the bounds of its repeat.
		if events, ok := v["event"].([]any); ok {
			for _, e := range events {
				if s, ok := e.(string); ok {
					if low, high, ok := dateRange(s); ok {
						add(low, high)
					}
				}
			}
		}
		if repeat, ok := v["repeat"].(map[string]any); ok {
			if b, ok := repeat["boundsPeriod"].(map[string]any); ok {
				if low, high, ok := period(b); ok {
					add(low, high)
				}
			}
		}
	}
	return out
}

// period returns the range of a Period; either end may be open, not both.
func period(m map[string]any) (low, high time.Time, ok bool) {
	start, hasStart := m["start"].(string)
	end, hasEnd := m["end"].(string)
	if !hasStart && !hasEnd {
		return low, high, false
	}
	low, high = MinTime, MaxTime
	if hasStart {
		if low, _, ok = dateRange(start); !ok {
			return low, high, false
		}
	}
	if hasEnd {
		if _, high, ok = dateRange(end); !ok {
			return low, high, false
		}
	}
	return low, high, true
}

// numberOf reads a decimal, or a Range whose ends are Quantities.
func numberOf(v any) (NumberValue, bool) {
	switch v := v.(type) {
	case json.Number:
		low, high, ok := decimalRange(string(v))
		return NumberValue{Value: string(v), Low: low, High: high}, ok
	case map[string]any:
		if q, ok := rangeOf(v); ok {
			return q.NumberValue, true
		}
	}
	return NumberValue{}, false
}

func appendQuantity(out []Value, code string, it item) []Value {
	m, ok := it.v.(map[string]any)
	if !ok {
		return out
	}
	if q, ok := quantity(m); ok {
		return append(out, Value{Param: code, Type: TypeQuantity, Quantity: q})
	}
	if q, ok := rangeOf(m); ok {
		return append(out, Value{Param: code, Type: TypeQuantity, Quantity: q})
	}
	return out
}

// quantity reads a Quantity or one of its kinds (Age, Duration, Money...).
func quantity(m map[string]any) (QuantityValue, bool) {
	n, ok := m["value"].(json.Number)
	if !ok {
		return QuantityValue{}, false
	}
	low, high, ok := decimalRange(string(n))
	if !ok {
		return QuantityValue{}, false
	}
	q := QuantityValue{
		NumberValue: NumberValue{Value: string(n), Low: low, High: high},
		System:      str(m, "system"),
		Code:        str(m, "code"),
		Unit:        str(m, "unit"),
	}
	if cur := str(m, "currency"); cur != "" {
		q.System, q.Code = "urn:iso:std:iso:4217", cur
	}
	return q, true
}

// rangeOf reads a Range: from the lower bound of its low to the upper bound
// of its high, with the units of whichever end has them.
func rangeOf(m map[string]any) (QuantityValue, bool) {
	lo, hasLow := m["low"].(map[string]any)
	hi, hasHigh := m["high"].(map[string]any)
	var r QuantityValue
	var ok bool
	if hasLow {
		var q QuantityValue
		if q, ok = quantity(lo); ok {
			r.Low, r.System, r.Code, r.Unit = q.Low, q.System, q.Code, q.Unit
		}
	}
	if hasHigh {
		if q, found := quantity(hi); found {
			r.High = q.High
			if !ok {
				r.System, r.Code, r.Unit = q.System, q.Code, q.Unit
			}
			ok = true
		}
	}
	return r, ok
}

// str returns the string member k of m, or "".
func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// firstObject returns the first object in the JSON array v.
func firstObject(v any) (map[string]any, bool) {
	a, _ := v.([]any)
	for _, e := range a {
		if m, ok := e.(map[string]any); ok {
			return m, true
		}
	}
	return nil, false
}

// dedupe removes from out[first:] the values that repeat an earlier one:
// union parts and repeated codings often yield the same value twice.
func dedupe(out []Value, first int) []Value {
	if len(out)-first < 2 || out[first].Type == TypeComposite {
		return out
	}
	n := first
	if len(out)-first <= 16 { // a map costs more than comparing a few values
	next:
		for _, v := range out[first:] {
			k := keyOf(&v)
			for j := first; j < n; j++ {
				if keyOf(&out[j]) == k {
					continue next
				}
			}
			out[n] = v
			n++
		}
	} else {
		seen := make(map[valueKey]struct{}, len(out)-first)
		for _, v := range out[first:] {
			k := keyOf(&v)
			if _, dup := seen[k]; dup {
				continue
			}
			seen[k] = struct{}{}
			out[n] = v
			n++
		}
	}
	clear(out[n:])
	return out[:n]
}

// valueKey is a Value without its components, which makes it comparable.
type valueKey struct {
	String    StringValue
	Token     TokenValue
	Date      DateValue
	Number    NumberValue
	Quantity  QuantityValue
	Reference ReferenceValue
	URI       string
}

func keyOf(v *Value) valueKey {
	return valueKey{
		String: v.String, Token: v.Token, Date: v.Date, Number: v.Number,
		Quantity: v.Quantity, Reference: v.Reference, URI: v.URI,
	}
}
