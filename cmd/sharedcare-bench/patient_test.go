package main

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidNHSNumber(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"9434765919", true},  // the NHS's published example
		{"4010232137", true},  // check digit 7
		{"9990000050", true},  // 11 - 0 = 11 becomes check digit 0
		{"9990000018", true},  // check digit 8
		{"9434765918", false}, // wrong check digit
		{"9990000000", false}, // remainder gives 10: no valid check digit
		{"9990000001", false}, // nor any other digit for that stem
		{"943476591", false},  // too short
		{"94347659190", false},
		{"943476591X", false},
		{"943 476 5919", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, validNHSNumber(tt.in), tt.in)
	}
}

func TestNewNHSNumber(t *testing.T) {
	seen := map[string]bool{}
	for range 10000 {
		n := newNHSNumber()
		require.True(t, validNHSNumber(n), n)
		require.True(t, strings.HasPrefix(n, "999"), "test range: %s", n)
		require.False(t, seen[n], "repeated %s", n)
		seen[n] = true
	}
}

func TestPatientJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	bodies := map[string]bool{}
	for range 500 {
		b := patientJSON(rng)
		bodies[string(b)] = true
		var p struct {
			ResourceType string `json:"resourceType"`
			Identifier   []struct{ System, Value string }
			Name         []struct {
				Family string
				Given  []string
			}
			Gender              string
			BirthDate           string
			Address             []struct{ PostalCode string }
			GeneralPractitioner []struct {
				Type       string
				Identifier struct{ System, Value string }
			}
		}
		require.NoError(t, json.Unmarshal(b, &p), string(b))
		assert.Equal(t, "Patient", p.ResourceType)
		require.Len(t, p.Identifier, 1)
		assert.Equal(t, nhsNumberSystem, p.Identifier[0].System)
		assert.True(t, validNHSNumber(p.Identifier[0].Value))
		require.Len(t, p.Name, 1)
		assert.NotEmpty(t, p.Name[0].Family)
		assert.NotEmpty(t, p.Name[0].Given)
		assert.Contains(t, []string{"male", "female", "other", "unknown"}, p.Gender)
		d, err := time.Parse(time.DateOnly, p.BirthDate)
		require.NoError(t, err)
		assert.True(t, d.Year() >= 1920 && d.Year() <= 2024, p.BirthDate)
		require.Len(t, p.Address, 1)
		assert.Regexp(t, `^[A-Z]{1,2}[0-9]{1,2} [0-9][A-Z]{2}$`, p.Address[0].PostalCode)
		require.Len(t, p.GeneralPractitioner, 1)
		assert.Equal(t, "Organization", p.GeneralPractitioner[0].Type)
		assert.Equal(t, odsOrganizationSystem, p.GeneralPractitioner[0].Identifier.System)
		assert.Regexp(t, `^[A-Z][0-9]{5}$`, p.GeneralPractitioner[0].Identifier.Value)
	}
	assert.Len(t, bodies, 500)
}

func TestPatientIDFromLocation(t *testing.T) {
	id, err := patientIDFromLocation("http://localhost:8080/fhir/Patient/abc-123/_history/1")
	require.NoError(t, err)
	assert.Equal(t, "abc-123", id)
	id, err = patientIDFromLocation("Patient/xyz")
	require.Error(t, err, "a relative Location without a leading slash is not the contract")
	assert.Empty(t, id)
	_, err = patientIDFromLocation("")
	require.Error(t, err)
	_, err = patientIDFromLocation("http://h/fhir/Patient//_history/1")
	require.Error(t, err)
}

func TestParseVmRSS(t *testing.T) {
	status := "Name:\tsharedcare\nVmPeak:\t  900000 kB\nVmRSS:\t   51234 kB\nRssAnon:\t 40000 kB\n"
	v, err := parseVmRSS([]byte(status))
	require.NoError(t, err)
	assert.Equal(t, int64(51234), v)
	_, err = parseVmRSS([]byte("Name:\tkthreadd\n"))
	require.Error(t, err)
}
