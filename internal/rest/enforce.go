package rest

import (
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/search"
	"github.com/sharedcare/sharedcare/internal/store"
)

// suppressedIssue is the warning a searchset carries when the access model
// withheld something from it (access model, section 7).
var suppressedIssue = fhir.Issue{
	Severity:    "warning",
	Code:        "suppressed",
	Diagnostics: "Items excluded due to confidentiality and/or patient preferences",
}

// ownVisibility is the part of the access model that needs nothing but
// the caller: its own organisation's records and, except for auditors,
// resources that are not patient data. Conditional interactions match
// within it, so that a conditional write never decides on, or reveals,
// another organisation's records.
func ownVisibility(c *access.Caller) *search.Visibility {
	if c.CareRole == access.CareRoleAuditor {
		return &search.Visibility{}
	}
	return &search.Visibility{Organization: c.Organization, NonPatient: true}
}

// maxConsentedPatients bounds how many patients with a Consent a search
// across patients judges one by one (each costs a patient context). The
// records of related patients beyond it are withheld, and the searchset
// says so: a search scoped to the patient shows them.
const maxConsentedPatients = 25

// sharedVisibility is the caller's view of the records of the patients its
// organisation has a care relationship with, the same for each of them:
// the policy's restriction for a patient with that relationship and no
// consent, compiled to SQL by the store. nil when the caller sees no
// other organisation's records (a system, an auditor, no direct care).
func sharedVisibility(c *access.Caller, now time.Time) *search.SharedVisibility {
	if c.Organization == "" {
		return nil
	}
	rr := c.Restriction(&access.PatientContext{PatientID: "*", Relationships: map[string]bool{c.Organization: true}}, now)
	if !rr.Shared {
		return nil
	}
	return &search.SharedVisibility{Organization: c.Organization, HideSensitive: rr.HideSensitive,
		Sources: rr.Sources, GPTypes: rr.GPTypes, GPRecentEncountersOnly: rr.GPRecentEncountersOnly}
}

// patientRecords compiles what the access model shares with the caller of
// one patient's records, owned by other organisations; nil for nothing.
func (s *Server) patientRecords(r *http.Request, pid string, now time.Time) (*search.PatientVisibility, error) {
	pc, err := s.enforce.PatientContext(r.Context(), pid)
	if err != nil {
		return nil, err
	}
	rr := callerOf(r.Context()).Restriction(pc, now)
	if !rr.Shared {
		return nil, nil
	}
	pv := &search.PatientVisibility{
		PatientID: pid, HideSensitive: rr.HideSensitive, Sources: rr.Sources,
		GPTypes: rr.GPTypes, GPRecentEncountersOnly: rr.GPRecentEncountersOnly,
	}
	for _, rule := range rr.Consent {
		pv.Consent = append(pv.Consent, search.ConsentRule{Permit: rule.Permit, Types: rule.Types, Labels: rule.Labels})
	}
	return pv, nil
}

// patientVisibility is what a search may return, compiled to SQL by the
// store so that totals and paging are exact: the caller's own records,
// non-patient resources, the shared records of the patients its
// organisation has a care relationship with (sharedVisibility), and the
// records of patients with a Consent judged one by one. A search scoped to
// one patient (a compartment search, or patient= / subject= naming one
// Patient) judges that patient in full, break-glass included, and a
// compartment search passes the patient gate first (403 without a
// relationship). A search across patients judges up to
// maxConsentedPatients related patients with a Consent; break-glass does
// not widen it, since the glass is broken for one patient at a time.
func (s *Server) patientVisibility(r *http.Request, q *search.Query) (*search.Visibility, error) {
	if !accessChecks {
		return nil, nil
	}
	c := callerOf(r.Context())
	v := ownVisibility(c)
	if q.Compartment != nil {
		if err := s.gate(r, q.Compartment.ID); err != nil {
			return nil, err
		}
	}
	if c.CareRole == access.CareRoleAuditor {
		return v, nil
	}
	now := time.Now()
	pids := []string{q.SinglePatient()}
	if pids[0] == "" || reachesOtherPatients(q) {
		v.Shared = sharedVisibility(c, now)
	}
	if pids[0] == "" {
		pids = nil
		if v.Shared != nil {
			var err error
			if pids, err = s.store.ConsentedPatients(r.Context(), c.Organization, maxConsentedPatients); err != nil {
				return nil, err
			}
		}
	}
	for _, pid := range pids {
		pv, err := s.patientRecords(r, pid, now)
		if err != nil {
			return nil, err
		}
		if pv != nil {
			v.Patients = append(v.Patients, pv)
		}
	}
	return v, nil
}

// reachesOtherPatients reports whether a search scoped to one patient may
// still read other patients' records: through _include or _revinclude, a
// chain or _has. Without them every resource it reads is the patient's, and
// the patient's own visibility decides alone.
func reachesOtherPatients(q *search.Query) bool {
	if len(q.Include) > 0 || len(q.RevInclude) > 0 {
		return true
	}
	for _, f := range q.Filters {
		if f.Chain != nil || f.Has != nil {
			return true
		}
	}
	return false
}

