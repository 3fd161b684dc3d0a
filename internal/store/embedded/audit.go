package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/store"
)

const auditInsert = `INSERT INTO audit_events (id, recorded, patient_id, agent, org, purpose, break_glass, action, outcome, entities, raw)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func auditArgs(r store.AuditRecord) []any {
	return []any{r.ID, r.Recorded.UnixMicro(), r.PatientID, r.Agent, r.Org, r.Purpose, r.BreakGlass,
		r.Action, r.Outcome, strings.Join(r.Entities, "\n"), r.Raw}
}

// AppendAudit stores records in one transaction on the writer connection.
func (s *Store) AppendAudit(ctx context.Context, recs []store.AuditRecord) error {
	if len(recs) == 0 {
		return nil
	}
	return s.Write(ctx, func(t store.Tx) error {
		for _, r := range recs {
			if err := t.AppendAudit(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// AppendAudit stores the audit record of a write in the write's transaction.
func (t *tx) AppendAudit(ctx context.Context, rec store.AuditRecord) error {
	if _, err := t.sqlTx.ExecContext(ctx, auditInsert, auditArgs(rec)...); err != nil {
		t.err = fmt.Errorf("embedded: audit: %w", err)
		return t.err
	}
	return nil
}

const auditSelect = `id, recorded, patient_id, agent, org, purpose, break_glass, action, outcome, entities, raw`

type scanner interface{ Scan(dest ...any) error }

func scanAudit(row scanner, extra ...any) (store.AuditRecord, error) {
	var r store.AuditRecord
	var micros int64
	var entities string
	dest := append(extra, &r.ID, &micros, &r.PatientID, &r.Agent, &r.Org, &r.Purpose, &r.BreakGlass, &r.Action, &r.Outcome, &entities, &r.Raw)
	if err := row.Scan(dest...); err != nil {
		return r, err
	}
	r.Recorded = fromMicros(micros)
	if entities != "" {
		r.Entities = strings.Split(entities, "\n")
	}
	return r, nil
}

// SealAudit links committed, unchained records into the chain. The single
// writer connection makes sealers take turns.
func (s *Store) SealAudit(ctx context.Context, limit int, hash func(prev []byte, r store.AuditRecord) []byte) (int, error) {
	sealed := 0
	err := s.Write(ctx, func(st store.Tx) error {
		t := st.(*tx)
		var pos int64
		var prev []byte
		err := t.sqlTx.QueryRowContext(ctx, `SELECT chain_pos, hash FROM audit_events WHERE chain_pos IS NOT NULL ORDER BY chain_pos DESC LIMIT 1`).Scan(&pos, &prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		rows, err := t.sqlTx.QueryContext(ctx, `SELECT seq, `+auditSelect+` FROM audit_events WHERE chain_pos IS NULL ORDER BY seq LIMIT ?`, limit)
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
			seqs, recs = append(seqs, seq), append(recs, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i, r := range recs {
			pos++
			h := hash(prev, r)
			if _, err := t.sqlTx.ExecContext(ctx, `UPDATE audit_events SET chain_pos = ?, prev_hash = ?, hash = ? WHERE seq = ?`,
				pos, prev, h, seqs[i]); err != nil {
				return err
			}
			prev = h
		}
		sealed = len(recs)
		return nil
	})
	return sealed, err
}

// AuditChain calls fn for every chained record, in chain order.
func (s *Store) AuditChain(ctx context.Context, fn func(store.AuditLink) error) error {
	rows, err := s.r.QueryContext(ctx, `SELECT chain_pos, prev_hash, hash, `+auditSelect+` FROM audit_events WHERE chain_pos IS NOT NULL ORDER BY chain_pos`)
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

// UnsealedAudit counts records recorded before t that are not in the chain.
func (s *Store) UnsealedAudit(ctx context.Context, before time.Time) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM audit_events WHERE chain_pos IS NULL AND recorded < ?`, before.UnixMicro()).Scan(&n)
	return n, err
}

// SearchAudit returns a page of matching records, newest first.
func (s *Store) SearchAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, int64, int, error) {
	var where []string
	var args []any
	if q.Patient != "" {
		where, args = append(where, "patient_id = ?"), append(args, q.Patient)
	}
	if q.Agent != "" {
		where, args = append(where, "(agent = ? OR org = ?)"), append(args, q.Agent, q.Agent)
	}
	if q.Entity != "" {
		where, args = append(where, "('\n' || entities || '\n') LIKE ? ESCAPE '\\'"), append(args, "%\n"+escapeLike(q.Entity)+"\n%")
	}
	if q.Purpose != "" {
		where, args = append(where, "purpose = ?"), append(args, q.Purpose)
	}
	if !q.From.IsZero() {
		where, args = append(where, "recorded >= ?"), append(args, q.From.UnixMicro())
	}
	if !q.To.IsZero() {
		where, args = append(where, "recorded < ?"), append(args, q.To.UnixMicro())
	}
	filter := ""
	if len(where) > 0 {
		filter = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM audit_events`+filter, args...).Scan(&total); err != nil {
		return nil, 0, 0, err
	}
	if q.Before > 0 {
		if filter == "" {
			filter = " WHERE seq < ?"
		} else {
			filter += " AND seq < ?"
		}
		args = append(args, q.Before)
	}
	count := max(q.Count, 1)
	rows, err := s.r.QueryContext(ctx, `SELECT seq, `+auditSelect+` FROM audit_events`+filter+` ORDER BY seq DESC LIMIT ?`, append(args, count+1)...)
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

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// ReadAudit returns one record by id.
func (s *Store) ReadAudit(ctx context.Context, id string) (store.AuditRecord, error) {
	r, err := scanAudit(s.r.QueryRowContext(ctx, `SELECT `+auditSelect+` FROM audit_events WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fhir.NotFound("AuditEvent", id)
	}
	return r, err
}
