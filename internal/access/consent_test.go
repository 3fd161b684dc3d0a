package access

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// consentJSON wraps a provision in an active privacy Consent of patient p1.
func consentJSON(provision string) string {
	return `{"resourceType":"Consent","id":"c1","status":"active",` +
		`"scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},` +
		`"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],` +
		`"patient":{"reference":"Patient/p1"},"provision":` + provision + `}`
}

// odsActor is a provision actor naming an organisation by its ODS code,
// as a primary information recipient.
func odsActor(code string) string {
	return `{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"PRCP"}]},` +
		`"reference":{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"` + code + `"}}}`
}

func mustConsent(t testing.TB, raw string) Consent {
	t.Helper()
	c, ok := ParseConsent([]byte(raw))
	require.True(t, ok, "not an active privacy consent: %s", raw)
	return c
}

func TestParseConsentUKCoreExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(sharedDir, "fhir/ukcore-examples/json/UKCore-Consent-*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "the UK Core Consent examples are missing")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		c, ok := ParseConsent(raw)
		require.True(t, ok, filepath.Base(f))
		// UKCore-Consent-ForInformationAccess-Example: an information access
		// consent whose only provision, without a type, is limited to the
		// purpose GOV. It decides nothing for anyone.
		assert.Equal(t, Consent{
			ID:        "UKCore-Consent-ForInformationAccess-Example",
			PatientID: "UKCore-Patient-RichardSmith-Example",
			Provision: Provision{Purposes: []string{"GOV"}},
		}, c)
		for _, purposes := range [][]string{nil, {"TREAT"}, {"TREAT", "ETREAT", "BTG"}} {
			rules, permitted := evaluate([]Consent{c}, consentRequest{org: "A81001", purposes: purposes, now: testNow})
			assert.Empty(t, rules)
			assert.False(t, permitted)
		}
	}
}

