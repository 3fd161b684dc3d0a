package sqlsearch

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/search"
)

func parsed(t *testing.T, typ, query string) *search.Query {
	t.Helper()
	v, err := url.ParseQuery(query)
	require.NoError(t, err)
	q, _, err := search.Parse(typ, v, true)
	require.NoError(t, err)
	return q
}

// resourceAliases finds every resources row a statement reads.
var resourceAliases = regexp.MustCompile(`(?:FROM|JOIN) resources (\w+)`)

// Options.Restrict reaches every resources row a search reads: matches,
// chain targets, _has sources, the List of _list, includes and counts.
func TestRestrictReachesEveryResourcesRow(t *testing.T) {
	typesOf := map[string][]string{} // alias: the types Restrict was told of
	o := Options{Restrict: func(alias string, types []string, arg func(any) string) string {
		typesOf[alias] = types
		return alias + ".owner = " + arg("ODS1")
	}}
	q := parsed(t, "Observation", "subject:Patient.organization.name=x&subject:identifier=s|v&_has:Provenance:target:agent=Practitioner/1&_list=l1")
	var stmts []Statement
	st, _, err := pageStatement(Postgres, o, q, resourceColumns, 10)
	require.NoError(t, err)
	stmts = append(stmts, st)
	st, err = countStatement(Postgres, o, q, 0)
	require.NoError(t, err)
	stmts = append(stmts, st)
	st, err = includeStatement(Postgres, o, q, "Observation", "subject", "", []string{"a"}, 10)
	require.NoError(t, err)
	stmts = append(stmts, st)
	st, err = revIncludeStatement(Postgres, o, q, "Provenance", "target", "Observation", []string{"a"}, 10)
	require.NoError(t, err)
	stmts = append(stmts, st)
	for _, st := range stmts {
		aliases := resourceAliases.FindAllStringSubmatch(st.SQL, -1)
		require.NotEmpty(t, aliases)
		for _, a := range aliases {
			assert.Contains(t, st.SQL, a[1]+".deleted = false AND ("+a[1]+".owner = ", "%s in %s", a[1], st.SQL)
		}
		assert.Contains(t, st.Args, "ODS1")
	}
	// r; the chain's two ways to its Patient, each with the two ways on to
	// the Organization; :identifier's target; _has's two ways; the List.
	assert.Len(t, resourceAliases.FindAllString(stmts[0].SQL, -1), 1+2*3+1+2+1)

	// Each row is confined to the types Restrict is told of, by the
	// statement itself (the revinclude's rows are Provenance; the include's
	// target type is open).
	for alias, want := range map[string][]string{"r": {"Observation"}, "s": {"Provenance"}, "t": nil} {
		assert.Equal(t, want, typesOf[alias], alias)
	}
	var told [][]string
	for _, types := range typesOf {
		told = append(told, types)
	}
	assert.Contains(t, told, []string{"Patient"}, "the chain's Patient")
	assert.Contains(t, told, []string{"Organization"}, "the chain's Organization")
	assert.Contains(t, told, []string{"Provenance"}, "_has's Provenance")
	assert.Contains(t, told, []string{"List"}, "the List of _list")
}

// The visibility is worked out for the types a row is confined to: a
// caller who sees everything outside the Patient compartment has no
// restriction on rows of such types only, and rows of none of them are
// not tested against the list.
func TestRestrictFoldsTheTypes(t *testing.T) {
	restrict := restrictTo(&search.Visibility{Organization: "ODS1", NonPatient: true})
	arg := func(any) string { return "$1" }
	assert.Equal(t, "", restrict("r", []string{"Organization", "Practitioner"}, arg))
	assert.Equal(t, "r.owner = $1", restrict("r", []string{"Patient", "Observation"}, arg))
	assert.Equal(t, "r.owner = $1 OR r.type IN ('Organization')", restrict("r", []string{"Observation", "Organization"}, arg))
	full := restrict("r", nil, arg)
	assert.Contains(t, full, "r.owner = $1 OR r.type IN ('ActivityDefinition', ")
	assert.NotContains(t, full, "'AuditEvent'")
	assert.Equal(t, "r.owner = $1", restrict("r", []string{"NotAType"}, arg), "an unknown type is not outside the compartment")

	none := restrictTo(&search.Visibility{Organization: "ODS1"})
	assert.Equal(t, "r.owner = $1", none("r", []string{"Organization"}, arg), "without NonPatient, types change nothing")
	assert.Equal(t, "1 = 0", restrictTo(&search.Visibility{NonPatient: true})("r", []string{"Patient"}, arg))
}

