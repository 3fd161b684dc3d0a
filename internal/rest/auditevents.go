package rest

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/store"
)

// AuditEvents live in the audit trail, not among the records: they are
// read and searched here, by auditors only (access model, section 8).

// asType names the resource type of a route with a static path, for the
// scope check that the {type} routes get from their URL.
func asType(typ string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if rc := chi.RouteContext(r.Context()); rc != nil {
				rc.URLParams.Add("type", typ)
			}
			next.ServeHTTP(w, r)
		})
	}
}

func requireAuditor(r *http.Request) error {
	if callerOf(r.Context()).CareRole != access.CareRoleAuditor {
		return fhir.Errorf(fhir.KindForbidden, "forbidden", "only auditors (care_role auditor) may read the audit trail")
	}
	return nil
}

func (s *Server) auditEventRead(w http.ResponseWriter, r *http.Request) error {
	if err := requireAuditor(r); err != nil {
		return err
	}
	rec, err := s.store.ReadAudit(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	s.writeBody(w, r, http.StatusOK, rec.Raw)
	return nil
}

// auditQuery reads the search parameters auditors use: patient, agent (sub
// or ODS code), entity, purpose (e.g. BTG for the break-glass review), date
// (with ge, gt, le, lt prefixes, or a day/month/year) and _count.
func auditQuery(q url.Values) (store.AuditQuery, error) {
	aq := store.AuditQuery{Patient: strings.TrimPrefix(q.Get("patient"), "Patient/"), Agent: q.Get("agent"),
		Entity: q.Get("entity"), Purpose: q.Get("purpose")}
	if _, code, ok := strings.Cut(aq.Purpose, "|"); ok {
		aq.Purpose = code
	}
	var err error
	if aq.Count, err = pageCount(q); err != nil {
		return aq, err
	}
	for _, d := range q["date"] {
		prefix, value := "eq", d
		if len(d) > 2 && d[0] >= 'a' && d[0] <= 'z' {
			prefix, value = d[:2], d[2:]
		}
		lo, err := parseInstant("date", value)
		if err != nil {
			return aq, err
		}
		hi := lo.Add(time.Nanosecond)
		switch len(value) {
		case 4:
			hi = lo.AddDate(1, 0, 0)
		case 7:
			hi = lo.AddDate(0, 1, 0)
		case 10:
			hi = lo.AddDate(0, 0, 1)
		}
		switch prefix {
		case "eq":
			aq.From, aq.To = lo, hi
		case "ge", "sa":
			aq.From = lo
		case "gt":
			aq.From = hi
		case "le":
			aq.To = hi
		case "lt", "eb":
			aq.To = lo
		default:
			return aq, fhir.Errorf(fhir.KindInvalid, "invalid", "date prefix %q is not supported on AuditEvent", prefix)
		}
	}
	if v := q.Get("_cursor"); v != "" {
		if aq.Before, err = strconv.ParseInt(v, 10, 64); err != nil || aq.Before <= 0 {
			return aq, fhir.Errorf(fhir.KindInvalid, "invalid", "_cursor=%q is not a cursor this server issued", v)
		}
	}
	return aq, nil
}

func (s *Server) auditEventSearch(w http.ResponseWriter, r *http.Request) error {
	if err := requireAuditor(r); err != nil {
		return err
	}
	q := r.URL.Query()
	aq, err := auditQuery(q)
	if err != nil {
		return err
	}
	recs, next, total, err := s.store.SearchAudit(r.Context(), aq)
	if err != nil {
		return err
	}
	b := bundle{
		ResourceType: "Bundle", ID: newBundleID(), Type: "searchset", Total: &total,
		Meta: &bundleMeta{LastUpdated: time.Now().UTC().Format(fhir.LastUpdatedFormat)},
		Link: []bundleLink{{"self", s.base + "/AuditEvent?" + q.Encode()}},
	}
	if next > 0 {
		q.Set("_cursor", strconv.FormatInt(next, 10))
		b.Link = append(b.Link, bundleLink{"next", s.base + "/AuditEvent?" + q.Encode()})
	}
	for _, rec := range recs {
		b.Entry = append(b.Entry, bundleEntry{FullURL: s.base + "/AuditEvent/" + rec.ID, Resource: rec.Raw, Search: &bundleSearch{Mode: "match"}})
	}
	return s.writeJSON(w, r, http.StatusOK, b)
}