var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func TestParseConsent(t *testing.T) {
	header := func(status, scope string) string {
		return `{"resourceType":"Consent","id":"c1","status":"` + status + `","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"` + scope + `"}]},"patient":{"reference":"Patient/p1"},"provision":{"type":"deny"}}`
	}
	tests := []struct {
		name   string
		raw    string
		want   Consent
		wantOK bool
	}{
		{name: "not JSON", raw: `{"resourceType":`},
		{name: "not a Consent", raw: `{"resourceType":"Patient","status":"active"}`},
		{name: "inactive", raw: header("inactive", "patient-privacy")},
		{name: "draft", raw: header("draft", "patient-privacy")},
		{name: "rejected", raw: header("rejected", "patient-privacy")},
		{name: "treatment scope", raw: header("active", "treatment")},
		{name: "research scope", raw: header("active", "research")},
		{
			name: "privacy code in another system",
			raw:  `{"resourceType":"Consent","status":"active","scope":{"coding":[{"system":"http://example.org","code":"patient-privacy"}]}}`,
		},
		{
			name:   "objection",
			raw:    header("active", "patient-privacy"),
			want:   Consent{ID: "c1", PatientID: "p1", Provision: Provision{Type: ProvisionDeny}},
			wantOK: true,
		},
		{
			name:   "no provision",
			raw:    `{"resourceType":"Consent","id":"c2","status":"active","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},"patient":{"reference":"Patient/p2/_history/3"}}`,
			want:   Consent{ID: "c2", PatientID: "p2"},
			wantOK: true,
		},
		{
			name:   "patient by identifier",
			raw:    `{"resourceType":"Consent","status":"active","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},"patient":{"identifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000009"}},"provision":{"type":"deny"}}`,
			want:   Consent{Provision: Provision{Type: ProvisionDeny}},
			wantOK: true,
		},
		{
			name:   "a provision of the wrong shape is read as an objection",
			raw:    consentJSON(`{"type":"permit","actor":{"reference":"Organization/1"}}`),
			want:   Consent{ID: "c1", PatientID: "p1", Provision: Provision{Type: ProvisionDeny, Unsupported: []string{"provision"}}},
			wantOK: true,
		},
		{
			name: "every constraint",
			raw: consentJSON(`{"type":"permit","period":{"start":"2024-01-01","end":"2025-12-31"},`+
				`"actor":[`+odsActor("RXH01")+`,{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"reference":"Organization/org-2"}},`+
				`{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"PRCP"}]},"reference":{"reference":"#care"}},`+
				`{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-RoleClass","code":"CST"}]},"reference":{"reference":"Practitioner/p9"}}],`+
				`"action":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentaction","code":"access"}]}],`+
				`"securityLabel":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"},{"system":"http://hl7.org/fhir/v3/ActCode","code":"HIV"}],`+
				`"purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"TREAT"}],`+
				`"class":[{"system":"http://hl7.org/fhir/resource-types","code":"Condition"},{"code":"Observation"}],`+
				`"provision":[{"type":"deny","class":[{"system":"http://hl7.org/fhir/resource-types","code":"Observation"}]}]}`,
			) + ``,
			want: Consent{ID: "c1", PatientID: "p1", Provision: Provision{
				Type:   ProvisionPermit,
				Period: Period{Start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
				Actors: []Actor{
					{ODS: "RXH01", Recipient: true},
					{Reference: "Organization/org-2", Recipient: true},
					{Reference: "#care", Recipient: true},
					{Reference: "Practitioner/p9"},
				},
				Classes:        []string{"Condition", "Observation"},
				SecurityLabels: []string{ConfidentialitySystem + "|R", ActCodeSystem + "|HIV"},
				Purposes:       []string{"TREAT"},
				Actions:        []string{"access"},
				Provisions:     []Provision{{Type: ProvisionDeny, Classes: []string{"Observation"}}},
			}},
			wantOK: true,
		},
		{
			name: "unsupported constraints are named",
			raw: consentJSON(`{"type":"kind-of","period":{"start":"last tuesday"},` +
				`"class":[{"system":"http://hl7.org/fhir/resource-types","code":"NotAType"},{"system":"urn:ietf:bcp:13","code":"application/pdf"}],` +
				`"securityLabel":[{"code":"R"}],"purpose":[{"system":"http://example.org/pou","code":"TREAT"}],` +
				`"action":[{"text":"look"}],"code":[{"text":"HIV"}],"dataPeriod":{"start":"2020"},"data":[{"meaning":"instance","reference":{"reference":"Observation/1"}}]}`),
			want: Consent{ID: "c1", PatientID: "p1", Provision: Provision{
				Type:        ProvisionDeny,
				Unsupported: []string{"action", "class", "code", "data", "dataPeriod", "period", "purpose", "securityLabel", "type"},
			}},
			wantOK: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseConsent([]byte(tt.raw))
			require.Equal(t, tt.wantOK, ok)
			if ok {
				assert.Equal(t, tt.want, got)
			}
		})
	}
}

func TestParseConsentContainedOrganization(t *testing.T) {
	raw := `{"resourceType":"Consent","id":"c1","status":"active",` +
		`"contained":[{"resourceType":"Organization","id":"care","identifier":[{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"V12345"}]},` +
		`{"resourceType":"Organization","id":"nods","identifier":[{"system":"http://example.org","value":"1"}]}],` +
		`"scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},` +
		`"provision":{"type":"deny","actor":[{"reference":{"reference":"#care"}},{"reference":{"reference":"#nods"}}]}}`
	c := mustConsent(t, raw)
	assert.Equal(t, []Actor{{Reference: "#care", ODS: "V12345", Recipient: true}, {Reference: "#nods", Recipient: true}}, c.Provision.Actors)
}

