package access

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/fhir/r4"
	"github.com/sharedcare/sharedcare/internal/search"
	"github.com/sharedcare/sharedcare/internal/store"
)

// Enforcer applies the access model to resources read by id: it gathers
// what the store knows about the resource's patient (relationships,
// consents, recent GP encounters) and asks the policy.
type Enforcer struct {
	Store store.Store
	Codes *SensitiveCodes
	// Now is the time consent periods are judged at; time.Now when nil.
	Now func() time.Time
}

func (e *Enforcer) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// maxContextRows bounds each lookup that builds a patient's context.
const maxContextRows = 1000

// find runs an unrestricted internal search: the enforcement point itself
// needs to see what it judges.
func (e *Enforcer) find(ctx context.Context, typ string, params url.Values) ([]fhir.Resource, error) {
	params.Set("_count", "1000")
	q, _, err := search.Parse(typ, params, false)
	if err != nil {
		return nil, err
	}
	q.PlanOnce = true
	page, err := e.Store.Search(ctx, q)
	return page.Matches, err
}

// reference is the part of a Reference the gate reads.
type reference struct {
	Reference  string `json:"reference"`
	Identifier struct {
		System string `json:"system"`
		Value  string `json:"value"`
	} `json:"identifier"`
}

// odsOf resolves an organisation reference to its ODS code: a logical
// reference carries it, an Organization/<id> reference is looked up.
func (e *Enforcer) odsOf(ctx context.Context, ref reference, cache map[string]string) string {
	if ref.Identifier.System == ODSOrganizationSystem {
		return ref.Identifier.Value
	}
	id, ok := strings.CutPrefix(ref.Reference, "Organization/")
	if !ok {
		return ""
	}
	if code, seen := cache[id]; seen {
		return code
	}
	code := ""
	if org, err := e.Store.Read(ctx, "Organization", id); err == nil && !org.Deleted {
		var o struct {
			Identifier []struct{ System, Value string } `json:"identifier"`
		}
		if json.Unmarshal(org.Raw, &o) == nil {
			for _, idf := range o.Identifier {
				if idf.System == ODSOrganizationSystem {
					code = idf.Value
					break
				}
			}
		}
	}
	cache[id] = code
	return code
}

// PatientContext gathers what bears on who may see patientID's record
// (access model, section 3): the organisations with a care relationship and
// the patient's active privacy consents.
func (e *Enforcer) PatientContext(ctx context.Context, patientID string) (*PatientContext, error) {
	if pc, ok := cachedContext(ctx, patientID); ok {
		return pc, nil
	}
	pc := &PatientContext{PatientID: patientID, Relationships: map[string]bool{}}
	orgs := map[string]string{}
	relate := func(refs ...reference) {
		for _, ref := range refs {
			if code := e.odsOf(ctx, ref, orgs); code != "" {
				pc.Relationships[code] = true
			}
		}
	}
	if p, err := e.Store.Read(ctx, "Patient", patientID); err == nil && !p.Deleted {
		relate(relationRefs("Patient", p.Raw)...)
	} else if err != nil && fhir.KindOf(err) != fhir.KindNotFound {
		return nil, err
	}
	patient := url.Values{"patient": {"Patient/" + patientID}}
	for typ, statuses := range relationStatuses {
		if statuses == nil {
			continue
		}
		rs, err := e.find(ctx, typ, with(patient, "status", strings.Join(statuses, ",")))
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			relate(relationRefs(typ, r.Raw)...)
		}
	}
	owners, err := e.Store.Owners(ctx, patientID)
	if err != nil {
		return nil, err
	}
	for _, o := range owners {
		pc.Relationships[o] = true
	}
	consents, err := e.find(ctx, "Consent", with(patient, "status", "active"))
	if err != nil {
		return nil, err
	}
	for _, res := range consents {
		c, ok := ParseConsent(res.Raw)
		if !ok {
			continue
		}
		c.ResolveActors(func(ref string) string { return e.odsOf(ctx, reference{Reference: ref}, orgs) })
		pc.Consents = append(pc.Consents, c)
	}
	delete(pc.Relationships, "")
	cacheContext(ctx, pc)
	return pc, nil
}

func with(v url.Values, k, val string) url.Values {
	out := url.Values{}
	for key, vals := range v {
		out[key] = vals
	}
	out.Set(k, val)
	return out
}

// recentGPEncounter reports whether enc is among its patient's three most
// recent GP Encounters by period.start (the same rule the search
// visibility compiles to SQL).
func (e *Enforcer) recentGPEncounter(ctx context.Context, enc fhir.Resource) (bool, error) {
	recent, err := e.recentGPEncounters(ctx, enc.PatientID)
	return slices.Contains(recent, enc.ID), err
}

