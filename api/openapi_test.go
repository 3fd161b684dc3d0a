package api

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenAPIIsValid(t *testing.T) {
	noSecurity := fullSurface(t)
	noSecurity.Security = nil
	bearerOnly := minimalSurface()
	bearerOnly.Security = &Security{Description: "Ask the operator for a token"}
	systemOp := minimalSurface()
	systemOp.Operations = []Operation{
		{Name: "convert", Definition: "http://hl7.org/fhir/OperationDefinition/Resource-convert"},
		{Name: "meta-add", Type: "Patient", Instance: true, AffectsState: true,
			Definition: "http://hl7.org/fhir/OperationDefinition/Resource-meta-add"},
	}
	tests := []struct {
		name    string
		surface Surface
	}{
		{"every type and search parameter", fullSurface(t)},
		{"no security", noSecurity},
		{"bearer only", bearerOnly},
		{"minimal", minimalSurface()},
		{"system and state-changing operations", systemOp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := OpenAPI(tt.surface)
			require.NoError(t, err)
			loader := openapi3.NewLoader()
			doc, err := loader.LoadFromData(b)
			require.NoError(t, err)
			require.NoError(t, doc.Validate(loader.Context))
		})
	}
}

// endpoint is one operation with the parameters of its path item added,
// which apply to it as much as its own.
type endpoint struct {
	*openapi3.Operation
	params openapi3.Parameters
}

// openAPIOperations lists every operation of doc by method and path.
func openAPIOperations(t *testing.T, b []byte) (*openapi3.T, map[string]endpoint) {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(b)
	require.NoError(t, err)
	ops := make(map[string]endpoint)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops[method+" "+path] = endpoint{op, append(slices.Clone(item.Parameters), op.Parameters...)}
		}
	}
	return doc, ops
}

// paramNames lists the names of e's parameters that are in the given place.
func paramNames(e endpoint, in string) map[string]bool {
	names := make(map[string]bool)
	for _, p := range e.params {
		if p.Value.In == in {
			names[p.Value.Name] = true
		}
	}
	return names
}

func TestOpenAPIDescribesEveryInteraction(t *testing.T) {
	s := fullSurface(t)
	b, err := OpenAPI(s)
	require.NoError(t, err)
	doc, ops := openAPIOperations(t, b)

	require.Len(t, doc.Servers, 1)
	assert.Equal(t, s.BaseURL, doc.Servers[0].URL)
	assert.Equal(t, "3.0.3", doc.OpenAPI)
	assert.Equal(t, "1.2.3", doc.Info.Version)

	ids := make(map[string]string)
	for key, op := range ops {
		other, dup := ids[op.OperationID]
		require.False(t, dup, "operationId %s is on %s and %s", op.OperationID, key, other)
		ids[op.OperationID] = key
	}

	for _, ty := range s.Types {
		name := ty.Name
		require.NotNil(t, doc.Tags.Get(name), name)
		require.Contains(t, doc.Components.Schemas, name)

		want := map[string]string{
			"read":             "GET /" + name + "/{id}",
			"vread":            "GET /" + name + "/{id}/_history/{vid}",
			"update":           "PUT /" + name + "/{id}",
			"patch":            "PATCH /" + name + "/{id}",
			"delete":           "DELETE /" + name + "/{id}",
			"history-instance": "GET /" + name + "/{id}/_history",
			"history-type":     "GET /" + name + "/_history",
			"create":           "POST /" + name,
			"search-type":      "GET /" + name,
		}
		for code, key := range want {
			supported := false
			for _, c := range ty.Interactions {
				supported = supported || c == code
			}
			op, present := ops[key]
			require.Equal(t, supported, present, "%s %s", name, code)
			if present {
				assert.Equal(t, []string{name}, op.Tags, key)
			}
		}

		search := ops["GET /"+name]
		params := paramNames(search, "query")
		for _, p := range ty.SearchParams {
			assert.True(t, params[p.Name], "%s search lacks %s", name, p.Name)
		}
		for _, common := range []string{"_format", "_pretty", "_summary", "_elements", "_count", "_sort"} {
			assert.True(t, params[common], "%s search lacks %s", name, common)
		}
		assert.Equal(t, len(ty.SearchInclude) > 0, params["_include"], name)
		assert.Equal(t, len(ty.SearchRevInclude) > 0, params["_revinclude"], name)
	}

	system := []string{"GET /metadata", "GET /_history", "GET /", "POST /",
		"GET /Patient/{id}/$everything", "POST /Patient/{id}/$everything",
		"GET /Patient/$everything", "POST /Patient/$everything", "GET /Patient/{id}/$summary"}
	for _, key := range system {
		assert.Contains(t, ops, key)
	}
	assert.Equal(t, "batchOrTransaction", ops["POST /"].OperationID)
	assert.Equal(t, "readPatient", ops["GET /Patient/{id}"].OperationID)
	assert.Equal(t, "everythingPatientInstance", ops["GET /Patient/{id}/$everything"].OperationID)
	everything := paramNames(ops["GET /Patient/{id}/$everything"], "query")
	for _, p := range []string{"start", "end", "_since", "_type", "_count"} {
		assert.True(t, everything[p], "$everything lacks %s", p)
	}
	systemSearch := paramNames(ops["GET /"], "query")
	for _, p := range s.SearchParams {
		assert.True(t, systemSearch[p.Name], "system search lacks %s", p.Name)
	}
	assert.True(t, systemSearch["_type"])

	// The CapabilityStatement is public; everything else needs a token.
	require.NotNil(t, ops["GET /metadata"].Security)
	assert.Empty(t, *ops["GET /metadata"].Security)
	assert.Len(t, doc.Security, 2)
	smart := doc.Components.SecuritySchemes["smart"].Value
	assert.Equal(t, "https://auth.example.org/token", smart.Flows.ClientCredentials.TokenURL)
	assert.Equal(t, "https://auth.example.org/authorize", smart.Flows.AuthorizationCode.AuthorizationURL)
	assert.Equal(t, "JWT", doc.Components.SecuritySchemes["bearer"].Value.BearerFormat)
}

