package access

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/fhir"
)

// callerFromJSON runs a claims payload through the parser, the way a
// verified token's payload is.
func callerFromJSON(t *testing.T, payload string) (*Caller, error) {
	t.Helper()
	var c tokenClaims
	require.NoError(t, json.Unmarshal([]byte(payload), &c))
	return newCaller(&c)
}

func TestNewCaller(t *testing.T) {
	const gpConnectOrg = `{"resourceType":"Organization","identifier":[{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"A81001"}]}`
	const gpConnectPractitioner = `{"resourceType":"Practitioner","id":"1","identifier":[{"system":"https://fhir.nhs.uk/Id/sds-role-profile-id","value":"444555666777"},{"system":"https://fhir.nhs.uk/Id/sds-user-id","value":"111222333444"}],"name":[{"family":"Jones","given":["Claire","Anne"],"prefix":["Dr"]}]}`

	tests := []struct {
		name     string
		payload  string
		want     *Caller
		wantKind fhir.Kind
		wantDiag string
	}{
		{
			name:    "string organisation and practitioner",
			payload: `{"sub":"u1","jti":"j1","care_role":"clinician","requesting_organization":"RXH","requesting_practitioner":"G123","reason_for_request":"directcare","scope":"user/Patient.read launch"}`,
			want: &Caller{
				Subject: "u1", TokenID: "j1", CareRole: CareRoleClinician, Organization: "RXH",
				Practitioner: CallerPractitioner{ID: "G123"}, Reason: "directcare",
				Scopes: ParseScopes("user/Patient.read"),
			},
		},
		{
			name:    "GP Connect objects",
			payload: `{"sub":"u1","care_role":"gp","requesting_organization":` + gpConnectOrg + `,"requesting_practitioner":` + gpConnectPractitioner + `}`,
			want: &Caller{
				Subject: "u1", CareRole: CareRoleGP, Organization: "A81001",
				Practitioner: CallerPractitioner{ID: "111222333444", Display: "Dr Claire Anne Jones"},
			},
		},
		{
			name:    "practitioner object with name text and no SDS id",
			payload: `{"sub":"u1","care_role":"gp","requesting_organization":"A81001","requesting_practitioner":{"resourceType":"Practitioner","id":"p7","name":[{"text":"Nurse Ratched","family":"Ratched"}]}}`,
			want: &Caller{
				Subject: "u1", CareRole: CareRoleGP, Organization: "A81001",
				Practitioner: CallerPractitioner{ID: "p7", Display: "Nurse Ratched"},
			},
		},
		{
			name:    "scope as an array",
			payload: `{"sub":"u1","care_role":"care-staff","requesting_organization":"V12345","scope":["user/Observation.rs","user/Patient.r"]}`,
			want: &Caller{
				Subject: "u1", CareRole: CareRoleCareStaff, Organization: "V12345",
				Scopes: ParseScopes("user/Observation.rs user/Patient.r"),
			},
		},
		{
			name:    "system with record source",
			payload: `{"sub":"pas","care_role":"system","requesting_organization":"RXH","record_source":"hospital","scope":"system/*.cruds"}`,
			want: &Caller{
				Subject: "pas", CareRole: CareRoleSystem, Organization: "RXH", RecordSource: "hospital",
				Scopes: ParseScopes("system/*.cruds"),
			},
		},
		{
			name:    "record source of a user is ignored",
			payload: `{"sub":"u1","care_role":"care-staff","requesting_organization":"V12345","record_source":"gp"}`,
			want:    &Caller{Subject: "u1", CareRole: CareRoleCareStaff, Organization: "V12345"},
		},
		{
			name:    "break-glass",
			payload: `{"sub":"u1","care_role":"care-clinical","requesting_organization":"V12345","reason_for_request":"emergency","break_glass_reason":"unconscious on admission"}`,
			want: &Caller{
				Subject: "u1", CareRole: CareRoleCareClinical, Organization: "V12345",
				Reason: "emergency", BreakGlassReason: "unconscious on admission",
			},
		},
		{
			name:    "other purpose is kept for the audit trail",
			payload: `{"sub":"u1","care_role":"gp","requesting_organization":"A81001","reason_for_request":"research"}`,
			want:    &Caller{Subject: "u1", CareRole: CareRoleGP, Organization: "A81001", Reason: "research"},
		},
		{"no sub", `{"care_role":"gp","requesting_organization":"A81001"}`, nil, fhir.KindUnauthorized, "no sub claim"},
		{"no role", `{"sub":"u1","requesting_organization":"A81001"}`, nil, fhir.KindForbidden, "no care_role claim"},
		{"unknown role", `{"sub":"u1","care_role":"admin","requesting_organization":"A81001"}`, nil, fhir.KindForbidden, `care_role "admin" is not one of`},
		{"role in the wrong case", `{"sub":"u1","care_role":"GP","requesting_organization":"A81001"}`, nil, fhir.KindForbidden, `care_role "GP"`},
		{"no organisation", `{"sub":"u1","care_role":"gp"}`, nil, fhir.KindForbidden, "no requesting_organization claim"},
		{"null organisation", `{"sub":"u1","care_role":"gp","requesting_organization":null}`, nil, fhir.KindForbidden, "no requesting_organization claim"},
		{"empty organisation", `{"sub":"u1","care_role":"gp","requesting_organization":""}`, nil, fhir.KindForbidden, "is not an ODS code"},
		{"organisation with spaces", `{"sub":"u1","care_role":"gp","requesting_organization":"A81001 OR 1=1"}`, nil, fhir.KindForbidden, "is not an ODS code"},
		{"organisation as a number", `{"sub":"u1","care_role":"gp","requesting_organization":81001}`, nil, fhir.KindUnauthorized, "must be an ODS code or an Organization resource"},
		{"organisation of another resource type", `{"sub":"u1","care_role":"gp","requesting_organization":{"resourceType":"Patient"}}`, nil, fhir.KindUnauthorized, "must be an ODS code or an Organization resource"},
		{"organisation without ODS identifier", `{"sub":"u1","care_role":"gp","requesting_organization":{"resourceType":"Organization","identifier":[{"system":"urn:other","value":"X"}]}}`, nil, fhir.KindForbidden, "no identifier with system"},
		{"practitioner of the wrong shape", `{"sub":"u1","care_role":"gp","requesting_organization":"A81001","requesting_practitioner":["x"]}`, nil, fhir.KindUnauthorized, "requesting_practitioner must be"},
		{"system without record source", `{"sub":"s","care_role":"system","requesting_organization":"RXH"}`, nil, fhir.KindForbidden, "needs a record_source"},
		{"system with unknown record source", `{"sub":"s","care_role":"system","requesting_organization":"RXH","record_source":"pharmacy"}`, nil, fhir.KindForbidden, `record_source "pharmacy"`},
		{"break-glass without reason", `{"sub":"u1","care_role":"gp","requesting_organization":"A81001","reason_for_request":"emergency","break_glass_reason":"  "}`, nil, fhir.KindForbidden, "needs a break_glass_reason"},
		{"break-glass by care staff", `{"sub":"u1","care_role":"care-staff","requesting_organization":"V12345","reason_for_request":"emergency","break_glass_reason":"fall"}`, nil, fhir.KindForbidden, "only for clinical roles, not care-staff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := callerFromJSON(t, tt.payload)
			if tt.want != nil {
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
				return
			}
			assert.Nil(t, got)
			requireKind(t, err, tt.wantKind, tt.wantDiag)
		})
	}
}

