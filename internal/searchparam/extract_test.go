package searchparam

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/fhir"
)

// gpPatient exercises what the examples lack: a general practitioner by
// relative, absolute and logical reference, accents, a deceased date and a
// birth year.
const gpPatient = `{
  "resourceType": "Patient", "id": "p1",
  "name": [{"text": "Dr Zoë Ødegård", "family": "Ødegård", "given": ["Zoë", "Anne"], "prefix": ["Dr"]}],
  "generalPractitioner": [
    {"reference": "Practitioner/gp1"},
    {"reference": "https://fhir.example.org/Organization/A1/_history/2"},
    {"type": "Organization", "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "Y12345"}}
  ],
  "telecom": [{"system": "email", "value": "zoe@example.org"}, {"system": "phone", "value": "0113"}],
  "deceasedDateTime": "2024-03",
  "birthDate": "1950"
}`

func TestExtract(t *testing.T) {
	const (
		richard   = "UKCore-Patient-RichardSmith-Example.json"
		weight    = "UKCore-Observation-VitalSigns-BodyWeight-Example.json"
		bp        = "UKCore-Observation-VitalSigns-BloodPressure-Example.json"
		encounter = "UKCore-Encounter-InpatientEncounter-Example.json"
		condition = "UKCore-Condition-BleedingFromEar-Example.json"
		amox      = "UKCore-MedicationRequest-Amoxicillin-Example.json"
		eyeDrops  = "UKCore-MedicationRequest-EyeDrops-Example.json"
		flu       = "UKCore-Immunization-InfluenzaVaccine-Example.json"
		performer = "UKCore-Immunization-Sn-Performer-Example.json"

		// Synthea resources, by id.
		sPatient     = "59bc5dbb-1957-47ef-b6b5-25952e6bfdab"
		sObservation = "86575039-871b-4223-9abb-439821846191"
		sEncounter   = "59419c8f-5b5d-4531-a6ac-fe49204f5c96"
		sCondition   = "7eab3b23-9ba9-4628-b94c-d14846ea1fcf"
		sImmunizaton = "21b8d5bb-1f55-447b-9e15-22a76ebce6f1"

		richardRef  = "Patient/UKCore-Patient-RichardSmith-Example"
		sPatientURN = "url=urn:uuid:" + sPatient
		ucum        = "http://unitsofmeasure.org"
	)
	tests := []struct {
		name  string
		raw   []byte
		param string
		want  []string
	}{
		// Patient: HumanName, Identifier, date, code, ContactPoint, Address, deceased[x].
		{"patient name", ukcore(t, richard), "name", []string{"SMITH (smith)", "Richard (richard)"}},
		{"patient family", ukcore(t, richard), "family", []string{"SMITH (smith)"}},
		{"patient given", ukcore(t, richard), "given", []string{"Richard (richard)"}},
		{"patient identifier", ukcore(t, richard), "identifier", []string{"https://fhir.nhs.uk/Id/nhs-number|9912003888"}},
		{"patient birthdate", ukcore(t, richard), "birthdate", []string{"1970-09-11T00:00:00Z..1970-09-12T00:00:00Z"}},
		{"patient gender", ukcore(t, richard), "gender", []string{"|male"}},
		{"patient phone", ukcore(t, richard), "phone", []string{"phone|01131231234"}},
		{"patient email absent", ukcore(t, richard), "email", nil},
		{"patient postcode", ukcore(t, richard), "address-postalcode", []string{"LS17 7DF (ls17 7df)"}},
		{"patient address", ukcore(t, richard), "address", []string{"4 Sandmoor Drive (4 sandmoor drive)", "LEEDS (leeds)", "LS17 7DF (ls17 7df)"}},
		{"patient not deceased", ukcore(t, richard), "deceased", []string{"|false"}},
		{"patient _id", ukcore(t, richard), "_id", []string{"|UKCore-Patient-RichardSmith-Example"}},
		{"patient no gp", ukcore(t, richard), "general-practitioner", nil},
		{"gp by relative, absolute and logical reference", []byte(gpPatient), "general-practitioner", []string{
			"Practitioner/gp1",
			"Organization/A1/_history/2 url=https://fhir.example.org/Organization/A1/_history/2",
			"Organization/ id=https://fhir.nhs.uk/Id/ods-organization-code|Y12345",
		}},
		// Ø has no decomposition, so only its case folds; ë and å lose their marks.
		{"name parts, accents removed", []byte(gpPatient), "name", []string{
			"Dr Zoë Ødegård (dr zoe ødegard)", "Ødegård (ødegard)", "Zoë (zoe)", "Anne (anne)", "Dr (dr)",
		}},
		{"email picks its ContactPoint", []byte(gpPatient), "email", []string{"email|zoe@example.org"}},
		{"deceased by date", []byte(gpPatient), "deceased", []string{"|true"}},
		{"death date month", []byte(gpPatient), "death-date", []string{"2024-03-01T00:00:00Z..2024-04-01T00:00:00Z"}},
		{"birth year", []byte(gpPatient), "birthdate", []string{"1950-01-01T00:00:00Z..1951-01-01T00:00:00Z"}},
		{"synthea patient identifier with type", synthea(t, sPatient), "identifier", []string{
			"https://github.com/synthetichealth/synthea|dc9335d0-bbdd-4120-8ae9-baa6604343b6",
			"http://hospital.smarthealthit.org|dc9335d0-bbdd-4120-8ae9-baa6604343b6 text=Medical Record Number type=http://terminology.hl7.org/CodeSystem/v2-0203|MR",
			"http://hl7.org/fhir/sid/us-ssn|999-87-6016 text=Social Security Number type=http://terminology.hl7.org/CodeSystem/v2-0203|SS",
			"urn:oid:2.16.840.1.113883.4.3.25|S99971521 text=Driver's License type=http://terminology.hl7.org/CodeSystem/v2-0203|DL",
		}},
		{"synthea patient name", synthea(t, sPatient), "name", []string{"Armstrong (armstrong)", "Alberto (alberto)", "Mr. (mr.)"}},

		// Observation: CodeableConcept, effective[x], value[x], references, composites.
		{"observation code", ukcore(t, weight), "code", []string{
			"http://snomed.info/sct|27113001 display=Body weight", "http://loinc.org|29463-7 display=Body weight",
		}},
		{"observation category", ukcore(t, weight), "category", []string{
			"http://terminology.hl7.org/CodeSystem/observation-category|vital-signs display=Vital Signs text=Vital Signs",
		}},
		{"observation date", ukcore(t, weight), "date", []string{"2023-08-10T00:00:00Z..2023-08-11T00:00:00Z"}},
		{"observation value-quantity", ukcore(t, weight), "value-quantity", []string{"90 [89.5,90.5] " + ucum + "|kg kilogram"}},
		{"observation value-concept absent", ukcore(t, weight), "value-concept", nil},
		{"observation subject", ukcore(t, weight), "subject", []string{richardRef}},
		{"observation patient", ukcore(t, weight), "patient", []string{richardRef}},
		{"observation performer", ukcore(t, weight), "performer", []string{"Organization/UKCore-Organization-LeedsTeachingHospital-Example"}},
		{"observation code-value-quantity", ukcore(t, weight), "code-value-quantity", []string{
			"code:http://snomed.info/sct|27113001 display=Body weight $ value-quantity:90 [89.5,90.5] " + ucum + "|kg kilogram",
			"code:http://loinc.org|29463-7 display=Body weight $ value-quantity:90 [89.5,90.5] " + ucum + "|kg kilogram",
		}},
		{"observation component values", ukcore(t, bp), "component-value-quantity", []string{
			"142 [141.5,142.5] " + ucum + "|mm[Hg] millimeter of mercury",
			"94 [93.5,94.5] " + ucum + "|mm[Hg] millimeter of mercury",
		}},
		{"synthea observation subject keeps its urn", synthea(t, sObservation), "subject", []string{sPatientURN}},
		{"synthea observation patient needs a type", synthea(t, sObservation), "patient", nil},
		{"synthea observation date", synthea(t, sObservation), "date", []string{"2011-11-21T07:00:48Z..2011-11-21T07:00:49Z"}},
		{"synthea observation value", synthea(t, sObservation), "value-quantity", []string{
			"132.3437750297677 [132.34377502976765,132.34377502976775] " + ucum + "|cm cm",
		}},
		{"synthea observation code", synthea(t, sObservation), "code", []string{"http://loinc.org|8302-2 display=Body Height text=Body Height"}},
		{"synthea observation tag", synthea(t, sObservation), "_tag", []string{"https://smarthealthit.org/tags|synthea-5-2019"}},

		// Encounter: Period, Coding, participant by type.
		{"encounter date is its period", ukcore(t, encounter), "date", []string{"2019-12-10T13:00:00Z..2019-12-11T13:00:01Z"}},
		{"encounter class", ukcore(t, encounter), "class", []string{"http://terminology.hl7.org/CodeSystem/v3-ActCode|IMP display=inpatient encounter"}},
		{"encounter patient", ukcore(t, encounter), "patient", []string{richardRef}},
		{"encounter practitioner", ukcore(t, encounter), "practitioner", []string{"Practitioner/UKCore-Practitioner-ConsultantSandraGose-Example"}},
		{"encounter location", ukcore(t, encounter), "location", []string{"Location/UKCore-Location-CardiologySJUH-Example"}},
		{"synthea encounter period", synthea(t, sEncounter), "date", []string{"2011-11-21T07:00:48Z..2011-11-21T07:30:49Z"}},
		{"synthea encounter subject", synthea(t, sEncounter), "subject", []string{sPatientURN}},

		// Condition: code and onset[x].
		{"condition code", ukcore(t, condition), "code", []string{"http://snomed.info/sct|26322001 display=Bleeding from ear"}},
		{"condition patient", ukcore(t, condition), "patient", []string{richardRef}},
		{"synthea condition code", synthea(t, sCondition), "code", []string{
			"http://snomed.info/sct|444814009 display=Viral sinusitis (disorder) text=Viral sinusitis (disorder)",
		}},
		{"synthea condition onset", synthea(t, sCondition), "onset-date", []string{"2015-04-11T07:00:48Z..2015-04-11T07:00:49Z"}},
		{"synthea condition abatement", synthea(t, sCondition), "abatement-date", []string{"2015-05-02T07:00:48Z..2015-05-02T07:00:49Z"}},
		{"synthea condition clinical status", synthea(t, sCondition), "clinical-status", []string{"http://terminology.hl7.org/CodeSystem/condition-clinical|resolved"}},

		// MedicationRequest: medication[x] split between code and medication.
		{"medication request code", ukcore(t, amox), "code", []string{"https://dmd.nhs.uk|39732411000001106 display=Amoxicillin 500mg capsules"}},
		{"medication request no medication reference", ukcore(t, amox), "medication", nil},
		{"medication request authoredon in ms", ukcore(t, amox), "authoredon", []string{"2023-06-15T15:00:00Z..2023-06-15T15:00:00.001Z"}},
		{"medication request intent", ukcore(t, amox), "intent", []string{"|option"}},
		{"medication request medication reference", ukcore(t, eyeDrops), "medication", []string{"Medication/UKCore-Medication-TimoptolEyeDrops-Example"}},
		{"medication request no code", ukcore(t, eyeDrops), "code", nil},

		// Immunization.
		{"immunization vaccine-code", ukcore(t, flu), "vaccine-code", []string{
			"https://dmd.nhs.uk|11278411000001109 display=Influenza vaccine (split virion, inactivated) suspension for injection 0.5ml pre-filled syringes (Pfizer Ltd)",
		}},
		{"immunization date", ukcore(t, flu), "date", []string{"2013-01-10T00:00:00Z..2013-01-11T00:00:00Z"}},
		{"immunization patient", ukcore(t, flu), "patient", []string{richardRef}},
		{"immunization performer by identifier", ukcore(t, performer), "performer", []string{
			"Practitioner/ id=https://fhir.hl7.org.uk/Id/nmc-number|5566789",
			"Organization/ id=https://fhir.nhs.uk/Id/ods-organization-code|C4B2A",
		}},
		{"synthea immunization vaccine-code", synthea(t, sImmunizaton), "vaccine-code", []string{
			"http://hl7.org/fhir/sid/cvx|140 display=Influenza, seasonal, injectable, preservative free text=Influenza, seasonal, injectable, preservative free",
		}},
		{"synthea immunization patient", synthea(t, sImmunizaton), "patient", []string{sPatientURN}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, _ := head(t, tt.raw)
			_, ok := Lookup(rt, tt.param)
			require.True(t, ok, "%s has no parameter %s", rt, tt.param)
			vals, err := Extract(rt, tt.raw)
			require.NoError(t, err)
			assert.Equal(t, tt.want, shown(vals, tt.param))
		})
	}
}

