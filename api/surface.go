// Package api describes the server's REST surface once and renders that
// description two ways: as the FHIR R4 CapabilityStatement served at
// /fhir/metadata, and as an OpenAPI 3.0 document for generic HTTP tooling
// (Swagger UI, Postman, client generators). Both come from one Surface, so
// what FHIR clients are told and what OpenAPI clients are told cannot drift
// apart.
package api

import (
	"errors"
	"fmt"
	"time"
)

// Surface is everything a client may learn about the server's FHIR API.
type Surface struct {
	BaseURL     string    // public FHIR base, e.g. https://example.org/fhir
	Software    string    // product name
	Version     string    // product version
	Description string    // one line for people; Software when empty
	Date        time.Time // when this description was published, e.g. the release or start time

	Types              []Type
	SystemInteractions []string      // SystemRestfulInteraction codes: transaction, batch, search-system, history-system
	SearchParams       []SearchParam // parameters of search-system, which searches every type at once
	Operations         []Operation
	Security           *Security // nil when the API needs no credentials
}

// Type is what the server supports for one resource type.
type Type struct {
	Name         string
	Profile      string   // canonical URL all resources of the type conform to; the base definition when empty
	Interactions []string // TypeRestfulInteraction codes: read, vread, update, patch, delete, history-instance, history-type, create, search-type
	SearchParams []SearchParam

	Versioning        string // no-version, versioned or versioned-update; unstated when empty
	ReadHistory       bool   // vread returns past versions, not only the current one
	UpdateCreate      bool   // update may create a resource with a client-chosen id
	ConditionalCreate bool
	ConditionalUpdate bool
	ConditionalRead   string // not-supported, modified-since, not-match or full-support; unstated when empty
	ConditionalDelete string // not-supported, single or multiple; unstated when empty

	SearchInclude    []string // accepted _include values, e.g. Observation:patient
	SearchRevInclude []string // accepted _revinclude values
}

// SearchParam is one search parameter as a client uses it.
type SearchParam struct {
	Name          string // the code in a query, e.g. birthdate
	Type          string // SearchParamType code: number, date, string, token, reference, composite, quantity, uri, special
	Definition    string // canonical URL of the SearchParameter
	Documentation string // markdown
}

// Operation is one extended operation ($name) the server supports.
type Operation struct {
	Name          string // without the leading $, e.g. everything
	Type          string // resource type it is invoked on; empty for a system-level operation
	Instance      bool   // invoked on one resource ([type]/[id]/$name) rather than on the type
	Definition    string // canonical URL of the OperationDefinition
	Documentation string // markdown
	// AffectsState is OperationDefinition.affectsState: an operation that
	// changes nothing may also be invoked with GET and query parameters.
	AffectsState bool
	Parameters   []OperationParam // the in parameters of primitive type, which a GET may carry
	Returns      string           // resource type of the result, e.g. Bundle; any resource when empty
}

// OperationParam is one primitive in parameter of an operation.
type OperationParam struct {
	Name          string
	Type          string // FHIR primitive type code, e.g. date, integer, code
	Documentation string
}

// Security is how clients get and present credentials (SMART on FHIR).
type Security struct {
	Description  string // for people: how to obtain a token
	CORS         bool   // the server answers cross-origin requests from browser apps
	AuthorizeURL string // OAuth 2.0 authorization endpoint; empty when no user-facing flow is offered
	TokenURL     string // OAuth 2.0 token endpoint; empty when tokens are issued out of band
	// Scopes maps each OAuth scope a client may request to what it grants.
	// Only OpenAPI carries them: R4's CapabilityStatement has no place for scopes.
	Scopes map[string]string
}

// The codes each field may hold, from the R4 value sets.
var (
	typeInteractions = set("read", "vread", "update", "patch", "delete",
		"history-instance", "history-type", "create", "search-type")
	systemInteractions = set("transaction", "batch", "search-system", "history-system")
	searchParamTypes   = set("number", "date", "string", "token", "reference",
		"composite", "quantity", "uri", "special")
	versioningCodes        = set("", "no-version", "versioned", "versioned-update")
	conditionalReadCodes   = set("", "not-supported", "modified-since", "not-match", "full-support")
	conditionalDeleteCodes = set("", "not-supported", "single", "multiple")
)

func set(codes ...string) map[string]bool {
	m := make(map[string]bool, len(codes))
	for _, c := range codes {
		m[c] = true
	}
	return m
}

// validate reports every way s would produce a document that is invalid or
// that lies, so that a mistake in the tables the server builds s from
// stops the server at start rather than misleading clients.
func (s *Surface) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if s.BaseURL == "" {
		bad("no base URL")
	}
	if s.Software == "" || s.Version == "" {
		bad("software name and version are required")
	}
	if s.Date.IsZero() {
		bad("no publication date")
	}
	system := make(map[string]bool, len(s.SystemInteractions))
	for _, c := range s.SystemInteractions {
		if !systemInteractions[c] {
			bad("unknown system interaction %q", c)
		}
		if system[c] {
			bad("system interaction %s is listed twice", c)
		}
		system[c] = true
	}
	checkParams(s.SearchParams, "search-system", bad)

	types := make(map[string]bool, len(s.Types))
	for _, t := range s.Types {
		if t.Name == "" {
			bad("a type has no name")
			continue
		}
		if types[t.Name] {
			bad("type %s is listed twice", t.Name)
		}
		types[t.Name] = true
		seen := make(map[string]bool, len(t.Interactions))
		for _, c := range t.Interactions {
			if !typeInteractions[c] {
				bad("type %s: unknown interaction %q", t.Name, c)
			}
			if seen[c] {
				bad("type %s: interaction %s is listed twice", t.Name, c)
			}
			seen[c] = true
		}
		if !versioningCodes[t.Versioning] {
			bad("type %s: unknown versioning %q", t.Name, t.Versioning)
		}
		if !conditionalReadCodes[t.ConditionalRead] {
			bad("type %s: unknown conditional read %q", t.Name, t.ConditionalRead)
		}
		if !conditionalDeleteCodes[t.ConditionalDelete] {
			bad("type %s: unknown conditional delete %q", t.Name, t.ConditionalDelete)
		}
		checkParams(t.SearchParams, t.Name, bad)
	}

	ops := make(map[string]bool, len(s.Operations))
	for _, op := range s.Operations {
		where := "$" + op.Name
		switch {
		case op.Type == "" && op.Instance:
			bad("operation %s: an instance-level operation needs a type", where)
		case op.Type != "" && !types[op.Type]:
			bad("operation %s: type %s is not supported", where, op.Type)
		}
		if op.Name == "" || op.Name[0] == '$' {
			bad("operation %q: the name is required and has no leading $", op.Name)
		}
		if op.Definition == "" {
			bad("operation %s: no definition", where)
		}
		key := fmt.Sprintf("%s/%t/%s", op.Type, op.Instance, op.Name)
		if ops[key] {
			bad("operation %s on %q is listed twice", where, op.Type)
		}
		ops[key] = true
	}
	return errors.Join(errs...)
}

func checkParams(params []SearchParam, where string, bad func(string, ...any)) {
	names := make(map[string]bool, len(params))
	for _, p := range params {
		if p.Name == "" {
			bad("%s: a search parameter has no name", where)
		}
		if names[p.Name] {
			bad("%s: search parameter %s is listed twice", where, p.Name)
		}
		names[p.Name] = true
		if !searchParamTypes[p.Type] {
			bad("%s: search parameter %s has unknown type %q", where, p.Name, p.Type)
		}
	}
}
