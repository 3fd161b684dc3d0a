package rest

import (
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/fhir/elements"
	"github.com/sharedcare/sharedcare/internal/fhir/r4"
	"github.com/sharedcare/sharedcare/internal/search"
)

type bundleSearch struct {
	Mode string `json:"mode"`
}

// searchType answers GET [base]/[type]?... and POST [base]/[type]/_search.
func (s *Server) searchType(w http.ResponseWriter, r *http.Request) error {
	typ := chi.URLParam(r, "type")
	return s.search(w, r, typ, "/"+typ, nil)
}

// searchSystem answers GET [base]?_type=...&... and POST [base]/_search.
func (s *Server) searchSystem(w http.ResponseWriter, r *http.Request) error {
	return s.search(w, r, "", "", nil)
}

// searchCompartment answers GET [base]/Patient/{id}/[type]?...: a search of
// the resources in one patient's compartment.
func (s *Server) searchCompartment(w http.ResponseWriter, r *http.Request) error {
	if typ := chi.URLParam(r, "type"); typ != "Patient" {
		return fhir.Errorf(fhir.KindNotFound, "not-supported", "no such FHIR endpoint: only the Patient compartment can be searched, not %s", typ)
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	target := chi.URLParam(r, "compartment")
	if !r4.IsResourceType(target) {
		return fhir.Errorf(fhir.KindNotFound, "not-supported", "%q is not a FHIR R4 resource type", target)
	}
	// The route's scope check was on Patient; the search reads target.
	if !callerOf(r.Context()).Allowed(target, access.InteractionSearchType) {
		return access.InsufficientScope(target, access.InteractionSearchType)
	}
	return s.search(w, r, target, "/Patient/"+id+"/"+target, func(q *search.Query) error {
		return q.InPatientCompartment(id)
	})
}

// search parses the request's parameters, runs the search and answers
// with a searchset Bundle. path is the search's path below the base, for
// the links; scope narrows the query (a compartment).
func (s *Server) search(w http.ResponseWriter, r *http.Request, typ, path string, scope func(*search.Query) error) error {
	params, err := s.searchParams(w, r)
	if err != nil {
		return err
	}
	q, warnings, err := search.Parse(typ, params, preferHandling(r) == "strict")
	if err != nil {
		return err
	}
	if scope != nil {
		if err := scope(q); err != nil {
			return err
		}
	}
	q.Base = s.base
	if q.Visibility, err = s.patientVisibility(r, q); err != nil {
		return err
	}
	if skipSQLVisibility {
		q.Visibility = nil
	}
	page, err := s.store.Search(r.Context(), q)
	if err != nil {
		return err
	}
	suppressed, err := s.withheld(r, q, page)
	if err != nil {
		return err
	}
	if !suppressed {
		if suppressed, err = s.includesWithheld(r, q, page); err != nil {
			return err
		}
	}
	caught, err := s.recheck(r, &page)
	if err != nil {
		return err
	}
	if suppressed || caught {
		warnings = append(warnings, suppressedIssue)
	}
	b := bundle{
		ResourceType: "Bundle",
		ID:           newBundleID(),
		Meta:         &bundleMeta{LastUpdated: time.Now().UTC().Format(fhir.LastUpdatedFormat)},
		Type:         "searchset",
		Total:        page.Total,
	}
	link := func(rel, token string) {
		p := url.Values{}
		for k, v := range params {
			if k != "_page" {
				p[k] = v
			}
		}
		if token != "" {
			p.Set("_page", token)
		}
		u := s.base + path
		if enc := p.Encode(); enc != "" {
			u += "?" + enc
		}
		b.Link = append(b.Link, bundleLink{rel, u})
	}
	link("self", params.Get("_page"))
	if page.Next != "" {
		link("next", page.Next)
	}
	if page.Previous != "" {
		link("previous", page.Previous)
	}
	if len(warnings) > 0 {
		b.Entry = append(b.Entry, bundleEntry{
			FullURL:  "urn:uuid:" + uuid.NewString(),
			Resource: fhir.OperationOutcome(warnings...),
			Search:   &bundleSearch{Mode: "outcome"},
		})
	}
	add := func(res fhir.Resource, mode string) error {
		body, err := searchSubset(q, res.Raw)
		if err != nil {
			return err
		}
		b.Entry = append(b.Entry, bundleEntry{
			FullURL:  s.base + "/" + res.Type + "/" + res.ID,
			Resource: body,
			Search:   &bundleSearch{Mode: mode},
		})
		return nil
	}
	for _, res := range page.Matches {
		if err := add(res, "match"); err != nil {
			return err
		}
	}
	caller := callerOf(r.Context())
	for _, res := range page.Included {
		// An include reads another type: only what the token's scopes
		// let the caller search goes out.
		if !caller.Allowed(res.Type, access.InteractionSearchType) {
			continue
		}
		if err := add(res, "include"); err != nil {
			return err
		}
	}
	return s.writeJSON(w, r, http.StatusOK, b)
}

// searchParams returns the parameters of a search: those of the URL, and
// for POST .../_search those of the form-encoded body too.
func (s *Server) searchParams(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	params := r.URL.Query()
	if r.Method != http.MethodPost {
		return params, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/x-www-form-urlencoded" {
			return nil, fhir.Errorf(fhir.KindUnsupportedMedia, "not-supported",
				"POST _search takes its parameters as application/x-www-form-urlencoded, not %q", ct)
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errorsAs(err, &mbe) {
			return nil, fhir.Errorf(fhir.KindTooLarge, "too-costly", "request body exceeds the limit of %d bytes", s.maxBody)
		}
		return nil, fhir.Errorf(fhir.KindInvalid, "structure", "the form body cannot be read: %v", err)
	}
	for k, v := range r.PostForm {
		params[k] = append(params[k], v...)
	}
	return params, nil
}

// searchSubset applies _summary or _elements to a resource of a search.
func searchSubset(q *search.Query, raw []byte) ([]byte, error) {
	switch {
	case q.Summary != "" && q.Summary != "false":
		return elements.Summary(raw, q.Summary)
	case len(q.Elements) > 0:
		return elements.Elements(raw, q.Elements)
	}
	return raw, nil
}

// preferHandling returns the handling preference of the Prefer header:
// strict, lenient, or "" (lenient).
func preferHandling(r *http.Request) string {
	for _, p := range r.Header.Values("Prefer") {
		for _, part := range strings.FieldsFunc(p, func(c rune) bool { return c == ';' || c == ',' }) {
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "handling") {
				return strings.ToLower(strings.Trim(v, `"`))
			}
		}
	}
	return ""
}
