package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/sharedcare/sharedcare/internal/searchparam"
	"github.com/sharedcare/sharedcare/internal/store"
	"github.com/sharedcare/sharedcare/internal/store/migrate"
	"github.com/sharedcare/sharedcare/internal/store/sqlsearch"
)

// ErrNotEmpty is returned by Import for a database that already holds
// resources or audit records.
var ErrNotEmpty = errors.New("the database is not empty")

// importTables are the tables an import fills, all of which must be empty.
var importTables = append([]string{"resource_history", "resources", "audit_events", "audit_chain", "audit_inbox", "care_relations"}, indexTables...)

// Import is one transaction filling an empty database with a copy of
// another store: a migrate.Destination. It is valid only inside the
// function given to Store.Import.
type Import struct {
	tx pgx.Tx
}

var _ migrate.Destination = (*Import)(nil)

// Import runs fn in one transaction that fills the database, and commits
// it when fn returns nil, so that a copy that fails leaves nothing behind.
// It refuses (ErrNotEmpty) a database that holds any row: copied log
// positions and chain links would collide with the rows there. The tables
// are locked against writers until the commit, so that a server started
// on the database meanwhile waits rather than interleaving its writes, and
// the sequences then continue after the copied positions. After the commit
// the tables are analysed, so that the planner knows their new size before
// the first search.
func (s *Store) Import(ctx context.Context, fn func(*Import) error) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE `+strings.Join(importTables, ", ")+` IN EXCLUSIVE MODE`); err != nil {
			return err
		}
		var full []string
		for _, t := range importTables {
			var has bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+t+`)`).Scan(&has); err != nil {
				return err
			}
			if has {
				full = append(full, t)
			}
		}
		if len(full) > 0 {
			return fmt.Errorf("%w: it has rows in %s", ErrNotEmpty, strings.Join(full, ", "))
		}
		if err := fn(&Import{tx: tx}); err != nil {
			return err
		}
		// setval is strict: on an empty table max is NULL and the
		// sequence stays as it was.
		// audit_inbox draws its seq from audit_events' sequence.
		for _, t := range []struct{ table, from string }{{"resource_history", "resource_history"}, {"audit_events", "audit_all"}} {
			if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('`+t.table+`', 'seq'), max(seq)) FROM `+t.from); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: import rolled back, nothing imported: %w", err)
	}
	if err := s.Analyze(ctx); err != nil {
		return fmt.Errorf("postgres: import committed, but %w", err)
	}
	return nil
}

