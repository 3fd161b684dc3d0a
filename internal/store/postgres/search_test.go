package postgres_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/search"
	"github.com/sharedcare/sharedcare/internal/searchparam"
	"github.com/sharedcare/sharedcare/internal/store"
	"github.com/sharedcare/sharedcare/internal/store/postgres"
	"github.com/sharedcare/sharedcare/internal/store/postgres/pgtest"
)

// put writes raw as version v of its resource, indexed as the write path
// indexes it.
func put(t *testing.T, s *postgres.Store, typ, id string, v int64, raw string, deleted bool) {
	t.Helper()
	ctx := context.Background()
	r := fhir.Resource{Type: typ, ID: id, VersionID: v, LastUpdated: time.Now().UTC(), Deleted: deleted}
	var index []searchparam.Value
	if !deleted {
		r.Raw = []byte(raw)
		var err error
		index, err = searchparam.Extract(typ, r.Raw)
		require.NoError(t, err)
	}
	require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
		return tx.Put(ctx, store.Version{Resource: r, Index: index})
	}))
}

func query(t *testing.T, typ, q string) *search.Query {
	t.Helper()
	v, err := url.ParseQuery(q)
	require.NoError(t, err)
	sq, _, err := search.Parse(typ, v, true)
	require.NoError(t, err)
	return sq
}

func bloodPressure(id string, systolic, diastolic int) string {
	return fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},
		"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":%d}},
		{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":%d}}]}`, id, systolic, diastolic)
}

// Composite values are indexed part by part, and a new version replaces
// the parts of the old one.
func TestSearchCompositeIndex(t *testing.T) {
	s := pgtest.Open(t)
	ctx := context.Background()
	put(t, s, "Observation", "bp", 1, bloodPressure("bp", 120, 80), false)
	ids := func(q string) []string {
		page, err := s.Search(ctx, query(t, "Observation", q))
		require.NoError(t, err)
		var out []string
		for _, r := range page.Matches {
			out = append(out, r.ID)
		}
		return out
	}
	systolic := "component-code-value-quantity=http://loinc.org|8480-6$gt130"
	assert.Empty(t, ids(systolic))
	assert.Empty(t, ids("component-code-value-quantity=http://loinc.org|8462-4$120"), "parts of different components never pair")
	assert.Equal(t, []string{"bp"}, ids("component-code-value-quantity=http://loinc.org|8462-4$80"))

	put(t, s, "Observation", "bp", 2, bloodPressure("bp", 150, 95), false)
	assert.Equal(t, []string{"bp"}, ids(systolic))
	assert.Empty(t, ids("component-code-value-quantity=http://loinc.org|8462-4$80"), "the old version's parts are gone")

	put(t, s, "Observation", "bp", 3, "", true)
	assert.Empty(t, ids(systolic))
}

func TestMatch(t *testing.T) {
	s := pgtest.Open(t)
	ctx := context.Background()
	for i, id := range []string{"c", "a", "b"} {
		put(t, s, "Patient", id, 1, fmt.Sprintf(`{"resourceType":"Patient","id":%q,"identifier":[{"system":"urn:x","value":"v%d"}],"gender":"female"}`, id, i%2), false)
	}
	got, err := s.Match(ctx, query(t, "Patient", "identifier=urn:x|v0"), 10)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "b", got[0].ID, "in id order")
	assert.Equal(t, "c", got[1].ID)
	assert.Nil(t, got[0].Raw)
	assert.Equal(t, int64(1), got[0].VersionID)
	assert.False(t, got[0].LastUpdated.IsZero())

	got, err = s.Match(ctx, query(t, "Patient", "gender=female&_sort=-_id"), 2)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "c", got[0].ID)
	assert.Equal(t, "b", got[1].ID)

	got, err = s.Match(ctx, query(t, "Patient", "identifier=urn:x|nope"), 2)
	require.NoError(t, err)
	assert.Empty(t, got)
}
