package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGeneratedUpToDate fails when registry_gen.go was edited by hand or
// not regenerated after a change to gen or to search-parameters.json.
func TestGeneratedUpToDate(t *testing.T) {
	raw, err := os.ReadFile("../search-parameters.json")
	require.NoError(t, err)
	want, err := generate(raw)
	require.NoError(t, err)
	got, err := os.ReadFile("../registry_gen.go")
	require.NoError(t, err)
	assert.True(t, string(want) == string(got), "registry_gen.go is stale: run go generate ./internal/searchparam")
}

func TestSplitUnion(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"Patient.name", []string{"Patient.name"}},
		{"A.b | C.d", []string{"A.b", "C.d"}},
		{"(A.b as Quantity) | (A.b as Range)", []string{"(A.b as Quantity)", "(A.b as Range)"}},
		{"A.b.where(c = 'x | y') | D.e", []string{"A.b.where(c = 'x | y')", "D.e"}},
		{"A.b.where((c | d).exists()) | E", []string{"A.b.where((c | d).exists())", "E"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, splitUnion(tt.in))
		})
	}
}

func TestRoot(t *testing.T) {
	tests := map[string]string{
		"Patient.name":                                "Patient",
		"(Observation.value as Quantity)":             "Observation",
		"Observation":                                 "Observation",
		"Condition.onset.as(Age)":                     "Condition",
		"( Goal.target.due as date)":                  "Goal",
		"Account.subject.where(resolve() is Patient)": "Account",
	}
	for in, want := range tests {
		assert.Equal(t, want, root(in), in)
	}
}

func TestSplitDescription(t *testing.T) {
	d := "Multiple Resources: \r\n\r\n* [AllergyIntolerance](allergyintolerance.html): Who the sensitivity is for\r\n* [CarePlan](careplan.html): Who the care plan is for\r\n"
	assert.Equal(t, map[string]string{
		"AllergyIntolerance": "Who the sensitivity is for",
		"CarePlan":           "Who the care plan is for",
	}, splitDescription(d))
	assert.Empty(t, splitDescription("The patient's date of birth"))
}

func TestChoiceNames(t *testing.T) {
	byURL := map[string]searchParameter{
		"u/value": {XPath: "f:Observation/f:valueQuantity | f:Observation/f:valueString"},
	}
	sp := searchParameter{
		XPath: "f:Observation/f:effectiveDateTime | f:Observation/f:code",
		Component: []struct {
			Definition string `json:"definition"`
			Expression string `json:"expression"`
		}{{Definition: "u/value", Expression: "value"}},
	}
	assert.Equal(t, []string{"effectiveDateTime", "valueQuantity", "valueString"}, choiceNames(sp, byURL))
}
