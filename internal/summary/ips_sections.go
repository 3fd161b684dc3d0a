package summary

import (
	"sort"
	"strings"
	"time"
)

// Empty reasons (http://terminology.hl7.org/CodeSystem/list-empty-reason).
// A clinical list with nothing in it says notasked: that no source has
// recorded anything is no evidence that the patient has no problems,
// allergies, medicines or immunisations, and nilknown would claim that it
// is. Encounters, care plans and administrations are events the record
// would hold if they had happened here, so none held is nilknown.
const (
	emptyNotAsked = "notasked"
	emptyNilKnown = "nilknown"
)

var emptyDisplays = map[string]string{emptyNotAsked: "Not Asked", emptyNilKnown: "Nil Known"}

func newSection(title, code, display, empty string) *section {
	return &section{title: title, code: code, display: display, emptyReason: empty, emptyDisplay: emptyDisplays[empty]}
}

// distinct joins the different non-empty values of f over rs; values
// that differ only in case (a display "Active" and a bare code "active")
// are one.
func distinct(rs []rec, f func(rec) string) string {
	var out []string
	seen := map[string]bool{}
	for _, r := range rs {
		if v := f(r); v != "" && !seen[strings.ToLower(v)] {
			seen[strings.ToLower(v)] = true
			out = append(out, v)
		}
	}
	return strings.Join(out, "; ")
}

// status reads a CodeableConcept status element, e.g. clinicalStatus.
func status(element string) func(rec) string {
	return func(r rec) string { return codeable(r.m[element]).label }
}

func (b *book) problems(f Found) *section {
	s := newSection("Active problems", CodeProblems, "Problem list - Reported", emptyNotAsked)
	g := newGrouper()
	for _, r := range parseAll(f.Matches) {
		g.add(r, codeable(r.m["code"]), true)
	}
	sortGroups(g.groups)
	t := &table{head: []string{"Problem", "Status", "Onset", "Sources"}}
	for _, gr := range g.groups {
		t.row(gr.label, distinct(gr.members, status("clinicalStatus")),
			distinct(gr.members, func(r rec) string { return str(r.m, "onsetDateTime") + period(r.m["onsetPeriod"]) }),
			lines(sourcesOf(gr.members)))
	}
	s.entries, s.withheld = recsOf(g.groups), f.Withheld
	s.div = narrative(t, "No active problems are recorded in the shared care record.", s.withheld)
	return s
}

func (b *book) allergies(f Found) *section {
	s := newSection("Allergies and intolerances", CodeAllergies, "Allergies and adverse reactions Document", emptyNotAsked)
	g := newGrouper()
	for _, r := range parseAll(f.Matches) {
		g.add(r, codeable(r.m["code"]), true)
	}
	sortGroups(g.groups)
	t := &table{head: []string{"Substance", "Status", "Criticality", "Reaction", "Sources"}}
	for _, gr := range g.groups {
		t.row(gr.label, distinct(gr.members, status("clinicalStatus")),
			distinct(gr.members, func(r rec) string { return str(r.m, "criticality") }),
			distinct(gr.members, func(r rec) string {
				return codeable(get(r.m, "reaction", "0", "manifestation", "0")).label
			}),
			lines(sourcesOf(gr.members)))
	}
	s.entries, s.withheld = recsOf(g.groups), f.Withheld
	s.div = narrative(t, "No allergies or intolerances are recorded in the shared care record.", s.withheld)
	return s
}

// medicationCode is what a medication record is of: its
// medicationCodeableConcept, or the code of the Medication it references
// (the reference itself when that Medication is not visible).
func (b *book) medicationCode(r rec) concept {
	if ref := str(r.m, "medicationReference", "reference"); ref != "" {
		if m, ok := b.medications[ref]; ok {
			if c := codeable(m.m["code"]); len(c.keys) > 0 {
				return c
			}
		}
		label := str(r.m, "medicationReference", "display")
		if label == "" {
			label = ref
		}
		return concept{label: label, keys: []string{"ref|" + ref}}
	}
	return codeable(r.m["medicationCodeableConcept"])
}

