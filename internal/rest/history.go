package rest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/store"
)

// History paging limits: the default and the largest page a client may ask for.
const (
	defaultCount = 20
	maxCount     = 1000
)

func (s *Server) historySystem(w http.ResponseWriter, r *http.Request) error {
	return s.history(w, r, store.HistoryQuery{}, "/_history")
}

func (s *Server) historyType(w http.ResponseWriter, r *http.Request) error {
	typ := chi.URLParam(r, "type")
	return s.history(w, r, store.HistoryQuery{Type: typ}, "/"+typ+"/_history")
}

func (s *Server) historyInstance(w http.ResponseWriter, r *http.Request) error {
	typ := chi.URLParam(r, "type")
	id, err := pathID(r)
	if err != nil {
		return err
	}
	cur, err := s.store.Read(r.Context(), typ, id)
	if gerr := s.gatePatient(r, typ, id, cur, err); gerr != nil {
		return gerr
	}
	if err != nil {
		return err
	}
	if err := s.visible(r, cur); err != nil {
		return err
	}
	noteEntity(r.Context(), cur)
	return s.history(w, r, store.HistoryQuery{Type: typ, ID: id}, "/"+typ+"/"+id+"/_history")
}

// parseInstant parses a FHIR instant or dateTime (to the second at least) or
// date, as used by _since and _at.
func parseInstant(name, v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fhir.Errorf(fhir.KindInvalid, "invalid", "%s=%q is not a valid instant (e.g. 2024-03-01T10:00:00Z)", name, v)
}

// pageCount reads _count: the default when absent, capped at maxCount.
func pageCount(q url.Values) (int, error) {
	v := q.Get("_count")
	if v == "" {
		return defaultCount, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fhir.Errorf(fhir.KindInvalid, "invalid", "_count=%q is not a non-negative integer", v)
	}
	return min(n, maxCount), nil
}

type bundleLink struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

type bundleRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

type bundleResponse struct {
	Status       string `json:"status"`
	Location     string `json:"location,omitempty"`
	Etag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
}

type bundleEntry struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Request  *bundleRequest  `json:"request,omitempty"`
	Response *bundleResponse `json:"response,omitempty"`
	Search   *bundleSearch   `json:"search,omitempty"`
}

type bundle struct {
	ResourceType string        `json:"resourceType"`
	ID           string        `json:"id,omitempty"`
	Meta         *bundleMeta   `json:"meta,omitempty"`
	Type         string        `json:"type"`
	Total        *int          `json:"total,omitempty"`
	Link         []bundleLink  `json:"link,omitempty"`
	Entry        []bundleEntry `json:"entry,omitempty"`
}

// encode writes b as JSON, as json.Marshal would but without checking and
// compacting each entry's resource again: they are the stored JSON, which
// the write path compacted (or JSON this server made from it), and doing
// so was a tenth of the CPU of a search by NHS number.
func (b bundle) encode() ([]byte, error) {
	entries := b.Entry
	b.Entry = nil
	head, err := json.Marshal(b)
	if err != nil || len(entries) == 0 {
		return head, err
	}
	size := len(head) + 16
	for _, e := range entries {
		size += len(e.FullURL) + len(e.Resource) + 96
	}
	out := make([]byte, 0, size)
	out = append(out, head[:len(head)-1]...)
	out = append(out, `,"entry":[`...)
	for i, e := range entries {
		if i > 0 {
			out = append(out, ',')
		}
		if out, err = e.appendJSON(out); err != nil {
			return nil, err
		}
	}
	return append(out, "]}"...), nil
}

// appendJSON appends e as a JSON object, its members in the order of the
// struct's fields.
func (e bundleEntry) appendJSON(out []byte) ([]byte, error) {
	out = append(out, '{')
	first := true
	member := func(name string, v []byte) {
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, '"')
		out = append(out, name...)
		out = append(out, `":`...)
		out = append(out, v...)
	}
	if e.FullURL != "" {
		v, err := json.Marshal(e.FullURL)
		if err != nil {
			return nil, err
		}
		member("fullUrl", v)
	}
	if len(e.Resource) > 0 {
		member("resource", e.Resource)
	}
	for _, m := range []struct {
		name string
		v    any
		set  bool
	}{{"request", e.Request, e.Request != nil}, {"response", e.Response, e.Response != nil}, {"search", e.Search, e.Search != nil}} {
		if !m.set {
			continue
		}
		v, err := json.Marshal(m.v)
		if err != nil {
			return nil, err
		}
		member(m.name, v)
	}
	return append(out, '}'), nil
}

