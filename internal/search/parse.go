package search

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/fhir/r4"
	"github.com/sharedcare/sharedcare/internal/searchparam"
)

// maxDepth bounds the links of a chain or _has nesting, so that a query
// cannot make the database join without end.
const maxDepth = 4

// unknownError reports a parameter this server does not know or cannot
// search on: a warning in lenient handling, an error in strict.
type unknownError struct{ msg string }

func (e *unknownError) Error() string { return e.msg }

func unknownf(format string, args ...any) error {
	return &unknownError{fmt.Sprintf(format, args...)}
}

// ignored are the parameters that concern the HTTP exchange, not the
// search: package rest handles them.
var ignored = map[string]bool{"_format": true, "_pretty": true}

// Parse reads the parameters of a search of resourceType ("" for a system
// search, which reads _type) into a Query.
//
// Parameters this server does not know, or knows but cannot search on
// (_text, _content, _query, _filter, Location's near, ...), are left out
// of the query and reported as warnings; with strict (Prefer:
// handling=strict) they are a fhir.KindInvalid error instead. A known
// parameter with a malformed value or a modifier it does not support is
// always a fhir.KindInvalid error, as the specification requires.
func Parse(resourceType string, params url.Values, strict bool) (*Query, []fhir.Issue, error) {
	p := &parser{q: &Query{Count: DefaultCount}, strict: strict}
	if resourceType != "" {
		if !r4.IsResourceType(resourceType) {
			return nil, nil, fhir.Errorf(fhir.KindNotFound, "not-supported", "%q is not a FHIR R4 resource type", resourceType)
		}
		p.q.Types = []string{resourceType}
	} else if err := p.types(params["_type"]); err != nil {
		return nil, nil, err
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the same query whatever the order of the URL
	for _, k := range keys {
		for _, v := range params[k] {
			if err := p.param(k, v, resourceType == ""); err != nil {
				return nil, nil, err
			}
		}
	}
	if p.q.Page != nil && len(p.q.Page.Keys) != len(p.q.Sort) {
		return nil, nil, fhir.Errorf(fhir.KindInvalid, "invalid", "_page does not belong to this search's _sort")
	}
	return p.q, p.warnings, nil
}

type parser struct {
	q        *Query
	strict   bool
	warnings []fhir.Issue
}

// skip reports a parameter that is left out of the query.
func (p *parser) skip(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if p.strict {
		return fhir.Errorf(fhir.KindInvalid, "not-supported", "%s (Prefer: handling=strict)", msg)
	}
	p.warnings = append(p.warnings, fhir.Issue{Severity: "warning", Code: "not-supported", Diagnostics: msg + "; it was ignored"})
	return nil
}

func (p *parser) types(values []string) error {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				continue
			}
			if !r4.IsResourceType(t) {
				return fhir.Errorf(fhir.KindInvalid, "invalid", "_type: %q is not a FHIR R4 resource type", t)
			}
			if !slices.Contains(p.q.Types, t) {
				p.q.Types = append(p.q.Types, t)
			}
		}
	}
	return nil
}

// param reads one occurrence of a parameter.
func (p *parser) param(key, value string, system bool) error {
	q := p.q
	name, mod, _ := strings.Cut(key, ":")
	switch {
	case ignored[key]:
		return nil
	case key == "_type":
		if !system {
			return p.skip("_type is for searches across resource types (GET [base]?_type=...)")
		}
		return nil
	case key == "_count":
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 {
			return fhir.Errorf(fhir.KindInvalid, "invalid", "_count=%q is not a non-negative integer", value)
		}
		q.Count = min(n, MaxCount)
		return nil
	case key == "_sort":
		return p.sort(value)
	case name == "_include" || name == "_revinclude":
		return p.include(name == "_revinclude", mod, value)
	case key == "_total":
		switch t := Total(value); t {
		case TotalNone, TotalEstimate, TotalAccurate:
			q.Total = t
			return nil
		}
		return fhir.Errorf(fhir.KindInvalid, "invalid", "_total=%q: expected none, estimate or accurate", value)
	case key == "_summary":
		switch value {
		case "true", "text", "data", "count", "false":
			q.Summary = value
			return nil
		}
		return fhir.Errorf(fhir.KindInvalid, "invalid", "_summary=%q: expected true, text, data, count or false", value)
	case key == "_elements":
		for _, e := range strings.Split(value, ",") {
			if e = strings.TrimSpace(e); e != "" {
				q.Elements = append(q.Elements, e)
			}
		}
		return nil
	case key == "_page":
		c, err := DecodeCursor(value)
		if err != nil {
			return err
		}
		q.Page = c
		return nil
	case key == "_contained":
		if value == "false" {
			return nil
		}
		return p.skip("_contained=%s is not supported: contained resources are not searched", value)
	}
	if value == "" {
		return nil // an empty parameter is ignored, as the specification says
	}
	f, err := p.filter(q.Types, key, value, 0)
	var unknown *unknownError
	if errors.As(err, &unknown) {
		return p.skip("%s", unknown.msg)
	}
	if err != nil {
		return err
	}
	if f != nil {
		q.Filters = append(q.Filters, *f)
	}
	return nil
}

