package embedded

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/store/migrate"
)

// maxExportBytes ends an export batch early once its bodies add up to this
// much, so that a batch of unusually large resources stays bounded in memory.
const maxExportBytes = 64 << 20

// Export is the whole store as one snapshot, read in batches: a
// migrate.Source. It is valid only inside the function given to
// Store.Export.
type Export struct {
	tx *sql.Tx
}

var _ migrate.Source = (*Export)(nil)

// Export calls fn with the whole store as it is now. It holds the
// database's write lock until fn returns: a server still running on the
// same data directory cannot commit meanwhile (its writes wait, then
// fail), so nothing it acknowledges can be missing from what fn reads.
func (s *Store) Export(ctx context.Context, fn func(*Export) error) error {
	// The writer's transactions begin IMMEDIATE (see dsn): this one takes
	// the write lock at once.
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("embedded: export: %w", err)
	}
	defer tx.Rollback()
	return fn(&Export{tx: tx})
}

// History reads the change log in log order.
func (x *Export) History(ctx context.Context, limit int, fn func([]migrate.LogEntry) error) error {
	return exportBatches(ctx, x.tx, `SELECT seq, type, id, version, last_updated, deleted, owner, raw, patient_id FROM resource_history
		WHERE seq > ? ORDER BY seq LIMIT ?`, []any{int64(0)}, limit,
		func(rows *sql.Rows) (migrate.LogEntry, []any, int, error) {
			var e migrate.LogEntry
			var micros int64
			err := rows.Scan(&e.Seq, &e.Type, &e.ID, &e.VersionID, &micros, &e.Deleted, &e.Owner, &e.Raw, &e.PatientID)
			e.LastUpdated = fromMicros(micros)
			return e, []any{e.Seq}, len(e.Raw), err
		}, fn)
}

// Resources reads the current version of every resource, by type and id.
// The access labels beside them are not read: they are derived from the
// JSON, and the copy derives them afresh, as it does the search index.
func (x *Export) Resources(ctx context.Context, limit int, fn func([]fhir.Resource) error) error {
	return exportBatches(ctx, x.tx, `SELECT type, id, version, last_updated, deleted, owner, raw, patient_id FROM resources
		WHERE (type, id) > (?, ?) ORDER BY type, id LIMIT ?`, []any{"", ""}, limit,
		func(rows *sql.Rows) (fhir.Resource, []any, int, error) {
			var r fhir.Resource
			var micros int64
			err := rows.Scan(&r.Type, &r.ID, &r.VersionID, &micros, &r.Deleted, &r.Owner, &r.Raw, &r.PatientID)
			r.LastUpdated = fromMicros(micros)
			return r, []any{r.Type, r.ID}, len(r.Raw), err
		}, fn)
}

// Audit reads the audit trail in commit order, with each record's link in
// the hash chain when it has one.
func (x *Export) Audit(ctx context.Context, limit int, fn func([]migrate.AuditEntry) error) error {
	return exportBatches(ctx, x.tx, `SELECT seq, chain_pos, prev_hash, hash, `+auditSelect+` FROM audit_events
		WHERE seq > ? ORDER BY seq LIMIT ?`, []any{int64(0)}, limit,
		func(rows *sql.Rows) (migrate.AuditEntry, []any, int, error) {
			var e migrate.AuditEntry
			var pos sql.NullInt64
			r, err := scanAudit(rows, &e.Seq, &pos, &e.PrevHash, &e.Hash)
			e.AuditRecord, e.Pos = r, pos.Int64
			return e, []any{e.Seq}, len(r.Raw), err
		}, fn)
}

// exportBatches pages through query by keyset: its arguments are the
// cursor, which start sets for the first page and scan returns for each
// row, and then the page size. It calls fn with each page, ending a page
// early when the bodies read (the size scan returns) pass maxExportBytes.
func exportBatches[T any](ctx context.Context, tx *sql.Tx, query string, start []any, limit int,
	scan func(*sql.Rows) (row T, cursor []any, size int, err error), fn func([]T) error) error {
	cursor := start
	for {
		var batch []T
		err := func() error {
			args := append(append([]any(nil), cursor...), limit)
			rows, err := tx.QueryContext(ctx, query, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			size := 0
			for size < maxExportBytes && rows.Next() {
				row, next, n, err := scan(rows)
				if err != nil {
					return err
				}
				batch, cursor, size = append(batch, row), next, size+n
			}
			return rows.Err()
		}()
		if err != nil {
			return fmt.Errorf("embedded: export: %w", err)
		}
		if len(batch) == 0 {
			return nil
		}
		if err := fn(batch); err != nil {
			return err
		}
	}
}
