package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCreateReadUpdateDelete(t *testing.T) { forStores(t, testCreateReadUpdateDelete) }

func testCreateReadUpdateDelete(t *testing.T) {
	ts := startServer(t, nil)

	created := ts.do("POST", "Patient", patientJSON("Smith"))
	require.Equal(t, http.StatusCreated, created.StatusCode, "%s", created.Body)
	require.Equal(t, `W/"1"`, created.Header.Get("ETag"))
	loc := created.Header.Get("Location")
	require.True(t, strings.HasPrefix(loc, ts.base+"/Patient/"), loc)
	require.True(t, strings.HasSuffix(loc, "/_history/1"), loc)
	require.NotEmpty(t, created.Header.Get("Last-Modified"))
	p := created.JSON(t)
	id := p["id"].(string)
	meta := p["meta"].(map[string]any)
	require.Equal(t, "1", meta["versionId"])
	require.NotEmpty(t, meta["lastUpdated"])
	require.Equal(t, []any{map[string]any{"family": "Smith", "given": []any{"Ann"}}}, p["name"])

	t.Run("read serves the stored resource", func(t *testing.T) {
		r := ts.do("GET", "Patient/"+id, nil)
		require.Equal(t, http.StatusOK, r.StatusCode)
		require.Equal(t, created.Body, r.Body)
		require.Equal(t, `W/"1"`, r.Header.Get("ETag"))
		require.Equal(t, "application/fhir+json; charset=utf-8", r.Header.Get("Content-Type"))
	})
	t.Run("HEAD has headers and no body", func(t *testing.T) {
		r := ts.do("HEAD", "Patient/"+id, nil)
		require.Equal(t, http.StatusOK, r.StatusCode)
		require.Empty(t, r.Body)
		require.Equal(t, `W/"1"`, r.Header.Get("ETag"))
	})
	t.Run("If-None-Match of the current version is 304", func(t *testing.T) {
		r := ts.do("GET", "Patient/"+id, nil, "If-None-Match", `W/"1"`)
		require.Equal(t, http.StatusNotModified, r.StatusCode)
		r = ts.do("GET", "Patient/"+id, nil, "If-None-Match", `W/"7"`)
		require.Equal(t, http.StatusOK, r.StatusCode)
	})
	t.Run("If-Modified-Since", func(t *testing.T) {
		r := ts.do("GET", "Patient/"+id, nil, "If-Modified-Since", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
		require.Equal(t, http.StatusNotModified, r.StatusCode)
		r = ts.do("GET", "Patient/"+id, nil, "If-Modified-Since", time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat))
		require.Equal(t, http.StatusOK, r.StatusCode)
	})

	updated := ts.do("PUT", "Patient/"+id, fmt.Sprintf(`{"resourceType":"Patient","id":%q,"active":true}`, id), "If-Match", `W/"1"`)
	require.Equal(t, http.StatusOK, updated.StatusCode, "%s", updated.Body)
	require.Equal(t, `W/"2"`, updated.Header.Get("ETag"))
	require.Equal(t, "2", updated.JSON(t)["meta"].(map[string]any)["versionId"])

	t.Run("stale If-Match is 412 and changes nothing", func(t *testing.T) {
		r := ts.do("PUT", "Patient/"+id, fmt.Sprintf(`{"resourceType":"Patient","id":%q,"active":false}`, id), "If-Match", `W/"1"`)
		requireOutcome(t, r, http.StatusPreconditionFailed)
		require.Equal(t, updated.Body, ts.do("GET", "Patient/"+id, nil).Body)
	})
	t.Run("vread returns each version", func(t *testing.T) {
		require.Equal(t, created.Body, ts.do("GET", "Patient/"+id+"/_history/1", nil).Body)
		require.Equal(t, updated.Body, ts.do("GET", "Patient/"+id+"/_history/2", nil).Body)
		requireOutcome(t, ts.do("GET", "Patient/"+id+"/_history/3", nil), http.StatusNotFound)
		requireOutcome(t, ts.do("GET", "Patient/"+id+"/_history/x", nil), http.StatusNotFound)
	})
	t.Run("Prefer return", func(t *testing.T) {
		body := fmt.Sprintf(`{"resourceType":"Patient","id":%q,"active":true}`, id)
		r := ts.do("PUT", "Patient/"+id, body, "Prefer", "return=minimal")
		require.Equal(t, http.StatusOK, r.StatusCode)
		require.Empty(t, r.Body)
		require.Equal(t, `W/"3"`, r.Header.Get("ETag"))
		r = ts.do("PUT", "Patient/"+id, body, "Prefer", "return=OperationOutcome")
		requireOutcome(t, r, http.StatusOK)
		require.Equal(t, `W/"4"`, r.Header.Get("ETag"))
		r = ts.do("POST", "Patient", patientJSON("Jones"), "Prefer", "return=minimal")
		require.Equal(t, http.StatusCreated, r.StatusCode)
		require.Empty(t, r.Body)
		require.NotEmpty(t, r.Header.Get("Location"))
	})

	t.Run("delete, then 410, idempotent, resurrect by update", func(t *testing.T) {
		r := ts.do("DELETE", "Patient/"+id, nil)
		require.Equal(t, http.StatusNoContent, r.StatusCode)
		requireOutcome(t, ts.do("GET", "Patient/"+id, nil), http.StatusGone)
		r = ts.do("DELETE", "Patient/"+id, nil)
		require.Equal(t, http.StatusNoContent, r.StatusCode)
		r = ts.do("DELETE", "Patient/never-was", nil)
		require.Equal(t, http.StatusNoContent, r.StatusCode)
		requireOutcome(t, ts.do("GET", "Patient/"+id+"/_history/5", nil), http.StatusGone)

		h := ts.do("GET", "Patient/"+id+"/_history", nil).JSON(t)
		require.EqualValues(t, 5, h["total"])
		first := h["entry"].([]any)[0].(map[string]any)
		require.Equal(t, "DELETE", first["request"].(map[string]any)["method"])
		require.Nil(t, first["resource"])

		r = ts.do("PUT", "Patient/"+id, fmt.Sprintf(`{"resourceType":"Patient","id":%q}`, id))
		require.Equal(t, http.StatusCreated, r.StatusCode, "%s", r.Body)
		require.Equal(t, `W/"6"`, r.Header.Get("ETag"))
	})

	t.Run("update as create with a client id", func(t *testing.T) {
		r := ts.do("PUT", "Patient/client-chosen-1", `{"resourceType":"Patient","id":"client-chosen-1"}`)
		require.Equal(t, http.StatusCreated, r.StatusCode, "%s", r.Body)
		require.Equal(t, ts.base+"/Patient/client-chosen-1/_history/1", r.Header.Get("Location"))
	})
	t.Run("create ignores a client id", func(t *testing.T) {
		r := ts.do("POST", "Patient", `{"resourceType":"Patient","id":"mine"}`)
		require.Equal(t, http.StatusCreated, r.StatusCode)
		require.NotEqual(t, "mine", r.JSON(t)["id"])
	})
	t.Run("meta from the client is kept apart from versionId and lastUpdated", func(t *testing.T) {
		r := ts.do("POST", "Observation", `{"resourceType":"Observation","meta":{"versionId":"99","profile":["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation"]},"status":"final","code":{"text":"weight"}}`)
		require.Equal(t, http.StatusCreated, r.StatusCode, "%s", r.Body)
		meta := r.JSON(t)["meta"].(map[string]any)
		require.Equal(t, "1", meta["versionId"])
		require.Equal(t, []any{"https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation"}, meta["profile"])
	})
}

