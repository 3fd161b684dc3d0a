package embedded

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/store"
)

// History returns a page of the change log, newest first. The cursor and
// the snapshot are positions in the log (seq): entries committed after the
// snapshot have larger numbers, so pinning it keeps later pages and the
// total as they were when the first page was read. Count 0 returns the
// total alone, as _count=0 does in FHIR.
func (s *Store) History(ctx context.Context, q store.HistoryQuery) (store.HistoryPage, error) {
	var page store.HistoryPage

	// One read transaction, so that the snapshot, the total and the page
	// agree even when no snapshot is given.
	rtx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return page, fmt.Errorf("embedded: history: %w", err)
	}
	defer rtx.Rollback()

	page.Snapshot = q.Snapshot
	if page.Snapshot <= 0 {
		if err := rtx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM resource_history`).Scan(&page.Snapshot); err != nil {
			return page, fmt.Errorf("embedded: history: %w", err)
		}
	}
	where, args := historyFilter(q, page.Snapshot)
	if err := rtx.QueryRowContext(ctx, `SELECT count(*) FROM resource_history`+where, args...).Scan(&page.Total); err != nil {
		return page, fmt.Errorf("embedded: history: %w", err)
	}
	if q.Count <= 0 {
		return page, nil
	}
	if q.Before > 0 {
		where += " AND seq < ?"
		args = append(args, q.Before)
	}
	// One row beyond the page tells whether there is a next one.
	args = append(args, q.Count+1)
	rows, err := rtx.QueryContext(ctx, `SELECT seq, type, id, `+resourceColumns+`
		FROM resource_history`+where+` ORDER BY seq DESC LIMIT ?`, args...)
	if err != nil {
		return page, fmt.Errorf("embedded: history: %w", err)
	}
	defer rows.Close()

	var seq, last int64
	for rows.Next() {
		if len(page.Entries) == q.Count {
			page.Next = last
			break
		}
		var r fhir.Resource
		var micros int64
		if err := rows.Scan(&seq, &r.Type, &r.ID, &r.VersionID, &micros, &r.Deleted, &r.Owner, &r.Raw, &r.PatientID); err != nil {
			return store.HistoryPage{}, fmt.Errorf("embedded: history: %w", err)
		}
		r.LastUpdated = fromMicros(micros)
		page.Entries = append(page.Entries, r)
		last = seq
	}
	if err := rows.Err(); err != nil {
		return store.HistoryPage{}, fmt.Errorf("embedded: history: %w", err)
	}
	return page, nil
}

// historyFilter returns the WHERE clause (starting with a space) and its
// arguments for every condition of q but the cursor, over the log up to
// snapshot.
func historyFilter(q store.HistoryQuery, snapshot int64) (string, []any) {
	conds := []string{"seq <= ?"}
	args := []any{snapshot}
	if q.Type != "" {
		conds = append(conds, "type = ?")
		args = append(args, q.Type)
	}
	if q.ID != "" {
		conds = append(conds, "id = ?")
		args = append(args, q.ID)
	}
	if !q.At.IsZero() {
		// The version current at At is each resource's last change at or
		// before it, a deletion included. Versions of one resource are
		// written in order under its lock, so the last is the largest seq.
		inner := append([]string{"last_updated <= ?"}, conds...)
		innerArgs := append([]any{q.At.UnixMicro()}, args...)
		conds = append(conds, "seq IN (SELECT max(seq) FROM resource_history WHERE "+
			strings.Join(inner, " AND ")+" GROUP BY type, id)")
		args = append(args, innerArgs...)
	}
	if !q.Since.IsZero() {
		conds = append(conds, "last_updated >= ?")
		args = append(args, q.Since.UnixMicro())
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}