// administered is when an administration happened.
func administered(r rec) string {
	if t := str(r.m, "effectiveDateTime"); t != "" {
		return t
	}
	return str(r.m, "effectivePeriod", "start")
}

// later reports whether the FHIR time a is after b. Sources write their
// times in different zones and precisions, so they are compared as times,
// not strings; a time that does not parse sorts last.
func later(a, b string) bool {
	ta, oka := fhirTime(a)
	tb, okb := fhirTime(b)
	if oka != okb {
		return oka
	}
	return ta.After(tb)
}

// within reports whether the FHIR time s is in [from, to].
func within(s string, from, to time.Time) bool {
	t, ok := fhirTime(s)
	return ok && !t.Before(from) && !t.After(to)
}

// performer is who gave an administration.
func performer(r rec) string {
	if d := str(r.m, "performer", "0", "actor", "display"); d != "" {
		return d
	}
	if ref := str(r.m, "performer", "0", "actor", "reference"); ref != "" {
		return ref
	}
	return "not recorded"
}

// current is one current medication and its administrations, newest
// first.
type current struct {
	group *group
	given []rec
}

// medicationList builds the current medications section: active
// statements and prescriptions, and medicines a MAR shows as given in the
// last 30 days, one row per medicine whatever the number of sources. It
// returns the medicines, for the administrations section.
func (b *book) medicationList(statements, requests, admins Found) (*section, []*current) {
	s := newSection("Current medications", CodeMedications, "History of Medication use Narrative", emptyNotAsked)
	g := newGrouper()
	for _, r := range parseAll(statements.Matches) {
		g.add(r, b.medicationCode(r), true)
	}
	for _, r := range parseAll(requests.Matches) {
		g.add(r, b.medicationCode(r), true)
	}
	mas := parseAll(admins.Matches)
	sort.SliceStable(mas, func(i, j int) bool { return later(administered(mas[i]), administered(mas[j])) })
	now := b.req.Now
	// The latest completed administration of each medicine is an entry of
	// its row; a medicine only a MAR knows of is current when given
	// recently.
	hasAdmin := map[*group]bool{}
	for _, r := range mas {
		if str(r.m, "status") != "completed" {
			continue
		}
		c := b.medicationCode(r)
		gr := g.find(c)
		if gr == nil && within(administered(r), now.Add(-currentAdministrationWindow), now) {
			gr = g.add(r, c, true)
			hasAdmin[gr] = true
			continue
		}
		if gr != nil && !hasAdmin[gr] {
			gr.members = append(gr.members, r)
			hasAdmin[gr] = true
		}
	}
	sortGroups(g.groups)
	var meds []*current
	byGroup := map[*group]*current{}
	for _, gr := range g.groups {
		c := &current{group: gr}
		byGroup[gr] = c
		meds = append(meds, c)
	}
	for _, r := range mas {
		if gr := g.find(b.medicationCode(r)); gr != nil {
			byGroup[gr].given = append(byGroup[gr].given, r)
		}
	}
	t := &table{head: []string{"Medication", "Status and dosage", "Sources", "Last given"}}
	for _, c := range meds {
		last := "No administration recorded"
		if l := lastGiven(c.given); l != nil {
			last = administered(*l) + " by " + performer(*l)
		}
		state := distinct(c.group.members, func(r rec) string {
			if r.r.Type == "MedicationAdministration" {
				return ""
			}
			dose := str(r.m, "dosage", "0", "text") + str(r.m, "dosageInstruction", "0", "text")
			if dose == "" {
				return str(r.m, "status")
			}
			return str(r.m, "status") + ": " + dose
		})
		if state == "" {
			state = "given in the last 30 days; no statement or prescription"
		}
		t.row(c.group.label, state, lines(sourcesOf(c.group.members)), last)
	}
	s.entries, s.withheld = recsOf(g.groups), statements.Withheld || requests.Withheld
	s.div = narrative(t, "No current medications are recorded in the shared care record.", s.withheld)
	return s, meds
}