func TestResolveActors(t *testing.T) {
	c := mustConsent(t, consentJSON(`{"type":"deny","actor":[`+
		`{"reference":{"reference":"Organization/o1"}},`+
		`{"reference":{"reference":"https://fhir.example.org/fhir/Organization/o2/_history/1"}},`+
		`{"reference":{"reference":"Practitioner/p1"}},`+
		odsActor("RXH01")+`],`+
		`"provision":[{"type":"permit","actor":[{"reference":{"reference":"Organization/o1"}},{"reference":{"reference":"Organization/unknown"}}]}]}`))
	assert.Equal(t, []string{"Organization/o1", "https://fhir.example.org/fhir/Organization/o2/_history/1", "Organization/unknown"}, c.OrganizationReferences())

	known := map[string]string{"Organization/o1": "A81001", "https://fhir.example.org/fhir/Organization/o2/_history/1": "A81002"}
	var asked []string
	c.ResolveActors(func(ref string) string {
		asked = append(asked, ref)
		return known[ref]
	})
	assert.Equal(t, []string{"Organization/o1", "https://fhir.example.org/fhir/Organization/o2/_history/1", "Organization/o1", "Organization/unknown"}, asked)
	assert.Equal(t, []Actor{
		{Reference: "Organization/o1", ODS: "A81001", Recipient: true},
		{Reference: "https://fhir.example.org/fhir/Organization/o2/_history/1", ODS: "A81002", Recipient: true},
		{Reference: "Practitioner/p1", Recipient: true},
		{ODS: "RXH01", Recipient: true},
	}, c.Provision.Actors)
	assert.Equal(t, []Actor{
		{Reference: "Organization/o1", ODS: "A81001", Recipient: true},
		{Reference: "Organization/unknown", Recipient: true},
	}, c.Provision.Provisions[0].Actors)
	assert.Equal(t, []string{"Organization/unknown"}, c.OrganizationReferences())
}

func TestIsOrganizationReference(t *testing.T) {
	for ref, want := range map[string]bool{
		"Organization/o1":                    true,
		"Organization/o1/_history/2":         true,
		"https://x.org/fhir/Organization/o1": true,
		"Organization/":                      false,
		"Organization/a/b":                   false,
		"Practitioner/p1":                    false,
		"#org":                               false,
		"":                                   false,
		"urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0": false,
		"x/Organization/o1":                             false,
	} {
		assert.Equal(t, want, isOrganizationReference(ref), ref)
	}
}

func TestParsePeriod(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		start, end string
		want       Period
		wantOK     bool
	}{
		{"", "", Period{}, true},
		{"2024", "2024", Period{day(2024, 1, 1), day(2025, 1, 1)}, true},
		{"2024-02", "2024-02", Period{day(2024, 2, 1), day(2024, 3, 1)}, true},
		{"2024-02-28", "2024-02-29", Period{day(2024, 2, 28), day(2024, 3, 1)}, true},
		{"", "2024-12-31", Period{End: day(2025, 1, 1)}, true},
		{"2024-06-01T09:30:00+01:00", "", Period{Start: time.Date(2024, 6, 1, 8, 30, 0, 0, time.UTC)}, true},
		{"", "2024-06-01T09:30:00Z", Period{End: time.Date(2024, 6, 1, 9, 30, 1, 0, time.UTC)}, true},
		{"", "2024-06-01T09:30:00.25Z", Period{End: time.Date(2024, 6, 1, 9, 30, 0, 260_000_000, time.UTC)}, true},
		{"2024-13", "", Period{}, false},
		{"2024-06-01T09:30", "", Period{}, false},
		{"2024-01-01", "soon", Period{Start: day(2024, 1, 1)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.start+"_"+tt.end, func(t *testing.T) {
			got, ok := parsePeriod(tt.start, tt.end)
			assert.Equal(t, tt.wantOK, ok)
			assert.True(t, tt.want.Start.Equal(got.Start), "start %v", got.Start)
			assert.True(t, tt.want.End.Equal(got.End), "end %v", got.End)
		})
	}
}

