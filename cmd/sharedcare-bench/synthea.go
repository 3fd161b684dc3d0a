package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/sharedcare/sharedcare/internal/searchparam"
)

// A syntheaTemplate is one Synthea transaction Bundle, parsed once so that
// the bench can send thousands of fresh copies of it cheaply: every entry's
// JSON is cut at its urn:uuid references and its dates, and a copy is those
// pieces joined with new uuids and shifted dates. Copying bytes, rather than
// decoding and encoding every resource, keeps the load generator's share of
// the machine's two cores small.
type syntheaTemplate struct {
	name       string
	entries    []templateEntry
	patient    int            // index of the one Patient entry
	patientRes map[string]any // the Patient resource, decoded: each copy gets a new identity
	encounters []int          // indices of the Encounter entries
	children   map[int][]int  // Encounter index -> entries whose encounter it is, in bundle order
}

// templateEntry is one entry of a template.
type templateEntry struct {
	typ   string
	parts [][]byte // literal JSON; a slot goes between parts[i] and parts[i+1]
	slots []slot
	refs  []int  // entries whose fullUrl this entry's resource references
	raw   []byte // the resource as in the template, for the floor's rows
	index int    // how many search values the server extracts from it
	code  string // the first coding (system|code) of its code, if any
	day   int    // its effective or onset date as a day number; -1 for none
}

// slot is one place in an entry's JSON a copy fills in.
type slot struct {
	entry int // >= 0: the fullUrl of that entry ("urn:uuid:..." or a literal reference)
	day   int // entry < 0: a date, as days since 1970-01-01; the time of day, if any, follows in the next part
}

// slotPattern finds what a copy rewrites: a JSON string that is a urn:uuid,
// or that starts with a date (a FHIR date or dateTime). The character after
// the date must end the string or start the time, so that text containing
// a date is left alone.
var slotPattern = regexp.MustCompile(`"(urn:uuid:[0-9a-fA-F-]{36}"|\d{4}-\d{2}-\d{2}["T])`)

