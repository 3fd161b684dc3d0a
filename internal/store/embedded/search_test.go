package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
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

// ids runs a search of typ and returns the ids of the matches.
func ids(t *testing.T, s *Store, typ, q string) []string {
	t.Helper()
	page, err := s.Search(t.Context(), query(t, typ, q))
	require.NoError(t, err)
	var out []string
	for _, r := range page.Matches {
		out = append(out, r.ID)
	}
	return out
}

func bloodPressure(id string, systolic, diastolic int) string {
	return fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},
		"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":%d}},
		{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":%d}}]}`, id, systolic, diastolic)
}

// Composite values are indexed part by part, and a new version replaces
// the parts of the old one.
func TestSearchCompositeIndex(t *testing.T) {
	s := open(t, t.TempDir())
	put(t, s, "Observation", "bp", 1, bloodPressure("bp", 120, 80), false)
	systolic := "component-code-value-quantity=http://loinc.org|8480-6$gt130"
	assert.Empty(t, ids(t, s, "Observation", systolic))
	assert.Empty(t, ids(t, s, "Observation", "component-code-value-quantity=http://loinc.org|8462-4$120"), "parts of different components never pair")
	assert.Equal(t, []string{"bp"}, ids(t, s, "Observation", "component-code-value-quantity=http://loinc.org|8462-4$80"))

	put(t, s, "Observation", "bp", 2, bloodPressure("bp", 150, 95), false)
	assert.Equal(t, []string{"bp"}, ids(t, s, "Observation", systolic))
	assert.Empty(t, ids(t, s, "Observation", "component-code-value-quantity=http://loinc.org|8462-4$80"), "the old version's parts are gone")

	var grps int
	require.NoError(t, s.r.QueryRowContext(t.Context(),
		`SELECT count(DISTINCT grp) FROM idx_quantity WHERE res_id = 'bp' AND param = 'component-code-value-quantity$1'`).Scan(&grps))
	assert.Equal(t, 2, grps, "each component is a value of its own")

	put(t, s, "Observation", "bp", 3, "", true)
	assert.Empty(t, ids(t, s, "Observation", systolic))
}

func TestMatch(t *testing.T) {
	s := open(t, t.TempDir())
	ctx := t.Context()
	for i, id := range []string{"c", "a", "b"} {
		put(t, s, "Patient", id, 1, fmt.Sprintf(`{"resourceType":"Patient","id":%q,"identifier":[{"system":"urn:x","value":"v%d"}],"gender":"female"}`, id, i%2), false)
	}
	got, err := s.Match(ctx, query(t, "Patient", "identifier=urn:x|v0"), 10)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "b", got[0].ID, "in id order")
	assert.Equal(t, "c", got[1].ID)
	assert.Nil(t, got[0].Raw)
	assert.Equal(t, int64(1), got[0].VersionID)
	assert.WithinDuration(t, time.Now(), got[0].LastUpdated, time.Minute)
	assert.Equal(t, time.UTC, got[0].LastUpdated.Location())

	got, err = s.Match(ctx, query(t, "Patient", "gender=female&_sort=-_id"), 2)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "c", got[0].ID)
	assert.Equal(t, "b", got[1].ID)

	got, err = s.Match(ctx, query(t, "Patient", "identifier=urn:x|nope"), 2)
	require.NoError(t, err)
	assert.Empty(t, got)
}