func TestPeriodContains(t *testing.T) {
	p := Period{Start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	assert.False(t, p.Contains(p.Start.Add(-time.Nanosecond)))
	assert.True(t, p.Contains(p.Start))
	assert.True(t, p.Contains(p.End.Add(-time.Nanosecond)))
	assert.False(t, p.Contains(p.End))
	assert.True(t, Period{}.Contains(testNow))
}

// TestEvaluate pins down "the most specific provision wins; deny wins a
// tie": specificity is the number of constraint kinds a provision and its
// ancestors carry, and the rules come out most specific first.
func TestEvaluate(t *testing.T) {
	const (
		me    = "RYJ01"
		other = "RXH01"
	)
	deny := func(types []string, labels ...[]string) ConsentRule {
		return ConsentRule{Types: types, Labels: labels}
	}
	permit := func(types []string, labels ...[]string) ConsentRule {
		return ConsentRule{Permit: true, Types: types, Labels: labels}
	}
	treat := []string{"TREAT"}
	emergency := []string{"TREAT", "ETREAT", "BTG"}
	tests := []struct {
		name          string
		consents      []string // provisions
		purposes      []string
		want          []ConsentRule
		wantPermitted bool
	}{
		{name: "no consent", purposes: treat},
		{name: "objection", consents: []string{`{"type":"deny"}`}, purposes: treat, want: []ConsentRule{deny(nil)}},
		{name: "general permit changes nothing", consents: []string{`{"type":"permit"}`}, purposes: treat},
		{
			name:          "objection narrowed by a permit for me",
			consents:      []string{`{"type":"deny","provision":[{"type":"permit","actor":[` + odsActor(me) + `]}]}`},
			purposes:      treat,
			wantPermitted: true,
		},
		{
			name:     "objection narrowed by a permit for another organisation",
			consents: []string{`{"type":"deny","provision":[{"type":"permit","actor":[` + odsActor(other) + `]}]}`},
			purposes: treat,
			want:     []ConsentRule{deny(nil)},
		},
		{
			name:     "deny naming me",
			consents: []string{`{"type":"permit","provision":[{"type":"deny","actor":[` + odsActor(me) + `]}]}`},
			purposes: treat,
			want:     []ConsentRule{deny(nil)},
		},
		{
			name:     "deny naming another organisation",
			consents: []string{`{"type":"permit","provision":[{"type":"deny","actor":[` + odsActor(other) + `]}]}`},
			purposes: treat,
		},
		{
			name:     "class deny",
			consents: []string{`{"type":"permit","provision":[{"type":"deny","class":[{"system":"http://hl7.org/fhir/resource-types","code":"Condition"},{"system":"http://hl7.org/fhir/resource-types","code":"Procedure"}]}]}`},
			purposes: treat,
			want:     []ConsentRule{deny([]string{"Condition", "Procedure"})},
		},
		{
			name:     "label deny",
			consents: []string{`{"type":"deny","securityLabel":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}]}`},
			purposes: treat,
			want:     []ConsentRule{deny(nil, []string{ActCodeSystem + "|PSY"})},
		},
		{
			name: "class deny and actor permit tie: deny wins",
			consents: []string{`{"type":"permit","provision":[` +
				`{"type":"deny","class":[{"code":"Condition"}]},` +
				`{"type":"permit","actor":[` + odsActor(me) + `]}]}`},
			purposes:      treat,
			want:          []ConsentRule{deny([]string{"Condition"})},
			wantPermitted: true,
		},
		{
			name: "a permit naming me and the class is more specific than the class deny",
			consents: []string{`{"type":"permit","provision":[` +
				`{"type":"deny","class":[{"code":"Condition"}]},` +
				`{"type":"permit","actor":[` + odsActor(me) + `],"class":[{"code":"Condition"}]}]}`},
			purposes: treat,
			// The deny after the permit can no longer match: the rules
			// are ordered, not minimised.
			want:          []ConsentRule{permit([]string{"Condition"}), deny([]string{"Condition"})},
			wantPermitted: true,
		},
		{
			name: "nested exceptions: objection, permit for me, except Observations",
			consents: []string{`{"type":"deny","provision":[{"type":"permit","actor":[` + odsActor(me) + `],` +
				`"provision":[{"type":"deny","class":[{"code":"Observation"}]}]}]}`},
			purposes:      treat,
			want:          []ConsentRule{deny([]string{"Observation"})},
			wantPermitted: true,
		},
		{
			name: "nested classes intersect",
			consents: []string{`{"type":"permit","class":[{"code":"Observation"},{"code":"Condition"}],` +
				`"provision":[{"type":"deny","class":[{"code":"Condition"},{"code":"Procedure"}]}]}`},
			purposes: treat,
			want:     []ConsentRule{deny([]string{"Condition"})},
		},
		{
			name: "nested classes that share nothing match nothing",
			consents: []string{`{"type":"permit","class":[{"code":"Observation"}],` +
				`"provision":[{"type":"deny","class":[{"code":"Condition"}]}]}`},
			purposes: treat,
		},
		{
			name: "nested labels must all be met",
			consents: []string{`{"type":"permit","securityLabel":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}],` +
				`"provision":[{"type":"deny","securityLabel":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}]}]}`},
			purposes: treat,
			want:     []ConsentRule{deny(nil, []string{ConfidentialitySystem + "|R"}, []string{ActCodeSystem + "|PSY"})},
		},
		{
			name: "a later Consent's root deny of me ties with an earlier nested permit of me, and wins",
			consents: []string{
				`{"type":"deny","provision":[{"type":"permit","actor":[` + odsActor(me) + `]}]}`,
				`{"type":"deny","actor":[` + odsActor(me) + `]}`,
			},
			purposes:      treat,
			want:          []ConsentRule{deny(nil)},
			wantPermitted: true,
		},
		{
			name:          "a separate permit for me narrows an objection",
			consents:      []string{`{"type":"deny"}`, `{"type":"permit","actor":[` + odsActor(me) + `]}`},
			purposes:      treat,
			wantPermitted: true,
		},
		{
			name:     "expired objection",
			consents: []string{`{"type":"deny","period":{"start":"2019-01-01","end":"2020-12-31"}}`},
			purposes: treat,
		},
		{
			name:     "objection not yet in force",
			consents: []string{`{"type":"deny","period":{"start":"2030-01-01"}}`},
			purposes: treat,
		},
		{
			name:     "objection in force",
			consents: []string{`{"type":"deny","period":{"start":"2025-01-01","end":"2025-06-01"}}`},
			purposes: treat,
			want:     []ConsentRule{deny(nil)},
		},
		{
			name:     "expired permit grants nothing",
			consents: []string{`{"type":"deny","provision":[{"type":"permit","actor":[` + odsActor(me) + `],"period":{"end":"2020-12-31"}}]}`},
			purposes: treat,
			want:     []ConsentRule{deny(nil)},
		},
		{
			name:     "a time-limited permit beats the objection it narrows",
			consents: []string{`{"type":"deny","provision":[{"type":"permit","period":{"start":"2025-05-01","end":"2025-07-01"}}]}`},
			purposes: treat,
		},
		{
			name:     "objection except in an emergency, for direct care",
			consents: []string{`{"type":"deny","provision":[{"type":"permit","purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"ETREAT"}]}]}`},
			purposes: treat,
			want:     []ConsentRule{deny(nil)},
		},
		{
			name:     "objection except in an emergency, in an emergency",
			consents: []string{`{"type":"deny","provision":[{"type":"permit","purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"ETREAT"}]}]}`},
			purposes: emergency,
		},
		{
			name:     "objection to marketing does not touch treatment",
			consents: []string{`{"type":"deny","purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"HMARKT"}]}`},
			purposes: treat,
		},
		{
			name:     "objection to collection does not touch viewing",
			consents: []string{`{"type":"deny","action":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentaction","code":"collect"}]}]}`},
			purposes: treat,
		},
		{
			name:     "objection to disclosure",
			consents: []string{`{"type":"deny","action":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentaction","code":"disclose"}]}]}`},
			purposes: treat,
			want:     []ConsentRule{deny(nil)},
		},
		{
			name:     "a deny of an unresolved organisation fails closed",
			consents: []string{`{"type":"deny","actor":[{"reference":{"reference":"Organization/o9"}}]}`},
			purposes: treat,
			want:     []ConsentRule{deny(nil)},
		},
		{
			name:     "a deny of a practitioner fails closed",
			consents: []string{`{"type":"deny","actor":[{"reference":{"reference":"Practitioner/p9"}}]}`},
			purposes: treat,
			want:     []ConsentRule{deny(nil)},
		},
		{
			name:     "a deny of an organisation as author fails closed",
			consents: []string{`{"type":"deny","actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"AUT"}]},"reference":{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"` + other + `"}}}]}`},
			purposes: treat,
			want:     []ConsentRule{deny(nil)},
		},
		{
			name:     "a permit of an unresolved organisation grants nothing",
			consents: []string{`{"type":"deny","provision":[{"type":"permit","actor":[{"reference":{"reference":"Organization/o9"}}]}]}`},
			purposes: treat,
			want:     []ConsentRule{deny(nil)},
		},
		{
			name:     "a deny by code is applied as if for every code",
			consents: []string{`{"type":"permit","provision":[{"type":"deny","class":[{"code":"Condition"}],"code":[{"coding":[{"system":"http://snomed.info/sct","code":"35489007"}]}]}]}`},
			purposes: treat,
			want:     []ConsentRule{deny([]string{"Condition"})},
		},
		{
			name:     "a deny of an unknown class hides every type",
			consents: []string{`{"type":"permit","provision":[{"type":"deny","class":[{"system":"urn:ietf:bcp:13","code":"application/pdf"}]}]}`},
			purposes: treat,
			want:     []ConsentRule{deny(nil)},
		},
		{
			name:     "a deny of a partly unknown class hides every type",
			consents: []string{`{"type":"permit","provision":[{"type":"deny","class":[{"code":"DocumentReference"},{"system":"urn:ietf:bcp:13","code":"application/pdf"}]}]}`},
			purposes: treat,
			want:     []ConsentRule{deny(nil)},
		},
		{
			name:     "a deny with a partly unknown label applies whatever the labels",
			consents: []string{`{"type":"permit","provision":[{"type":"deny","securityLabel":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"},{"code":"R"}]}]}`},
			purposes: treat,
			want:     []ConsentRule{deny(nil)},
		},
		{
			name:     "a deny with a partly unknown purpose applies for every purpose",
			consents: []string{`{"type":"deny","purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"HMARKT"},{"system":"http://example.org/pou","code":"x"}]}`},
			purposes: treat,
			want:     []ConsentRule{deny(nil)},
		},
		{
			name:     "a deny with a partly unknown action applies for every action",
			consents: []string{`{"type":"deny","action":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentaction","code":"collect"}]},{"text":"x"}]}`},
			purposes: treat,
			want:     []ConsentRule{deny(nil)},
		},
		{
			name:     "a deny with a start in the future and an unreadable end is in force",
			consents: []string{`{"type":"deny","period":{"start":"2030-01-01","end":"never"}}`},
			purposes: treat,
			want:     []ConsentRule{deny(nil)},
		},
		{
			name:     "a permit with a data constraint grants nothing",
			consents: []string{`{"type":"deny","provision":[{"type":"permit","actor":[` + odsActor(me) + `],"data":[{"meaning":"instance","reference":{"reference":"Observation/1"}}]}]}`},
			purposes: treat,
			want:     []ConsentRule{deny(nil)},
		},
		{
			name:     "a deny with an unreadable period is always in force",
			consents: []string{`{"type":"deny","period":{"end":"last year"}}`},
			purposes: treat,
			want:     []ConsentRule{deny(nil)},
		},
		{
			name:     "an unknown provision type denies",
			consents: []string{`{"type":"maybe"}`},
			purposes: treat,
			want:     []ConsentRule{deny(nil)},
		},
		{
			name:     "nested rules under a typeless root",
			consents: []string{`{"purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"TREAT"}],"provision":[{"type":"deny","class":[{"code":"Observation"}]}]}`},
			purposes: treat,
			want:     []ConsentRule{deny([]string{"Observation"})},
		},
		{
			name: "rules after a catch-all and trailing permits are dropped",
			consents: []string{`{"type":"permit","provision":[` +
				`{"type":"permit","actor":[` + odsActor(me) + `],"class":[{"code":"Observation"}],"securityLabel":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}]},` +
				`{"type":"deny","actor":[` + odsActor(me) + `],"class":[{"code":"Observation"}]},` +
				`{"type":"deny","actor":[` + odsActor(me) + `]},` +
				`{"type":"deny","class":[{"code":"Condition"}]}]}`},
			purposes: treat,
			want: []ConsentRule{
				permit([]string{"Observation"}, []string{ActCodeSystem + "|PSY"}),
				deny([]string{"Observation"}),
				deny(nil),
			},
			wantPermitted: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var consents []Consent
			for _, p := range tt.consents {
				consents = append(consents, mustConsent(t, consentJSON(p)))
			}
			rules, permitted := evaluate(consents, consentRequest{org: me, purposes: tt.purposes, now: testNow})
			assert.Equal(t, tt.want, rules)
			assert.Equal(t, tt.wantPermitted, permitted)
		})
	}
}