func TestExtractValueTypes(t *testing.T) {
	vals, err := Extract("Observation", ukcore(t, "UKCore-Observation-VitalSigns-BodyWeight-Example.json"))
	require.NoError(t, err)
	for _, v := range vals {
		p, ok := Lookup("Observation", v.Param)
		require.True(t, ok, v.Param)
		assert.Equal(t, p.Type, v.Type, v.Param)
	}
}

func TestExtractErrors(t *testing.T) {
	tests := []struct {
		name, resourceType, raw string
	}{
		{"unknown type", "Nonsense", `{"resourceType":"Nonsense"}`},
		{"not JSON", "Patient", `{"resourceType":`},
		{"not an object", "Patient", `["Patient"]`},
		{"wrong type", "Patient", `{"resourceType":"Observation"}`},
		{"trailing data", "Patient", `{"resourceType":"Patient"} {}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Extract(tt.resourceType, []byte(tt.raw))
			var fe *fhir.Error
			require.True(t, errors.As(err, &fe), "%v", err)
			assert.Equal(t, fhir.KindInvalid, fe.Kind)
		})
	}
}

// TestExtractAllExamples runs every example through Extract: each must
// decode, and every value must be of its parameter's type and complete.
func TestExtractAllExamples(t *testing.T) {
	raws := syntheaResources(t)
	files, err := filepath.Glob(filepath.Join(ukcoreDir, "*.json"))
	require.NoError(t, err)
	for _, f := range files {
		raws = append(raws, ukcore(t, filepath.Base(f)))
	}
	require.Greater(t, len(raws), 1000)
	for _, raw := range raws {
		rt, id := head(t, raw)
		vals, err := Extract(rt, raw)
		require.NoError(t, err, "%s/%s", rt, id)
		for _, v := range vals {
			p, ok := Lookup(rt, v.Param)
			require.True(t, ok)
			require.Equal(t, p.Type, v.Type)
			require.NotEmpty(t, show(v))
			if v.Type == TypeDate {
				require.True(t, v.Date.Low.Before(v.Date.High), "%s/%s %s: %s", rt, id, v.Param, show(v))
			}
		}
	}
}

func TestDedupe(t *testing.T) {
	// The same coding twice in one CodeableConcept gives one value.
	raw := `{"resourceType":"Observation","code":{"coding":[
		{"system":"http://loinc.org","code":"1-8"},{"system":"http://loinc.org","code":"1-8"}]}}`
	vals, err := Extract("Observation", []byte(raw))
	require.NoError(t, err)
	assert.Equal(t, []string{"http://loinc.org|1-8"}, shown(vals, "code"))
}

func TestCompositeCap(t *testing.T) {
	// 100 codes and one value would be 100 composites; the cap keeps 64.
	raw := `{"resourceType":"Observation","code":{"coding":[`
	for i := range 100 {
		if i > 0 {
			raw += ","
		}
		raw += `{"system":"s","code":"` + string(rune('A'+i%26)) + string(rune('a'+i/26)) + `"}`
	}
	raw += `]},"valueQuantity":{"value":1}}`
	vals, err := Extract("Observation", []byte(raw))
	require.NoError(t, err)
	assert.Len(t, shown(vals, "code"), 100)
	assert.Len(t, shown(vals, "code-value-quantity"), maxCombinations)
}

// TestExtractConcurrent runs Extract from many goroutines, for the race
// detector: the registry is shared and the scratch space pooled.
func TestExtractConcurrent(t *testing.T) {
	raw := ukcore(t, "UKCore-Observation-VitalSigns-BloodPressure-Example.json")
	want, err := Extract("Observation", raw)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				got, err := Extract("Observation", raw)
				assert.NoError(t, err)
				assert.Equal(t, want, got)
			}
		})
	}
	wg.Wait()
}