// Every argument the SQL names is bound, and every bound argument is named.
func TestPlaceholdersMatchArguments(t *testing.T) {
	for _, query := range []string{
		"name=a,b&birthdate=ge1950&_sort=family,-birthdate",
		"_has:Observation:subject:value-quantity=ap5|http://unitsofmeasure.org|kg&general-practitioner:identifier=x",
		"_id=a,b&_lastUpdated=ne2024&identifier:of-type=a|b|c&gender:not=male&gender:missing=true&_text=x",
	} {
		t.Run(query, func(t *testing.T) {
			v, err := url.ParseQuery(query)
			require.NoError(t, err)
			q, _, err := search.Parse("Patient", v, false)
			require.NoError(t, err)
			k := "x"
			q.Page = &search.Cursor{Keys: make([]*string, len(q.Sort)), Type: "Patient", ID: "p"}
			if len(q.Sort) > 0 {
				q.Page.Keys[0] = &k
			}
			st, _, err := pageStatement(Postgres, Options{}, q, resourceColumns, 10)
			require.NoError(t, err)
			used := map[string]bool{}
			for _, m := range regexp.MustCompile(`\$(\d+)`).FindAllString(st.SQL, -1) {
				used[m] = true
			}
			assert.Len(t, used, len(st.Args), st.SQL)
		})
	}
}

func TestKeyset(t *testing.T) {
	q := parsed(t, "Patient", "_sort=family,-birthdate")
	b := newBuilder(Postgres, Options{}, q)
	keys := b.sortKeys(q, "r")
	smith := "smith"
	after := b.keyset(keys, &search.Cursor{Keys: []*string{&smith, nil}, Type: "Patient", ID: "p1"}, "m")
	assert.Equal(t, "((m.k0 > $3::text OR m.k0 IS NULL) OR "+
		"m.k0 = $4::text AND m.k1 IS NULL AND (m.type > $5 OR m.type = $5 AND m.id > $6))", after)
	before := b.keyset(keys, &search.Cursor{Keys: []*string{nil, &smith}, Type: "Patient", ID: "p1", Before: true}, "m")
	assert.Equal(t, "(m.k0 IS NOT NULL OR m.k0 IS NULL AND m.k1 > $7::timestamptz OR "+
		"m.k0 IS NULL AND m.k1 = $8::timestamptz AND (m.type < $9 OR m.type = $9 AND m.id < $10))", before)
	assert.Equal(t, "m.k0 ASC NULLS LAST, m.k1 DESC NULLS LAST, m.type ASC, m.id ASC", order(keys, "m", false))
	assert.Equal(t, "m.k0 DESC NULLS FIRST, m.k1 ASC NULLS FIRST, m.type DESC, m.id DESC", order(keys, "m", true))
}

func TestURIAncestors(t *testing.T) {
	assert.Equal(t, []string{
		"http://x.org/fhir/ValueSet/a", "http://x.org/fhir/ValueSet/", "http://x.org/fhir/ValueSet",
		"http://x.org/fhir/", "http://x.org/fhir", "http://x.org/", "http://x.org",
	}, uriAncestors("http://x.org/fhir/ValueSet/a"))
	assert.Equal(t, []string{"urn:oid:1.2"}, uriAncestors("urn:oid:1.2"))
}

func TestApproximateNumber(t *testing.T) {
	tests := []struct{ in, low, high string }{
		{"100", "90.0000000000", "110.0000000000"},
		{"0.25", "0.2250000000", "0.2750000000"},
		{"-10", "-11.0000000000", "-9.0000000000"},
		{"0", "-0.5000000000", "0.5000000000"}, // never narrower than the precision
	}
	for _, tt := range tests {
		v, _ := url.ParseQuery("value-quantity=ap" + tt.in)
		q, _, err := search.Parse("Observation", v, true)
		require.NoError(t, err)
		low, high := approximateNumber(q.Filters[0].Values[0].Number)
		assert.Equal(t, tt.low, low, tt.in)
		assert.Equal(t, tt.high, high, tt.in)
	}
}

