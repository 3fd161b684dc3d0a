package access

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadOnlyInteractions(t *testing.T) {
	for in, want := range map[Interaction]bool{
		InteractionRead: true, InteractionVRead: true, InteractionSearchType: true, InteractionSearchSystem: true,
		InteractionHistoryInstance: true, InteractionHistoryType: true, InteractionHistorySystem: true,
		InteractionCreate: false, InteractionUpdate: false, InteractionPatch: false, InteractionDelete: false,
		InteractionBatch: false, InteractionTransaction: false,
	} {
		require.Equal(t, want, in.ReadOnly(), in)
	}
}

// A request's cache returns the context it was given; without one nothing
// is cached, and two requests never share theirs.
func TestPatientContextCache(t *testing.T) {
	ctx := context.Background()
	cacheContext(ctx, &PatientContext{PatientID: "p"})
	_, ok := cachedContext(ctx, "p")
	require.False(t, ok)

	a, b := WithPatientContextCache(ctx), WithPatientContextCache(ctx)
	pc := &PatientContext{PatientID: "p"}
	cacheContext(a, pc)
	got, ok := cachedContext(a, "p")
	require.True(t, ok)
	require.Same(t, pc, got)
	_, ok = cachedContext(b, "p")
	require.False(t, ok)
}