func TestCallerPurposeAndSource(t *testing.T) {
	tests := []struct {
		name           string
		caller         Caller
		wantDirectCare bool
		wantBreakGlass bool
		wantSource     string
	}{
		{"gp direct care", Caller{CareRole: CareRoleGP, Reason: ReasonDirectCare}, true, false, RecordSourceGP},
		{"clinician", Caller{CareRole: CareRoleClinician, Reason: ReasonDirectCare}, true, false, RecordSourceHospital},
		{"care-clinical", Caller{CareRole: CareRoleCareClinical}, false, false, RecordSourceSocialCare},
		{"care-staff", Caller{CareRole: CareRoleCareStaff, Reason: ReasonDirectCare}, true, false, RecordSourceSocialCare},
		{"auditor writes nothing", Caller{CareRole: CareRoleAuditor}, false, false, ""},
		{"system says what it is", Caller{CareRole: CareRoleSystem, RecordSource: RecordSourceGP}, false, false, RecordSourceGP},
		{"clinician break-glass", Caller{CareRole: CareRoleClinician, Reason: ReasonEmergency, BreakGlassReason: "collapsed"}, false, true, RecordSourceHospital},
		{"break-glass needs a reason", Caller{CareRole: CareRoleGP, Reason: ReasonEmergency, BreakGlassReason: " "}, false, false, RecordSourceGP},
		{"break-glass needs a clinical role", Caller{CareRole: CareRoleCareStaff, Reason: ReasonEmergency, BreakGlassReason: "fall"}, false, false, RecordSourceSocialCare},
		{"break-glass needs emergency", Caller{CareRole: CareRoleGP, Reason: ReasonDirectCare, BreakGlassReason: "collapsed"}, true, false, RecordSourceGP},
		{"unknown purpose", Caller{CareRole: CareRoleGP, Reason: "DirectCare"}, false, false, RecordSourceGP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.wantDirectCare, tt.caller.DirectCare(), "DirectCare")
			assert.Equal(t, tt.wantBreakGlass, tt.caller.BreakGlass(), "BreakGlass")
			assert.Equal(t, tt.wantSource, tt.caller.SourceTag(), "SourceTag")
		})
	}
}

