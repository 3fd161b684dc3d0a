package rest

import (
	"net/http"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/sharedcare/sharedcare/api"
	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/summary"
)

// everythingOperation is $everything as the CapabilityStatement and the
// OpenAPI document list it.
var everythingOperation = api.Operation{
	Name:       "everything",
	Type:       "Patient",
	Instance:   true,
	Definition: "http://hl7.org/fhir/OperationDefinition/Patient-everything",
	Documentation: "The Patient, the resources of its compartment and the Organizations, Practitioners, " +
		"PractitionerRoles, Locations and Medications they reference, as far as the access model lets the caller see them; " +
		"a searchset paged in keyset order, with the suppressed warning when anything was withheld.",
	Parameters: []api.OperationParam{
		{Name: "start", Type: "date", Documentation: "leave out records whose care date ends before this date; undated records stay"},
		{Name: "end", Type: "date", Documentation: "leave out records whose care date starts after this date; undated records stay"},
		{Name: "_since", Type: "instant", Documentation: "only resources updated at or after this instant"},
		{Name: "_type", Type: "code", Documentation: "comma-separated resource types to return"},
		{Name: "_count", Type: "integer", Documentation: "page size (default 20, at most 1000)"},
	},
	Returns: "Bundle",
}

// everything answers GET and POST [base]/Patient/{id}/$everything: the
// Patient, its compartment and the resources they reference, one keyset
// page at a time, as a searchset that holds only what the caller may see.
func (s *Server) everything(w http.ResponseWriter, r *http.Request) error {
	if typ := chi.URLParam(r, "type"); typ != "Patient" {
		return fhir.Errorf(fhir.KindNotFound, "not-supported", "operation $everything is not supported on %s: only on Patient", typ)
	}
	if info, ok := r.Context().Value(infoKey).(*requestInfo); ok {
		info.interaction = "operation" // the audit trail's restful-interaction code
	}
	params, err := s.everythingParams(w, r)
	if err != nil {
		return err
	}
	e, err := summary.ParseEverything(chi.URLParam(r, "id"), params)
	if err != nil {
		return err
	}
	patient, err := s.readPatient(r, e.PatientID)
	if err != nil {
		return err
	}
	caller := callerOf(r.Context())

	var matches []fhir.Resource
	if e.WantsPatient(patient.LastUpdated) {
		matches = append(matches, patient)
	}
	var warnings []fhir.Issue
	var next string
	total := new(int)
	if e.CountsPatient(patient.LastUpdated) {
		*total = 1
	}
	if e.SearchesCompartment() {
		count := e.Count - len(matches)
		q := e.CompartmentQuery(count)
		q.Base = s.base
		// The caller's scopes narrow the types: a type it may not search
		// is simply not returned.
		q.Types = allowedTypes(caller, q.Types)
		if len(q.Types) > 0 {
			// The gate was passed above; the visibility compiles the
			// patient's restriction for this caller to SQL.
			if q.Visibility, err = s.patientVisibility(r, q); err != nil {
				return err
			}
			page, err := s.store.Search(r.Context(), q)
			if err != nil {
				return err
			}
			caught, err := s.recheck(r, &page)
			if err != nil {
				return err
			}
			if caught {
				warnings = append(warnings, suppressedIssue)
			}
			matches = append(matches, page.Matches...)
			if page.Total != nil {
				*total += *page.Total
			} else {
				total = nil
			}
			next = page.Next
			if count == 0 && page.Total != nil && *page.Total > 0 {
				next = summary.StartToken()
			}
			suppressed, err := s.withheld(r, q, page)
			if err != nil {
				return err
			}
			if suppressed && !caught {
				warnings = append(warnings, suppressedIssue)
			}
		}
	}
	included, err := s.supporting(r, e, matches)
	if err != nil {
		return err
	}

	opURL := s.base + "/Patient/" + e.PatientID + "/$everything"
	b := bundle{
		ResourceType: "Bundle",
		ID:           newBundleID(),
		Meta:         &bundleMeta{LastUpdated: time.Now().UTC().Format(fhir.LastUpdatedFormat)},
		Type:         "searchset",
		Total:        total,
		Link:         []bundleLink{{"self", e.Link(opURL, e.Page())}},
	}
	if next != "" {
		b.Link = append(b.Link, bundleLink{"next", e.Link(opURL, next)})
	}
	if len(warnings) > 0 {
		b.Entry = append(b.Entry, bundleEntry{
			FullURL:  "urn:uuid:" + uuid.NewString(),
			Resource: fhir.OperationOutcome(warnings...),
			Search:   &bundleSearch{Mode: "outcome"},
		})
	}
	add := func(rs []fhir.Resource, mode string) {
		for _, res := range rs {
			b.Entry = append(b.Entry, bundleEntry{
				FullURL:  s.base + "/" + res.Type + "/" + res.ID,
				Resource: res.Raw,
				Search:   &bundleSearch{Mode: mode},
			})
		}
	}
	add(matches, "match")
	add(included, "include")
	return s.writeJSON(w, r, http.StatusOK, b)
}

// readPatient reads Patient/id for one of the Patient operations, answering
// exactly as a read of it would: the gate for anyone but its owner (403
// whether or not it exists), then 404 for an unknown or withheld Patient
// and 410 for a deleted one.
func (s *Server) readPatient(r *http.Request, id string) (fhir.Resource, error) {
	patient, err := s.store.Read(r.Context(), "Patient", id)
	if gerr := s.gatePatient(r, "Patient", id, patient, err); gerr != nil {
		return patient, gerr
	}
	if err != nil {
		return patient, err
	}
	if err := s.visible(r, patient); err != nil {
		return patient, err
	}
	noteEntity(r.Context(), patient)
	if patient.Deleted {
		return patient, fhir.Errorf(fhir.KindGone, "deleted", "Resource Patient/%s was deleted", id)
	}
	return patient, nil
}

// supporting returns the Organizations, Practitioners, PractitionerRoles,
// Locations and Medications that the page's resources reference, read in
// one query, each once, and only those the caller may see and search.
func (s *Server) supporting(r *http.Request, e *summary.Everything, page []fhir.Resource) ([]fhir.Resource, error) {
	q, refs, err := e.SupportingQuery(page, s.base)
	if err != nil || q == nil {
		return nil, err
	}
	caller := callerOf(r.Context())
	if q.Types = allowedTypes(caller, q.Types); len(q.Types) == 0 {
		return nil, nil
	}
	q.Base = s.base
	if accessChecks {
		q.Visibility = ownVisibility(caller)
	}
	res, err := s.store.Search(r.Context(), q)
	if err != nil {
		return nil, err
	}
	var out []fhir.Resource
	for _, m := range res.Matches {
		if refs[m.Ref()] {
			out = append(out, m)
		}
	}
	return out, nil
}

// allowedTypes keeps the types of types that the caller's scopes let it
// search.
func allowedTypes(c *access.Caller, types []string) []string {
	var out []string
	for _, t := range types {
		if c.Allowed(t, access.InteractionSearchType) {
			out = append(out, t)
		}
	}
	return out
}

// everythingParams returns the operation's parameters: those of the URL,
// and for POST those of the Parameters resource in the body.
func (s *Server) everythingParams(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	params := r.URL.Query()
	if r.Method != http.MethodPost || r.ContentLength == 0 {
		return params, nil
	}
	if err := requireJSONBody(r); err != nil {
		return nil, err
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	fromBody, err := summary.ParametersValues(body)
	if err != nil {
		return nil, err
	}
	for k, v := range fromBody {
		params[k] = append(params[k], v...)
	}
	return params, nil
}
