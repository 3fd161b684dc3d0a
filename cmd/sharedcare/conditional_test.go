package main

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/access"
)

// mrnSystem is a hospital number system: unlike NHS numbers, any value is valid.
const mrnSystem = "https://example.org/mrn"

func identifiedPatient(nhs, family string) string {
	return fmt.Sprintf(`{"resourceType":"Patient","identifier":[{"system":%q,"value":%q}],"name":[{"family":%q}]}`, mrnSystem, nhs, family)
}

// total counts the resources a search finds.
func (ts *testServer) total(query string) int {
	ts.t.Helper()
	r := ts.do("GET", query+"&_total=accurate", nil)
	require.Equal(ts.t, http.StatusOK, r.StatusCode, "%s", r.Body)
	n, ok := r.JSON(ts.t)["total"].(float64)
	require.True(ts.t, ok, "%s", r.Body)
	return int(n)
}

func TestConditionalCreate(t *testing.T) { forStores(t, testConditionalCreate) }

func testConditionalCreate(t *testing.T) {
	ts := startServer(t, nil)
	criteria := "identifier=" + mrnSystem + "|9000000009"

	first := ts.do("POST", "Patient", identifiedPatient("9000000009", "First"), "If-None-Exist", criteria)
	require.Equal(t, http.StatusCreated, first.StatusCode, "%s", first.Body)
	id := first.JSON(t)["id"].(string)

	again := ts.do("POST", "Patient", identifiedPatient("9000000009", "Second"), "If-None-Exist", criteria)
	require.Equal(t, http.StatusOK, again.StatusCode, "%s", again.Body)
	require.Equal(t, id, again.JSON(t)["id"])
	require.Equal(t, `W/"1"`, again.Header.Get("ETag"), "a match is returned, not written")
	require.Equal(t, first.Body, ts.do("GET", "Patient/"+id, nil).Body)

	ts.do("POST", "Patient", identifiedPatient("9000000017", "Twin"))
	ts.do("POST", "Patient", identifiedPatient("9000000017", "Twin"))
	requireOutcome(t, ts.do("POST", "Patient", identifiedPatient("9000000017", "Third"),
		"If-None-Exist", "identifier="+mrnSystem+"|9000000017"), http.StatusPreconditionFailed)
	require.Equal(t, 2, ts.total("Patient?identifier="+mrnSystem+"|9000000017"))

	t.Run("unknown parameters are refused, not ignored", func(t *testing.T) {
		requireOutcome(t, ts.do("POST", "Patient", identifiedPatient("9000000025", "X"), "If-None-Exist", "nonsense=1"), http.StatusBadRequest)
	})
	t.Run("a withheld match is neither revealed nor reused", func(t *testing.T) {
		other := ts.mint(access.MintOptions{Role: access.CareRoleSystem, Org: "RXX01", Source: access.RecordSourceHospital})
		r := ts.do("POST", "Patient", identifiedPatient("9000000009", "Hospital"),
			"If-None-Exist", criteria, "Authorization", "Bearer "+other)
		require.Equal(t, http.StatusCreated, r.StatusCode, "%s", r.Body)
		require.NotEqual(t, id, r.JSON(t)["id"])
	})
}

func TestParallelConditionalCreatesMakeOne(t *testing.T) {
	forStores(t, testParallelConditionalCreatesMakeOne)
}

func testParallelConditionalCreatesMakeOne(t *testing.T) {
	ts := startServer(t, nil)
	const n = 20
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	ids := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := ts.do("POST", "Patient", identifiedPatient("9000000033", fmt.Sprintf("P%d", i)),
				"If-None-Exist", "identifier="+mrnSystem+"|9000000033")
			statuses <- r.StatusCode
			if r.StatusCode == http.StatusCreated || r.StatusCode == http.StatusOK {
				id, _ := r.JSON(t)["id"].(string)
				ids <- id
			} else {
				t.Errorf("create %d: %d %s", i, r.StatusCode, r.Body)
			}
		}(i)
	}
	wg.Wait()
	close(statuses)
	close(ids)
	created := 0
	for s := range statuses {
		assert.Contains(t, []int{http.StatusCreated, http.StatusOK}, s)
		if s == http.StatusCreated {
			created++
		}
	}
	require.Equal(t, 1, created)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	require.Len(t, seen, 1, "every answer names the one resource")
	require.Equal(t, 1, ts.total("Patient?identifier="+mrnSystem+"|9000000033"))
}

