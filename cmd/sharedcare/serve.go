package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"time"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/audit"
	"github.com/sharedcare/sharedcare/internal/record"
	"github.com/sharedcare/sharedcare/internal/rest"
	"github.com/sharedcare/sharedcare/internal/store"
	"github.com/sharedcare/sharedcare/internal/store/embedded"
	"github.com/sharedcare/sharedcare/internal/store/postgres"
)

// auditSealInterval is how often committed audit records are linked into
// the hash chain.
const auditSealInterval = time.Second

// shutdownGrace is how long in-flight requests get to finish after SIGTERM.
const shutdownGrace = 20 * time.Second

func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// openStore opens (and unless told otherwise migrates) the configured store.
func openStore(ctx context.Context, c *config, log *slog.Logger) (store.Store, error) {
	if c.DatabaseURL == "" {
		// The embedded store migrates itself when it opens.
		log.Info("store", "kind", "embedded", "data_dir", c.DataDir)
		return embedded.Open(ctx, c.DataDir)
	}
	if !c.NoMigrate {
		if err := postgres.Migrate(ctx, c.DatabaseURL); err != nil {
			return nil, err
		}
	}
	log.Info("store", "kind", "postgres")
	return postgres.Open(ctx, c.DatabaseURL)
}

// serveGCPercent is the server's GOGC.
const serveGCPercent = 400

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	c := configFlags(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := newLogger(c.LogLevel, stderr)
	if err != nil {
		return err
	}
	// The server's live heap is small (tens of MB) and its garbage is
	// per request: collect a quarter as often as the default, unless GOGC
	// says otherwise. The collector took a tenth of the server's CPU.
	if getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(serveGCPercent))
	}
	auth, err := setupAuth(ctx, c, log)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, c, log)
	if err != nil {
		return err
	}
	defer st.Close()

	codes := access.DefaultSensitiveCodes()
	if c.SensitiveCodes != "" {
		if codes, err = access.LoadSensitiveCodes(c.SensitiveCodes); err != nil {
			return err
		}
		log.Info("sensitive codes", "file", c.SensitiveCodes, "codes", codes.Len())
	}
	records := &record.Service{Store: st, Codes: codes}
	api, err := rest.New(rest.Config{
		Store: st, Records: records, BaseURL: c.BaseURL, Logger: log,
		MaxBodyBytes: c.MaxBodyBytes, Version: version,
		Auth: auth.verifier, Smart: auth.smart, DevJWKS: auth.devJWKS, SensitiveCodes: codes,
	})
	if err != nil {
		return err
	}
	// Deferred calls run last-first: the HTTP server has stopped (below)
	// before the queued audit records are flushed and the store closes.
	defer api.Close()
	sealCtx, stopSealer := context.WithCancel(context.Background())
	defer stopSealer()
	go audit.RunSealer(sealCtx, st, auditSealInterval, log)

	if c.DebugAddr != "" {
		go servePprof(c.DebugAddr, log)
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", "addr", ln.Addr().String(), "base_url", c.BaseURL)
	fmt.Fprintf(stdout, "sharedcare serving %s (listening on %s)\n", c.BaseURL, ln.Addr())
	if auth.devKey != nil {
		printDevHint(stdout, auth.devKey, c)
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func migrateCmd(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := newFlagSet("migrate", stderr)
	c := configFlags(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.Arg(0) != "up" {
		return errors.New("usage: sharedcare migrate up")
	}
	if c.DatabaseURL == "" {
		return embedded.Migrate(ctx, c.DataDir)
	}
	return postgres.Migrate(ctx, c.DatabaseURL)
}

// servePprof serves the runtime profiles on their own address, kept off the
// public listener.
func servePprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("pprof", "addr", addr)
	if err := http.ListenAndServe(addr, mux); err != nil {
		log.Error("pprof", "err", err)
	}
}
