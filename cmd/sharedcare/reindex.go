package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/fhir/r4"
	"github.com/sharedcare/sharedcare/internal/record"
	"github.com/sharedcare/sharedcare/internal/search"
	"github.com/sharedcare/sharedcare/internal/store"
	"github.com/sharedcare/sharedcare/internal/store/embedded"
)

const reindexUsage = `usage: sharedcare reindex [--type T] [--batch N] [--after Type/id] [store flags]

Rebuilds what the server derives from each resource's current version (the
search index, the patient, the access labels and the care relations) after
the search parameter definitions, the extraction or the sensitive code set
changed. It creates no version and leaves the history, lastUpdated and the
audit trail as they are. Each batch is one transaction that locks its
resources, so on Postgres the server keeps serving while it runs. The
embedded store is single-process: stop the server first.

An interrupted reindex prints its cursor; --after continues from there.

flags:
`

// reindexProgressEvery is how often progress is reported when stderr is
// not a terminal (a log file); a terminal is redrawn every
// reindexRedrawEvery.
const (
	reindexProgressEvery = 5 * time.Second
	reindexRedrawEvery   = 200 * time.Millisecond
)

// reindexCmd runs `sharedcare reindex`.
func reindexCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("reindex", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, reindexUsage)
		fs.PrintDefaults()
	}
	c := configFlags(fs, getenv)
	typ := fs.String("type", "", "reindex only resources of this type (default: every type)")
	batch := fs.Int("batch", 500, "resources rewritten per transaction")
	afterFlag := fs.String("after", "", "continue after this resource (Type/id), as an interrupted reindex printed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("reindex: unexpected argument %q", fs.Arg(0))
	}
	if *typ != "" && !r4.IsResourceType(*typ) {
		return fmt.Errorf("reindex: --type %q is not a FHIR R4 resource type", *typ)
	}
	if *batch <= 0 {
		return errors.New("reindex: --batch must be positive")
	}
	var after store.ResourceKey
	if *afterFlag != "" {
		t, id, ok := strings.Cut(*afterFlag, "/")
		if !ok || !r4.IsResourceType(t) || id == "" {
			return fmt.Errorf("reindex: --after %q is not Type/id", *afterFlag)
		}
		if *typ != "" && t != *typ {
			return fmt.Errorf("reindex: --after %s is not a %s, the --type reindexed", *afterFlag, *typ)
		}
		after = store.ResourceKey{Type: t, ID: id}
	}
	if c.DatabaseURL == "" {
		// Opening the embedded store creates one where there is none:
		// a mistyped directory must be an error, not an empty reindex.
		if _, err := os.Stat(filepath.Join(c.DataDir, embedded.FileName)); err != nil {
			return fmt.Errorf("reindex: no embedded store in %s: %w", c.DataDir, err)
		}
		fmt.Fprintf(stderr, "reindex: embedded store in %s: it is single-process, so the server must not be running on it\n", c.DataDir)
	}
	log, err := newLogger(c.LogLevel, stderr)
	if err != nil {
		return err
	}
	codes := access.DefaultSensitiveCodes()
	if c.SensitiveCodes != "" {
		if codes, err = access.LoadSensitiveCodes(c.SensitiveCodes); err != nil {
			return err
		}
	}
	st, err := openStore(ctx, c, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Ready(ctx); err != nil {
		return err
	}

	// The total is for the progress line only: the count of resources
	// (deleted ones aside) when the reindex starts, whatever the cursor.
	q := &search.Query{Count: 0, Total: search.TotalAccurate}
	if *typ != "" {
		q.Types = []string{*typ}
	}
	page, err := st.Search(ctx, q)
	if err != nil {
		return fmt.Errorf("reindex: counting the resources: %w", err)
	}
	total := 0
	if page.Total != nil {
		total = *page.Total
	}

	what := "every resource"
	if *typ != "" {
		what = "every " + *typ
	}
	if after != (store.ResourceKey{}) {
		what += " after " + after.String()
	}
	fmt.Fprintf(stdout, "reindex: %s (%d in the store), %d per transaction\n", what, total, *batch)

	derive := func(r fhir.Resource) (store.Version, error) { return record.DeriveVersion(r, codes) }
	p := newReindexProgress(stderr, isTerminal(stderr), total)
	cursor, done := after, 0
	for {
		next, n, err := st.Reindex(ctx, *typ, cursor, *batch, derive)
		if err != nil {
			p.finish()
			resume := ""
			if cursor != (store.ResourceKey{}) {
				resume = " --after " + cursor.String()
			}
			if ctx.Err() != nil {
				return fmt.Errorf("reindex interrupted after %d resources; every resource up to %s is done: continue with `sharedcare reindex%s%s`",
					done, cursor, typeFlag(*typ), resume)
			}
			return fmt.Errorf("reindex: %w (%d resources done; continue with `sharedcare reindex%s%s` once it is fixed)",
				err, done, typeFlag(*typ), resume)
		}
		cursor, done = next, done+n
		p.update(done)
		if n < *batch {
			break
		}
	}
	p.finish()
	el := p.elapsed()
	fmt.Fprintf(stdout, "reindex: %d resources in %s (%.0f resources/s)\n", done, el.Round(time.Millisecond), float64(done)/el.Seconds())
	return nil
}

func typeFlag(typ string) string {
	if typ == "" {
		return ""
	}
	return " --type " + typ
}

// reindexProgress reports done/total, the rate and the time left: redrawn
// in place on a terminal, a line every reindexProgressEvery otherwise.
type reindexProgress struct {
	w           io.Writer
	terminal    bool
	total, done int
	start, last time.Time
	drawn       bool
}

func newReindexProgress(w io.Writer, terminal bool, total int) *reindexProgress {
	now := time.Now()
	return &reindexProgress{w: w, terminal: terminal, total: total, start: now, last: now}
}

func (p *reindexProgress) elapsed() time.Duration { return time.Since(p.start) }

// update records that done resources are rewritten and reports them when
// it is time to.
func (p *reindexProgress) update(done int) {
	p.done = done
	now := time.Now()
	every := reindexProgressEvery
	if p.terminal {
		every = reindexRedrawEvery
	}
	if now.Sub(p.last) < every {
		return
	}
	p.last = now
	p.draw(now)
}

func (p *reindexProgress) draw(now time.Time) {
	el := now.Sub(p.start)
	rate := float64(p.done) / el.Seconds()
	// Resources created meanwhile can take done past the count taken at
	// the start.
	total := max(p.total, p.done)
	eta := "-"
	if rate > 0 {
		eta = time.Duration(float64(total-p.done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	line := fmt.Sprintf("reindex: %d/%d resources (%.0f%%), %.0f resources/s, ETA %s", p.done, total, percent(p.done, total), rate, eta)
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.drawn = true
		return
	}
	fmt.Fprintln(p.w, line)
}

// finish ends a redrawn line, so that what follows starts on its own.
func (p *reindexProgress) finish() {
	if p.terminal && p.drawn {
		p.draw(time.Now())
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

func percent(done, total int) float64 {
	if total == 0 {
		return 100
	}
	return 100 * float64(done) / float64(total)
}
