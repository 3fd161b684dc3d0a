// Package postgres is the production store: PostgreSQL through pgx v5. It is
// the only package that knows about pgx.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/store"
	"github.com/sharedcare/sharedcare/migrations"
)

// Store is a store.Store on a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	// moved counts the records the sealer has moved out of audit_inbox
	// since it last vacuumed it (see SealAudit).
	moved atomic.Int64
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or DSN). It does
// not migrate: call Migrate first, or check Ready.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse database URL: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	return &Store{pool: pool}, nil
}

// Close releases the connection pool.
func (s *Store) Close() { s.pool.Close() }

// Stats reports the connection pool's state for the metrics endpoint.
func (s *Store) Stats() store.PoolStats {
	st := s.pool.Stat()
	return store.PoolStats{
		Total:        int(st.TotalConns()),
		Idle:         int(st.IdleConns()),
		InUse:        int(st.AcquiredConns()),
		Max:          int(st.MaxConns()),
		WaitCount:    st.EmptyAcquireCount(),
		WaitDuration: st.AcquireDuration(),
	}
}

// Migrate brings the schema at url up to the version this build carries.
func Migrate(ctx context.Context, url string) error {
	m, err := newMigrate(url)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

func newMigrate(url string) (*migrate.Migrate, error) {
	src, err := iofs.New(migrations.Postgres(), ".")
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse database URL: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	drv, err := migratepgx.WithInstance(db, &migratepgx.Config{})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	return migrate.NewWithInstance("iofs", src, "pgx5", drv)
}

// latestMigration is the newest schema version this build carries.
func latestMigration() (uint, error) {
	src, err := iofs.New(migrations.Postgres(), ".")
	if err != nil {
		return 0, err
	}
	defer src.Close()
	v, err := src.First()
	if err != nil {
		return 0, err
	}
	for {
		next, err := src.Next(v)
		if err != nil {
			return v, nil
		}
		v = next
	}
}

// Ready reports an error unless the database answers and its schema is at
// the version this build carries, clean.
func (s *Store) Ready(ctx context.Context) error {
	want, err := latestMigration()
	if err != nil {
		return err
	}
	var version int64
	var dirty bool
	err = s.pool.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations LIMIT 1`).Scan(&version, &dirty)
	if err != nil {
		return fmt.Errorf("postgres: schema version: %w", err)
	}
	if dirty || uint(version) != want {
		return fmt.Errorf("postgres: schema at version %d (dirty %v), this build needs %d: run `sharedcare migrate up`", version, dirty, want)
	}
	return nil
}

const resourceColumns = `version, last_updated, deleted, raw, owner, patient_id`

func scanResource(row pgx.Row, typ, id string) (fhir.Resource, error) {
	r := fhir.Resource{Type: typ, ID: id}
	err := row.Scan(&r.VersionID, &r.LastUpdated, &r.Deleted, &r.Raw, &r.Owner, &r.PatientID)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fhir.NotFound(typ, id)
	}
	r.LastUpdated = r.LastUpdated.UTC()
	return r, err
}

// Read returns the current version of typ/id.
func (s *Store) Read(ctx context.Context, typ, id string) (fhir.Resource, error) {
	return scanResource(s.pool.QueryRow(ctx,
		`SELECT `+resourceColumns+` FROM resources WHERE type = $1 AND id = $2`, typ, id), typ, id)
}

// VRead returns one version of typ/id.
func (s *Store) VRead(ctx context.Context, typ, id string, version int64) (fhir.Resource, error) {
	return scanResource(s.pool.QueryRow(ctx,
		`SELECT `+resourceColumns+` FROM resource_history WHERE type = $1 AND id = $2 AND version = $3`,
		typ, id, version), typ, id)
}

// maxAttempts bounds the retries of a write that lost a race with a
// concurrent transaction.
const maxAttempts = 10

// Write runs fn in one transaction, retrying it when it lost a race with a
// concurrent writer (a unique violation on a new resource, a serialization
// failure or a deadlock).
//
// Puts are queued and sent in one batch at commit. A write that reads
// nothing (a create with a server id) therefore costs one round trip: the
// batch runs as an implicit transaction, all or nothing. A write that reads
// the current version opens an explicit transaction first.
func (s *Store) Write(ctx context.Context, fn func(store.Tx) error) error {
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		err = s.write(ctx, fn)
		if !retryable(err) {
			return s.conflict(ctx, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(time.Duration(attempt+1) * time.Millisecond)
	}
	return s.conflict(ctx, err)
}

// conflict turns the database's word for a lost race or a failed version
// check into a fhir.KindConflict error.
func (s *Store) conflict(ctx context.Context, err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	if pe.ConstraintName == nhsNumberIndex {
		// Detail reads: Key (code)=(9912003888) already exists.
		number := pe.Detail
		if i, j := strings.Index(number, "=("), strings.LastIndex(number, ")"); i >= 0 && j > i+2 {
			number = number[i+2 : j]
		}
		var id string
		_ = s.pool.QueryRow(ctx, `SELECT res_id FROM idx_token WHERE res_type = 'Patient' AND param = 'identifier'
			AND system = $1 AND code = $2`, store.NHSNumberSystem, number).Scan(&id)
		return store.NHSNumberTaken(number, id)
	}
	switch pe.Code {
	case "SC409":
		return &fhir.Error{Kind: fhir.KindConflict, Err: err, Issues: []fhir.Issue{{Severity: "error", Code: "conflict", Diagnostics: pe.Message}}}
	case "23505", "40001", "40P01":
		return &fhir.Error{Kind: fhir.KindConflict, Err: err, Issues: []fhir.Issue{{Severity: "error", Code: "conflict",
			Diagnostics: "the write conflicted with concurrent writes and was not applied; retry it"}}}
	}
	return err
}

func (s *Store) write(ctx context.Context, fn func(store.Tx) error) (err error) {
	t := &tx{pool: s.pool, batch: &pgx.Batch{}}
	defer func() {
		if t.t != nil {
			// A no-op after a successful commit.
			_ = t.t.Rollback(ctx)
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	if t.err != nil {
		return t.err
	}
	if t.t == nil {
		t.queueCreated()
		if t.batch.Len() == 0 {
			return nil
		}
		return s.pool.SendBatch(ctx, t.batch).Close()
	}
	if err := t.flush(ctx); err != nil {
		return err
	}
	return t.t.Commit(ctx)
}

// nhsNumberIndex is the unique index that holds one Patient per NHS number.
const nhsNumberIndex = "idx_token_nhs_number"

func retryable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.ConstraintName == nhsNumberIndex {
		return false
	}
	switch pe.Code {
	case "23505", "40001", "40P01": // unique_violation, serialization_failure, deadlock_detected
		return true
	}
	return false
}

// tx is one write transaction. It opens a database transaction only when
// it first needs to read; until then writes wait in batch.
type tx struct {
	pool  *pgxpool.Pool
	t     pgx.Tx
	batch *pgx.Batch
	// err is the first refused Put: the write fails even if fn ignores it.
	err error
	// created holds the first versions of new resources until the next
	// statement that must follow them, so that a transaction creating many
	// resources writes each table once (queueCreated).
	created []store.Version
}

// begin opens the database transaction and sends any queued writes in it.
func (t *tx) begin(ctx context.Context) error {
	if t.t != nil {
		return nil
	}
	var err error
	if t.t, err = t.pool.Begin(ctx); err != nil {
		return err
	}
	return t.flush(ctx)
}

func (t *tx) flush(ctx context.Context) error {
	t.queueCreated()
	if t.batch.Len() == 0 {
		return nil
	}
	b := t.batch
	t.batch = &pgx.Batch{}
	return t.t.SendBatch(ctx, b).Close()
}

func (t *tx) Current(ctx context.Context, typ, id string) (fhir.Resource, bool, error) {
	if err := t.begin(ctx); err != nil {
		return fhir.Resource{}, false, err
	}
	r, err := scanResource(t.t.QueryRow(ctx,
		`SELECT `+resourceColumns+` FROM resources WHERE type = $1 AND id = $2 FOR UPDATE`, typ, id), typ, id)
	if fhir.KindOf(err) == fhir.KindNotFound {
		return r, false, nil
	}
	return r, err == nil, err
}

func (t *tx) Put(ctx context.Context, v store.Version) error {
	if t.err != nil {
		return t.err
	}
	if v.Deleted != (v.Raw == nil) {
		t.err = fmt.Errorf("postgres: put %s/%s version %d: a deletion has no body and every other version has one",
			v.Type, v.ID, v.VersionID)
		return t.err
	}
	if v.VersionID == 1 {
		t.created = append(t.created, v)
		return nil
	}
	t.queueCreated()
	b := t.batch
	b.Queue(`INSERT INTO resource_history (type, id, version, patient_id, last_updated, deleted, raw, owner)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		v.Type, v.ID, v.VersionID, v.PatientID, v.LastUpdated, v.Deleted, v.Raw, v.Owner)
	// The version check runs in the database, so that a gap aborts the
	// transaction even when the batch runs as an implicit one.
	b.Queue(`WITH u AS (
			UPDATE resources SET version = $3, patient_id = $4, last_updated = $5, deleted = $6, raw = $7, owner = $8,
				source = $10, sensitive = $11, sec_labels = $12
			WHERE type = $1 AND id = $2 AND version = $3 - 1 RETURNING 1)
		SELECT sharedcare_conflict(EXISTS (SELECT 1 FROM u), $9)`,
		v.Type, v.ID, v.VersionID, v.PatientID, v.LastUpdated, v.Deleted, v.Raw, v.Owner,
		fmt.Sprintf("%s/%s is not at version %d: version %d cannot follow it", v.Type, v.ID, v.VersionID-1, v.VersionID),
		v.Labels.Source, v.Labels.Sensitive, v.Labels.Joined())
	queueIndex(b, v)
	queueRelations(b, v)
	if v.PatientID != "" && v.Owner != "" {
		queueOwnership(b, []string{v.PatientID}, []string{v.Owner})
	}
	return nil
}