func TestOpenAPIInteractionDetails(t *testing.T) {
	b, err := OpenAPI(fullSurface(t))
	require.NoError(t, err)
	_, ops := openAPIOperations(t, b)

	tests := []struct {
		key         string
		bodyTypes   []string
		statuses    []string
		headers     map[string][]string // status -> response headers
		headerParam []string
	}{
		{key: "POST /Patient", bodyTypes: []string{"application/fhir+json"},
			statuses: []string{"200", "201", "400", "401", "403", "412", "413", "415", "422"},
			headers:  map[string][]string{"201": {"ETag", "Last-Modified", "Location"}}, headerParam: []string{"If-None-Exist", "Prefer"}},
		{key: "GET /Patient/{id}", statuses: []string{"200", "304", "401", "403", "404", "410"},
			headers: map[string][]string{"200": {"ETag", "Last-Modified"}}, headerParam: []string{"If-Modified-Since", "If-None-Match"}},
		{key: "PUT /Patient/{id}", bodyTypes: []string{"application/fhir+json"},
			statuses:    []string{"200", "201", "400", "401", "403", "404", "409", "412", "413", "415", "422"},
			headerParam: []string{"If-Match", "Prefer"}},
		{key: "PATCH /Patient/{id}", bodyTypes: []string{"application/fhir+json", "application/json-patch+json"},
			statuses:    []string{"200", "400", "401", "403", "404", "409", "412", "413", "415", "422"},
			headerParam: []string{"If-Match", "Prefer"}},
		{key: "DELETE /Patient/{id}", statuses: []string{"204", "401", "403", "409", "412"}, headerParam: []string{"If-Match"}},
		{key: "PUT /Patient", bodyTypes: []string{"application/fhir+json"},
			statuses:    []string{"200", "201", "400", "401", "403", "412", "413", "415", "422"},
			headerParam: []string{"Prefer"}},
		{key: "DELETE /Patient", statuses: []string{"204", "400", "401", "403", "412"}},
		{key: "POST /", bodyTypes: []string{"application/fhir+json"},
			statuses:    []string{"200", "400", "401", "403", "409", "412", "413", "415", "422"},
			headerParam: []string{"Prefer"}},
		{key: "GET /metadata", statuses: []string{"200"}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			op, ok := ops[tt.key]
			require.True(t, ok)
			var bodyTypes []string
			if op.RequestBody != nil {
				for ct := range op.RequestBody.Value.Content {
					bodyTypes = append(bodyTypes, ct)
				}
			}
			assert.ElementsMatch(t, tt.bodyTypes, bodyTypes)
			var statuses []string
			for status := range op.Responses.Map() {
				statuses = append(statuses, status)
			}
			assert.ElementsMatch(t, tt.statuses, statuses)
			for status, r := range op.Responses.Map() {
				if strings.HasPrefix(status, "4") {
					schema := r.Value.Content.Get("application/fhir+json").Schema
					assert.Equal(t, "#/components/schemas/OperationOutcome", schema.Ref, status)
				}
			}
			for status, want := range tt.headers {
				var got []string
				for h := range op.Responses.Value(status).Value.Headers {
					got = append(got, h)
				}
				assert.ElementsMatch(t, want, got, status)
			}
			assert.Equal(t, set(tt.headerParam...), paramNames(op, "header"))
			assert.True(t, paramNames(op, "query")["_format"], "_format")
		})
	}
}

