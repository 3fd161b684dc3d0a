package summary

import (
	"context"
	"encoding/json"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/search"
)

// Source reads a patient's records for $summary with the caller's access
// applied: the REST layer implements it with the same visibility, gate and
// suppressed check as a compartment search, so the summary can show only
// what the caller could find by searching, and knows when something was
// withheld without learning what.
type Source interface {
	// Search runs q, which is scoped to the patient's compartment, and
	// returns the visible matches and includes, and whether the access
	// model (or the token's scopes) withheld any match.
	Search(ctx context.Context, q *search.Query) (Found, error)
	// Versions returns up to limit versions of typ/id, newest first, only
	// those the caller may see.
	Versions(ctx context.Context, typ, id string, limit int) ([]fhir.Resource, error)
}

// Found is what one search of a summary returned.
type Found struct {
	Matches  []fhir.Resource
	Included []fhir.Resource
	// Withheld is set when the caller was not shown every match.
	Withheld bool
}

// Request says whose summary to build, and for which server.
type Request struct {
	// Patient is the Patient resource, already passed through the gate.
	Patient fhir.Resource
	// Base is the server's FHIR base URL, for the entries' fullUrls.
	Base string
	// Now is the time the summary is made at; the 30-day and 7-day windows
	// end at it.
	Now time.Time
	// Version is the server's software version, shown on the author Device.
	Version string
}

// IPS section and document codes (http://hl7.org/fhir/uv/ips/). The
// administration section has no IPS code: it uses LOINC 29549-3
// "Medication administered Narrative", the code of the C-CDA Medications
// Administered section, which says exactly what the section holds.
const (
	loincSystem            = "http://loinc.org"
	CodeSummaryDocument    = "60591-5"
	CodeProblems           = "11450-4"
	CodeAllergies          = "48765-2"
	CodeMedications        = "10160-0"
	CodeImmunizations      = "11369-6"
	CodeEncounters         = "46240-8"
	CodeCarePlans          = "18776-5"
	CodeAdministrations    = "29549-3"
	emptyReasonSystem      = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
	observationValueSystem = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
)

// Windows of the summary: care plans changed within carePlanWindow have
// their changes described; missed and refused doses within missedWindow
// are listed; a medication given within currentAdministrationWindow is
// current even when no statement or prescription says so (a care home's
// MAR may be the only source).
const (
	carePlanWindow              = 30 * 24 * time.Hour
	missedWindow                = 7 * 24 * time.Hour
	currentAdministrationWindow = 30 * 24 * time.Hour
	recentEncounters            = 3
	// maxCarePlanDiffs bounds the history reads of one summary: at most
	// this many changed care plans have their versions compared, each from
	// at most carePlanVersions versions. The rest say that they changed.
	maxCarePlanDiffs = 20
	carePlanVersions = 10
)

// WithheldNote is what a section's narrative says when the access model
// hid part of it; it never says what or how much.
const WithheldNote = "Some items are not shown."

// SuppressedText is the access model's suppressed warning (section 7),
// carried by the Composition's narrative: a document Bundle has no
// search.mode outcome entry to carry an OperationOutcome.
const SuppressedText = "Items excluded due to confidentiality and/or patient preferences"

// sectionQuery is one search a summary runs.
type sectionQuery struct {
	typ    string
	params url.Values
}

