// Package access decides who may do what with which record: it verifies the
// caller's bearer token, checks SMART scopes, and applies the relationship,
// consent and sensitivity rules of the access model.
package access

import (
	"encoding/json"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sharedcare/sharedcare/internal/fhir"
)

// ODSOrganizationSystem is the identifier system of NHS ODS organisation
// codes, the only way this server names an organisation in a token.
const ODSOrganizationSystem = "https://fhir.nhs.uk/Id/ods-organization-code"

// sdsUserIDSystem identifies a practitioner nationally (NHS Spine Directory
// Service); GP Connect tokens carry it in requesting_practitioner.
const sdsUserIDSystem = "https://fhir.nhs.uk/Id/sds-user-id"

// CareRole is the kind of staff (or system) a caller is, from the token's
// care_role claim. It decides which parts of a record the caller may see.
type CareRole string

// The care roles of the access model. No other value is accepted.
const (
	CareRoleGP           CareRole = "gp"            // general practice staff
	CareRoleClinician    CareRole = "clinician"     // hospital or community clinician
	CareRoleCareClinical CareRole = "care-clinical" // registered nurse or clinician in social care
	CareRoleCareStaff    CareRole = "care-staff"    // non-clinical social care staff
	CareRoleAuditor      CareRole = "auditor"       // reads the audit trail and nothing else
	CareRoleSystem       CareRole = "system"        // a source system pushing its records
)

// Known reports whether r is one of the roles of the access model.
func (r CareRole) Known() bool {
	switch r {
	case CareRoleGP, CareRoleClinician, CareRoleCareClinical, CareRoleCareStaff, CareRoleAuditor, CareRoleSystem:
		return true
	}
	return false
}

// Clinical reports whether r is a clinical role, the only roles that may
// break the glass.
func (r CareRole) Clinical() bool {
	return r == CareRoleGP || r == CareRoleClinician || r == CareRoleCareClinical
}

// Purposes of use a token may give in reason_for_request. Any other value
// is kept on the Caller (for the audit trail) but gives no patient data.
const (
	ReasonDirectCare = "directcare"
	ReasonEmergency  = "emergency"
)

// RecordSourceSystem is the code system of the record-source tag the server
// stamps on every write (access model, section 2).
const RecordSourceSystem = "https://sharedcare.dev/fhir/CodeSystem/record-source"

// Record sources, the codes of the record-source tag the server stamps on
// every write.
const (
	RecordSourceGP         = "gp"
	RecordSourceHospital   = "hospital"
	RecordSourceSocialCare = "social-care"
)

// CallerPractitioner is the person behind a user token, kept for the audit
// trail only: access decisions never depend on it.
type CallerPractitioner struct {
	// ID is the claim itself when it is a string; for a Practitioner
	// object, its SDS user id when it carries one (a national identifier
	// outlives the issuer's local resource id), else its resource id.
	ID string
	// Display is a human-readable name from a Practitioner object's name,
	// empty for the string form.
	Display string
}

// Caller is who is asking, as asserted by a verified bearer token. Every
// access decision starts from it. Construct one with Verifier.Verify; tests
// of rules may build it directly.
type Caller struct {
	Subject          string             // sub
	Scopes           []Scope            // the SMART scopes this server honours; others are dropped
	CareRole         CareRole           // care_role
	Organization     string             // ODS code from requesting_organization
	Practitioner     CallerPractitioner // requesting_practitioner; zero when absent
	Reason           string             // reason_for_request, as given
	BreakGlassReason string             // break_glass_reason, as given
	RecordSource     string             // record_source; set only for CareRoleSystem
	TokenID          string             // jti, for the audit trail
}

// DirectCare reports whether the caller asserts direct care of the patient,
// the purpose under which shared records are shown. Break-glass is a separate
// purpose: see BreakGlass.
func (c *Caller) DirectCare() bool {
	return c.Reason == ReasonDirectCare
}

