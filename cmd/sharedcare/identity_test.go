package main

import (
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/access"
)

const nhsPatient = `{"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9912003888"}],"name":[{"family":"Jones"}]}`

// One Patient per NHS number, held by the database under concurrent pushes
// from several sources.
func TestOnePatientPerNHSNumber(t *testing.T) { forStores(t, testOnePatientPerNHSNumber) }

func testOnePatientPerNHSNumber(t *testing.T) {
	ts := startServer(t, nil)
	sources := []string{
		ts.token,
		ts.mint(access.MintOptions{Role: access.CareRoleSystem, Org: "RX1", Source: "hospital"}),
		ts.mint(access.MintOptions{Role: access.CareRoleSystem, Org: "VM123", Source: "social-care"}),
	}
	criteria := "identifier=" + url.QueryEscape("https://fhir.nhs.uk/Id/nhs-number|9912003888")

	const n = 12
	var wg sync.WaitGroup
	statuses := make([]int, n)
	ids := make([]string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			headers := []string{"Authorization", "Bearer " + sources[i%len(sources)]}
			if i%2 == 0 {
				headers = append(headers, "If-None-Exist", criteria)
			}
			r := ts.do("POST", "Patient", nhsPatient, headers...)
			statuses[i] = r.StatusCode
			if r.StatusCode < 300 {
				ids[i] = r.JSON(t)["id"].(string)
			}
		}(i)
	}
	wg.Wait()
	created, the, owner := 0, "", ""
	for i, st := range statuses {
		switch st {
		case http.StatusCreated:
			created++
			the, owner = ids[i], sources[i%len(sources)]
		case http.StatusOK, http.StatusConflict:
		default:
			t.Fatalf("push %d: status %d", i, st)
		}
	}
	require.Equal(t, 1, created, "exactly one push creates the Patient: %v", statuses)

	// Every conditional push that did not create resolved to it; a plain
	// create is refused and names it.
	for i, st := range statuses {
		if st == http.StatusOK {
			require.Equal(t, the, ids[i])
		}
	}
	r := ts.do("POST", "Patient", nhsPatient, "Authorization", "Bearer "+sources[1])
	requireOutcome(t, r, http.StatusConflict)
	require.Contains(t, string(r.Body), "Patient/"+the)
	r = ts.do("PUT", "Patient/other", `{"resourceType":"Patient","id":"other","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9912003888"}]}`)
	requireOutcome(t, r, http.StatusConflict)

	// Deleting the Patient frees the number.
	require.Equal(t, http.StatusNoContent, ts.do("DELETE", "Patient/"+the, nil, "Authorization", "Bearer "+owner).StatusCode)
	r = ts.do("POST", "Patient", nhsPatient, "Authorization", "Bearer "+sources[2])
	require.Equal(t, http.StatusCreated, r.StatusCode, "%s", r.Body)
}
