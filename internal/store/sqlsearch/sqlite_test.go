package sqlsearch

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSQLiteDialect(t *testing.T) {
	var args []any
	arg := func(v any) string { args = append(args, v); return SQLite.Placeholder(len(args)) }
	assert.Equal(t, "x.norm >= ?1 AND x.norm < ?2", SQLite.StartsWith("x.norm", "smi", arg))
	assert.Equal(t, []any{"smi", "smj"}, args)
	assert.Equal(t, "x.value >= ?3", SQLite.StartsWith("x.value", "", arg), "every string begins with the empty one")
	assert.Equal(t, "CAST(?2 AS REAL)", SQLite.Cast("?2", KindNumber))
	assert.Equal(t, "CAST(?2 AS INTEGER)", SQLite.Cast("?2", KindTime))
	assert.Equal(t, "?2", SQLite.Cast("?2", KindText))
	assert.Equal(t, "0", SQLite.Bool(false))
	assert.Equal(t, "idx_token x INDEXED BY idx_token_res", SQLite.IndexRows("idx_token", "x"))

	at := time.Date(2024, 3, 5, 10, 15, 0, 123456000, time.FixedZone("", 3600))
	assert.Equal(t, at.UnixMicro(), SQLite.Time(at))
	back, err := SQLite.ScanTime(SQLite.Time(at))
	require.NoError(t, err)
	assert.True(t, at.Equal(back))
	assert.Equal(t, time.UTC, back.Location())

	n, err := SQLite.Number("0.30000000000000004")
	require.NoError(t, err)
	assert.NotEqual(t, 0.3, n)
	_, err = SQLite.Number("1e400")
	assert.Error(t, err)
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct {
		prefix, end string
		ok          bool
	}{
		{"abc", "abd", true},
		{"zoë", "zo\xc3\xac", true}, // ë is C3 AB
		{"a\xff\xff", "b", true},
		{"\U0010FFFF", "\xf4\x8f\xbf\xc0", true},
		{"\xff", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		end, ok := prefixEnd(tt.prefix)
		assert.Equal(t, tt.ok, ok, "%q", tt.prefix)
		assert.Equal(t, tt.end, end, "%q", tt.prefix)
		if ok {
			for _, s := range []string{tt.prefix, tt.prefix + "\x00", tt.prefix + "\U0010FFFF", tt.prefix + "\xff\xff"} {
				assert.Less(t, s, end, "%q begins with %q", s, tt.prefix)
			}
		}
	}
}

// Every argument the SQL names is bound, and every bound argument is named,
// with the statements a search leads in SQLite.
func TestSQLitePlaceholdersMatchArguments(t *testing.T) {
	for _, query := range []string{
		"name=a,b&birthdate=ge1950&_sort=family,-birthdate",
		"_has:Observation:subject:value-quantity=ap5|http://unitsofmeasure.org|kg&general-practitioner:identifier=x",
		"general-practitioner:Practitioner.name=x&organization:identifier=s|v",
		"_id=a,b&_lastUpdated=ne2024&identifier:of-type=a|b|c&gender:not=male&gender:missing=true",
	} {
		t.Run(query, func(t *testing.T) {
			q := parsed(t, "Patient", query)
			st, _, err := pageStatement(SQLite, Options{}, q, resourceColumns, 10)
			require.NoError(t, err)
			used := map[string]bool{}
			for _, m := range regexp.MustCompile(`\?(\d+)`).FindAllString(st.SQL, -1) {
				used[m] = true
			}
			assert.Len(t, used, len(st.Args), st.SQL)
			assert.NotContains(t, st.SQL, "$")
		})
	}
}

// In SQLite a search starts from the filter likely to match the fewest
// resources, written as an IN; Postgres chooses for itself.
func TestLead(t *testing.T) {
	tests := []struct {
		typ, query  string
		compartment string
		lead        string // the column and table the search starts from in SQLite, or "" for none
	}{
		{"Observation", "code=x&subject=Patient/p1&date=ge2024", "", "res_id FROM idx_reference"},
		{"Observation", "date=ge2024&code=x", "", "res_id FROM idx_token"},
		{"Observation", "code=x", "p1", "res_id FROM idx_reference"},
		{"Observation", "subject:identifier=s|v&code=x", "", "res_id FROM idx_reference"},
		{"Observation", "code=x&_id=o1", "", ""},
		{"Observation", "code:not=x&subject:missing=true", "", ""},
		{"Observation", "subject=http://other.example/fhir/Patient/p1", "", ""},
		{"Observation", "combo-code-value-quantity=a|b$5,a|c$6", "", ""},
		{"Patient", "_has:Observation:subject:code=x", "", "target_id FROM idx_reference"},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"?"+tt.query, func(t *testing.T) {
			q := parsed(t, tt.typ, tt.query)
			if tt.compartment != "" {
				require.NoError(t, q.InPatientCompartment(tt.compartment))
			}
			st, _, err := pageStatement(SQLite, Options{}, q, resourceColumns, 10)
			require.NoError(t, err)
			if tt.lead == "" {
				assert.NotContains(t, st.SQL, "r.id IN (SELECT", st.SQL)
			} else {
				assert.Regexp(t, `r\.id IN \(SELECT \w+\.`+tt.lead+` `, st.SQL)
				assert.Equal(t, 1, strings.Count(st.SQL, "r.id IN (SELECT"), "one filter leads: %s", st.SQL)
			}
			st, _, err = pageStatement(Postgres, Options{}, q, resourceColumns, 10)
			require.NoError(t, err)
			assert.NotContains(t, st.SQL, "r.id IN (SELECT", st.SQL)
			assert.NotContains(t, st.SQL, "INDEXED BY", st.SQL)
		})
	}
}
