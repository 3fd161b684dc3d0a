package main

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The transaction scenario sends whole Synthea copies and reports resources
// per second: requests times the templates' mean size.
func TestRunTransaction(t *testing.T) {
	f, base := newFakeTransactions(t)
	out, _, err := runBench(t, map[string]string{"SHAREDCARE_TOKEN": "t"}, "-base", base, "-synthea", syntheaDir,
		"-scenarios", "transaction", "-concurrency", "2", "-requests", "10", "-warmup", "0", "-json")
	require.NoError(t, err)
	var rep report
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.Len(t, rep.Results, 1)
	r := rep.Results[0]
	assert.Zero(t, r.Server.Errors, r.Server.FirstError)
	assert.InDelta(t, (157.0+297+179+132+188)/5, r.Units, 1e-9)
	assert.InDelta(t, r.Server.Throughput*r.Units, r.Server.UnitRate, 1e-6)
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.Equal(t, 10, f.transactions)
	assert.Equal(t, 2*(157+297+179+132+188), f.resources, "two rounds of the five templates")
	assert.Empty(t, f.bad)
}

// The transaction floor writes, per request, one row per resource of a
// template and one index row per search value the server would extract.
func TestTransactionFloorRows(t *testing.T) {
	dbURL := testDatabaseURL(t)
	db, err := openScratchDB(t.Context(), dbURL, 2)
	require.NoError(t, err)
	defer func() { require.NoError(t, db.close()) }()
	e := &env{db: db.pool, syntheaDir: syntheaDir}
	ts, err := e.templates()
	require.NoError(t, err)

	floor, err := transactionFloor(t.Context(), e)
	require.NoError(t, err)
	s, err := runLoad(t.Context(), floor, load{concurrency: 2, requests: len(ts)})
	require.NoError(t, err)
	require.Zero(t, s.errors, s.firstErr)

	resources, index := 0, 0
	for _, tmpl := range ts {
		resources += len(tmpl.entries)
		index += tmpl.indexRows()
	}
	var gotRes, gotIdx, patients int
	require.NoError(t, db.pool.QueryRow(t.Context(), `SELECT count(*) FROM floor_resources`).Scan(&gotRes))
	require.NoError(t, db.pool.QueryRow(t.Context(), `SELECT count(*), count(DISTINCT patient_id) FROM floor_index`).Scan(&gotIdx, &patients))
	assert.Equal(t, resources, gotRes)
	assert.Equal(t, index, gotIdx)
	assert.Greater(t, index, 10*resources, "Synthea resources carry many search values")
	assert.Equal(t, len(ts), patients, "one patient per transaction")
}

// analyze leaves the planner statistics of every table fresh.
func TestAnalyze(t *testing.T) {
	dbURL := testDatabaseURL(t)
	db, err := openScratchDB(t.Context(), dbURL, 1)
	require.NoError(t, err)
	defer func() { require.NoError(t, db.close()) }()
	_, err = db.pool.Exec(t.Context(), `INSERT INTO floor_resources SELECT g::text, '\x00' FROM generate_series(1, 500) g`)
	require.NoError(t, err)
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	u.Path = "/" + db.name
	require.NoError(t, analyze(t.Context(), u.String()))
	var tuples float64
	require.NoError(t, db.pool.QueryRow(t.Context(), `SELECT reltuples FROM pg_class WHERE relname = 'floor_resources'`).Scan(&tuples))
	assert.Equal(t, 500.0, tuples)
}
