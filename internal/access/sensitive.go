package access

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/sharedcare/sharedcare/internal/fhir/jsonscan"
	"github.com/sharedcare/sharedcare/internal/fhir/r4"
)

// SNOMEDSystem is the code system of SNOMED CT, the terminology of the
// sensitive code set.
const SNOMEDSystem = "http://snomed.info/sct"

// The code systems of the security labels that make a resource sensitive
// (access model, section 5).
const (
	ConfidentialitySystem = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
	ActCodeSystem         = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
)

// canonicalSystems maps older names of the label and code systems (the
// pre-THO URIs of FHIR DSTU2 and STU3, and the HL7 OIDs) to the names this
// package compares. Data migrated from older systems still carries them, and
// a label that is not recognised would fail open.
var canonicalSystems = map[string]string{
	"http://hl7.org/fhir/v3/Confidentiality": ConfidentialitySystem,
	"urn:oid:2.16.840.1.113883.5.25":         ConfidentialitySystem,
	"http://hl7.org/fhir/v3/ActCode":         ActCodeSystem,
	"urn:oid:2.16.840.1.113883.5.4":          ActCodeSystem,
	"urn:oid:2.16.840.1.113883.6.96":         SNOMEDSystem,
}

func canonicalSystem(system string) string {
	if c, ok := canonicalSystems[system]; ok {
		return c
	}
	return system
}

// sensitiveLabels are the meta.security labels (system|code) that hide a
// resource from every organisation but its owner: confidentiality
// restricted and very restricted, and the HL7 sensitivity codes for HIV,
// psychiatry, sickle cell, substance use, sexually transmitted disease and
// sexuality.
var sensitiveLabels = map[string]bool{
	ConfidentialitySystem + "|R": true,
	ConfidentialitySystem + "|V": true,
	ActCodeSystem + "|HIV":       true,
	ActCodeSystem + "|PSY":       true,
	ActCodeSystem + "|SDV":       true,
	ActCodeSystem + "|ETH":       true,
	ActCodeSystem + "|STD":       true,
	ActCodeSystem + "|SEX":       true,
}

// clinicalCodeElements are the top-level elements whose SNOMED CT codings
// are looked up in the sensitive set. Each holds a CodeableConcept or a list
// of them (Questionnaire.code holds Codings, which are read as well).
var clinicalCodeElements = map[string]bool{
	"code":                      true,
	"vaccineCode":               true,
	"medicationCodeableConcept": true,
	"reasonCode":                true,
}

// SensitiveCodes is a set of SNOMED CT concept ids whose presence in a
// clinical code makes a resource sensitive. The zero value is an empty set.
type SensitiveCodes struct {
	terms map[string]string // concept id -> the term given in the file
}

//go:embed sensitive-codes.txt
var defaultSensitiveCodesFile []byte

var defaultSensitiveCodes = sync.OnceValue(func() *SensitiveCodes {
	s, err := ParseSensitiveCodes(bytes.NewReader(defaultSensitiveCodesFile))
	if err != nil {
		panic("access: the embedded sensitive-codes.txt is invalid: " + err.Error())
	}
	return s
})

// DefaultSensitiveCodes returns the set shipped with the server
// (sensitive-codes.txt): sexual health and STIs, HIV, fertility treatment,
// termination of pregnancy and gender reassignment.
func DefaultSensitiveCodes() *SensitiveCodes { return defaultSensitiveCodes() }

