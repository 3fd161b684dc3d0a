package api

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/fhir/r4"
)

// definitions is where the official R4 definitions live: shared/ is a
// sibling of the repository.
const definitions = "../../shared/fhir/r4-definitions/"

// officialParam is the part of a SearchParameter the fixture reads.
type officialParam struct {
	URL         string   `json:"url"`
	Code        string   `json:"code"`
	Base        []string `json:"base"`
	Type        string   `json:"type"`
	Description string   `json:"description"`
	Target      []string `json:"target"`
}

var loadOfficialParams = sync.OnceValues(func() ([]officialParam, error) {
	raw, err := os.ReadFile(definitions + "search-parameters.json")
	if err != nil {
		return nil, err
	}
	var bundle struct {
		Entry []struct {
			Resource officialParam `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &bundle); err != nil {
		return nil, err
	}
	out := make([]officialParam, len(bundle.Entry))
	for i, e := range bundle.Entry {
		out[i] = e.Resource
	}
	return out, nil
})

// fullSurface is the surface of a server that supports every R4 type with
// every official search parameter, as sharedcare does: the worst case for
// the documents' size and the time to render them.
func fullSurface(t testing.TB) Surface {
	t.Helper()
	params, err := loadOfficialParams()
	require.NoError(t, err)

	appliesTo := func(p officialParam, typ string) bool {
		notDomain := typ == "Bundle" || typ == "Binary" || typ == "Parameters"
		return slices.Contains(p.Base, typ) || slices.Contains(p.Base, "Resource") ||
			(slices.Contains(p.Base, "DomainResource") && !notDomain)
	}
	toParam := func(p officialParam) SearchParam {
		return SearchParam{Name: p.Code, Type: p.Type, Definition: p.URL, Documentation: p.Description}
	}

	revIncludes := make(map[string][]string)
	for _, typ := range r4.ResourceTypes {
		for _, p := range params {
			if p.Type == "reference" && slices.Contains(p.Base, typ) {
				for _, target := range p.Target {
					revIncludes[target] = append(revIncludes[target], typ+":"+p.Code)
				}
			}
		}
	}

	s := Surface{
		BaseURL:            "https://care.example.org/fhir",
		Software:           "sharedcare",
		Version:            "1.2.3",
		Description:        "Shared care record",
		Date:               time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC),
		SystemInteractions: []string{"transaction", "batch", "search-system", "history-system"},
		Security: &Security{
			Description:  "Bearer tokens from the regional authorization server (SMART backend services).",
			CORS:         true,
			AuthorizeURL: "https://auth.example.org/authorize",
			TokenURL:     "https://auth.example.org/token",
			Scopes: map[string]string{
				"system/*.rs": "Read and search every type",
				"user/*.rs":   "Read and search what the user may see",
			},
		},
	}
	for _, p := range params {
		if slices.Contains(p.Base, "Resource") {
			s.SearchParams = append(s.SearchParams, toParam(p))
		}
	}
	for _, typ := range r4.ResourceTypes {
		ty := Type{
			Name:              typ,
			Interactions:      []string{"read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type"},
			Versioning:        "versioned-update",
			ReadHistory:       true,
			UpdateCreate:      true,
			ConditionalCreate: true,
			ConditionalUpdate: true,
			ConditionalRead:   "full-support",
			ConditionalDelete: "single",
			SearchRevInclude:  revIncludes[typ],
		}
		if typ == "AuditEvent" {
			// Written by the server only, as in internal/rest.
			ty.Interactions = []string{"read", "vread", "history-instance", "history-type", "search-type"}
			ty.ConditionalUpdate, ty.ConditionalCreate, ty.ConditionalDelete = false, false, "not-supported"
		}
		for _, p := range params {
			if appliesTo(p, typ) {
				ty.SearchParams = append(ty.SearchParams, toParam(p))
				if p.Type == "reference" && slices.Contains(p.Base, typ) {
					ty.SearchInclude = append(ty.SearchInclude, typ+":"+p.Code)
				}
			}
		}
		slices.SortFunc(ty.SearchParams, func(a, b SearchParam) int { return strings.Compare(a.Name, b.Name) })
		s.Types = append(s.Types, ty)
	}
	everything := patientEverything(t)
	typeLevel := everything
	typeLevel.Instance = false
	s.Operations = []Operation{everything, typeLevel, {
		Name:          "summary",
		Type:          "Patient",
		Instance:      true,
		Definition:    "http://hl7.org/fhir/uv/ips/OperationDefinition/summary",
		Documentation: "The patient's International Patient Summary document",
		Returns:       "Bundle",
	}}
	return s
}

// patientEverything reads the official $everything definition.
func patientEverything(t testing.TB) Operation {
	t.Helper()
	raw, err := os.ReadFile(definitions + "operationdefinitions/OperationDefinition-Patient-everything.json")
	require.NoError(t, err)
	var def struct {
		URL          string `json:"url"`
		Code         string `json:"code"`
		Description  string `json:"description"`
		AffectsState bool   `json:"affectsState"`
		Parameter    []struct {
			Name          string `json:"name"`
			Use           string `json:"use"`
			Type          string `json:"type"`
			Documentation string `json:"documentation"`
		} `json:"parameter"`
	}
	require.NoError(t, json.Unmarshal(raw, &def))
	op := Operation{
		Name:          def.Code,
		Type:          "Patient",
		Instance:      true,
		Definition:    def.URL,
		Documentation: def.Description,
		AffectsState:  def.AffectsState,
		Returns:       "Bundle",
	}
	for _, p := range def.Parameter {
		if p.Use == "in" {
			op.Parameters = append(op.Parameters, OperationParam{Name: p.Name, Type: p.Type, Documentation: p.Documentation})
		}
	}
	return op
}

// minimalSurface is the least a valid surface holds: one type, no security.
func minimalSurface() Surface {
	return Surface{
		BaseURL:  "http://localhost:8080/fhir",
		Software: "sharedcare",
		Version:  "dev",
		Date:     time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Types:    []Type{{Name: "Patient", Interactions: []string{"read"}}},
	}
}
