package searchparam

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPatientRefs(t *testing.T) {
	const richard = "UKCore-Patient-RichardSmith-Example"
	tests := []struct {
		name, resourceType string
		raw                []byte
		want               []string
	}{
		{"a patient is in its own compartment", "Patient", ukcore(t, richard+".json"), []string{richard}},
		{"and in those of the patients it links to", "Patient",
			[]byte(`{"resourceType":"Patient","id":"a","link":[{"other":{"reference":"Patient/b"},"type":"seealso"},{"other":{"reference":"RelatedPerson/c"}}]}`),
			[]string{"a", "b"}},
		{"observation by subject", "Observation", ukcore(t, "UKCore-Observation-VitalSigns-BodyWeight-Example.json"), []string{richard}},
		{"immunization by patient", "Immunization", ukcore(t, "UKCore-Immunization-InfluenzaVaccine-Example.json"), []string{richard}},
		{"encounter", "Encounter", ukcore(t, "UKCore-Encounter-InpatientEncounter-Example.json"), []string{richard}},
		{"subject and performer, once each", "Observation",
			[]byte(`{"resourceType":"Observation","subject":{"reference":"Patient/a"},"performer":[{"reference":"Patient/b"},{"reference":"Practitioner/x"},{"reference":"Patient/a"}]}`),
			[]string{"a", "b"}},
		{"urn:uuid references are not resolved here", "Observation", synthea(t, "86575039-871b-4223-9abb-439821846191"), nil},
		{"absolute references name another server", "Observation",
			[]byte(`{"resourceType":"Observation","subject":{"reference":"https://other.example/fhir/Patient/a"}}`), nil},
		{"a logical reference has no id", "Observation",
			[]byte(`{"resourceType":"Observation","subject":{"type":"Patient","identifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9912003888"}}}`), nil},
		{"group members", "Group",
			[]byte(`{"resourceType":"Group","member":[{"entity":{"reference":"Patient/a"}},{"entity":{"reference":"Patient/b"}}]}`),
			[]string{"a", "b"}},
		{"outside the compartment", "Organization", ukcore(t, "UKCore-Organization-LeedsTeachingHospital-Example.json"), nil},
		{"invalid JSON", "Observation", []byte(`{`), nil},
		{"wrong type", "Observation", ukcore(t, richard+".json"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, PatientRefs(tt.resourceType, tt.raw))
		})
	}
}

// TestPatientRefsFromValues checks that the write path, which extracts
// once, reaches the same compartments as PatientRefs on every example.
func TestPatientRefsFromValues(t *testing.T) {
	raws := syntheaResources(t)
	for _, name := range []string{
		"UKCore-Patient-RichardSmith-Example.json",
		"UKCore-Observation-VitalSigns-BloodPressure-Example.json",
		"UKCore-CarePlan-WellnessPlan-Example.json",
		"UKCore-Composition-Discharge-Example.json",
		"UKCore-AllergyIntolerance-Amoxicillin-Example.json",
	} {
		raws = append(raws, ukcore(t, name))
	}
	inSome := 0
	for _, raw := range raws {
		rt, id := head(t, raw)
		vals, err := Extract(rt, raw)
		require.NoError(t, err)
		want := PatientRefs(rt, raw)
		assert.Equal(t, want, PatientRefsFromValues(rt, vals), "%s/%s", rt, id)
		if len(want) > 0 {
			inSome++
		}
	}
	assert.Positive(t, inSome)
}
