package rest

import (
	"net/http"
	"time"

	"github.com/sharedcare/sharedcare/api"
	"github.com/sharedcare/sharedcare/internal/fhir/r4"
	"github.com/sharedcare/sharedcare/internal/searchparam"
)

// typeInteractions are the interactions every resource type supports.
var typeInteractions = []string{"read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type"}

// conditionalDelete is the conditional delete mode of a type: one match at a time.
func conditionalDelete(t string) string {
	if t == "AuditEvent" {
		return "not-supported"
	}
	return "single"
}

// auditSearchParams are the AuditEvent search parameters of the audit trail
// (see auditevents.go); purpose, a server extension, is documented there.
var auditSearchParams = map[string]bool{"patient": true, "agent": true, "entity": true, "date": true}

// searchParams lists the search parameters the server answers for typ:
// every official one it indexes, plus the result parameters.
func searchParams(typ string) []api.SearchParam {
	var out []api.SearchParam
	for _, p := range searchparam.ForType(typ) {
		if !p.Indexed() && p.Code != "_id" && p.Code != "_lastUpdated" {
			continue
		}
		if typ == "AuditEvent" && !auditSearchParams[p.Code] {
			continue
		}
		out = append(out, api.SearchParam{Name: p.Code, Type: string(p.Type), Definition: p.URL, Documentation: p.Description})
	}
	return out
}

// surface describes what this server implements, from the same tables that
// drive the routes, so that the CapabilityStatement and the OpenAPI
// document cannot drift from them.
func (s *Server) surface(started time.Time) api.Surface {
	sf := api.Surface{
		BaseURL:            s.base,
		Software:           "sharedcare",
		Version:            s.version,
		Description:        "sharedcare: a FHIR R4 shared care record server",
		Date:               started,
		SystemInteractions: []string{"transaction", "batch", "history-system", "search-system"},
		Security: &api.Security{
			Description: "Bearer JWT (SMART on FHIR scopes) from the configured authorization server; " +
				"claims care_role, requesting_organization and reason_for_request decide what is visible.",
			CORS: false,
		},
	}
	for _, t := range r4.ResourceTypes {
		it := typeInteractions
		if t == "AuditEvent" {
			it = []string{"read", "search-type"}
		}
		sf.Types = append(sf.Types, api.Type{
			Name:             t,
			Interactions:     it,
			SearchParams:     searchParams(t),
			SearchInclude:    []string{"*"},
			SearchRevInclude: []string{"*"},
			Versioning:       "versioned-update",
			ReadHistory:      t != "AuditEvent",
			UpdateCreate:     t != "AuditEvent",
			ConditionalRead:  "full-support",
		})
	}
	sf.Operations = append(sf.Operations, everythingOperation)
	sf.Operations = append(sf.Operations, summaryOperation)
	return sf
}

// renderSurface renders the CapabilityStatement and OpenAPI documents once,
// at start: a mistake in the tables stops the server rather than misinform.
func (s *Server) renderSurface() error {
	sf := s.surface(time.Now().UTC())
	var err error
	if s.capability, err = api.CapabilityStatement(sf); err != nil {
		return err
	}
	s.openapi, err = api.OpenAPI(sf)
	return err
}

func (s *Server) metadata(w http.ResponseWriter, r *http.Request) error {
	s.writeBody(w, r, http.StatusOK, s.capability)
	return nil
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(s.openapi)
	return err
}