func TestPostgresDialect(t *testing.T) {
	var args []any
	arg := func(v any) string { args = append(args, v); return Postgres.Placeholder(len(args)) }
	assert.Equal(t, `x.norm LIKE $1 ESCAPE '\'`, Postgres.StartsWith("x.norm", `50%_a\`, arg))
	assert.Equal(t, []any{`50\%\_a\\%`}, args)
	assert.Equal(t, "$2::numeric", Postgres.Cast("$2", KindNumber))
	assert.Equal(t, "(m.k0)::text", Postgres.Text("m.k0", KindTime))
	assert.Equal(t, "false", Postgres.Bool(false))
	assert.True(t, strings.HasPrefix(ComponentParam("code-value-quantity", 1), "code-value-quantity$"))
}

// Only searches confined by a key that names at most one resource run as
// unique lookups (prepared, planned once).
func TestUniqueLookup(t *testing.T) {
	for query, want := range map[string]bool{
		"_id=a": true,
		"identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009": true,
		"identifier=s|v&name=x":                                   true,
		"identifier=9000000009":                                   false,
		"identifier=s|":                                           false,
		"identifier=|v":                                           false,
		"identifier:not=s|v":                                      false,
		"identifier=s|a,s|b":                                      false,
		"_id=a,b":                                                 false,
		"name=x":                                                  false,
		"general-practitioner:identifier=s|v":                     false,
		"_has:Observation:patient:identifier=s|v":                 false,
	} {
		assert.Equal(t, want, uniqueLookup(parsed(t, "Patient", query)), query)
	}
	st, _, err := pageStatement(Postgres, Options{}, parsed(t, "Patient", "_id=a"), resourceColumns, 10)
	require.NoError(t, err)
	assert.True(t, st.Unique)
	st, err = countStatement(Postgres, Options{}, parsed(t, "Patient", "name=x"), 0)
	require.NoError(t, err)
	assert.False(t, st.Unique)
}

// A search that reads other resources than its matches (the target of a
// chain or of :identifier, the source of _has, the List of _list) under
// the restriction is not counted with the restriction judged on its
// matches alone: that count would include matches reached through a
// resource the caller may not see, and reveal it.
func TestCountBothOnlyWhenOnlyMatchesAreRead(t *testing.T) {
	o := Options{Restrict: func(alias string, _ []string, arg func(any) string) string { return alias + ".owner = " + arg("ODS1") }}
	for query, want := range map[string]bool{
		"code=http://loinc.org|1":               true,
		"subject=Patient/1&date=ge2024":         true,
		"_list=l1":                              false,
		"subject:identifier=s|v":                false,
		"subject:Patient.name=x":                false,
		"_has:Provenance:target:agent=Device/1": false,
	} {
		_, ok, err := countBothStatement(Postgres, o, parsed(t, "Observation", query), 0)
		require.NoError(t, err)
		assert.Equal(t, want, ok, query)
	}
}

// Names from the definitions are written as literals, so that a generic
// plan can use a partial index that names them; anything else, and any
// name with a character a name does not have, is bound.
func TestNamesAreLiteralsValuesAreBound(t *testing.T) {
	q := parsed(t, "Patient", "identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009")
	st, _, err := pageStatement(Postgres, Options{}, q, resourceColumns, 10)
	require.NoError(t, err)
	assert.Contains(t, st.SQL, "r.type = 'Patient'")
	assert.Contains(t, st.SQL, ".param = 'identifier'")
	assert.Contains(t, st.SQL, ".system = 'https://fhir.nhs.uk/Id/nhs-number'", "a system a partial index names")
	assert.NotContains(t, st.SQL, "9000000009")
	assert.Equal(t, []any{"9000000009"}, st.Args)

	q = parsed(t, "Patient", "identifier=https://example.org/mrn|12")
	st, _, err = pageStatement(Postgres, Options{}, q, resourceColumns, 10)
	require.NoError(t, err)
	assert.NotContains(t, st.SQL, "example.org", "any other system is bound")

	b := newBuilder(Postgres, Options{}, q)
	assert.Equal(t, "'Observation'", b.name("Observation"))
	assert.Equal(t, "$1", b.name("x' OR '1'='1"))
	assert.Equal(t, "$2", b.name(`a\b`))
	assert.Equal(t, []any{"x' OR '1'='1", `a\b`}, b.args)
}

// The first page read with a v column (a unique lookup, a search of one
// patient) reads every match, but the body only of those the caller may
// see.
func TestVisiblePageReadsNoHiddenBody(t *testing.T) {
	q := parsed(t, "Observation", "patient=Patient/p1")
	o := Options{Restrict: func(alias string, _ []string, arg func(any) string) string {
		return alias + ".owner = " + arg("A81001")
	}}
	st, _, err := visiblePageStatement(Postgres, o, q, resourceColumns, 10)
	require.NoError(t, err)
	assert.Contains(t, st.SQL, "SELECT m.type, m.id, m.version, m.last_updated, CASE WHEN m.v THEN m.raw END, m.owner, m.patient_id, m.v")
	assert.Contains(t, st.SQL, "(r.owner = $1) AS v")
	assert.NotContains(t, st.SQL, "m.raw,")
}