func TestHistoryPagingAndSince(t *testing.T) { forStores(t, testHistoryPagingAndSince) }

func testHistoryPagingAndSince(t *testing.T) {
	ts := startServer(t, nil)
	var ids []string
	for i := 0; i < 7; i++ {
		r := ts.do("POST", "Observation", `{"resourceType":"Observation","status":"final","code":{"text":"x"}}`)
		require.Equal(t, http.StatusCreated, r.StatusCode, "%s", r.Body)
		ids = append(ids, r.JSON(t)["id"].(string))
	}
	mid := time.Now().UTC()
	time.Sleep(5 * time.Millisecond)
	ts.do("POST", "Patient", patientJSON("Late"))

	seen := map[string]bool{}
	next := "Observation/_history?_count=3"
	pages := 0
	for next != "" {
		b := ts.do("GET", next, nil).JSON(t)
		require.Equal(t, "history", b["type"])
		require.EqualValues(t, 7, b["total"])
		pages++
		next = ""
		for _, l := range b["link"].([]any) {
			if l.(map[string]any)["relation"] == "next" {
				next = l.(map[string]any)["url"].(string)
			}
		}
		for _, e := range b["entry"].([]any) {
			full := e.(map[string]any)["fullUrl"].(string)
			require.False(t, seen[full], "duplicate across pages: %s", full)
			seen[full] = true
		}
		// Writes between pages must not shift the pages already promised.
		ts.do("POST", "Observation", `{"resourceType":"Observation","status":"final","code":{"text":"between pages"}}`)
	}
	require.Equal(t, 3, pages)
	require.Len(t, seen, 7)
	for _, id := range ids {
		require.True(t, seen[ts.base+"/Observation/"+id])
	}

	b := ts.do("GET", "_history?_since="+mid.Format(time.RFC3339Nano), nil).JSON(t)
	types := map[string]int{}
	for _, e := range b["entry"].([]any) {
		types[e.(map[string]any)["resource"].(map[string]any)["resourceType"].(string)]++
	}
	assert.Equal(t, 1, types["Patient"])
	requireOutcome(t, ts.do("GET", "_history?_since=yesterday", nil), http.StatusBadRequest)
}

