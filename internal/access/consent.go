package access

import (
	"encoding/json"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/sharedcare/sharedcare/internal/fhir/r4"
)

// Code systems a privacy Consent is read with.
const (
	ConsentScopeSystem      = "http://terminology.hl7.org/CodeSystem/consentscope"
	ConsentActionSystem     = "http://terminology.hl7.org/CodeSystem/consentaction"
	ResourceTypesSystem     = "http://hl7.org/fhir/resource-types"
	ActReasonSystem         = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	ParticipationTypeSystem = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
)

// Provision types.
const (
	ProvisionDeny   = "deny"
	ProvisionPermit = "permit"
)

// Consent is a patient's privacy Consent (scope patient-privacy, status
// active), reduced to what the access model evaluates (section 4).
type Consent struct {
	ID string
	// PatientID is the id of Patient/<id> in Consent.patient; empty when
	// the patient is referred to otherwise (by identifier, by an absolute
	// URL). The policy does not check it: PatientContext.Consents are the
	// patient's by construction.
	PatientID string
	// Provision is the root rule; its zero value decides nothing.
	Provision Provision
}

// Provision is one rule of a Consent, with the nested rules that make
// exceptions to it. A rule applies to a request when every constraint it
// and its ancestors carry holds (a nested rule is read within the scope of
// its parents).
//
// Constraints the access model cannot evaluate exactly are listed in
// Unsupported (by element name): code, dataPeriod, data, a class coding
// that is not a resource type, a security label without system or code, a
// purpose or action coding outside the known systems, a period that does
// not parse, an unknown type. Such a rule fails closed: a deny applies as
// if the unsupported constraints were absent (it hides at least what the
// patient meant to hide), a permit never applies (it grants nothing the
// patient may not have meant). Actors that cannot be resolved to an ODS
// code count as unsupported in the same way, at evaluation time.
//
// When several provisions (of one Consent or of several) apply to a
// record, the most specific wins and deny wins a tie. Specificity is the
// number of kinds of constraint (actor, class, securityLabel, period,
// purpose, action, and the unsupported code, dataPeriod and data) that a
// provision and its ancestors carry between them. Nesting depth does not
// count by itself: a nested exception wins over its parent because it
// inherits the parent's constraints and adds its own, while a permit
// nested in one Consent and a deny at the root of another that name the
// same organisation tie, and the deny wins.
type Provision struct {
	Type           string   // ProvisionDeny, ProvisionPermit, or "" (decides nothing itself)
	Period         Period   // when the rule is in force; zero = always
	Actors         []Actor  // organisations the rule is about; none = everyone
	Classes        []string // resource types; none = every type
	SecurityLabels []string // system|code; none = any resource
	Purposes       []string // v3-ActReason codes the rule is limited to; none = any purpose
	Actions        []string // consentaction codes the rule is limited to; none = any action
	Unsupported    []string // names of constraint elements that cannot be evaluated
	Provisions     []Provision
}

// Period bounds a provision. Start is the first instant in force, End the
// first instant after it (FHIR's end is inclusive at its own precision:
// an end of 2024-12-31 covers that whole day). A zero bound is open. Dates
// without a time zone are read in UTC.
type Period struct {
	Start, End time.Time
}

// Contains reports whether t falls within p.
func (p Period) Contains(t time.Time) bool {
	return (p.Start.IsZero() || !t.Before(p.Start)) && (p.End.IsZero() || t.Before(p.End))
}

// Actor is a party a provision names. Only organisations acting as
// recipients of the record (role PRCP or IRCP of v3-ParticipationType, or
// no role) take part in decisions.
type Actor struct {
	// Reference is the reference as written (Organization/123, an absolute
	// URL, #contained); empty for a logical reference by identifier.
	Reference string
	// ODS is the organisation's ODS code: from a logical reference's
	// identifier, from a contained Organization, or filled in by
	// ResolveActors. Empty while unresolved.
	ODS string
	// Recipient is false for actors in another role (author, custodian,
	// ...), which this model cannot evaluate.
	Recipient bool
}

// OrganizationResolver returns the ODS code of the Organization that ref
// (as written in the Consent: Organization/<id> or an absolute URL of one)
// refers to, or "" when it is unknown.
type OrganizationResolver func(ref string) (odsCode string)