// queueCreated queues the versions held in created, the first versions of
// new resources, as one INSERT per table: a transaction creating many
// resources (a bundle, an import batch) costs a handful of statements
// rather than a handful per resource. It runs before any statement that
// must see them, or follow them, is queued or sent.
func (t *tx) queueCreated() {
	vs := t.created
	if len(vs) == 0 {
		return
	}
	t.created = nil
	n := len(vs)
	var (
		types, ids, patients, owners, sources, labels = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		versions                                      = make([]int64, n)
		updated                                       = make([]time.Time, n)
		deleted, sensitive                            = make([]bool, n), make([]bool, n)
		raws                                          = make([][]byte, n)
	)
	var x indexBatch
	for i, v := range vs {
		types[i], ids[i], versions[i], patients[i], updated[i], deleted[i], raws[i], owners[i] =
			v.Type, v.ID, v.VersionID, v.PatientID, v.LastUpdated, v.Deleted, v.Raw, v.Owner
		sources[i], sensitive[i], labels[i] = v.Labels.Source, v.Labels.Sensitive, v.Labels.Joined()
		if !v.Deleted {
			x.addVersion(v)
		}
	}
	b := t.batch
	b.Queue(`INSERT INTO resource_history (type, id, version, patient_id, last_updated, deleted, raw, owner)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::timestamptz[], $6::boolean[], $7::bytea[], $8::text[])`,
		types, ids, versions, patients, updated, deleted, raws, owners)
	b.Queue(`INSERT INTO resources (type, id, version, patient_id, last_updated, deleted, raw, owner, source, sensitive, sec_labels)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::timestamptz[], $6::boolean[], $7::bytea[], $8::text[],
			$9::text[], $10::boolean[], $11::text[])`,
		types, ids, versions, patients, updated, deleted, raws, owners, sources, sensitive, labels)
	x.queueInto(b)
	for _, v := range vs {
		queueRelationRows(b, v)
	}
	queueOwnership(b, patients, owners)
}