func TestOpenAPIWithoutSecurityHasNoAuthErrors(t *testing.T) {
	b, err := OpenAPI(minimalSurface())
	require.NoError(t, err)
	doc, ops := openAPIOperations(t, b)
	assert.Empty(t, doc.Security)
	assert.Empty(t, doc.Components.SecuritySchemes)
	statuses := ops["GET /Patient/{id}"].Responses.Map()
	assert.NotContains(t, statuses, "401")
	assert.NotContains(t, statuses, "403")
	assert.Contains(t, statuses, "404")
}

func TestOpenAPISharesSearchParameters(t *testing.T) {
	s := minimalSurface()
	patient := SearchParam{Name: "patient", Type: "reference",
		Definition: "http://hl7.org/fhir/SearchParameter/clinical-patient", Documentation: "Who it is about"}
	custom := patient
	custom.Documentation = "Who it is about, in this server's words"
	s.Types = []Type{
		{Name: "Observation", Interactions: []string{"search-type"}, SearchParams: []SearchParam{patient}},
		{Name: "Condition", Interactions: []string{"search-type"}, SearchParams: []SearchParam{patient}},
		{Name: "Procedure", Interactions: []string{"search-type"}, SearchParams: []SearchParam{custom}},
	}
	b, err := OpenAPI(s)
	require.NoError(t, err)
	_, ops := openAPIOperations(t, b)
	last := func(path string) string {
		params := ops["GET "+path].Parameters
		return params[len(params)-1].Ref
	}
	assert.Equal(t, "#/components/parameters/search.clinical-patient", last("/Observation"))
	assert.Equal(t, "#/components/parameters/search.clinical-patient", last("/Condition"))
	assert.Equal(t, "#/components/parameters/search.clinical-patient.2", last("/Procedure"))
}

func TestDocumentSizeAndTime(t *testing.T) {
	s := fullSurface(t)
	start := time.Now()
	cs, err := CapabilityStatement(s)
	require.NoError(t, err)
	oa, err := OpenAPI(s)
	require.NoError(t, err)
	elapsed := time.Since(start)
	t.Logf("%d types: CapabilityStatement %d bytes, OpenAPI %d bytes, rendered in %v", len(s.Types), len(cs), len(oa), elapsed)
	// Served on every visit to the API docs: keep it quick to fetch and parse.
	assert.Less(t, len(oa), 3<<20)
}

func BenchmarkCapabilityStatement(b *testing.B) {
	s := fullSurface(b)
	for b.Loop() {
		_, err := CapabilityStatement(s)
		require.NoError(b, err)
	}
}

func BenchmarkOpenAPI(b *testing.B) {
	s := fullSurface(b)
	for b.Loop() {
		_, err := OpenAPI(s)
		require.NoError(b, err)
	}
}
