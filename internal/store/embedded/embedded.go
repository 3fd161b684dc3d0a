// Package embedded is the zero-set-up store: one SQLite database file in the
// data directory, opened through the pure-Go modernc.org/sqlite driver, so
// that the server needs no database server and builds without cgo.
//
// Writes are serialised on a single connection, each in a BEGIN IMMEDIATE
// transaction; reads use a pool of read-only connections that run in
// parallel with the writer, which SQLite's write-ahead log allows.
package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/golang-migrate/migrate/v4"
	migratesqlite "github.com/golang-migrate/migrate/v4/database/sqlite"
	"github.com/golang-migrate/migrate/v4/source/iofs"

	// The pure-Go SQLite driver, registered as "sqlite". golang-migrate's
	// database/sqlite driver imports it too; naming it here keeps the store
	// working whatever happens to that import.
	_ "modernc.org/sqlite"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/searchparam"
	"github.com/sharedcare/sharedcare/internal/store"
	"github.com/sharedcare/sharedcare/migrations"
)

// FileName is the name of the database file inside the data directory.
const FileName = "sharedcare.db"

// busyTimeout is how long a connection waits for a lock held by another
// process on the same file (say `sharedcare import` beside a running server)
// before it gives up with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// Store is a store.Store on one SQLite database file.
type Store struct {
	// w has exactly one connection, so database/sql queues writers on it:
	// that is what serialises writes, and it honours each caller's context
	// while it waits.
	w *sql.DB
	// r is the pool of read-only connections.
	r *sql.DB

	// Statements prepared once. Those on w are bound to each transaction
	// with Tx.StmtContext, which reuses the prepared statement because
	// there is only the one connection.
	current, currentVersion, insertHistory, upsertResource *sql.Stmt
	index                                                  map[searchparam.Type]indexStmts
	read, vread                                            *sql.Stmt
	// stmts is every prepared statement, to close.
	stmts []*sql.Stmt

	// schemaVersion is the newest migration this build carries.
	schemaVersion uint

	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// resourceColumns are the columns scanResource reads.
const resourceColumns = `version, last_updated, deleted, owner, raw, patient_id`

// Open opens the store in dataDir, creating the directory and the database
// when they are absent and applying any migration the database lacks, so
// that the embedded store needs no set-up step.
func Open(ctx context.Context, dataDir string) (*Store, error) {
	if err := Migrate(ctx, dataDir); err != nil {
		return nil, err
	}
	version, err := latestMigration()
	if err != nil {
		return nil, err
	}
	path, err := dbPath(dataDir)
	if err != nil {
		return nil, err
	}
	s := &Store{schemaVersion: version}

	if s.w, err = sql.Open("sqlite", dsn(path, false)); err != nil {
		return nil, fmt.Errorf("embedded: open: %w", err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	if s.r, err = sql.Open("sqlite", dsn(path, true)); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("embedded: open: %w", err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(readers)
	s.r.SetMaxIdleConns(readers)

	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	// Keep the planner's statistics current (ANALYZE where tables changed
	// enough), as SQLite recommends at open and close: without them chained
	// and identifier searches pick poor join orders.
	if _, err := s.w.ExecContext(ctx, "PRAGMA optimize=0x10002"); err != nil {
		s.Close()
		return nil, fmt.Errorf("embedded: optimize: %w", err)
	}
	return s, nil
}

func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		db   *sql.DB
		sql  string
	}{
		{&s.current, s.w, `SELECT ` + resourceColumns + ` FROM resources WHERE type = ? AND id = ?`},
		{&s.currentVersion, s.w, `SELECT version FROM resources WHERE type = ? AND id = ?`},
		{&s.insertHistory, s.w, `INSERT INTO resource_history (type, id, version, patient_id, last_updated, deleted, owner, raw)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`},
		{&s.upsertResource, s.w, `INSERT INTO resources (type, id, version, patient_id, last_updated, deleted, owner, raw, source, sensitive, sec_labels)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (type, id) DO UPDATE SET version = excluded.version, patient_id = excluded.patient_id,
				last_updated = excluded.last_updated, deleted = excluded.deleted, owner = excluded.owner, raw = excluded.raw,
				source = excluded.source, sensitive = excluded.sensitive, sec_labels = excluded.sec_labels`},
		{&s.read, s.r, `SELECT ` + resourceColumns + ` FROM resources WHERE type = ? AND id = ?`},
		{&s.vread, s.r, `SELECT ` + resourceColumns + ` FROM resource_history WHERE type = ? AND id = ? AND version = ?`},
	} {
		st, err := p.db.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("embedded: prepare: %w", err)
		}
		*p.stmt = st
		s.stmts = append(s.stmts, st)
	}
	return s.prepareIndex(ctx)
}

// Close releases the store's connections. It may be called more than once.
func (s *Store) Close() {
	s.closeOnce.Do(func() {
		_, _ = s.w.Exec("PRAGMA optimize")
		for _, st := range s.stmts {
			st.Close()
		}
		s.r.Close()
		s.w.Close()
	})
}

// Migrate brings the database in dataDir up to the schema this build
// carries, creating the directory and the database file when absent.
func Migrate(ctx context.Context, dataDir string) error {
	// The directory holds patient records: only the server's user reads it.
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("embedded: create data directory: %w", err)
	}
	path, err := dbPath(dataDir)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return fmt.Errorf("embedded: open: %w", err)
	}
	drv, err := migratesqlite.WithInstance(db, &migratesqlite.Config{})
	if err != nil {
		db.Close()
		return fmt.Errorf("embedded: migrate: %w", err)
	}
	src, err := iofs.New(migrations.SQLite(), ".")
	if err != nil {
		drv.Close()
		return fmt.Errorf("embedded: migrate: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "sqlite", drv)
	if err != nil {
		src.Close()
		drv.Close()
		return fmt.Errorf("embedded: migrate: %w", err)
	}
	defer m.Close()

	// golang-migrate takes no context; it stops between migrations when
	// told to, which is as soon as stopping is safe.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			m.GracefulStop <- true
		case <-done:
		}
	}()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("embedded: migrate: %w", err)
	}
	return ctx.Err()
}

