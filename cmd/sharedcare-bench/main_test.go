package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeFHIR stands in for the server: it keeps Patients in memory and
// answers create and read as the contract says, and records what the bench
// sent so that tests can check it.
type fakeFHIR struct {
	token string // required bearer token; empty requires none

	mu       sync.Mutex
	patients map[string][]byte
	creates  int
	reads    int
	bad      []string // problems with requests the bench sent
}

func newFakeFHIR(t *testing.T, token string) (*fakeFHIR, string) {
	f := &fakeFHIR{token: token, patients: map[string][]byte{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /fhir/Patient", f.create)
	mux.HandleFunc("GET /fhir/Patient/{id}", f.read)
	srv := httptest.NewServer(f.auth(mux))
	t.Cleanup(srv.Close)
	return f, srv.URL + "/fhir"
}

func (f *fakeFHIR) problem(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bad = append(f.bad, fmt.Sprintf(format, args...))
}

func (f *fakeFHIR) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("Authorization")
		if f.token == "" && got != "" {
			f.problem("unexpected Authorization %q", got)
		}
		if f.token != "" && got != "Bearer "+f.token {
			w.Header().Set("Content-Type", fhirContentType)
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"login","diagnostics":"no token"}]}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (f *fakeFHIR) create(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != fhirContentType {
		f.problem("Content-Type %q", ct)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(r.Body)
	var p struct {
		ResourceType string `json:"resourceType"`
		Identifier   []struct{ System, Value string }
	}
	if err := json.Unmarshal(body.Bytes(), &p); err != nil || p.ResourceType != "Patient" ||
		len(p.Identifier) == 0 || !validNHSNumber(p.Identifier[0].Value) {
		f.problem("bad Patient %s (%v)", body.String(), err)
		http.Error(w, "bad patient", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.creates++
	id := fmt.Sprintf("p%d", f.creates)
	f.patients[id] = body.Bytes()
	f.mu.Unlock()
	w.Header().Set("Location", "http://"+r.Host+"/fhir/Patient/"+id+"/_history/1")
	w.Header().Set("ETag", `W/"1"`)
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(body.Bytes())
}

func (f *fakeFHIR) read(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.reads++
	b, ok := f.patients[r.PathValue("id")]
	f.mu.Unlock()
	if !ok {
		f.problem("read of unknown %s", r.PathValue("id"))
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", fhirContentType)
	_, _ = w.Write(b)
}

func runBench(t *testing.T, getenv map[string]string, args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	err = run(t.Context(), args, func(k string) string { return getenv[k] }, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestRunJSON(t *testing.T) {
	f, base := newFakeFHIR(t, "s3cret")
	out, _, err := runBench(t, map[string]string{"SHAREDCARE_TOKEN": "s3cret"},
		"-base", base, "-scenarios", "create,read", "-concurrency", "2,4",
		"-requests", "50", "-warmup", "0", "-patients", "20", "-json")
	require.NoError(t, err)

	var rep report
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.Len(t, rep.Results, 4)
	for i, want := range []struct {
		scenario string
		conc     int
	}{{"create", 2}, {"create", 4}, {"read", 2}, {"read", 4}} {
		r := rep.Results[i]
		assert.Equal(t, want.scenario, r.Scenario)
		assert.Equal(t, want.conc, r.Concurrency)
		assert.Equal(t, 50, r.Server.Requests)
		assert.Zero(t, r.Server.Errors)
		assert.Positive(t, r.Server.Throughput)
		assert.LessOrEqual(t, r.Server.P50Ms, r.Server.P99Ms)
		assert.Nil(t, r.Floor, "no -db, no floor")
		assert.Nil(t, r.RSS, "no -pid, no RSS")
	}
	assert.Equal(t, 50, rep.Requests)
	assert.Empty(t, rep.Duration)

	f.mu.Lock()
	defer f.mu.Unlock()
	assert.Empty(t, f.bad)
	assert.Equal(t, 2*50+20, f.creates, "two create runs and the read seed")
	assert.Equal(t, 2*50, f.reads)
}

func TestRunText(t *testing.T) {
	f, base := newFakeFHIR(t, "")
	out, progress, err := runBench(t, nil, "-base", base, "-scenarios", "read", "-concurrency", "3",
		"-duration", "200ms", "-warmup", "50ms", "-patients", "5", "-pid", fmt.Sprint(os.Getpid()))
	require.NoError(t, err)
	assert.Contains(t, out, "sharedcare-bench "+base)
	assert.Contains(t, out, "200ms per run after 50ms warmup")
	assert.Contains(t, out, fmt.Sprintf("RSS of pid %d", os.Getpid()))
	lines := strings.Split(out, "\n")
	require.GreaterOrEqual(t, len(lines), 5)
	assert.Regexp(t, `^\s*scenario\s+conc\s+requests\s+errors\s+req/s\s+units/req\s+units/s\s+p50 ms\s+p95 ms\s+p99 ms\s+floor req/s\s+floor p99 ms\s+req/s ratio\s+p99 ratio\s+RSS MiB before/peak/after\s*$`, lines[3])
	assert.Regexp(t, `^\s*read\s+3\s+\d+\s+0\s+[\d.]+\s+1\.0\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+-\s+-\s+-\s+-\s+[\d.]+/[\d.]+/[\d.]+\s*$`, lines[4])
	assert.Contains(t, progress, "read: setting up")
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.Empty(t, f.bad)
	assert.Equal(t, 5, f.creates)
}

func TestRunReportsErrors(t *testing.T) {
	_, base := newFakeFHIR(t, "s3cret")
	out, _, err := runBench(t, nil, "-base", base, "-scenarios", "create", "-concurrency", "2",
		"-requests", "10", "-warmup", "0")
	require.NoError(t, err, "failed requests are a result, not a bench failure")
	assert.Regexp(t, `(?m)^\s*create\s+2\s+10\s+10\s+0\.0\s`, out)
	assert.Contains(t, out, `create c=2 server: 10 errors, first: POST /Patient: 401 Unauthorized: {"resourceType":"OperationOutcome"`)
}

func TestRunFailsWhenSeedingFails(t *testing.T) {
	_, base := newFakeFHIR(t, "s3cret")
	out, _, err := runBench(t, nil, "-base", base, "-scenarios", "create,read", "-concurrency", "1",
		"-requests", "3", "-warmup", "0", "-patients", "4", "-json")
	require.ErrorContains(t, err, "read: seed 4 patients: 4 failed, first: POST /Patient: 401")
	var rep report
	require.NoError(t, json.Unmarshal([]byte(out), &rep), "what finished is still reported")
	require.Len(t, rep.Results, 1)
	assert.Equal(t, "create", rep.Results[0].Scenario)
	assert.Contains(t, rep.StoppedEarly, "seed 4 patients")
}

func TestFlags(t *testing.T) {
	tests := []struct {
		args []string
		err  string
	}{
		{[]string{"-scenarios", "create,nope"}, `unknown scenario "nope" (known: create, read, search, transaction`},
		{[]string{"-scenarios", ","}, "-scenarios is empty"},
		{[]string{"-concurrency", "8,x"}, `-concurrency: "x" is not a positive number`},
		{[]string{"-concurrency", "0"}, `-concurrency: "0" is not a positive number`},
		{[]string{"-duration", "1s", "-requests", "5"}, "alternatives"},
		{[]string{"-duration", "0"}, "-duration must be positive"},
		{[]string{"-patients", "0"}, "-patients must be at least 1"},
		{[]string{"extra"}, "unexpected arguments: extra"},
		{[]string{"-pid", "999999999"}, "-pid:"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := runBench(t, nil, tt.args...)
			require.ErrorContains(t, err, tt.err)
		})
	}
	_, usage, err := runBench(t, nil, "-h")
	require.NoError(t, err)
	assert.Contains(t, usage, "-concurrency")
}

// testDatabaseURL is the Postgres the floor test creates its scratch
// database from; SHAREDCARE_TEST_DATABASE_URL overrides the local default.
func testDatabaseURL(t *testing.T) string {
	url := os.Getenv("SHAREDCARE_TEST_DATABASE_URL")
	if url == "" {
		url = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("PostgreSQL is required for this test and is not reachable at %s: %v", url, err)
	}
	require.NoError(t, conn.Close(t.Context()))
	return url
}

func TestRunWithFloor(t *testing.T) {
	dbURL := testDatabaseURL(t)
	_, base := newFakeFHIR(t, "")
	out, _, err := runBench(t, nil, "-base", base, "-db", dbURL, "-scenarios", "create,read",
		"-concurrency", "2", "-requests", "40", "-warmup", "0", "-patients", "30", "-json")
	require.NoError(t, err)
	var rep report
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.Len(t, rep.Results, 2)
	for _, r := range rep.Results {
		require.NotNil(t, r.Floor, r.Scenario)
		assert.Equal(t, 40, r.Floor.Requests, r.Scenario)
		assert.Zero(t, r.Floor.Errors, r.Floor.FirstError)
		assert.Positive(t, r.Floor.Throughput)
		require.NotNil(t, r.ThroughputRatio)
		require.NotNil(t, r.P99Ratio)
		assert.InDelta(t, r.Server.Throughput/r.Floor.Throughput, *r.ThroughputRatio, 1e-9)
	}
	require.True(t, strings.HasPrefix(rep.ScratchDB, "sharedcare_bench_"), rep.ScratchDB)

	conn, err := pgx.Connect(t.Context(), dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var n int
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_database WHERE datname = $1`, rep.ScratchDB).Scan(&n))
	assert.Zero(t, n, "the scratch database is dropped")
}

func TestScratchDBFloorRows(t *testing.T) {
	dbURL := testDatabaseURL(t)
	db, err := openScratchDB(t.Context(), dbURL, 2)
	require.NoError(t, err)
	defer func() { require.NoError(t, db.close()) }()
	e := &env{db: db.pool, patients: 7}

	read, err := readFloor(t.Context(), e)
	require.NoError(t, err)
	create, err := createFloor(t.Context(), e)
	require.NoError(t, err)
	s, err := runLoad(t.Context(), create, load{concurrency: 2, requests: 5})
	require.NoError(t, err)
	require.Zero(t, s.errors, s.firstErr)
	s, err = runLoad(t.Context(), read, load{concurrency: 2, requests: 5})
	require.NoError(t, err)
	require.Zero(t, s.errors, s.firstErr)

	var rows int
	var avg float64
	require.NoError(t, db.pool.QueryRow(t.Context(), `SELECT count(*), avg(length(raw)) FROM floor_resources`).Scan(&rows, &avg))
	assert.Equal(t, 12, rows)
	assert.Greater(t, avg, 500.0, "rows carry Patient-sized payloads")
}

func TestTokenFlagOverridesEnvironment(t *testing.T) {
	env := func(string) string { return "from-env" }
	c, err := parseFlags([]string{"-token", "from-flag"}, env, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "from-flag", c.token)
	c, err = parseFlags(nil, env, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "from-env", c.token)
}
