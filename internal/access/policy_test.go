package access

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The organisations of the policy tests.
const (
	orgPractice   = "A81001" // the patient's GP practice: owns the GP record and the Patient
	orgPractice2  = "A81002" // another practice
	orgHospital   = "RXH01"  // owns the hospital records; also the hospital's source system
	orgHospital2  = "RYJ01"  // the clinician's hospital
	orgCare       = "V12345" // the care provider that owns the social care records
	orgCareNurses = "VCC01"  // a nursing home (care-clinical)
	orgCareHome   = "VCS01"  // a residential care home (care-staff)
	orgAudit      = "X26"    // the auditors' organisation
	patient       = "p1"
)

// matrixRecords are the records of patient p1, built from JSON as stored,
// by name.
func matrixRecords(t *testing.T) map[string]Record {
	t.Helper()
	const restricted = ConfidentialitySystem + "|R"
	type spec struct {
		name, typ, owner, source string
		security                 []string
		members                  []string
		recent                   bool
		noPatient                bool
	}
	specs := []spec{
		{name: "patient", typ: "Patient", owner: orgPractice, source: RecordSourceGP},
		{name: "gp.cond", typ: "Condition", owner: orgPractice, source: RecordSourceGP, members: []string{`"code":` + snomed("38341003")}},
		{name: "gp.cond.R", typ: "Condition", owner: orgPractice, source: RecordSourceGP, security: []string{restricted}},
		{name: "gp.cond.hiv", typ: "Condition", owner: orgPractice, source: RecordSourceGP, members: []string{`"code":` + snomed("86406008")}},
		{name: "gp.allergy", typ: "AllergyIntolerance", owner: orgPractice, source: RecordSourceGP},
		{name: "gp.medstmt", typ: "MedicationStatement", owner: orgPractice, source: RecordSourceGP},
		{name: "gp.medreq", typ: "MedicationRequest", owner: orgPractice, source: RecordSourceGP},
		{name: "gp.imm", typ: "Immunization", owner: orgPractice, source: RecordSourceGP},
		{name: "gp.enc.recent", typ: "Encounter", owner: orgPractice, source: RecordSourceGP, recent: true},
		{name: "gp.enc.old", typ: "Encounter", owner: orgPractice, source: RecordSourceGP}, // the 4th most recent
		{name: "hosp.cond", typ: "Condition", owner: orgHospital, source: RecordSourceHospital},
		{name: "hosp.cond.R", typ: "Condition", owner: orgHospital, source: RecordSourceHospital, security: []string{restricted}},
		{name: "hosp.cond.hiv", typ: "Condition", owner: orgHospital, source: RecordSourceHospital, members: []string{`"code":` + snomed("15628003")}},
		{name: "sc.cond", typ: "Condition", owner: orgCare, source: RecordSourceSocialCare},
		{name: "sc.cond.R", typ: "Condition", owner: orgCare, source: RecordSourceSocialCare, security: []string{restricted}},
		{name: "sc.cond.hiv", typ: "Condition", owner: orgCare, source: RecordSourceSocialCare, members: []string{`"reasonCode":[` + snomed("52637005") + `]`}},
		{name: "org", typ: "Organization", owner: orgHospital, source: RecordSourceHospital, noPatient: true},
		{name: "audit", typ: "AuditEvent"},
	}
	out := map[string]Record{}
	for _, s := range specs {
		raw := resourceJSON(s.typ, s.owner, s.source, s.security, s.members...)
		if s.typ == "AuditEvent" {
			raw = `{"resourceType":"AuditEvent","id":"a1"}`
		}
		rec := Record{Type: s.typ, ID: s.name, PatientID: patient, Labels: Classify(s.typ, []byte(raw), nil), RecentGPEncounter: s.recent}
		if s.noPatient {
			rec.PatientID = ""
		}
		out[s.name] = rec
	}
	require.True(t, out["gp.cond.hiv"].Sensitive)
	require.True(t, out["sc.cond.R"].Sensitive)
	require.False(t, out["gp.cond"].Sensitive)
	return out
}

