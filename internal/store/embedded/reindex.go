package embedded

import (
	"context"
	"fmt"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/store"
)

// Reindex rewrites the derived rows of the next limit resources after
// after, in one transaction on the writer connection (see store.Store).
// Holding the writer is what keeps concurrent writers of this process out
// until it commits. Another process can only wait for the file lock, up to
// busyTimeout: the embedded store is meant for one process, so reindex
// beside a running server is not supported.
func (s *Store) Reindex(ctx context.Context, typ string, after store.ResourceKey, limit int,
	derive func(fhir.Resource) (store.Version, error)) (store.ResourceKey, int, error) {
	if limit <= 0 {
		return after, 0, fmt.Errorf("embedded: reindex: limit %d is not positive", limit)
	}
	var (
		next store.ResourceKey
		n    int
	)
	err := s.Write(ctx, func(stx store.Tx) error {
		var err error
		next, n, err = stx.(*tx).reindex(ctx, typ, after, limit, derive)
		return err
	})
	if err != nil {
		return after, 0, fmt.Errorf("embedded: reindex after %s: %w", after, err)
	}
	return next, n, nil
}

func (t *tx) reindex(ctx context.Context, typ string, after store.ResourceKey, limit int,
	derive func(fhir.Resource) (store.Version, error)) (store.ResourceKey, int, error) {
	// Both forms walk the primary key from the cursor; the second starts
	// at the type rather than filter every resource before it.
	where, args := `(type, id) > (?, ?)`, []any{after.Type, after.ID}
	if typ != "" {
		where, args = `type = ? AND (type, id) > (?, ?)`, []any{typ, after.Type, after.ID}
	}
	rows, err := t.sqlTx.QueryContext(ctx, `SELECT type, id, version, last_updated, owner, raw FROM resources
		WHERE `+where+` AND deleted = 0 ORDER BY type, id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return after, 0, err
	}
	var current []fhir.Resource
	for rows.Next() {
		var r fhir.Resource
		var micros int64
		if err := rows.Scan(&r.Type, &r.ID, &r.VersionID, &micros, &r.Owner, &r.Raw); err != nil {
			rows.Close()
			return after, 0, err
		}
		r.LastUpdated = fromMicros(micros)
		current = append(current, r)
	}
	if err := rows.Close(); err != nil {
		return after, 0, err
	}
	if err := rows.Err(); err != nil || len(current) == 0 {
		return after, 0, err
	}
	for _, r := range current {
		v, err := derive(r)
		if err != nil {
			return after, 0, fmt.Errorf("%s: %w", r.Ref(), err)
		}
		// Only the derived data is taken from v: the resource is the row
		// as it is, whatever derive did to it. Relations are cleared for
		// every type, so that a type that no longer states relations loses
		// those an older build recorded for it.
		v.Resource = fhir.Resource{Type: r.Type, ID: r.ID, VersionID: r.VersionID, PatientID: v.PatientID}
		v.StatesRelations = true
		if err := t.putIndex(ctx, v, true); err != nil {
			if number, taken := t.nhsNumberTaken(ctx, v, err); taken != "" {
				return after, 0, store.NHSNumberTaken(number, taken)
			}
			return after, 0, fmt.Errorf("%s: %w", r.Ref(), err)
		}
		if err := t.putRelations(ctx, v); err != nil {
			return after, 0, fmt.Errorf("%s: %w", r.Ref(), err)
		}
		if _, err := t.sqlTx.ExecContext(ctx, `UPDATE resources SET patient_id = ?, source = ?, sensitive = ?, sec_labels = ?
			WHERE type = ? AND id = ?`, v.PatientID, v.Labels.Source, v.Labels.Sensitive, v.Labels.Joined(), r.Type, r.ID); err != nil {
			return after, 0, fmt.Errorf("%s: %w", r.Ref(), err)
		}
		if _, err := t.sqlTx.ExecContext(ctx, `INSERT OR IGNORE INTO care_relations (patient_id, org, src_type, src_id)
			SELECT patient_id, owner, '', '' FROM resources WHERE type = ? AND id = ? AND patient_id <> '' AND owner <> ''`, r.Type, r.ID); err != nil {
			return after, 0, fmt.Errorf("%s: %w", r.Ref(), err)
		}
	}
	last := current[len(current)-1]
	return store.ResourceKey{Type: last.Type, ID: last.ID}, len(current), nil
}