// recentGPEncounters returns the ids of the patient's three most recent GP
// Encounters by period.start.
func (e *Enforcer) recentGPEncounters(ctx context.Context, patientID string) ([]string, error) {
	if ids, ok := cachedRecent(ctx, patientID); ok {
		return ids, nil
	}
	all, err := e.find(ctx, "Encounter", url.Values{
		"patient": {"Patient/" + patientID},
		"_tag":    {RecordSourceSystem + "|" + RecordSourceGP},
	})
	if err != nil {
		return nil, err
	}
	type started struct {
		id    string
		start time.Time
	}
	var encs []started
	for _, r := range all {
		var body struct {
			Period struct {
				Start string `json:"start"`
			} `json:"period"`
		}
		_ = json.Unmarshal(r.Raw, &body)
		encs = append(encs, started{r.ID, parseStart(body.Period.Start)})
	}
	sort.SliceStable(encs, func(i, j int) bool { return encs[i].start.After(encs[j].start) })
	var ids []string
	for i := 0; i < len(encs) && i < 3; i++ {
		ids = append(ids, encs[i].id)
	}
	cacheRecent(ctx, patientID, ids)
	return ids, nil
}

// parseStart reads a FHIR date or dateTime; an unreadable one sorts first
// (as the oldest).
func parseStart(v string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t
		}
	}
	return time.Time{}
}

// Record describes res for the policy. A deletion has no body: only its
// owner may learn of it, so it is classified as sensitive.
func (e *Enforcer) Record(ctx context.Context, res fhir.Resource) (Record, error) {
	rec := Record{Type: res.Type, ID: res.ID, PatientID: res.PatientID}
	if res.Type == "Patient" {
		rec.PatientID = res.ID
	}
	if res.Deleted || res.Raw == nil {
		rec.Labels = Labels{Owner: res.Owner, Sensitive: true}
		return rec, nil
	}
	rec.Labels = Classify(res.Type, res.Raw, e.Codes)
	if res.Type == "Encounter" && rec.Source == RecordSourceGP && rec.PatientID != "" {
		var err error
		if rec.RecentGPEncounter, err = e.recentGPEncounter(ctx, res); err != nil {
			return rec, err
		}
	}
	return rec, nil
}

// CanSee reports whether the caller may see res, a resource read by id.
func (e *Enforcer) CanSee(ctx context.Context, c *Caller, res fhir.Resource) (bool, error) {
	visible, _, err := e.Filter(ctx, c, []fhir.Resource{res})
	return len(visible) == 1, err
}

// Filter returns the resources of rs the caller may see, in order, and
// whether any was withheld. Each patient's context is gathered once.
func (e *Enforcer) Filter(ctx context.Context, c *Caller, rs []fhir.Resource) ([]fhir.Resource, bool, error) {
	now := e.now()
	restrictions := map[string]*PatientRestriction{}
	var out []fhir.Resource
	for _, res := range rs {
		if c.CareRole != CareRoleAuditor && res.Type != "AuditEvent" &&
			((c.Organization != "" && res.Owner == c.Organization) || !r4.InPatientCompartment(res.Type)) {
			// Allows' first rules, decided without classifying the
			// resource: its owner's own records, and resources that are
			// not patient data.
			out = append(out, res)
			continue
		}
		rec, err := e.Record(ctx, res)
		if err != nil {
			return nil, false, err
		}
		key := ""
		if r4.InPatientCompartment(rec.Type) && rec.Owner != c.Organization {
			key = rec.PatientID
		}
		r, ok := restrictions[key]
		if !ok {
			var pc *PatientContext
			if key != "" {
				if pc, err = e.PatientContext(ctx, key); err != nil {
					return nil, false, err
				}
			}
			rr := c.Restriction(pc, now)
			r = &rr
			restrictions[key] = r
		}
		if r.Allows(rec) {
			out = append(out, res)
		}
	}
	return out, len(out) < len(rs), nil
}

// Gate applies the patient gate (access model, section 3) to a request
// about patientID: a 403 "no legitimate relationship" unless the caller has
// one, owns records of the patient, or breaks the glass. It answers the
// same for a patient that does not exist, so that the gate reveals nothing.
func (e *Enforcer) Gate(ctx context.Context, c *Caller, patientID string) error {
	// The cheap ways through first: break-glass, and owning a record of
	// the patient (one indexed query), before the full context.
	if c.BreakGlass() {
		return nil
	}
	if c.CareRole != CareRoleAuditor && c.Organization != "" {
		owners, err := e.Store.Owners(ctx, patientID)
		if err != nil {
			return err
		}
		if slices.Contains(owners, c.Organization) {
			return nil
		}
	}
	pc, err := e.PatientContext(ctx, patientID)
	if err != nil {
		return err
	}
	allowed, reason, _ := c.GateDecision(pc, e.now())
	if !allowed {
		return fhir.Errorf(fhir.KindForbidden, "forbidden", "%s with this patient", reason)
	}
	return nil
}
