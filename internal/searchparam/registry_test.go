package searchparam

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/fhir/r4"
)

func TestRegistrySize(t *testing.T) {
	assert.Len(t, definitions, 1375)
	total := 0
	for _, rt := range r4.ResourceTypes {
		ps := ForType(rt)
		require.NotEmpty(t, ps, rt)
		total += len(ps)
	}
	assert.Len(t, reg.sorted, len(r4.ResourceTypes), "every resource type and nothing else")
	assert.Equal(t, 3008, total)
}

func TestForTypeSorted(t *testing.T) {
	for _, rt := range r4.ResourceTypes {
		ps := ForType(rt)
		assert.True(t, sort.SliceIsSorted(ps, func(i, j int) bool { return ps[i].Code < ps[j].Code }), rt)
	}
	assert.Nil(t, ForType("Nonsense"))
}

func TestResourceLevelParams(t *testing.T) {
	for _, rt := range r4.ResourceTypes {
		for _, code := range []string{"_id", "_lastUpdated", "_tag", "_profile", "_security", "_source"} {
			p, ok := Lookup(rt, code)
			require.True(t, ok, "%s %s", rt, code)
			assert.True(t, p.Indexed(), "%s %s", rt, code)
		}
		_, hasText := Lookup(rt, "_text")
		assert.Equal(t, !notDomainResources[rt], hasText, "_text is on DomainResources only: %s", rt)
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		resourceType, code string
		typ                Type
		expression         string
		description        string
		targets            []string
	}{
		{"Patient", "birthdate", TypeDate, "Patient.birthDate", "The patient's date of birth", nil},
		{"Patient", "_lastUpdated", TypeDate, "Resource.meta.lastUpdated", "When the resource version last changed", nil},
		// A multi-resource parameter keeps its own part of the expression and of the description.
		{"Observation", "patient", TypeReference, "Observation.subject.where(resolve() is Patient)",
			"The subject that the observation is about (if patient)", []string{"Patient", "Group"}},
		{"AllergyIntolerance", "patient", TypeReference, "AllergyIntolerance.patient", "Who the sensitivity is for", []string{"Patient", "Group"}},
		{"Condition", "onset-date", TypeDate, "Condition.onset.as(dateTime) | Condition.onset.as(Period)", "Date related onsets (dateTime and Period)", nil},
		{"Observation", "value-quantity", TypeQuantity, "(Observation.value as Quantity) | (Observation.value as SampledData)",
			"The value of the observation, if the value is a Quantity, or a SampledData (just search on the bounds of the values in sampled data)", nil},
		// A single-type expression is kept whole, even when it is relative.
		{"InsurancePlan", "name", TypeString, "name | alias", "A portion of the organization's name or alias", nil},
	}
	for _, tt := range tests {
		t.Run(tt.resourceType+"."+tt.code, func(t *testing.T) {
			p, ok := Lookup(tt.resourceType, tt.code)
			require.True(t, ok)
			assert.Equal(t, tt.code, p.Code)
			assert.Equal(t, tt.typ, p.Type)
			assert.Equal(t, tt.expression, p.Expression)
			assert.Equal(t, tt.description, p.Description)
			assert.Equal(t, tt.targets, p.Targets)
			assert.True(t, p.Indexed())
			assert.Contains(t, p.URL, "http://hl7.org/fhir/SearchParameter/")
		})
	}
	_, ok := Lookup("Patient", "nonsense")
	assert.False(t, ok)
	_, ok = Lookup("Nonsense", "_id")
	assert.False(t, ok)
}

func TestCompositeComponents(t *testing.T) {
	p, ok := Lookup("Observation", "code-value-quantity")
	require.True(t, ok)
	assert.Equal(t, TypeComposite, p.Type)
	assert.Equal(t, []Component{
		{Code: "code", Type: TypeToken, URL: "http://hl7.org/fhir/SearchParameter/clinical-code", Expression: "code"},
		{Code: "value-quantity", Type: TypeQuantity, URL: "http://hl7.org/fhir/SearchParameter/Observation-value-quantity", Expression: "value.as(Quantity)"},
	}, p.Components)

	// The official definition swaps the components' definitions; gen
	// pairs each expression with the definition of its type.
	p, ok = Lookup("DocumentReference", "relationship")
	require.True(t, ok)
	assert.Equal(t, []Component{
		{Code: "relation", Type: TypeToken, URL: "http://hl7.org/fhir/SearchParameter/DocumentReference-relation", Expression: "code"},
		{Code: "relatesto", Type: TypeReference, URL: "http://hl7.org/fhir/SearchParameter/DocumentReference-relatesto", Expression: "target"},
	}, p.Components)
}

// TestUnsupported documents the official parameters that Extract gives no
// values for, and why.
func TestUnsupported(t *testing.T) {
	want := map[string]string{
		// No expression: full-text search and named queries are not index lookups.
		"http://hl7.org/fhir/SearchParameter/DomainResource-text": "no expression",
		"http://hl7.org/fhir/SearchParameter/Resource-content":    "no expression",
		"http://hl7.org/fhir/SearchParameter/Resource-query":      "no expression",
		// Bundle.entry[0].resource is a resource inside the bundle, not a reference.
		"http://hl7.org/fhir/SearchParameter/Bundle-composition": "unsupported FHIRPath: Bundle.entry[0]",
		"http://hl7.org/fhir/SearchParameter/Bundle-message":     "unsupported FHIRPath: Bundle.entry[0]",
		// Geographic distance needs its own index.
		"http://hl7.org/fhir/SearchParameter/Location-near": "special parameters are not extracted",
	}
	got := map[string]string{}
	for _, ps := range reg.sorted {
		for _, p := range ps {
			if !p.Indexed() {
				require.Error(t, p.err)
				got[p.URL] = p.err.Error()
			}
		}
	}
	assert.Equal(t, want, got)
}

func TestPatientCompartmentParamsExist(t *testing.T) {
	for rt, codes := range r4.PatientCompartment {
		for _, code := range codes {
			p, ok := Lookup(rt, code)
			require.True(t, ok, "%s %s", rt, code)
			assert.Equal(t, TypeReference, p.Type, "%s %s", rt, code)
		}
		assert.Len(t, reg.compartment[rt], len(codes), rt)
	}
}
