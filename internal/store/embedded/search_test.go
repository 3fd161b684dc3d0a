package embedded

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/search"
	"github.com/sharedcare/sharedcare/internal/searchparam"
	"github.com/sharedcare/sharedcare/internal/store"
	"github.com/sharedcare/sharedcare/internal/store/sqlsearch"
)

// put writes raw as version v of its resource, indexed as the write path
// indexes it.
func put(t testing.TB, s *Store, typ, id string, v int64, raw string, deleted bool) {
	t.Helper()
	ctx := context.Background()
	r := fhir.Resource{Type: typ, ID: id, VersionID: v, LastUpdated: time.Now().UTC(), Deleted: deleted}
	var index []searchparam.Value
	if !deleted {
		r.Raw = []byte(raw)
		var err error
		index, err = searchparam.Extract(typ, r.Raw)
		require.NoError(t, err)
	}
	require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
		return tx.Put(ctx, store.Version{Resource: r, Index: index})
	}))
}

func query(t testing.TB, typ, q string) *search.Query {
	t.Helper()
	v, err := url.ParseQuery(q)
	require.NoError(t, err)
	sq, _, err := search.Parse(typ, v, true)
	require.NoError(t, err)
	return sq
}

// recorder is a querier that remembers the statements it runs.
type recorder struct {
	querier
	stmts []sqlsearch.Statement
}

func (r *recorder) Query(ctx context.Context, sql string, args ...any) (sqlsearch.Rows, error) {
	r.stmts = append(r.stmts, sqlsearch.Statement{SQL: sql, Args: args})
	return r.querier.Query(ctx, sql, args...)
}

// explainSearch runs q and returns the plan SQLite chose for its page
// statement, one line per step indented by depth, and that statement.
func explainSearch(ctx context.Context, s *Store, q *search.Query) (plan, sql string, err error) {
	rec := &recorder{querier: querier{s.r}}
	if _, err := sqlsearch.Search(ctx, rec, sqlsearch.SQLite, q, sqlsearch.Options{}); err != nil {
		return "", "", err
	}
	page := rec.stmts[0]
	rows, err := s.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+page.SQL, page.Args...)
	if err != nil {
		return "", "", err
	}
	defer rows.Close()
	depth := map[int]int{}
	var lines []string
	for rows.Next() {
		var id, parent, notUsed int
		var detail string
		if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
			return "", "", err
		}
		depth[id] = depth[parent] + 1
		lines = append(lines, strings.Repeat("  ", depth[id]-1)+detail)
	}
	return strings.Join(lines, "\n"), page.SQL, rows.Err()
}

func TestSearchPlansUseIndexes(t *testing.T) {
	s := open(t, t.TempDir())
	ctx := context.Background()
	loadPlanData(t, s)
	if os.Getenv("ZZANALYZE") != "" {
		_, err := s.w.ExecContext(ctx, "PRAGMA optimize=0x10002")
		require.NoError(t, err)
	}
	tests := []struct {
		name, typ, query string
		compartment      string
	}{
		{"token code", "Observation", "code=http://loinc.org|2339-0", ""},
		{"common token code", "Observation", "code=http://loinc.org|29463-7", ""},
		{"patient, type and date", "Observation", "patient=Patient/p17&date=ge2024-06-01", ""},
		{"identifier", "Patient", "identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009", ""},
		{"chain by identifier", "Observation", "subject:identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009", ""},
		{"string prefix", "Patient", "family=fam-12", ""},
		{"chain", "Observation", "subject:Patient.family=fam-123&_count=5", ""},
		{"reverse chain", "Patient", "_has:Observation:subject:code=http://loinc.org|2339-0", ""},
		{"latest first", "Observation", "_sort=-_lastUpdated&_count=10", ""},
		{"patient, date, sorted by date", "Observation", "_sort=-date&subject=Patient/p42&date=ge2024-03", ""},
		{"compartment", "Observation", "code=http://loinc.org|8867-4", "p42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := query(t, tt.typ, tt.query)
			if tt.compartment != "" {
				require.NoError(t, q.InPatientCompartment(tt.compartment))
			}
			text, sql, err := explainSearch(ctx, s, q)
			require.NoError(t, err)
			t.Logf("%s?%s\n%s\n%s", tt.typ, tt.query, sql, text)
			start := time.Now()
			n := 10
			for i := 0; i < n; i++ {
				_, err := s.Search(ctx, q)
				require.NoError(t, err)
			}
			t.Logf("%v per search", time.Since(start)/time.Duration(n))
			assert.NotEmpty(t, text)
		})
	}
}

// loadPlanData writes 400 patients with 12 observations each.
func loadPlanData(t testing.TB, s *Store) {
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