// OrganizationReferences returns the distinct actor references that still
// need an ODS code, for the caller to look up in one go before calling
// ResolveActors.
func (c *Consent) OrganizationReferences() []string {
	var refs []string
	c.Provision.walk(func(p *Provision) {
		for _, a := range p.Actors {
			if a.ODS == "" && isOrganizationReference(a.Reference) && !slices.Contains(refs, a.Reference) {
				refs = append(refs, a.Reference)
			}
		}
	})
	return refs
}

// ResolveActors fills in the ODS code of every actor that refers to an
// Organization by reference, using resolve. Actors left unresolved make
// their provision fail closed (see Provision).
func (c *Consent) ResolveActors(resolve OrganizationResolver) {
	c.Provision.walk(func(p *Provision) {
		for i, a := range p.Actors {
			if a.ODS == "" && isOrganizationReference(a.Reference) {
				p.Actors[i].ODS = resolve(a.Reference)
			}
		}
	})
}

func (p *Provision) walk(fn func(*Provision)) {
	fn(p)
	for i := range p.Provisions {
		p.Provisions[i].walk(fn)
	}
}

// isOrganizationReference reports whether ref is a literal reference to an
// Organization, relative or absolute.
func isOrganizationReference(ref string) bool {
	rest, ok := strings.CutPrefix(ref, "Organization/")
	if !ok {
		i := strings.LastIndex(ref, "/Organization/")
		if i < 0 || !strings.Contains(ref[:i], "://") {
			return false
		}
		rest = ref[i+len("/Organization/"):]
	}
	id, _, _ := strings.Cut(rest, "/_history/")
	return id != "" && !strings.Contains(id, "/")
}

// JSON shapes read from a Consent.
type (
	jsonCodingT struct {
		System string `json:"system"`
		Code   string `json:"code"`
	}
	jsonConcept struct {
		Coding []jsonCodingT `json:"coding"`
	}
	jsonReference struct {
		Reference  string `json:"reference"`
		Identifier *struct {
			System string `json:"system"`
			Value  string `json:"value"`
		} `json:"identifier"`
	}
	jsonProvision struct {
		Type   string `json:"type"`
		Period *struct {
			Start string `json:"start"`
			End   string `json:"end"`
		} `json:"period"`
		Actor []struct {
			Role      jsonConcept   `json:"role"`
			Reference jsonReference `json:"reference"`
		} `json:"actor"`
		Action        []jsonConcept   `json:"action"`
		SecurityLabel []jsonCodingT   `json:"securityLabel"`
		Purpose       []jsonCodingT   `json:"purpose"`
		Class         []jsonCodingT   `json:"class"`
		Code          json.RawMessage `json:"code"`
		DataPeriod    json.RawMessage `json:"dataPeriod"`
		Data          json.RawMessage `json:"data"`
		Provision     []jsonProvision `json:"provision"`
	}
)

// ParseConsent reads a Consent resource. ok is false unless it is one the
// access model evaluates: resourceType Consent, status active, and a scope
// coding patient-privacy of http://terminology.hl7.org/CodeSystem/consentscope.
//
// A provision that cannot be decoded although the Consent is an active
// privacy consent is read as an objection (a root deny marked unsupported):
// the patient's wishes are never dropped because they were written in an
// unexpected shape.
func ParseConsent(raw []byte) (Consent, bool) {
	var head struct {
		ResourceType string          `json:"resourceType"`
		ID           string          `json:"id"`
		Status       string          `json:"status"`
		Scope        json.RawMessage `json:"scope"`
		Patient      json.RawMessage `json:"patient"`
		Provision    json.RawMessage `json:"provision"`
		Contained    json.RawMessage `json:"contained"`
	}
	if json.Unmarshal(raw, &head) != nil || head.ResourceType != "Consent" || head.Status != "active" {
		return Consent{}, false
	}
	var scope jsonConcept
	if json.Unmarshal(head.Scope, &scope) != nil || !slices.Contains(scope.Coding, jsonCodingT{ConsentScopeSystem, "patient-privacy"}) {
		return Consent{}, false
	}
	c := Consent{ID: head.ID}
	var patient jsonReference
	if json.Unmarshal(head.Patient, &patient) == nil {
		c.PatientID = patientID(patient.Reference)
	}
	if len(head.Provision) == 0 || string(head.Provision) == "null" {
		return c, true
	}
	var prov jsonProvision
	if err := json.Unmarshal(head.Provision, &prov); err != nil {
		c.Provision = Provision{Type: ProvisionDeny, Unsupported: []string{"provision"}}
		return c, true
	}
	c.Provision = newProvision(&prov, containedOrganizations(head.Contained))
	return c, true
}