// latestMigration returns the newest schema version this build carries.
func latestMigration() (uint, error) {
	src, err := iofs.New(migrations.SQLite(), ".")
	if err != nil {
		return 0, fmt.Errorf("embedded: migrations: %w", err)
	}
	defer src.Close()
	v, err := src.First()
	if err != nil {
		return 0, fmt.Errorf("embedded: migrations: %w", err)
	}
	for {
		next, err := src.Next(v)
		if errors.Is(err, os.ErrNotExist) {
			return v, nil
		}
		if err != nil {
			return 0, fmt.Errorf("embedded: migrations: %w", err)
		}
		v = next
	}
}

func dbPath(dataDir string) (string, error) {
	p, err := filepath.Abs(filepath.Join(dataDir, FileName))
	if err != nil {
		return "", fmt.Errorf("embedded: data directory: %w", err)
	}
	return p, nil
}

// dsn returns the driver's connection string for the database at path.
//
// synchronous=FULL makes every commit wait for the write-ahead log to reach
// the disk. NORMAL, the usual companion of WAL, survives a crash of the
// process but can lose the last commits to a power cut or a kernel crash,
// and a 2xx promises that nothing acknowledged is lost.
//
// The writer begins its transactions IMMEDIATE: the write lock is taken at
// BEGIN, so the transaction's reads see the latest commit of any process
// and no lock upgrade can fail halfway through. Readers are query_only, so
// that a read path cannot write by mistake.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(busyTimeout.Milliseconds()))
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_foreign_keys", "1")
	if readOnly {
		q.Set("_query_only", "1")
	} else {
		q.Set("_txlock", "immediate")
	}
	// A file: URI with the path escaped, so that a data directory whose
	// name holds '?' or '#' still names the right file.
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}).String()
}

