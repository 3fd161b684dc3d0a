package rest

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/record"
)

// Authenticator turns a request's bearer token into a Caller.
type Authenticator interface {
	Verify(r *http.Request) (*access.Caller, error)
}

const callerKey ctxKey = 100

// callerOf returns the authenticated caller of a request.
func callerOf(ctx context.Context) *access.Caller {
	c, _ := ctx.Value(callerKey).(*access.Caller)
	return c
}

// authorize authenticates the request and checks the caller's scopes for
// interaction on the route's resource type. It runs before any handler that
// touches data.
func (s *Server) authorize(r *http.Request, in access.Interaction) (*http.Request, error) {
	if !accessChecks {
		return r.WithContext(context.WithValue(r.Context(), callerKey, benchCaller)), nil
	}
	c, err := s.auth.Verify(r)
	if err != nil {
		return r, err
	}
	typ := chi.URLParam(r, "type")
	if typ == "" {
		if _, all := c.ScopedTypes(in); !all {
			return r, fhir.Errorf(fhir.KindForbidden, "forbidden",
				"%s across all resource types needs a wildcard scope (e.g. user/*.rs)", in)
		}
	} else if !c.Allowed(typ, in) {
		return r, access.InsufficientScope(typ, in)
	}
	return r.WithContext(context.WithValue(r.Context(), callerKey, c)), nil
}

// benchCaller stands for every caller in the benchmark build without access
// checks: a GP system of one practice with every scope.
var benchCaller = &access.Caller{
	Subject: "bench", CareRole: access.CareRoleSystem, Organization: "BENCH1",
	RecordSource: access.RecordSourceGP, Scopes: access.ParseScopes("system/*.cruds"),
}

// writeOptions are the record options of a write by the request's caller:
// the server's labels (access model, section 2) and the owner check.
func (s *Server) writeOptions(r *http.Request) record.Options {
	c := callerOf(r.Context())
	return record.Options{
		IfMatch: r.Header.Get("If-Match"),
		Owner:   c.Organization,
		Audit:   s.auditWrite(r),
		Tags: []fhir.Coding{
			{System: access.RecordSourceSystem, Code: c.SourceTag()},
			{System: access.ODSOrganizationSystem, Code: c.Organization},
		},
	}
}

func (s *Server) wwwAuthenticate(err error) string {
	return access.BearerChallenge("sharedcare", err)
}