// What SQLite does its own way: prefixes compared as byte ranges, :text
// lower-cased beyond ASCII, LIKE wildcards in :contains, numbers as REAL.
func TestSearchSQLite(t *testing.T) {
	s := open(t, t.TempDir())
	for _, p := range []struct{ id, family string }{
		{"p1", "Ab"}, {"p2", "Abz"}, {"p3", "Ac"}, {"p4", "Ab\U0010FFFF"}, {"p5", "50%_off"}, {"p6", "500"},
	} {
		family, err := json.Marshal(p.family)
		require.NoError(t, err)
		put(t, s, "Patient", p.id, 1, fmt.Sprintf(`{"resourceType":"Patient","id":%q,"name":[{"family":%s}]}`, p.id, family), false)
	}
	put(t, s, "Observation", "o1", 1, `{"resourceType":"Observation","id":"o1","status":"final",
		"code":{"coding":[{"system":"http://loinc.org","code":"x","display":"ÄRZTLICHER Befund"}],"text":"Ölwechsel"}}`, false)
	for i, v := range []string{"0.1", "0.30000000000000004", "0.3", "1e-7", "12345.678901234567"} {
		put(t, s, "RiskAssessment", fmt.Sprintf("ra%d", i), 1,
			fmt.Sprintf(`{"resourceType":"RiskAssessment","id":"ra%d","status":"final","prediction":[{"probabilityDecimal":%s}]}`, i, v), false)
	}
	for _, v := range []struct{ id, url string }{{"v1", "http://e.org/a"}, {"v2", "http://e.org/a/b"}, {"v3", "http://e.org/b"}} {
		put(t, s, "ValueSet", v.id, 1, fmt.Sprintf(`{"resourceType":"ValueSet","id":%q,"url":%q,"status":"active"}`, v.id, v.url), false)
	}

	tests := []struct {
		typ, query string
		want       []string
	}{
		{"Patient", "family=ab", []string{"p1", "p2", "p4"}},
		{"Patient", "family:exact=Ab", []string{"p1"}},
		{"Patient", "family:contains=%25_", []string{"p5"}},
		{"Patient", "family:contains=0%25", []string{"p5"}},
		{"Patient", "family=50", []string{"p5", "p6"}},
		{"Observation", "code:text=ärzt", []string{"o1"}},
		{"Observation", "code:text=ölw", []string{"o1"}},
		{"ValueSet", "url:below=http://e.org/a", []string{"v1", "v2"}},
		{"RiskAssessment", "probability=0.3", []string{"ra1", "ra2"}},
		{"RiskAssessment", "probability=gt0.3", []string{"ra1", "ra4"}},
		{"RiskAssessment", "probability=lt0.0000001", nil},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"?"+tt.query, func(t *testing.T) {
			assert.ElementsMatch(t, tt.want, ids(t, s, tt.typ, tt.query))
		})
	}

	t.Run("paging on REAL sort keys", func(t *testing.T) {
		q := query(t, "RiskAssessment", "_sort=-probability&_count=1")
		var got []string
		for i := 0; i < 10; i++ {
			page, err := s.Search(t.Context(), q)
			require.NoError(t, err)
			require.Len(t, page.Matches, 1)
			got = append(got, page.Matches[0].ID)
			if page.Next == "" {
				break
			}
			c, err := search.DecodeCursor(page.Next)
			require.NoError(t, err)
			q.Page = c
		}
		assert.Equal(t, []string{"ra4", "ra1", "ra2", "ra0", "ra3"}, got, "0.30000000000000004 and 0.3 are told apart")
	})
}

// Searches read through the pool of readers: they run while a write
// transaction holds the writer.
func TestSearchBesideWriter(t *testing.T) {
	s := open(t, t.TempDir())
	put(t, s, "Patient", "p1", 1, `{"resourceType":"Patient","id":"p1","gender":"female"}`, false)
	ctx := t.Context()
	inWrite, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Write(ctx, func(tx store.Tx) error {
			close(inWrite)
			<-release
			return nil
		})
	}()
	<-inWrite
	searchCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	page, err := s.Search(searchCtx, query(t, "Patient", "gender=female"))
	close(release)
	require.NoError(t, err)
	require.Len(t, page.Matches, 1)
	require.NoError(t, <-done)
}

