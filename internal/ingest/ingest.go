// Package ingest is the bulk loader behind `sharedcare import`: it loads
// transaction and batch Bundles (.json) and NDJSON files (.ndjson, one
// resource a line) straight into a store, through the same write path as
// the REST API (validation, labels, search index, identity rules, audit),
// in batches, several at a time.
//
// An import can be run again after it completed or was interrupted at any
// moment, and then leaves exactly what one complete run leaves. Each
// bundle and each batch of lines commits whole or not at all; a resource
// keeps the identity its source gave it (a bundle entry's urn:uuid, a
// line's id; a name-based UUID of its content when it has none); a
// resource loaded again with the same content is skipped, not
// re-versioned; and a Patient with an NHS number attaches to the Patient
// that holds that number, whoever pushed it.
package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"

	bundles "github.com/sharedcare/sharedcare/internal/bundle"
	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/fhir/jsonscan"
	"github.com/sharedcare/sharedcare/internal/record"
	"github.com/sharedcare/sharedcare/internal/store"
)

// DefaultBatch is the number of NDJSON lines written in one transaction
// unless told otherwise.
const DefaultBatch = 500

// DefaultWorkers is the number of bundles or batches written at once
// unless told otherwise: enough to keep the database busy while the next
// batch is validated.
const DefaultWorkers = 2

// Importer loads files into a store as one source organisation.
type Importer struct {
	Records *record.Service
	Store   store.Store
	// Base is the server's FHIR base URL, as bundle.Processor needs it.
	Base string
	// Owner is the ODS code of the organisation whose records these are,
	// and Source its kind (access.RecordSource*): the import writes as
	// that organisation's source system would.
	Owner, Source string
	// Batch is the number of NDJSON lines per transaction (DefaultBatch
	// when 0), and Workers the number of transactions run at once
	// (DefaultWorkers when 0).
	Batch, Workers int
	// Failed, when set, is told of each failure as it happens (calls are
	// serialised).
	Failed func(Failure)
	// Committed, when set, is called after each bundle or batch has
	// committed (calls are serialised). Tests use it to interrupt an
	// import at a known point.
	Committed func()

	runID    string
	audited  store.Store // Store, with an audit record in each transaction
	counts   Counts
	mu       sync.Mutex // serialises Failed and Committed
	abortErr error
}

// Failure is one resource, entry or line that was not loaded: a line of
// the report.
type Failure struct {
	File string `json:"file"`
	// Line is the line of an NDJSON file (from 1); Entry the index of a
	// bundle entry (from 0), or -1 for a whole file or bundle.
	Line   int    `json:"line,omitempty"`
	Entry  *int   `json:"entry,omitempty"`
	Reason string `json:"reason"`
	// Outcome is the OperationOutcome of the failure.
	Outcome json.RawMessage `json:"outcome,omitempty"`
}

// Counts are the import's progress, updated as it runs.
type Counts struct {
	Total   atomic.Int64 // resources in all files (bundle entries and lines)
	Loaded  atomic.Int64 // created
	Updated atomic.Int64 // stored already with other content: a new version
	Skipped atomic.Int64 // stored already, unchanged, or attached to the Patient holding their NHS number
	Failed  atomic.Int64
}

// Done returns how many resources have been dealt with.
func (c *Counts) Done() int64 {
	return c.Loaded.Load() + c.Updated.Load() + c.Skipped.Load() + c.Failed.Load()
}

// Counts returns the import's live counts, for a progress display.
func (im *Importer) Counts() *Counts { return &im.counts }

// Files expands paths into the files to load: a file as given, a
// directory as every .json and .ndjson file below it, in lexical order.
func Files(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".json") || strings.HasSuffix(path, ".ndjson")) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// unit is one transaction's worth of work: a bundle file, or a batch of
// lines of an NDJSON file (or the one resource of a .json file).
type unit struct {
	file  string
	lines []line // nil for a bundle
}

// line is one resource of an NDJSON file.
type line struct {
	no  int
	raw []byte
}

