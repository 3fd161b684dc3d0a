package rest

import (
	"net/http"
	"time"

	"github.com/sharedcare/sharedcare/api"
	"github.com/sharedcare/sharedcare/internal/fhir/r4"
)

// typeInteractions are the interactions every resource type supports.
var typeInteractions = []string{"read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create"}

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
		SystemInteractions: []string{"history-system"},
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
			Name:            t,
			Interactions:    it,
			Versioning:      "versioned-update",
			ReadHistory:     t != "AuditEvent",
			UpdateCreate:    t != "AuditEvent",
			ConditionalRead: "full-support",
		})
	}
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