// BreakGlass reports whether the caller is entitled to an emergency override
// of the relationship gate: reason_for_request emergency, a non-empty
// break_glass_reason, and a clinical role. It is checked here in full, not
// only at verification, so that a hand-built Caller cannot slip through.
func (c *Caller) BreakGlass() bool {
	return c.Reason == ReasonEmergency && strings.TrimSpace(c.BreakGlassReason) != "" && c.CareRole.Clinical()
}

// AcrossPatients returns the caller as it stands for a request about many
// patients at once (type or system history): break-glass is for one
// patient at a time, so a break-glass caller sees, across patients, what
// the same caller would with direct care: the related patients' records.
func (c *Caller) AcrossPatients() *Caller {
	if !c.BreakGlass() {
		return c
	}
	across := *c
	across.Reason, across.BreakGlassReason = ReasonDirectCare, ""
	return &across
}

// SourceTag returns the record-source code stamped on what the caller
// writes: a system says what it is in record_source; for users it follows
// from their role. It is empty for an auditor, who writes nothing.
func (c *Caller) SourceTag() string {
	switch c.CareRole {
	case CareRoleSystem:
		return c.RecordSource
	case CareRoleGP:
		return RecordSourceGP
	case CareRoleClinician:
		return RecordSourceHospital
	case CareRoleCareClinical, CareRoleCareStaff:
		return RecordSourceSocialCare
	}
	return ""
}

// tokenClaims is the payload of an access token. Organisation and
// practitioner are kept raw because each comes either as a string or as a
// FHIR resource.
type tokenClaims struct {
	jwt.RegisteredClaims
	Scope                  scopeClaim      `json:"scope"`
	CareRole               string          `json:"care_role"`
	RequestingOrganization json.RawMessage `json:"requesting_organization"`
	RequestingPractitioner json.RawMessage `json:"requesting_practitioner"`
	ReasonForRequest       string          `json:"reason_for_request"`
	BreakGlassReason       string          `json:"break_glass_reason"`
	RecordSource           string          `json:"record_source"`
}

// scopeClaim accepts the space-separated string of RFC 8693 and SMART, and
// also an array of strings, which some authorization servers send.
type scopeClaim []string

func (s *scopeClaim) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		*s = strings.Fields(str)
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*s = nil
	for _, item := range list {
		*s = append(*s, strings.Fields(item)...)
	}
	return nil
}

// newCaller turns verified claims into a Caller. A claim of the wrong shape
// makes the token unusable (401); a well-formed token that this server's
// rules give nothing to (unknown role, no organisation, a system without
// record_source, break-glass outside its conditions) is refused (403).
func newCaller(c *tokenClaims) (*Caller, error) {
	if c.Subject == "" {
		return nil, invalidClaim("bearer token has no sub claim")
	}
	role := CareRole(c.CareRole)
	switch {
	case c.CareRole == "":
		return nil, forbiddenClaim("bearer token has no care_role claim")
	case !role.Known():
		return nil, forbiddenClaim("care_role %q is not one of gp, clinician, care-clinical, care-staff, auditor, system", c.CareRole)
	}
	org, err := organizationClaim(c.RequestingOrganization)
	if err != nil {
		return nil, err
	}
	pract, err := practitionerClaim(c.RequestingPractitioner)
	if err != nil {
		return nil, err
	}
	caller := &Caller{
		Subject:          c.Subject,
		CareRole:         role,
		Organization:     org,
		Practitioner:     pract,
		Reason:           c.ReasonForRequest,
		BreakGlassReason: c.BreakGlassReason,
		TokenID:          c.ID,
	}
	for _, raw := range c.Scope {
		if s, ok := ParseScope(raw); ok {
			caller.Scopes = append(caller.Scopes, s)
		}
	}
	if role == CareRoleSystem {
		switch c.RecordSource {
		case RecordSourceGP, RecordSourceHospital, RecordSourceSocialCare:
			caller.RecordSource = c.RecordSource
		case "":
			return nil, forbiddenClaim("a system token needs a record_source claim (gp, hospital or social-care)")
		default:
			return nil, forbiddenClaim("record_source %q is not one of gp, hospital, social-care", c.RecordSource)
		}
	}
	if caller.Reason == ReasonEmergency && !caller.BreakGlass() {
		if !role.Clinical() {
			return nil, forbiddenClaim("break-glass (reason_for_request emergency) is only for clinical roles, not %s", role)
		}
		return nil, forbiddenClaim("break-glass (reason_for_request emergency) needs a break_glass_reason")
	}
	return caller, nil
}

