package search

import (
	"math/big"
	"strings"
	"time"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/fhir/r4"
	"github.com/sharedcare/sharedcare/internal/searchparam"
)

// split cuts s at every sep not escaped by a backslash. The parts keep
// their escapes, so that a part can be split again on another separator
// before unescape removes them.
func split(s string, sep byte) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++ // the next byte is escaped, whatever it is
		case sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// unescape removes the backslashes of \, \| \$ and \\. A backslash before
// anything else is kept: it escapes nothing.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`,|$\`, s[i+1]) >= 0 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func invalid(name, format string, args ...any) *fhir.Error {
	e := fhir.Errorf(fhir.KindInvalid, "invalid", format, args...)
	e.Issues[0].Diagnostics = "search parameter " + name + ": " + e.Issues[0].Diagnostics
	return e
}

// parseValue reads one value (one of the comma-separated alternatives,
// still escaped) of a parameter of type t.
func parseValue(name string, t searchparam.Type, mod Modifier, p *searchparam.Param, s string) (Value, error) {
	switch t {
	case searchparam.TypeString:
		v := unescape(s)
		return Value{String: v}, nil
	case searchparam.TypeURI:
		return Value{String: unescape(s)}, nil
	case searchparam.TypeToken:
		if mod == ModText {
			return Value{String: unescape(s)}, nil
		}
		tok, err := parseToken(name, s, mod == ModOfType)
		return Value{Token: tok}, err
	case searchparam.TypeDate:
		return parseDate(name, s)
	case searchparam.TypeNumber:
		prefix, rest := cutPrefix(s)
		n, err := parseNumber(name, unescape(rest))
		return Value{Prefix: prefix, Number: n}, err
	case searchparam.TypeQuantity:
		return parseQuantity(name, s)
	case searchparam.TypeReference:
		if mod == ModIdentifier {
			tok, err := parseToken(name, s, false)
			return Value{Token: tok}, err
		}
		return parseReference(name, unescape(s))
	case searchparam.TypeComposite:
		return parseComposite(name, p, s)
	}
	return Value{}, invalid(name, "parameters of type %s cannot be searched", t)
}

// parseToken reads [system|]code, or with ofType typesystem|typecode|value.
func parseToken(name, s string, ofType bool) (Token, error) {
	parts := split(s, '|')
	var t Token
	switch {
	case ofType:
		if len(parts) != 3 || parts[0] == "" && parts[1] == "" || parts[2] == "" {
			return t, invalid(name, "%q is not typesystem|typecode|value, as :of-type needs", s)
		}
		t.TypeSystem, t.TypeCode, t.Code = unescape(parts[0]), unescape(parts[1]), unescape(parts[2])
	case len(parts) == 1:
		t.Code = unescape(parts[0])
	case len(parts) == 2:
		t.System, t.Code, t.HasSystem = unescape(parts[0]), unescape(parts[1]), true
		if t.System == "" && t.Code == "" {
			return t, invalid(name, "%q has neither a system nor a code", s)
		}
	default:
		return t, invalid(name, "%q is not a token: expected code, system|code, |code or system| (escape a | in a value as \\|)", s)
	}
	return t, nil
}

var prefixes = map[string]Prefix{"eq": Eq, "ne": Ne, "gt": Gt, "lt": Lt, "ge": Ge, "le": Le, "sa": Sa, "eb": Eb, "ap": Ap}

// cutPrefix splits a comparison prefix off a value, Eq when there is none.
func cutPrefix(s string) (Prefix, string) {
	if len(s) >= 2 {
		if p, ok := prefixes[s[:2]]; ok {
			return p, s[2:]
		}
	}
	return Eq, s
}

// parseNumber reads a decimal and the range its precision implies: the
// value plus or minus half a unit of its last significant digit, so that
// 100 is [99.5, 100.5) and 1e2, with one significant digit, [50, 150).
func parseNumber(name, s string) (Number, error) {
	mantissa, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mantissa = s[:i]
		e, ok := new(big.Int).SetString(strings.TrimPrefix(s[i+1:], "+"), 10)
		if !ok || !e.IsInt64() || e.Int64() > 100 || e.Int64() < -100 {
			return Number{}, invalid(name, "%q is not a number", s)
		}
		exp = int(e.Int64())
	}
	if !decimalPattern(mantissa) {
		return Number{}, invalid(name, "%q is not a number", s)
	}
	v, ok := new(big.Rat).SetString(s)
	if !ok {
		return Number{}, invalid(name, "%q is not a number", s)
	}
	scale := -exp
	if dot := strings.IndexByte(mantissa, '.'); dot >= 0 {
		scale += len(mantissa) - dot - 1
	}
	// half = 5 * 10^-(scale+1)
	pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(scale+1))), nil)
	half := new(big.Rat).SetFrac(big.NewInt(5), pow)
	if scale+1 < 0 {
		half.SetInt(pow.Mul(pow, big.NewInt(5)))
	}
	places := max(scale+1, 0)
	return Number{
		Value: v.FloatString(max(scale, 0)),
		Low:   new(big.Rat).Sub(v, half).FloatString(places),
		High:  new(big.Rat).Add(v, half).FloatString(places),
	}, nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// decimalPattern reports whether s is [+-]digits[.digits].
