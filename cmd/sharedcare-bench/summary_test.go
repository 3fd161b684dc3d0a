package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/validate"
)

// The care records the summary scenarios add are valid resources of the
// patient, as many as asked, with some administrations not done.
func TestCareHomeRecords(t *testing.T) {
	var b struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
			Request  struct{ URL string }
		} `json:"entry"`
	}
	require.NoError(t, json.Unmarshal(careHomeRecords("p1", 700), &b))
	require.Len(t, b.Entry, 700)
	notDone := 0
	for _, e := range b.Entry {
		var r map[string]any
		require.NoError(t, json.Unmarshal(e.Resource, &r))
		require.Equal(t, e.Request.URL, r["resourceType"])
		require.Equal(t, "Patient/p1", r["subject"].(map[string]any)["reference"])
		typ, err := validate.Resource(e.Resource)
		require.NoError(t, err)
		require.Equal(t, e.Request.URL, typ)
		if r["status"] == "not-done" {
			notDone++
		}
	}
	require.Positive(t, notDone)
	_, err := validate.Resource(carePlan("p1", 3))
	require.NoError(t, err)
}