// fhirIdentifier is the part of a FHIR Identifier a token claim needs.
type fhirIdentifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

// organizationClaim returns the ODS code of requesting_organization, given
// as a plain code or as a GP Connect Organization resource.
func organizationClaim(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", forbiddenClaim("bearer token has no requesting_organization claim")
	}
	var code string
	if err := json.Unmarshal(raw, &code); err != nil {
		var org struct {
			ResourceType string           `json:"resourceType"`
			Identifier   []fhirIdentifier `json:"identifier"`
		}
		if err := json.Unmarshal(raw, &org); err != nil || org.ResourceType != "Organization" {
			return "", invalidClaim("requesting_organization must be an ODS code or an Organization resource")
		}
		for _, id := range org.Identifier {
			if id.System == ODSOrganizationSystem && id.Value != "" {
				code = id.Value
				break
			}
		}
		if code == "" {
			return "", forbiddenClaim("requesting_organization has no identifier with system %s", ODSOrganizationSystem)
		}
	}
	if !validODSCode(code) {
		return "", forbiddenClaim("requesting_organization %q is not an ODS code", code)
	}
	return code, nil
}

// validODSCode accepts what can be an organisation code: the code ends up
// in meta.tag and in every ownership comparison, so it must be a clean
// token. Real ODS codes are 3 to 6 upper-case letters and digits; the check
// is looser so that test and non-NHS identity providers work.
func validODSCode(code string) bool {
	if code == "" || len(code) > 64 {
		return false
	}
	for _, r := range code {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// practitionerClaim reads the optional requesting_practitioner claim, given
// as a string or as a GP Connect Practitioner resource.
func practitionerClaim(raw json.RawMessage) (CallerPractitioner, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return CallerPractitioner{}, nil
	}
	var id string
	if err := json.Unmarshal(raw, &id); err == nil {
		return CallerPractitioner{ID: id}, nil
	}
	var p struct {
		ResourceType string           `json:"resourceType"`
		ID           string           `json:"id"`
		Identifier   []fhirIdentifier `json:"identifier"`
		Name         []struct {
			Text   string   `json:"text"`
			Prefix []string `json:"prefix"`
			Given  []string `json:"given"`
			Family string   `json:"family"`
		} `json:"name"`
	}
	if err := json.Unmarshal(raw, &p); err != nil || p.ResourceType != "Practitioner" {
		return CallerPractitioner{}, invalidClaim("requesting_practitioner must be a string or a Practitioner resource")
	}
	out := CallerPractitioner{ID: p.ID}
	for _, ident := range p.Identifier {
		if ident.System == sdsUserIDSystem && ident.Value != "" {
			out.ID = ident.Value
			break
		}
	}
	if len(p.Name) > 0 {
		n := p.Name[0]
		if n.Text != "" {
			out.Display = n.Text
		} else {
			parts := append(append(append([]string{}, n.Prefix...), n.Given...), n.Family)
			out.Display = strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
		}
	}
	return out, nil
}

// invalidClaim reports a token whose claims cannot be read as this server
// expects: the client must get a proper token.
func invalidClaim(format string, args ...any) *fhir.Error {
	return fhir.Errorf(fhir.KindUnauthorized, "security", format, args...)
}

// forbiddenClaim reports a valid token whose claims give the caller no
// access here; a new token from the same issuer would not help.
func forbiddenClaim(format string, args ...any) *fhir.Error {
	return fhir.Errorf(fhir.KindForbidden, "forbidden", format, args...)
}
