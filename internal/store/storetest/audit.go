package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/store"
)

func auditRecord(i int, patient, agent, purpose string, at time.Time) store.AuditRecord {
	return store.AuditRecord{
		ID: fmt.Sprintf("ae-%03d", i), Recorded: at.UTC().Truncate(time.Microsecond), PatientID: patient,
		Agent: agent, Org: "ORG" + agent, Purpose: purpose, BreakGlass: purpose == "BTG", Action: "R", Outcome: "0",
		Entities: []string{"Patient/" + patient, fmt.Sprintf("Observation/o%d/_history/1", i)},
		Raw:      []byte(fmt.Sprintf(`{"resourceType":"AuditEvent","id":"ae-%03d"}`, i)),
	}
}

// chainHash is a stand-in for audit.Hash: the store only has to apply it.
func chainHash(prev []byte, r store.AuditRecord) []byte {
	h := sha256.Sum256(append(append([]byte{}, prev...), r.Raw...))
	return h[:]
}

func testAuditTrail(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var want []store.AuditRecord
	var wg sync.WaitGroup
	// Concurrent group commits, as the REST layer makes them.
	for g := 0; g < 4; g++ {
		var batch []store.AuditRecord
		for i := 0; i < 5; i++ {
			n := g*5 + i
			purpose := "TREAT"
			if n%7 == 0 {
				purpose = "BTG"
			}
			batch = append(batch, auditRecord(n, fmt.Sprintf("p%d", n%3), fmt.Sprintf("u%d", n%2), purpose, base.Add(time.Duration(n)*time.Minute)))
		}
		want = append(want, batch...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, s.AppendAudit(ctx, batch))
		}()
	}
	wg.Wait()

	unsealed, err := s.UnsealedAudit(ctx, time.Now())
	require.NoError(t, err)
	require.Equal(t, 20, unsealed)

	// An auditor sees records before they are chained, and while some
	// are: each once.
	auditorSees := func(when string) {
		t.Helper()
		got, err := s.ReadAudit(ctx, "ae-007")
		require.NoError(t, err, when)
		require.Equal(t, "ae-007", got.ID, when)
		recs, _, total, err := s.SearchAudit(ctx, store.AuditQuery{Count: 100})
		require.NoError(t, err, when)
		require.Equal(t, 20, total, when)
		seen := map[string]int{}
		for _, r := range recs {
			seen[r.ID]++
		}
		require.Len(t, seen, 20, when)
		require.Len(t, recs, 20, when)
	}
	auditorSees("before sealing")
	n, err := s.SealAudit(ctx, 7, chainHash)
	require.NoError(t, err)
	require.Equal(t, 7, n)
	auditorSees("with 7 of 20 sealed")
	unsealed, err = s.UnsealedAudit(ctx, time.Now())
	require.NoError(t, err)
	require.Equal(t, 13, unsealed)
	n, err = s.SealAudit(ctx, 100, chainHash)
	require.NoError(t, err)
	require.Equal(t, 13, n)
	n, err = s.SealAudit(ctx, 100, chainHash)
	require.NoError(t, err)
	require.Zero(t, n)

	var prev []byte
	var pos int64
	seen := map[string]bool{}
	require.NoError(t, s.AuditChain(ctx, func(l store.AuditLink) error {
		pos++
		require.Equal(t, pos, l.Pos)
		require.Equal(t, prev, nilIfEmpty(l.PrevHash))
		require.Equal(t, chainHash(prev, l.AuditRecord), l.Hash)
		prev = l.Hash
		seen[l.ID] = true
		return nil
	}))
	require.Len(t, seen, 20)

	byID := map[string]store.AuditRecord{}
	for _, r := range want {
		byID[r.ID] = r
	}
	got, err := s.ReadAudit(ctx, "ae-007")
	require.NoError(t, err)
	require.Equal(t, byID["ae-007"], got)
	_, err = s.ReadAudit(ctx, "nope")
	require.Equal(t, fhir.KindNotFound, fhir.KindOf(err))

	ids := func(q store.AuditQuery) []string {
		var out []string
		for {
			recs, next, _, err := s.SearchAudit(ctx, q)
			require.NoError(t, err)
			for _, r := range recs {
				out = append(out, r.ID)
			}
			if next == 0 {
				return out
			}
			q.Before = next
		}
	}
	assert.ElementsMatch(t, []string{"ae-000", "ae-003", "ae-006", "ae-009", "ae-012", "ae-015", "ae-018"}, ids(store.AuditQuery{Patient: "p0", Count: 2}))
	assert.ElementsMatch(t, []string{"ae-000", "ae-007", "ae-014"}, ids(store.AuditQuery{Purpose: "BTG", Count: 10}))
	assert.ElementsMatch(t, []string{"ae-005"}, ids(store.AuditQuery{Entity: "Observation/o5/_history/1", Count: 10}))
	assert.Len(t, ids(store.AuditQuery{Agent: "u1", Count: 3}), 10)
	assert.Len(t, ids(store.AuditQuery{Agent: "ORGu1", Count: 3}), 10)
	assert.ElementsMatch(t, []string{"ae-002", "ae-003"}, ids(store.AuditQuery{From: base.Add(2 * time.Minute), To: base.Add(4 * time.Minute), Count: 10}))
	_, _, total, err := s.SearchAudit(ctx, store.AuditQuery{Patient: "p1", Count: 1})
	require.NoError(t, err)
	assert.Equal(t, 7, total)
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// A write's audit record commits with the write, and vanishes with it.
func testAuditInWriteTransaction(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	ok := s.Write(ctx, func(tx store.Tx) error {
		v := fhir.Resource{Type: "Patient", ID: "a", VersionID: 1, LastUpdated: now, Raw: []byte(`{"resourceType":"Patient","id":"a"}`)}
		if err := tx.Put(ctx, withPatient(v, "a")); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, auditRecord(1, "a", "u", "TREAT", now))
	})
	require.NoError(t, ok)
	boom := errors.New("boom")
	err := s.Write(ctx, func(tx store.Tx) error {
		if err := tx.AppendAudit(ctx, auditRecord(2, "a", "u", "TREAT", now)); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	_, err = s.ReadAudit(ctx, "ae-001")
	require.NoError(t, err)
	_, err = s.ReadAudit(ctx, "ae-002")
	require.Equal(t, fhir.KindNotFound, fhir.KindOf(err))
}
