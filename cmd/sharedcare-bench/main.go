// Command sharedcare-bench is the load generator for a running sharedcare
// server. For every scenario (create, read, ...) and every concurrency it
// warms up, measures throughput and latency percentiles, and, given -db,
// measures the same concurrency of plain Postgres statements in a scratch
// database as the floor no server can beat, so that results read as "how
// far above Postgres" rather than as bare numbers.
//
//	sharedcare-bench [-base URL] [-token T] [-db postgres://...]
//	    [-scenarios create,read] [-concurrency 8,32] [-duration 10s | -requests N]
//	    [-warmup 2s] [-patients 1000] [-pid PID] [-json]
//	    [-synthea DIR] [-population N -dev-data DIR [-population-state FILE]]
//
// The transaction scenario posts fresh copies of the Synthea sample bundles
// and reports resources per second beside requests per second. -population
// loads N patients of about 20 resources each, spread over GP practices and
// hospital systems, for the scale-* searches (scale-clinician,
// scale-identifier, scale-revinclude, scale-count, scale-name).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sharedcare-bench:", err)
		os.Exit(1)
	}
}

// config is the parsed command line.
type config struct {
	base        string
	token       string
	db          string
	scenarios   []scenario
	concurrency []int
	duration    time.Duration
	requests    int
	warmup      time.Duration
	patients    int
	synthea     string
	population  int
	devData     string
	popState    string
	serverDB    string
	pid         int
	timeout     time.Duration
	json        bool
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("sharedcare-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.base, "base", "http://localhost:8080/fhir", "FHIR base URL of the server under test")
	// The environment fallback is applied after parsing, so that -h never
	// prints a token as a default.
	fs.StringVar(&c.token, "token", "", "bearer token (default $SHAREDCARE_TOKEN; none sends no Authorization header)")
	fs.StringVar(&c.db, "db", "", "postgres:// URL of a database from which to create a scratch database for the raw-Postgres floors (none: no floors)")
	names := fs.String("scenarios", "create,read", "comma-separated scenarios to run")
	conc := fs.String("concurrency", "8,32", "comma-separated numbers of concurrent workers")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long each measured run lasts")
	fs.IntVar(&c.requests, "requests", 0, "measure this many requests per run instead of a -duration")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "how long to run before each measured run, unmeasured")
	fs.IntVar(&c.patients, "patients", 1000, "patients to create before scenarios that read")
	fs.StringVar(&c.synthea, "synthea", "../shared/fhir/synthea-sample", "directory of Synthea transaction bundles, the templates of the transaction and population scenarios")
	fs.IntVar(&c.population, "population", 0, "first load this many patients and their records (about 20 resources each) through transactions at concurrency 4, for the scale-* scenarios; needs -dev-data")
	fs.StringVar(&c.popState, "population-state", "", "file recording the population load, so that a later run against the same server database resumes it and searches the same patients")
	fs.StringVar(&c.serverDB, "analyze-db", "", "postgres:// URL of the server's own database, to ANALYZE after the population load and each scenario's setup as autovacuum would in production (a test Postgres often runs without it)")
	fs.StringVar(&c.devData, "dev-data", "", "the server's data directory, whose dev signing key mints the population's callers (GP systems, hospital systems, GPs)")
	fs.IntVar(&c.pid, "pid", 0, "server process id whose resident memory (VmRSS) to report")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.BoolVar(&c.json, "json", false, "write the results as JSON")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: sharedcare-bench [flags]\n\n"+
			"Drives a running sharedcare server with each scenario at each concurrency and\n"+
			"prints throughput and latency percentiles; with -db, also the raw-Postgres floor.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.token == "" {
		c.token = getenv("SHAREDCARE_TOKEN")
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["duration"] && set["requests"] {
		return c, errors.New("-duration and -requests are alternatives; give one")
	}
	var err error
	if c.scenarios, err = lookupScenarios(splitList(*names)); err != nil {
		return c, err
	}
	if len(c.scenarios) == 0 {
		return c, errors.New("-scenarios is empty")
	}
	for _, s := range splitList(*conc) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return c, fmt.Errorf("-concurrency: %q is not a positive number", s)
		}
		c.concurrency = append(c.concurrency, n)
	}
	switch {
	case len(c.concurrency) == 0:
		return c, errors.New("-concurrency is empty")
	case c.requests < 0:
		return c, errors.New("-requests must not be negative")
	case c.requests == 0 && c.duration <= 0:
		return c, errors.New("-duration must be positive")
	case c.warmup < 0:
		return c, errors.New("-warmup must not be negative")
	case c.patients < 1:
		return c, errors.New("-patients must be at least 1")
	case c.pid < 0:
		return c, errors.New("-pid must not be negative")
	case c.population < 0:
		return c, errors.New("-population must not be negative")
	case c.population > 0 && c.devData == "":
		return c, errors.New("-population needs -dev-data, the server's data directory, to mint its callers")
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// run is the whole command, apart from signals and the exit status, so that
// tests drive it as a user would.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	c, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	maxConc := slices.Max(c.concurrency)
	client := newFHIRClient(c.base, c.token, maxConc, c.timeout)
	defer client.close()
	e := &env{fhir: client, patients: c.patients, syntheaDir: c.synthea}

	rep := report{
		Base:       c.base,
		Started:    time.Now().UTC().Truncate(time.Second),
		Warmup:     c.warmup.String(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		PID:        c.pid,
		Results:    []result{},
	}
	if c.requests > 0 {
		rep.Requests = c.requests
	} else {
		rep.Duration = c.duration.String()
	}
	if c.pid > 0 {
		if _, err := readRSS(c.pid); err != nil {
			return fmt.Errorf("-pid: %w", err)
		}
	}
	if c.db != "" {
		var db *scratchDB
		if db, err = openScratchDB(ctx, c.db, maxConc); err != nil {
			return err
		}
		defer func() { err = errors.Join(err, db.close()) }()
		e.db = db.pool
		rep.ScratchDB = db.name
	}

	var runErr error
	if c.population > 0 {
		runErr = populate(ctx, c, e, &rep, stderr)
	}
	if runErr == nil {
		runErr = measure(ctx, c, e, &rep, stderr)
	}
	if errors.Is(runErr, context.Canceled) {
		runErr = errors.New("interrupted")
	}
	if runErr != nil {
		rep.StoppedEarly = runErr.Error()
	}
	if c.json {
		err = writeJSON(stdout, rep)
	} else {
		err = writeText(stdout, rep)
	}
	return errors.Join(runErr, err)
}

// populate loads the population the scale scenarios search.
func populate(ctx context.Context, c config, e *env, rep *report, stderr io.Writer) error {
	m, err := newTokenMinter(c.devData, c.base)
	if err != nil {
		return err
	}
	start := time.Now()
	pop, err := loadPopulation(ctx, e, m, c.population, c.popState, stderr)
	if err != nil {
		return err
	}
	e.pop = pop
	secs := time.Since(start).Seconds()
	if c.serverDB != "" {
		t := time.Now()
		if err := analyze(ctx, c.serverDB); err != nil {
			return fmt.Errorf("-analyze-db: %w", err)
		}
		fmt.Fprintf(stderr, "population: ANALYZE took %s\n", time.Since(t).Round(time.Second))
	}
	rep.Population = &populationReport{
		Patients:  len(pop.patients),
		Resources: pop.resources,
		Seconds:   secs,
		PerSecond: float64(pop.resources) / secs,
	}
	return nil
}

// measure runs every scenario at every concurrency, appending to rep as it
// goes so that an interrupted bench still reports what it finished.
func measure(ctx context.Context, c config, e *env, rep *report, stderr io.Writer) error {
	for _, sc := range c.scenarios {
		fmt.Fprintf(stderr, "%s: setting up\n", sc.name)
		serverOp, err := sc.server(ctx, e)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		if c.serverDB != "" {
			// What the setup wrote is planned for as autovacuum would
			// have it in production.
			if err := analyze(ctx, c.serverDB); err != nil {
				return fmt.Errorf("%s: -analyze-db: %w", sc.name, err)
			}
		}
		var floorOp op
		if e.db != nil && sc.floor != nil {
			if floorOp, err = sc.floor(ctx, e); err != nil {
				return fmt.Errorf("%s floor: %w", sc.name, err)
			}
		}
		units := 1.0
		if sc.units != nil {
			if units, err = sc.units(e); err != nil {
				return fmt.Errorf("%s: %w", sc.name, err)
			}
		}
		for _, n := range c.concurrency {
			l := load{concurrency: n, warmup: c.warmup, duration: c.duration, requests: c.requests}
			r := result{Scenario: sc.name, Concurrency: n, Units: units}
			var w *rssWatch
			if c.pid > 0 {
				w = watchRSS(c.pid)
			}
			s, err := runLoad(ctx, serverOp, l)
			if w != nil {
				m := w.finish()
				r.RSS = &m
			}
			if err != nil {
				return err
			}
			r.Server = summarize(s, units)
			fmt.Fprintf(stderr, "%s c=%d: server %.1f req/s (%.0f units/s), p99 %.2f ms, %d errors\n", sc.name, n, r.Server.Throughput, r.Server.UnitRate, r.Server.P99Ms, r.Server.Errors)
			if floorOp != nil {
				f, err := runLoad(ctx, floorOp, l)
				if err != nil {
					return err
				}
				r.setFloor(summarize(f, units))
				fmt.Fprintf(stderr, "%s c=%d: floor %.1f req/s, p99 %.2f ms, %d errors\n", sc.name, n, r.Floor.Throughput, r.Floor.P99Ms, r.Floor.Errors)
			}
			rep.Results = append(rep.Results, r)
		}
	}
	return nil
}
