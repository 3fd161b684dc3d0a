package rest

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/sharedcare/sharedcare/api"
	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/search"
	"github.com/sharedcare/sharedcare/internal/store"
	"github.com/sharedcare/sharedcare/internal/summary"
)

// patientSummary answers GET [base]/Patient/{id}/$summary: the patient's
// International Patient Summary-style document, built from what the
// caller may see (package summary).
func (s *Server) patientSummary(w http.ResponseWriter, r *http.Request) error {
	if typ := chi.URLParam(r, "type"); typ != "Patient" {
		return fhir.Errorf(fhir.KindNotFound, "not-supported", "operation $summary is not supported on %s: only on Patient", typ)
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if len(r.URL.Query()) > 0 {
		for k := range r.URL.Query() {
			if k != "_format" && k != "_pretty" {
				return fhir.Errorf(fhir.KindInvalid, "not-supported", "$summary takes no parameter %q", k)
			}
		}
	}
	patient, err := s.readPatient(r, id)
	if err != nil {
		return err
	}
	src := &summarySource{s: s, r: r}
	// The visibility is worked out once for the patient (its context costs
	// queries) and shared by every search of the summary. The query it is
	// worked out from is scoped to the patient by patient=, not as a
	// compartment, since the gate has already been passed above.
	scope, _, err := search.Parse("Condition", url.Values{"patient": {"Patient/" + id}}, true)
	if err != nil {
		return err
	}
	if src.visibility, err = s.patientVisibility(r, scope); err != nil {
		return err
	}
	doc, err := summary.Build(r.Context(), src, summary.Request{Patient: patient, Base: s.base, Now: time.Now(), Version: s.version})
	if err != nil {
		return err
	}
	s.writeBody(w, r, http.StatusOK, doc)
	return nil
}

// summarySource runs the summary's searches as a compartment search would
// for the caller: the same visibility, the same suppressed check, and
// only the types the token's scopes let it search.
type summarySource struct {
	s          *Server
	r          *http.Request
	visibility *search.Visibility
}

// Search implements summary.Source.
func (src *summarySource) Search(ctx context.Context, q *search.Query) (summary.Found, error) {
	caller := callerOf(ctx)
	if !caller.Allowed(q.Types[0], access.InteractionSearchType) {
		// A type the token may not read is withheld from this client.
		return summary.Found{Withheld: true}, nil
	}
	q.Base = src.s.base
	q.Visibility = src.visibility
	page, err := src.s.store.Search(ctx, q)
	if err != nil {
		return summary.Found{}, err
	}
	if page.Total == nil && page.Next == "" && !q.CountOnly() {
		// The page holds every visible match: it is the count, and the
		// suppressed check needs only the count of all matches.
		n := len(page.Matches)
		page.Total = &n
	}
	withheld, err := src.s.withheld(src.r, q, page)
	if err != nil {
		return summary.Found{}, err
	}
	caught, err := src.s.recheck(src.r, &page)
	if err != nil {
		return summary.Found{}, err
	}
	f := summary.Found{Matches: page.Matches, Withheld: withheld || caught}
	for _, inc := range page.Included {
		if caller.Allowed(inc.Type, access.InteractionSearchType) {
			f.Included = append(f.Included, inc)
		}
	}
	return f, nil
}

// Versions implements summary.Source: the history of one resource,
// filtered as a history read is.
func (src *summarySource) Versions(ctx context.Context, typ, id string, limit int) ([]fhir.Resource, error) {
	page, err := src.s.store.History(ctx, store.HistoryQuery{Type: typ, ID: id, Count: limit})
	if err != nil {
		return nil, err
	}
	visible, _, err := src.s.filter(src.r, page.Entries)
	return visible, err
}

// summaryOperation is $summary in the CapabilityStatement and OpenAPI
// document: the IPS operation, on one Patient, with no parameters.
var summaryOperation = api.Operation{
	Name:       "summary",
	Type:       "Patient",
	Instance:   true,
	Definition: "http://hl7.org/fhir/uv/ips/OperationDefinition/summary",
	Documentation: "The patient's International Patient Summary document: active problems, allergies, current medications, " +
		"immunisations, recent encounters, care plans and medication administration, each fact with its sources, " +
		"showing only what the access model lets the caller see.",
	Returns: "Bundle",
}