// lookup finds the parameter code of every type in types, and checks that
// all of them agree on its type. With no types (a search of every type)
// only the parameters every resource type has are known.
func lookup(types []string, code string) (*searchparam.Param, error) {
	if len(types) == 0 {
		p, ok := commonParams()[code]
		if !ok {
			return nil, unknownf("%q is not a search parameter of every resource type; name the types with _type to use it", code)
		}
		return p, nil
	}
	var first *searchparam.Param
	for _, t := range types {
		p, ok := searchparam.Lookup(t, code)
		if !ok {
			return nil, unknownf("unknown search parameter %q for %s", code, t)
		}
		if first == nil {
			first = p
		} else if p.Type != first.Type {
			return nil, fhir.Errorf(fhir.KindInvalid, "invalid", "search parameter %q is a %s on %s but a %s on %s", code, first.Type, types[0], p.Type, t)
		}
	}
	if !first.Indexed() {
		return nil, unknownf("search parameter %q is not supported by this server", code)
	}
	return first, nil
}

// commonParams are the parameters of every resource type.
var commonParams = sync.OnceValue(func() map[string]*searchparam.Param {
	m := map[string]*searchparam.Param{}
	for _, p := range searchparam.ForType(r4.ResourceTypes[0]) {
		m[p.Code] = p
	}
	for _, t := range r4.ResourceTypes[1:] {
		for code := range m {
			if _, ok := searchparam.Lookup(t, code); !ok {
				delete(m, code)
			}
		}
	}
	for code, p := range m {
		if !p.Indexed() {
			delete(m, code)
		}
	}
	return m
})

// filter parses the parameter key=value of a search of types; depth counts
// the chain and _has links above it.
func (p *parser) filter(types []string, key, value string, depth int) (*Filter, error) {
	if depth > maxDepth {
		return nil, fhir.Errorf(fhir.KindInvalid, "invalid", "%s: chains and _has nest at most %d deep", key, maxDepth)
	}
	if strings.HasPrefix(key, "_has:") {
		return p.has(types, key, value, depth)
	}
	head, rest, chained := strings.Cut(key, ".")
	code, mod, _ := strings.Cut(head, ":")
	if code == "_list" && !chained {
		return listFilter(key, mod, value)
	}
	param, err := lookup(types, code)
	if err != nil {
		return nil, err
	}
	f := &Filter{Param: param}
	if chained {
		return p.chain(types, f, key, mod, rest, value, depth)
	}
	if err := setModifier(f, key, mod); err != nil {
		return nil, err
	}
	if f.Modifier == ModMissing {
		switch value {
		case "true", "false":
			f.Missing = value == "true"
			return f, nil
		}
		return nil, invalid(key, "%q: :missing takes true or false", value)
	}
	for _, s := range split(value, ',') {
		if s == "" {
			continue
		}
		v, err := parseValue(key, param.Type, f.Modifier, param, s)
		if err != nil {
			return nil, err
		}
		if f.TargetType != "" {
			if v.Reference.Type == "" {
				v.Reference.Type = f.TargetType
			} else if v.Reference.Type != f.TargetType {
				return nil, invalid(key, "%q is not a %s", s, f.TargetType)
			}
		}
		f.Values = append(f.Values, v)
	}
	if len(f.Values) == 0 {
		return nil, nil
	}
	return f, nil
}