// Analyze refreshes the planner's statistics of the tables a bulk load
// fills, so that the first searches after it are planned for the data
// that is there (autovacuum may be off, or not have caught up yet).
func (s *Store) Analyze(ctx context.Context) error {
	// One table a connection, a few at once: the tables are analysed in
	// parallel, which halved the time a single ANALYZE of them all took
	// (a fifth of a 30,000-resource import on two cores).
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(analyzeParallel)
	for _, t := range importTables {
		g.Go(func() error {
			if _, err := s.pool.Exec(ctx, `ANALYZE `+t); err != nil {
				return fmt.Errorf("analysing %s failed: %w", t, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// analyzeParallel is how many tables Analyze analyses at once.
const analyzeParallel = 4

// History appends entries to the change log at their positions.
func (im *Import) History(ctx context.Context, entries []migrate.LogEntry) error {
	_, err := im.tx.CopyFrom(ctx, pgx.Identifier{"resource_history"},
		[]string{"seq", "type", "id", "version", "patient_id", "last_updated", "deleted", "owner", "raw"},
		pgx.CopyFromSlice(len(entries), func(i int) ([]any, error) {
			e := entries[i]
			return []any{e.Seq, e.Type, e.ID, e.VersionID, e.PatientID, e.LastUpdated, e.Deleted, e.Owner, e.Raw}, nil
		}))
	return err
}

// Resources stores the current versions with their access labels and
// index rows, and returns how many index rows it wrote.
func (im *Import) Resources(ctx context.Context, versions []store.Version) (int, error) {
	_, err := im.tx.CopyFrom(ctx, pgx.Identifier{"resources"},
		[]string{"type", "id", "version", "patient_id", "last_updated", "deleted", "owner", "raw", "source", "sensitive", "sec_labels"},
		pgx.CopyFromSlice(len(versions), func(i int) ([]any, error) {
			v := versions[i]
			return []any{v.Type, v.ID, v.VersionID, v.PatientID, v.LastUpdated, v.Deleted, v.Owner, v.Raw,
				v.Labels.Source, v.Labels.Sensitive, v.Labels.Joined()}, nil
		}))
	if err != nil {
		return 0, err
	}
	var x indexBatch
	for _, v := range versions {
		if !v.Deleted {
			x.addVersion(v)
		}
	}
	b := x.queue()
	patients, owners := make([]string, len(versions)), make([]string, len(versions))
	for i, v := range versions {
		queueRelations(b, v)
		patients[i], owners[i] = v.PatientID, v.Owner
	}
	queueOwnership(b, patients, owners)
	if b.Len() == 0 {
		return 0, nil
	}
	return x.rows(), im.tx.SendBatch(ctx, b).Close()
}

// Audit stores audit records at their positions, with their chain links:
// a chained record goes to audit_events with its link in audit_chain, any
// other to audit_inbox, where the sealer finds it.
func (im *Import) Audit(ctx context.Context, entries []migrate.AuditEntry) error {
	var chained, unchained []migrate.AuditEntry
	var links [][]any
	for _, e := range entries {
		if e.Pos > 0 {
			chained = append(chained, e)
			links = append(links, []any{e.Pos, e.Seq, e.PrevHash, e.Hash})
		} else {
			unchained = append(unchained, e)
		}
	}
	if err := im.copyAudit(ctx, "audit_events", chained); err != nil {
		return err
	}
	if err := im.copyAudit(ctx, "audit_inbox", unchained); err != nil {
		return err
	}
	_, err := im.tx.CopyFrom(ctx, pgx.Identifier{"audit_chain"}, []string{"pos", "seq", "prev_hash", "hash"}, pgx.CopyFromRows(links))
	return err
}

// copyAudit copies audit records into table, audit_events or audit_inbox.
func (im *Import) copyAudit(ctx context.Context, table string, entries []migrate.AuditEntry) error {
	_, err := im.tx.CopyFrom(ctx, pgx.Identifier{table},
		[]string{"seq", "id", "recorded", "patient_id", "agent", "org", "purpose", "break_glass", "action", "outcome", "entities", "raw"},
		pgx.CopyFromSlice(len(entries), func(i int) ([]any, error) {
			e := entries[i]
			// The column is NOT NULL: no entities is an empty array.
			entities := e.Entities
			if entities == nil {
				entities = []string{}
			}
			return []any{e.Seq, e.ID, e.Recorded, e.PatientID, e.Agent, e.Org, e.Purpose, e.BreakGlass, e.Action, e.Outcome,
				entities, e.Raw}, nil
		}))
	return err
}

// rowKeys are the res_type and res_id columns of the rows of one index
// table.
type rowKeys struct{ typ, id []string }

func (k *rowKeys) add(v store.Version) {
	k.typ, k.id = append(k.typ, v.Type), append(k.id, v.ID)
}

// indexBatch is the index rows of many resources as column arrays: the
// value columns as the write path lays them out (indexRows), beside the
// keys of the resource each row belongs to.
type indexBatch struct {
	indexRows
	strKey, tokKey, dateKey, numKey, qtyKey, refKey, uriKey rowKeys
}

// addVersion adds v's index values, each composite as its parts, tied by
// grp, as queueIndex writes them.
func (x *indexBatch) addVersion(v store.Version) {
	var composites int32
	for _, val := range v.Index {
		if val.Type != searchparam.TypeComposite {
			x.add(v, val.Param, val, 0)
			continue
		}
		composites++
		for i, part := range val.Components {
			x.add(v, sqlsearch.ComponentParam(val.Param, i), part, composites)
		}
	}
}

func (x *indexBatch) add(v store.Version, param string, val searchparam.Value, grp int32) {
	var keys *rowKeys
	switch val.Type {
	case searchparam.TypeString:
		keys = &x.strKey
	case searchparam.TypeToken:
		keys = &x.tokKey
	case searchparam.TypeDate:
		keys = &x.dateKey
	case searchparam.TypeNumber:
		keys = &x.numKey
	case searchparam.TypeQuantity:
		keys = &x.qtyKey
	case searchparam.TypeReference:
		keys = &x.refKey
	case searchparam.TypeURI:
		keys = &x.uriKey
	default:
		// indexRows has no columns for it either.
		return
	}
	keys.add(v)
	x.indexRows.add(param, val, grp)
}

// rows counts the index rows of the batch.
func (x *indexBatch) rows() int {
	return len(x.strKey.typ) + len(x.tokKey.typ) + len(x.dateKey.typ) + len(x.numKey.typ) +
		len(x.qtyKey.typ) + len(x.refKey.typ) + len(x.uriKey.typ)
}

// queue returns one INSERT per index table that has rows. Numbers travel
// as text and are cast in SQL, exactly as on the write path.
func (x *indexBatch) queue() *pgx.Batch {
	b := &pgx.Batch{}
	x.queueInto(b)
	return b
}

// queueInto queues the INSERTs of queue on b.
func (x *indexBatch) queueInto(b *pgx.Batch) {
	if k := x.strKey; len(k.typ) > 0 {
		b.Queue(`INSERT INTO idx_string (res_type, res_id, param, value, norm, grp)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[])`,
			k.typ, k.id, x.strParam, x.strValue, x.strNorm, x.strGrp)
	}
	if k := x.tokKey; len(k.typ) > 0 {
		b.Queue(`INSERT INTO idx_token (res_type, res_id, param, system, code, display, text, type_system, type_code, grp)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int[])`,
			k.typ, k.id, x.tokParam, x.tokSystem, x.tokCode, x.tokDisplay, x.tokText, x.tokTSys, x.tokTCode, x.tokGrp)
	}
	if k := x.dateKey; len(k.typ) > 0 {
		b.Queue(`INSERT INTO idx_date (res_type, res_id, param, lo, hi, grp)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::int[])`,
			k.typ, k.id, x.dateParam, x.dateLo, x.dateHi, x.dateGrp)
	}
	if k := x.numKey; len(k.typ) > 0 {
		b.Queue(`INSERT INTO idx_number (res_type, res_id, param, value, lo, hi, grp)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::numeric[], $6::numeric[], $7::int[])`,
			k.typ, k.id, x.numParam, x.numValue, x.numLo, x.numHi, x.numGrp)
	}
	if k := x.qtyKey; len(k.typ) > 0 {
		b.Queue(`INSERT INTO idx_quantity (res_type, res_id, param, value, lo, hi, system, code, unit, grp)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::numeric[], $6::numeric[], $7::text[], $8::text[], $9::text[], $10::int[])`,
			k.typ, k.id, x.qtyParam, x.qtyValue, x.qtyLo, x.qtyHi, x.qtySystem, x.qtyCode, x.qtyUnit, x.qtyGrp)
	}
	if k := x.refKey; len(k.typ) > 0 {
		b.Queue(`INSERT INTO idx_reference (res_type, res_id, param, target_type, target_id, target_version, url, ident_system, ident_value, grp)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int[])`,
			k.typ, k.id, x.refParam, x.refType, x.refID, x.refVersion, x.refURL, x.refIdentSys, x.refIdentVal, x.refGrp)
	}
	if k := x.uriKey; len(k.typ) > 0 {
		b.Queue(`INSERT INTO idx_uri (res_type, res_id, param, value, grp)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[])`,
			k.typ, k.id, x.uriParam, x.uriValue, x.uriGrp)
	}
}