// patientID returns <id> of Patient/<id>, with or without a version.
func patientID(ref string) string {
	rest, ok := strings.CutPrefix(ref, "Patient/")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/_history/")
	if strings.Contains(id, "/") {
		return ""
	}
	return id
}

// containedOrganizations maps "#id" to the ODS code of each contained
// Organization that has one.
func containedOrganizations(raw json.RawMessage) map[string]string {
	var contained []struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
		Identifier   []struct {
			System string `json:"system"`
			Value  string `json:"value"`
		} `json:"identifier"`
	}
	if json.Unmarshal(raw, &contained) != nil {
		return nil
	}
	out := map[string]string{}
	for _, r := range contained {
		if r.ResourceType != "Organization" || r.ID == "" {
			continue
		}
		for _, id := range r.Identifier {
			if id.System == ODSOrganizationSystem && id.Value != "" {
				out["#"+r.ID] = id.Value
				break
			}
		}
	}
	return out
}

func newProvision(j *jsonProvision, contained map[string]string) Provision {
	var p Provision
	unsupported := func(element string) {
		if !slices.Contains(p.Unsupported, element) {
			p.Unsupported = append(p.Unsupported, element)
		}
	}
	switch j.Type {
	case "", ProvisionDeny, ProvisionPermit:
		p.Type = j.Type
	default:
		// An unknown decision is read as a deny, failing closed.
		p.Type = ProvisionDeny
		unsupported("type")
	}
	if j.Period != nil {
		var ok bool
		if p.Period, ok = parsePeriod(j.Period.Start, j.Period.End); !ok {
			unsupported("period")
		}
	}
	for _, a := range j.Actor {
		actor := Actor{Reference: a.Reference.Reference, Recipient: recipientRole(a.Role)}
		if id := a.Reference.Identifier; id != nil && id.System == ODSOrganizationSystem {
			actor.ODS = id.Value
		} else if strings.HasPrefix(actor.Reference, "#") {
			actor.ODS = contained[actor.Reference]
		}
		p.Actors = append(p.Actors, actor)
	}
	for _, c := range j.Class {
		switch {
		case (c.System == ResourceTypesSystem || c.System == "") && r4.IsResourceType(c.Code):
			p.Classes = append(p.Classes, c.Code)
		default:
			unsupported("class")
		}
	}
	for _, l := range j.SecurityLabel {
		if l.System == "" || l.Code == "" {
			unsupported("securityLabel")
			continue
		}
		p.SecurityLabels = append(p.SecurityLabels, canonicalSystem(l.System)+"|"+l.Code)
	}
	for _, c := range j.Purpose {
		if c.System != ActReasonSystem || c.Code == "" {
			unsupported("purpose")
			continue
		}
		p.Purposes = append(p.Purposes, c.Code)
	}
	for _, a := range j.Action {
		code := ""
		for _, c := range a.Coding {
			if c.System == ConsentActionSystem && c.Code != "" {
				code = c.Code
				break
			}
		}
		if code == "" {
			unsupported("action")
			continue
		}
		p.Actions = append(p.Actions, code)
	}
	for _, e := range []struct {
		name  string
		value json.RawMessage
	}{{"code", j.Code}, {"dataPeriod", j.DataPeriod}, {"data", j.Data}} {
		if len(e.value) > 0 && string(e.value) != "null" && string(e.value) != "[]" {
			unsupported(e.name)
		}
	}
	slices.Sort(p.Unsupported)
	for i := range j.Provision {
		p.Provisions = append(p.Provisions, newProvision(&j.Provision[i], contained))
	}
	return p
}

// recipientRole reports whether an actor's role makes it a recipient of
// the record, the sense in which the access model reads actors. A missing
// role is read so too: the access model's own examples name only the
// organisation.
func recipientRole(role jsonConcept) bool {
	if len(role.Coding) == 0 {
		return true
	}
	for _, c := range role.Coding {
		if c.System == ParticipationTypeSystem && (c.Code == "PRCP" || c.Code == "IRCP") {
			return true
		}
	}
	return false
}

// parsePeriod reads a FHIR Period. A bound that does not parse makes ok
// false; the other bound is still returned.
func parsePeriod(start, end string) (p Period, ok bool) {
	ok = true
	if start != "" {
		var s time.Time
		if s, _, ok = parseFHIRDateTime(start); ok {
			p.Start = s
		}
	}
	if end != "" {
		e, next, endOK := parseFHIRDateTime(end)
		if endOK {
			p.End = e.Add(next)
		}
		ok = ok && endOK
	}
	return p, ok
}