// The callers of the matrix, by name.
func matrixCaller(name, purpose string) *Caller {
	c := map[string]*Caller{
		"gp-owner":      {Subject: "u1", CareRole: CareRoleGP, Organization: orgPractice},
		"gp-other":      {Subject: "u2", CareRole: CareRoleGP, Organization: orgPractice2},
		"clinician":     {Subject: "u3", CareRole: CareRoleClinician, Organization: orgHospital2},
		"care-clinical": {Subject: "u4", CareRole: CareRoleCareClinical, Organization: orgCareNurses},
		"care-staff":    {Subject: "u5", CareRole: CareRoleCareStaff, Organization: orgCareHome},
		"auditor":       {Subject: "u6", CareRole: CareRoleAuditor, Organization: orgAudit},
		"system":        {Subject: "pas", CareRole: CareRoleSystem, Organization: orgHospital, RecordSource: RecordSourceHospital},
	}[name]
	switch purpose {
	case "directcare":
		c.Reason = ReasonDirectCare
	case "emergency":
		// Refused at the token for non-clinical roles; a hand-built
		// Caller must get nothing from it either.
		c.Reason, c.BreakGlassReason = ReasonEmergency, "collapsed at home, unresponsive"
	}
	return c
}

// The patient states of the matrix, in column order.
var matrixStates = []string{"rel", "norel", "objection", "actor-deny", "class-deny", "permit", "expired-objection", "expired-permit"}

// matrixPatient builds a patient state for a caller of organisation org.
// The record owners always have a relationship (they own records); "rel"
// adds the caller's organisation (say, a CareTeam names it).
func matrixPatient(t *testing.T, state, org string) *PatientContext {
	rel := map[string]bool{orgPractice: true, orgHospital: true, orgCare: true}
	withCaller := maps.Clone(rel)
	withCaller[org] = true
	pc := &PatientContext{PatientID: patient, Relationships: withCaller}
	add := func(provision string) { pc.Consents = append(pc.Consents, mustConsent(t, consentJSON(provision))) }
	switch state {
	case "rel":
	case "norel":
		pc.Relationships = rel
	case "objection":
		add(`{"type":"deny"}`)
	case "actor-deny":
		add(`{"type":"permit","provision":[{"type":"deny","actor":[` + odsActor(org) + `]}]}`)
	case "class-deny":
		add(`{"type":"permit","provision":[{"type":"deny","class":[{"system":"http://hl7.org/fhir/resource-types","code":"Condition"}]}]}`)
	case "permit":
		pc.Relationships = rel
		add(`{"type":"deny","provision":[{"type":"permit","actor":[` + odsActor(org) + `]}]}`)
	case "expired-objection":
		add(`{"type":"deny","period":{"start":"2019-04-01","end":"2020-12-31"}}`)
	case "expired-permit":
		pc.Relationships = rel
		add(`{"type":"permit","actor":[` + odsActor(org) + `],"period":{"end":"2020-12-31"}}`)
	default:
		t.Fatalf("unknown state %q", state)
	}
	return pc
}

// What callers see, named for the rule that gives it (access model,
// sections 3 to 6). Each is a list of record names.
const (
	// The owning practice sees everything it owns, sensitive or not.
	ownGP = "patient gp.cond gp.cond.R gp.cond.hiv gp.allergy gp.medstmt gp.medreq gp.imm gp.enc.recent gp.enc.old"
	// The hospital's system sees exactly what the hospital owns.
	ownHospital = "hosp.cond hosp.cond.R hosp.cond.hiv"
	// A clinical caller from elsewhere: every source, minus sensitive items.
	clinicalView = "patient gp.cond gp.allergy gp.medstmt gp.medreq gp.imm gp.enc.recent gp.enc.old hosp.cond sc.cond"
	// ... when the patient has denied the class Condition.
	clinicalNoConditions = "patient gp.allergy gp.medstmt gp.medreq gp.imm gp.enc.recent gp.enc.old"
	// care-staff: of the GP record only the restricted-view types and the
	// recent Encounters; hospital and social care records; minus sensitive.
	careStaffView = "patient gp.allergy gp.medstmt gp.medreq gp.imm gp.enc.recent hosp.cond sc.cond"
	// ... when the patient has denied the class Condition.
	careStaffNoConditions = "patient gp.allergy gp.medstmt gp.medreq gp.imm gp.enc.recent"
	// Non-patient resources: everyone but an auditor.
	nonPatient = "org"
	// AuditEvents: auditors, and nothing else.
	auditOnly = "audit"
)

