package rest

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/fhir"
)

// Handler returns the whole HTTP surface of the server.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(s.recoverer, s.requestID, s.observe)
	r.NotFound(s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return fhir.Errorf(fhir.KindNotFound, "not-found", "no such endpoint: %s %s", r.Method, r.URL.Path)
	}))
	r.MethodNotAllowed(s.handle(methodNotAllowed))

	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Handle("/metrics", s.metrics.handler())
	r.Get("/.well-known/smart-configuration", s.public("smart-configuration", s.smartConfiguration))
	if s.devJWKS != nil {
		r.Get("/dev/jwks.json", s.public("dev-jwks", s.devKeySet))
	}

	r.Route("/fhir", func(r chi.Router) {
		r.NotFound(s.handle(func(w http.ResponseWriter, r *http.Request) error {
			return fhir.Errorf(fhir.KindNotFound, "not-supported", "no such FHIR endpoint: %s %s", r.Method, r.URL.Path)
		}))
		r.MethodNotAllowed(s.handle(methodNotAllowed))
		r.Use(s.fhirRequest)

		r.Get("/metadata", s.public("capabilities", s.metadata))
		r.Get("/openapi.json", s.public("openapi", s.openAPI))
		r.Get("/.well-known/smart-configuration", s.public("smart-configuration", s.smartConfiguration))
		r.Get("/_history", s.interaction(access.InteractionHistorySystem, s.historySystem))
		r.Get("/", s.interaction(access.InteractionSearchSystem, s.searchSystem))
		r.Post("/_search", s.interaction(access.InteractionSearchSystem, s.searchSystem))
		// The scope check of the bundle itself is the transaction one (any
		// scope outside a patient context); each entry is checked on its own.
		r.With(asType("Bundle")).Post("/", s.interaction(access.InteractionTransaction, s.processBundle))

		r.Route("/AuditEvent", func(r chi.Router) {
			r.Use(asType("AuditEvent"))
			r.Get("/", s.interaction(access.InteractionSearchType, s.auditEventSearch))
			r.Get("/{id}", s.interaction(access.InteractionRead, s.auditEventRead))
			r.HandleFunc("/*", s.handle(func(w http.ResponseWriter, r *http.Request) error {
				return fhir.Errorf(fhir.KindNotAllowed, "not-supported",
					"AuditEvents are written by the server only and cannot be created, changed or deleted through the API")
			}))
		})
		r.Route("/{type}", func(r chi.Router) {
			r.Use(s.resourceType)
			r.With(s.writableType).Post("/", s.interaction(access.InteractionCreate, s.create))
			r.Get("/_history", s.interaction(access.InteractionHistoryType, s.historyType))
			r.Get("/", s.interaction(access.InteractionSearchType, s.searchType))
			r.Post("/_search", s.interaction(access.InteractionSearchType, s.searchType))
			r.Get("/{id}/$everything", s.interaction(access.InteractionSearchType, s.everything))
			r.Post("/{id}/$everything", s.interaction(access.InteractionSearchType, s.everything))
			r.Get("/{id}/$summary", s.interaction(access.InteractionSearchType, s.patientSummary))
			r.Get("/{id}/{compartment}", s.interaction(access.InteractionSearchType, s.searchCompartment))
			r.Get("/{id}", s.interaction(access.InteractionRead, s.read))
			r.Head("/{id}", s.interaction(access.InteractionRead, s.read))
			r.With(s.writableType).Put("/{id}", s.interaction(access.InteractionUpdate, s.update))
			r.With(s.writableType).Patch("/{id}", s.interaction(access.InteractionPatch, s.patch))
			r.With(s.writableType).Delete("/{id}", s.interaction(access.InteractionDelete, s.delete))
			r.With(s.writableType).Put("/", s.interaction(access.InteractionUpdate, s.conditionalUpdate))
			r.With(s.writableType).Patch("/", s.interaction(access.InteractionPatch, s.patch))
			r.With(s.writableType).Delete("/", s.interaction(access.InteractionDelete, s.conditionalDelete))
			r.Get("/{id}/_history", s.interaction(access.InteractionHistoryInstance, s.historyInstance))
			r.Get("/{id}/_history/{vid}", s.interaction(access.InteractionVRead, s.vread))
			r.Head("/{id}/_history/{vid}", s.interaction(access.InteractionVRead, s.vread))
		})
	})
	return r
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) error {
	return fhir.Errorf(fhir.KindNotAllowed, "not-supported", "method %s is not allowed on %s", r.Method, r.URL.Path)
}
