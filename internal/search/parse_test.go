package search

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/searchparam"
)

func param(t *testing.T, typ, code string) *searchparam.Param {
	t.Helper()
	p, ok := searchparam.Lookup(typ, code)
	require.True(t, ok, "%s.%s", typ, code)
	return p
}

func parse(t *testing.T, typ, query string) (*Query, []fhir.Issue, error) {
	t.Helper()
	v, err := url.ParseQuery(query)
	require.NoError(t, err)
	return Parse(typ, v, false)
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestParseFilters(t *testing.T) {
	name := param(t, "Patient", "name")
	ident := param(t, "Patient", "identifier")
	birth := param(t, "Patient", "birthdate")
	subject := param(t, "Observation", "subject")
	vq := param(t, "Observation", "value-quantity")
	cvq := param(t, "Observation", "code-value-quantity")
	url := param(t, "ValueSet", "url")
	tests := []struct {
		name, typ, query string
		want             []Filter
	}{
		{"string", "Patient", "name=Smith",
			[]Filter{{Param: name, Values: []Value{{String: "Smith"}}}}},
		{"or by comma, escaped comma kept", "Patient", `name=Smith,O\,Brien`,
			[]Filter{{Param: name, Values: []Value{{String: "Smith"}, {String: "O,Brien"}}}}},
		{"and by repetition", "Patient", "name=a&name=b",
			[]Filter{{Param: name, Values: []Value{{String: "a"}}}, {Param: name, Values: []Value{{String: "b"}}}}},
		{"exact", "Patient", "name:exact=Zoë",
			[]Filter{{Param: name, Modifier: ModExact, Values: []Value{{String: "Zoë"}}}}},
		{"token forms", "Patient", `identifier=s|c,|c,s|,c,a\|b|c\$d`,
			[]Filter{{Param: ident, Values: []Value{
				{Token: Token{System: "s", Code: "c", HasSystem: true}},
				{Token: Token{Code: "c", HasSystem: true}},
				{Token: Token{System: "s", HasSystem: true}},
				{Token: Token{Code: "c"}},
				{Token: Token{System: "a|b", Code: "c$d", HasSystem: true}},
			}}}},
		{"of-type", "Patient", "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|123",
			[]Filter{{Param: ident, Modifier: ModOfType, Values: []Value{{Token: Token{
				TypeSystem: "http://terminology.hl7.org/CodeSystem/v2-0203", TypeCode: "MR", Code: "123"}}}}}},
		{"token text", "Patient", "identifier:text=NHS",
			[]Filter{{Param: ident, Modifier: ModText, Values: []Value{{String: "NHS"}}}}},
		{"missing", "Patient", "birthdate:missing=true",
			[]Filter{{Param: birth, Modifier: ModMissing, Missing: true}}},
		{"date year", "Patient", "birthdate=1950",
			[]Filter{{Param: birth, Values: []Value{{Prefix: Eq, Date: DateRange{day(1950, 1, 1), day(1951, 1, 1)}}}}}},
		{"date day with prefix", "Patient", "birthdate=ge1950-04-01",
			[]Filter{{Param: birth, Values: []Value{{Prefix: Ge, Date: DateRange{day(1950, 4, 1), day(1950, 4, 2)}}}}}},
		{"dateTime with zone to minute", "Patient", "birthdate=lt2024-03-05T10:15%2B01:00",
			[]Filter{{Param: birth, Values: []Value{{Prefix: Lt, Date: DateRange{
				time.Date(2024, 3, 5, 9, 15, 0, 0, time.UTC), time.Date(2024, 3, 5, 9, 16, 0, 0, time.UTC)}}}}}},
		{"instant with millis", "Patient", "birthdate=2024-03-05T10:15:00.250Z",
			[]Filter{{Param: birth, Values: []Value{{Prefix: Eq, Date: DateRange{
				time.Date(2024, 3, 5, 10, 15, 0, 250e6, time.UTC), time.Date(2024, 3, 5, 10, 15, 0, 251e6, time.UTC)}}}}}},
		{"quantity with unit", "Observation", "value-quantity=gt5.4|http://unitsofmeasure.org|mg",
			[]Filter{{Param: vq, Values: []Value{{Prefix: Gt, Number: Number{"5.4", "5.35", "5.45"},
				Unit: Token{System: "http://unitsofmeasure.org", Code: "mg", HasSystem: true}}}}}},
		{"quantity code or unit", "Observation", "value-quantity=100||mg",
			[]Filter{{Param: vq, Values: []Value{{Prefix: Eq, Number: Number{"100", "99.5", "100.5"}, Unit: Token{Code: "mg"}}}}}},
		{"number with exponent", "Observation", "value-quantity=1e2",
			[]Filter{{Param: vq, Values: []Value{{Prefix: Eq, Number: Number{"100", "50", "150"}}}}}},
		{"composite", "Observation", "code-value-quantity=http://loinc.org|8480-6$gt100",
			[]Filter{{Param: cvq, Values: []Value{{Components: []Value{
				{Token: Token{System: "http://loinc.org", Code: "8480-6", HasSystem: true}},
				{Prefix: Gt, Number: Number{"100", "99.5", "100.5"}},
			}}}}}},
		{"reference forms", "Observation", "subject=123,Patient/456,http://x.org/fhir/Patient/7/_history/2,urn:uuid:abc",
			[]Filter{{Param: subject, Values: []Value{
				{Reference: Reference{ID: "123"}},
				{Reference: Reference{Type: "Patient", ID: "456"}},
				{Reference: Reference{Type: "Patient", ID: "7", URL: "http://x.org/fhir/Patient/7/_history/2"}},
				{Reference: Reference{URL: "urn:uuid:abc"}},
			}}}},
		{"reference type modifier", "Observation", "subject:Patient=123",
			[]Filter{{Param: subject, TargetType: "Patient", Values: []Value{{Reference: Reference{Type: "Patient", ID: "123"}}}}}},
		{"reference identifier", "Observation", "subject:identifier=https://fhir.nhs.uk/Id/nhs-number|9912003888",
			[]Filter{{Param: subject, Modifier: ModIdentifier, Values: []Value{{Token: Token{
				System: "https://fhir.nhs.uk/Id/nhs-number", Code: "9912003888", HasSystem: true}}}}}},
		{"chain with type", "Observation", "subject:Patient.name=smith",
			[]Filter{{Param: subject, Chain: &Chain{Types: []string{"Patient"}, Filter: Filter{Param: name, Values: []Value{{String: "smith"}}}}}}},
		{"chain keeps the targets that have the parameter", "Observation", "subject.birthdate=1950",
			[]Filter{{Param: subject, Chain: &Chain{Types: []string{"Patient"}, Filter: Filter{Param: birth,
				Values: []Value{{Prefix: Eq, Date: DateRange{day(1950, 1, 1), day(1951, 1, 1)}}}}}}}},
		{"uri below", "ValueSet", "url:below=http://x.org/fhir/",
			[]Filter{{Param: url, Modifier: ModBelow, Values: []Value{{String: "http://x.org/fhir/"}}}}},
		{"empty value ignored", "Patient", "name=", nil},
		{"list", "Patient", "_list=l1",
			[]Filter{{Param: ListParam, Values: []Value{{String: "l1"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, warnings, err := parse(t, tt.typ, tt.query)
			require.NoError(t, err)
			assert.Empty(t, warnings)
			assert.Equal(t, tt.want, q.Filters)
		})
	}
}

func TestParseHas(t *testing.T) {
	q, _, err := parse(t, "Patient", "_has:Observation:patient:_has:Provenance:target:agent=Practitioner/1")
	require.NoError(t, err)
	require.Len(t, q.Filters, 1)
	h := q.Filters[0].Has
	require.NotNil(t, h)
	assert.Equal(t, "Observation", h.Type)
	assert.Equal(t, "patient", h.Param.Code)
	inner := h.Filter.Has
	require.NotNil(t, inner)
	assert.Equal(t, "Provenance", inner.Type)
	assert.Equal(t, []Value{{Reference: Reference{Type: "Practitioner", ID: "1"}}}, inner.Filter.Values)
}

func TestParseResultParameters(t *testing.T) {
	q, warnings, err := parse(t, "Observation",
		"_sort=-date,_id&_count=5&_include=Observation:subject:Patient&_include:iterate=Patient:general-practitioner"+
			"&_revinclude=Provenance:target&_total=accurate&_summary=true&_elements=code,subject&_format=json&_pretty=true")
	require.NoError(t, err)
	assert.Empty(t, warnings)
	assert.Equal(t, []string{"Observation"}, q.Types)
	require.Len(t, q.Sort, 2)
	assert.Equal(t, "date", q.Sort[0].Param.Code)
	assert.True(t, q.Sort[0].Desc)
	assert.Equal(t, "_id", q.Sort[1].Param.Code)
	assert.Equal(t, 5, q.Count)
	assert.Equal(t, []Include{
		{Type: "Observation", Param: "subject", Target: "Patient"},
		{Type: "Patient", Param: "general-practitioner", Iterate: true},
	}, q.Include)
	assert.Equal(t, []Include{{Type: "Provenance", Param: "target"}}, q.RevInclude)
	assert.Equal(t, TotalAccurate, q.Total)
	assert.Equal(t, "true", q.Summary)
	assert.Equal(t, []string{"code", "subject"}, q.Elements)

	q, _, err = parse(t, "Patient", "_count=5000")
	require.NoError(t, err)
	assert.Equal(t, MaxCount, q.Count)
	q, _, err = parse(t, "Patient", "")
	require.NoError(t, err)
	assert.Equal(t, DefaultCount, q.Count)
	assert.False(t, q.CountOnly())
}

func TestParseSystemSearch(t *testing.T) {
	q, warnings, err := parse(t, "", "_type=Patient,Observation&_id=a&patient=1")
	require.NoError(t, err)
	assert.Equal(t, []string{"Patient", "Observation"}, q.Types)
	require.Len(t, q.Filters, 1, "patient is not a parameter of Patient")
	require.Len(t, warnings, 1)

	q, warnings, err = parse(t, "", "_lastUpdated=gt2024&name=x")
	require.NoError(t, err)
	assert.Empty(t, q.Types)
	require.Len(t, q.Filters, 1)
	assert.Equal(t, "_lastUpdated", q.Filters[0].Param.Code)
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0].Diagnostics, "_type")

	q, _, err = parse(t, "", "_type=Observation,Condition&patient=Patient/1")
	require.NoError(t, err)
	require.Len(t, q.Filters, 1, "patient means the same on both types")
}

func TestParseUnknownAndStrict(t *testing.T) {
	for _, query := range []string{"foo=bar", "_text=x", "_content=x", "_filter=x", "subject:Patient.foo=1", "_contained=true", "_has:Provenance:target:foo=1"} {
		t.Run(query, func(t *testing.T) {
			v, _ := url.ParseQuery(query)
			q, warnings, err := Parse("Observation", v, false)
			require.NoError(t, err)
			assert.Empty(t, q.Filters)
			require.Len(t, warnings, 1)
			assert.Equal(t, "warning", warnings[0].Severity)
			_, _, err = Parse("Observation", v, true)
			require.Error(t, err)
			assert.Equal(t, fhir.KindInvalid, fhir.KindOf(err))
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ typ, query, want string }{
		{"Patient", "birthdate=1950-13", "not a date"},
		{"Patient", "birthdate=xx1950", "not a date"},
		{"Patient", "birthdate:exact=1950", "not supported"},
		{"Patient", "name:below=x", "not supported"},
		{"Patient", "gender:in=http://x", "not supported"},
		{"Patient", "birthdate:missing=maybe", "true or false"},
		{"Patient", "identifier=a|b|c", "not a token"},
		{"Patient", "identifier=|", "neither a system nor a code"},
		{"Patient", "identifier:of-type=a|b", "of-type"},
		{"Observation", "value-quantity=abc", "not a number"},
		{"Observation", "value-quantity=5.|x|y", "not a number"},
		{"Observation", "value-quantity=5|mg", "not a quantity"},
		{"Observation", "code-value-quantity=a|b", "parts"},
		{"Observation", "subject=Foo/1", "Type/id"},
		{"Observation", "subject=a b", "neither"},
		{"Observation", "subject:Device=Patient/1", "is not a Device"},
		{"Observation", "code.name=x", "only a reference parameter"},
		{"Observation", "subject:Medication.name=x", "cannot point at"},
		{"Patient", "_has:Observation:code:code=x", "not a reference"},
		{"Patient", "_has:Observation=x", "expected _has"},
		{"Patient", "_has:Nope:patient:code=x", "not a FHIR R4 resource type"},
		{"Patient", "_has:Organization:partof:name=x", "never points at"},
		{"Patient", "_count=x", "_count"},
		{"Patient", "_sort=nope", "_sort"},
		{"Observation", "_sort=code-value-quantity", "cannot sort"},
		{"Patient", "_include=Observation:subject", "not a type searched"},
		{"Patient", "_include=Patient:name", "not a reference parameter"},
		{"Patient", "_include=Patient", "Type:parameter"},
		{"Patient", "_include=Patient:organization:Patient", "cannot point at"},
		{"Patient", "_include:deep=Patient:organization", "iterate"},
		{"Patient", "_total=some", "_total"},
		{"Patient", "_summary=all", "_summary"},
		{"Patient", "_page=!!", "_page"},
		{"Patient", "_list=$current-allergies", "List id"},
		{"Patient", "_id:missing=true", "not supported"},
		{"Patient", "a.b.c.d.e.f=1", "unknown"},
		{"Observation", "subject.organization.partof.partof.partof.partof.name=x", "at most"},
		{"", "_type=Nope", "not a FHIR R4 resource type"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			v, err := url.ParseQuery(tt.query)
			require.NoError(t, err)
			_, _, err = Parse(tt.typ, v, true)
			require.Error(t, err)
			assert.Equal(t, fhir.KindInvalid, fhir.KindOf(err), "%v", err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, _, err := Parse("Nope", nil, false)
	assert.Equal(t, fhir.KindNotFound, fhir.KindOf(err))
}

func TestCursorRoundTrip(t *testing.T) {
	k := "2024-01-01 00:00:00+00"
	c := Cursor{Keys: []*string{&k, nil}, Type: "Observation", ID: "o-1", Before: true}
	got, err := DecodeCursor(c.Encode())
	require.NoError(t, err)
	assert.Equal(t, c, *got)

	v, _ := url.ParseQuery("_sort=date&_page=" + c.Encode())
	_, _, err = Parse("Observation", v, false)
	assert.Error(t, err, "a cursor of two keys does not fit a sort of one")
}

func TestInPatientCompartment(t *testing.T) {
	q, _, err := parse(t, "Observation", "code=x")
	require.NoError(t, err)
	require.NoError(t, q.InPatientCompartment("p1"))
	assert.Equal(t, &Compartment{Type: "Patient", ID: "p1", Params: []string{"subject", "performer"}}, q.Compartment)

	q, _, _ = parse(t, "Organization", "")
	assert.Equal(t, fhir.KindInvalid, fhir.KindOf(q.InPatientCompartment("p1")))
	q, _, _ = parse(t, "Patient", "")
	require.NoError(t, q.InPatientCompartment("p1"))
	assert.Equal(t, fhir.KindInvalid, fhir.KindOf(q.InPatientCompartment("no way")))
}

func TestSplitAndUnescape(t *testing.T) {
	tests := []struct {
		in   string
		sep  byte
		want []string
	}{
		{`a,b`, ',', []string{"a", "b"}},
		{`a\,b,c`, ',', []string{`a\,b`, "c"}},
		{`a\\,b`, ',', []string{`a\\`, "b"}},
		{`,`, ',', []string{"", ""}},
		{`a\`, ',', []string{`a\`}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, split(tt.in, tt.sep), tt.in)
	}
	assert.Equal(t, `a,b|c$d\e\x`, unescape(`a\,b\|c\$d\\e\x`))
}

func TestSinglePatient(t *testing.T) {
	for _, tt := range []struct{ typ, query, want string }{
		{"Observation", "patient=p1", "p1"},
		{"Observation", "patient=Patient/p1&code=x", "p1"},
		{"Observation", "subject=Patient/p1", "p1"},
		{"Observation", "subject:Patient=p1", "p1"},
		{"Observation", "subject=p1", ""}, // a subject may be a Group
		{"Observation", "subject=Group/g1", ""},
		{"Observation", "patient=p1,p2", ""},
		{"Observation", "patient:missing=false", ""},
		{"Observation", "patient:identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009", ""},
		{"Observation", "patient.name=smith", ""},
		{"Patient", "_id=p1", "p1"},
		{"Patient", "_id:not=p1", ""},
		{"Observation", "code=x", ""},
	} {
		v, err := url.ParseQuery(tt.query)
		require.NoError(t, err)
		q, _, err := Parse(tt.typ, v, true)
		require.NoError(t, err, tt.query)
		assert.Equal(t, tt.want, q.SinglePatient(), "%s?%s", tt.typ, tt.query)
	}
}
