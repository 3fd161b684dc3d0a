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

const auditInsert = `INSERT INTO audit_events (id, recorded, patient_id, agent, org, purpose, break_glass, action, outcome, entities, raw)
	SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[], $8::text[], $9::text[], $10::text[], $11::bytea[])`

// auditColumns turns records into the column arrays of auditInsert. The
// entities of each record travel as one text joined by newlines (Postgres
// arrays of arrays must be rectangular) and are split back in SQL.
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

// auditInsertSplit is auditInsert with the entity lists split back into
// arrays, queueing each record for the sealer (audit_unsealed).
var auditInsertSplit = "WITH a AS (" + strings.Replace(auditInsert, "SELECT * FROM unnest(",
	"SELECT i, rc, p, a, o, pu, b, ac, oc, CASE WHEN e = '' THEN '{}'::text[] ELSE string_to_array(e, E'\\n') END, rw FROM unnest(", 1) +
	" AS u(i, rc, p, a, o, pu, b, ac, oc, e, rw) RETURNING seq) INSERT INTO audit_unsealed (seq) SELECT seq FROM a"

// AppendAudit stores records in one statement.
func (s *Store) AppendAudit(ctx context.Context, recs []store.AuditRecord) error {
	if len(recs) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, auditInsertSplit, auditColumns(recs)...)
	return err
}

// AppendAudit queues the audit record of a write in the write's own
// transaction: the write and its audit commit together or not at all.
func (t *tx) AppendAudit(ctx context.Context, rec store.AuditRecord) error {
	t.batch.Queue(auditInsertSplit, auditColumns([]store.AuditRecord{rec})...)
	return nil
}

// auditSealLock is the advisory lock that makes sealers take turns.
const auditSealLock = 0x5ea1

// SealAudit links committed, unchained records into the chain.
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
		rows, err := tx.Query(ctx, `SELECT a.seq, `+qualifiedAuditSelect+` FROM audit_unsealed u JOIN audit_events a ON a.seq = u.seq
			ORDER BY u.seq LIMIT $1`, limit)
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
		b.Queue(`INSERT INTO audit_chain (pos, seq, prev_hash, hash)
			SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[])`, positions, seqs, prevs, hashes)
		b.Queue(`DELETE FROM audit_unsealed WHERE seq = ANY($1)`, seqs)
		sealed = len(recs)
		return tx.SendBatch(ctx, b).Close()
	})
	return sealed, err
}

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
// chain: whether or not they are still queued for it, so that a record
// taken off the queue by hand still counts.
func (s *Store) UnsealedAudit(ctx context.Context, before time.Time) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM audit_events a WHERE a.recorded < $1
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
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM audit_events`+filter, args...).Scan(&total); err != nil {
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
	rows, err := s.pool.Query(ctx, `SELECT seq, `+auditSelect+` FROM audit_events`+filter+` ORDER BY seq DESC LIMIT `+arg(count+1), args...)
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
	r, err := scanAudit(s.pool.QueryRow(ctx, `SELECT `+auditSelect+` FROM audit_events WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fhir.NotFound("AuditEvent", id)
	}
	return r, err
}
