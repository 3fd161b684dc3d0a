package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/store/postgres"
	"github.com/sharedcare/sharedcare/internal/store/postgres/pgtest"
)

// recordView is what clients see of a whole record: every version by
// vread, the current versions, the history and the counts per type. Server
// base URLs are replaced by BASE, so that two servers compare.
type recordView struct {
	// Versions maps Type/id/_history/n to the vread status, ETag,
	// Last-Modified and body.
	Versions map[string]string
	// Current maps Type/id to the read status and body.
	Current map[string]string
	// History is every entry of the system history, newest first.
	History []string
	// Totals maps a resource type to the total of its history and of a
	// search of it.
	Totals map[string]string
}

// view reads the whole record as a client would.
func view(t *testing.T, ts *testServer) recordView {
	t.Helper()
	base := func(b []byte) string { return strings.ReplaceAll(string(b), ts.base, "BASE") }
	v := recordView{Versions: map[string]string{}, Current: map[string]string{}, Totals: map[string]string{}}
	next := "_history?_count=50"
	for next != "" {
		r := ts.do("GET", next, nil)
		require.Equal(t, http.StatusOK, r.StatusCode, "%s", r.Body)
		var page struct {
			Link []struct {
				Relation, URL string
			}
			Entry []struct {
				FullURL  string
				Response struct{ Etag string }
			}
		}
		require.NoError(t, json.Unmarshal(r.Body, &page))
		var raw struct{ Entry []json.RawMessage }
		require.NoError(t, json.Unmarshal(r.Body, &raw))
		for i, e := range page.Entry {
			v.History = append(v.History, base(raw.Entry[i]))
			key := strings.TrimPrefix(e.FullURL, ts.base+"/")
			version := strings.Trim(strings.TrimPrefix(e.Response.Etag, "W/"), `"`)
			vr := ts.do("GET", key+"/_history/"+version, nil)
			v.Versions[key+"/_history/"+version] = fmt.Sprintf("%d %s %s %s", vr.StatusCode, vr.Header.Get("ETag"), vr.Header.Get("Last-Modified"), base(vr.Body))
			if _, ok := v.Current[key]; !ok {
				cr := ts.do("GET", key, nil)
				v.Current[key] = fmt.Sprintf("%d %s", cr.StatusCode, base(cr.Body))
				typ, _, _ := strings.Cut(key, "/")
				if _, ok := v.Totals[typ]; !ok {
					h := ts.do("GET", typ+"/_history?_count=0", nil).JSON(t)
					s := ts.do("GET", typ+"?_summary=count", nil)
					v.Totals[typ] = fmt.Sprintf("history %v, search %d %v", h["total"], s.StatusCode, s.JSON(t)["total"])
				}
			}
		}
		next = ""
		for _, l := range page.Link {
			if l.Relation == "next" {
				next = l.URL
			}
		}
	}
	return v
}

// verifyAudit runs `sharedcare audit verify --grace 0s` on a store.
func verifyAudit(t *testing.T, databaseURL, dataDir string) string {
	t.Helper()
	var out bytes.Buffer
	err := run(t.Context(), []string{"audit", "verify", "--grace", "0s"}, func(k string) string {
		return map[string]string{"SHAREDCARE_DATABASE_URL": databaseURL, "SHAREDCARE_DATA_DIR": dataDir}[k]
	}, &out, &out)
	require.NoError(t, err, "%s", out.String())
	return out.String()
}

// writeRecord writes through the API: creates with server ids, updates,
// deletions, a re-creation and every UK Core example the server accepts.
func writeRecord(t *testing.T, ts *testServer) {
	t.Helper()
	var patients []string
	for i := range 5 {
		r := ts.do("POST", "Patient", patientJSON(fmt.Sprintf("Migrant%d", i)))
		require.Equal(t, http.StatusCreated, r.StatusCode, "%s", r.Body)
		id := r.JSON(t)["id"].(string)
		patients = append(patients, id)
		r = ts.do("POST", "Observation", fmt.Sprintf(`{"resourceType":"Observation","status":"final",
			"code":{"coding":[{"system":"http://snomed.info/sct","code":"75367002"}]},"subject":{"reference":"Patient/%s"},
			"component":[{"code":{"coding":[{"system":"http://snomed.info/sct","code":"271649006"}]},
				"valueQuantity":{"value":%d,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`, id, 120+i))
		require.Equal(t, http.StatusCreated, r.StatusCode, "%s", r.Body)
	}
	for i, id := range patients[:3] {
		r := ts.do("PUT", "Patient/"+id, fmt.Sprintf(`{"resourceType":"Patient","id":%q,"active":true,"name":[{"family":"Moved%d"}]}`, id, i))
		require.Equal(t, http.StatusOK, r.StatusCode, "%s", r.Body)
	}
	require.Equal(t, http.StatusNoContent, ts.do("DELETE", "Patient/"+patients[3], nil).StatusCode)
	require.Equal(t, http.StatusNoContent, ts.do("DELETE", "Patient/"+patients[4], nil).StatusCode)
	r := ts.do("PUT", "Patient/"+patients[4], fmt.Sprintf(`{"resourceType":"Patient","id":%q,"gender":"other"}`, patients[4]))
	require.Equal(t, http.StatusCreated, r.StatusCode, "%s", r.Body)

	accepted := 0
	for _, f := range ukCoreExamples(t) {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		var head struct{ ResourceType, ID string }
		require.NoError(t, json.Unmarshal(raw, &head))
		if ts.do("PUT", head.ResourceType+"/"+head.ID, raw).StatusCode < 300 {
			accepted++
		}
	}
	require.Greater(t, accepted, 150, "most UK Core examples are accepted")
}