type bundleMeta struct {
	LastUpdated string `json:"lastUpdated"`
}

func (s *Server) history(w http.ResponseWriter, r *http.Request, hq store.HistoryQuery, path string) error {
	q := r.URL.Query()
	var err error
	if hq.Count, err = pageCount(q); err != nil {
		return err
	}
	if v := q.Get("_since"); v != "" {
		if hq.Since, err = parseInstant("_since", v); err != nil {
			return err
		}
	}
	if v := q.Get("_at"); v != "" {
		if hq.At, err = parseInstant("_at", v); err != nil {
			return err
		}
	}
	if v := q.Get("_cursor"); v != "" {
		if hq.Before, err = strconv.ParseInt(v, 10, 64); err != nil || hq.Before <= 0 {
			return fhir.Errorf(fhir.KindInvalid, "invalid", "_cursor=%q is not a cursor this server issued", v)
		}
	}
	if v := q.Get("_snapshot"); v != "" {
		if hq.Snapshot, err = strconv.ParseInt(v, 10, 64); err != nil || hq.Snapshot <= 0 {
			return fhir.Errorf(fhir.KindInvalid, "invalid", "_snapshot=%q is not a snapshot this server issued", v)
		}
	}
	page, err := s.store.History(r.Context(), hq)
	if err != nil {
		return err
	}
	// The log is filtered after the query: a page may come out short, and
	// the total is left out when anything was withheld, since it would
	// count what the caller may not see.
	filter := s.filter
	if hq.ID == "" {
		filter = s.filterAcross
	}
	entries, withheld, err := filter(r, page.Entries)
	if err != nil {
		return err
	}
	page.Entries = entries
	if withheld {
		page.Total = -1
	}
	b := bundle{
		ResourceType: "Bundle",
		ID:           newBundleID(),
		Meta:         &bundleMeta{LastUpdated: time.Now().UTC().Format(fhir.LastUpdatedFormat)},
		Type:         "history",
	}
	if page.Total >= 0 {
		b.Total = &page.Total
	}
	keep := url.Values{}
	for _, k := range []string{"_count", "_since", "_at", "_format", "_pretty"} {
		if v := q.Get(k); v != "" {
			keep.Set(k, v)
		}
	}
	self := s.base + path
	if enc := q.Encode(); enc != "" {
		self += "?" + enc
	}
	b.Link = append(b.Link, bundleLink{"self", self})
	if page.Next > 0 {
		keep.Set("_cursor", strconv.FormatInt(page.Next, 10))
		keep.Set("_snapshot", strconv.FormatInt(page.Snapshot, 10))
		b.Link = append(b.Link, bundleLink{"next", s.base + path + "?" + keep.Encode()})
	}
	for _, e := range page.Entries {
		b.Entry = append(b.Entry, s.historyEntry(e))
	}
	return s.writeJSON(w, r, http.StatusOK, b)
}

func (s *Server) historyEntry(e fhir.Resource) bundleEntry {
	entry := bundleEntry{
		FullURL: s.base + "/" + e.Type + "/" + e.ID,
		Response: &bundleResponse{
			Etag:         e.ETag(),
			LastModified: e.LastUpdated.UTC().Format(fhir.LastUpdatedFormat),
		},
	}
	switch {
	case e.Deleted:
		entry.Request = &bundleRequest{Method: "DELETE", URL: e.Type + "/" + e.ID}
		entry.Response.Status = "204 No Content"
	case e.VersionID == 1:
		entry.Request = &bundleRequest{Method: "POST", URL: e.Type}
		entry.Response.Status = "201 Created"
		entry.Response.Location = s.location(e)
		entry.Resource = e.Raw
	default:
		entry.Request = &bundleRequest{Method: "PUT", URL: e.Type + "/" + e.ID}
		entry.Response.Status = "200 OK"
		entry.Resource = e.Raw
	}
	return entry
}
