package summary

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/fhir"
)

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(s), &m))
	return m
}

func TestDiffCarePlan(t *testing.T) {
	base := `"resourceType":"CarePlan","id":"p","intent":"plan","subject":{"reference":"Patient/x"}`
	tests := []struct {
		name       string
		prev, cur  string
		wantChange []string
	}{
		{"server-set elements are not changes",
			`{` + base + `,"status":"active","meta":{"versionId":"1"},"text":{"status":"generated","div":"<div/>"}}`,
			`{` + base + `,"status":"active","meta":{"versionId":"2"}}`, nil},
		{"status and period by value",
			`{` + base + `,"status":"draft"}`,
			`{` + base + `,"status":"active","period":{"start":"2026-01-01","end":"2026-06-30"}}`,
			[]string{"status changed from draft to active", "period changed from (none) to 2026-01-01 to 2026-06-30"}},
		{"activities added, removed and changed, matched by what they are",
			`{` + base + `,"status":"active","activity":[{"detail":{"code":{"text":"Washing"},"status":"scheduled"}},` +
				`{"detail":{"code":{"coding":[{"system":"http://snomed.info/sct","code":"229070002","display":"Stretching exercises"}]},"status":"scheduled"}},` +
				`{"detail":{"description":"Fluids chart","status":"in-progress","scheduledString":"hourly"}}]}`,
			`{` + base + `,"status":"active","activity":[{"detail":{"description":"Fluids chart","status":"in-progress","scheduledString":"two-hourly"}},` +
				`{"detail":{"code":{"text":"Washing"},"status":"completed"}},{"reference":{"reference":"MedicationRequest/m1","display":"Evening insulin"}}]}`,
			[]string{"activity changed: Fluids chart (scheduledString)", "activity Washing: status changed from scheduled to completed",
				"activity added: Evening insulin", "activity removed: Stretching exercises"}},
		{"any other element by name",
			`{` + base + `,"status":"active","description":"old","note":[{"text":"a"}]}`,
			`{` + base + `,"status":"active","description":"new","goal":[{"reference":"Goal/g"}]}`,
			[]string{"description changed", "goal added", "note removed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.wantChange, DiffCarePlan(decode(t, tt.prev), decode(t, tt.cur)))
		})
	}
}

// Codes of the same medicine from dm+d and SNOMED CT are one key, and a
// concept without codes is matched on its text.
func TestCodeableKeys(t *testing.T) {
	dmd := codeable(decode(t, `{"coding":[{"system":"https://dmd.nhs.uk","code":"39732311000001104","display":"Amoxicillin 250mg capsules"}]}`))
	sct := codeable(decode(t, `{"coding":[{"system":"http://snomed.info/sct","code":"39732311000001104"}],"text":"Amoxicillin caps"}`))
	require.Equal(t, dmd.keys, sct.keys)
	require.Equal(t, "Amoxicillin 250mg capsules", dmd.label)
	require.Equal(t, "Amoxicillin caps", sct.label, "text is what the source called it")
	text := codeable(decode(t, `{"text":"  Cream for dry skin "}`))
	require.Equal(t, []string{"text|cream for dry skin"}, text.keys)
	bare := codeable(decode(t, `{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]}`))
	require.Equal(t, "active", bare.label, "a code without display reads as the code")

	g := newGrouper()
	a := g.add(rec{r: fhir.Resource{Type: "MedicationStatement", ID: "a"}}, dmd, true)
	b := g.add(rec{r: fhir.Resource{Type: "MedicationAdministration", ID: "b"}}, sct, true)
	require.Same(t, a, b, "one row for both sources")
	require.Len(t, g.groups, 1)
	require.Nil(t, g.add(rec{r: fhir.Resource{Type: "MedicationAdministration", ID: "c"}}, text, false))
}

// Only the versions of the last 30 days are described, each against the
// one before it, however old that one is.
func TestDescribeVersions(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	since := now.Add(-carePlanWindow)
	version := func(v int64, daysAgo int, status string) fhir.Resource {
		return fhir.Resource{Type: "CarePlan", ID: "p", VersionID: v, LastUpdated: now.AddDate(0, 0, -daysAgo),
			Raw: []byte(`{"resourceType":"CarePlan","id":"p","status":"` + status + `","intent":"plan","subject":{"reference":"Patient/x"}}`)}
	}
	v1, v2, v3 := version(1, 90, "draft"), version(2, 45, "active"), version(3, 3, "on-hold")
	require.Equal(t, []string{"Version 3 (2026-11-20 12:00 UTC): status changed from active to on-hold"},
		describeVersions(parse(v3), []fhir.Resource{v3, v2, v1}, since), "version 2 is older than 30 days")

	recent := version(2, 10, "active")
	require.Equal(t, []string{"Version 3 (2026-11-20 12:00 UTC): status changed from active to on-hold",
		"Version 2 (2026-11-13 12:00 UTC): status changed from draft to active"},
		describeVersions(parse(v3), []fhir.Resource{v3, recent, v1}, since))

	require.Equal(t, []string{"Version 3 (2026-11-20 12:00 UTC): changed (the previous version is not available)"},
		describeVersions(parse(v3), []fhir.Resource{v3}, since), "a withheld earlier version is not described")

	require.Equal(t, []string{"Version 1 (2026-11-20 12:00 UTC): created"},
		describeVersions(parse(version(1, 3, "active")), nil, since))
}