// FuzzParseConsent checks that ParseConsent never panics, and that what it
// returns can be resolved and evaluated without panicking either.
func FuzzParseConsent(f *testing.F) {
	f.Add([]byte(consentJSON(`{"type":"deny"}`)))
	f.Add([]byte(consentJSON(`{"type":"deny","provision":[{"type":"permit","actor":[` + odsActor("A81001") + `],"period":{"start":"2024","end":"2025-06-01T10:00:00.5Z"}}]}`)))
	f.Add([]byte(consentJSON(`{"type":"permit","provision":[{"type":"deny","class":[{"code":"Condition"}],"securityLabel":[{"system":"s","code":"c"}]}]}`)))
	f.Add([]byte(consentJSON(`{"type":"deny","actor":[{"reference":{"reference":"Organization/1"}}],"purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"TREAT"}]}`)))
	f.Add([]byte(`{"resourceType":"Consent","status":"active","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},"provision":[]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, ok := ParseConsent(raw)
		if !ok {
			require.Equal(t, Consent{}, c)
			return
		}
		for _, ref := range c.OrganizationReferences() {
			require.True(t, isOrganizationReference(ref), ref)
		}
		c.ResolveActors(func(ref string) string { return strings.ToUpper(fmt.Sprint(len(ref))) })
		require.Empty(t, c.OrganizationReferences())
		for _, purposes := range [][]string{{"TREAT"}, {"TREAT", "ETREAT", "BTG"}} {
			rules, _ := evaluate([]Consent{c}, consentRequest{org: "A81001", purposes: purposes, now: testNow})
			for i, r := range rules {
				if r.catchAll() {
					require.Equal(t, len(rules)-1, i, "nothing follows a catch-all rule")
				}
			}
			if len(rules) > 0 {
				require.False(t, rules[len(rules)-1].Permit, "a trailing permit changes nothing")
			}
		}
	})
}
