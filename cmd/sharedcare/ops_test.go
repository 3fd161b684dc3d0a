package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/store/postgres/pgtest"
)

func TestOperationsEndpoints(t *testing.T) { forStores(t, testOperationsEndpoints) }

func testOperationsEndpoints(t *testing.T) {
	ts := startServer(t, nil)

	r := ts.do("GET", "/healthz", nil)
	require.Equal(t, http.StatusOK, r.StatusCode)
	r = ts.do("GET", "/readyz", nil)
	require.Equal(t, http.StatusOK, r.StatusCode, "%s", r.Body)

	ts.do("GET", "Observation/nope", nil)
	r = ts.do("GET", "/metrics", nil)
	require.Equal(t, http.StatusOK, r.StatusCode)
	body := string(r.Body)
	require.Contains(t, body, `sharedcare_http_requests_total{code="404",interaction="read"} 1`)
	require.Contains(t, body, `sharedcare_http_request_duration_seconds_bucket{interaction="read"`)
	require.Contains(t, body, "sharedcare_db_pool_connections")

	t.Run("request id is echoed or made", func(t *testing.T) {
		r := ts.do("GET", "metadata", nil, "X-Request-Id", "abc-123")
		require.Equal(t, "abc-123", r.Header.Get("X-Request-Id"))
		r = ts.do("GET", "metadata", nil, "X-Request-Id", "bad id with spaces")
		require.NotEmpty(t, r.Header.Get("X-Request-Id"))
		require.NotContains(t, r.Header.Get("X-Request-Id"), " ")
	})
}

// readyz says no when the schema is behind this build.
func TestReadyzNeedsMigratedSchema(t *testing.T) {
	db := pgtest.NewDatabase(t)
	ts := startServer(t, map[string]string{"SHAREDCARE_DATABASE_URL": db})
	require.NoError(t, pgtest.Exec(t, db, "UPDATE schema_migrations SET version = version - 1"))
	r := ts.do("GET", "/readyz", nil)
	require.Equal(t, http.StatusServiceUnavailable, r.StatusCode)
}

// On SIGTERM (here: the run context ending) a request in flight finishes.
func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	addr := freeAddr(t)
	vars := map[string]string{
		"SHAREDCARE_ADDR":         addr,
		"SHAREDCARE_BASE_URL":     "http://" + addr + "/fhir",
		"SHAREDCARE_DATABASE_URL": pgtest.NewDatabase(t),
		"SHAREDCARE_DATA_DIR":     t.TempDir(),
		"SHAREDCARE_LOG_LEVEL":    "warn",
		"SHAREDCARE_DEV_AUTH":     "1",
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return vars[k] }, io.Discard, os.Stderr)
	}()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}, 20*time.Second, 20*time.Millisecond)

	key, err := access.LoadOrCreateDevKey(vars["SHAREDCARE_DATA_DIR"])
	require.NoError(t, err)
	tok, err := key.Mint(access.MintOptions{Role: access.CareRoleSystem, Org: "A81001", Source: "gp", Audience: vars["SHAREDCARE_BASE_URL"]})
	require.NoError(t, err)

	// A slow upload: the body trickles in after shutdown has begun.
	pr, pw := io.Pipe()
	result := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", "http://"+addr+"/fhir/Patient", pr)
		req.Header.Set("Content-Type", "application/fhir+json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			result <- 0
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	_, _ = pw.Write([]byte(`{"resourceType":"Patient",`))
	time.Sleep(200 * time.Millisecond)
	cancel()
	time.Sleep(200 * time.Millisecond)
	_, _ = io.Copy(pw, strings.NewReader(`"active":true}`))
	pw.Close()
	require.Equal(t, http.StatusCreated, <-result)
	require.NoError(t, <-done)
}

func TestCapabilityStatementAndOpenAPI(t *testing.T) { forStores(t, testCapabilityStatementAndOpenAPI) }

func testCapabilityStatementAndOpenAPI(t *testing.T) {
	ts := startServer(t, nil)
	cs := ts.do("GET", "metadata", nil, "Authorization", "").JSON(t)
	require.Equal(t, "4.0.1", cs["fhirVersion"])
	require.Equal(t, "instance", cs["kind"])
	rest := cs["rest"].([]any)[0].(map[string]any)
	types := map[string]bool{}
	for _, r := range rest["resource"].([]any) {
		types[r.(map[string]any)["type"].(string)] = true
	}
	require.Len(t, types, 146)
	require.True(t, types["Patient"] && types["MedicationAdministration"])

	oa := ts.do("GET", "openapi.json", nil, "Authorization", "")
	require.Equal(t, http.StatusOK, oa.StatusCode)
	doc := oa.JSON(t)
	require.Equal(t, "3.0.3", doc["openapi"])
	require.Contains(t, doc["paths"], "/Patient/{id}")
}