// Ready reports an error when the database cannot be read or its schema is
// not the one this build carries.
func (s *Store) Ready(ctx context.Context) error {
	var version int64
	var dirty bool
	err := s.r.QueryRowContext(ctx, `SELECT version, dirty FROM schema_migrations LIMIT 1`).Scan(&version, &dirty)
	if err != nil {
		return fmt.Errorf("embedded: schema version: %w", err)
	}
	if dirty || version != int64(s.schemaVersion) {
		return fmt.Errorf("embedded: schema at version %d (dirty %v), this build needs %d: run `sharedcare migrate up`",
			version, dirty, s.schemaVersion)
	}
	return nil
}

// Read returns the current version of typ/id.
func (s *Store) Read(ctx context.Context, typ, id string) (fhir.Resource, error) {
	r, err := scanResource(s.read.QueryRowContext(ctx, typ, id), typ, id)
	if errors.Is(err, sql.ErrNoRows) {
		return fhir.Resource{}, fhir.NotFound(typ, id)
	}
	return r, err
}

// VRead returns one version of typ/id.
func (s *Store) VRead(ctx context.Context, typ, id string, version int64) (fhir.Resource, error) {
	r, err := scanResource(s.vread.QueryRowContext(ctx, typ, id, version), typ, id)
	if errors.Is(err, sql.ErrNoRows) {
		return fhir.Resource{}, fhir.Errorf(fhir.KindNotFound, "not-found", "Version %d of %s/%s is not known", version, typ, id)
	}
	return r, err
}

// scanResource reads resourceColumns.
func scanResource(row *sql.Row, typ, id string) (fhir.Resource, error) {
	r := fhir.Resource{Type: typ, ID: id}
	var micros int64
	if err := row.Scan(&r.VersionID, &micros, &r.Deleted, &r.Owner, &r.Raw, &r.PatientID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return r, err
		}
		return r, fmt.Errorf("embedded: read %s/%s: %w", typ, id, err)
	}
	r.LastUpdated = fromMicros(micros)
	return r, nil
}

// fromMicros is the inverse of time.Time.UnixMicro, in UTC.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// Write runs fn in one transaction on the writer connection and commits it
// when fn returns nil. Writers queue for the connection, so transactions
// never conflict and fn runs exactly once.
func (s *Store) Write(ctx context.Context, fn func(tx store.Tx) error) error {
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("embedded: begin: %w", err)
	}
	// Rolling back in a defer also covers a panic in fn, which would
	// otherwise leave the only writer connection inside a transaction.
	committed := false
	defer func() {
		if !committed {
			sqlTx.Rollback()
		}
	}()
	t := &tx{s: s, sqlTx: sqlTx}
	if err := fn(t); err != nil {
		return err
	}
	if t.err != nil {
		return t.err
	}
	if err := sqlTx.Commit(); err != nil {
		// database/sql rolls back by itself when ctx ends; say why rather
		// than report a transaction that was already done.
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		return fmt.Errorf("embedded: commit: %w", err)
	}
	committed = true
	return nil
}

type tx struct {
	s     *Store
	sqlTx *sql.Tx
	bound map[*sql.Stmt]*sql.Stmt
	// err is the first failed Put. A Put that failed may have written half
	// a version, so the transaction must not commit even if fn ignores it.
	err error
}

// stmt returns the store's statement st bound to the transaction.
func (t *tx) stmt(ctx context.Context, st *sql.Stmt) *sql.Stmt {
	b, ok := t.bound[st]
	if !ok {
		if t.bound == nil {
			t.bound = map[*sql.Stmt]*sql.Stmt{}
		}
		b = t.sqlTx.StmtContext(ctx, st)
		t.bound[st] = b
	}
	return b
}

// Current returns the current version of typ/id. The transaction already
// holds the database's write lock, so nothing else can change it.
func (t *tx) Current(ctx context.Context, typ, id string) (fhir.Resource, bool, error) {
	r, err := scanResource(t.stmt(ctx, t.s.current).QueryRowContext(ctx, typ, id), typ, id)
	if errors.Is(err, sql.ErrNoRows) {
		return fhir.Resource{}, false, nil
	}
	if err != nil {
		return fhir.Resource{}, false, err
	}
	return r, true, nil
}