// loadSyntheaTemplates reads every *.json transaction Bundle in dir.
func loadSyntheaTemplates(dir string) ([]*syntheaTemplate, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Synthea bundles (*.json) in %s", dir)
	}
	var out []*syntheaTemplate
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		t, err := parseSyntheaTemplate(filepath.Base(f), raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// parseSyntheaTemplate cuts one Synthea transaction Bundle into a template.
func parseSyntheaTemplate(name string, raw []byte) (*syntheaTemplate, error) {
	var b struct {
		Type  string `json:"type"`
		Entry []struct {
			FullURL  string          `json:"fullUrl"`
			Resource json.RawMessage `json:"resource"`
			Request  json.RawMessage `json:"request"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, err
	}
	if b.Type != "transaction" {
		return nil, fmt.Errorf("bundle type %q, want transaction", b.Type)
	}
	t := &syntheaTemplate{name: name, patient: -1, children: map[int][]int{}}
	byURL := map[string]int{}
	for i, e := range b.Entry {
		if len(e.FullURL) != len("urn:uuid:")+36 || e.FullURL[:9] != "urn:uuid:" {
			return nil, fmt.Errorf("entry %d: fullUrl %q is not a urn:uuid", i, e.FullURL)
		}
		byURL[e.FullURL] = i
	}
	for i, e := range b.Entry {
		var head struct {
			ResourceType      string          `json:"resourceType"`
			Code              codeableConcept `json:"code"`
			EffectiveDateTime string          `json:"effectiveDateTime"`
			OnsetDateTime     string          `json:"onsetDateTime"`
		}
		if err := json.Unmarshal(e.Resource, &head); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		var res bytes.Buffer
		if err := json.Compact(&res, e.Resource); err != nil {
			return nil, err
		}
		var entry bytes.Buffer
		entry.WriteString(`{"fullUrl":`)
		entry.WriteString(strconv.Quote(e.FullURL))
		entry.WriteString(`,"resource":`)
		entry.Write(res.Bytes())
		entry.WriteString(`,"request":`)
		if err := json.Compact(&entry, e.Request); err != nil {
			return nil, err
		}
		entry.WriteString(`}`)
		te, err := cutEntry(entry.Bytes(), byURL)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		te.typ, te.raw = head.ResourceType, res.Bytes()
		te.code, te.day = head.Code.first(), -1
		for _, d := range []string{head.EffectiveDateTime, head.OnsetDateTime} {
			if len(d) >= 10 {
				if t, err := time.Parse(time.DateOnly, d[:10]); err == nil {
					te.day = int(t.Unix() / 86400)
					break
				}
			}
		}
		vals, err := searchparam.Extract(te.typ, te.raw)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		te.index = len(vals)
		te.refs = slices.DeleteFunc(te.refs, func(r int) bool { return r == i })
		t.entries = append(t.entries, te)
		switch te.typ {
		case "Patient":
			if t.patient >= 0 {
				return nil, errors.New("more than one Patient")
			}
			t.patient = i
			if err := json.Unmarshal(e.Resource, &t.patientRes); err != nil {
				return nil, err
			}
		case "Encounter":
			t.encounters = append(t.encounters, i)
		}
	}
	if t.patient < 0 {
		return nil, errors.New("no Patient")
	}
	for i, e := range t.entries {
		for _, r := range e.refs {
			if t.entries[r].typ == "Encounter" && e.typ != "Encounter" {
				t.children[r] = append(t.children[r], i)
			}
		}
	}
	return t, nil
}

// cutEntry splits an entry's JSON at its slots. A urn:uuid that is no
// entry's fullUrl stays as it is.
func cutEntry(js []byte, byURL map[string]int) (templateEntry, error) {
	var te templateEntry
	last := 0
	for _, m := range slotPattern.FindAllSubmatchIndex(js, -1) {
		start, end := m[2], m[3]-1 // the string's content, without the closing quote or the T
		val := string(js[start:end])
		var s slot
		if val[0] == 'u' {
			i, ok := byURL[val]
			if !ok {
				continue
			}
			s.entry = i
			if !slices.Contains(te.refs, i) {
				te.refs = append(te.refs, i)
			}
		} else {
			d, err := time.Parse(time.DateOnly, val)
			if err != nil {
				return te, fmt.Errorf("date %q: %w", val, err)
			}
			s.entry, s.day = -1, int(d.Unix()/86400)
		}
		te.parts = append(te.parts, js[last:start])
		te.slots = append(te.slots, s)
		last = end
	}
	te.parts = append(te.parts, js[last:])
	return te, nil
}

// A copyPlan says how one copy of a template fills its slots.
type copyPlan struct {
	// url[i] replaces entry i's urn:uuid wherever it appears: a fresh
	// urn:uuid for an entry in the copy, or a literal reference
	// ("Organization/123") for one the server already holds.
	url []string
	// shift moves every date by this many days, so that copies of one
	// template do not all share one calendar.
	shift int
}

// newCopyPlan gives every entry of t a fresh urn:uuid.
func newCopyPlan(rng *rand.Rand, t *syntheaTemplate, shift int) copyPlan {
	p := copyPlan{url: make([]string, len(t.entries)), shift: shift}
	for i := range p.url {
		p.url[i] = "urn:uuid:" + newUUID(rng)
	}
	return p
}

// appendEntry appends the JSON of entry i as p fills it.
func (t *syntheaTemplate) appendEntry(dst []byte, i int, p copyPlan) []byte {
	e := &t.entries[i]
	for k, s := range e.slots {
		dst = append(dst, e.parts[k]...)
		if s.entry >= 0 {
			dst = append(dst, p.url[s.entry]...)
		} else {
			dst = time.Unix(int64(s.day+p.shift)*86400, 0).UTC().AppendFormat(dst, time.DateOnly)
		}
	}
	return append(dst, e.parts[len(e.slots)]...)
}

// identity is who a copy's Patient is. Every copy of a template is a new
// person: a fresh NHS number, name, address and GP practice.
type identity struct {
	nhs      string
	family   string
	given    []string
	practice string // ODS code of the registered GP practice
}

// newIdentity returns a new person of the given FHIR gender, registered at
// practice.
func newIdentity(rng *rand.Rand, gender, practice string) identity {
	given := maleGiven
	if gender == "female" {
		given = femaleGiven
	}
	id := identity{nhs: newNHSNumber(), family: pick(rng, familyNames), given: []string{pick(rng, given)}, practice: practice}
	if rng.IntN(2) == 0 {
		id.given = append(id.given, pick(rng, given))
	}
	return id
}

// appendPatientEntry appends the Patient entry of a copy: the template's
// Patient with the person's identity in place of Synthea's US one (its
// SSN, passport and driving licence numbers would repeat across copies),
// a UK address and the registered practice.
func (t *syntheaTemplate) appendPatientEntry(dst []byte, rng *rand.Rand, p copyPlan, who identity) []byte {
	res := make(map[string]any, len(t.patientRes)+2)
	for k, v := range t.patientRes {
		res[k] = v
	}
	delete(res, "id")
	res["identifier"] = []identifier{
		{System: nhsNumberSystem, Value: who.nhs, Extension: []extension{{
			URL: nhsVerificationExt, ValueCodeableConcept: codeableConcept{Coding: []coding{verification[0]}},
		}}},
		{System: "https://fhir.example.org/Id/mrn", Value: newUUID(rng)},
	}
	res["name"] = []humanName{{Use: "official", Family: who.family, Given: who.given}}
	place := pick(rng, places)
	res["address"] = []address{{
		Use:  "home",
		Line: []string{fmt.Sprintf("%d %s", 1+rng.IntN(200), pick(rng, streets))},
		City: place.city, District: place.district, Country: "GB",
		PostalCode: fmt.Sprintf("%s %d%c%c", place.outward, rng.IntN(10),
			postcodeLetters[rng.IntN(len(postcodeLetters))], postcodeLetters[rng.IntN(len(postcodeLetters))]),
	}}
	res["telecom"] = []contactPoint{{"phone", fmt.Sprintf("07700 900%03d", rng.IntN(1000)), "mobile"}}
	res["generalPractitioner"] = []reference{{Type: "Organization", Identifier: identifier{System: odsOrganizationSystem, Value: who.practice}}}
	for _, k := range []string{"birthDate", "deceasedDateTime"} {
		if s, ok := res[k].(string); ok && len(s) >= 10 {
			if d, err := time.Parse(time.DateOnly, s[:10]); err == nil {
				res[k] = d.AddDate(0, 0, p.shift).Format(time.DateOnly) + s[10:]
			}
		}
	}
	body, err := json.Marshal(res)
	if err != nil {
		// The template decoded from JSON; the rest are plain strings.
		panic(err)
	}
	dst = append(dst, `{"fullUrl":"`...)
	dst = append(dst, p.url[t.patient]...)
	dst = append(dst, `","resource":`...)
	dst = append(dst, body...)
	return append(dst, `,"request":{"method":"POST","url":"Patient"}}`...)
}

// bundleStart and bundleEnd wrap the entries of a transaction.
const (
	bundleStart = `{"resourceType":"Bundle","type":"transaction","entry":[`
	bundleEnd   = `]}`
)

// wholeCopy returns a transaction that is a fresh copy of all of t: a new
// urn:uuid for every entry (every reference rewritten to match), a new
// person as the Patient, and dates shifted by up to five years.
func (t *syntheaTemplate) wholeCopy(rng *rand.Rand, practice string) []byte {
	p := newCopyPlan(rng, t, rng.IntN(5*365))
	gender, _ := t.patientRes["gender"].(string)
	who := newIdentity(rng, gender, practice)
	dst := make([]byte, 0, 1<<20)
	dst = append(dst, bundleStart...)
	for i := range t.entries {
		if i > 0 {
			dst = append(dst, ',')
		}
		if i == t.patient {
			dst = t.appendPatientEntry(dst, rng, p, who)
		} else {
			dst = t.appendEntry(dst, i, p)
		}
	}
	return append(dst, bundleEnd...)
}

// indexRows returns how many search values the server extracts from a
// whole copy of t, for the floor to write as many index rows.
func (t *syntheaTemplate) indexRows() int {
	n := 0
	for _, e := range t.entries {
		n += e.index
	}
	return n
}

// newUUID returns a random (version 4) UUID.
func newUUID(rng *rand.Rand) string {
	var b [16]byte
	hi, lo := rng.Uint64(), rng.Uint64()
	for i := range 8 {
		b[i], b[8+i] = byte(hi>>(8*i)), byte(lo>>(8*i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[c>>4], hex[c&0xf])
	}
	return string(out)
}

// first returns the first coding as system|code, or "".
func (c codeableConcept) first() string {
	if len(c.Coding) == 0 || c.Coding[0].Code == "" {
		return ""
	}
	return c.Coding[0].System + "|" + c.Coding[0].Code
}
