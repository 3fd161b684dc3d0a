package postgres_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/searchparam"
	"github.com/sharedcare/sharedcare/internal/store"
	"github.com/sharedcare/sharedcare/internal/store/migrate"
	"github.com/sharedcare/sharedcare/internal/store/postgres"
	"github.com/sharedcare/sharedcare/internal/store/postgres/pgtest"
)

func openImportDB(t *testing.T) (*postgres.Store, string) {
	url := pgtest.NewDatabase(t)
	s, err := postgres.Open(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s, url
}

// importColumn returns the first column of every row of sql, in order.
func importColumn[T any](t *testing.T, url, sql string) []T {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), sql)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[T])
	require.NoError(t, err)
	return out
}

// importUKCore returns every UK Core example, and a resource with number
// parameters and access labels (which none of them has), as version 1
// with its index values and labels, as the write path would store it.
func importUKCore(t *testing.T) []store.Version {
	files, err := filepath.Glob("../../../../shared/fhir/ukcore-examples/json/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files, "the UK Core examples are expected beside the repo, in ../shared")
	raws := [][]byte{[]byte(`{"resourceType":"RiskAssessment","id":"risk","status":"final","subject":{"reference":"Patient/p"},
		"meta":{"tag":[{"system":"` + access.RecordSourceSystem + `","code":"gp"}],
			"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]},
		"prediction":[{"probabilityDecimal":0.020},{"probabilityRange":{"low":{"value":1.5e1},"high":{"value":30}}}]}`)}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		raws = append(raws, raw)
	}
	at := time.Date(2024, time.June, 3, 12, 0, 0, 0, time.UTC)
	var out []store.Version
	for i, raw := range raws {
		var head struct{ ResourceType, ID string }
		require.NoError(t, json.Unmarshal(raw, &head))
		index, err := searchparam.Extract(head.ResourceType, raw)
		require.NoError(t, err, "%s", raw)
		r := fhir.Resource{Type: head.ResourceType, ID: head.ID, VersionID: 1, LastUpdated: at.Add(time.Duration(i) * time.Millisecond),
			Raw: raw, Owner: "A81001"}
		if refs := searchparam.PatientRefsFromValues(r.Type, index); len(refs) > 0 {
			r.PatientID = refs[0]
		}
		l := access.Classify(r.Type, raw, nil)
		labels := store.AccessLabels{Source: l.Source, Sensitive: l.Sensitive, Security: l.SecurityLabels}
		out = append(out, store.Version{Resource: r, Index: index, Labels: labels})
	}
	return out
}

// The index and the resources rows an import writes are those the write
// path writes, row for row, composites and access labels included.
func TestImportIndexMatchesWrite(t *testing.T) {
	ctx := t.Context()
	versions := importUKCore(t)
	written, writtenURL := openImportDB(t)
	seen := map[string]bool{}
	var unique []store.Version
	for _, v := range versions {
		if seen[v.Ref()] {
			continue
		}
		seen[v.Ref()] = true
		unique = append(unique, v)
		require.NoError(t, written.Write(ctx, func(tx store.Tx) error { return tx.Put(ctx, v) }))
	}
	imported, importedURL := openImportDB(t)
	require.NoError(t, imported.Import(ctx, func(im *postgres.Import) error {
		for start := 0; start < len(unique); start += 50 {
			if _, err := im.Resources(ctx, unique[start:min(start+50, len(unique))]); err != nil {
				return err
			}
		}
		return nil
	}))

	composites := 0
	for _, table := range []string{"idx_string", "idx_token", "idx_date", "idx_number", "idx_quantity", "idx_reference", "idx_uri"} {
		sql := `SELECT t::text FROM ` + table + ` t ORDER BY 1`
		want := importColumn[string](t, writtenURL, sql)
		require.NotEmpty(t, want, table)
		require.Equal(t, want, importColumn[string](t, importedURL, sql), table)
		composites += len(importColumn[string](t, importedURL, `SELECT param FROM `+table+` WHERE grp > 0`))
	}
	require.Positive(t, composites, "composite parameters are indexed as their parts")
	sql := `SELECT r::text FROM resources r ORDER BY 1`
	require.Equal(t, importColumn[string](t, writtenURL, sql), importColumn[string](t, importedURL, sql))
	require.Equal(t, []string{"gp t \nhttp://terminology.hl7.org/CodeSystem/v3-Confidentiality|R\n"},
		importColumn[string](t, importedURL, `SELECT concat_ws(' ', source, sensitive, sec_labels) FROM resources WHERE id = 'risk'`))
}