// modifiers are the modifiers each parameter type supports (:[type] on a
// reference is handled apart).
var modifiers = map[searchparam.Type][]Modifier{
	searchparam.TypeString:    {ModMissing, ModExact, ModContains},
	searchparam.TypeToken:     {ModMissing, ModNot, ModText, ModOfType},
	searchparam.TypeDate:      {ModMissing},
	searchparam.TypeNumber:    {ModMissing},
	searchparam.TypeQuantity:  {ModMissing},
	searchparam.TypeReference: {ModMissing, ModIdentifier},
	searchparam.TypeURI:       {ModMissing, ModBelow, ModAbove},
	searchparam.TypeComposite: {ModMissing},
}

func setModifier(f *Filter, key, mod string) error {
	if mod == "" {
		return nil
	}
	t := f.Param.Type
	if t == searchparam.TypeReference && r4.IsResourceType(mod) {
		if len(f.Param.Targets) > 0 && !slices.Contains(f.Param.Targets, mod) {
			return invalid(key, "%s cannot point at a %s", f.Param.Code, mod)
		}
		f.TargetType = mod
		return nil
	}
	if !slices.Contains(modifiers[t], Modifier(mod)) {
		return fhir.Errorf(fhir.KindInvalid, "not-supported", "search parameter %s: modifier :%s is not supported on a %s parameter", key, mod, t)
	}
	if f.Param.Code == "_id" || f.Param.Code == "_lastUpdated" {
		if mod != string(ModNot) {
			return fhir.Errorf(fhir.KindInvalid, "not-supported", "search parameter %s: modifier :%s is not supported on %s", key, mod, f.Param.Code)
		}
	}
	f.Modifier = Modifier(mod)
	return nil
}

// chain parses a chained parameter: head is a reference parameter, mod
// optionally its target type, and rest the parameter of the target.
func (p *parser) chain(types []string, f *Filter, key, mod, rest, value string, depth int) (*Filter, error) {
	if f.Param.Type != searchparam.TypeReference {
		return nil, invalid(key, "only a reference parameter can be chained; %s is a %s", f.Param.Code, f.Param.Type)
	}
	targets := f.Param.Targets
	if mod != "" {
		if !r4.IsResourceType(mod) || len(targets) > 0 && !slices.Contains(targets, mod) {
			return nil, invalid(key, "%s cannot point at a %q", f.Param.Code, mod)
		}
		targets = []string{mod}
	}
	// Without a type, the chain goes to the targets that have the next
	// parameter, as long as it means the same on all of them.
	next, _, _ := strings.Cut(rest, ".")
	next, _, _ = strings.Cut(next, ":")
	var kept []string
	for _, t := range targets {
		if _, ok := searchparam.Lookup(t, next); ok || strings.HasPrefix(rest, "_has:") {
			kept = append(kept, t)
		}
	}
	if len(kept) == 0 {
		return nil, unknownf("chained parameter %s: no resource type %s points at has a search parameter %q", key, f.Param.Code, next)
	}
	inner, err := p.filter(kept, rest, value, depth+1)
	if err != nil {
		var fe *fhir.Error
		if errors.As(err, &fe) && len(kept) > 1 && mod == "" {
			fe.Issues[0].Diagnostics += fmt.Sprintf(" (name the target type, e.g. %s:%s.%s)", f.Param.Code, kept[0], rest)
		}
		return nil, err
	}
	if inner == nil {
		return nil, nil
	}
	f.Chain = &Chain{Types: kept, Filter: *inner}
	return f, nil
}

// has parses _has:Type:param:rest.
func (p *parser) has(types []string, key, value string, depth int) (*Filter, error) {
	parts := strings.SplitN(key, ":", 4)
	if len(parts) != 4 || parts[3] == "" {
		return nil, invalid(key, "expected _has:Type:reference:parameter")
	}
	typ, code, rest := parts[1], parts[2], parts[3]
	if !r4.IsResourceType(typ) {
		return nil, invalid(key, "%q is not a FHIR R4 resource type", typ)
	}
	ref, ok := searchparam.Lookup(typ, code)
	if !ok || !ref.Indexed() {
		return nil, unknownf("unknown search parameter %q for %s in %s", code, typ, key)
	}
	if ref.Type != searchparam.TypeReference {
		return nil, invalid(key, "%s of %s is not a reference parameter", code, typ)
	}
	if len(types) > 0 && len(ref.Targets) > 0 && !slices.ContainsFunc(types, func(t string) bool { return slices.Contains(ref.Targets, t) }) {
		return nil, invalid(key, "%s of %s never points at %s", code, typ, strings.Join(types, " or "))
	}
	inner, err := p.filter([]string{typ}, rest, value, depth+1)
	if err != nil || inner == nil {
		return nil, err
	}
	return &Filter{Has: &Has{Type: typ, Param: ref, Filter: *inner}}, nil
}

