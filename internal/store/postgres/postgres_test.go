package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/store"
	"github.com/sharedcare/sharedcare/internal/store/postgres/pgtest"
)

func TestReadyAndPut(t *testing.T) {
	s := pgtest.Open(t)
	ctx := context.Background()
	require.NoError(t, s.Ready(ctx))
	now := time.Now().UTC().Truncate(time.Microsecond)
	raw := []byte(`{"resourceType":"Patient","id":"a"}`)
	require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
		return tx.Put(ctx, store.Version{Resource: fhir.Resource{Type: "Patient", ID: "a", VersionID: 1, LastUpdated: now, Raw: raw, PatientID: "a"}})
	}))
	r, err := s.Read(ctx, "Patient", "a")
	require.NoError(t, err)
	require.Equal(t, raw, r.Raw)
	require.Equal(t, now, r.LastUpdated)
}
