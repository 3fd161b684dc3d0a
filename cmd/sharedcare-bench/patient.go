package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"
)

// The FHIR systems and profiles a UK Core Patient uses.
const (
	nhsNumberSystem       = "https://fhir.nhs.uk/Id/nhs-number"
	odsOrganizationSystem = "https://fhir.nhs.uk/Id/ods-organization-code"
	ukCorePatientProfile  = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"
	nhsVerificationExt    = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
	nhsVerificationSystem = "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"
)

// nhsCheckDigit returns the Modulus 11 check digit of the first nine digits
// of an NHS number. ok is false for the one remainder (10) that has no check
// digit: such nine-digit stems are never issued.
func nhsCheckDigit(stem [9]int) (digit int, ok bool) {
	sum := 0
	for i, d := range stem {
		sum += d * (10 - i)
	}
	c := 11 - sum%11
	switch c {
	case 11:
		return 0, true
	case 10:
		return 0, false
	}
	return c, true
}

// validNHSNumber reports whether s is ten digits whose last is the Modulus 11
// check digit of the other nine.
func validNHSNumber(s string) bool {
	if len(s) != 10 {
		return false
	}
	var stem [9]int
	for i := range 10 {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		if i < 9 {
			stem[i] = int(s[i] - '0')
		}
	}
	c, ok := nhsCheckDigit(stem)
	return ok && c == int(s[9]-'0')
}

// nhsSerial walks the NHS number test range from a random start, so that
// one run never sends the same number twice: the server holds one Patient
// per NHS number and would answer a repeat with 409.
var nhsSerial = func() *atomic.Uint64 {
	var n atomic.Uint64
	n.Store(rand.Uint64N(1_000_000))
	return &n
}()

// newNHSNumber returns a valid NHS number not returned before in this run.
// It starts with 999, the range NHS England keeps for test data, so that a
// benchmark database can never hold a real person's number.
func newNHSNumber() string {
	for {
		n := nhsSerial.Add(1) % 1_000_000
		stem := [9]int{9, 9, 9}
		for i := 8; i >= 3; i-- {
			stem[i] = int(n % 10)
			n /= 10
		}
		c, ok := nhsCheckDigit(stem)
		if !ok {
			continue
		}
		b := make([]byte, 10)
		for i, d := range stem {
			b[i] = byte('0' + d)
		}
		b[9] = byte('0' + c)
		return string(b)
	}
}

// The Patient shape the bench sends. Only the elements it fills are
// declared; field order follows the FHIR element order, as a real client
// would write it.
type (
	patient struct {
		ResourceType        string         `json:"resourceType"`
		Meta                meta           `json:"meta"`
		Identifier          []identifier   `json:"identifier"`
		Active              bool           `json:"active"`
		Name                []humanName    `json:"name"`
		Telecom             []contactPoint `json:"telecom,omitempty"`
		Gender              string         `json:"gender"`
		BirthDate           string         `json:"birthDate"`
		Address             []address      `json:"address"`
		GeneralPractitioner []reference    `json:"generalPractitioner"`
	}
	meta struct {
		Profile []string `json:"profile"`
	}
	extension struct {
		URL                  string          `json:"url"`
		ValueCodeableConcept codeableConcept `json:"valueCodeableConcept"`
	}
	codeableConcept struct {
		Coding []coding `json:"coding"`
	}
	coding struct {
		System  string `json:"system"`
		Code    string `json:"code"`
		Display string `json:"display"`
	}
	identifier struct {
		Extension []extension `json:"extension,omitempty"`
		System    string      `json:"system"`
		Value     string      `json:"value"`
	}
	humanName struct {
		Use    string   `json:"use"`
		Family string   `json:"family"`
		Given  []string `json:"given"`
		Prefix []string `json:"prefix,omitempty"`
	}
	contactPoint struct {
		System string `json:"system"`
		Value  string `json:"value"`
		Use    string `json:"use"`
	}
	address struct {
		Use        string   `json:"use"`
		Line       []string `json:"line"`
		City       string   `json:"city"`
		District   string   `json:"district"`
		PostalCode string   `json:"postalCode"`
		Country    string   `json:"country"`
	}
	reference struct {
		Type       string     `json:"type"`
		Identifier identifier `json:"identifier"`
	}
)

