package postgres_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/search"
	"github.com/sharedcare/sharedcare/internal/searchparam"
	"github.com/sharedcare/sharedcare/internal/store"
	"github.com/sharedcare/sharedcare/internal/store/postgres"
	"github.com/sharedcare/sharedcare/internal/store/postgres/pgtest"
)

// The common shapes of search use the indexes, not a scan of a table:
// checked with EXPLAIN on a database of a few thousand resources. Run with
// -v to see the plans.
func TestSearchPlansUseIndexes(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a few thousand resources")
	}
	s := pgtest.Open(t)
	ctx := context.Background()
	loadPlanData(t, s)
	require.NoError(t, postgres.Analyze(ctx, s))

	tests := []struct {
		name, typ, query string
		indexes          []string
		compartment      string
	}{
		{"token code", "Observation", "code=http://loinc.org|2339-0", []string{"idx_token_code"}, ""},
		// A code every sixth observation has: reading the type in id order
		// and stopping at the page is cheaper than collecting every match.
		{"common token code", "Observation", "code=http://loinc.org|29463-7", nil, ""},
		{"patient, type and date", "Observation", "patient=Patient/p17&date=ge2024-06-01", []string{"idx_reference_target"}, ""},
		// A search by identifier runs prepared (a unique lookup): its one
		// generic plan reads, for an NHS number, the partial unique index
		// on NHS numbers, which the statement's literals name; for
		// another system, the token index by type, parameter, code and
		// system, whatever the values.
		{"identifier", "Patient", "identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009", []string{"idx_token_nhs_number"}, ""},
		{"identifier, another system", "Patient", "identifier=https://example.org/mrn|9000000009", []string{"idx_token_code"}, ""},
		{"by id", "Observation", "_id=o-p17-3", []string{"resources_pkey"}, ""},
		{"chain by identifier", "Observation", "subject:identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009", []string{"idx_token_code", "idx_reference_target"}, ""},
		{"string prefix", "Patient", "family=fam-12", []string{"idx_string_norm"}, ""},
		{"chain", "Observation", "subject:Patient.family=fam-123&_count=5", []string{"idx_string_norm", "idx_reference_target"}, ""},
		{"reverse chain", "Patient", "_has:Observation:subject:code=http://loinc.org|2339-0", []string{"idx_token_code", "idx_reference_res"}, ""},
		{"latest first", "Observation", "_sort=-_lastUpdated&_count=10", []string{"resources_type_last_updated"}, ""},
		{"patient, date, sorted by date", "Observation", "_sort=-date&subject=Patient/p42&date=ge2024-03", []string{"idx_reference_target", "idx_date_res"}, ""},
		{"compartment", "Observation", "code=http://loinc.org|8867-4", []string{"idx_reference_target"}, "p42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := url.ParseQuery(tt.query)
			require.NoError(t, err)
			q, _, err := search.Parse(tt.typ, v, true)
			require.NoError(t, err)
			if tt.compartment != "" {
				require.NoError(t, q.InPatientCompartment(tt.compartment))
			}
			text, sql, err := postgres.ExplainSearch(ctx, s, q)
			require.NoError(t, err)
			t.Logf("%s?%s\n%s\n%s", tt.typ, tt.query, sql, text)
			for _, idx := range tt.indexes {
				assert.Contains(t, text, idx)
			}
			assert.NotContains(t, text, "Seq Scan")
		})
	}
}

// loadPlanData writes 400 patients with 12 observations each.
func loadPlanData(t *testing.T, s *postgres.Store) {
	ctx := context.Background()
	codes := []string{"29463-7", "8302-2", "8480-6", "85354-9", "8867-4", "9279-1"}
	var batch []store.Version
	add := func(typ, id, raw, patient string) {
		index, err := searchparam.Extract(typ, []byte(raw))
		require.NoError(t, err)
		batch = append(batch, store.Version{
			Resource: fhir.Resource{Type: typ, ID: id, VersionID: 1, LastUpdated: time.Now().UTC(), Raw: []byte(raw), PatientID: patient},
			Index:    index,
		})
	}
	flush := func() {
		require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
			for _, v := range batch {
				if err := tx.Put(ctx, v); err != nil {
					return err
				}
			}
			return nil
		}))
		batch = batch[:0]
	}
	for p := 0; p < 400; p++ {
		pid := fmt.Sprintf("p%d", p)
		add("Patient", pid, fmt.Sprintf(`{"resourceType":"Patient","id":%q,"identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"%010d"}],
			"name":[{"family":"fam-%d"}],"birthDate":"19%02d-01-01"}`, pid, 9000000000+p, p, p%100), pid)
		for o := 0; o < 12; o++ {
			oid := fmt.Sprintf("o%d-%d", p, o)
			code := codes[(p+o)%len(codes)]
			if o == 0 && p%50 == 0 {
				code = "2339-0" // rare
			}
			add("Observation", oid, fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":"final",
				"code":{"coding":[{"system":"http://loinc.org","code":%q}]},"subject":{"reference":"Patient/%s"},
				"effectiveDateTime":"2024-%02d-%02dT10:00:00Z","valueQuantity":{"value":%d,"system":"http://unitsofmeasure.org","code":"kg"}}`,
				oid, code, pid, o+1, p%28+1, 50+o), pid)
		}
		if len(batch) >= 390 {
			flush()
		}
	}
	flush()
}