// Put appends v to the history, makes it current and replaces the
// resource's search index rows with v.Index. A version that does not
// follow the current one is a fhir.KindConflict error.
func (t *tx) Put(ctx context.Context, v store.Version) error {
	if t.err != nil {
		return t.err
	}
	if err := t.put(ctx, v); err != nil {
		t.err = err
		return err
	}
	return nil
}

func (t *tx) put(ctx context.Context, v store.Version) error {
	if v.Deleted != (v.Raw == nil) {
		return fmt.Errorf("embedded: put %s/%s version %d: a deletion must have no body and any other version must have one",
			v.Type, v.ID, v.VersionID)
	}
	var current int64
	err := t.stmt(ctx, t.s.currentVersion).QueryRowContext(ctx, v.Type, v.ID).Scan(&current)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("embedded: put %s/%s: %w", v.Type, v.ID, err)
	}
	if v.VersionID != current+1 {
		return fhir.Errorf(fhir.KindConflict, "conflict", "%s/%s is at version %d: version %d cannot follow it",
			v.Type, v.ID, current, v.VersionID)
	}
	args := []any{v.Type, v.ID, v.VersionID, v.PatientID, v.LastUpdated.UnixMicro(), v.Deleted, v.Owner, v.Raw}
	if _, err := t.stmt(ctx, t.s.insertHistory).ExecContext(ctx, args...); err != nil {
		return fmt.Errorf("embedded: put %s/%s: %w", v.Type, v.ID, err)
	}
	if _, err := t.stmt(ctx, t.s.upsertResource).ExecContext(ctx,
		append(args, v.Labels.Source, v.Labels.Sensitive, v.Labels.Joined())...); err != nil {
		return fmt.Errorf("embedded: put %s/%s: %w", v.Type, v.ID, err)
	}
	if err := t.putIndex(ctx, v, v.VersionID > 1); err != nil {
		if number, taken := t.nhsNumberTaken(ctx, v, err); taken != "" {
			return store.NHSNumberTaken(number, taken)
		}
		return fmt.Errorf("embedded: put %s/%s: %w", v.Type, v.ID, err)
	}
	if err := t.putRelations(ctx, v); err != nil {
		return fmt.Errorf("embedded: put %s/%s: %w", v.Type, v.ID, err)
	}
	return nil
}

// putRelations replaces the care relationships the resource states.
func (t *tx) putRelations(ctx context.Context, v store.Version) error {
	if v.PatientID != "" && v.Owner != "" {
		// Owning a record of the patient is a relationship too.
		if _, err := t.sqlTx.ExecContext(ctx, `INSERT OR IGNORE INTO care_relations (patient_id, org, src_type, src_id) VALUES (?, ?, '', '')`,
			v.PatientID, v.Owner); err != nil {
			return err
		}
	}
	if !v.StatesRelations {
		return nil
	}
	if _, err := t.sqlTx.ExecContext(ctx, `DELETE FROM care_relations WHERE src_type = ? AND src_id = ?`, v.Type, v.ID); err != nil {
		return err
	}
	if v.Deleted || v.PatientID == "" {
		return nil
	}
	for _, org := range v.Relations {
		if _, err := t.sqlTx.ExecContext(ctx, `INSERT OR IGNORE INTO care_relations (patient_id, org, src_type, src_id) VALUES (?, ?, ?, ?)`,
			v.PatientID, org, v.Type, v.ID); err != nil {
			return err
		}
	}
	return nil
}

// Stats reports the writer connection and the reader pool together, for
// the metrics endpoint. WaitCount counts, above all, writers that queued
// behind another write.
func (s *Store) Stats() store.PoolStats {
	w, r := s.w.Stats(), s.r.Stats()
	return store.PoolStats{
		Total:        w.OpenConnections + r.OpenConnections,
		Idle:         w.Idle + r.Idle,
		InUse:        w.InUse + r.InUse,
		Max:          w.MaxOpenConnections + r.MaxOpenConnections,
		WaitCount:    w.WaitCount + r.WaitCount,
		WaitDuration: w.WaitDuration + r.WaitDuration,
	}
}
