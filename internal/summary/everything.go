package summary

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/fhir/jsonscan"
	"github.com/sharedcare/sharedcare/internal/fhir/r4"
	"github.com/sharedcare/sharedcare/internal/search"
	"github.com/sharedcare/sharedcare/internal/searchparam"
)

// Supporting are the resource types outside the Patient compartment that
// $everything returns when the patient's records reference them: the
// OperationDefinition's "linked practitioners, medications, locations,
// organizations".
var Supporting = []string{"Location", "Medication", "Organization", "Practitioner", "PractitionerRole"}

// compartmentTypes are the types whose resources $everything finds in the
// Patient compartment, sorted. The Patient itself is read by id instead
// (its access answer must be exactly that of a read), and AuditEvent is
// the audit trail, which only auditors search (access model, section 8).
var compartmentTypes = func() []string {
	var out []string
	for t := range r4.PatientCompartment {
		if t != "Patient" && t != "AuditEvent" {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}()

// clinicalDate is the search parameter holding the care date of each type,
// which start and end bound. A type that is not listed has no care date,
// so its resources are always in range.
var clinicalDate = func() map[string]string {
	m := map[string]string{
		"Basic": "created", "ChargeItem": "occurrence", "Claim": "created", "ClaimResponse": "created",
		"Communication": "sent", "CommunicationRequest": "occurrence", "Condition": "onset-date",
		"CoverageEligibilityRequest": "created", "CoverageEligibilityResponse": "created",
		"DetectedIssue": "identified", "DeviceRequest": "event-date", "DocumentManifest": "created",
		"ExplanationOfBenefit": "created", "Goal": "start-date", "ImagingStudy": "started", "Media": "created",
		"MedicationAdministration": "effective-time", "MedicationDispense": "whenhandedover",
		"MedicationRequest": "authoredon", "MedicationStatement": "effective", "NutritionOrder": "datetime",
		"Provenance": "recorded", "QuestionnaireResponse": "authored", "RequestGroup": "authored",
		"ServiceRequest": "occurrence", "Specimen": "collected", "VisionPrescription": "datewritten",
	}
	for _, t := range compartmentTypes {
		if _, ok := m[t]; ok {
			continue
		}
		if p, ok := searchparam.Lookup(t, "date"); ok && p.Type == searchparam.TypeDate && p.Indexed() {
			m[t] = "date"
		}
	}
	return m
}()

// startToken is the _page token of the first page of compartment resources
// when the page before held only the Patient (_count=1). Search page tokens
// are base64url JSON objects, which never spell it.
const startToken = "compartment"

// Everything is a parsed Patient/{id}/$everything request.
type Everything struct {
	PatientID string
	// Count is the page size: _count, search.DefaultCount when absent, at
	// most search.MaxCount.
	Count int
	// Since, when set, keeps the resources updated at or after it (_since).
	Since time.Time
	// types are the types asked for with _type; nil for every type.
	types []string
	// page is the _page token as sent; cursor the position it names (nil
	// for the first page, and for startToken).
	page   string
	cursor *search.Cursor
	// filters are _since and the care date bounds, for the compartment query.
	filters []search.Filter
	// params are the operation's parameters as received, for the links.
	params url.Values
}

// everythingParams are the parameters $everything takes, besides _page
// (paging) and _format and _pretty (the HTTP exchange).
var everythingParams = map[string]bool{"_count": true, "_since": true, "_type": true, "start": true, "end": true}

// ParseEverything reads the parameters of $everything on Patient/id. A
// parameter the operation does not define, or a malformed value, is a
// fhir.KindInvalid error.
func ParseEverything(id string, params url.Values) (*Everything, error) {
	if !fhir.ValidID(id) {
		return nil, fhir.Errorf(fhir.KindInvalid, "invalid", "%q is not a valid FHIR id ([A-Za-z0-9-.]{1,64})", id)
	}
	e := &Everything{PatientID: id, Count: search.DefaultCount, params: url.Values{}}
	for k, vs := range params {
		switch {
		case k == "_format" || k == "_pretty":
			continue
		case k == "_page":
		case !everythingParams[k]:
			return nil, fhir.Errorf(fhir.KindInvalid, "not-supported",
				"%q is not a parameter of $everything (it takes _count, _since, _type, start and end)", k)
		}
		if k != "_type" && len(vs) > 1 {
			return nil, fhir.Errorf(fhir.KindInvalid, "invalid", "%s may be given once, not %d times", k, len(vs))
		}
		if k != "_page" {
			e.params[k] = vs
		}
	}
	if v := params.Get("_count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, fhir.Errorf(fhir.KindInvalid, "invalid", "_count=%q is not a positive integer", v)
		}
		e.Count = min(n, search.MaxCount)
	}
	if err := e.parseTypes(params["_type"]); err != nil {
		return nil, err
	}
	if v := params.Get("_since"); v != "" {
		f, err := dateFilter("Patient", "_lastUpdated", "ge"+v, "_since")
		if err != nil {
			return nil, err
		}
		e.Since = f.Values[0].Date.Low
		e.filters = append(e.filters, *f)
	}
	if err := e.parseCareDates(params.Get("start"), params.Get("end")); err != nil {
		return nil, err
	}
	if v := params.Get("_page"); v != "" {
		e.page = v
		if v != startToken {
			c, err := search.DecodeCursor(v)
			if err != nil {
				return nil, err
			}
			if len(c.Keys) != 0 {
				return nil, fhir.Errorf(fhir.KindInvalid, "invalid", "_page=%q is not a page of $everything", v)
			}
			e.cursor = c
		}
	}
	return e, nil
}

// parseTypes reads _type: types of the compartment, the Patient and the
// supporting types may be asked for.
func (e *Everything) parseTypes(values []string) error {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				continue
			}
			if t != "Patient" && !slices.Contains(compartmentTypes, t) && !slices.Contains(Supporting, t) {
				return fhir.Errorf(fhir.KindInvalid, "invalid",
					"_type: %q is not a type $everything returns (the Patient, the types of the Patient compartment but AuditEvent, and %s)",
					t, strings.Join(Supporting, ", "))
			}
			if !slices.Contains(e.types, t) {
				e.types = append(e.types, t)
			}
		}
	}
	if len(values) > 0 && len(e.types) == 0 {
		return fhir.Errorf(fhir.KindInvalid, "invalid", "_type names no resource type")
	}
	return nil
}

