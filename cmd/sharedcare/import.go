package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"time"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/audit"
	"github.com/sharedcare/sharedcare/internal/ingest"
	"github.com/sharedcare/sharedcare/internal/record"
)

// importCommitted, when set, is called after each bundle or batch an
// import commits. Tests set it to interrupt an import at a known point.
var importCommitted func()

const importUsage = `usage: sharedcare import --source gp|hospital|social-care --org ODS [flags] FILE|DIR...

Loads transaction or batch Bundles (.json, each bundle one transaction; a
.json file holding one other resource loads it) and NDJSON files (.ndjson,
one resource a line) into the configured store, as the source system of
organisation --org would push them. A directory loads every .json and
.ndjson file below it, in name order. Run it again after an interruption:
what is already in is skipped. The embedded store is single-process: stop
the server first (or import into Postgres).

flags:
`

// importGCPercent is the import's GOGC.
const importGCPercent = 400

// importCmd runs `sharedcare import`.
func importCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, importUsage)
		fs.PrintDefaults()
	}
	c := configFlags(fs, getenv)
	source := fs.String("source", "", "what the data's source system is: gp, hospital or social-care (required)")
	org := fs.String("org", "", "ODS code of the organisation that owns the data (required)")
	reportPath := fs.String("report", "import-report.ndjson", "file listing each failure as a JSON line (rewritten on every run)")
	batch := fs.Int("batch", ingest.DefaultBatch, "NDJSON lines written per transaction")
	workers := fs.Int("workers", ingest.DefaultWorkers, "transactions written at once")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the import to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *source != access.RecordSourceGP && *source != access.RecordSourceHospital && *source != access.RecordSourceSocialCare:
		fs.Usage()
		return fmt.Errorf("import: --source must be gp, hospital or social-care, not %q: it labels every record (access model, section 2)", *source)
	case *org == "":
		fs.Usage()
		return errors.New("import: --org is required: the ODS code of the organisation that owns the records")
	case fs.NArg() == 0:
		fs.Usage()
		return errors.New("import: name the files or directories to load")
	case *batch <= 0 || *workers <= 0:
		return errors.New("import: --batch and --workers must be positive")
	}
	files, err := ingest.Files(fs.Args())
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	if len(files) == 0 {
		return errors.New("import: no .json or .ndjson files found")
	}
	log, err := newLogger(c.LogLevel, stderr)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, c, log)
	if err != nil {
		if ingest.Locked(err) {
			return fmt.Errorf("import: the embedded store in %s is in use by another process (a running `sharedcare serve`?); "+
				"stop it and run the import again: %w", c.DataDir, err)
		}
		return err
	}
	defer st.Close()
	codes := access.DefaultSensitiveCodes()
	if c.SensitiveCodes != "" {
		if codes, err = access.LoadSensitiveCodes(c.SensitiveCodes); err != nil {
			return err
		}
	}
	report, err := os.Create(*reportPath)
	if err != nil {
		return fmt.Errorf("import: report: %w", err)
	}
	defer report.Close()
	enc := json.NewEncoder(report)

	// The import is a batch job whose live heap is small (the bundles in
	// flight): collect garbage a quarter as often as the default, unless
	// GOGC says otherwise. It took a sixth off the import's CPU.
	if getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(importGCPercent))
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	im := &ingest.Importer{
		Records: &record.Service{Store: st, Codes: codes}, Store: st, Base: c.BaseURL,
		Owner: *org, Source: *source, Batch: *batch, Workers: *workers,
		Failed:    func(f ingest.Failure) { _ = enc.Encode(f) },
		Committed: importCommitted,
	}
	progress := ingest.StartProgress(im.Counts(), stderr, isTerminal(stderr))
	runErr := im.Run(ctx, files)
	progress.Stop()

	// Link the import's audit records into the chain now, so that the
	// trail verifies whether or not a server runs on the store.
	sealCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if _, err := audit.Seal(sealCtx, st, 0); err != nil && runErr == nil {
		runErr = fmt.Errorf("import: sealing the audit trail: %w", err)
	}

	// A bulk load changes the tables' make-up more than autovacuum is
	// quick to notice (or it may be off): refresh the statistics now.
	if a, ok := st.(interface{ Analyze(context.Context) error }); ok && runErr == nil {
		if err := a.Analyze(sealCtx); err != nil {
			runErr = fmt.Errorf("import: %w", err)
		}
	}

	n := im.Counts()
	el := progress.Elapsed()
	fmt.Fprintf(stdout, "import: %d of %d resources in %s (%.0f resources/s): %d loaded, %d updated, %d skipped (already present), %d failed\n",
		n.Done(), n.Total.Load(), el.Round(time.Millisecond), float64(n.Done())/el.Seconds(),
		n.Loaded.Load(), n.Updated.Load(), n.Skipped.Load(), n.Failed.Load())
	if n.Failed.Load() > 0 {
		fmt.Fprintf(stdout, "import: failures (file, line or entry, reason) are listed in %s\n", *reportPath)
	}
	switch {
	case errors.Is(runErr, context.Canceled):
		return errors.New("import interrupted: run the same command again to load the rest (what is in is skipped)")
	case runErr != nil:
		return fmt.Errorf("import: %w", runErr)
	case n.Failed.Load() > 0:
		return fmt.Errorf("import: %d resources failed; see %s", n.Failed.Load(), *reportPath)
	}
	return nil
}

// isTerminal reports whether w is a terminal, where progress is redrawn
// in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
