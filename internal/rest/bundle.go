package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/sharedcare/sharedcare/internal/access"
	bundles "github.com/sharedcare/sharedcare/internal/bundle"
	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/fhir/r4"
	"github.com/sharedcare/sharedcare/internal/record"
)

// processBundle answers POST [base] with a batch or transaction Bundle.
func (s *Server) processBundle(w http.ResponseWriter, r *http.Request) error {
	if err := requireJSONBody(r); err != nil {
		return err
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	typ, err := bundles.Type(body)
	if err != nil {
		return err
	}
	if info, ok := r.Context().Value(infoKey).(*requestInfo); ok {
		info.interaction = typ
	}
	p := &bundles.Processor{Records: s.records, Store: s.store, Base: s.base}
	out, err := p.Process(r.Context(), body, &bundleBackend{s: s, r: r}, preferReturn(r))
	if err != nil {
		return err
	}
	s.writeBody(w, r, http.StatusOK, out)
	return nil
}

// bundleBackend applies the bundle request's caller to each entry, as the
// REST interaction the entry stands for would.
type bundleBackend struct {
	s *Server
	r *http.Request
}

// Authorize checks the caller's scopes for one entry's interaction.
func (b *bundleBackend) Authorize(typ string, in access.Interaction) error {
	if !callerOf(b.r.Context()).Allowed(typ, in) {
		return access.InsufficientScope(typ, in)
	}
	return nil
}

// Options are the options of a write by the caller, with the entry's If-Match.
func (b *bundleBackend) Options(ifMatch string) record.Options {
	o := b.s.writeOptions(b.r)
	o.IfMatch = ifMatch
	return o
}

// Criteria parses conditional criteria as the REST conditional interactions do.
func (b *bundleBackend) Criteria(typ, query string) (record.Criteria, error) {
	return b.s.criteria(b.r, typ, query)
}

// Read runs a GET entry through the handler of the same REST read or
// search, on a request that carries the bundle request's caller and
// audit record, so that it passes the same checks and visibility.
func (b *bundleBackend) Read(ctx context.Context, path string, req bundles.Request) bundles.Answer {
	u, err := url.Parse(b.s.base + "/" + path)
	if err != nil {
		return b.Failed(fhir.Errorf(fhir.KindInvalid, "invalid", "request.url %q is not a URL", req.URL))
	}
	sub := b.r.Clone(ctx)
	sub.Method = http.MethodGet
	sub.URL = u
	sub.Body = http.NoBody
	sub.Header = b.r.Header.Clone()
	sub.Header.Del("Content-Type")
	sub.Header.Del("If-None-Match")
	sub.Header.Del("If-Modified-Since")
	if req.IfNoneMatch != "" {
		sub.Header.Set("If-None-Match", req.IfNoneMatch)
	}
	if req.IfModifiedSince != "" {
		sub.Header.Set("If-Modified-Since", req.IfModifiedSince)
	}
	rc := chi.NewRouteContext()
	segs := strings.Split(strings.SplitN(path, "?", 2)[0], "/")
	var h handlerFunc
	switch {
	case len(segs) == 1 && segs[0] == "":
		h = b.s.searchSystem
	case !r4.IsResourceType(segs[0]):
		return b.Failed(fhir.Errorf(fhir.KindNotFound, "not-supported", "request.url %q names no resource type", req.URL))
	case len(segs) == 1:
		h = b.s.searchType
	case len(segs) == 2:
		h = b.s.read
	case len(segs) == 3 && r4.IsResourceType(segs[2]):
		h = b.s.searchCompartment
		rc.URLParams.Add("compartment", segs[2])
	case len(segs) == 4 && segs[2] == "_history":
		h = b.s.vread
		rc.URLParams.Add("vid", segs[3])
	default:
		return b.Failed(fhir.Errorf(fhir.KindNotFound, "not-supported", "request.url %q is not a read or search this server answers in a bundle", req.URL))
	}
	rc.URLParams.Add("type", segs[0])
	if len(segs) > 1 {
		rc.URLParams.Add("id", segs[1])
	}
	sub = sub.WithContext(context.WithValue(sub.Context(), chi.RouteCtxKey, rc))
	buf := &bufferedWriter{header: http.Header{}}
	if err := h(buf, sub); err != nil {
		b.s.writeError(buf, sub, err)
	}
	if buf.status == 0 {
		buf.status = http.StatusOK
	}
	a := bundles.Answer{Response: bundles.Response{
		Status:   strconv.Itoa(buf.status) + " " + http.StatusText(buf.status),
		Etag:     buf.header.Get("ETag"),
		Location: buf.header.Get("Location"),
	}}
	if lm, err := http.ParseTime(buf.header.Get("Last-Modified")); err == nil {
		a.Response.LastModified = lm.UTC().Format(fhir.LastUpdatedFormat)
	}
	body := bytes.TrimSpace(buf.body.Bytes())
	switch {
	case len(body) == 0 || req.Method == http.MethodHead:
	case buf.status >= 400:
		a.Response.Outcome = json.RawMessage(body)
	default:
		a.Resource = json.RawMessage(body)
	}
	if len(segs) == 2 && buf.status < 400 {
		a.FullURL = b.s.base + "/" + segs[0] + "/" + segs[1]
	}
	return a
}

// Failed renders err as the response of a failed batch entry, with the
// status and OperationOutcome the REST interaction would answer.
func (b *bundleBackend) Failed(err error) bundles.Answer {
	buf := &bufferedWriter{header: http.Header{}}
	b.s.writeError(buf, b.r, err)
	return bundles.Answer{Response: bundles.Response{
		Status:  strconv.Itoa(buf.status) + " " + http.StatusText(buf.status),
		Outcome: json.RawMessage(bytes.TrimSpace(buf.body.Bytes())),
	}}
}