// parseCareDates turns start and end into filters: a resource whose care
// date lies wholly before start or wholly after end is left out, one with
// no care date is kept (the OperationDefinition bounds care, and a record
// without a date cannot be placed outside the range). Each bound is a
// negated search on the care date parameters of the types asked for, so
// that the database applies it in the one query of the page.
func (e *Everything) parseCareDates(start, end string) error {
	if start == "" && end == "" {
		return nil
	}
	var bounds []search.Value
	if start != "" {
		f, err := dateFilter("Observation", "date", "eb"+start, "start")
		if err != nil {
			return err
		}
		bounds = append(bounds, f.Values[0])
	}
	if end != "" {
		f, err := dateFilter("Observation", "date", "sa"+end, "end")
		if err != nil {
			return err
		}
		bounds = append(bounds, f.Values[0])
	}
	if len(bounds) == 2 && !bounds[0].Date.Low.Before(bounds[1].Date.High) {
		return fhir.Errorf(fhir.KindInvalid, "invalid", "start=%s is after end=%s", start, end)
	}
	seen := map[string]bool{}
	for _, t := range e.compartmentTypes() {
		code, ok := clinicalDate[t]
		if !ok || seen[code] {
			continue
		}
		seen[code] = true
		p, _ := searchparam.Lookup(t, code)
		e.filters = append(e.filters, search.Filter{Param: p, Modifier: search.ModNot, Values: bounds})
	}
	return nil
}