var (
	familyNames = []string{
		"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
		"Patel", "Wright", "Robinson", "Thompson", "Evans", "Walker", "Khan", "Roberts",
		"Green", "Hall", "Wood", "Hughes", "Edwards", "O'Connor", "Clarke", "Begum",
		"Lewis", "Harris", "Jackson", "Turner", "Ali", "Mitchell", "Morgan", "Okafor",
	}
	femaleGiven = []string{
		"Olivia", "Amelia", "Isla", "Ava", "Mia", "Margaret", "Patricia", "Susan",
		"Fatima", "Aisha", "Grace", "Emily", "Joan", "Dorothy", "Priya", "Siobhan",
	}
	maleGiven = []string{
		"Oliver", "George", "Noah", "Arthur", "Muhammad", "Leo", "David", "John",
		"Peter", "Michael", "Harry", "Kwame", "Rajesh", "Thomas", "William", "Dylan",
	}
	streets = []string{
		"High Street", "Station Road", "Church Lane", "Victoria Road", "Green Lane",
		"Manor Road", "Park Avenue", "Mill Lane", "Queens Road", "The Crescent",
	}
	// places pairs towns with a real outward postcode, so that postcode and
	// town agree as they would in a GP system.
	places = []struct{ city, district, outward string }{
		{"Leeds", "West Yorkshire", "LS6"},
		{"Bradford", "West Yorkshire", "BD9"},
		{"Manchester", "Greater Manchester", "M14"},
		{"Sheffield", "South Yorkshire", "S10"},
		{"Birmingham", "West Midlands", "B15"},
		{"Bristol", "City of Bristol", "BS7"},
		{"Norwich", "Norfolk", "NR2"},
		{"Exeter", "Devon", "EX4"},
		{"Newcastle upon Tyne", "Tyne and Wear", "NE6"},
		{"London", "Greater London", "SE15"},
		{"Nottingham", "Nottinghamshire", "NG7"},
		{"Truro", "Cornwall", "TR1"},
	}
	verification = []coding{
		{nhsVerificationSystem, "01", "Number present and verified"},
		{nhsVerificationSystem, "02", "Number present but not traced"},
	}
)

// Birth dates fall in this span, so the population runs from centenarians
// in care homes to newborns.
var (
	oldestBirth = time.Date(1920, 1, 1, 0, 0, 0, 0, time.UTC)
	birthSpan   = int(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Sub(oldestBirth).Hours() / 24)
)

// emailLocal turns a name into the local part of an email address.
var emailLocal = strings.NewReplacer("'", "", " ", "")

// postcodeLetters are the letters a postcode's inward code may end with.
const postcodeLetters = "ABDEFGHJLNPQRSTUWXYZ"

// newPatient returns a random UK Core-like Patient. Varying the names,
// dates, addresses and number of contact points keeps the bodies, and so
// the server's index rows, from being identical.
func newPatient(rng *rand.Rand) patient {
	p := patient{
		ResourceType: "Patient",
		Meta:         meta{Profile: []string{ukCorePatientProfile}},
		Active:       true,
		BirthDate:    oldestBirth.AddDate(0, 0, rng.IntN(birthSpan)).Format(time.DateOnly),
	}
	nhs := identifier{System: nhsNumberSystem, Value: newNHSNumber()}
	if rng.IntN(10) > 0 {
		nhs.Extension = []extension{{
			URL:                  nhsVerificationExt,
			ValueCodeableConcept: codeableConcept{Coding: []coding{pick(rng, verification)}},
		}}
	}
	p.Identifier = []identifier{nhs}

	given, title := maleGiven, "Mr"
	switch r := rng.IntN(100); {
	case r < 49:
		p.Gender = "male"
	case r < 98:
		p.Gender, given, title = "female", femaleGiven, pick(rng, []string{"Mrs", "Ms", "Miss"})
	default:
		p.Gender, title = pick(rng, []string{"other", "unknown"}), "Mx"
	}
	family := pick(rng, familyNames)
	first := rng.IntN(len(given))
	name := humanName{Use: "official", Family: family, Given: []string{given[first]}}
	if rng.IntN(2) == 0 {
		middle := (first + 1 + rng.IntN(len(given)-1)) % len(given)
		name.Given = append(name.Given, given[middle])
	}
	if rng.IntN(3) == 0 {
		name.Prefix = []string{title}
	}
	p.Name = []humanName{name}

	// Phone numbers come from Ofcom's ranges reserved for drama, so none
	// rings a real person.
	if rng.IntN(4) > 0 {
		p.Telecom = append(p.Telecom, contactPoint{"phone", fmt.Sprintf("01632 960%03d", rng.IntN(1000)), "home"})
	}
	if rng.IntN(3) > 0 {
		p.Telecom = append(p.Telecom, contactPoint{"phone", fmt.Sprintf("07700 900%03d", rng.IntN(1000)), "mobile"})
	}
	if rng.IntN(3) == 0 {
		local := emailLocal.Replace(strings.ToLower(name.Given[0] + "." + family))
		p.Telecom = append(p.Telecom, contactPoint{"email", fmt.Sprintf("%s%d@example.com", local, rng.IntN(100)), "home"})
	}

	place := pick(rng, places)
	p.Address = []address{{
		Use:  "home",
		Line: []string{fmt.Sprintf("%d %s", 1+rng.IntN(200), pick(rng, streets))},
		City: place.city, District: place.district, Country: "GB",
		PostalCode: fmt.Sprintf("%s %d%c%c", place.outward, rng.IntN(10),
			postcodeLetters[rng.IntN(len(postcodeLetters))], postcodeLetters[rng.IntN(len(postcodeLetters))]),
	}}

	// GP practice ODS codes are a letter and five digits.
	p.GeneralPractitioner = []reference{{
		Type: "Organization",
		Identifier: identifier{
			System: odsOrganizationSystem,
			Value:  fmt.Sprintf("%c%05d", 'A'+rng.IntN(26), rng.IntN(100000)),
		},
	}}
	return p
}

// patientJSON returns the JSON of a new random Patient.
func patientJSON(rng *rand.Rand) []byte {
	b, err := json.Marshal(newPatient(rng))
	if err != nil {
		// Every field is a plain string, bool or slice of them.
		panic(err)
	}
	return b
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }
