package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/record"
	"github.com/sharedcare/sharedcare/internal/searchparam"
	"github.com/sharedcare/sharedcare/internal/store/embedded"
	"github.com/sharedcare/sharedcare/internal/store/postgres/pgtest"
	"github.com/sharedcare/sharedcare/internal/store/sqlsearch"
)

// reindexEnv is the configuration the server and `sharedcare reindex`
// share in a test: one store (see storeURL) and one data directory.
type reindexEnv map[string]string

func newReindexEnv(t *testing.T) reindexEnv {
	return reindexEnv{
		"SHAREDCARE_DATABASE_URL": storeURL(t),
		"SHAREDCARE_DATA_DIR":     t.TempDir(),
		"SHAREDCARE_LOG_LEVEL":    "warn",
	}
}

// reindex runs `sharedcare reindex args...` as a user would and returns
// its standard output and standard error.
func (env reindexEnv) reindex(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	err = run(ctx, append([]string{"reindex"}, args...), func(k string) string { return env[k] }, &out, &errOut)
	return out.String(), errOut.String(), err
}

// exec runs SQL on the test's store directly, behind the server's back.
func (env reindexEnv) exec(t *testing.T, query string) {
	t.Helper()
	if u := env["SHAREDCARE_DATABASE_URL"]; u != "" {
		require.NoError(t, pgtest.Exec(t, u, query))
		return
	}
	// The server may be writing (its sealer chains audit records every
	// second): wait for its lock rather than fail with SQLITE_BUSY.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(env["SHAREDCARE_DATA_DIR"], embedded.FileName)+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(query)
	require.NoError(t, err)
}

// observationCodes counts the Observations of a Synthea bundle by coding
// (system|code).
func observationCodes(t *testing.T, raw []byte) (codes map[string]int, observations int) {
	t.Helper()
	var b struct {
		Entry []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				Code         struct {
					Coding []struct{ System, Code string } `json:"coding"`
				} `json:"code"`
			} `json:"resource"`
		} `json:"entry"`
	}
	require.NoError(t, json.Unmarshal(raw, &b))
	codes = map[string]int{}
	for _, e := range b.Entry {
		if e.Resource.ResourceType != "Observation" {
			continue
		}
		observations++
		for _, c := range e.Resource.Code.Coding {
			codes[c.System+"|"+c.Code]++
		}
	}
	return codes, observations
}

func TestReindexRestoresIndex(t *testing.T) { forStores(t, testReindexRestoresIndex) }

// Wiping the Observations' token index makes a search by code find
// nothing; `sharedcare reindex --type Observation` restores it without a
// new version. On the embedded store the server is stopped first.
func testReindexRestoresIndex(t *testing.T) {
	env := newReindexEnv(t)
	raw := syntheaFixture(t, barneyAbbott)
	codes, observations := observationCodes(t, raw)
	// The most frequent code, so that the search has several matches.
	var code string
	for c, n := range codes {
		if n > codes[code] || (n == codes[code] && c < code) {
			code = c
		}
	}
	require.Greater(t, codes[code], 1)
	byCode := "Observation?code=" + url.QueryEscape(code)

	t.Run("load and wipe", func(t *testing.T) {
		ts := startServer(t, env)
		ts.postBundle(t, raw)
		require.Equal(t, codes[code], ts.total(byCode))
		env.exec(t, `DELETE FROM idx_token WHERE res_type = 'Observation'`)
		require.Zero(t, ts.total(byCode), "the wiped index finds nothing")
	})

	stdout, stderr, err := env.reindex(t.Context(), "--type", "Observation", "--batch", "20")
	require.NoError(t, err, "stdout: %s\nstderr: %s", stdout, stderr)
	require.Contains(t, stdout, fmt.Sprintf("reindex: %d resources in ", observations))
	require.Contains(t, stdout, fmt.Sprintf("every Observation (%d in the store), 20 per transaction", observations))
	if env["SHAREDCARE_DATABASE_URL"] == "" {
		require.Contains(t, stderr, "single-process, so the server must not be running")
	}

	t.Run("search again", func(t *testing.T) {
		ts := startServer(t, env)
		require.Equal(t, codes[code], ts.total(byCode))
		for c, n := range codes {
			require.Equal(t, n, ts.total("Observation?code="+url.QueryEscape(c)), c)
		}
		// No version was made: one per Observation, each still version 1.
		require.Equal(t, observations, ts.total("Observation/_history?_count=1"))
		page := ts.do("GET", byCode+"&_count=1", nil).JSON(t)
		res := page["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
		require.Equal(t, "1", res["meta"].(map[string]any)["versionId"])
	})
}

// Bad flags are refused with a reason before anything is opened.
func TestReindexBadInput(t *testing.T) {
	env := reindexEnv{"SHAREDCARE_DATA_DIR": t.TempDir(), "SHAREDCARE_LOG_LEVEL": "warn"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--type", "Observations"}, `"Observations" is not a FHIR R4 resource type`},
		{[]string{"--batch", "0"}, "--batch must be positive"},
		{[]string{"--after", "Observation"}, "is not Type/id"},
		{[]string{"--after", "Nope/1"}, "is not Type/id"},
		{[]string{"--type", "Observation", "--after", "Patient/1"}, "is not a Observation"},
		{[]string{"Observation"}, `unexpected argument "Observation"`},
		{nil, "no embedded store in"},
	} {
		_, _, err := env.reindex(t.Context(), tc.args...)
		require.ErrorContains(t, err, tc.want, "%v", tc.args)
	}
}

// A reindex of a Postgres store runs while the server serves: a client
// keeps updating Observations through the API meanwhile, and afterwards
// every resource's token index is its current version's, the updated ones
// found by the code only their newest version has.
func TestReindexWhileServing(t *testing.T) {
	env := reindexEnv{"SHAREDCARE_DATABASE_URL": pgtest.NewDatabase(t), "SHAREDCARE_DATA_DIR": t.TempDir(), "SHAREDCARE_LOG_LEVEL": "warn"}
	ts := startServer(t, env)
	for _, f := range []string{barneyAbbott, "Alberto_Armstrong_dc9335d0-bbdd-4120-8ae9-baa6604343b6.json"} {
		ts.postBundle(t, readFixture(t, filepath.Join(syntheaSample, f)))
	}

	// The Observations the clients update: every 3rd.
	var bodies []map[string]any
	next := "Observation?_count=200"
	for next != "" {
		page := ts.do("GET", next, nil).JSON(t)
		for i, e := range page["entry"].([]any) {
			if i%3 == 0 {
				bodies = append(bodies, e.(map[string]any)["resource"].(map[string]any))
			}
		}
		next = ""
		for _, l := range page["link"].([]any) {
			if l := l.(map[string]any); l["relation"] == "next" {
				next = l["url"].(string)
			}
		}
	}
	require.Greater(t, len(bodies), 30)

	// Two clients, each with half of the Observations, update them round
	// after round until the reindex is done: round r gives each a coding
	// "<id>-<r>" that no other version has.
	const revSystem = "https://example.org/reindex-round"
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var mu sync.Mutex
	last := map[string]int{} // id -> the round of its newest version
	var clientErr error
	update := func(b map[string]any, round int) error {
		id := b["id"].(string)
		coding := b["code"].(map[string]any)["coding"].([]any)
		b["code"].(map[string]any)["coding"] = append(coding[:1:1], map[string]any{"system": revSystem, "code": fmt.Sprintf("%s-%d", id, round)})
		j, err := json.Marshal(b)
		if err != nil {
			return err
		}
		req, err := http.NewRequest("PUT", ts.base+"/Observation/"+id, bytes.NewReader(j))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/fhir+json")
		req.Header.Set("Authorization", "Bearer "+ts.token)
		resp, err := ts.http.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("update %s: %d %s", id, resp.StatusCode, body)
		}
		mu.Lock()
		last[id] = round
		mu.Unlock()
		return nil
	}
	for c := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 1; ctx.Err() == nil; round++ {
				for i := c; i < len(bodies) && ctx.Err() == nil; i += 2 {
					if err := update(bodies[i], round); err != nil {
						mu.Lock()
						clientErr = err
						mu.Unlock()
						return
					}
				}
			}
		}()
	}
	stdout, stderr, err := env.reindex(t.Context(), "--batch", "10")
	stop()
	wg.Wait()
	require.NoError(t, err, "stdout: %s\nstderr: %s", stdout, stderr)
	require.NoError(t, clientErr)
	updates := 0
	for _, r := range last {
		updates += r
	}
	t.Logf("%d updates of %d Observations during the reindex; %s", updates, len(bodies), strings.ReplaceAll(strings.TrimSpace(stdout), "\n", "; "))
	require.Greater(t, updates, len(bodies), "the clients updated while the reindex ran")

	// The newest version's code finds each updated Observation, the
	// version before's nothing.
	for id, round := range last {
		require.Equal(t, 1, ts.total("Observation?code="+url.QueryEscape(fmt.Sprintf("%s|%s-%d", revSystem, id, round))), id)
		require.Zero(t, ts.total("Observation?code="+url.QueryEscape(fmt.Sprintf("%s|%s-%d", revSystem, id, round-1))), id)
	}

	// Every resource's token rows are those its current version derives.
	conn, err := pgx.Connect(t.Context(), env["SHAREDCARE_DATABASE_URL"])
	require.NoError(t, err)
	defer conn.Close(t.Context())
	rows, err := conn.Query(t.Context(), `SELECT r.type, r.id, r.raw, coalesce(array_agg(t.param || ' ' || t.system || '|' || t.code || ' ' || t.grp)
			FILTER (WHERE t.res_id IS NOT NULL), '{}')
		FROM resources r LEFT JOIN idx_token t ON t.res_type = r.type AND t.res_id = r.id
		WHERE NOT r.deleted GROUP BY r.type, r.id, r.raw`)
	require.NoError(t, err)
	checked := 0
	for rows.Next() {
		var typ, id string
		var raw []byte
		var stored []string
		require.NoError(t, rows.Scan(&typ, &id, &raw, &stored))
		d, err := record.Derive(typ, raw, nil)
		require.NoError(t, err)
		require.Equal(t, tokenRows(d.Index), sorted(stored), "%s/%s", typ, id)
		checked++
	}
	require.NoError(t, rows.Err())
	require.Greater(t, checked, 2*len(bodies))
}

// tokenRows renders the token values of index as the test reads idx_token.
func tokenRows(index []searchparam.Value) []string {
	var out []string
	grp := 0
	for _, v := range index {
		if v.Type == searchparam.TypeToken {
			out = append(out, fmt.Sprintf("%s %s|%s 0", v.Param, v.Token.System, v.Token.Code))
		}
		if v.Type != searchparam.TypeComposite {
			continue
		}
		grp++
		for i, part := range v.Components {
			if part.Type == searchparam.TypeToken {
				out = append(out, fmt.Sprintf("%s %s|%s %d", sqlsearch.ComponentParam(v.Param, i), part.Token.System, part.Token.Code, grp))
			}
		}
	}
	return sorted(out)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	if s == nil {
		s = []string{}
	}
	return s
}