var linksVerified = regexp.MustCompile(`valid: (\d+) links verified`)

// links returns the number of links `audit verify` reported.
func links(t *testing.T, out string) int {
	t.Helper()
	m := linksVerified.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	var n int
	_, err := fmt.Sscan(m[1], &n)
	require.NoError(t, err)
	return n
}

// `sharedcare migrate-store` moves a deployment from the embedded store to
// Postgres: clients see the same record, the audit chain verifies with
// the same links, and the server carries on where the embedded one left off.
func TestMigrateStore(t *testing.T) {
	dataDir := t.TempDir()
	var before recordView
	t.Run("embedded", func(t *testing.T) {
		ts := startServer(t, map[string]string{"SHAREDCARE_DATABASE_URL": "", "SHAREDCARE_DATA_DIR": dataDir})
		writeRecord(t, ts)
		before = view(t, ts)
		// The server chains records within a second or so.
		require.Eventually(t, func() bool {
			return !strings.Contains(verifyAudit(t, "", dataDir), "WARNING")
		}, 10*time.Second, 100*time.Millisecond)
	})
	// The server has stopped; it flushed any record still queued.
	sourceAudit := verifyAudit(t, "", dataDir)

	pgURL := pgtest.NewDatabase(t)
	noEnv := func(string) string { return "" }
	var out bytes.Buffer
	err := run(t.Context(), []string{"migrate-store", "--from", dataDir, "--to", pgURL}, noEnv, &out, &out)
	require.NoError(t, err, "%s", out.String())
	t.Logf("migrate-store:\n%s", out.String())
	require.Contains(t, out.String(), fmt.Sprintf("history: %d versions in", len(before.History)))
	require.Contains(t, out.String(), fmt.Sprintf("resources: %d resources in", len(before.Current)))
	require.Contains(t, out.String(), fmt.Sprintf("audit chain of the copy: valid: %d links verified", links(t, sourceAudit)))
	require.Equal(t, sourceAudit, verifyAudit(t, pgURL, dataDir), "the same chain, link for link")

	var again bytes.Buffer
	err = run(t.Context(), []string{"migrate-store", "--from", dataDir, "--to", pgURL}, noEnv, &again, &again)
	require.ErrorIs(t, err, postgres.ErrNotEmpty, "a second copy is refused")

	err = run(t.Context(), []string{"migrate-store", "--from", filepath.Join(dataDir, "nowhere"), "--to", pgURL}, noEnv, &again, &again)
	require.ErrorContains(t, err, "no embedded store to copy")
	require.NoDirExists(t, filepath.Join(dataDir, "nowhere"), "a mistyped directory is not created")

	t.Run("postgres", func(t *testing.T) {
		ts := startServer(t, map[string]string{"SHAREDCARE_DATABASE_URL": pgURL, "SHAREDCARE_DATA_DIR": dataDir})
		after := view(t, ts)
		require.Equal(t, len(before.Versions), len(after.Versions))
		for k, want := range before.Versions {
			require.Equal(t, want, after.Versions[k], "vread %s", k)
		}
		require.Equal(t, before.Current, after.Current)
		require.Equal(t, before.History, after.History)
		require.Equal(t, before.Totals, after.Totals)

		// The next write is the next version, first in the history, and
		// its audit record is chained after the copied ones.
		r := ts.do("PUT", "Patient/UKCore-Patient-RichardSmith-Example", `{"resourceType":"Patient","id":"UKCore-Patient-RichardSmith-Example","active":false}`)
		require.Equal(t, http.StatusOK, r.StatusCode, "%s", r.Body)
		prev := before.Current["Patient/UKCore-Patient-RichardSmith-Example"]
		require.True(t, strings.HasPrefix(prev, "200 "), prev)
		var cur struct{ Meta struct{ VersionID string } }
		require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(prev, "200 ")), &cur))
		require.Equal(t, fmt.Sprintf(`W/"%s"`, bumped(t, cur.Meta.VersionID)), r.Header.Get("ETag"))
		h := ts.do("GET", "_history?_count=1", nil).JSON(t)
		require.Equal(t, float64(len(before.History)+1), h["total"])
		first := h["entry"].([]any)[0].(map[string]any)
		require.Equal(t, ts.base+"/Patient/UKCore-Patient-RichardSmith-Example", first["fullUrl"])

		var got string
		require.Eventually(t, func() bool {
			got = verifyAudit(t, pgURL, dataDir)
			return !strings.Contains(got, "WARNING") && links(t, got) > links(t, sourceAudit)
		}, 10*time.Second, 100*time.Millisecond, "%s", got)
	})
}

// bumped returns the version after v.
func bumped(t *testing.T, v string) string {
	t.Helper()
	var n int
	_, err := fmt.Sscan(v, &n)
	require.NoError(t, err)
	return fmt.Sprint(n + 1)
}

// The command names what it needs.
func TestMigrateStoreUsage(t *testing.T) {
	var out bytes.Buffer
	err := run(t.Context(), []string{"migrate-store", "--from", t.TempDir()}, func(string) string { return "" }, &out, &out)
	require.EqualError(t, err, migrateStoreUsage)
}
