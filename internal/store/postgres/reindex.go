package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/store"
)

// Reindex rewrites the derived rows of the next limit resources after
// after, in one transaction (see store.Store). The resources are read FOR
// UPDATE: a writer that holds one commits first and Reindex then reads
// its new version; a writer that comes later waits, and its Put replaces
// what Reindex wrote. Either way the index ends as the newest version's.
// Locking in (type, id) order can still deadlock with a bundle that locks
// the same resources in another order; the database then aborts one of
// the two, and Reindex, like Write, runs again.
func (s *Store) Reindex(ctx context.Context, typ string, after store.ResourceKey, limit int,
	derive func(fhir.Resource) (store.Version, error)) (store.ResourceKey, int, error) {
	if limit <= 0 {
		return after, 0, fmt.Errorf("postgres: reindex: limit %d is not positive", limit)
	}
	var (
		next store.ResourceKey
		n    int
		err  error
	)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			next, n, err = reindex(ctx, tx, typ, after, limit, derive)
			return err
		})
		if !retryable(err) {
			break
		}
		if ctx.Err() != nil {
			return after, 0, ctx.Err()
		}
		time.Sleep(time.Duration(attempt+1) * time.Millisecond)
	}
	if err != nil {
		return after, 0, fmt.Errorf("postgres: reindex after %s: %w", after, s.conflict(ctx, err))
	}
	return next, n, nil
}

func reindex(ctx context.Context, tx pgx.Tx, typ string, after store.ResourceKey, limit int,
	derive func(fhir.Resource) (store.Version, error)) (store.ResourceKey, int, error) {
	// Both forms walk the primary key from the cursor; the second starts
	// at the type rather than filter every resource before it.
	where, args := `(type, id) > ($1, $2)`, []any{after.Type, after.ID, limit}
	if typ != "" {
		where, args = `type = $4 AND (type, id) > ($1, $2)`, append(args, typ)
	}
	rows, err := tx.Query(ctx, `SELECT type, id, `+resourceColumns+` FROM resources
		WHERE `+where+` AND NOT deleted ORDER BY type, id LIMIT $3 FOR UPDATE`, args...)
	if err != nil {
		return after, 0, err
	}
	current, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (fhir.Resource, error) {
		var r fhir.Resource
		err := row.Scan(&r.Type, &r.ID, &r.VersionID, &r.LastUpdated, &r.Deleted, &r.Raw, &r.Owner, &r.PatientID)
		r.LastUpdated = r.LastUpdated.UTC()
		return r, err
	})
	if err != nil || len(current) == 0 {
		return after, 0, err
	}

	// The old rows go first, resource type by resource type so that each
	// DELETE walks the (res_type, res_id) index.
	b := &pgx.Batch{}
	byType := map[string][]string{}
	var types []string
	for _, r := range current {
		if _, ok := byType[r.Type]; !ok {
			types = append(types, r.Type)
		}
		byType[r.Type] = append(byType[r.Type], r.ID)
	}
	for _, t := range types {
		for _, table := range indexTables {
			b.Queue(`DELETE FROM `+table+` WHERE res_type = $1 AND res_id = ANY($2::text[])`, t, byType[t])
		}
		// Every type: a type that no longer states relations loses those
		// an older build recorded for it.
		b.Queue(`DELETE FROM care_relations WHERE src_type = $1 AND src_id = ANY($2::text[])`, t, byType[t])
	}

	var (
		x                       indexBatch
		keyType, keyID, patient []string
		source, secLabels       []string
		sensitive               []bool
	)
	for _, r := range current {
		v, err := derive(r)
		if err != nil {
			return after, 0, fmt.Errorf("%s: %w", r.Ref(), err)
		}
		// Only the derived data is taken from v: the resource is the row
		// as it is, whatever derive did to it.
		v.Resource = fhir.Resource{Type: r.Type, ID: r.ID, VersionID: r.VersionID, PatientID: v.PatientID}
		x.addVersion(v)
		queueRelationRows(b, v)
		keyType, keyID, patient = append(keyType, r.Type), append(keyID, r.ID), append(patient, v.PatientID)
		source, sensitive, secLabels = append(source, v.Labels.Source), append(sensitive, v.Labels.Sensitive), append(secLabels, v.Labels.Joined())
	}
	// Rows whose columns already hold the derived values are left alone,
	// so that a reindex that changes little leaves few dead tuples.
	b.Queue(`UPDATE resources r SET patient_id = u.patient_id, source = u.source, sensitive = u.sensitive, sec_labels = u.sec_labels
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::text[]) AS u(type, id, patient_id, source, sensitive, sec_labels)
		WHERE r.type = u.type AND r.id = u.id
			AND (r.patient_id, r.source, r.sensitive, r.sec_labels) IS DISTINCT FROM (u.patient_id, u.source, u.sensitive, u.sec_labels)`,
		keyType, keyID, patient, source, sensitive, secLabels)
	b.Queue(`INSERT INTO care_relations (patient_id, org, src_type, src_id)
		SELECT DISTINCT r.patient_id, r.owner, '', '' FROM resources r
		JOIN unnest($1::text[], $2::text[]) AS u(type, id) ON r.type = u.type AND r.id = u.id
		WHERE r.patient_id <> '' AND r.owner <> ''
		ON CONFLICT DO NOTHING`, keyType, keyID)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return after, 0, err
	}
	if x.rows() > 0 {
		if err := tx.SendBatch(ctx, x.queue()).Close(); err != nil {
			return after, 0, err
		}
	}
	last := current[len(current)-1]
	return store.ResourceKey{Type: last.Type, ID: last.ID}, len(current), nil
}