// dateFilter parses one date value of the search parameter code of typ,
// reporting a malformed value as one of the operation's parameter name.
func dateFilter(typ, code, value, name string) (*search.Filter, error) {
	q, _, err := search.Parse(typ, url.Values{code: {value}}, true)
	if err != nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "invalid", "%s=%q is not a FHIR date, dateTime or instant", name, strings.TrimLeft(value, "abegilnqst"))
	}
	if len(q.Filters) != 1 || len(q.Filters[0].Values) != 1 {
		return nil, fhir.Errorf(fhir.KindInvalid, "invalid", "%s needs a value", name)
	}
	return &q.Filters[0], nil
}

// wants reports whether _type lets resources of typ out.
func (e *Everything) wants(typ string) bool {
	return e.types == nil || slices.Contains(e.types, typ)
}

// compartmentTypes are the compartment types the request asks for.
func (e *Everything) compartmentTypes() []string {
	if e.types == nil {
		return compartmentTypes
	}
	var out []string
	for _, t := range compartmentTypes {
		if slices.Contains(e.types, t) {
			out = append(out, t)
		}
	}
	return out
}

// FirstPage reports whether the request asks for the first page, the one
// that starts with the Patient.
func (e *Everything) FirstPage() bool { return e.page == "" }

// CountsPatient reports whether the operation returns the Patient
// resource itself, last updated at lastUpdated, on its first page: unless
// _type or _since leave it out. The Patient has no care date, so start
// and end keep it. Every page's total counts it.
func (e *Everything) CountsPatient(lastUpdated time.Time) bool {
	return e.wants("Patient") && (e.Since.IsZero() || !lastUpdated.Before(e.Since))
}

// WantsPatient reports whether this page returns the Patient resource:
// the first page, when CountsPatient.
func (e *Everything) WantsPatient(lastUpdated time.Time) bool {
	return e.FirstPage() && e.CountsPatient(lastUpdated)
}

// SearchesCompartment reports whether the request asks for any type of the
// Patient compartment.
func (e *Everything) SearchesCompartment() bool { return len(e.compartmentTypes()) > 0 }

// CompartmentQuery returns the search for the page's resources of the
// Patient compartment: every type asked for, in (type, id) order from the
// page token, count of them (0: count them only). The caller sets
// Visibility and Base.
func (e *Everything) CompartmentQuery(count int) *search.Query {
	types := e.compartmentTypes()
	params := map[string]bool{}
	for _, t := range types {
		for _, code := range r4.PatientCompartment[t] {
			if p, ok := searchparam.Lookup(t, code); ok && p.Type == searchparam.TypeReference && p.Indexed() {
				params[code] = true
			}
		}
	}
	c := &search.Compartment{Type: "Patient", ID: e.PatientID}
	for code := range params {
		c.Params = append(c.Params, code)
	}
	sort.Strings(c.Params)
	return &search.Query{
		Types:       slices.Clone(types),
		Compartment: c,
		Filters:     slices.Clone(e.filters),
		Count:       count,
		Page:        e.cursor,
	}
}

// Link returns the URL of the page that page (a _page token; "" for the
// first) names, under the operation's URL: every parameter of the request
// is carried, so that each page answers the same question.
func (e *Everything) Link(operationURL, page string) string {
	p := url.Values{}
	for k, v := range e.params {
		p[k] = v
	}
	if page != "" {
		p.Set("_page", page)
	}
	if enc := p.Encode(); enc != "" {
		return operationURL + "?" + enc
	}
	return operationURL
}

// Page returns the _page token of the request ("" for the first page).
func (e *Everything) Page() string { return e.page }

// StartToken is the _page token of the page after a first page that held
// only the Patient.
func StartToken() string { return startToken }

