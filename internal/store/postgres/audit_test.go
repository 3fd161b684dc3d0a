package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/store"
	"github.com/sharedcare/sharedcare/internal/store/postgres"
)

// The sealer moves records from audit_inbox into audit_events and the
// chain, and vacuums the inbox as it goes, so that the queue's dead rows
// never pile up in front of its scan for the oldest record.
func TestSealerMovesAndVacuumsInbox(t *testing.T) {
	ctx := t.Context()
	s, url := openImportDB(t)
	defer postgres.SetInboxVacuumEvery(10)()

	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var recs []store.AuditRecord
	for i := range 25 {
		recs = append(recs, store.AuditRecord{ID: fmt.Sprintf("r%02d", i), Recorded: at, PatientID: "p", Action: "R", Outcome: "0", Raw: []byte(`{}`)})
	}
	require.NoError(t, s.AppendAudit(ctx, recs))
	require.Equal(t, []int64{25}, importColumn[int64](t, url, `SELECT count(*) FROM audit_inbox`))
	require.Equal(t, []int64{0}, importColumn[int64](t, url, `SELECT count(*) FROM audit_events`))

	hash := func(prev []byte, r store.AuditRecord) []byte { return append(append([]byte{}, prev...), r.ID[1:]...) }
	for _, want := range []int{10, 10, 5, 0} {
		n, err := s.SealAudit(ctx, 10, hash)
		require.NoError(t, err)
		require.Equal(t, want, n)
	}
	require.Equal(t, []int64{0}, importColumn[int64](t, url, `SELECT count(*) FROM audit_inbox`))
	require.Equal(t, []int64{25}, importColumn[int64](t, url, `SELECT count(*) FROM audit_events`))
	require.Equal(t, []int64{25}, importColumn[int64](t, url, `SELECT count(*) FROM audit_events a JOIN audit_chain c ON c.seq = a.seq`))
	require.Eventually(t, func() bool {
		return importColumn[int64](t, url, `SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'audit_inbox'`)[0] >= 2
	}, 5*time.Second, 50*time.Millisecond, "vacuumed after 10 and after 20 records moved")
}
