package rest

import (
	"net/http"
	"time"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/search"
)

// suppressedIssue is the warning a searchset carries when the access model
// withheld something from it (access model, section 7).
var suppressedIssue = fhir.Issue{
	Severity:    "warning",
	Code:        "suppressed",
	Diagnostics: "Items excluded due to confidentiality and/or patient preferences",
}

// searchVisibility is what a caller's searches may return. It is the part
// of the access model compiled to SQL so far: the caller's own
// organisation's records and, except for auditors, resources that are not
// patient data. Shared records of other organisations are found by read
// only until the relationship, consent and restricted-view rules are
// compiled to SQL as well; withholding them keeps totals and paging exact.
func searchVisibility(c *access.Caller) *search.Visibility {
	if c.CareRole == access.CareRoleAuditor {
		return &search.Visibility{}
	}
	return &search.Visibility{Organization: c.Organization, NonPatient: true}
}

// patientVisibility is searchVisibility for a search scoped to one patient
// (a compartment search, or patient= / subject= naming one Patient): it
// adds the records of that patient the access model shares with the caller,
// worked out by the policy and compiled to SQL by the store. A compartment
// search also passes the patient gate first (403 without a relationship).
func (s *Server) patientVisibility(r *http.Request, q *search.Query) (*search.Visibility, error) {
	if !accessChecks {
		return nil, nil
	}
	c := callerOf(r.Context())
	v := searchVisibility(c)
	if q.Compartment != nil {
		if err := s.gate(r, q.Compartment.ID); err != nil {
			return nil, err
		}
	}
	pid := singlePatient(q)
	if pid == "" || c.CareRole == access.CareRoleAuditor {
		return v, nil
	}
	pc, err := s.enforce.PatientContext(r.Context(), pid)
	if err != nil {
		return nil, err
	}
	rr := c.Restriction(pc, time.Now())
	if !rr.Shared {
		return v, nil
	}
	pv := &search.PatientVisibility{
		PatientID: pid, HideSensitive: rr.HideSensitive, Sources: rr.Sources,
		GPTypes: rr.GPTypes, GPRecentEncountersOnly: rr.GPRecentEncountersOnly,
	}
	for _, rule := range rr.Consent {
		pv.Consent = append(pv.Consent, search.ConsentRule{Permit: rule.Permit, Types: rule.Types, Labels: rule.Labels})
	}
	v.Patient = pv
	return v, nil
}

// singlePatient returns the id of the one Patient a search is scoped to, or
// "" when it is not scoped to one.
func singlePatient(q *search.Query) string {
	if q.Compartment != nil {
		return q.Compartment.ID
	}
	if len(q.Types) == 1 && q.Types[0] == "Patient" {
		for _, f := range q.Filters {
			if f.Param != nil && f.Param.Code == "_id" && len(f.Values) == 1 && f.Modifier == "" {
				return f.Values[0].Token.Code
			}
		}
	}
	for _, f := range q.Filters {
		if f.Param == nil || f.Chain != nil || f.Has != nil || len(f.Values) != 1 || f.Missing {
			continue
		}
		if f.Param.Code != "patient" && f.Param.Code != "subject" {
			continue
		}
		ref := f.Values[0].Reference
		if ref.ID != "" && (ref.Type == "Patient" || (ref.Type == "" && f.TargetType == "Patient") ||
			(ref.Type == "" && f.Param.Code == "patient")) {
			return ref.ID
		}
	}
	return ""
}

// withheld reports whether the visibility of q hides any match that the
// query would otherwise find, for the suppressed warning. visibleTotal is
// the search's own count of visible matches when it made one. The client learns
// only that something was withheld, never what or how much.
func (s *Server) withheld(r *http.Request, q *search.Query, visibleTotal *int) (bool, error) {
	if q.Visibility == nil {
		return false, nil
	}
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
