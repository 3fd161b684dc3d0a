package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/store/postgres/pgtest"
)

// testServer is the real server, started with run() on a fresh database.
type testServer struct {
	t       *testing.T
	base    string // FHIR base URL
	root    string // server root URL
	http    *http.Client
	dataDir string
	// token is sent with every request that sets no Authorization header:
	// by default a GP system of practice A81001 with every scope.
	token string
}

// mint returns a dev auth token for the server.
func (ts *testServer) mint(o access.MintOptions) string {
	ts.t.Helper()
	key, err := access.LoadOrCreateDevKey(ts.dataDir)
	require.NoError(ts.t, err)
	o.Audience = ts.base
	tok, err := key.Mint(o)
	require.NoError(ts.t, err)
	return tok
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// forStores runs test once against each store: Postgres and the embedded
// store. startServer picks the store from the subtest's name.
func forStores(t *testing.T, test func(t *testing.T)) {
	for _, name := range []string{"postgres", "embedded"} {
		t.Run(name, test)
	}
}

// storeURL returns SHAREDCARE_DATABASE_URL for the test: a fresh Postgres
// database, or empty (the embedded store in the test's data directory) when
// the test runs under forStores' "embedded" subtest.
func storeURL(t *testing.T) string {
	if strings.Contains(t.Name(), "/embedded") {
		return ""
	}
	return pgtest.NewDatabase(t)
}

// startServer runs `sharedcare serve` in-process against a fresh store (see
// storeURL) and waits until it answers. env adds to or overrides its
// environment.
func startServer(t *testing.T, env map[string]string) *testServer {
	t.Helper()
	addr := freeAddr(t)
	vars := map[string]string{
		"SHAREDCARE_ADDR":         addr,
		"SHAREDCARE_BASE_URL":     "http://" + addr + "/fhir",
		"SHAREDCARE_DATABASE_URL": storeURL(t),
		"SHAREDCARE_DATA_DIR":     t.TempDir(),
		"SHAREDCARE_LOG_LEVEL":    "warn",
		"SHAREDCARE_DEV_AUTH":     "1",
	}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return vars[k] }, io.Discard, os.Stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("server did not shut down")
		}
	})
	ts := &testServer{t: t, base: "http://" + addr + "/fhir", root: "http://" + addr,
		http: &http.Client{Timeout: 30 * time.Second}, dataDir: vars["SHAREDCARE_DATA_DIR"]}
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-done:
			done <- err // for the cleanup, which waits for the exit
			t.Fatalf("server exited: %v", err)
		default:
		}
		resp, err := ts.http.Get(ts.root + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ts.token = ts.mint(access.MintOptions{Role: access.CareRoleSystem, Org: "A81001", Source: access.RecordSourceGP})
				return ts
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// response is a read HTTP response.
type response struct {
	*http.Response
	Body []byte
}

// JSON decodes the body into a generic map.
func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

// do sends a request; path is relative to the FHIR base unless it starts with "http" or "/".
func (ts *testServer) do(method, path string, body any, headers ...string) response {
	ts.t.Helper()
	url := path
	switch {
	case strings.HasPrefix(path, "http"):
	case strings.HasPrefix(path, "/"):
		url = ts.root + path
	default:
		url = ts.base + "/" + path
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		require.NoError(ts.t, err)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(ts.t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	if ts.token != "" {
		req.Header.Set("Authorization", "Bearer "+ts.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := ts.http.Do(req)
	require.NoError(ts.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(ts.t, err)
	return response{Response: resp, Body: b}
}

// requireOutcome asserts status and that the body is an OperationOutcome.
func requireOutcome(t *testing.T, r response, status int) map[string]any {
	t.Helper()
	require.Equal(t, status, r.StatusCode, "body: %s", r.Body)
	require.Equal(t, "application/fhir+json; charset=utf-8", r.Header.Get("Content-Type"))
	m := r.JSON(t)
	require.Equal(t, "OperationOutcome", m["resourceType"], "body: %s", r.Body)
	require.NotEmpty(t, m["issue"])
	return m
}

func patientJSON(family string) string {
	return fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":%q,"given":["Ann"]}],"gender":"female","birthDate":"1950-04-01"}`, family)
}