// parseFHIRDateTime reads a FHIR dateTime (YYYY, YYYY-MM, YYYY-MM-DD or a
// full date and time with zone) and returns its first instant and the
// length of its precision, so that an inclusive end can be turned into an
// exclusive one. For the calendar precisions the length is computed from
// t, and returned as the duration to the next year, month or day.
func parseFHIRDateTime(s string) (t time.Time, precision time.Duration, ok bool) {
	var err error
	switch len(s) {
	case 4:
		if t, err = time.Parse("2006", s); err == nil {
			return t, t.AddDate(1, 0, 0).Sub(t), true
		}
	case 7:
		if t, err = time.Parse("2006-01", s); err == nil {
			return t, t.AddDate(0, 1, 0).Sub(t), true
		}
	case 10:
		if t, err = time.Parse(time.DateOnly, s); err == nil {
			return t, t.AddDate(0, 0, 1).Sub(t), true
		}
	default:
		if t, err = time.Parse(time.RFC3339Nano, s); err == nil {
			precision = time.Second
			if _, frac, found := strings.Cut(s, "."); found {
				for i := 0; i < len(frac) && i < 9 && frac[i] >= '0' && frac[i] <= '9'; i++ {
					precision /= 10
				}
			}
			return t, precision, true
		}
	}
	return time.Time{}, 0, false
}

// Constraint kinds, the dimensions a provision's specificity counts.
const (
	kindActor uint16 = 1 << iota
	kindClass
	kindSecurityLabel
	kindPeriod
	kindPurpose
	kindAction
	kindCode
	kindDataPeriod
	kindData
)

var unsupportedKinds = map[string]uint16{
	"class":         kindClass,
	"securityLabel": kindSecurityLabel,
	"period":        kindPeriod,
	"purpose":       kindPurpose,
	"action":        kindAction,
	"code":          kindCode,
	"dataPeriod":    kindDataPeriod,
	"data":          kindData,
}

// kinds returns the constraint kinds p carries itself.
func (p *Provision) kinds() uint16 {
	var k uint16
	if len(p.Actors) > 0 {
		k |= kindActor
	}
	if len(p.Classes) > 0 {
		k |= kindClass
	}
	if len(p.SecurityLabels) > 0 {
		k |= kindSecurityLabel
	}
	if !p.Period.Start.IsZero() || !p.Period.End.IsZero() {
		k |= kindPeriod
	}
	if len(p.Purposes) > 0 {
		k |= kindPurpose
	}
	if len(p.Actions) > 0 {
		k |= kindAction
	}
	for _, u := range p.Unsupported {
		k |= unsupportedKinds[u]
	}
	return k
}

// ConsentRule is one record-level rule that a patient's consents leave for
// one caller, once everything about the caller (organisation, purpose,
// time) has been decided. A record matches when its type is one of Types
// (nil: any type) and, for each set in Labels, it carries at least one of
// its security labels (nil: any record).
type ConsentRule struct {
	Permit bool
	Types  []string
	Labels [][]string
}

// matches reports whether rec falls under the rule.
func (r ConsentRule) matches(rec *Record) bool {
	if r.Types != nil && !slices.Contains(r.Types, rec.Type) {
		return false
	}
	for _, set := range r.Labels {
		if !slices.ContainsFunc(set, func(l string) bool { return slices.Contains(rec.SecurityLabels, l) }) {
			return false
		}
	}
	return true
}

func (r ConsentRule) catchAll() bool { return r.Types == nil && r.Labels == nil }

// consentRequest is what a caller's request brings to consent evaluation.
type consentRequest struct {
	org      string
	purposes []string // v3-ActReason codes the request's purpose of use falls under
	now      time.Time
}

// purposesOf returns the v3-ActReason codes the caller's purpose of use
// falls under: treatment for direct care; emergency treatment and
// break-the-glass, which are kinds of treatment, for break-glass.
func purposesOf(c *Caller) []string {
	switch {
	case c.BreakGlass():
		return []string{"TREAT", "ETREAT", "BTG"}
	case c.DirectCare():
		return []string{"TREAT"}
	}
	return nil
}

// consentActions are the consentaction codes under which showing a record
// to another organisation falls; collect and correct do not.
var consentActions = []string{"access", "use", "disclose"}