// listFilter parses _list=id[,id]: the resources a List holds.
func listFilter(key, mod, value string) (*Filter, error) {
	if mod != "" {
		return nil, fhir.Errorf(fhir.KindInvalid, "not-supported", "search parameter %s: _list takes no modifier", key)
	}
	f := &Filter{Param: ListParam}
	for _, s := range split(value, ',') {
		id := unescape(s)
		if !fhir.ValidID(id) {
			return nil, invalid(key, "%q is not a List id (functional lists such as $current-allergies are not supported)", id)
		}
		f.Values = append(f.Values, Value{String: id})
	}
	return f, nil
}

// sortable are the parameter types _sort can order by.
var sortable = map[searchparam.Type]bool{
	searchparam.TypeString: true, searchparam.TypeToken: true, searchparam.TypeDate: true, searchparam.TypeNumber: true,
	searchparam.TypeQuantity: true, searchparam.TypeReference: true, searchparam.TypeURI: true,
}

func (p *parser) sort(value string) error {
	for _, s := range strings.Split(value, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		code, desc := strings.CutPrefix(s, "-")
		param, err := lookup(p.q.Types, code)
		if err != nil {
			return fhir.Errorf(fhir.KindInvalid, "invalid", "_sort: %q is not a search parameter of the types searched", code)
		}
		if !sortable[param.Type] {
			return fhir.Errorf(fhir.KindInvalid, "invalid", "_sort: cannot sort by %s, a %s parameter", code, param.Type)
		}
		p.q.Sort = append(p.q.Sort, Sort{Param: param, Desc: desc})
	}
	return nil
}

// include parses _include[:iterate]=Type:param[:target] or *, and the same
// for _revinclude.
func (p *parser) include(rev bool, mod, value string) error {
	name := "_include"
	if rev {
		name = "_revinclude"
	}
	inc := Include{}
	switch mod {
	case "":
	case "iterate", "recurse": // recurse is the STU3 name
		inc.Iterate = true
	default:
		return fhir.Errorf(fhir.KindInvalid, "not-supported", "%s:%s: the only modifier is :iterate", name, mod)
	}
	if value == "*" && !rev {
		p.q.Include = append(p.q.Include, inc)
		return nil
	}
	parts := strings.Split(value, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return fhir.Errorf(fhir.KindInvalid, "invalid", "%s=%q: expected Type:parameter[:targetType]", name, value)
	}
	inc.Type, inc.Param = parts[0], parts[1]
	if !r4.IsResourceType(inc.Type) {
		return fhir.Errorf(fhir.KindInvalid, "invalid", "%s=%q: %q is not a FHIR R4 resource type", name, value, inc.Type)
	}
	if !rev && !inc.Iterate && len(p.q.Types) > 0 && !slices.Contains(p.q.Types, inc.Type) {
		return fhir.Errorf(fhir.KindInvalid, "invalid", "%s=%q: %s is not a type searched (use :iterate to follow included resources)", name, value, inc.Type)
	}
	var targets []string
	if inc.Param == "*" {
		inc.Param = ""
	} else {
		ref, ok := searchparam.Lookup(inc.Type, inc.Param)
		if !ok || ref.Type != searchparam.TypeReference || !ref.Indexed() {
			return fhir.Errorf(fhir.KindInvalid, "invalid", "%s=%q: %s is not a reference parameter of %s", name, value, inc.Param, inc.Type)
		}
		targets = ref.Targets
	}
	if len(parts) == 3 {
		inc.Target = parts[2]
		if !r4.IsResourceType(inc.Target) || len(targets) > 0 && !slices.Contains(targets, inc.Target) {
			return fhir.Errorf(fhir.KindInvalid, "invalid", "%s=%q: %s cannot point at %q", name, value, inc.Param, inc.Target)
		}
	}
	if rev {
		p.q.RevInclude = append(p.q.RevInclude, inc)
	} else {
		p.q.Include = append(p.q.Include, inc)
	}
	return nil
}
