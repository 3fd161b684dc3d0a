package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sharedcare/sharedcare/internal/audit"
	"github.com/sharedcare/sharedcare/internal/store"
	"github.com/sharedcare/sharedcare/internal/store/embedded"
	"github.com/sharedcare/sharedcare/internal/store/postgres"
)

// errChainBroken makes `sharedcare audit verify` exit non-zero.
var errChainBroken = errors.New("the audit chain is broken")

// auditCmd runs `sharedcare audit verify`: it recomputes the hash chain of
// the audit trail and names the first broken link.
func auditCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return errors.New("usage: sharedcare audit verify [--grace 1m]")
	}
	fs := newFlagSet("audit verify", stderr)
	c := configFlags(fs, getenv)
	grace := fs.Duration("grace", time.Minute, "how long a record may wait to be chained before it is reported")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var st store.Store
	var err error
	if c.DatabaseURL == "" {
		st, err = embedded.Open(ctx, c.DataDir)
	} else {
		st, err = postgres.Open(ctx, c.DatabaseURL)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Ready(ctx); err != nil {
		return err
	}
	rep, err := audit.Verify(ctx, st, *grace)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "audit chain", rep)
	if rep.Broken != nil {
		return errChainBroken
	}
	return nil
}
