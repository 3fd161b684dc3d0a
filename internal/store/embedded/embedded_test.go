package embedded

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/searchparam"
	"github.com/sharedcare/sharedcare/internal/store"
	"github.com/sharedcare/sharedcare/internal/store/storetest"
)

func open(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, t.TempDir()) })
}

// create writes version 1 of typ/id.
func create(t testing.TB, s *Store, typ, id, patientID string) fhir.Resource {
	t.Helper()
	ctx := context.Background()
	r := fhir.Resource{Type: typ, ID: id, VersionID: 1, LastUpdated: time.Now().UTC().Truncate(time.Millisecond),
		Raw: []byte(`{"resourceType":"` + typ + `","id":"` + id + `"}`)}
	require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
		return tx.Put(ctx, store.Version{Resource: withPatientID(r, patientID)})
	}))
	return r
}

func TestOpenCreatesDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "sharedcare")
	s := open(t, dir)
	require.NoError(t, s.Ready(t.Context()))
	info, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), info.Mode().Perm(), "the data directory holds patient records")
	require.FileExists(t, filepath.Join(dir, FileName))
}

func TestOpenAcceptsAwkwardPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?with#odd %20chars")
	s := open(t, dir)
	create(t, s, "Patient", "a", "a")
	require.FileExists(t, filepath.Join(dir, FileName))
}

func TestReopenKeepsWrites(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	want := create(t, s, "Patient", "a", "a")
	s.Close()

	s = open(t, dir)
	got, err := s.Read(t.Context(), "Patient", "a")
	require.NoError(t, err)
	require.Equal(t, want.Raw, got.Raw)
	require.True(t, want.LastUpdated.Equal(got.LastUpdated))
}

func TestMigrateTwice(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, Migrate(t.Context(), dir))
	require.NoError(t, Migrate(t.Context(), dir))
	require.NoError(t, open(t, dir).Ready(t.Context()))
}

func TestMigrateCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.ErrorIs(t, Migrate(ctx, t.TempDir()), context.Canceled)
}

func TestConnectionSettings(t *testing.T) {
	s := open(t, t.TempDir())
	for _, tc := range []struct {
		name   string
		db     *sql.DB
		pragma string
		want   string
	}{
		{"writer journal", s.w, "journal_mode", "wal"},
		{"writer synchronous FULL", s.w, "synchronous", "2"},
		{"writer foreign keys", s.w, "foreign_keys", "1"},
		{"writer busy timeout", s.w, "busy_timeout", "5000"},
		{"writer may write", s.w, "query_only", "0"},
		{"reader journal", s.r, "journal_mode", "wal"},
		{"reader busy timeout", s.r, "busy_timeout", "5000"},
		{"reader read-only", s.r, "query_only", "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			require.NoError(t, tc.db.QueryRowContext(t.Context(), "PRAGMA "+tc.pragma).Scan(&got))
			require.Equal(t, tc.want, got)
		})
	}
}

func TestReaderCannotWrite(t *testing.T) {
	s := open(t, t.TempDir())
	_, err := s.r.ExecContext(t.Context(), `DELETE FROM resources`)
	require.Error(t, err)
}

func TestReadyReportsSchemaMismatch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		update string
	}{
		{"dirty", `UPDATE schema_migrations SET dirty = 1`},
		{"behind", `UPDATE schema_migrations SET version = 0`},
		{"ahead", `UPDATE schema_migrations SET version = version + 1`},
		{"never migrated", `DELETE FROM schema_migrations`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, t.TempDir())
			require.NoError(t, s.Ready(t.Context()))
			_, err := s.w.ExecContext(t.Context(), tc.update)
			require.NoError(t, err)
			require.ErrorContains(t, s.Ready(t.Context()), "schema")
		})
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	_, err := s.w.ExecContext(t.Context(), `UPDATE schema_migrations SET version = version + 1`)
	require.NoError(t, err)
	s.Close()
	_, err = Open(t.Context(), dir)
	require.Error(t, err, "a database from a newer build is not opened by an older one")
}

func TestPatientIDStored(t *testing.T) {
	s := open(t, t.TempDir())
	create(t, s, "Patient", "p1", "p1")
	create(t, s, "Observation", "o1", "p1")
	create(t, s, "Organization", "org", "")
	for _, tc := range []struct {
		typ, id, want string
	}{
		{"Patient", "p1", "p1"},
		{"Observation", "o1", "p1"},
		{"Organization", "org", ""},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			for _, table := range []string{"resources", "resource_history"} {
				var got string
				require.NoError(t, s.r.QueryRowContext(t.Context(),
					`SELECT patient_id FROM `+table+` WHERE type = ? AND id = ?`, tc.typ, tc.id).Scan(&got))
				require.Equal(t, tc.want, got, table)
			}
		})
	}
}

func TestStats(t *testing.T) {
	s := open(t, t.TempDir())
	create(t, s, "Patient", "a", "a")
	_, err := s.Read(t.Context(), "Patient", "a")
	require.NoError(t, err)
	st := s.Stats()
	require.Equal(t, 1+s.r.Stats().MaxOpenConnections, st.Max)
	require.GreaterOrEqual(t, st.Total, 2)
}

