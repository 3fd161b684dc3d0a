package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/access"
)

// fakeTransactions stands in for the server's create and transaction
// interactions: it gives every resource an id, answers a transaction with a
// transaction-response of locations, and counts what it got, by caller.
type fakeTransactions struct {
	mu           sync.Mutex
	n            int
	transactions int
	resources    int
	nhs          map[string]bool
	bad          []string
}

func newFakeTransactions(t *testing.T) (*fakeTransactions, string) {
	f := &fakeTransactions{nhs: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /fhir/{type}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.n++
		id := fmt.Sprint(f.n)
		f.mu.Unlock()
		w.Header().Set("Content-Type", fhirContentType)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"resourceType":%q,"id":%q}`, r.PathValue("type"), id)
	})
	mux.HandleFunc("POST /fhir", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var b sentBundle
		if err := json.Unmarshal(body, &b); err != nil || r.Header.Get("Prefer") != "return=minimal" || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			http.Error(w, "bad transaction", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.transactions++
		f.resources += len(b.Entry)
		type entry struct {
			Response struct {
				Status   string `json:"status"`
				Location string `json:"location"`
			} `json:"response"`
		}
		out := struct {
			ResourceType string  `json:"resourceType"`
			Type         string  `json:"type"`
			Entry        []entry `json:"entry"`
		}{ResourceType: "Bundle", Type: "transaction-response", Entry: make([]entry, len(b.Entry))}
		for i, e := range b.Entry {
			f.n++
			out.Entry[i].Response.Status = "201 Created"
			out.Entry[i].Response.Location = fmt.Sprintf("%s/%d/_history/1", e.Request.URL, f.n)
			if e.Request.URL == "Patient" {
				var p struct {
					Identifier []struct{ System, Value string }
				}
				_ = json.Unmarshal(e.Resource, &p)
				n := p.Identifier[0].Value
				if f.nhs[n] || !validNHSNumber(n) {
					f.bad = append(f.bad, "NHS number "+n)
				}
				f.nhs[n] = true
			}
		}
		w.Header().Set("Content-Type", fhirContentType)
		_ = json.NewEncoder(w).Encode(out)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv.URL + "/fhir"
}

// A population load records what it loaded, so that a second run with the
// same state file loads only the patients still missing and knows all of
// them; a line cut short by an interrupted run is dropped.
func TestLoadPopulationResumes(t *testing.T) {
	f, base := newFakeTransactions(t)
	devData := t.TempDir()
	_, err := access.LoadOrCreateDevKey(devData)
	require.NoError(t, err)
	m, err := newTokenMinter(devData, base)
	require.NoError(t, err)
	state := filepath.Join(t.TempDir(), "population.jsonl")
	e := &env{fhir: newFHIRClient(base, "", 4, 0), syntheaDir: syntheaDir}

	pop, err := loadPopulation(t.Context(), e, m, 45, state, io.Discard)
	require.NoError(t, err)
	require.Len(t, pop.patients, 50, "whole transactions of ten")
	require.Len(t, pop.sources, len(benchPractices)+len(benchHospitals))
	assert.Equal(t, 5, f.transactions)
	assert.Equal(t, f.resources, pop.resources)
	for _, p := range pop.patients {
		require.NotEmpty(t, p.ID)
		require.NotEmpty(t, pop.gpTokens[p.Practice])
	}
	creates := f.n - f.resources

	// An interrupted write leaves half a line.
	fh, err := os.OpenFile(state, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = fh.WriteString(`{"patients":[{"id":"x`)
	require.NoError(t, err)
	require.NoError(t, fh.Close())

	pop2, err := loadPopulation(t.Context(), e, m, 80, state, io.Discard)
	require.NoError(t, err)
	require.Len(t, pop2.patients, 80)
	assert.Equal(t, 8, f.transactions, "three more transactions")
	assert.Equal(t, pop.patients, pop2.patients[:50])
	last := pop.patients[0].NHS
	for _, p := range pop.patients {
		last = max(last, p.NHS)
	}
	for _, p := range pop2.patients[50:] {
		assert.Greater(t, p.NHS, last, "a resumed load continues after the numbers already loaded")
	}
	assert.Equal(t, creates, f.n-f.resources, "the sources' Organizations and clinicians are not created again")
	for i, s := range pop2.sources {
		assert.Equal(t, pop.sources[i].Org, s.Org)
		assert.NotEmpty(t, s.token)
	}
	f.mu.Lock()
	assert.Empty(t, f.bad)
	f.mu.Unlock()

	pop3, err := loadPopulation(t.Context(), e, m, 80, state, io.Discard)
	require.NoError(t, err)
	assert.Len(t, pop3.patients, 80)
	assert.Equal(t, 8, f.transactions, "nothing left to load")
}

func TestNewTokenMinterNeedsTheServersKey(t *testing.T) {
	dir := t.TempDir()
	_, err := newTokenMinter(dir, "http://localhost/fhir")
	require.ErrorContains(t, err, "dev signing key")
	_, err = os.Stat(filepath.Join(dir, access.DevKeyFile))
	require.ErrorIs(t, err, os.ErrNotExist, "no key is created")
}

func TestPopulationFlags(t *testing.T) {
	_, _, err := runBench(t, nil, "-population", "10")
	require.ErrorContains(t, err, "-population needs -dev-data")
	_, _, err = runBench(t, nil, "-population", "-1")
	require.ErrorContains(t, err, "-population must not be negative")
	_, base := newFakeTransactions(t)
	_, _, err = runBench(t, nil, "-base", base, "-scenarios", "scale-name", "-requests", "1", "-warmup", "0")
	require.ErrorIs(t, err, errNoPopulation)
}
