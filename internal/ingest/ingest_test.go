package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCountEntries(t *testing.T) {
	for _, tc := range []struct {
		json string
		want int
	}{
		{`{"resourceType":"Bundle","type":"transaction","entry":[{"a":[1,{"b":"]"}]},{},{"c":"\"}"}]}`, 3},
		{` { "entry" : [ {} , {} ] , "resourceType" : "Bundle" } `, 2},
		{`{"resourceType":"Bundle","type":"batch"}`, 0},
		{`{"resourceType":"Bundle","entry":[]}`, 0},
		{`{"resourceType":"Patient","entry":[{},{}]}`, 1},
		{`{"resourceType":"Bundle","entry":[{},`, 1},
		{`not json`, 1},
	} {
		require.Equal(t, tc.want, countEntries([]byte(tc.json)), tc.json)
	}
	// The Synthea samples, against a full decode.
	files, err := filepath.Glob("../../../shared/fhir/synthea-sample/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		require.Equal(t, strings.Count(string(raw), `"fullUrl"`), countEntries(raw), f)
	}
}
