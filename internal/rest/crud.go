package rest

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/fhir/patch"
	"github.com/sharedcare/sharedcare/internal/record"
)

// pathID returns the {id} of the route, checked against the FHIR id format.
func pathID(r *http.Request) (string, error) {
	id := chi.URLParam(r, "id")
	if !fhir.ValidID(id) {
		return "", fhir.Errorf(fhir.KindInvalid, "invalid", "%q is not a valid FHIR id ([A-Za-z0-9-.]{1,64})", id)
	}
	return id, nil
}

// location returns the versioned URL of r.
func (s *Server) location(r fhir.Resource) string {
	return s.base + "/" + r.Type + "/" + r.ID + "/_history/" + strconv.FormatInt(r.VersionID, 10)
}

// setVersionHeaders sets ETag and Last-Modified for a resource version.
func setVersionHeaders(h http.Header, r fhir.Resource) {
	h.Set("ETag", r.ETag())
	h.Set("Last-Modified", r.LastUpdated.UTC().Format(http.TimeFormat))
}

func (s *Server) read(w http.ResponseWriter, r *http.Request) error {
	typ := chi.URLParam(r, "type")
	id, err := pathID(r)
	if err != nil {
		return err
	}
	res, err := s.store.Read(r.Context(), typ, id)
	if gerr := s.gatePatient(r, typ, id, res, err); gerr != nil {
		return gerr
	}
	if err != nil {
		return err
	}
	if err := s.visible(r, res); err != nil {
		return err
	}
	noteEntity(r.Context(), res)
	if res.Deleted {
		setVersionHeaders(w.Header(), res)
		return fhir.Errorf(fhir.KindGone, "deleted", "Resource %s/%s was deleted", typ, id)
	}
	return s.writeVersion(w, r, res)
}

func (s *Server) vread(w http.ResponseWriter, r *http.Request) error {
	typ := chi.URLParam(r, "type")
	id, err := pathID(r)
	if err != nil {
		return err
	}
	vid := chi.URLParam(r, "vid")
	v, err := strconv.ParseInt(vid, 10, 64)
	if err != nil || v < 1 {
		return fhir.Errorf(fhir.KindNotFound, "not-found", "version %q of %s/%s is not known", vid, typ, id)
	}
	res, err := s.store.VRead(r.Context(), typ, id, v)
	if gerr := s.gatePatient(r, typ, id, res, err); gerr != nil {
		return gerr
	}
	if err != nil {
		return err
	}
	if err := s.visible(r, res); err != nil {
		return err
	}
	noteEntity(r.Context(), res)
	if res.Deleted {
		setVersionHeaders(w.Header(), res)
		return fhir.Errorf(fhir.KindGone, "deleted", "version %d of %s/%s is a deletion", v, typ, id)
	}
	return s.writeVersion(w, r, res)
}

// writeVersion answers a read or vread with the stored bytes, honouring the
// conditional read headers and _summary/_elements.
func (s *Server) writeVersion(w http.ResponseWriter, r *http.Request, res fhir.Resource) error {
	h := w.Header()
	setVersionHeaders(h, res)
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, tag := range strings.Split(inm, ",") {
			if v, ok := record.ParseETag(tag); (ok && v == res.VersionID) || strings.TrimSpace(tag) == "*" {
				w.WriteHeader(http.StatusNotModified)
				return nil
			}
		}
	} else if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !res.LastUpdated.Truncate(time.Second).After(t) {
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
	}
	body, err := subset(r, res.Raw)
	if err != nil {
		return err
	}
	s.writeBody(w, r, http.StatusOK, body)
	return nil
}

// writeResult answers a write per the client's Prefer header: the resource
// (default), nothing, or an OperationOutcome.
func (s *Server) writeResult(w http.ResponseWriter, r *http.Request, res record.Result, status int) error {
	h := w.Header()
	setVersionHeaders(h, res.Resource)
	if status == http.StatusCreated {
		h.Set("Location", s.location(res.Resource))
	}
	switch preferReturn(r) {
	case "minimal":
		w.WriteHeader(status)
	case "OperationOutcome":
		s.writeBody(w, r, status, fhir.OperationOutcome(fhir.Issue{
			Severity: "information", Code: "informational",
			Diagnostics: "Successfully wrote " + res.Ref() + " version " + strconv.FormatInt(res.VersionID, 10),
		}))
	default:
		s.writeBody(w, r, status, res.Raw)
	}
	return nil
}

// written answers a write that committed together with its audit record:
// 201 when it created the resource, 200 otherwise.
func (s *Server) written(w http.ResponseWriter, r *http.Request, res record.Result) error {
	markAuditedInTx(r)
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	return s.writeResult(w, r, res, status)
}

// preferReturn returns the return= preference of the Prefer header.
func preferReturn(r *http.Request) string {
	for _, p := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(p, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && strings.EqualFold(k, "return") {
				return strings.Trim(v, `"`)
			}
		}
	}
	return ""
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) error {
	if err := requireJSONBody(r); err != nil {
		return err
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	if r.Header.Get("If-None-Exist") != "" {
		return s.conditionalCreate(w, r, body)
	}
	res, err := s.records.Create(r.Context(), chi.URLParam(r, "type"), body, s.writeOptions(r))
	if err != nil {
		return err
	}
	return s.written(w, r, res)
}

func (s *Server) update(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := requireJSONBody(r); err != nil {
		return err
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	res, err := s.records.Update(r.Context(), chi.URLParam(r, "type"), id, body, s.writeOptions(r))
	if err != nil {
		return err
	}
	return s.written(w, r, res)
}

func (s *Server) patch(w http.ResponseWriter, r *http.Request) error {
	mt, err := requestMediaType(r)
	if err != nil {
		return err
	}
	var apply func(raw, doc []byte) ([]byte, error)
	switch mt {
	case "application/json-patch+json":
		apply = patch.JSONPatch
	case "application/fhir+json", "application/json", "application/json+fhir":
		apply = patch.FHIRPathPatch
	default:
		return fhir.Errorf(fhir.KindUnsupportedMedia, "not-supported",
			"PATCH takes application/json-patch+json (JSON Patch) or application/fhir+json (FHIRPath Patch Parameters), not %q", mt)
	}
	doc, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	fn := func(raw []byte) ([]byte, error) { return apply(raw, doc) }
	if chi.URLParam(r, "id") == "" {
		return s.conditionalPatch(w, r, fn)
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	res, err := s.records.Patch(r.Context(), chi.URLParam(r, "type"), id, fn, s.writeOptions(r))
	if err != nil {
		return err
	}
	return s.written(w, r, res)
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	res, err := s.records.Delete(r.Context(), chi.URLParam(r, "type"), id, s.writeOptions(r))
	if err != nil {
		return err
	}
	markAuditedInTx(r)
	if !res.Unchanged {
		w.Header().Set("ETag", res.ETag())
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