// The common shapes of search use the indexes that fit them, without
// statistics (the store does not ANALYZE) and with them: checked with
// EXPLAIN QUERY PLAN on a database of a few thousand resources. Run with
// -v to see the plans.
func TestSearchPlansUseIndexes(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a few thousand resources")
	}
	s := open(t, t.TempDir())
	loadPlanData(t, s)
	tests := []struct {
		name, typ, query string
		indexes          []string
		compartment      string
	}{
		{"token code", "Observation", "code=http://loinc.org|2339-0", []string{"idx_token_code"}, ""},
		{"patient, type and date", "Observation", "patient=Patient/p17&date=ge2024-06-01", []string{"idx_reference_target", "idx_date_res"}, ""},
		{"identifier", "Patient", "identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009", []string{"idx_token_code"}, ""},
		{"chain by identifier", "Observation", "subject:identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009", []string{"idx_reference_ident", "idx_token_code"}, ""},
		{"string prefix", "Patient", "family=fam-12", []string{"idx_string_norm"}, ""},
		{"chain", "Observation", "subject:Patient.family=fam-123&_count=5", []string{"idx_string_norm", "idx_reference_target"}, ""},
		{"reverse chain", "Patient", "_has:Observation:subject:code=http://loinc.org|2339-0", []string{"idx_token_code", "idx_reference_res"}, ""},
		{"latest first", "Observation", "_sort=-_lastUpdated&_count=10", []string{"resources_type_last_updated"}, ""},
		{"patient, date, sorted by date", "Observation", "_sort=-date&subject=Patient/p42&date=ge2024-03", []string{"idx_reference_target", "idx_date_res"}, ""},
		{"compartment", "Observation", "code=http://loinc.org|8867-4", []string{"idx_reference_target", "idx_token_res"}, "p42"},
		{"patient and common code", "Observation", "subject=Patient/p42&status=final", []string{"idx_reference_target", "idx_token_res"}, ""},
	}
	check := func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				q := query(t, tt.typ, tt.query)
				if tt.compartment != "" {
					require.NoError(t, q.InPatientCompartment(tt.compartment))
				}
				plan, sql, err := explainSearch(t.Context(), s, q)
				require.NoError(t, err)
				t.Logf("%s?%s\n%s\n%s", tt.typ, tt.query, sql, plan)
				for _, idx := range tt.indexes {
					assert.Contains(t, plan, idx)
				}
				assert.NotContains(t, plan, "SCAN ", "no table is read whole")
				if len(tt.indexes) > 0 && tt.indexes[0] != "resources_type_last_updated" {
					assert.Contains(t, plan, "SEARCH r USING INDEX sqlite_autoindex_resources_1 (type=? AND id=?)",
						"the matches are looked up by id, not found by reading every resource of the type")
				}
			})
		}
	}
	t.Run("without statistics", check)
	_, err := s.w.ExecContext(t.Context(), "ANALYZE")
	require.NoError(t, err)
	t.Run("with statistics", check)
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
// statement, one step a line indented by depth, and that statement.
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
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return "", "", err
		}
		depth[id] = depth[parent] + 1
		lines = append(lines, strings.Repeat("  ", depth[id]-1)+detail)
	}
	return strings.Join(lines, "\n"), page.SQL, rows.Err()
}

// loadPlanData writes 400 patients with 12 observations each, the last
// observation of every tenth patient referring to them by identifier.
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
			subject := fmt.Sprintf(`{"reference":"Patient/%s"}`, pid)
			if o == 11 && p%10 == 0 {
				subject = fmt.Sprintf(`{"identifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"%010d"}}`, 9000000000+p)
			}
			add("Observation", oid, fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":"final",
				"code":{"coding":[{"system":"http://loinc.org","code":%q}]},"subject":%s,
				"effectiveDateTime":"2024-%02d-%02dT10:00:00Z","valueQuantity":{"value":%d,"system":"http://unitsofmeasure.org","code":"kg"}}`,
				oid, code, subject, o+1, p%28+1, 50+o), pid)
		}
		if len(batch) >= 390 {
			flush()
		}
	}
	flush()
}
