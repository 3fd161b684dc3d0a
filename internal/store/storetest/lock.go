package storetest

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/search"
	"github.com/sharedcare/sharedcare/internal/searchparam"
	"github.com/sharedcare/sharedcare/internal/store"
)

// Transactions that Lock one key and Match before they write decide one
// after the other: of many concurrent "create unless it exists", exactly
// one creates. It is what conditional create stands on.
func testLockThenMatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	q, _, err := search.Parse("Patient", url.Values{"identifier": {"urn:test|42"}}, true)
	require.NoError(t, err)
	raw := []byte(`{"resourceType":"Patient","identifier":[{"system":"urn:test","value":"42"}]}`)
	index, err := searchparam.Extract("Patient", raw)
	require.NoError(t, err)

	const n = 16
	var wg sync.WaitGroup
	created := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id := fmt.Sprintf("p%d", i)
			err := s.Write(ctx, func(tx store.Tx) error {
				if err := tx.Lock(ctx, "Patient?identifier=urn:test|42"); err != nil {
					return err
				}
				found, err := tx.Match(ctx, q, 2)
				if err != nil || len(found) > 0 {
					return err
				}
				r := fhir.Resource{Type: "Patient", ID: id, VersionID: 1, LastUpdated: time.Now().UTC(), Raw: raw, PatientID: id}
				if err := tx.Put(ctx, store.Version{Resource: r, Index: index}); err != nil {
					return err
				}
				created <- id
				return nil
			})
			assert.NoError(t, err)
		}(i)
	}
	wg.Wait()
	close(created)
	var ids []string
	for id := range created {
		ids = append(ids, id)
	}
	require.Len(t, ids, 1, "exactly one transaction creates")
	found, err := s.Match(ctx, q, 10)
	require.NoError(t, err)
	require.Len(t, found, 1)
	require.Equal(t, ids[0], found[0].ID)
}