// Run loads files and returns when all are loaded, ctx ends, or the store
// fails (an error that no rerun of a single resource would fix, such as a
// lost connection). The counts say what was done; failures of single
// resources are reported to Failed and do not stop the rest.
func (im *Importer) Run(ctx context.Context, files []string) error {
	if im.Owner == "" || im.Source == "" {
		return errors.New("ingest: the owner (ODS code) and record source are required")
	}
	im.runID = "import-" + uuid.NewString()
	im.audited = auditedStore{Store: im.Store, im: im}
	batch := im.Batch
	if batch <= 0 {
		batch = DefaultBatch
	}
	workers := im.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	for _, f := range files {
		n, err := countResources(f)
		if err != nil {
			return err
		}
		im.counts.Total.Add(n)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	units := make(chan unit, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range units {
				if ctx.Err() != nil {
					continue
				}
				if err := im.load(ctx, u); err != nil {
					im.abort(err)
					cancel()
				}
			}
		}()
	}
	err := im.produce(ctx, files, batch, units)
	close(units)
	wg.Wait()
	if im.abortErr != nil {
		return im.abortErr
	}
	if err != nil {
		return err
	}
	return ctx.Err()
}

func (im *Importer) abort(err error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.abortErr == nil {
		im.abortErr = err
	}
}

// produce sends the units of files, in order, until ctx ends.
func (im *Importer) produce(ctx context.Context, files []string, batch int, units chan<- unit) error {
	send := func(u unit) error {
		select {
		case units <- u:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, f := range files {
		if !strings.HasSuffix(f, ".ndjson") {
			if err := send(unit{file: f}); err != nil {
				return err
			}
			continue
		}
		err := eachLine(f, batch, func(ls []line) error { return send(unit{file: f, lines: ls}) })
		if err != nil {
			return err
		}
	}
	return nil
}

// maxLine is the longest NDJSON line read: a resource of up to 64 MiB.
const maxLine = 64 << 20

// eachLine reads the non-blank lines of an NDJSON file and hands them on
// in batches of n.
func eachLine(path string, n int, fn func([]line) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), maxLine)
	var ls []line
	no := 0
	for sc.Scan() {
		no++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		ls = append(ls, line{no: no, raw: bytes.Clone(b)})
		if len(ls) == n {
			if err := fn(ls); err != nil {
				return err
			}
			ls = nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: line %d: %w", path, no+1, err)
	}
	if len(ls) > 0 {
		return fn(ls)
	}
	return nil
}

// countLines counts the non-blank lines of a file.
func countLines(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), maxLine)
	var n int64
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			n++
		}
	}
	return n, sc.Err()
}

