package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sharedcare/sharedcare/internal/audit"
	"github.com/sharedcare/sharedcare/internal/store/embedded"
	"github.com/sharedcare/sharedcare/internal/store/migrate"
	"github.com/sharedcare/sharedcare/internal/store/postgres"
)

const migrateStoreUsage = "usage: sharedcare migrate-store [--from ./data] --to postgres://..."

// migrateStoreCmd runs `sharedcare migrate-store`: it copies the embedded
// store in a data directory into an empty Postgres database, in one
// transaction, and verifies the audit chain of the copy.
func migrateStoreCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate-store", stderr)
	from := fs.String("from", envOr(getenv, "SHAREDCARE_DATA_DIR", "./data"), "data directory of the embedded store to copy (SHAREDCARE_DATA_DIR)")
	to := fs.String("to", getenv("SHAREDCARE_DATABASE_URL"), "postgres:// URL of the empty database to fill (SHAREDCARE_DATABASE_URL)")
	batch := fs.Int("batch", 1000, "rows read and written at a time")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *to == "" || fs.NArg() > 0 {
		return errors.New(migrateStoreUsage)
	}
	// Opening the embedded store creates one where there is none: check
	// first, so that a mistyped directory is an error, not an empty copy.
	if _, err := os.Stat(filepath.Join(*from, embedded.FileName)); err != nil {
		return fmt.Errorf("no embedded store to copy in %s: %w", *from, err)
	}
	src, err := embedded.Open(ctx, *from)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := postgres.Migrate(ctx, *to); err != nil {
		return err
	}
	dst, err := postgres.Open(ctx, *to)
	if err != nil {
		return err
	}
	defer dst.Close()
	if err := dst.Ready(ctx); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "copying the embedded store in %s to Postgres (it takes no writes until the copy ends)\n", *from)
	start := time.Now()
	var stats migrate.Stats
	err = src.Export(ctx, func(x *embedded.Export) error {
		return dst.Import(ctx, func(im *postgres.Import) error {
			var err error
			stats, err = migrate.Copy(ctx, x, im, migrate.Options{Batch: *batch, Progress: stdout})
			return err
		})
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, stats)
	fmt.Fprintf(stdout, "committed and analysed: %s in all\n", time.Since(start).Round(time.Millisecond))

	// The copy must carry the chain exactly: every sealed record verifies
	// and none is lost. Records not sealed yet are the server's to seal.
	rep, err := audit.Verify(ctx, dst, 0)
	if err != nil {
		return err
	}
	if rep.Broken != nil {
		fmt.Fprintln(stdout, "audit chain of the copy", rep)
		return errChainBroken
	}
	if rep.Checked != stats.Sealed {
		return fmt.Errorf("the copy's audit chain has %d links, the embedded store's %d", rep.Checked, stats.Sealed)
	}
	fmt.Fprintf(stdout, "audit chain of the copy: valid: %d links verified; %d records await sealing by the server\n",
		rep.Checked, stats.Audit-stats.Sealed)
	return nil
}
