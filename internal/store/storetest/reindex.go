package storetest

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/record"
	"github.com/sharedcare/sharedcare/internal/search"
	"github.com/sharedcare/sharedcare/internal/store"
)

// reindexBodies are the resources of testReindex, each written twice: as
// "f-<id>", indexed as the write path does, and as "s-<id>", with the
// derived data of an older build (wrong index values, no patient, wrong
// labels, no care relations). "{p}" stands for the prefix.
var reindexBodies = []struct{ typ, id, members string }{
	{"Patient", "p1", `"meta":{"tag":[{"system":"` + access.RecordSourceSystem + `","code":"gp"}]},
		"name":[{"family":"Reindex"}],"generalPractitioner":[{"identifier":{"system":"` + access.ODSOrganizationSystem + `","value":"VM1"}}]`},
	{"Observation", "o1", `"meta":{"tag":[{"system":"` + access.RecordSourceSystem + `","code":"hospital"}]},"status":"final",
		"code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/{p}-p1"},
		"valueQuantity":{"value":72,"system":"http://unitsofmeasure.org","code":"/min"}`},
	{"Observation", "o2", `"meta":{"tag":[{"system":"` + access.RecordSourceSystem + `","code":"hospital"}],
		"security":[{"system":"https://example.org/labels","code":"LABELLED"}]},"status":"final",
		"code":{"coding":[{"system":"http://loinc.org","code":"8310-5"}]},"subject":{"reference":"Patient/{p}-p1"},
		"valueQuantity":{"value":37.5,"system":"http://unitsofmeasure.org","code":"Cel"}`},
	{"Observation", "o3", `"meta":{"tag":[{"system":"` + access.RecordSourceSystem + `","code":"hospital"}]},"status":"final",
		"code":{"coding":[{"system":"http://snomed.info/sct","code":"86406008"}]},"subject":{"reference":"Patient/{p}-p1"}`},
	{"Observation", "o4", `"meta":{"tag":[{"system":"` + access.RecordSourceSystem + `","code":"gp"}]},"status":"final",
		"code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/{p}-p1"},
		"valueQuantity":{"value":80,"system":"http://unitsofmeasure.org","code":"/min"}`},
	{"Observation", "o5", `"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/{p}-p1"}`},
	{"Condition", "c1", `"meta":{"tag":[{"system":"` + access.RecordSourceSystem + `","code":"hospital"}]},
		"code":{"coding":[{"system":"http://snomed.info/sct","code":"38341003"}]},"subject":{"reference":"Patient/{p}-p1"}`},
}

// reindexQuery is a search of testReindex; "{p}" in it stands for the prefix.
type reindexQuery struct {
	typ, params string
	visibility  func(prefix string) *search.Visibility
}

// reindexQueries read every kind of derived data: index values of several
// types, the patient (compartment and visibility), the labels (source,
// sensitive, security labels) and the care relations (the patient gate).
var reindexQueries = []reindexQuery{
	{typ: "Observation", params: "code=http://loinc.org|8867-4"},
	{typ: "Observation", params: "subject=Patient/{p}-p1"},
	{typ: "Observation", params: "value-quantity=gt70"},
	{typ: "Patient", params: "family=Reindex"},
	{typ: "Condition", params: "code=http://snomed.info/sct|38341003"},
	// Records of patients VM1 has a care relationship with (the Patient
	// names it as GP), from hospitals, not sensitive: o1 and o2.
	{typ: "Observation", visibility: func(string) *search.Visibility {
		return &search.Visibility{Organization: "VM1", Shared: &search.SharedVisibility{
			Organization: "VM1", HideSensitive: true, Sources: []string{"hospital"}}}
	}},
	// The patient's records but those carrying the security label: o1, o3, o4.
	{typ: "Observation", visibility: func(prefix string) *search.Visibility {
		return &search.Visibility{Organization: "VM1", Patients: []*search.PatientVisibility{{
			PatientID: prefix + "-p1", Sources: []string{"hospital", "gp"},
			Consent: []search.ConsentRule{{Labels: [][]string{{"https://example.org/labels|LABELLED"}}}},
		}}}
	}},
}

