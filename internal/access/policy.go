package access

import (
	"slices"
	"time"

	"github.com/sharedcare/sharedcare/internal/fhir/r4"
)

// PatientContext is what the store knows about one patient that bears on
// who may see the patient's record.
type PatientContext struct {
	PatientID string
	// Relationships holds the ODS codes of the organisations with a care
	// relationship to the patient (access model, section 3): the Patient's
	// generalPractitioner or managingOrganization, the managingOrganization
	// of an active, planned or waitlist EpisodeOfCare, an organisation
	// named by an active CareTeam, and every organisation that owns a
	// record of the patient. Permits in Consents are not included: the
	// policy reads them itself.
	Relationships map[string]bool
	// Consents are the patient's active privacy consents, with actors
	// resolved (Consent.ResolveActors).
	Consents []Consent
}

// Record is one stored resource as the policy sees it.
type Record struct {
	Type string
	ID   string
	// PatientID is the patient whose record the resource belongs to (for
	// a Patient, its own id); empty for resources outside the Patient
	// compartment. Whether a resource is patient data is decided by its
	// type (the Patient CompartmentDefinition), so a resource of a
	// compartment type that names no patient is shown to its owner only.
	PatientID string
	Labels    // owner, source and sensitivity, from Classify
	// RecentGPEncounter is set on an Encounter tagged record-source gp that
	// is among the patient's three most recent GP Encounters by
	// period.start, counted over all of them, visible or not: the restricted
	// view takes the three most recent and then removes sensitive items.
	RecentGPEncounter bool
}

// The reasons GateDecision gives.
const (
	GateRelationship   = "legitimate relationship"
	GateConsentPermit  = "relationship granted by the patient's consent"
	GateBreakGlass     = "break-glass override of the relationship gate"
	GateNoRelationship = "no legitimate relationship"
	GateAuditor        = "an auditor sees only AuditEvents"
)

// restrictedViewTypes are the GP record resource types a non-clinical
// social care caller (care-staff) may see (access model, section 5), besides
// the patient's three most recent GP Encounters.
var restrictedViewTypes = []string{"AllergyIntolerance", "MedicationStatement", "MedicationRequest", "Immunization", "Encounter"}

// allSources are the record-source codes the server stamps.
var allSources = []string{RecordSourceGP, RecordSourceHospital, RecordSourceSocialCare}

// GateDecision applies the patient gate (access model, section 3) and
// break-glass (section 6) to the caller and one patient. allowed is false
// when the caller has no care relationship with the patient and cannot
// break the glass, or is an auditor; reason says why, for the 403 and the
// audit trail. breakGlassUsed reports that the gate was passed only by
// break-glass (the audit trail marks every break-glass request with BTG
// anyway; this says the override was needed).
//
// Passing the gate is not seeing the record: Restriction decides what is
// visible, and an objection, a consent deny or the caller's purpose may
// still leave nothing (withheld records answer 404, not 403). The gate
// never applies to records the caller's organisation owns.
func (c *Caller) GateDecision(pc *PatientContext, now time.Time) (allowed bool, reason string, breakGlassUsed bool) {
	var permitted bool
	if pc != nil {
		_, permitted = evaluate(pc.Consents, c.consentRequest(now))
	}
	return c.gate(pc, permitted)
}

// gate is GateDecision once the consents have been evaluated: permitted
// reports whether a consent permit names the caller's organisation.
func (c *Caller) gate(pc *PatientContext, permitted bool) (allowed bool, reason string, breakGlassUsed bool) {
	switch {
	case c.CareRole == CareRoleAuditor:
		return false, GateAuditor, false
	case c.Organization == "" || pc == nil:
	case pc.Relationships[c.Organization]:
		return true, GateRelationship, false
	case permitted:
		return true, GateConsentPermit, false
	}
	if c.BreakGlass() {
		return true, GateBreakGlass, true
	}
	return false, GateNoRelationship, false
}

func (c *Caller) consentRequest(now time.Time) consentRequest {
	return consentRequest{org: c.Organization, purposes: purposesOf(c), now: now}
}

