// Package migrate copies a whole shared care record from one store to
// another: every version of every resource at its place in the change log,
// the current versions with their search index, and the audit trail with
// its hash chain. It is `sharedcare migrate-store`, which moves a
// deployment from the embedded store to Postgres.
//
// The copy is faithful where clients and auditors can tell: log positions
// (the cursors of _history paging), version numbers, lastUpdated, owners,
// patient ids, deletion markers and the stored JSON byte for byte, and the
// audit records with their chain positions and hashes, so that the chain
// verifies on the copy and records not yet sealed are sealed there. The
// search index and the access labels are not copied but derived afresh
// from each current version, as a write would, so that they are what the
// destination's schema and this build expect.
package migrate

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/record"
	"github.com/sharedcare/sharedcare/internal/store"
)

// LogEntry is one entry of the change log: a version of a resource at its
// position (Seq) in the log.
type LogEntry struct {
	Seq int64
	fhir.Resource
}

// AuditEntry is one audit record at its position in commit order (Seq)
// and, once sealed, at its link in the hash chain. Pos is 0, and PrevHash
// and Hash are nil, for a record not sealed yet.
type AuditEntry struct {
	Seq int64
	store.AuditLink
}

// Source is a whole store read in one consistent snapshot. Each method
// calls fn with successive batches of at most limit rows, and stops at the
// first error fn returns.
type Source interface {
	// History reads the change log in log order.
	History(ctx context.Context, limit int, fn func([]LogEntry) error) error
	// Resources reads the current version of every resource, deletion
	// markers included.
	Resources(ctx context.Context, limit int, fn func([]fhir.Resource) error) error
	// Audit reads the audit trail in commit order.
	Audit(ctx context.Context, limit int, fn func([]AuditEntry) error) error
}

// Destination is an empty store being filled in one transaction.
type Destination interface {
	// History appends entries to the change log at their positions.
	History(ctx context.Context, entries []LogEntry) error
	// Resources stores current versions and their search index values,
	// and returns how many index rows it wrote.
	Resources(ctx context.Context, versions []store.Version) (int, error)
	// Audit stores audit records at their positions, sealed or not.
	Audit(ctx context.Context, entries []AuditEntry) error
}

// Options tune Copy.
type Options struct {
	// Batch is how many rows are read and written at a time; 1,000 when 0.
	Batch int
	// Progress receives a line about once a second while a table is being
	// copied and one when it is done, with the rate; nil for none.
	Progress io.Writer
}

// Stats counts what Copy copied.
type Stats struct {
	Versions  int // entries of the change log
	Resources int // resources, including those whose current version is a deletion
	Deleted   int // resources whose current version is a deletion
	IndexRows int // search index rows extracted from the current versions
	Audit     int // audit records
	Sealed    int // audit records in the hash chain; the others await sealing
	Elapsed   time.Duration
}

// String summarises s for the command line.
func (s Stats) String() string {
	return fmt.Sprintf("copied %d versions of %d resources (%d deleted), %d index rows and %d audit records (%d sealed, %d awaiting sealing) in %s",
		s.Versions, s.Resources, s.Deleted, s.IndexRows, s.Audit, s.Sealed, s.Audit-s.Sealed, s.Elapsed.Round(time.Millisecond))
}

// progressEvery is how often a table's progress is reported while it is copied.
const progressEvery = time.Second