func decimalPattern(s string) bool {
	s = strings.TrimLeft(s, "+-")
	intPart, frac, hasDot := strings.Cut(s, ".")
	return intPart != "" && allDigits(intPart) && (!hasDot || frac != "" && allDigits(frac))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseQuantity reads [prefix]number[|system|code].
func parseQuantity(name, s string) (Value, error) {
	prefix, rest := cutPrefix(s)
	parts := split(rest, '|')
	if len(parts) != 1 && len(parts) != 3 {
		return Value{}, invalid(name, "%q is not a quantity: expected [prefix]number or [prefix]number|system|code", s)
	}
	n, err := parseNumber(name, unescape(parts[0]))
	v := Value{Prefix: prefix, Number: n}
	if len(parts) == 3 {
		v.Unit = Token{System: unescape(parts[1]), Code: unescape(parts[2]), HasSystem: parts[1] != ""}
	}
	return v, err
}

// dateLayouts are the forms of a date search value with the precision
// each implies. A dateTime without a zone is UTC, as at indexing.
var dateLayouts = []struct {
	layout string
	width  func(time.Time) time.Time
}{
	{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
	{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
	{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
	{"2006-01-02T15:04Z07:00", func(t time.Time) time.Time { return t.Add(time.Minute) }},
	{"2006-01-02T15:04", func(t time.Time) time.Time { return t.Add(time.Minute) }},
}

// parseDate reads [prefix]date: a date, dateTime or instant of any
// precision, and the range of time it covers.
func parseDate(name, s string) (Value, error) {
	prefix, rest := cutPrefix(s)
	rest = unescape(rest)
	low, high, ok := dateRange(rest)
	if !ok {
		return Value{}, invalid(name, "%q is not a date: expected [prefix]YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss[.fff]][Z|+hh:mm]", s)
	}
	return Value{Prefix: prefix, Date: DateRange{Low: low, High: high}}, nil
}

// dateRange returns the period s covers, [low, high) in UTC.
func dateRange(s string) (low, high time.Time, ok bool) {
	for _, l := range dateLayouts {
		if t, err := time.Parse(l.layout, s); err == nil {
			return t.UTC(), l.width(t).UTC(), true
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05"} {
		t, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		// Each digit of a fraction of a second narrows the range tenfold.
		width := time.Second
		if i := strings.IndexByte(s, '.'); i >= 0 {
			for j := i + 1; j < len(s) && s[j] >= '0' && s[j] <= '9' && width > time.Nanosecond; j++ {
				width /= 10
			}
		}
		return t.UTC(), t.Add(width).UTC(), true
	}
	return low, high, false
}

// parseReference reads id, Type/id, Type/id/_history/v, or an absolute URL.
func parseReference(name, s string) (Value, error) {
	if s == "" {
		return Value{}, invalid(name, "a reference cannot be empty")
	}
	var r Reference
	if strings.Contains(s, "://") || strings.HasPrefix(s, "urn:") {
		r.URL = s
		path := s
		if i := strings.IndexByte(path, '|'); i >= 0 {
			path = path[:i]
		}
		r.Type, r.ID = typeAndID(path)
		return Value{Reference: r}, nil
	}
	if !strings.Contains(s, "/") {
		if !fhir.ValidID(s) {
			return Value{}, invalid(name, "%q is neither a resource id nor Type/id", s)
		}
		return Value{Reference: Reference{ID: s}}, nil
	}
	r.Type, r.ID = typeAndID(s)
	if r.Type == "" {
		return Value{}, invalid(name, "%q is not Type/id with a FHIR R4 resource type", s)
	}
	return Value{Reference: r}, nil
}

// typeAndID reads the Type/id at the end of a path, before any
// /_history/version.
func typeAndID(path string) (typ, id string) {
	if i := strings.LastIndex(path, "/_history/"); i >= 0 {
		path = path[:i]
	}
	j := strings.LastIndexByte(path, '/')
	if j < 0 {
		return "", ""
	}
	id, path = path[j+1:], path[:j]
	typ = path[strings.LastIndexByte(path, '/')+1:]
	if !fhir.ValidID(id) || !r4.IsResourceType(typ) {
		return "", ""
	}
	return typ, id
}

// parseComposite reads the $-separated parts of a composite value, each as
// a value of its component's type.
func parseComposite(name string, p *searchparam.Param, s string) (Value, error) {
	parts := split(s, '$')
	if len(parts) != len(p.Components) {
		return Value{}, invalid(name, "%q has %d parts; %s needs %d, separated by $", s, len(parts), p.Code, len(p.Components))
	}
	v := Value{Components: make([]Value, len(parts))}
	for i, c := range p.Components {
		if c.Type == searchparam.TypeComposite {
			return Value{}, invalid(name, "nested composites are not supported")
		}
		cv, err := parseValue(name, c.Type, ModNone, nil, parts[i])
		if err != nil {
			return Value{}, err
		}
		if c.Type == searchparam.TypeString && cv.String == "" {
			return Value{}, invalid(name, "part %d of %q is empty", i+1, s)
		}
		v.Components[i] = cv
	}
	return v, nil
}