// LoadSensitiveCodes reads a replacement set from a file in the format of
// the embedded default (SHAREDCARE_SENSITIVE_CODES).
func LoadSensitiveCodes(path string) (*SensitiveCodes, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, err := ParseSensitiveCodes(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ParseSensitiveCodes reads a set: one SNOMED CT concept id per line, "#"
// starting a comment (the term of the code on its line), blank lines
// ignored. A line that is not a well-formed concept id (digits, a valid
// Verhoeff check digit, a concept partition) is an error naming the line,
// so that a typing mistake in a replacement file stops the server instead
// of silently un-hiding a category. An empty set is an error too.
func ParseSensitiveCodes(r io.Reader) (*SensitiveCodes, error) {
	s := &SensitiveCodes{terms: map[string]string{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line, term, _ := strings.Cut(sc.Text(), "#")
		code := strings.TrimSpace(line)
		if code == "" {
			continue
		}
		if !validConceptID(code) {
			return nil, fmt.Errorf("line %d: %q is not a SNOMED CT concept id", n, code)
		}
		s.terms[code] = strings.TrimSpace(term)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(s.terms) == 0 {
		return nil, fmt.Errorf("no SNOMED CT codes in the sensitive code set")
	}
	return s, nil
}

// Contains reports whether the SNOMED CT concept id code is in the set.
func (s *SensitiveCodes) Contains(code string) bool {
	_, ok := s.terms[code]
	return ok
}

// Len returns the number of concepts in the set.
func (s *SensitiveCodes) Len() int { return len(s.terms) }

// validConceptID reports whether id is a SNOMED CT concept identifier: 6 to
// 18 digits without a leading zero, a partition identifier of 00 (a concept
// of the international release) or 10 (a concept of an extension), and a
// Verhoeff check digit.
func validConceptID(id string) bool {
	if len(id) < 6 || len(id) > 18 || id[0] == '0' {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	if p := id[len(id)-3 : len(id)-1]; p != "00" && p != "10" {
		return false
	}
	return verhoeffValid(id)
}

// The Verhoeff tables: multiplication in the dihedral group D5 and the
// position permutation.
var (
	verhoeffD = [10][10]byte{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
		{1, 2, 3, 4, 0, 6, 7, 8, 9, 5},
		{2, 3, 4, 0, 1, 7, 8, 9, 5, 6},
		{3, 4, 0, 1, 2, 8, 9, 5, 6, 7},
		{4, 0, 1, 2, 3, 9, 5, 6, 7, 8},
		{5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
		{6, 5, 9, 8, 7, 1, 0, 4, 3, 2},
		{7, 6, 5, 9, 8, 2, 1, 0, 4, 3},
		{8, 7, 6, 5, 9, 3, 2, 1, 0, 4},
		{9, 8, 7, 6, 5, 4, 3, 2, 1, 0},
	}
	verhoeffP = [8][10]byte{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
		{1, 5, 7, 6, 2, 8, 3, 0, 9, 4},
		{5, 8, 0, 3, 7, 9, 6, 1, 4, 2},
		{8, 9, 1, 6, 0, 4, 3, 5, 2, 7},
		{9, 4, 5, 3, 1, 2, 6, 8, 7, 0},
		{4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
		{2, 7, 9, 3, 8, 0, 6, 4, 1, 5},
		{7, 0, 4, 6, 9, 1, 3, 2, 5, 8},
	}
)

// verhoeffValid reports whether the decimal digits of s end in a correct
// Verhoeff check digit.
func verhoeffValid(s string) bool {
	var c byte
	for i := 0; i < len(s); i++ {
		c = verhoeffD[c][verhoeffP[i%8][s[len(s)-1-i]-'0']]
	}
	return c == 0
}

// Labels are the facts about one stored resource that access decisions
// need, read from its JSON once (when it is written, or when it is about to
// be served) so that the decision itself never parses JSON.
type Labels struct {
	Source string // code of the record-source tag: gp, hospital or social-care
	Owner  string // code of the ODS organisation tag: the owning organisation
	// Sensitive reports whether the resource is a sensitive item of the
	// access model (section 5), or could not be read (failing closed).
	Sensitive bool
	// SecurityLabels are the meta.security codings as system|code, with
	// older names of the HL7 systems replaced by the current ones.
	SecurityLabels []string
	// MatchedCodes are the SNOMED CT concepts of the sensitive set found in
	// the clinical codes, which say why the resource is sensitive.
	MatchedCodes []string
}

// Classify reads the labels of a resource of type resourceType from its
// JSON. It decodes only meta and, for types in the Patient compartment, the
// clinical code elements (code, vaccineCode, medicationCodeableConcept,
// reasonCode at the top level); everything else is skipped unread. Codes of
// non-patient resources (a Medication, an ActivityDefinition) are not
// looked up: the sensitive-item rule is about patients' records.
//
// A nil codes uses DefaultSensitiveCodes. JSON that cannot be read makes
// the resource Sensitive, so that a damaged document is shown to its owner
// only; Owner and Source are then whatever was read before the damage.
func Classify(resourceType string, raw []byte, codes *SensitiveCodes) Labels {
	if codes == nil {
		codes = DefaultSensitiveCodes()
	}
	clinical := r4.InPatientCompartment(resourceType)
	var l Labels
	it := newJSONObject(raw)
	for key, value, ok := it.next(); ok; key, value, ok = it.next() {
		var err error
		switch {
		case string(key) == "meta":
			err = l.readMeta(value)
		case clinical && clinicalCodeElements[string(key)]:
			err = l.readCodes(value, codes)
		}
		if err != nil {
			l.Sensitive = true
			return l
		}
	}
	if it.err != nil {
		l.Sensitive = true
	}
	return l
}

func (l *Labels) readMeta(meta []byte) error {
	it := newJSONObject(meta)
	for key, value, ok := it.next(); ok; key, value, ok = it.next() {
		var err error
		switch string(key) {
		case "tag":
			err = l.readTags(value)
		case "security":
			err = l.readSecurity(value)
		}
		if err != nil {
			return err
		}
	}
	return it.err
}

func (l *Labels) readTags(tags []byte) error {
	it := newJSONArray(tags)
	for _, item, ok := it.next(); ok; _, item, ok = it.next() {
		system, code, err := jsonCoding(item)
		if err != nil {
			return err
		}
		switch string(system) {
		case RecordSourceSystem:
			l.Source = string(code)
		case ODSOrganizationSystem:
			l.Owner = string(code)
		}
	}
	return it.err
}

func (l *Labels) readSecurity(security []byte) error {
	it := newJSONArray(security)
	for _, item, ok := it.next(); ok; _, item, ok = it.next() {
		system, code, err := jsonCoding(item)
		if err != nil {
			return err
		}
		label := canonicalSystem(string(system)) + "|" + string(code)
		l.SecurityLabels = append(l.SecurityLabels, label)
		if sensitiveLabels[label] {
			l.Sensitive = true
		}
	}
	return it.err
}

// readCodes looks up the SNOMED CT codings of a CodeableConcept, a Coding
// or a list of either.
func (l *Labels) readCodes(value []byte, codes *SensitiveCodes) error {
	if i := jsonscan.SkipSpace(value, 0); i == len(value) || value[i] != '[' {
		return l.readConcept(value, codes)
	}
	it := newJSONArray(value)
	for _, item, ok := it.next(); ok; _, item, ok = it.next() {
		if err := l.readConcept(item, codes); err != nil {
			return err
		}
	}
	return it.err
}

// readConcept reads a CodeableConcept, or a Coding where an element holds
// Codings; any other kind of value holds no codes.
func (l *Labels) readConcept(value []byte, codes *SensitiveCodes) error {
	if i := jsonscan.SkipSpace(value, 0); i == len(value) || value[i] != '{' {
		return nil
	}
	var system, code []byte
	it := newJSONObject(value)
	for key, v, ok := it.next(); ok; key, v, ok = it.next() {
		switch string(key) {
		case "coding":
			codings := newJSONArray(v)
			for _, item, ok := codings.next(); ok; _, item, ok = codings.next() {
				s, c, err := jsonCoding(item)
				if err != nil {
					return err
				}
				l.match(s, c, codes)
			}
			if codings.err != nil {
				return codings.err
			}
		case "system":
			system = jsonString(v)
		case "code":
			code = jsonString(v)
		}
	}
	l.match(system, code, codes)
	return it.err
}

func (l *Labels) match(system, code []byte, codes *SensitiveCodes) {
	if len(code) == 0 || !codes.Contains(string(code)) {
		return
	}
	if canonicalSystem(string(system)) == SNOMEDSystem {
		l.Sensitive = true
		l.MatchedCodes = append(l.MatchedCodes, string(code))
	}
}
