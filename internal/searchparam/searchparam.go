// Package searchparam is the registry of the official FHIR R4 search
// parameters and the extraction of their values from a resource's raw JSON.
//
// The registry is generated from search-parameters.json. Each parameter's
// FHIRPath expression is compiled once, when the package is initialised,
// into a walker over decoded JSON; Extract runs the walkers of a resource
// type over one resource to produce the values the store indexes.
package searchparam

//go:generate go run ./gen -in search-parameters.json -out registry_gen.go

import (
	"sort"

	"github.com/sharedcare/sharedcare/internal/fhir/r4"
)

// Type is a search parameter type, as in SearchParameter.type.
type Type string

// The search parameter types of FHIR R4.
const (
	TypeNumber    Type = "number"
	TypeDate      Type = "date"
	TypeString    Type = "string"
	TypeToken     Type = "token"
	TypeReference Type = "reference"
	TypeComposite Type = "composite"
	TypeQuantity  Type = "quantity"
	TypeURI       Type = "uri"
	TypeSpecial   Type = "special"
)

// Param is one search parameter of one resource type.
type Param struct {
	Code string // the name used in a search, e.g. "birthdate"
	Type Type
	URL  string // canonical URL of the SearchParameter
	// Expression is the FHIRPath expression for this resource type only:
	// the parts of the official union that start from another type are
	// left out. Empty for _text, _content and _query, which have none.
	Expression  string
	Description string   // for the CapabilityStatement
	Targets     []string // resource types a reference parameter may point to
	// Components are the parts of a composite parameter, in the order their
	// values appear in a search ("code$value").
	Components []Component

	prog *program // nil when the expression is empty or cannot be compiled
	err  error    // why prog is nil
}

// Component is one part of a composite search parameter.
type Component struct {
	Code       string // code of the parameter that defines the part
	Type       Type
	URL        string
	Expression string // FHIRPath relative to each item the composite's expression selects
}

// Indexed reports whether Extract produces values for p. It is false for
// _text, _content and _query (no expression), Bundle's composition and
// message (they point into the bundle itself) and Location's near (special).
func (p *Param) Indexed() bool { return p.prog != nil }

// Lookup returns the search parameter code of resourceType.
func Lookup(resourceType, code string) (*Param, bool) {
	p, ok := reg.byType[resourceType][code]
	return p, ok
}

// ForType returns the search parameters of resourceType, sorted by code.
// It returns nil for an unknown type. The slice is shared: do not modify it.
func ForType(resourceType string) []*Param {
	return reg.sorted[resourceType]
}

// definition, componentDef and baseDef are the shapes of the generated table.
type definition struct {
	url        string
	code       string
	typ        Type
	targets    []string
	choices    []string // XPath element names: the JSON names of choice elements
	components []componentDef
	bases      []baseDef
}

type componentDef struct {
	url, code  string
	typ        Type
	expression string
}

type baseDef struct {
	resource, expression, description string
}

type registry struct {
	byType      map[string]map[string]*Param
	sorted      map[string][]*Param
	compartment map[string][]*Param // the Patient compartment's parameters of each type
}

var reg = buildRegistry()

// notDomainResources are the R4 resources that derive from Resource
// directly, so parameters on DomainResource do not apply to them.
var notDomainResources = map[string]bool{"Bundle": true, "Binary": true, "Parameters": true}

func buildRegistry() *registry {
	r := &registry{
		byType:      map[string]map[string]*Param{},
		sorted:      map[string][]*Param{},
		compartment: map[string][]*Param{},
	}
	add := func(t string, p *Param) {
		m := r.byType[t]
		if m == nil {
			m = map[string]*Param{}
			r.byType[t] = m
		}
		m[p.Code] = p
	}
	for i := range definitions {
		d := &definitions[i]
		for _, b := range d.bases {
			p := newParam(d, b)
			switch b.resource {
			case "Resource", "DomainResource":
				for _, t := range r4.ResourceTypes {
					if b.resource == "Resource" || !notDomainResources[t] {
						add(t, p)
					}
				}
			default:
				add(b.resource, p)
			}
		}
	}
	for t, m := range r.byType {
		ps := make([]*Param, 0, len(m))
		for _, p := range m {
			ps = append(ps, p)
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i].Code < ps[j].Code })
		r.sorted[t] = ps
	}
	for t, codes := range r4.PatientCompartment {
		for _, c := range codes {
			if p, ok := r.byType[t][c]; ok && p.prog != nil {
				r.compartment[t] = append(r.compartment[t], p)
			}
		}
	}
	return r
}

func newParam(d *definition, b baseDef) *Param {
	p := &Param{
		Code:        d.code,
		Type:        d.typ,
		URL:         d.url,
		Expression:  b.expression,
		Description: b.description,
		Targets:     d.targets,
	}
	for _, c := range d.components {
		p.Components = append(p.Components, Component{Code: c.code, Type: c.typ, URL: c.url, Expression: c.expression})
	}
	p.prog, p.err = compileParam(p, d.choices)
	return p
}
