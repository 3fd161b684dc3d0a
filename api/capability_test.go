package api

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// r4Schema compiles the official R4 JSON schema (draft-06).
func r4Schema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	path, err := filepath.Abs(definitions + "fhir.schema.json")
	require.NoError(t, err)
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft6)
	require.NoError(t, c.AddResource("file://"+filepath.ToSlash(path), doc))
	schema, err := c.Compile("file://" + filepath.ToSlash(path))
	require.NoError(t, err)
	return schema
}

func TestCapabilityStatementMatchesR4Schema(t *testing.T) {
	schema := r4Schema(t)
	tokenOnly := minimalSurface()
	tokenOnly.Security = &Security{TokenURL: "https://auth.example.org/token"}
	noURIs := minimalSurface()
	noURIs.Security = &Security{Description: "Tokens are issued by the operator"}
	tests := []struct {
		name    string
		surface Surface
	}{
		{"every type and search parameter", fullSurface(t)},
		{"minimal", minimalSurface()},
		{"token endpoint only", tokenOnly},
		{"SMART without OAuth URIs", noURIs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := CapabilityStatement(tt.surface)
			require.NoError(t, err)
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			require.NoError(t, err)
			require.NoError(t, schema.Validate(inst))
		})
	}
}

// capability is the part of a CapabilityStatement the tests read back.
type capability struct {
	ResourceType   string   `json:"resourceType"`
	Status         string   `json:"status"`
	Date           string   `json:"date"`
	Kind           string   `json:"kind"`
	FHIRVersion    string   `json:"fhirVersion"`
	Format         []string `json:"format"`
	PatchFormat    []string `json:"patchFormat"`
	Implementation struct {
		Description string `json:"description"`
		URL         string `json:"url"`
	} `json:"implementation"`
	Software struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"software"`
	Rest []struct {
		Mode     string `json:"mode"`
		Security *struct {
			CORS    bool `json:"cors"`
			Service []struct {
				Coding []struct {
					System string `json:"system"`
					Code   string `json:"code"`
				} `json:"coding"`
			} `json:"service"`
			Extension []struct {
				URL       string `json:"url"`
				Extension []struct {
					URL      string `json:"url"`
					ValueURI string `json:"valueUri"`
				} `json:"extension"`
			} `json:"extension"`
		} `json:"security"`
		Interaction []struct {
			Code string `json:"code"`
		} `json:"interaction"`
		SearchParam []searchParam `json:"searchParam"`
		Resource    []struct {
			Type              string `json:"type"`
			Profile           string `json:"profile"`
			ConditionalDelete string `json:"conditionalDelete"`
			Interaction       []struct {
				Code string `json:"code"`
			} `json:"interaction"`
			SearchParam      []searchParam  `json:"searchParam"`
			SearchRevInclude []string       `json:"searchRevInclude"`
			Operation        []operationRef `json:"operation"`
		} `json:"resource"`
	} `json:"rest"`
}

func TestCapabilityStatementContent(t *testing.T) {
	s := fullSurface(t)
	b, err := CapabilityStatement(s)
	require.NoError(t, err)
	var cs capability
	require.NoError(t, json.Unmarshal(b, &cs))

	assert.Equal(t, "CapabilityStatement", cs.ResourceType)
	assert.Equal(t, "active", cs.Status)
	assert.Equal(t, "instance", cs.Kind)
	assert.Equal(t, "2025-03-01T09:30:00Z", cs.Date)
	assert.Equal(t, "4.0.1", cs.FHIRVersion)
	assert.Equal(t, []string{"json", "application/fhir+json"}, cs.Format)
	assert.Equal(t, []string{"application/json-patch+json", "application/fhir+json"}, cs.PatchFormat)
	assert.Equal(t, s.BaseURL, cs.Implementation.URL)
	assert.Equal(t, "Shared care record", cs.Implementation.Description)
	assert.Equal(t, "sharedcare", cs.Software.Name)
	assert.Equal(t, "1.2.3", cs.Software.Version)

	require.Len(t, cs.Rest, 1)
	r := cs.Rest[0]
	assert.Equal(t, "server", r.Mode)
	var system []string
	for _, i := range r.Interaction {
		system = append(system, i.Code)
	}
	assert.Equal(t, s.SystemInteractions, system)
	assert.Len(t, r.SearchParam, len(s.SearchParams))

	require.NotNil(t, r.Security)
	assert.True(t, r.Security.CORS)
	require.Len(t, r.Security.Service, 1)
	require.Len(t, r.Security.Service[0].Coding, 1)
	assert.Equal(t, "http://terminology.hl7.org/CodeSystem/restful-security-service", r.Security.Service[0].Coding[0].System)
	assert.Equal(t, "SMART-on-FHIR", r.Security.Service[0].Coding[0].Code)
	require.Len(t, r.Security.Extension, 1)
	assert.Equal(t, smartOAuthURIs, r.Security.Extension[0].URL)
	uris := map[string]string{}
	for _, e := range r.Security.Extension[0].Extension {
		uris[e.URL] = e.ValueURI
	}
	assert.Equal(t, map[string]string{
		"authorize": "https://auth.example.org/authorize",
		"token":     "https://auth.example.org/token",
	}, uris)

	require.Len(t, r.Resource, len(s.Types))
	for i, res := range r.Resource {
		want := s.Types[i]
		assert.Equal(t, want.Name, res.Type)
		assert.Equal(t, "http://hl7.org/fhir/StructureDefinition/"+want.Name, res.Profile)
		assert.Equal(t, want.ConditionalDelete, res.ConditionalDelete)
		assert.Len(t, res.Interaction, len(want.Interactions), want.Name)
		assert.Len(t, res.SearchParam, len(want.SearchParams), want.Name)
		assert.Equal(t, want.SearchRevInclude, res.SearchRevInclude, want.Name)
		if want.Name == "Patient" {
			// $everything is on both the type and its instances: one entry.
			assert.Equal(t, []operationRef{
				{Name: "everything", Definition: "http://hl7.org/fhir/OperationDefinition/Patient-everything", Documentation: s.Operations[0].Documentation},
				{Name: "summary", Definition: "http://hl7.org/fhir/uv/ips/OperationDefinition/summary", Documentation: "The patient's International Patient Summary document"},
			}, res.Operation)
		} else {
			assert.Empty(t, res.Operation, want.Name)
		}
	}
}

func TestCapabilityStatementOptionalParts(t *testing.T) {
	const base = "http://hl7.org/fhir/StructureDefinition/Patient"
	tests := []struct {
		name        string
		security    *Security
		profile     string
		wantSec     bool
		wantURIs    []string
		wantProfile string
	}{
		{name: "no security", wantProfile: base},
		{name: "SMART, no URIs", security: &Security{}, wantSec: true, wantProfile: base},
		{name: "token URI only", security: &Security{TokenURL: "https://a/token"}, wantSec: true,
			wantURIs: []string{"token"}, wantProfile: base},
		{name: "own profile", profile: "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient",
			wantProfile: "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := minimalSurface()
			s.Security = tt.security
			s.Types[0].Profile = tt.profile
			b, err := CapabilityStatement(s)
			require.NoError(t, err)
			var cs capability
			require.NoError(t, json.Unmarshal(b, &cs))
			assert.Equal(t, "sharedcare", cs.Implementation.Description, "the software name stands in for a description")
			assert.Equal(t, tt.wantProfile, cs.Rest[0].Resource[0].Profile)
			if !tt.wantSec {
				assert.Nil(t, cs.Rest[0].Security)
				return
			}
			require.NotNil(t, cs.Rest[0].Security)
			var uris []string
			for _, e := range cs.Rest[0].Security.Extension {
				for _, u := range e.Extension {
					uris = append(uris, u.URL)
				}
			}
			assert.Equal(t, tt.wantURIs, uris)
			// FHIR JSON has no empty arrays.
			assert.NotContains(t, string(b), "[]")
		})
	}
}