// countResources returns how many resources a file holds: its non-blank
// lines, a bundle's entries, or 1.
func countResources(path string) (int64, error) {
	if strings.HasSuffix(path, ".ndjson") {
		return countLines(path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return int64(countEntries(raw)), nil
}

// countEntries returns the number of entries of a Bundle, or 1 for any
// other JSON (one resource, or one failure). It scans the bytes rather than
// decoding them: the count is for the progress display and runs over every
// file before the import starts.
func countEntries(raw []byte) int {
	bundle, entries := false, 0
	err := fhir.TopLevel(raw, func(key string, value []byte) error {
		switch key {
		case "resourceType":
			bundle = string(value) == `"Bundle"`
		case "entry":
			if value[0] == '[' {
				entries = countItems(value)
			}
		}
		return nil
	})
	if err != nil || !bundle {
		return 1
	}
	return entries
}

// countItems counts the values of a JSON array.
func countItems(arr []byte) int {
	n := 0
	i := jsonscan.SkipSpace(arr, 1)
	for i < len(arr) && arr[i] != ']' {
		end, err := jsonscan.SkipValue(arr, i)
		if err != nil {
			return n
		}
		n++
		i = jsonscan.SkipSpace(arr, end)
		if i < len(arr) && arr[i] == ',' {
			i = jsonscan.SkipSpace(arr, i+1)
		}
	}
	return n
}

// load writes one unit. It returns an error only when the import must
// stop; what a single resource did wrong is a failure, reported.
func (im *Importer) load(ctx context.Context, u unit) error {
	var err error
	if u.lines != nil {
		err = im.loadLines(ctx, u.file, u.lines)
	} else {
		err = im.loadFile(ctx, u.file)
	}
	if err != nil {
		return err
	}
	if im.Committed != nil && ctx.Err() == nil {
		im.mu.Lock()
		im.Committed()
		im.mu.Unlock()
	}
	return nil
}

// loadFile loads a .json file: a transaction or batch Bundle through
// bundle.Processor, or a single resource.
func (im *Importer) loadFile(ctx context.Context, path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	typ, _, perr := fhir.Peek(raw)
	if perr != nil || typ != "Bundle" {
		return im.loadLines(ctx, path, []line{{no: 1, raw: raw}})
	}
	b := &backend{im: im, file: path, results: map[int]record.Result{}}
	p := &bundles.Processor{Records: im.Records, Store: im.audited, Base: im.Base, Loader: b}
	out, err := p.Process(ctx, raw, b, "minimal")
	if err != nil {
		if stop := im.fatal(ctx, err); stop != nil {
			return stop
		}
		im.fail(Failure{File: path, Entry: entryOf(err), Reason: reason(err), Outcome: outcomeOf(err)}, int64(countEntries(raw)))
		return nil
	}
	for _, res := range b.results {
		im.tally(res)
	}
	// A batch reports each failed entry in its response.
	var resp struct {
		Entry []bundles.Answer `json:"entry"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return err
	}
	for i, a := range resp.Entry {
		if a.Response.Status == "failed" {
			i := i
			im.fail(Failure{File: path, Entry: &i, Reason: reasonOf(a.Response.Outcome), Outcome: a.Response.Outcome}, 1)
		}
	}
	return nil
}

// tally counts a committed write.
func (im *Importer) tally(res record.Result) {
	switch {
	case res.Created:
		im.counts.Loaded.Add(1)
	case res.Unchanged:
		im.counts.Skipped.Add(1)
	default:
		im.counts.Updated.Add(1)
	}
}

// fail records a failure that counts n resources.
func (im *Importer) fail(f Failure, n int64) {
	im.counts.Failed.Add(n)
	if im.Failed != nil {
		im.mu.Lock()
		im.Failed(f)
		im.mu.Unlock()
	}
}

// fatal returns the error that must stop the import, if err is one: the
// end of ctx, or a store failure that says nothing about the data (the
// database is unreachable or locked). Any other internal error is the
// data's (a value the database cannot hold): a failure like the rest.
func (im *Importer) fatal(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if fhir.KindOf(err) != fhir.KindInternal {
		return nil
	}
	if Locked(err) {
		return fmt.Errorf("the embedded store is locked by another process (a running `sharedcare serve`?): "+
			"stop it and run the import again, which resumes where this one stopped: %w", err)
	}
	if rerr := im.Store.Ready(ctx); rerr != nil {
		return fmt.Errorf("the store failed (%v); run the import again to resume: %w", rerr, err)
	}
	return nil
}

// Locked reports whether err is the embedded store's word for a database
// another process holds the write lock of (SQLite's SQLITE_BUSY, after the
// store's busy timeout).
func Locked(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "SQLITE_BUSY") || strings.Contains(err.Error(), "database is locked"))
}

// entryOf returns the bundle entry a transaction's error names
// (Bundle.entry[n]), or nil.
func entryOf(err error) *int {
	var fe *fhir.Error
	if !errors.As(err, &fe) {
		return nil
	}
	for _, is := range fe.Issues {
		for _, ex := range is.Expression {
			var n int
			if _, err := fmt.Sscanf(ex, "Bundle.entry[%d]", &n); err == nil {
				return &n
			}
		}
	}
	return nil
}

// reason is the text of err for the report: every issue, located.
func reason(err error) string {
	var fe *fhir.Error
	if !errors.As(err, &fe) || len(fe.Issues) == 0 {
		return err.Error()
	}
	var parts []string
	for _, is := range fe.Issues {
		s := is.Diagnostics
		if len(is.Expression) > 0 && !strings.HasPrefix(s, is.Expression[0]) {
			s = strings.Join(is.Expression, ", ") + ": " + s
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// reasonOf is reason for an OperationOutcome.
func reasonOf(oo json.RawMessage) string {
	var o struct {
		Issue []struct {
			Diagnostics string   `json:"diagnostics"`
			Expression  []string `json:"expression"`
		} `json:"issue"`
	}
	if json.Unmarshal(oo, &o) != nil {
		return string(oo)
	}
	var parts []string
	for _, is := range o.Issue {
		parts = append(parts, is.Diagnostics)
	}
	return strings.Join(parts, "; ")
}