func TestConditionalUpdate(t *testing.T) { forStores(t, testConditionalUpdate) }

func testConditionalUpdate(t *testing.T) {
	ts := startServer(t, nil)
	url := "Patient?identifier=" + mrnSystem + "|9000000041"

	created := ts.do("PUT", url, identifiedPatient("9000000041", "New"))
	require.Equal(t, http.StatusCreated, created.StatusCode, "%s", created.Body)
	id := created.JSON(t)["id"].(string)

	updated := ts.do("PUT", url, identifiedPatient("9000000041", "Changed"))
	require.Equal(t, http.StatusOK, updated.StatusCode, "%s", updated.Body)
	require.Equal(t, id, updated.JSON(t)["id"])
	require.Equal(t, `W/"2"`, updated.Header.Get("ETag"))

	t.Run("the body id must be the match's", func(t *testing.T) {
		requireOutcome(t, ts.do("PUT", url, `{"resourceType":"Patient","id":"someone-else"}`), http.StatusBadRequest)
		r := ts.do("PUT", url, fmt.Sprintf(`{"resourceType":"Patient","id":%q,"identifier":[{"system":%q,"value":"9000000041"}],"active":true}`, id, mrnSystem))
		require.Equal(t, http.StatusOK, r.StatusCode, "%s", r.Body)
		require.Equal(t, `W/"3"`, r.Header.Get("ETag"))
	})
	t.Run("no match creates with the body's free id", func(t *testing.T) {
		r := ts.do("PUT", "Patient?identifier="+mrnSystem+"|9000000058",
			fmt.Sprintf(`{"resourceType":"Patient","id":"chosen","identifier":[{"system":%q,"value":"9000000058"}]}`, mrnSystem))
		require.Equal(t, http.StatusCreated, r.StatusCode, "%s", r.Body)
		require.Equal(t, "chosen", r.JSON(t)["id"])
	})
	t.Run("many matches is 412", func(t *testing.T) {
		ts.do("POST", "Patient", identifiedPatient("9000000066", "A"))
		ts.do("POST", "Patient", identifiedPatient("9000000066", "B"))
		requireOutcome(t, ts.do("PUT", "Patient?identifier="+mrnSystem+"|9000000066", identifiedPatient("9000000066", "C")), http.StatusPreconditionFailed)
	})
	t.Run("no criteria is 400", func(t *testing.T) {
		requireOutcome(t, ts.do("PUT", "Patient", identifiedPatient("9000000066", "C")), http.StatusBadRequest)
	})
}

func TestConditionalDeleteAndPatch(t *testing.T) { forStores(t, testConditionalDeleteAndPatch) }

func testConditionalDeleteAndPatch(t *testing.T) {
	ts := startServer(t, nil)
	url := "Patient?identifier=" + mrnSystem + "|9000000074"
	id := ts.do("POST", "Patient", identifiedPatient("9000000074", "Patched")).JSON(t)["id"].(string)

	p := ts.do("PATCH", url, `[{"op":"add","path":"/active","value":true}]`, "Content-Type", "application/json-patch+json")
	require.Equal(t, http.StatusOK, p.StatusCode, "%s", p.Body)
	require.Equal(t, id, p.JSON(t)["id"])
	require.Equal(t, true, p.JSON(t)["active"])
	requireOutcome(t, ts.do("PATCH", "Patient?identifier="+mrnSystem+"|0000000000",
		`[{"op":"add","path":"/active","value":true}]`, "Content-Type", "application/json-patch+json"), http.StatusNotFound)

	ts.do("POST", "Patient", identifiedPatient("9000000082", "A"))
	ts.do("POST", "Patient", identifiedPatient("9000000082", "B"))
	requireOutcome(t, ts.do("DELETE", "Patient?identifier="+mrnSystem+"|9000000082", nil), http.StatusPreconditionFailed)
	require.Equal(t, 2, ts.total("Patient?identifier="+mrnSystem+"|9000000082"))

	d := ts.do("DELETE", url, nil)
	require.Equal(t, http.StatusNoContent, d.StatusCode, "%s", d.Body)
	requireOutcome(t, ts.do("GET", "Patient/"+id, nil), http.StatusGone)

	none := ts.do("DELETE", url, nil)
	require.Equal(t, http.StatusNoContent, none.StatusCode, "no match is a successful no-op")
}
