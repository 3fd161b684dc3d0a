package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/store"
)

// auditInsert appends records to audit_inbox, whose only index is its key:
// a request waits for this insert, not for the auditor's indexes, which
// the sealer fills when it moves records into audit_events. The entities
// of each record travel as one text joined by newlines (Postgres arrays of
// arrays must be rectangular) and are split back in SQL.
const auditInsert = `INSERT INTO audit_inbox (id, recorded, patient_id, agent, org, purpose, break_glass, action, outcome, entities, raw)
	SELECT i, rc, p, a, o, pu, b, ac, oc, CASE WHEN e = '' THEN '{}'::text[] ELSE string_to_array(e, E'\n') END, rw
	FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[], $8::text[], $9::text[], $10::text[], $11::bytea[])
	AS u(i, rc, p, a, o, pu, b, ac, oc, e, rw)`

// auditColumns turns records into the column arrays of auditInsert.
func auditColumns(recs []store.AuditRecord) []any {
	n := len(recs)
	ids, patients, agents, orgs, purposes, actions, outcomes, entities := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	recorded, btg, raws := make([]time.Time, n), make([]bool, n), make([][]byte, n)
	for i, r := range recs {
		ids[i], recorded[i], patients[i], agents[i], orgs[i] = r.ID, r.Recorded, r.PatientID, r.Agent, r.Org
		purposes[i], btg[i], actions[i], outcomes[i], raws[i] = r.Purpose, r.BreakGlass, r.Action, r.Outcome, r.Raw
		entities[i] = strings.Join(r.Entities, "\n")
	}
	return []any{ids, recorded, patients, agents, orgs, purposes, btg, actions, outcomes, entities, raws}
}

// AppendAudit stores records in one statement.
func (s *Store) AppendAudit(ctx context.Context, recs []store.AuditRecord) error {
	if len(recs) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, auditInsert, auditColumns(recs)...)
	return err
}

// AppendAudit queues the audit record of a write in the write's own
// transaction: the write and its audit commit together or not at all.
func (t *tx) AppendAudit(ctx context.Context, rec store.AuditRecord) error {
	t.batch.Queue(auditInsert, auditColumns([]store.AuditRecord{rec})...)
	return nil
}

// auditSealLock is the advisory lock that makes sealers take turns.
const auditSealLock = 0x5ea1