// scope is the accumulated constraint of a provision and its ancestors, as
// it bears on one request.
type scope struct {
	kinds       uint16
	matched     bool // every caller-level constraint that could be evaluated holds
	unsupported bool // some constraint could not be evaluated
	named       bool // an actor constraint named the caller's organisation
	types       []string
	typesSet    bool
	labels      [][]string
}

// evaluate turns the patient's consents into the ordered rules for one
// request (most specific first, deny before permit among equals, see
// Provision; the first rule a record matches decides, and a record no rule
// matches is not restricted by consent), and reports whether a permit in
// force names the caller's organisation, which grants it a relationship.
func evaluate(consents []Consent, req consentRequest) (rules []ConsentRule, permitted bool) {
	type ranked struct {
		rule        ConsentRule
		specificity int
	}
	var all []ranked
	var visit func(p *Provision, parent scope)
	visit = func(p *Provision, parent scope) {
		s := parent
		s.kinds |= p.kinds()
		s.unsupported = s.unsupported || len(p.Unsupported) > 0
		// A constraint that cannot be evaluated as a whole is left out:
		// that only matters to a deny, as a permit with one never applies.
		evaluable := func(element string) bool { return !slices.Contains(p.Unsupported, element) }
		if (!p.Period.Start.IsZero() || !p.Period.End.IsZero()) && evaluable("period") {
			s.matched = s.matched && p.Period.Contains(req.now)
		}
		if len(p.Purposes) > 0 && evaluable("purpose") {
			s.matched = s.matched && slices.ContainsFunc(p.Purposes, func(c string) bool { return slices.Contains(req.purposes, c) })
		}
		if len(p.Actions) > 0 && evaluable("action") {
			s.matched = s.matched && slices.ContainsFunc(p.Actions, func(c string) bool { return slices.Contains(consentActions, c) })
		}
		if len(p.Actors) > 0 {
			switch actorsName(p.Actors, req.org) {
			case actorNamed:
				s.named = true
			case actorUnknown:
				s.unsupported = true
			case actorOther:
				s.matched = false
			}
		}
		if len(p.Classes) > 0 && evaluable("class") {
			if s.typesSet {
				s.types = slices.DeleteFunc(slices.Clone(s.types), func(t string) bool { return !slices.Contains(p.Classes, t) })
			} else {
				s.types, s.typesSet = slices.Clone(p.Classes), true
			}
		}
		if len(p.SecurityLabels) > 0 && evaluable("securityLabel") {
			s.labels = append(slices.Clip(s.labels), p.SecurityLabels)
		}
		if p.Type != "" && s.matched && (!s.typesSet || len(s.types) > 0) {
			permit := p.Type == ProvisionPermit
			if !permit || !s.unsupported {
				rule := ConsentRule{Permit: permit, Labels: s.labels}
				if s.typesSet {
					rule.Types = s.types
				}
				all = append(all, ranked{rule, bits.OnesCount16(s.kinds)})
				permitted = permitted || (permit && s.named)
			}
		}
		for i := range p.Provisions {
			visit(&p.Provisions[i], s)
		}
	}
	for i := range consents {
		visit(&consents[i].Provision, scope{matched: true})
	}
	slices.SortStableFunc(all, func(a, b ranked) int {
		if a.specificity != b.specificity {
			return b.specificity - a.specificity
		}
		switch {
		case a.rule.Permit == b.rule.Permit:
			return 0
		case a.rule.Permit:
			return 1
		}
		return -1
	})
	for _, r := range all {
		rules = append(rules, r.rule)
		if r.rule.catchAll() {
			break // nothing after it can match first
		}
	}
	for len(rules) > 0 && rules[len(rules)-1].Permit {
		rules = rules[:len(rules)-1] // a permit with no deny after it changes nothing
	}
	if len(rules) == 0 {
		return nil, permitted
	}
	return rules, permitted
}

type actorMatch int

const (
	actorOther   actorMatch = iota // the actors are known and the caller is not among them
	actorNamed                     // the caller's organisation is named as a recipient
	actorUnknown                   // some actor could be the caller but cannot be resolved
)

func actorsName(actors []Actor, org string) actorMatch {
	m := actorOther
	for _, a := range actors {
		switch {
		case !a.Recipient || a.ODS == "":
			m = actorUnknown
		case a.ODS == org:
			return actorNamed
		}
	}
	return m
}
