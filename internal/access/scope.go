package access

import (
	"errors"
	"slices"
	"strings"

	"github.com/sharedcare/sharedcare/internal/fhir"
)

// Interaction is a FHIR RESTful interaction, named by its code in
// http://hl7.org/fhir/restful-interaction so that the audit trail can use it
// as is. Instance and type level history are distinct because SMART v2
// grants them with different letters (r and s).
type Interaction string

// The interactions a scope can grant.
const (
	InteractionRead            Interaction = "read"
	InteractionVRead           Interaction = "vread"
	InteractionUpdate          Interaction = "update"
	InteractionPatch           Interaction = "patch"
	InteractionDelete          Interaction = "delete"
	InteractionHistoryInstance Interaction = "history-instance"
	InteractionHistoryType     Interaction = "history-type"
	InteractionCreate          Interaction = "create"
	InteractionSearchType      Interaction = "search-type"
	InteractionSearchSystem    Interaction = "search-system"
	InteractionHistorySystem   Interaction = "history-system"
	InteractionBatch           Interaction = "batch"
	InteractionTransaction     Interaction = "transaction"
)

// ReadOnly reports whether the interaction only reads: a request that
// writes may change what the access model decides in its course.
func (in Interaction) ReadOnly() bool {
	return needs[in]&(permCreate|permUpdate|permDelete) == 0 && in != InteractionBatch && in != InteractionTransaction
}

// permissions is a set of SMART v2 permission letters, the common ground
// of v1 and v2 scopes.
type permissions uint8

const (
	permCreate permissions = 1 << iota // c
	permRead                           // r: read, vread, instance history
	permUpdate                         // u: update, patch
	permDelete                         // d
	permSearch                         // s: search and type or system history

	permAll = permCreate | permRead | permUpdate | permDelete | permSearch
)

// needs maps an interaction to the permission that grants it.
var needs = map[Interaction]permissions{
	InteractionCreate:          permCreate,
	InteractionRead:            permRead,
	InteractionVRead:           permRead,
	InteractionHistoryInstance: permRead,
	InteractionUpdate:          permUpdate,
	InteractionPatch:           permUpdate,
	InteractionDelete:          permDelete,
	InteractionSearchType:      permSearch,
	InteractionSearchSystem:    permSearch,
	InteractionHistoryType:     permSearch,
	InteractionHistorySystem:   permSearch,
}

// Scope is one SMART resource scope, v1 (user/Observation.read) or v2
// (user/Observation.rs).
type Scope struct {
	// Context is "patient", "user" or "system". Patient scopes are kept
	// but grant nothing: this server has no launch context naming the
	// patient they would be limited to.
	Context string
	// ResourceType is a resource type name or "*" for every type.
	ResourceType string

	perms permissions
	raw   string
}

// String returns the scope as the token gave it.
func (s Scope) String() string { return s.raw }

// ParseScope parses one SMART scope. ok is false for anything that is not a
// resource scope (openid, launch, offline_access, ...) and for v2 scopes
// with a query restriction (user/Observation.rs?category=laboratory): this
// server cannot enforce the restriction, and granting the scope without it
// would widen what the authorization server allowed.
func ParseScope(s string) (scope Scope, ok bool) {
	ctx, rest, found := strings.Cut(s, "/")
	if !found || (ctx != "patient" && ctx != "user" && ctx != "system") {
		return Scope{}, false
	}
	typ, perm, found := strings.Cut(rest, ".")
	if !found || !validScopeType(typ) {
		return Scope{}, false
	}
	p, ok := parsePermissions(perm)
	if !ok {
		return Scope{}, false
	}
	return Scope{Context: ctx, ResourceType: typ, perms: p, raw: s}, true
}

// ParseScopes parses a space-separated scope string and drops what
// ParseScope rejects.
func ParseScopes(s string) []Scope {
	var out []Scope
	for _, f := range strings.Fields(s) {
		if sc, ok := ParseScope(f); ok {
			out = append(out, sc)
		}
	}
	return out
}

func validScopeType(t string) bool {
	if t == "*" {
		return true
	}
	if t == "" || t[0] < 'A' || t[0] > 'Z' {
		return false
	}
	for _, r := range t {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}

// parsePermissions reads the part after the dot: v1 read, write or *, or
// v2 letters, which SMART requires in the order c, r, u, d, s.
func parsePermissions(p string) (permissions, bool) {
	switch p {
	case "read":
		return permRead | permSearch, true
	case "write":
		return permCreate | permUpdate | permDelete, true
	case "*":
		return permAll, true
	case "":
		return 0, false
	}
	var out permissions
	next := 0
	for i := 0; i < len(p); i++ {
		at := strings.IndexByte("cruds"[next:], p[i])
		if at < 0 {
			return 0, false
		}
		next += at + 1
		out |= 1 << (next - 1)
	}
	return out, true
}

// grants reports whether s grants in on resourceType. An empty or "*"
// resourceType stands for every type, which only a wildcard scope covers.
func (s Scope) grants(resourceType string, need permissions) bool {
	if s.Context == "patient" || s.perms&need == 0 {
		return false
	}
	return s.ResourceType == "*" || (resourceType != "" && s.ResourceType == resourceType)
}

// Allowed reports whether the caller's scopes permit interaction in on
// resourceType. Pass "" (or "*") as resourceType for a whole-system search
// or history without _type: only a wildcard scope covers every type. Batch
// and transaction need no scope of their own, only some honoured scope, as
// each entry is checked on its own. Scopes are only the first gate: the
// caller's role, relationship and the patient's consent decide the rest.
func (c *Caller) Allowed(resourceType string, in Interaction) bool {
	if in == InteractionBatch || in == InteractionTransaction {
		return slices.ContainsFunc(c.Scopes, func(s Scope) bool { return s.Context != "patient" })
	}
	need, ok := needs[in]
	if !ok {
		return false
	}
	for _, s := range c.Scopes {
		if s.grants(resourceType, need) {
			return true
		}
	}
	return false
}

// ScopedTypes returns the resource types on which the caller's scopes permit
// in, sorted, or all true when a wildcard scope permits it on every type.
// It lets a whole-system search or history be narrowed to what the caller
// may see instead of refused.
func (c *Caller) ScopedTypes(in Interaction) (types []string, all bool) {
	need, ok := needs[in]
	if !ok {
		return nil, false
	}
	for _, s := range c.Scopes {
		if !s.grants(s.ResourceType, need) {
			continue
		}
		if s.ResourceType == "*" {
			return nil, true
		}
		types = append(types, s.ResourceType)
	}
	slices.Sort(types)
	return slices.Compact(types), false
}

// errInsufficientScope marks scope refusals so that BearerChallenge can
// answer with RFC 6750's insufficient_scope.
var errInsufficientScope = errors.New("insufficient scope")

// InsufficientScope returns the 403 for an interaction the caller's scopes
// do not permit. An empty resourceType means the whole system.
func InsufficientScope(resourceType string, in Interaction) *fhir.Error {
	what := resourceType
	if what == "" || what == "*" {
		what = "all resource types"
	}
	e := fhir.Errorf(fhir.KindForbidden, "forbidden", "the token's scopes do not permit %s on %s", in, what)
	e.Err = errInsufficientScope
	return e
}