// lastGiven is the latest completed administration of given (newest
// first), nil when there is none.
func lastGiven(given []rec) *rec {
	for i := range given {
		if str(given[i].m, "status") == "completed" {
			return &given[i]
		}
	}
	return nil
}

// administrations builds the section that care staff read at a glance:
// for each current medicine, when it was last given and by whom, and the
// doses missed or refused (status not-done) in the last 7 days.
func (b *book) administrations(meds []*current, admins Found) *section {
	s := newSection("Medication administration", CodeAdministrations, "Medication administered Narrative", emptyNilKnown)
	now := b.req.Now
	t := &table{head: []string{"Medication", "Last given", "Given by", "Source", "Missed or refused in the last 7 days"}}
	var entries []rec
	for _, c := range meds {
		lastAt, by, source := "No administration recorded", "", ""
		if l := lastGiven(c.given); l != nil {
			lastAt, by, source = administered(*l), performer(*l), provenance(*l)
			entries = append(entries, *l)
		}
		var missed []string
		for _, r := range c.given {
			if str(r.m, "status") != "not-done" || !within(administered(r), now.Add(-missedWindow), now) {
				continue
			}
			reason := codeable(get(r.m, "statusReason", "0")).label
			if reason == "" {
				reason = "no reason recorded"
			}
			missed = append(missed, administered(r)+": not given ("+reason+"), "+sourceLabel(r.source))
			entries = append(entries, r)
		}
		if len(missed) == 0 {
			missed = []string{"none"}
		}
		t.row(c.group.label, lastAt, by, source, lines(missed))
	}
	s.entries, s.withheld = entries, admins.Withheld
	if len(entries) == 0 {
		// A row per medicine with nothing given says nothing an empty
		// section would not.
		t.rows = nil
	}
	s.div = narrative(t, "No medication administrations are recorded in the shared care record.", s.withheld)
	return s
}

func (b *book) immunizations(f Found) *section {
	s := newSection("Immunizations", CodeImmunizations, "History of Immunization Narrative", emptyNotAsked)
	g := newGrouper()
	// One vaccination pushed by two sources is one row; the same vaccine
	// on another day is another.
	for _, r := range parseAll(f.Matches) {
		c := codeable(r.m["vaccineCode"])
		day := str(r.m, "occurrenceDateTime")
		if len(day) > 10 {
			day = day[:10]
		}
		for i, k := range c.keys {
			c.keys[i] = k + "@" + day
		}
		g.add(r, c, true)
	}
	occurred := func(gr *group) string { return str(gr.members[0].m, "occurrenceDateTime") }
	sort.SliceStable(g.groups, func(i, j int) bool { return later(occurred(g.groups[i]), occurred(g.groups[j])) })
	t := &table{head: []string{"Vaccine", "Date", "Status", "Sources"}}
	for _, gr := range g.groups {
		t.row(gr.label, occurred(gr), distinct(gr.members, func(r rec) string { return str(r.m, "status") }),
			lines(sourcesOf(gr.members)))
	}
	s.entries, s.withheld = recsOf(g.groups), f.Withheld
	s.div = narrative(t, "No immunizations are recorded in the shared care record.", s.withheld)
	return s
}

func (b *book) encounters(f Found) *section {
	s := newSection("Recent encounters", CodeEncounters, "History of Hospitalizations+Outpatient visits Narrative", emptyNilKnown)
	rs := parseAll(f.Matches)
	sort.SliceStable(rs, func(i, j int) bool { return later(str(rs[i].m, "period", "start"), str(rs[j].m, "period", "start")) })
	t := &table{head: []string{"Encounter", "Period", "Status", "Source"}}
	for _, r := range rs {
		label := codeable(get(r.m, "type", "0")).label
		if label == "" {
			label = str(r.m, "class", "display")
		}
		if label == "" {
			label = str(r.m, "class", "code")
		}
		t.row(label, period(r.m["period"]), str(r.m, "status"), provenance(r))
	}
	s.entries, s.withheld = rs, f.Withheld
	s.div = narrative(t, "No encounters are recorded in the shared care record.", s.withheld)
	return s
}
