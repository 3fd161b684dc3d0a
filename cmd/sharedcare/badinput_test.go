package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Bad input gets a clear OperationOutcome with the right status and writes nothing.
func TestBadInput(t *testing.T) { forStores(t, testBadInput) }

func testBadInput(t *testing.T) {
	ts := startServer(t, map[string]string{})
	ok := ts.do("PUT", "Patient/p1", `{"resourceType":"Patient","id":"p1"}`)
	require.Equal(t, http.StatusCreated, ok.StatusCode)

	deep := strings.Repeat(`{"extension":[`, 5000) + strings.Repeat(`]}`, 5000)
	cases := []struct {
		name    string
		method  string
		path    string
		body    string
		headers []string
		status  int
	}{
		{"malformed JSON", "POST", "Patient", `{"resourceType":"Patient",`, nil, 400},
		{"invalid UTF-8", "POST", "Patient", "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"\xff\xfe\"}]}", nil, 400},
		{"empty body", "POST", "Patient", ``, nil, 400},
		{"not an object", "POST", "Patient", `[1,2]`, nil, 400},
		{"deeply nested", "POST", "Patient", `{"resourceType":"Patient","extension":[` + deep + `]}`, nil, 400},
		{"type mismatch", "POST", "Patient", `{"resourceType":"Observation","status":"final","code":{"text":"x"}}`, nil, 400},
		{"unknown resourceType", "POST", "Patient", `{"resourceType":"Patient2"}`, nil, 400},
		{"XML body", "POST", "Patient", `<Patient xmlns="http://hl7.org/fhir"/>`, []string{"Content-Type", "application/fhir+xml"}, 415},
		{"form body", "POST", "Patient", `a=b`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415},
		{"XML wanted", "GET", "Patient/p1", ``, []string{"Accept", "application/fhir+xml"}, 406},
		{"_format=xml", "GET", "Patient/p1?_format=xml", ``, nil, 406},
		{"unknown type", "GET", "Patients/p1", ``, nil, 404},
		{"unknown type create", "POST", "Foo", `{"resourceType":"Foo"}`, nil, 404},
		{"wrong method", "POST", "Patient/p1", patientJSON("X"), nil, 405},
		{"bad id", "GET", "Patient/" + strings.Repeat("a", 65), ``, nil, 400},
		{"bad id chars", "PUT", "Patient/a_b", `{"resourceType":"Patient","id":"a_b"}`, nil, 400},
		{"body id differs", "PUT", "Patient/p1", `{"resourceType":"Patient","id":"p2"}`, nil, 400},
		{"body id missing", "PUT", "Patient/p1", `{"resourceType":"Patient"}`, nil, 400},
		{"If-Match garbage", "PUT", "Patient/p1", `{"resourceType":"Patient","id":"p1"}`, []string{"If-Match", "nonsense"}, 400},
		{"PATCH wrong media type", "PATCH", "Patient/p1", `x`, []string{"Content-Type", "text/plain"}, 415},
		{"bad _count", "GET", "Patient/_history?_count=-1", ``, nil, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			requireOutcome(t, ts.do(c.method, c.path, c.body, c.headers...), c.status)
		})
	}
	// Nothing above wrote anything.
	h := ts.do("GET", "_history", nil).JSON(t)
	require.EqualValues(t, 1, h["total"], "%v", h)
}

func TestBodyLimit(t *testing.T) { forStores(t, testBodyLimit) }

func testBodyLimit(t *testing.T) {
	ts := startServer(t, nil)
	big := `{"resourceType":"Patient","name":[{"family":"` + strings.Repeat("x", 17<<20) + `"}]}`
	requireOutcome(t, ts.do("POST", "Patient", big), http.StatusRequestEntityTooLarge)
}