// Many clients update one resource at once: every update must land as its
// own version, numbered without gaps or repeats.
func TestParallelUpdatesLoseNothing(t *testing.T) { forStores(t, testParallelUpdatesLoseNothing) }

func testParallelUpdatesLoseNothing(t *testing.T) {
	ts := startServer(t, nil)
	r := ts.do("PUT", "Patient/busy", `{"resourceType":"Patient","id":"busy"}`)
	require.Equal(t, http.StatusCreated, r.StatusCode)

	const n = 40
	var wg sync.WaitGroup
	versions := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := ts.do("PUT", "Patient/busy", fmt.Sprintf(`{"resourceType":"Patient","id":"busy","name":[{"family":"W%d"}]}`, i))
			if r.StatusCode == http.StatusOK {
				versions <- r.Header.Get("ETag")
			} else {
				t.Errorf("update %d: %d %s", i, r.StatusCode, r.Body)
			}
		}(i)
	}
	wg.Wait()
	close(versions)
	seen := map[string]bool{}
	for v := range versions {
		require.False(t, seen[v], "two updates got version %s", v)
		seen[v] = true
	}
	require.Len(t, seen, n)
	for v := 2; v <= n+1; v++ {
		require.True(t, seen[fmt.Sprintf(`W/"%d"`, v)], "version %d missing", v)
	}
	h := ts.do("GET", "Patient/busy/_history?_count=1000", nil).JSON(t)
	require.EqualValues(t, n+1, h["total"])
}

func TestSummaryAndElementsOnRead(t *testing.T) { forStores(t, testSummaryAndElementsOnRead) }

func testSummaryAndElementsOnRead(t *testing.T) {
	ts := startServer(t, nil)
	r := ts.do("PUT", "Patient/s1", `{"resourceType":"Patient","id":"s1","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Ann</div>"},"name":[{"family":"Smith"}],"gender":"female","photo":[{"contentType":"image/png","data":"AAAA"}]}`)
	require.Equal(t, http.StatusCreated, r.StatusCode, "%s", r.Body)

	subsetted := func(m map[string]any) bool {
		for _, tag := range m["meta"].(map[string]any)["tag"].([]any) {
			if tag.(map[string]any)["code"] == "SUBSETTED" {
				return true
			}
		}
		return false
	}
	s := ts.do("GET", "Patient/s1?_summary=true", nil).JSON(t)
	require.True(t, subsetted(s))
	require.NotNil(t, s["name"])
	require.Nil(t, s["photo"], "photo is not a summary element")
	require.Nil(t, s["text"])

	s = ts.do("GET", "Patient/s1?_summary=text", nil).JSON(t)
	require.NotNil(t, s["text"])
	require.Nil(t, s["name"])

	s = ts.do("GET", "Patient/s1?_summary=data", nil).JSON(t)
	require.Nil(t, s["text"])
	require.NotNil(t, s["photo"])

	s = ts.do("GET", "Patient/s1?_elements=gender", nil).JSON(t)
	require.True(t, subsetted(s))
	require.Equal(t, "female", s["gender"])
	require.Nil(t, s["name"])
	require.Equal(t, "s1", s["id"])

	requireOutcome(t, ts.do("GET", "Patient/s1?_summary=bogus", nil), http.StatusBadRequest)
	pretty := ts.do("GET", "Patient/s1?_pretty=true", nil)
	require.Contains(t, string(pretty.Body), "\n  \"id\": \"s1\"")
}