// Copied log and audit positions are kept, gaps included, and new rows
// are numbered after them.
func TestImportKeepsPositions(t *testing.T) {
	ctx := t.Context()
	s, url := openImportDB(t)
	at := time.Date(2024, time.June, 3, 12, 0, 0, 0, time.UTC)
	v1 := fhir.Resource{Type: "Patient", ID: "p", VersionID: 1, LastUpdated: at, Raw: []byte(`{"resourceType":"Patient","id":"p"}`), PatientID: "p"}
	v2 := fhir.Resource{Type: "Patient", ID: "p", VersionID: 2, LastUpdated: at.Add(time.Second), Deleted: true, PatientID: "p"}
	rec := func(id string) store.AuditRecord {
		return store.AuditRecord{ID: id, Recorded: at, Action: "R", Outcome: "0", Raw: []byte(`{}`)}
	}
	require.NoError(t, s.Import(ctx, func(im *postgres.Import) error {
		if err := im.History(ctx, []migrate.LogEntry{{Seq: 3, Resource: v1}, {Seq: 8, Resource: v2}}); err != nil {
			return err
		}
		if _, err := im.Resources(ctx, []store.Version{{Resource: v2}}); err != nil {
			return err
		}
		return im.Audit(ctx, []migrate.AuditEntry{
			{Seq: 5, AuditLink: store.AuditLink{AuditRecord: rec("a"), Pos: 1, Hash: []byte{1}}},
			{Seq: 9, AuditLink: store.AuditLink{AuditRecord: rec("b")}},
		})
	}))
	require.Equal(t, []string{"(5,1,,\"\\\\x01\")"},
		importColumn[string](t, url, `SELECT (a.seq, c.pos, c.prev_hash, c.hash)::text FROM audit_events a
			LEFT JOIN audit_chain c ON c.seq = a.seq ORDER BY a.seq`))
	require.Equal(t, []int64{9}, importColumn[int64](t, url, `SELECT seq FROM audit_inbox`), "the unchained record waits for the sealer")

	v3 := v1
	v3.VersionID, v3.LastUpdated = 3, at.Add(2*time.Second)
	require.NoError(t, s.Write(ctx, func(tx store.Tx) error { return tx.Put(ctx, store.Version{Resource: v3}) }))
	require.NoError(t, s.AppendAudit(ctx, []store.AuditRecord{rec("c")}))
	require.Equal(t, []int64{3, 8, 9}, importColumn[int64](t, url, `SELECT seq FROM resource_history ORDER BY seq`))
	require.Equal(t, []int64{5, 9, 10}, importColumn[int64](t, url, `SELECT seq FROM audit_all ORDER BY seq`))
}

func TestImportRefusesNonEmptyDatabase(t *testing.T) {
	ctx := t.Context()
	s, _ := openImportDB(t)
	require.NoError(t, s.AppendAudit(ctx, []store.AuditRecord{{ID: "a", Recorded: time.Now(), Action: "R", Outcome: "0", Raw: []byte(`{}`)}}))
	called := false
	err := s.Import(ctx, func(*postgres.Import) error { called = true; return nil })
	require.ErrorIs(t, err, postgres.ErrNotEmpty)
	require.ErrorContains(t, err, "it has rows in audit_inbox")
	require.False(t, called)
}