// Copy copies everything src holds to dst: the change log, then the
// current versions with their index, then the audit trail. Each table is
// read, and the index extracted, while the batch before is written.
func Copy(ctx context.Context, src Source, dst Destination, o Options) (Stats, error) {
	if o.Batch <= 0 {
		o.Batch = 1000
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	var st Stats
	start := time.Now()

	p := newProgress(o.Progress, "history", "versions")
	err := pipeline(ctx, func(ctx context.Context, emit func([]LogEntry) error) error {
		return src.History(ctx, o.Batch, emit)
	}, func(entries []LogEntry) error {
		if err := dst.History(ctx, entries); err != nil {
			return err
		}
		st.Versions += len(entries)
		p.add(len(entries))
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("migrate: history: %w", err)
	}
	p.done("")

	p = newProgress(o.Progress, "resources", "resources")
	err = pipeline(ctx, func(ctx context.Context, emit func([]store.Version) error) error {
		return src.Resources(ctx, o.Batch, func(current []fhir.Resource) error {
			versions, err := indexed(current)
			if err != nil {
				return err
			}
			return emit(versions)
		})
	}, func(versions []store.Version) error {
		n, err := dst.Resources(ctx, versions)
		if err != nil {
			return err
		}
		for _, v := range versions {
			if v.Deleted {
				st.Deleted++
			}
		}
		st.Resources += len(versions)
		st.IndexRows += n
		p.add(len(versions))
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("migrate: resources: %w", err)
	}
	p.done(fmt.Sprintf("%d deleted, %d index rows", st.Deleted, st.IndexRows))

	p = newProgress(o.Progress, "audit", "records")
	err = pipeline(ctx, func(ctx context.Context, emit func([]AuditEntry) error) error {
		return src.Audit(ctx, o.Batch, emit)
	}, func(entries []AuditEntry) error {
		if err := dst.Audit(ctx, entries); err != nil {
			return err
		}
		for _, e := range entries {
			if e.Pos > 0 {
				st.Sealed++
			}
		}
		st.Audit += len(entries)
		p.add(len(entries))
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("migrate: audit: %w", err)
	}
	p.done(fmt.Sprintf("%d sealed, %d awaiting sealing", st.Sealed, st.Audit-st.Sealed))

	st.Elapsed = time.Since(start)
	return st, nil
}

// indexed returns the current versions with the derived data (search
// index, patient, access labels, care relations) a write of each would
// store (record.Derive): none for a deletion. The labels are classified
// with the default sensitive code set, as the server's writes are.
func indexed(current []fhir.Resource) ([]store.Version, error) {
	versions := make([]store.Version, len(current))
	for i, r := range current {
		versions[i].Resource = r
		if r.Deleted {
			continue
		}
		v, err := record.DeriveVersion(r, nil)
		if err != nil {
			return nil, fmt.Errorf("index %s version %d: %w", r.Ref(), r.VersionID, err)
		}
		versions[i] = v
	}
	return versions, nil
}

// pipeline runs read, which passes batches to emit, beside write, which
// takes them in order, so that the source is read while the destination
// writes. It returns once both have stopped, with the first error of
// either: a failed write stops the reading.
func pipeline[T any](ctx context.Context, read func(ctx context.Context, emit func(T) error) error, write func(T) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan T, 1)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		readErr <- read(ctx, func(b T) error {
			select {
			case batches <- b:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	var writeErr error
	for b := range batches {
		if writeErr == nil {
			if writeErr = write(b); writeErr != nil {
				cancel()
			}
		}
	}
	if err := <-readErr; writeErr == nil {
		return err
	}
	return writeErr
}

// progress reports the rows of one table as they are copied.
type progress struct {
	w           io.Writer
	table, unit string
	n           int
	start, last time.Time
}

func newProgress(w io.Writer, table, unit string) *progress {
	now := time.Now()
	return &progress{w: w, table: table, unit: unit, start: now, last: now}
}

func (p *progress) add(n int) {
	p.n += n
	if now := time.Now(); now.Sub(p.last) >= progressEvery {
		p.last = now
		fmt.Fprintf(p.w, "%s: %d %s (%s)\n", p.table, p.n, p.unit, p.rate(now))
	}
}

// done reports the table's total, with detail when it is not empty.
func (p *progress) done(detail string) {
	if detail != "" {
		detail = ", " + detail
	}
	now := time.Now()
	fmt.Fprintf(p.w, "%s: %d %s in %s (%s%s)\n", p.table, p.n, p.unit, now.Sub(p.start).Round(time.Millisecond), p.rate(now), detail)
}

func (p *progress) rate(now time.Time) string {
	d := now.Sub(p.start).Seconds()
	if d <= 0 {
		return "-/s"
	}
	return fmt.Sprintf("%.0f/s", float64(p.n)/d)
}