// withheld reports whether the visibility of q hides any match that the
// query would otherwise find, for the suppressed warning: what the search
// found out while counting (page.Withheld), or else by counting all
// matches against its own count of the visible ones (page.Total), if it
// made one. The client learns only that something was withheld, never
// what or how much.
func (s *Server) withheld(r *http.Request, q *search.Query, page store.SearchPage) (bool, error) {
	if q.Visibility == nil {
		return false, nil
	}
	if page.Withheld != nil {
		// The search found out while it counted.
		return *page.Withheld, nil
	}
	visibleTotal := page.Total
	count := func(v *search.Visibility) (int, error) {
		cq := *q
		cq.Visibility = v
		cq.Count, cq.Page, cq.Sort, cq.Include, cq.RevInclude = 0, nil, nil, nil, nil
		cq.Summary = "count"
		p, err := s.store.Search(r.Context(), &cq)
		if err != nil || p.Total == nil {
			return 0, err
		}
		return *p.Total, nil
	}
	all, err := count(nil)
	if err != nil {
		return false, err
	}
	if visibleTotal != nil {
		return all > *visibleTotal, nil
	}
	visible, err := count(q.Visibility)
	return all > visible, err
}

// skipSQLVisibility turns the searches' SQL visibility off, so that tests
// can show that recheck alone still withholds what the access model
// withholds. Nothing but such a test sets it.
var skipSQLVisibility = false

// recheck is the safety net behind the SQL visibility (access model,
// section 7): it asks the policy, in Go, about every resource a search
// returned, and removes any it withholds. Such a resource means the SQL and
// the policy disagree, which is a bug: it is logged as an error, and the
// searchset says items were withheld (its total may then count them).
func (s *Server) recheck(r *http.Request, page *store.SearchPage) (bool, error) {
	if !accessChecks {
		return false, nil
	}
	var caught []string
	keep := func(rs []fhir.Resource) ([]fhir.Resource, error) {
		visible, withheld, err := s.filter(r, rs)
		if err != nil || !withheld {
			return rs, err
		}
		kept := map[string]bool{}
		for _, v := range visible {
			kept[v.Ref()] = true
		}
		for _, res := range rs {
			if !kept[res.Ref()] {
				caught = append(caught, res.Ref())
			}
		}
		return visible, nil
	}
	var err error
	if page.Matches, err = keep(page.Matches); err != nil {
		return false, err
	}
	if page.Included, err = keep(page.Included); err != nil {
		return false, err
	}
	if len(caught) > 0 {
		s.log.ErrorContext(r.Context(), "the access policy withheld resources that the search's SQL visibility returned",
			slog.String("request_id", requestID(r.Context())), slog.Any("resources", caught))
	}
	return len(caught) > 0, nil
}

// includesWithheld reports whether the access model left out anything that
// the page's _include or _revinclude would otherwise have brought in: the
// same includes of the same matches, counted without the visibility.
func (s *Server) includesWithheld(r *http.Request, q *search.Query, page store.SearchPage) (bool, error) {
	if q.Visibility == nil || len(page.Matches) == 0 || (len(q.Include) == 0 && len(q.RevInclude) == 0) {
		return false, nil
	}
	types := map[string][]string{}
	for _, m := range page.Matches {
		types[m.Type] = append(types[m.Type], m.ID)
	}
	visible := len(page.Included)
	all := 0
	for typ, ids := range types {
		iq, _, err := search.Parse(typ, url.Values{"_id": {strings.Join(ids, ",")}, "_count": {strconv.Itoa(len(ids))}}, false)
		if err != nil {
			return false, err
		}
		iq.Include, iq.RevInclude, iq.Base = q.Include, q.RevInclude, q.Base
		p, err := s.store.Search(r.Context(), iq)
		if err != nil {
			return false, err
		}
		all += len(p.Included)
	}
	return all > visible, nil
}

// gatePatient applies the patient gate to a read of Patient/id (read,
// vread, history, the Patient operations) as the store answered it (res,
// err): whether or not it exists, so that 403 and 404 tell nothing, and
// not for the organisation that owns it.
func (s *Server) gatePatient(r *http.Request, typ, id string, res fhir.Resource, err error) error {
	if typ != "Patient" || (err == nil && res.Owner == callerOf(r.Context()).Organization) {
		return nil
	}
	return s.gate(r, id)
}

// gate applies the patient gate to a request about patientID.
func (s *Server) gate(r *http.Request, patientID string) error {
	if !accessChecks {
		return nil
	}
	return s.enforce.Gate(r.Context(), callerOf(r.Context()), patientID)
}

// filter keeps the resources of rs the caller may see.
func (s *Server) filter(r *http.Request, rs []fhir.Resource) ([]fhir.Resource, bool, error) {
	if !accessChecks {
		return rs, false, nil
	}
	return s.enforce.Filter(r.Context(), callerOf(r.Context()), rs)
}

// filterAcross is filter for a request about many patients at once, which
// break-glass does not widen (access.Caller.AcrossPatients).
func (s *Server) filterAcross(r *http.Request, rs []fhir.Resource) ([]fhir.Resource, bool, error) {
	if !accessChecks {
		return rs, false, nil
	}
	return s.enforce.Filter(r.Context(), callerOf(r.Context()).AcrossPatients(), rs)
}

// visible answers 404, exactly as for a resource that never existed, when
// the caller may not see res (access model, section 7).
func (s *Server) visible(r *http.Request, res fhir.Resource) error {
	if !accessChecks {
		return nil
	}
	ok, err := s.enforce.CanSee(r.Context(), callerOf(r.Context()), res)
	if err != nil {
		return err
	}
	if !ok {
		return fhir.NotFound(res.Type, res.ID)
	}
	return nil
}