// SupportingQuery returns the search for the supporting resources that
// rs reference (relative references, or absolute ones under base), of the
// supporting types the request asks for; nil when they reference none.
// All of them are read in one query, whatever their type: it matches their
// ids across those types, so the caller keeps only the returned resources
// whose Type/id is in the map of those referenced.
func (e *Everything) SupportingQuery(rs []fhir.Resource, base string) (*search.Query, map[string]bool, error) {
	refs := map[string]bool{}
	typeSet := map[string]bool{}
	idSet := map[string]bool{}
	for _, r := range rs {
		for _, ref := range references(r.Raw, base) {
			typ, id, _ := strings.Cut(ref, "/")
			if !slices.Contains(Supporting, typ) || !e.wants(typ) || refs[ref] {
				continue
			}
			refs[ref] = true
			typeSet[typ] = true
			idSet[id] = true
		}
	}
	if len(refs) == 0 {
		return nil, nil, nil
	}
	var types, ids []string
	for t := range typeSet {
		types = append(types, t)
	}
	for id := range idSet {
		ids = append(ids, id)
	}
	sort.Strings(types)
	sort.Strings(ids)
	q, _, err := search.Parse("", url.Values{"_type": {strings.Join(types, ",")}, "_id": {strings.Join(ids, ",")},
		"_count": {strconv.Itoa(search.MaxCount)}, "_total": {"none"}}, true)
	return q, refs, err
}

// references returns the Type/id of every literal reference in raw that
// points at this server: relative, or absolute under base. Version
// suffixes are dropped; contained (#id), urn: and foreign references are
// left out.
func references(raw []byte, base string) []string {
	const key = `"reference"`
	var out []string
	for i := 0; ; {
		j := bytes.Index(raw[i:], []byte(key))
		if j < 0 {
			return out
		}
		i += j + len(key)
		k := jsonscan.SkipSpace(raw, i)
		if k >= len(raw) || raw[k] != ':' {
			continue
		}
		k = jsonscan.SkipSpace(raw, k+1)
		if k >= len(raw) || raw[k] != '"' {
			continue
		}
		end, err := jsonscan.SkipString(raw, k)
		if err != nil {
			return out
		}
		var s string
		if json.Unmarshal(raw[k:end], &s) != nil {
			continue
		}
		i = end
		if base != "" {
			s = strings.TrimPrefix(s, strings.TrimSuffix(base, "/")+"/")
		}
		parts := strings.Split(s, "/")
		if (len(parts) == 2 || len(parts) == 4 && parts[2] == "_history") && r4.IsResourceType(parts[0]) && fhir.ValidID(parts[1]) {
			out = append(out, parts[0]+"/"+parts[1])
		}
	}
}

// ParametersValues turns the Parameters resource of POST $everything into
// the parameters of the GET form. An empty body has none.
func ParametersValues(body []byte) (url.Values, error) {
	out := url.Values{}
	if len(bytes.TrimSpace(body)) == 0 {
		return out, nil
	}
	var p struct {
		ResourceType string                       `json:"resourceType"`
		Parameter    []map[string]json.RawMessage `json:"parameter"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "structure", "the body is not a Parameters resource: %v", err)
	}
	if p.ResourceType != "Parameters" {
		return nil, fhir.Errorf(fhir.KindInvalid, "invalid", "POST $everything takes a Parameters resource, not %q", p.ResourceType)
	}
	for i, param := range p.Parameter {
		var name string
		if err := json.Unmarshal(param["name"], &name); err != nil || name == "" {
			return nil, fhir.Errorf(fhir.KindInvalid, "required", "Parameters.parameter[%d] has no name", i)
		}
		var value string
		found := false
		for k, raw := range param {
			if !strings.HasPrefix(k, "value") {
				continue
			}
			var v any
			if json.Unmarshal(raw, &v) != nil {
				break
			}
			switch v := v.(type) {
			case string:
				value, found = v, true
			case float64:
				value, found = strconv.FormatFloat(v, 'f', -1, 64), true
			}
		}
		if !found {
			return nil, fhir.Errorf(fhir.KindInvalid, "invalid", "Parameters.parameter[%d] (%s) has no primitive value[x]", i, name)
		}
		out.Add(name, value)
	}
	return out, nil
}