// PatientRestriction is everything the access model lets one caller see,
// worked out for one patient at one time, as data: Allows applies it to a
// record in Go, and the store compiles the same fields to a SQL predicate
// over its columns (type, patient, owner, source, sensitive, labels,
// recent GP encounter), so that both paths share one source of truth. The
// predicate is, in this order:
//
//	type = AuditEvent                            -> AuditEvents
//	type outside the Patient compartment (r4)    -> NonPatient
//	OwnRecords and owner = Organization          -> visible
//	not Shared or patient <> PatientID           -> hidden
//	HideSensitive and sensitive                  -> hidden
//	the first Consent rule the record matches    -> hidden if it denies
//	type = Patient                               -> visible
//	source not in Sources                        -> hidden
//	source = gp, GPTypes not nil, type not in it -> hidden
//	source = gp, type = Encounter,
//	  GPRecentEncountersOnly, not recent         -> hidden
//	otherwise                                    -> visible
type PatientRestriction struct {
	Organization string // the caller's ODS code
	PatientID    string // the patient the fields below are about

	AuditEvents bool // AuditEvents are visible (auditors only)
	NonPatient  bool // resources outside the Patient compartment are visible
	OwnRecords  bool // records the caller's organisation owns are visible

	// Shared reports whether records of PatientID owned by other
	// organisations may be visible, subject to the fields below. When it is
	// false the caller sees only what its organisation owns.
	Shared        bool
	Sources       []string // record sources that may be visible
	GPTypes       []string // resource types visible from the GP record; nil: every type
	HideSensitive bool     // sensitive items are hidden
	// GPRecentEncountersOnly limits GP Encounters to the patient's three
	// most recent (Record.RecentGPEncounter).
	GPRecentEncountersOnly bool
	// Consent are the patient's consent rules for this caller, in order:
	// the first a record matches decides, and a record none matches is not
	// restricted by consent.
	Consent []ConsentRule
}

// Restriction works out what the caller may see of the patient pc
// describes (nil: of no patient: non-patient resources and its own
// records only).
func (c *Caller) Restriction(pc *PatientContext, now time.Time) PatientRestriction {
	r := PatientRestriction{Organization: c.Organization}
	if pc != nil {
		r.PatientID = pc.PatientID
	}
	if c.CareRole == CareRoleAuditor {
		r.AuditEvents = true
		return r
	}
	r.NonPatient = true
	r.OwnRecords = c.Organization != ""
	if pc == nil || pc.PatientID == "" || !(c.DirectCare() || c.BreakGlass()) {
		return r
	}
	switch c.CareRole {
	case CareRoleGP, CareRoleClinician, CareRoleCareClinical, CareRoleCareStaff:
	default:
		// A system sees only its own organisation's records; a role this
		// model does not know sees no more.
		return r
	}
	rules, permitted := evaluate(pc.Consents, c.consentRequest(now))
	if allowed, _, _ := c.gate(pc, permitted); !allowed {
		return r
	}
	if len(rules) > 0 && !rules[0].Permit && rules[0].catchAll() {
		// An objection, or a deny naming the caller, that no more specific
		// permit narrows: nothing of others is visible.
		return r
	}
	r.Shared = true
	r.Sources = slices.Clone(allSources)
	r.HideSensitive = true
	r.Consent = rules
	if c.CareRole == CareRoleCareStaff {
		r.GPTypes = slices.Clone(restrictedViewTypes)
		r.GPRecentEncountersOnly = true
	}
	return r
}

// Allows reports whether rec is visible under r.
func (r *PatientRestriction) Allows(rec Record) bool {
	switch {
	case rec.Type == "AuditEvent":
		return r.AuditEvents
	case !r4.InPatientCompartment(rec.Type):
		return r.NonPatient
	case r.OwnRecords && rec.Owner != "" && rec.Owner == r.Organization:
		return true
	case !r.Shared || rec.PatientID == "" || rec.PatientID != r.PatientID:
		return false
	case r.HideSensitive && rec.Sensitive:
		return false
	}
	for _, rule := range r.Consent {
		if rule.matches(&rec) {
			if !rule.Permit {
				return false
			}
			break
		}
	}
	switch {
	case rec.Type == "Patient":
		return true
	case !slices.Contains(r.Sources, rec.Source):
		return false
	case rec.Source == RecordSourceGP && r.GPTypes != nil && !slices.Contains(r.GPTypes, rec.Type):
		return false
	case rec.Source == RecordSourceGP && rec.Type == "Encounter" && r.GPRecentEncountersOnly && !rec.RecentGPEncounter:
		return false
	}
	return true
}

// Visible reports whether the caller may see rec, a record of the patient
// pc describes (pc may be nil for a resource outside the Patient
// compartment). It is Restriction(pc, now).Allows(rec); use Restriction
// directly to decide many records of one patient.
func (c *Caller) Visible(rec Record, pc *PatientContext, now time.Time) bool {
	r := c.Restriction(pc, now)
	return r.Allows(rec)
}
