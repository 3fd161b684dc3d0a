package rest

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bundle.encode writes the JSON json.Marshal writes, the resources as they
// were given (json.Marshal would escape <, > and & in them, as a read,
// which serves the stored bytes, does not).
func TestBundleEncodeIsMarshal(t *testing.T) {
	total := 2
	for _, b := range []bundle{
		{ResourceType: "Bundle", Type: "searchset"},
		{ResourceType: "Bundle", ID: "b1", Meta: &bundleMeta{LastUpdated: "2026-11-24T00:00:00Z"}, Type: "searchset", Total: &total,
			Link: []bundleLink{{Relation: "self", URL: "http://x/fhir/Patient?a=<b>&c"}},
			Entry: []bundleEntry{
				{FullURL: "http://x/fhir/Patient/1", Resource: json.RawMessage(`{"resourceType":"Patient","id":"1","name":[{"text":"<Zoë & \"Al\">"}]}`),
					Search: &bundleSearch{Mode: "match"}},
				{Resource: json.RawMessage(`{"resourceType":"OperationOutcome"}`), Search: &bundleSearch{Mode: "outcome"}},
				{FullURL: "http://x/fhir/Patient/2", Request: &bundleRequest{Method: "PUT", URL: "Patient/2"},
					Response: &bundleResponse{Status: "200 OK", Etag: `W/"3"`}},
				{},
			}},
	} {
		want, err := json.Marshal(b)
		require.NoError(t, err)
		got, err := b.encode()
		require.NoError(t, err)
		assert.JSONEq(t, string(want), string(got))
		for _, e := range b.Entry {
			assert.Contains(t, string(got), string(e.Resource))
		}
	}
}