// TestVisibleMatrix asserts, for every caller role, purpose and patient
// state, exactly which of the patient's records (and of the non-patient
// ones) the caller sees. The columns are matrixStates: rel, norel,
// objection, actor-deny, class-deny, permit, expired-objection,
// expired-permit.
func TestVisibleMatrix(t *testing.T) {
	records := matrixRecords(t)
	with := func(groups ...string) string { return strings.Join(groups, " ") }
	tests := []struct {
		caller, purpose string
		want            [8]string
		why             string
	}{
		{"gp-owner", "directcare", [8]string{
			with(ownGP, "hosp.cond sc.cond", nonPatient), // rel
			with(ownGP, "hosp.cond sc.cond", nonPatient), // norel: owning records is a relationship
			with(ownGP, nonPatient),                      // objection: own records only
			with(ownGP, nonPatient),                      // actor-deny: the deny cannot hide its own records
			with(ownGP, nonPatient),                      // class-deny: others' Conditions hidden, own kept
			with(ownGP, "hosp.cond sc.cond", nonPatient), // permit: objection narrowed for the practice
			with(ownGP, "hosp.cond sc.cond", nonPatient), // expired-objection: ignored
			with(ownGP, "hosp.cond sc.cond", nonPatient), // expired-permit: relationship by ownership
		}, "owner sees all it owns; others' records minus sensitive, subject to consent"},
		{"gp-owner", "emergency", [8]string{
			with(ownGP, "hosp.cond sc.cond", nonPatient),
			with(ownGP, "hosp.cond sc.cond", nonPatient),
			with(ownGP, nonPatient),
			with(ownGP, nonPatient),
			with(ownGP, nonPatient),
			with(ownGP, "hosp.cond sc.cond", nonPatient),
			with(ownGP, "hosp.cond sc.cond", nonPatient),
			with(ownGP, "hosp.cond sc.cond", nonPatient),
		}, "break-glass changes nothing for a caller with a relationship"},
		{"gp-owner", "none", [8]string{
			with(ownGP, nonPatient), with(ownGP, nonPatient), with(ownGP, nonPatient), with(ownGP, nonPatient),
			with(ownGP, nonPatient), with(ownGP, nonPatient), with(ownGP, nonPatient), with(ownGP, nonPatient),
		}, "no purpose: own records only"},

		{"gp-other", "directcare", [8]string{
			with(clinicalView, nonPatient),         // rel
			nonPatient,                             // norel: 403 at the gate
			nonPatient,                             // objection
			nonPatient,                             // actor-deny names this practice
			with(clinicalNoConditions, nonPatient), // class-deny
			with(clinicalView, nonPatient),         // permit grants the relationship
			with(clinicalView, nonPatient),         // expired-objection
			nonPatient,                             // expired-permit grants nothing
		}, "another practice: everything minus sensitive, with a relationship"},
		{"gp-other", "emergency", [8]string{
			with(clinicalView, nonPatient),
			with(clinicalView, nonPatient), // break-glass overrides the gate
			nonPatient,                     // but not an objection
			nonPatient,                     // nor a deny naming the caller
			with(clinicalNoConditions, nonPatient),
			with(clinicalView, nonPatient),
			with(clinicalView, nonPatient),
			with(clinicalView, nonPatient), // break-glass
		}, "break-glass: the gate is overridden, consent and sensitivity are not"},
		{"gp-other", "none", [8]string{nonPatient, nonPatient, nonPatient, nonPatient, nonPatient, nonPatient, nonPatient, nonPatient},
			"no purpose: no patient data of others"},

		{"clinician", "directcare", [8]string{
			with(clinicalView, nonPatient), nonPatient, nonPatient, nonPatient,
			with(clinicalNoConditions, nonPatient), with(clinicalView, nonPatient), with(clinicalView, nonPatient), nonPatient,
		}, "clinician: as another practice"},
		{"clinician", "emergency", [8]string{
			with(clinicalView, nonPatient), with(clinicalView, nonPatient), nonPatient, nonPatient,
			with(clinicalNoConditions, nonPatient), with(clinicalView, nonPatient), with(clinicalView, nonPatient), with(clinicalView, nonPatient),
		}, "clinician break-glass"},
		{"clinician", "none", [8]string{nonPatient, nonPatient, nonPatient, nonPatient, nonPatient, nonPatient, nonPatient, nonPatient},
			"no purpose"},

		{"care-clinical", "directcare", [8]string{
			with(clinicalView, nonPatient), nonPatient, nonPatient, nonPatient,
			with(clinicalNoConditions, nonPatient), with(clinicalView, nonPatient), with(clinicalView, nonPatient), nonPatient,
		}, "care-clinical: the full GP record minus sensitive"},
		{"care-clinical", "emergency", [8]string{
			with(clinicalView, nonPatient), with(clinicalView, nonPatient), nonPatient, nonPatient,
			with(clinicalNoConditions, nonPatient), with(clinicalView, nonPatient), with(clinicalView, nonPatient), with(clinicalView, nonPatient),
		}, "care-clinical is a clinical role and may break the glass"},
		{"care-clinical", "none", [8]string{nonPatient, nonPatient, nonPatient, nonPatient, nonPatient, nonPatient, nonPatient, nonPatient},
			"no purpose"},

		{"care-staff", "directcare", [8]string{
			with(careStaffView, nonPatient),         // rel
			nonPatient,                              // norel
			nonPatient,                              // objection
			nonPatient,                              // actor-deny
			with(careStaffNoConditions, nonPatient), // class-deny
			with(careStaffView, nonPatient),         // permit
			with(careStaffView, nonPatient),         // expired-objection
			nonPatient,                              // expired-permit
		}, "care-staff: the restricted view of the GP record"},
		{"care-staff", "emergency", [8]string{nonPatient, nonPatient, nonPatient, nonPatient, nonPatient, nonPatient, nonPatient, nonPatient},
			"non-clinical break-glass gives nothing (the token is refused anyway)"},
		{"care-staff", "none", [8]string{nonPatient, nonPatient, nonPatient, nonPatient, nonPatient, nonPatient, nonPatient, nonPatient},
			"no purpose"},

		{"auditor", "directcare", [8]string{auditOnly, auditOnly, auditOnly, auditOnly, auditOnly, auditOnly, auditOnly, auditOnly},
			"an auditor sees AuditEvents and nothing else"},
		{"auditor", "emergency", [8]string{auditOnly, auditOnly, auditOnly, auditOnly, auditOnly, auditOnly, auditOnly, auditOnly},
			"an auditor sees AuditEvents and nothing else"},
		{"auditor", "none", [8]string{auditOnly, auditOnly, auditOnly, auditOnly, auditOnly, auditOnly, auditOnly, auditOnly},
			"an auditor sees AuditEvents and nothing else"},

		{"system", "directcare", [8]string{
			with(ownHospital, nonPatient), with(ownHospital, nonPatient), with(ownHospital, nonPatient), with(ownHospital, nonPatient),
			with(ownHospital, nonPatient), with(ownHospital, nonPatient), with(ownHospital, nonPatient), with(ownHospital, nonPatient),
		}, "a system sees exactly what its organisation owns, not even another owner's Patient"},
		{"system", "emergency", [8]string{
			with(ownHospital, nonPatient), with(ownHospital, nonPatient), with(ownHospital, nonPatient), with(ownHospital, nonPatient),
			with(ownHospital, nonPatient), with(ownHospital, nonPatient), with(ownHospital, nonPatient), with(ownHospital, nonPatient),
		}, "a system cannot break the glass"},
		{"system", "none", [8]string{
			with(ownHospital, nonPatient), with(ownHospital, nonPatient), with(ownHospital, nonPatient), with(ownHospital, nonPatient),
			with(ownHospital, nonPatient), with(ownHospital, nonPatient), with(ownHospital, nonPatient), with(ownHospital, nonPatient),
		}, "a system needs no purpose for its own records"},
	}
	require.Len(t, tests, 7*3)
	for _, tt := range tests {
		for i, state := range matrixStates {
			t.Run(tt.caller+"/"+tt.purpose+"/"+state, func(t *testing.T) {
				c := matrixCaller(tt.caller, tt.purpose)
				pc := matrixPatient(t, state, c.Organization)
				var got []string
				for name, rec := range records {
					if c.Visible(rec, pc, testNow) {
						got = append(got, name)
					}
				}
				want := strings.Fields(tt.want[i])
				slices.Sort(got)
				slices.Sort(want)
				assert.Equal(t, want, got, tt.why)
			})
		}
	}
}

