package rest

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/sharedcare/sharedcare/internal/record"
)

// criteria parses the search criteria of a conditional interaction on typ
// (record.ParseCriteria), with the caller's own visibility, so that a
// withheld resource is never matched.
func (s *Server) criteria(r *http.Request, typ, raw string) (record.Criteria, error) {
	c, _, err := record.ParseCriteria(typ, raw, s.base)
	if err != nil {
		return c, err
	}
	c.Query.Visibility = ownVisibility(callerOf(r.Context()))
	return c, nil
}

// conditionalCreate answers POST [type] with If-None-Exist: a create unless
// a visible resource matches, in which case the match is returned with 200.
func (s *Server) conditionalCreate(w http.ResponseWriter, r *http.Request, body []byte) error {
	typ := chi.URLParam(r, "type")
	c, err := s.criteria(r, typ, r.Header.Get("If-None-Exist"))
	if err != nil {
		return err
	}
	res, err := s.records.ConditionalCreate(r.Context(), typ, body, c, s.writeOptions(r))
	if err != nil {
		return err
	}
	if res.Created {
		return s.written(w, r, res)
	}
	cur, err := s.store.Read(r.Context(), res.Type, res.ID)
	if err != nil {
		return err
	}
	if err := s.visible(r, cur); err != nil {
		return err
	}
	noteEntity(r.Context(), cur)
	return s.writeResult(w, r, record.Result{Resource: cur}, http.StatusOK)
}

// conditionalUpdate answers PUT [type]?[criteria].
func (s *Server) conditionalUpdate(w http.ResponseWriter, r *http.Request) error {
	typ := chi.URLParam(r, "type")
	c, err := s.criteria(r, typ, r.URL.RawQuery)
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
	res, err := s.records.ConditionalUpdate(r.Context(), typ, body, c, s.writeOptions(r))
	if err != nil {
		return err
	}
	return s.written(w, r, res)
}

// conditionalDelete answers DELETE [type]?[criteria] (single mode).
func (s *Server) conditionalDelete(w http.ResponseWriter, r *http.Request) error {
	typ := chi.URLParam(r, "type")
	c, err := s.criteria(r, typ, r.URL.RawQuery)
	if err != nil {
		return err
	}
	res, err := s.records.ConditionalDelete(r.Context(), typ, c, s.writeOptions(r))
	if err != nil {
		return err
	}
	if res.ID != "" {
		markAuditedInTx(r)
	}
	if !res.Unchanged {
		w.Header().Set("ETag", res.ETag())
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// conditionalPatch answers PATCH [type]?[criteria] with the patch the
// patch handler read.
func (s *Server) conditionalPatch(w http.ResponseWriter, r *http.Request, patch func(raw []byte) ([]byte, error)) error {
	typ := chi.URLParam(r, "type")
	c, err := s.criteria(r, typ, r.URL.RawQuery)
	if err != nil {
		return err
	}
	res, err := s.records.ConditionalPatch(r.Context(), typ, patch, c, s.writeOptions(r))
	if err != nil {
		return err
	}
	return s.written(w, r, res)
}
