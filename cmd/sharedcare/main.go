// Command sharedcare is the FHIR R4 shared care record server and its tools.
//
//	sharedcare serve      serve the FHIR API
//	sharedcare migrate up bring the database schema up to date
//	sharedcare token      mint a dev auth token
//	sharedcare audit verify  check the audit trail's hash chain
//	sharedcare migrate-store copy the embedded store into an empty Postgres database
//	sharedcare reindex    rebuild the search index and access labels in place
//	sharedcare import     bulk-load Bundles and NDJSON files
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sharedcare:", err)
		os.Exit(1)
	}
}

const usage = `usage: sharedcare <command> [flags]

commands:
  serve         serve the FHIR R4 API (see sharedcare serve -h)
  migrate up    bring the database schema up to date
  token         mint a dev auth token (see sharedcare token -h)
  audit verify  recompute the audit trail's hash chain; name the first broken link
  migrate-store copy the embedded store into an empty Postgres database
                (see sharedcare migrate-store -h)
  reindex       rebuild the search index, labels and care relations of the
                current versions in place (see sharedcare reindex -h)
  import        bulk-load transaction Bundles and NDJSON files as one source
                (see sharedcare import -h)
`

// run is the whole program, with its environment passed in so that tests can
// start the real server in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr)
	case "audit":
		return auditCmd(ctx, args[1:], getenv, stdout, stderr)
	case "token":
		return tokenCmd(args[1:], getenv, stdout, stderr)
	case "migrate":
		return migrateCmd(ctx, args[1:], getenv, stderr)
	case "migrate-store":
		return migrateStoreCmd(ctx, args[1:], getenv, stdout, stderr)
	case "reindex":
		return reindexCmd(ctx, args[1:], getenv, stdout, stderr)
	case "import":
		return importCmd(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}