// staleDerive is the derived data of an older build: index values of
// other codes and names, no patient, wrong labels, no care relations.
func staleDerive(t *testing.T, r fhir.Resource) store.Version {
	t.Helper()
	old := strings.NewReplacer("8867-4", "0000-0", "Reindex", "Stale", "38341003", "1111111", "Patient/s-p1", "Patient/old-p1", `"value":72`, `"value":12`, `"value":80`, `"value":10`).Replace(string(r.Raw))
	v, err := record.DeriveVersion(fhir.Resource{Type: r.Type, ID: r.ID, Raw: []byte(old)}, nil)
	require.NoError(t, err)
	v.Resource = r
	v.Labels = store.AccessLabels{Source: "social-care", Sensitive: true}
	v.Relations, v.StatesRelations = nil, false
	return v
}

// testReindex: Reindex makes the derived data of resources written by an
// older build what a fresh write stores, for one type or all, in batches
// that resume after a cursor; it skips deletions, creates no version, and
// a failing batch changes nothing.
func testReindex(t *testing.T, s store.Store) {
	ctx := t.Context()
	n := 0
	write := func(prefix string, typ, id, members string, stale bool) fhir.Resource {
		t.Helper()
		n++
		id = prefix + "-" + id
		raw := body(typ, id, strings.ReplaceAll(members, "{p}", prefix))
		var r fhir.Resource
		require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
			cur, ok, err := tx.Current(ctx, typ, id)
			if err != nil {
				return err
			}
			r = fhir.Resource{Type: typ, ID: id, VersionID: cur.VersionID + 1, LastUpdated: at(n), Raw: raw, Owner: "GP1"}
			if !ok {
				r.VersionID = 1
			}
			v, err := record.DeriveVersion(r, nil)
			if err != nil {
				return err
			}
			if stale {
				v = staleDerive(t, r)
			}
			return tx.Put(ctx, v)
		}))
		return r
	}
	for _, prefix := range []string{"f", "s"} {
		for _, b := range reindexBodies {
			write(prefix, b.typ, b.id, b.members, prefix == "s")
		}
		save(t, s, "Observation", prefix+"-o5", nil, at(100)) // deleted: never reindexed
	}
	live := 2 * (len(reindexBodies) - 1)

	matches := func(q reindexQuery, prefix string) []string {
		t.Helper()
		params, err := url.ParseQuery(strings.ReplaceAll(q.params, "{p}", prefix))
		require.NoError(t, err)
		sq, _, err := search.Parse(q.typ, params, true)
		require.NoError(t, err)
		sq.Count = 100
		if q.visibility != nil {
			sq.Visibility = q.visibility(prefix)
		}
		page, err := s.Search(ctx, sq)
		require.NoError(t, err)
		var ids []string
		for _, m := range page.Matches {
			if id, ok := strings.CutPrefix(m.ID, prefix+"-"); ok {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		return ids
	}
	// same reports whether the stale copies answer every query in queries
	// as the fresh ones do; the fresh ones must answer something.
	same := func(queries []reindexQuery) bool {
		t.Helper()
		for _, q := range queries {
			want := matches(q, "f")
			require.NotEmpty(t, want, "%s?%s", q.typ, q.params)
			if !slices.Equal(want, matches(q, "s")) {
				return false
			}
		}
		return true
	}
	staleOnly := func() []string {
		t.Helper()
		var out []string
		for _, q := range []reindexQuery{{typ: "Observation", params: "code=http://loinc.org|0000-0"}, {typ: "Patient", params: "family=Stale"}} {
			out = append(out, matches(q, "s")...)
		}
		return out
	}
	for _, q := range reindexQueries {
		require.False(t, same([]reindexQuery{q}), "the stale copies must differ before the reindex: %s?%s", q.typ, q.params)
	}
	require.NotEmpty(t, staleOnly())
	before := history(t, s, store.HistoryQuery{})

	seen := map[string]int{}
	derive := func(r fhir.Resource) (store.Version, error) {
		require.False(t, r.Deleted, r.Ref())
		require.NotNil(t, r.Raw, r.Ref())
		seen[r.Ref()]++
		return record.DeriveVersion(r, nil)
	}

	// One type: the Conditions alone.
	next, got, err := s.Reindex(ctx, "Condition", store.ResourceKey{}, 10, derive)
	require.NoError(t, err)
	require.Equal(t, 2, got)
	require.Equal(t, store.ResourceKey{Type: "Condition", ID: "s-c1"}, next)
	require.True(t, same(reindexQueries[4:5]))
	require.False(t, same(reindexQueries[:1]), "the Observations are left as they were")

	// A batch whose derivation fails changes nothing, not even the
	// resources before the failure.
	failed := errors.New("cannot derive")
	_, _, err = s.Reindex(ctx, "Observation", store.ResourceKey{}, 100, func(r fhir.Resource) (store.Version, error) {
		if r.ID == "s-o3" {
			return store.Version{}, failed
		}
		return record.DeriveVersion(r, nil)
	})
	require.ErrorIs(t, err, failed)
	require.False(t, same(reindexQueries[:1]), "the failed batch must have rolled back")

	// Every type, in batches of 3. After the first batch, a writer updates
	// o4 (ahead of the cursor) and c1 (behind it), fresh and stale copies
	// alike: the reindex must leave each with its newest version's index.
	clear(seen)
	var cursor store.ResourceKey
	total, batches := 0, 0
	for {
		next, got, err := s.Reindex(ctx, "", cursor, 3, derive)
		require.NoError(t, err)
		total += got
		batches++
		if got == 0 {
			require.Equal(t, cursor, next, "an empty batch leaves the cursor")
			break
		}
		require.NotEqual(t, cursor, next, "a batch moves the cursor")
		cursor = next
		if batches == 1 {
			for _, prefix := range []string{"f", "s"} {
				write(prefix, "Observation", "o4", strings.Replace(reindexBodies[4].members, "8867-4", "1234-5", 1), false)
				write(prefix, "Condition", "c1", strings.Replace(reindexBodies[6].members, `"38341003"}`,
					`"38341003"},{"system":"http://snomed.info/sct","code":"2222222"}`, 1), false)
			}
		}
		if got < 3 {
			break
		}
	}
	require.Equal(t, live, total)
	require.Len(t, seen, live, "each live resource once, no deletion")
	for ref, times := range seen {
		require.Equal(t, 1, times, ref)
	}

	require.True(t, same(reindexQueries))
	require.Empty(t, staleOnly(), "the stale index rows are gone")
	for _, q := range []reindexQuery{
		{typ: "Observation", params: "code=http://loinc.org|1234-5"},
		{typ: "Condition", params: "code=http://snomed.info/sct|2222222"},
	} {
		for _, prefix := range []string{"f", "s"} {
			require.Len(t, matches(q, prefix), 1, "%s?%s: the newest version's value", q.typ, q.params)
		}
	}
	require.Equal(t, []string{"o1"}, matches(reindexQueries[0], "s"), "o4's first version is no longer indexed")

	// No version was made by the reindex: the history holds what it held
	// and the two updates; the current versions are as they were written.
	after := history(t, s, store.HistoryQuery{})
	require.Len(t, after, len(before)+4)
	require.Equal(t, keys(before), keys(after[4:]))
	for _, b := range reindexBodies[:4] {
		r, err := s.Read(ctx, b.typ, "s-"+b.id)
		require.NoError(t, err)
		require.EqualValues(t, 1, r.VersionID)
		require.Equal(t, "s-p1", r.PatientID, "the patient is derived afresh")
		requireSame(t, fhir.Resource{Type: b.typ, ID: "s-" + b.id, VersionID: 1, LastUpdated: r.LastUpdated,
			Raw: []byte(body(b.typ, "s-"+b.id, strings.ReplaceAll(b.members, "{p}", "s"))), Owner: "GP1"}, r)
		for _, h := range before {
			if h.Ref() == r.Ref() {
				require.True(t, h.LastUpdated.Equal(r.LastUpdated), "lastUpdated of %s", r.Ref())
			}
		}
	}

	// A cursor past the end finds nothing.
	next, got, err = s.Reindex(ctx, "", store.ResourceKey{Type: "Patient", ID: "s-p1"}, 10, derive)
	require.NoError(t, err)
	require.Zero(t, got)
	require.Equal(t, store.ResourceKey{Type: "Patient", ID: "s-p1"}, next)
	_, _, err = s.Reindex(ctx, "", store.ResourceKey{}, 0, derive)
	require.Error(t, err, "a batch of no resources is a mistake")
}