func TestIndexRows(t *testing.T) {
	s := open(t, t.TempDir())
	ctx := t.Context()
	day := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	all := []searchparam.Value{
		{Param: "name", Type: searchparam.TypeString, String: searchparam.StringValue{Value: "Zoë", Normalized: "zoe"}},
		{Param: "code", Type: searchparam.TypeToken, Token: searchparam.TokenValue{System: "http://loinc.org", Code: "8867-4"}},
		{Param: "date", Type: searchparam.TypeDate, Date: searchparam.DateValue{Low: day, High: day.AddDate(0, 0, 1)}},
		{Param: "open", Type: searchparam.TypeDate, Date: searchparam.DateValue{Low: searchparam.MinTime, High: searchparam.MaxTime}},
		{Param: "n", Type: searchparam.TypeNumber, Number: searchparam.NumberValue{Value: "5.4", Low: "5.35", High: "5.45"}},
		{Param: "range", Type: searchparam.TypeNumber, Number: searchparam.NumberValue{Low: "1"}},
		{Param: "value-quantity", Type: searchparam.TypeQuantity, Quantity: searchparam.QuantityValue{
			NumberValue: searchparam.NumberValue{Value: "72", Low: "71.5", High: "72.5"}, System: "http://unitsofmeasure.org", Code: "/min"}},
		{Param: "subject", Type: searchparam.TypeReference, Reference: searchparam.ReferenceValue{Type: "Patient", ID: "p1"}},
		{Param: "url", Type: searchparam.TypeURI, URI: "http://example.org/x"},
		{Param: "combo", Type: searchparam.TypeComposite},
	}
	put := func(v int64, deleted bool, index []searchparam.Value) {
		t.Helper()
		r := fhir.Resource{Type: "Observation", ID: "o1", VersionID: v, LastUpdated: time.Now(), Deleted: deleted, PatientID: "p1"}
		if !deleted {
			r.Raw = []byte(`{"resourceType":"Observation","id":"o1"}`)
		}
		require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
			return tx.Put(ctx, store.Version{Resource: r, Index: index})
		}))
	}
	rows := func(table string) int {
		t.Helper()
		var n int
		require.NoError(t, s.r.QueryRowContext(ctx,
			`SELECT count(*) FROM `+table+` WHERE res_type = 'Observation' AND res_id = 'o1'`).Scan(&n))
		return n
	}
	counts := func() map[string]int {
		out := map[string]int{}
		for _, it := range indexTables {
			out[it.name] = rows(it.name)
		}
		return out
	}

	put(1, false, all)
	require.Equal(t, map[string]int{"idx_string": 1, "idx_token": 1, "idx_date": 2, "idx_number": 2,
		"idx_quantity": 1, "idx_reference": 1, "idx_uri": 1}, counts())

	var lo, hi int64
	require.NoError(t, s.r.QueryRowContext(ctx, `SELECT lo, hi FROM idx_date WHERE param = 'open'`).Scan(&lo, &hi))
	require.Equal(t, searchparam.MinTime.UnixMicro(), lo)
	require.Equal(t, searchparam.MaxTime.UnixMicro(), hi)
	var value sql.NullFloat64
	var nlo, nhi sql.NullFloat64
	require.NoError(t, s.r.QueryRowContext(ctx, `SELECT value, lo, hi FROM idx_number WHERE param = 'range'`).Scan(&value, &nlo, &nhi))
	require.False(t, value.Valid, "a range has no value")
	require.Equal(t, sql.NullFloat64{Float64: 1, Valid: true}, nlo)
	require.False(t, nhi.Valid, "an open end has no bound")

	put(2, false, all[:1])
	require.Equal(t, map[string]int{"idx_string": 1, "idx_token": 0, "idx_date": 0, "idx_number": 0,
		"idx_quantity": 0, "idx_reference": 0, "idx_uri": 0}, counts(), "a new version replaces the index rows")

	put(3, true, nil)
	for table, n := range counts() {
		require.Zero(t, n, "a deletion leaves no rows in %s", table)
	}
}

func TestIndexRejectsBadNumber(t *testing.T) {
	s := open(t, t.TempDir())
	ctx := t.Context()
	r := fhir.Resource{Type: "Observation", ID: "o1", VersionID: 1, LastUpdated: time.Now(), Raw: []byte(`{}`)}
	err := s.Write(ctx, func(tx store.Tx) error {
		return tx.Put(ctx, store.Version{Resource: r, Index: []searchparam.Value{
			{Param: "n", Type: searchparam.TypeNumber, Number: searchparam.NumberValue{Value: "five"}},
		}})
	})
	require.ErrorContains(t, err, "five")
	_, err = s.Read(ctx, "Observation", "o1")
	require.Equal(t, fhir.KindNotFound, fhir.KindOf(err))
}

func withPatientID(r fhir.Resource, patient string) fhir.Resource {
	r.PatientID = patient
	return r
}