func TestGateDecision(t *testing.T) {
	tests := []struct {
		caller, purpose, state string
		wantAllowed            bool
		wantReason             string
		wantBreakGlass         bool
	}{
		{"gp-owner", "directcare", "norel", true, GateRelationship, false},
		{"gp-other", "directcare", "rel", true, GateRelationship, false},
		{"gp-other", "directcare", "norel", false, GateNoRelationship, false},
		{"gp-other", "directcare", "permit", true, GateConsentPermit, false},
		{"gp-other", "directcare", "expired-permit", false, GateNoRelationship, false},
		{"gp-other", "emergency", "norel", true, GateBreakGlass, true},
		{"gp-other", "emergency", "rel", true, GateRelationship, false},
		// An objection does not close the gate: the caller passes it and
		// sees nothing of others (404s, not 403s); break-glass is still
		// used, and audited as such.
		{"gp-other", "directcare", "objection", true, GateRelationship, false},
		{"clinician", "emergency", "expired-permit", true, GateBreakGlass, true},
		{"care-staff", "directcare", "rel", true, GateRelationship, false},
		{"care-staff", "emergency", "norel", false, GateNoRelationship, false},
		{"care-staff", "none", "rel", true, GateRelationship, false},
		{"auditor", "directcare", "rel", false, GateAuditor, false},
		{"system", "none", "norel", true, GateRelationship, false},
	}
	for _, tt := range tests {
		t.Run(tt.caller+"/"+tt.purpose+"/"+tt.state, func(t *testing.T) {
			c := matrixCaller(tt.caller, tt.purpose)
			allowed, reason, bg := c.GateDecision(matrixPatient(t, tt.state, c.Organization), testNow)
			assert.Equal(t, tt.wantAllowed, allowed)
			assert.Equal(t, tt.wantReason, reason)
			assert.Equal(t, tt.wantBreakGlass, bg)
		})
	}
	allowed, reason, _ := matrixCaller("clinician", "directcare").GateDecision(nil, testNow)
	assert.False(t, allowed)
	assert.Equal(t, GateNoRelationship, reason)
}