// queueOwnership records that each owners[i] owns a record of patients[i]:
// a care relationship, kept beside those resources state.
func queueOwnership(b *pgx.Batch, patients, owners []string) {
	b.Queue(`INSERT INTO care_relations (patient_id, org, src_type, src_id)
		SELECT DISTINCT p, o, '', '' FROM unnest($1::text[], $2::text[]) AS t(p, o) WHERE p <> '' AND o <> ''
		ON CONFLICT DO NOTHING`, patients, owners)
}

// queueRelations replaces the care relationships the resource states.
func queueRelations(b *pgx.Batch, v store.Version) {
	if !v.StatesRelations {
		return
	}
	if v.VersionID > 1 {
		b.Queue(`DELETE FROM care_relations WHERE src_type = $1 AND src_id = $2`, v.Type, v.ID)
	}
	queueRelationRows(b, v)
}

// queueRelationRows adds the care relationships v states to those its
// resource has: what queueRelations writes once the old ones are gone.
func queueRelationRows(b *pgx.Batch, v store.Version) {
	if v.Deleted || v.PatientID == "" || len(v.Relations) == 0 {
		return
	}
	b.Queue(`INSERT INTO care_relations (patient_id, org, src_type, src_id)
		SELECT $1, org, $3, $4 FROM unnest($2::text[]) org ON CONFLICT DO NOTHING`,
		v.PatientID, v.Relations, v.Type, v.ID)
}

