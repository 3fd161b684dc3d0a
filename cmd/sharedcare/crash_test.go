package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/store/embedded"
)

// binaryServer is the real sharedcare binary serving in a process of its own.
type binaryServer struct {
	cmd  *exec.Cmd
	base string
	log  string // its stderr, for failures
}

// buildBinary builds bin/sharedcare from this package into a temporary
// directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sharedcare")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// startBinary runs `sharedcare serve` with env and waits until it answers.
func startBinary(t *testing.T, bin string, env []string, base string) *binaryServer {
	t.Helper()
	logFile := filepath.Join(t.TempDir(), "serve.log")
	f, err := os.Create(logFile)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	cmd := exec.Command(bin, "serve")
	cmd.Env, cmd.Stdout, cmd.Stderr = env, f, f
	require.NoError(t, cmd.Start())
	s := &binaryServer{cmd: cmd, base: base, log: logFile}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	root := strings.TrimSuffix(base, "/fhir")
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(root + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logFile)
			t.Fatalf("the server did not start: %v\n%s", err, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// bigTransaction is a Synthea sample's transaction replicated copies
// times, each copy under fresh ids.
func bigTransaction(t *testing.T, copies int) []byte {
	t.Helper()
	sample := string(syntheaFixture(t, barneyAbbott))
	uuidPattern := regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	var entries []json.RawMessage
	for range copies {
		fresh := map[string]string{}
		text := uuidPattern.ReplaceAllStringFunc(sample, func(u string) string {
			if _, ok := fresh[u]; !ok {
				fresh[u] = uuid.NewString()
			}
			return fresh[u]
		})
		var b struct {
			Entry []json.RawMessage `json:"entry"`
		}
		require.NoError(t, json.Unmarshal([]byte(text), &b))
		entries = append(entries, b.Entry...)
	}
	body, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries})
	require.NoError(t, err)
	return body
}

// A server killed (SIGKILL) in the middle of a large transaction leaves no
// trace of it: after a restart none of its resources exists, what was
// committed before is intact, and the audit trail verifies.
func TestCrashMidTransaction(t *testing.T) { forStores(t, testCrashMidTransaction) }

func testCrashMidTransaction(t *testing.T) {
	bin := buildBinary(t)
	dbURL, dataDir, addr := storeURL(t), t.TempDir(), freeAddr(t)
	base := "http://" + addr + "/fhir"
	env := append(os.Environ(),
		"SHAREDCARE_ADDR="+addr, "SHAREDCARE_BASE_URL="+base, "SHAREDCARE_DATABASE_URL="+dbURL,
		"SHAREDCARE_DATA_DIR="+dataDir, "SHAREDCARE_DEV_AUTH=1", "SHAREDCARE_LOG_LEVEL=warn",
		"SHAREDCARE_MAX_BODY_BYTES="+fmt.Sprint(64<<20))
	srv := startBinary(t, bin, env, base)

	tokenCmd := exec.Command(bin, "token", "--role", "system", "--org", "A81001", "--source", "gp")
	tokenCmd.Env = env
	tok, err := tokenCmd.Output()
	require.NoError(t, err)
	client := &http.Client{Timeout: 2 * time.Minute}
	post := func(path string, body []byte) (*http.Response, error) {
		req, err := http.NewRequest("POST", base+path, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/fhir+json")
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		req.Header.Set("Prefer", "return=minimal")
		return client.Do(req)
	}
	count := func(typ string) int {
		req, err := http.NewRequest("GET", base+"/"+typ+"?_summary=count", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var b struct {
			Total *int `json:"total"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&b))
		require.NotNil(t, b.Total)
		return *b.Total
	}

	// Committed before the crash: must survive it.
	resp, err := post("/Patient", []byte(patientJSON("Before")))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)

	body := bigTransaction(t, 25)
	inFlight := transactionInFlight(t, dbURL, dataDir)
	posted := make(chan error, 1)
	go func() {
		resp, err := post("", body)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("the transaction answered %s before the kill", resp.Status)
		}
		posted <- err
	}()
	start := time.Now()
	deadline := start.Add(45 * time.Second)
	for !inFlight() {
		select {
		case err := <-posted:
			t.Fatalf("the transaction finished before it was seen in flight: %v", err)
		default:
		}
		require.True(t, time.Now().Before(deadline), "the transaction was never seen in flight")
		time.Sleep(2 * time.Millisecond)
	}
	t.Logf("killing the server %s after the transaction was posted", time.Since(start).Round(time.Millisecond))
	require.NoError(t, srv.cmd.Process.Kill(), "SIGKILL")
	_ = srv.cmd.Wait()
	require.Error(t, <-posted, "the client saw the connection die")

	startBinary(t, bin, env, base)
	require.Equal(t, 1, count("Patient"), "the Patient committed before the crash is there; none of the transaction's is")
	for _, typ := range []string{"Observation", "Encounter", "Claim", "Organization", "Practitioner"} {
		require.Zero(t, count(typ), "no %s of the killed transaction exists", typ)
	}
	verify := exec.Command(bin, "audit", "verify")
	verify.Env = env
	out, err := verify.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "valid:")
}

// transactionInFlight returns a probe that reports whether a transaction
// has started writing and not yet committed: on Postgres, a backend of the
// database holding a transaction id while it inserts a resource; on the
// embedded store, the write-ahead
// log growing by megabytes (SQLite spills a large transaction's pages there
// before its commit record).
func transactionInFlight(t *testing.T, dbURL, dataDir string) func() bool {
	t.Helper()
	if dbURL != "" {
		conn, err := pgx.Connect(context.Background(), dbURL)
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close(context.Background()) })
		return func() bool {
			var writing bool
			err := conn.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL
				AND query LIKE 'INSERT INTO resource%')`).Scan(&writing)
			require.NoError(t, err)
			return writing
		}
	}
	wal := filepath.Join(dataDir, embedded.FileName+"-wal")
	size := func() int64 {
		fi, err := os.Stat(wal)
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	start := size()
	return func() bool { return size() > start+4<<20 }
}