func TestPatch(t *testing.T) { forStores(t, testPatch) }

func testPatch(t *testing.T) {
	ts := startServer(t, nil)
	r := ts.do("PUT", "Patient/pt", `{"resourceType":"Patient","id":"pt","active":false,"name":[{"use":"official","family":"Smith","given":["Ann"]}]}`)
	require.Equal(t, http.StatusCreated, r.StatusCode)

	r = ts.do("PATCH", "Patient/pt", `[{"op":"replace","path":"/active","value":true},{"op":"add","path":"/name/0/given/-","value":"Beth"}]`,
		"Content-Type", "application/json-patch+json", "If-Match", `W/"1"`)
	require.Equal(t, http.StatusOK, r.StatusCode, "%s", r.Body)
	require.Equal(t, `W/"2"`, r.Header.Get("ETag"))
	p := r.JSON(t)
	require.Equal(t, true, p["active"])
	require.Equal(t, []any{"Ann", "Beth"}, p["name"].([]any)[0].(map[string]any)["given"])

	fhirpath := `{"resourceType":"Parameters","parameter":[{"name":"operation","part":[
		{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.name.where(use='official').family"},
		{"name":"value","valueString":"Jones"}]},{"name":"operation","part":[
		{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"name","valueString":"birthDate"},
		{"name":"value","valueDate":"1950-01-02"}]}]}`
	r = ts.do("PATCH", "Patient/pt", fhirpath)
	require.Equal(t, http.StatusOK, r.StatusCode, "%s", r.Body)
	p = r.JSON(t)
	require.Equal(t, "Jones", p["name"].([]any)[0].(map[string]any)["family"])
	require.Equal(t, "1950-01-02", p["birthDate"])
	require.Equal(t, "3", p["meta"].(map[string]any)["versionId"])

	t.Run("failures change nothing", func(t *testing.T) {
		requireOutcome(t, ts.do("PATCH", "Patient/pt", `[{"op":"replace","path":"/active","value":false}]`,
			"Content-Type", "application/json-patch+json", "If-Match", `W/"1"`), http.StatusPreconditionFailed)
		requireOutcome(t, ts.do("PATCH", "Patient/pt", `[{"op":"test","path":"/active","value":false}]`,
			"Content-Type", "application/json-patch+json"), http.StatusUnprocessableEntity)
		requireOutcome(t, ts.do("PATCH", "Patient/pt", `[{"op":"replace","path":"/birthDate","value":"not a date"}]`,
			"Content-Type", "application/json-patch+json"), http.StatusUnprocessableEntity)
		requireOutcome(t, ts.do("PATCH", "Patient/pt", `[{"op":"replace","path":"/id","value":"other"}]`,
			"Content-Type", "application/json-patch+json"), http.StatusUnprocessableEntity)
		requireOutcome(t, ts.do("PATCH", "Patient/pt", `not json`, "Content-Type", "application/json-patch+json"), http.StatusBadRequest)
		requireOutcome(t, ts.do("PATCH", "Patient/missing", `[]`, "Content-Type", "application/json-patch+json"), http.StatusNotFound)
		require.Equal(t, `W/"3"`, ts.do("GET", "Patient/pt", nil).Header.Get("ETag"))
	})
}