func TestRestriction(t *testing.T) {
	conditions := []ConsentRule{{Types: []string{"Condition"}}}
	tests := []struct {
		caller, purpose, state string
		want                   PatientRestriction
	}{
		{"auditor", "directcare", "rel", PatientRestriction{Organization: orgAudit, PatientID: patient, AuditEvents: true}},
		{"system", "none", "rel", PatientRestriction{Organization: orgHospital, PatientID: patient, NonPatient: true, OwnRecords: true}},
		{"clinician", "none", "rel", PatientRestriction{Organization: orgHospital2, PatientID: patient, NonPatient: true, OwnRecords: true}},
		{"clinician", "directcare", "norel", PatientRestriction{Organization: orgHospital2, PatientID: patient, NonPatient: true, OwnRecords: true}},
		{"clinician", "emergency", "objection", PatientRestriction{Organization: orgHospital2, PatientID: patient, NonPatient: true, OwnRecords: true}},
		{"clinician", "directcare", "rel", PatientRestriction{
			Organization: orgHospital2, PatientID: patient, NonPatient: true, OwnRecords: true,
			Shared: true, Sources: []string{"gp", "hospital", "social-care"}, HideSensitive: true,
		}},
		{"care-staff", "directcare", "class-deny", PatientRestriction{
			Organization: orgCareHome, PatientID: patient, NonPatient: true, OwnRecords: true,
			Shared: true, Sources: []string{"gp", "hospital", "social-care"}, HideSensitive: true,
			GPTypes:                []string{"AllergyIntolerance", "MedicationStatement", "MedicationRequest", "Immunization", "Encounter"},
			GPRecentEncountersOnly: true,
			Consent:                conditions,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.caller+"/"+tt.purpose+"/"+tt.state, func(t *testing.T) {
			c := matrixCaller(tt.caller, tt.purpose)
			assert.Equal(t, tt.want, c.Restriction(matrixPatient(t, tt.state, c.Organization), testNow))
		})
	}
	r := matrixCaller("gp-owner", "directcare").Restriction(nil, testNow)
	assert.Equal(t, PatientRestriction{Organization: orgPractice, NonPatient: true, OwnRecords: true}, r)
}

// TestVisible covers what the matrix does not: edges of records, patient
// contexts and consents.
func TestVisible(t *testing.T) {
	clinician := matrixCaller("clinician", "directcare")
	careStaff := matrixCaller("care-staff", "directcare")
	related := func(consents ...string) *PatientContext {
		pc := &PatientContext{PatientID: patient, Relationships: map[string]bool{orgHospital2: true, orgCareHome: true}}
		for _, p := range consents {
			pc.Consents = append(pc.Consents, mustConsent(t, consentJSON(p)))
		}
		return pc
	}
	record := func(typ, owner, source string, security []string, members ...string) Record {
		raw := resourceJSON(typ, owner, source, security, members...)
		return Record{Type: typ, ID: "r1", PatientID: patient, Labels: Classify(typ, []byte(raw), nil)}
	}
	gpObservation := record("Observation", orgPractice, RecordSourceGP, nil)
	tests := []struct {
		name   string
		caller *Caller
		rec    Record
		pc     *PatientContext
		want   bool
	}{
		{"a GP Observation, clinician", clinician, gpObservation, related(), true},
		{"a GP Observation, care-staff", careStaff, gpObservation, related(), false},
		{"a hospital Encounter, care-staff", careStaff, record("Encounter", orgHospital, RecordSourceHospital, nil), related(), true},
		{"an old GP Encounter, clinician", clinician, record("Encounter", orgPractice, RecordSourceGP, nil), related(), true},
		{"a record without a source tag", clinician, record("Observation", orgPractice, "", nil), related(), false},
		{"a record with an unknown source", clinician, record("Observation", orgPractice, "pharmacy", nil), related(), false},
		{"a record without an owner tag is judged as another's", clinician, record("Observation", "", RecordSourceHospital, nil), related(), true},
		{"a record of another patient", clinician, func() Record { r := gpObservation; r.PatientID = "p2"; return r }(), related(), false},
		{"a patient-compartment record naming no patient", clinician, func() Record { r := gpObservation; r.PatientID = ""; return r }(), related(), false},
		{"own record of another patient", clinician, func() Record {
			r := record("Observation", orgHospital2, RecordSourceHospital, nil)
			r.PatientID = "p2"
			return r
		}(), related(), true},
		{"no patient context, own record", clinician, record("Observation", orgHospital2, RecordSourceHospital, nil), nil, true},
		{"no patient context, another's record", clinician, gpObservation, nil, false},
		{"a restricted Patient", clinician, record("Patient", orgPractice, RecordSourceGP, []string{ConfidentialitySystem + "|R"}), related(), false},
		{"a Patient owned by a hospital, care-staff", careStaff, record("Patient", orgHospital, RecordSourceHospital, nil), related(), true},
		{"a Patient without a source tag", careStaff, record("Patient", orgHospital, "", nil), related(), true},
		{"a Medication with a sensitive code", matrixCaller("care-staff", "none"), record("Medication", orgHospital, RecordSourceHospital, nil, `"code":`+snomed("86406008")), nil, true},
		{"a Medication labelled restricted", matrixCaller("care-staff", "none"), record("Medication", orgHospital, RecordSourceHospital, []string{ConfidentialitySystem + "|R"}), nil, true},
		{"an AuditEvent, its organisation's own", matrixCaller("clinician", "directcare"), record("AuditEvent", orgHospital2, RecordSourceHospital, nil), related(), false},
		{"an unknown role", &Caller{CareRole: "porter", Organization: orgHospital2, Reason: ReasonDirectCare}, gpObservation, related(), false},
		{"an unknown role, non-patient data", &Caller{CareRole: "porter", Organization: orgHospital2, Reason: ReasonDirectCare}, record("Location", orgHospital, RecordSourceHospital, nil), nil, true},
		{"a caller without an organisation", &Caller{CareRole: CareRoleClinician, Reason: ReasonDirectCare}, record("Observation", "", RecordSourceHospital, nil), related(), false},
		{"break-glass without a reason", &Caller{CareRole: CareRoleClinician, Organization: orgPractice2, Reason: ReasonEmergency}, gpObservation,
			&PatientContext{PatientID: patient}, false},
		{"label deny hides a labelled record", clinician, record("Observation", orgPractice, RecordSourceGP, []string{"http://example.org/local|team-only"}),
			related(`{"type":"permit","provision":[{"type":"deny","securityLabel":[{"system":"http://example.org/local","code":"team-only"}]}]}`), false},
		{"label deny leaves others", clinician, gpObservation,
			related(`{"type":"permit","provision":[{"type":"deny","securityLabel":[{"system":"http://example.org/local","code":"team-only"}]}]}`), true},
		{"label deny does not hide the owner's own", matrixCaller("gp-owner", "directcare"), record("Observation", orgPractice, RecordSourceGP, []string{"http://example.org/local|team-only"}),
			related(`{"type":"deny","securityLabel":[{"system":"http://example.org/local","code":"team-only"}]}`), true},
		{"class deny of Patient hides the Patient", careStaff, record("Patient", orgPractice, RecordSourceGP, nil),
			related(`{"type":"deny","class":[{"system":"http://hl7.org/fhir/resource-types","code":"Patient"}]}`), false},
		{"objection except Observations for me", clinician, gpObservation,
			related(`{"type":"deny","provision":[{"type":"permit","actor":[` + odsActor(orgHospital2) + `],"class":[{"code":"Observation"}]}]}`), true},
		{"objection except Observations for me: a Condition", clinician, record("Condition", orgPractice, RecordSourceGP, nil),
			related(`{"type":"deny","provision":[{"type":"permit","actor":[` + odsActor(orgHospital2) + `],"class":[{"code":"Observation"}]}]}`), false},
		{"objection except in an emergency, break-glass", matrixCaller("clinician", "emergency"), gpObservation,
			&PatientContext{PatientID: patient, Consents: []Consent{mustConsent(t, consentJSON(
				`{"type":"deny","provision":[{"type":"permit","purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"ETREAT"}]}]}`))}}, true},
		{"objection except in an emergency, direct care", clinician, gpObservation,
			related(`{"type":"deny","provision":[{"type":"permit","purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"ETREAT"}]}]}`), false},
		{"deny of an unresolved organisation fails closed", clinician, gpObservation,
			related(`{"type":"permit","provision":[{"type":"deny","actor":[{"reference":{"reference":"Organization/o9"}}]}]}`), false},
		{"deny of a resolved other organisation", clinician, gpObservation, func() *PatientContext {
			pc := related(`{"type":"permit","provision":[{"type":"deny","actor":[{"reference":{"reference":"Organization/o9"}}]}]}`)
			pc.Consents[0].ResolveActors(func(string) string { return orgHospital })
			return pc
		}(), true},
		{"deny of this organisation resolved", clinician, gpObservation, func() *PatientContext {
			pc := related(`{"type":"permit","provision":[{"type":"deny","actor":[{"reference":{"reference":"Organization/o9"}}]}]}`)
			pc.Consents[0].ResolveActors(func(string) string { return orgHospital2 })
			return pc
		}(), false},
		{"a deny in force until tomorrow", clinician, gpObservation,
			related(`{"type":"deny","period":{"end":"` + testNow.Format(time.DateOnly) + `"}}`), false},
		{"a deny that ended yesterday", clinician, gpObservation,
			related(`{"type":"deny","period":{"end":"` + testNow.AddDate(0, 0, -1).Format(time.DateOnly) + `"}}`), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.caller.Visible(tt.rec, tt.pc, testNow))
			r := tt.caller.Restriction(tt.pc, testNow)
			assert.Equal(t, tt.want, r.Allows(tt.rec), "Visible is Restriction().Allows()")
		})
	}
}