// History returns a page of the change log, newest first.
func (s *Store) History(ctx context.Context, q store.HistoryQuery) (store.HistoryPage, error) {
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if q.Type != "" {
		where = append(where, "h.type = "+arg(q.Type))
	}
	if q.ID != "" {
		where = append(where, "h.id = "+arg(q.ID))
	}
	if !q.Since.IsZero() {
		where = append(where, "h.last_updated >= "+arg(q.Since))
	}
	if !q.At.IsZero() {
		at := arg(q.At)
		where = append(where, "h.last_updated <= "+at,
			`NOT EXISTS (SELECT 1 FROM resource_history n WHERE n.type = h.type AND n.id = h.id
				AND n.version = h.version + 1 AND n.last_updated <= `+at+`)`)
	}
	if q.Snapshot > 0 {
		where = append(where, "h.seq <= "+arg(q.Snapshot))
	}
	filter := ""
	if len(where) > 0 {
		filter = " WHERE " + strings.Join(where, " AND ")
	}
	page := store.HistoryPage{Snapshot: q.Snapshot}
	if err := s.pool.QueryRow(ctx, `SELECT count(*), coalesce(max(h.seq), 0) FROM resource_history h`+filter, args...).
		Scan(&page.Total, &page.Snapshot); err != nil {
		return page, err
	}
	if q.Snapshot > 0 {
		page.Snapshot = q.Snapshot
	}
	// The page reads the same snapshot the total counted.
	if filter == "" {
		filter = " WHERE "
	} else {
		filter += " AND "
	}
	filter += "h.seq <= " + arg(page.Snapshot)
	if q.Before > 0 {
		filter += " AND h.seq < " + arg(q.Before)
	}
	count := q.Count
	if count <= 0 {
		// _count=0: the total alone.
		return page, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT h.seq, h.type, h.id, h.version, h.last_updated, h.deleted, h.raw, h.owner, h.patient_id
		FROM resource_history h`+filter+` ORDER BY h.seq DESC LIMIT `+arg(count+1), args...)
	if err != nil {
		return page, err
	}
	defer rows.Close()
	var lastSeq int64
	for rows.Next() {
		if len(page.Entries) == count {
			// One row beyond the page: there is a next page, starting
			// after the last entry of this one.
			page.Next = lastSeq
			break
		}
		r := fhir.Resource{}
		if err := rows.Scan(&lastSeq, &r.Type, &r.ID, &r.VersionID, &r.LastUpdated, &r.Deleted, &r.Raw, &r.Owner, &r.PatientID); err != nil {
			return page, err
		}
		r.LastUpdated = r.LastUpdated.UTC()
		page.Entries = append(page.Entries, r)
	}
	return page, rows.Err()
}