// queries are the searches behind the sections, a fixed set whatever the
// size of the record: each is one indexed search of the patient's
// compartment (plus the suppressed count), so a summary costs a bounded
// number of queries, not one per resource.
func queries(now time.Time) map[string]sectionQuery {
	all := func(kv ...string) url.Values {
		v := url.Values{"_count": {strconv.Itoa(search.MaxCount)}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	return map[string]sectionQuery{
		"problems": {"Condition", all("clinical-status", "active,recurrence,relapse",
			"verification-status:not", "entered-in-error")},
		"allergies": {"AllergyIntolerance", all("verification-status:not", "entered-in-error",
			"clinical-status:not", "resolved", "clinical-status:not", "inactive")},
		"statements": {"MedicationStatement", all("status", "active,intended", "_include", "MedicationStatement:medication")},
		"requests":   {"MedicationRequest", all("status", "active,on-hold", "_include", "MedicationRequest:medication")},
		"administrations": {"MedicationAdministration", all("_sort", "-effective-time",
			"_include", "MedicationAdministration:medication")},
		"immunizations": {"Immunization", all("status:not", "entered-in-error", "_sort", "-date")},
		"encounters": {"Encounter", url.Values{"_count": {strconv.Itoa(recentEncounters)},
			"_sort": {"-date"}, "status:not": {"entered-in-error,cancelled"}}},
		"careplans.active":  {"CarePlan", all("status", "active")},
		"careplans.changed": {"CarePlan", all("_lastUpdated", "ge"+now.Add(-carePlanWindow).UTC().Format(time.RFC3339))},
	}
}

// query parses one section's search and scopes it to the patient.
func (sq sectionQuery) query(patientID string) (*search.Query, error) {
	q, _, err := search.Parse(sq.typ, sq.params, true)
	if err != nil {
		return nil, err
	}
	if err := q.InPatientCompartment(patientID); err != nil {
		return nil, err
	}
	// No count: a page that holds every match counts itself, and the
	// Source counts only when it does not.
	q.Total = search.TotalNone
	return q, nil
}

// Build returns the patient's summary: an IPS-style document Bundle whose
// first entry is the Composition, with one section per kind of record,
// each listing its entries and a generated narrative that says which
// source each fact came from and when it was last updated.
func Build(ctx context.Context, src Source, req Request) ([]byte, error) {
	if req.Now.IsZero() {
		req.Now = time.Now()
	}
	pid := req.Patient.ID
	found := map[string]Found{}
	for name, sq := range queries(req.Now) {
		q, err := sq.query(pid)
		if err != nil {
			return nil, err
		}
		f, err := src.Search(ctx, q)
		if err != nil {
			return nil, err
		}
		found[name] = f
	}
	// The three most recent encounters were asked for; whether anything
	// relevant was withheld is whether anything as recent as the third
	// was, not whether an older encounter is hidden.
	if enc := found["encounters"]; enc.Withheld && len(enc.Matches) == recentEncounters {
		withheld, err := encountersWithheldSince(ctx, src, pid, enc.Matches)
		if err != nil {
			return nil, err
		}
		enc.Withheld = withheld
		found["encounters"] = enc
	}

	b := newBook(req)
	for _, f := range found {
		for _, m := range f.Included {
			if m.Type == "Medication" {
				b.medications["Medication/"+m.ID] = parse(m)
			}
		}
	}
	var sections []*section
	sections = append(sections, b.problems(found["problems"]))
	sections = append(sections, b.allergies(found["allergies"]))
	meds, current := b.medicationList(found["statements"], found["requests"], found["administrations"])
	sections = append(sections, meds)
	sections = append(sections, b.immunizations(found["immunizations"]))
	sections = append(sections, b.encounters(found["encounters"]))
	plans, err := b.carePlans(ctx, src, found["careplans.active"], found["careplans.changed"])
	if err != nil {
		return nil, err
	}
	sections = append(sections, plans)
	sections = append(sections, b.administrations(current, found["administrations"]))
	return b.document(sections)
}

// encountersWithheldSince reports whether an encounter at least as recent
// as the last of shown was withheld: one more count, bounded.
func encountersWithheldSince(ctx context.Context, src Source, pid string, shown []fhir.Resource) (bool, error) {
	oldest := ""
	for _, r := range shown {
		start := str(parse(r).m, "period", "start")
		if start == "" {
			return true, nil
		}
		if oldest == "" || later(oldest, start) {
			oldest = start
		}
	}
	q, _, err := search.Parse("Encounter", url.Values{"date": {"ge" + oldest}, "_count": {"0"},
		"status:not": {"entered-in-error,cancelled"}}, true)
	if err != nil {
		return true, nil
	}
	if err := q.InPatientCompartment(pid); err != nil {
		return false, err
	}
	q.Total = search.TotalAccurate
	f, err := src.Search(ctx, q)
	return f.Withheld, err
}

// section is one Composition section as built.
type section struct {
	title, code, display string
	entries              []rec
	withheld             bool
	// emptyReason is the list-empty-reason code used when the section has
	// no entries and nothing was withheld.
	emptyReason, emptyDisplay string
	div                       string
}

// book gathers the document: the patient, the entries of every section
// (each resource once) and the Medications they reference.
type book struct {
	req         Request
	patient     rec
	entries     []rec
	seen        map[string]bool
	medications map[string]rec
	// usedMedications are the Medications the entries reference.
	usedMedications map[string]bool
}

func newBook(req Request) *book {
	return &book{req: req, patient: parse(req.Patient), seen: map[string]bool{},
		medications: map[string]rec{}, usedMedications: map[string]bool{}}
}

// add makes rs entries of the document (once each).
func (b *book) add(rs ...rec) {
	for _, r := range rs {
		if !b.seen[r.r.Ref()] {
			b.seen[r.r.Ref()] = true
			b.entries = append(b.entries, r)
			if ref := str(r.m, "medicationReference", "reference"); ref != "" {
				b.usedMedications[ref] = true
			}
		}
	}
}

type jsonCoding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

type jsonCodeableConcept struct {
	Coding []jsonCoding `json:"coding,omitempty"`
	Text   string       `json:"text,omitempty"`
}

type jsonReference struct {
	Reference string `json:"reference,omitempty"`
	Display   string `json:"display,omitempty"`
}

type jsonNarrative struct {
	Status string `json:"status"`
	Div    string `json:"div"`
}

type jsonSection struct {
	Title       string               `json:"title"`
	Code        jsonCodeableConcept  `json:"code"`
	Text        jsonNarrative        `json:"text"`
	Entry       []jsonReference      `json:"entry,omitempty"`
	EmptyReason *jsonCodeableConcept `json:"emptyReason,omitempty"`
}

type jsonMeta struct {
	LastUpdated string       `json:"lastUpdated,omitempty"`
	Security    []jsonCoding `json:"security,omitempty"`
}

type jsonComposition struct {
	ResourceType string              `json:"resourceType"`
	ID           string              `json:"id"`
	Meta         *jsonMeta           `json:"meta,omitempty"`
	Text         jsonNarrative       `json:"text"`
	Status       string              `json:"status"`
	Type         jsonCodeableConcept `json:"type"`
	Subject      jsonReference       `json:"subject"`
	Date         string              `json:"date"`
	Author       []jsonReference     `json:"author"`
	Title        string              `json:"title"`
	Section      []jsonSection       `json:"section"`
}

type jsonDeviceName struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type jsonDeviceVersion struct {
	Value string `json:"value"`
}

type jsonDevice struct {
	ResourceType string              `json:"resourceType"`
	ID           string              `json:"id"`
	DeviceName   []jsonDeviceName    `json:"deviceName"`
	Version      []jsonDeviceVersion `json:"version,omitempty"`
}

type jsonEntry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
}

type jsonIdentifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

type jsonBundle struct {
	ResourceType string         `json:"resourceType"`
	ID           string         `json:"id"`
	Meta         jsonMeta       `json:"meta"`
	Identifier   jsonIdentifier `json:"identifier"`
	Type         string         `json:"type"`
	Timestamp    string         `json:"timestamp"`
	Entry        []jsonEntry    `json:"entry"`
}

// document assembles the Bundle: the Composition first, then the Patient,
// the author Device and every resource a section refers to, each with the
// fullUrl its reference resolves to.
func (b *book) document(sections []*section) ([]byte, error) {
	now := b.req.Now.UTC().Format(fhir.LastUpdatedFormat)
	compID, deviceID := uuid.NewString(), uuid.NewString()
	comp := jsonComposition{
		ResourceType: "Composition",
		ID:           compID,
		Status:       "final",
		Type:         jsonCodeableConcept{Coding: []jsonCoding{{System: loincSystem, Code: CodeSummaryDocument, Display: "Patient summary Document"}}},
		Subject:      jsonReference{Reference: "Patient/" + b.req.Patient.ID, Display: patientName(b.patient)},
		Date:         now,
		Author:       []jsonReference{{Reference: "urn:uuid:" + deviceID, Display: "sharedcare shared care record"}},
		Title:        "Patient summary",
	}
	anyWithheld := false
	for _, s := range sections {
		js := jsonSection{
			Title: s.title,
			Code:  jsonCodeableConcept{Coding: []jsonCoding{{System: loincSystem, Code: s.code, Display: s.display}}},
			Text:  jsonNarrative{Status: "generated", Div: s.div},
		}
		for _, e := range s.entries {
			js.Entry = append(js.Entry, jsonReference{Reference: e.r.Ref()})
			b.add(e)
		}
		switch {
		case len(s.entries) > 0:
		case s.withheld:
			js.EmptyReason = &jsonCodeableConcept{Coding: []jsonCoding{{System: emptyReasonSystem, Code: "withheld", Display: "Information Withheld"}}}
		default:
			js.EmptyReason = &jsonCodeableConcept{Coding: []jsonCoding{{System: emptyReasonSystem, Code: s.emptyReason, Display: s.emptyDisplay}}}
		}
		anyWithheld = anyWithheld || s.withheld
		comp.Section = append(comp.Section, js)
	}
	// The suppressed warning of the access model: the Composition's
	// narrative says it in words, and its meta carries the DS4P label
	// REDACTED for machines. A document has no place for a search.mode
	// outcome entry, and Composition.section has no note.
	var text strings.Builder
	text.WriteString(`<div xmlns="http://www.w3.org/1999/xhtml"><p>Patient summary for `)
	text.WriteString(esc(patientName(b.patient)))
	text.WriteString(", made " + esc(now) + " from the shared care record (GP, hospital and social care sources).</p>")
	if anyWithheld {
		comp.Meta = &jsonMeta{Security: []jsonCoding{{System: observationValueSystem, Code: "REDACTED", Display: "redacted"}}}
		text.WriteString("<p>" + SuppressedText + "</p>")
	}
	text.WriteString("</div>")
	comp.Text = jsonNarrative{Status: "generated", Div: text.String()}

	compRaw, err := json.Marshal(comp)
	if err != nil {
		return nil, err
	}
	device := jsonDevice{ResourceType: "Device", ID: deviceID,
		DeviceName: []jsonDeviceName{{Name: "sharedcare", Type: "manufacturer-name"}}}
	if b.req.Version != "" {
		device.Version = []jsonDeviceVersion{{Value: b.req.Version}}
	}
	devRaw, err := json.Marshal(device)
	if err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(b.req.Base, "/")
	bundle := jsonBundle{
		ResourceType: "Bundle",
		ID:           uuid.NewString(),
		Meta:         jsonMeta{LastUpdated: now},
		Identifier:   jsonIdentifier{System: "urn:ietf:rfc:3986", Value: "urn:uuid:" + uuid.NewString()},
		Type:         "document",
		Timestamp:    now,
		Entry: []jsonEntry{
			{FullURL: "urn:uuid:" + compID, Resource: compRaw},
			{FullURL: base + "/Patient/" + b.req.Patient.ID, Resource: b.req.Patient.Raw},
			{FullURL: "urn:uuid:" + deviceID, Resource: devRaw},
		},
	}
	for _, e := range b.entries {
		bundle.Entry = append(bundle.Entry, jsonEntry{FullURL: base + "/" + e.r.Type + "/" + e.r.ID, Resource: e.r.Raw})
	}
	// The Medications the entries name by reference come along, so that
	// the document reads on its own.
	refs := make([]string, 0, len(b.medications))
	for ref := range b.medications {
		refs = append(refs, ref)
	}
	sort.Strings(refs)
	for _, ref := range refs {
		if b.usedMedications[ref] {
			m := b.medications[ref]
			bundle.Entry = append(bundle.Entry, jsonEntry{FullURL: base + "/" + ref, Resource: m.r.Raw})
		}
	}
	return json.Marshal(bundle)
}