func TestCareRole(t *testing.T) {
	tests := []struct {
		role          CareRole
		known, clinic bool
	}{
		{CareRoleGP, true, true},
		{CareRoleClinician, true, true},
		{CareRoleCareClinical, true, true},
		{CareRoleCareStaff, true, false},
		{CareRoleAuditor, true, false},
		{CareRoleSystem, true, false},
		{"", false, false},
		{"doctor", false, false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.known, tt.role.Known(), "Known(%q)", tt.role)
		assert.Equal(t, tt.clinic, tt.role.Clinical(), "Clinical(%q)", tt.role)
	}
}

// FuzzCallerClaims feeds arbitrary payloads to the claims parser, which sees
// whatever an authorization server signs: it must never panic, and a Caller
// it returns must satisfy what the rules rely on.
func FuzzCallerClaims(f *testing.F) {
	f.Add([]byte(`{"sub":"u1","care_role":"gp","requesting_organization":"A81001","scope":"user/*.rs"}`))
	f.Add([]byte(`{"sub":"s","care_role":"system","record_source":"gp","requesting_organization":{"resourceType":"Organization","identifier":[{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"A81001"}]}}`))
	f.Add([]byte(`{"sub":"u1","care_role":"gp","requesting_organization":"A81001","requesting_practitioner":{"resourceType":"Practitioner","name":[{"given":["A"]}]}}`))
	f.Add([]byte(`{"scope":[1,2],"requesting_organization":[]}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var c tokenClaims
		if json.Unmarshal(payload, &c) != nil {
			return
		}
		caller, err := newCaller(&c)
		if err != nil {
			require.Nil(t, caller)
			kind := fhir.KindOf(err)
			require.True(t, kind == fhir.KindUnauthorized || kind == fhir.KindForbidden, "kind %v", kind)
			return
		}
		require.NotEmpty(t, caller.Subject)
		require.True(t, caller.CareRole.Known())
		require.True(t, validODSCode(caller.Organization))
		if caller.CareRole == CareRoleSystem {
			require.NotEmpty(t, caller.SourceTag())
		}
		if caller.Reason == ReasonEmergency {
			require.True(t, caller.BreakGlass())
		}
	})
}
