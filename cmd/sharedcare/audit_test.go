package main

import (
	"bytes"
	"context"
	"database/sql"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/store/embedded"
	"github.com/sharedcare/sharedcare/internal/store/postgres/pgtest"
)

// Every interaction, allowed or refused, lands on the audit trail; only
// auditors read it; the chain verifies and names the first altered link.
func TestAuditTrail(t *testing.T) { forStores(t, testAuditTrail) }

func testAuditTrail(t *testing.T) {
	env := map[string]string{"SHAREDCARE_DATABASE_URL": storeURL(t)}
	ts := startServer(t, env)
	auditor := ts.mint(access.MintOptions{Role: access.CareRoleAuditor, Org: "X26"})
	search := func(q string) []map[string]any {
		t.Helper()
		r := ts.do("GET", "AuditEvent?"+q, nil, "Authorization", "Bearer "+auditor)
		require.Equal(t, http.StatusOK, r.StatusCode, "%s", r.Body)
		var out []map[string]any
		entries, _ := r.JSON(t)["entry"].([]any)
		for _, e := range entries {
			out = append(out, e.(map[string]any)["resource"].(map[string]any))
		}
		return out
	}

	r := ts.do("PUT", "Patient/aud1", `{"resourceType":"Patient","id":"aud1"}`)
	require.Equal(t, http.StatusCreated, r.StatusCode)
	ts.do("GET", "Patient/aud1", nil)
	ts.do("GET", "Patient/aud1", nil, "Authorization", "")
	r = ts.do("POST", "Observation", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/aud1"}}`)
	require.Equal(t, http.StatusCreated, r.StatusCode)
	bg := ts.mint(access.MintOptions{Role: access.CareRoleClinician, Org: "RX1", BreakGlassReason: "unconscious in A&E"})
	ts.do("GET", "Patient/aud1", nil, "Authorization", "Bearer "+bg)

	events := search("patient=aud1")
	require.Len(t, events, 4, "create, read, observation create, break-glass read (the 401 names no patient)")
	actions := map[string]int{}
	for _, e := range events {
		actions[e["action"].(string)+e["outcome"].(string)]++
	}
	require.Equal(t, map[string]int{"C0": 2, "R0": 2}, actions)

	btg := search("purpose=BTG")
	require.Len(t, btg, 1)
	require.Equal(t, "unconscious in A&E", btg[0]["purposeOfEvent"].([]any)[0].(map[string]any)["text"])

	r = ts.do("GET", "AuditEvent", nil)
	requireOutcome(t, r, http.StatusForbidden)
	r = ts.do("GET", "AuditEvent/"+events[0]["id"].(string), nil, "Authorization", "Bearer "+auditor)
	require.Equal(t, http.StatusOK, r.StatusCode)
	requireOutcome(t, ts.do("DELETE", "AuditEvent/"+events[0]["id"].(string), nil), http.StatusMethodNotAllowed)

	verify := func() (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), []string{"audit", "verify", "--grace", "0s"}, func(k string) string {
			switch k {
			case "SHAREDCARE_DATABASE_URL":
				return env["SHAREDCARE_DATABASE_URL"]
			case "SHAREDCARE_DATA_DIR":
				return ts.dataDir
			}
			return ""
		}, &out, &out)
		return out.String(), err
	}
	// The server chains records within a second or so.
	require.Eventually(t, func() bool {
		out, err := verify()
		return err == nil && !bytes.Contains([]byte(out), []byte("WARNING"))
	}, 10*time.Second, 100*time.Millisecond)

	// Alter one chained record behind the server's back.
	if url := env["SHAREDCARE_DATABASE_URL"]; url != "" {
		require.NoError(t, pgtest.Exec(t, url, `UPDATE audit_events SET agent = 'forged' WHERE seq = (SELECT seq FROM audit_chain WHERE pos = 3)`))
	} else {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(ts.dataDir, embedded.FileName)+"?_pragma=busy_timeout(5000)")
		require.NoError(t, err)
		res, err := db.Exec(`UPDATE audit_events SET agent = 'forged' WHERE chain_pos = 3`)
		require.NoError(t, err)
		n, err := res.RowsAffected()
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		require.NoError(t, db.Close())
	}
	out, err := verify()
	require.ErrorIs(t, err, errChainBroken)
	require.Contains(t, out, "BROKEN at chain position 3")
	require.Contains(t, out, "2 links before it verified")
}