// SealAudit links committed, unchained records into the chain: it moves
// them from audit_inbox into audit_events, in the order they were
// appended, and gives each its link in audit_chain, all in one
// transaction.
func (s *Store) SealAudit(ctx context.Context, limit int, hash func(prev []byte, r store.AuditRecord) []byte) (int, error) {
	sealed := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, auditSealLock); err != nil {
			return err
		}
		var pos int64
		var prev []byte
		err := tx.QueryRow(ctx, `SELECT pos, hash FROM audit_chain ORDER BY pos DESC LIMIT 1`).Scan(&pos, &prev)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT seq, `+auditSelect+` FROM audit_inbox ORDER BY seq LIMIT $1`, limit)
		if err != nil {
			return err
		}
		var seqs []int64
		var recs []store.AuditRecord
		for rows.Next() {
			var seq int64
			r, err := scanAudit(rows, &seq)
			if err != nil {
				rows.Close()
				return err
			}
			seqs = append(seqs, seq)
			recs = append(recs, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(recs) == 0 {
			return err
		}
		positions, prevs, hashes := make([]int64, len(recs)), make([][]byte, len(recs)), make([][]byte, len(recs))
		for i, r := range recs {
			pos++
			h := hash(prev, r)
			positions[i], prevs[i], hashes[i] = pos, prev, h
			prev = h
		}
		b := &pgx.Batch{}
		// Moved as read: the rows are in the inbox, committed, and
		// nothing else deletes them while the lock is held.
		b.Queue(`WITH m AS (DELETE FROM audit_inbox WHERE seq = ANY($1) RETURNING seq, `+auditSelect+`)
			INSERT INTO audit_events (seq, `+auditSelect+`) SELECT seq, `+auditSelect+` FROM m`, seqs)
		b.Queue(`INSERT INTO audit_chain (pos, seq, prev_hash, hash)
			SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[])`, positions, seqs, prevs, hashes)
		sealed = len(recs)
		return tx.SendBatch(ctx, b).Close()
	})
	if err == nil && s.moved.Add(int64(sealed)) >= inboxVacuumEvery {
		s.moved.Store(0)
		// VACUUM runs outside a transaction, so in the simple protocol.
		_, err = s.pool.Exec(ctx, `VACUUM audit_inbox`, pgx.QueryExecModeSimpleProtocol)
	}
	return sealed, err
}

// inboxVacuumEvery is how many moved records the sealer lets pile up as
// dead rows in audit_inbox before it vacuums it. The inbox is a queue: a
// row is inserted, read once, and deleted. Left to autovacuum (or with
// autovacuum off) its dead rows pile up, and the sealer's scan for the
// oldest record reads past all of them: at two million records it took
// seconds a pass and fell a million records behind.
var inboxVacuumEvery int64 = 20000

const auditSelect = `id, recorded, patient_id, agent, org, purpose, break_glass, action, outcome, entities, raw`

// qualifiedAuditSelect is auditSelect of audit_events a.
var qualifiedAuditSelect = "a." + strings.ReplaceAll(auditSelect, ", ", ", a.")

func scanAudit(row pgx.Row, extra ...any) (store.AuditRecord, error) {
	var r store.AuditRecord
	dest := append(extra, &r.ID, &r.Recorded, &r.PatientID, &r.Agent, &r.Org, &r.Purpose, &r.BreakGlass, &r.Action, &r.Outcome, &r.Entities, &r.Raw)
	err := row.Scan(dest...)
	r.Recorded = r.Recorded.UTC()
	return r, err
}

// AuditChain calls fn for every chained record, in chain order.
func (s *Store) AuditChain(ctx context.Context, fn func(store.AuditLink) error) error {
	rows, err := s.pool.Query(ctx, `SELECT c.pos, c.prev_hash, c.hash, `+qualifiedAuditSelect+`
		FROM audit_chain c JOIN audit_events a ON a.seq = c.seq ORDER BY c.pos`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var l store.AuditLink
		r, err := scanAudit(rows, &l.Pos, &l.PrevHash, &l.Hash)
		if err != nil {
			return err
		}
		l.AuditRecord = r
		if err := fn(l); err != nil {
			return err
		}
	}
	return rows.Err()
}

// UnsealedAudit counts records recorded before t that are not in the
// chain: those still in the inbox, and any in audit_events without a link
// (one removed by hand), so that tampering with the chain still counts.
func (s *Store) UnsealedAudit(ctx context.Context, before time.Time) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM audit_all a WHERE a.recorded < $1
		AND NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.seq = a.seq)`, before).Scan(&n)
	return n, err
}

// SearchAudit returns a page of matching records, newest first.
func (s *Store) SearchAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, int64, int, error) {
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if q.Patient != "" {
		where = append(where, "patient_id = "+arg(q.Patient))
	}
	if q.Agent != "" {
		a := arg(q.Agent)
		where = append(where, "(agent = "+a+" OR org = "+a+")")
	}
	if q.Entity != "" {
		where = append(where, "entities @> ARRAY["+arg(q.Entity)+"]::text[]")
	}
	if q.Purpose != "" {
		where = append(where, "purpose = "+arg(q.Purpose))
	}
	if !q.From.IsZero() {
		where = append(where, "recorded >= "+arg(q.From))
	}
	if !q.To.IsZero() {
		where = append(where, "recorded < "+arg(q.To))
	}
	filter := ""
	if len(where) > 0 {
		filter = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM audit_all`+filter, args...).Scan(&total); err != nil {
		return nil, 0, 0, err
	}
	if q.Before > 0 {
		if filter == "" {
			filter = " WHERE "
		} else {
			filter += " AND "
		}
		filter += "seq < " + arg(q.Before)
	}
	count := max(q.Count, 1)
	rows, err := s.pool.Query(ctx, `SELECT seq, `+auditSelect+` FROM audit_all`+filter+` ORDER BY seq DESC LIMIT `+arg(count+1), args...)
	if err != nil {
		return nil, 0, 0, err
	}
	defer rows.Close()
	var recs []store.AuditRecord
	var next, seq int64
	for rows.Next() {
		if len(recs) == count {
			next = seq
			break
		}
		r, err := scanAudit(rows, &seq)
		if err != nil {
			return nil, 0, 0, err
		}
		recs = append(recs, r)
	}
	return recs, next, total, rows.Err()
}

// ReadAudit returns one record by id.
func (s *Store) ReadAudit(ctx context.Context, id string) (store.AuditRecord, error) {
	r, err := scanAudit(s.pool.QueryRow(ctx, `SELECT `+auditSelect+` FROM audit_all WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fhir.NotFound("AuditEvent", id)
	}
	return r, err
}
