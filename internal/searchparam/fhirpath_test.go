package searchparam

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Patient.name.family", "Patient.name.family"},
		{"A.b | A.c | A.d", "((A.b | A.c) | A.d)"},
		{"(Observation.value as Quantity)", "(Observation.value as Quantity)"},
		{"(Observation.value as CodeableConcept).text", "(Observation.value as CodeableConcept).text"},
		{"Condition.onset.as(Age) | Condition.onset.as(Range)", "(Condition.onset.as(Age) | Condition.onset.as(Range))"},
		{"Account.subject.where(resolve() is Patient)", "Account.subject.where((resolve() is Patient))"},
		{"Patient.telecom.where(system='email')", "Patient.telecom.where((system = 'email'))"},
		// "and" binds looser than "!=", which binds looser than "|" and "as".
		{"Patient.deceased.exists() and Patient.deceased != false", "(Patient.deceased.exists() and (Patient.deceased != false))"},
		{"a | b as T", "(a | (b as T))"},
		{"%resource.referenceSeq.chromosome", "%resource.referenceSeq.chromosome"},
		{"Bundle.entry[0].resource", "Bundle.entry[0].resource"},
		{"x.extension('http://e.org/a').value", "x.extension('http://e.org/a').value"},
		{"x.where(a = 'it\\'s')", "x.where((a = 'it\\'s'))"},
		{"`div`.first()", "div.first()"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e, err := parse(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, e.String())
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"", "a.", "a.(b)", "(a", "a b", "'open", "a as", "a.where(b", "a[0", "%", "a # b", "`x", "a = "} {
		t.Run(in, func(t *testing.T) {
			_, err := parse(in)
			assert.Error(t, err)
		})
	}
}

func TestCompileErrors(t *testing.T) {
	for _, in := range []string{
		"Bundle.entry[0].resource",
		"a.matches('x')",
		"a.as(b.c)",
		"a.extension(b)",
		"%context.a",
		"a.where()",
	} {
		t.Run(in, func(t *testing.T) {
			_, err := (&compiler{}).program("p", TypeToken, in)
			assert.Error(t, err)
		})
	}
}

// evaluate runs expression over the resource JSON and returns the items'
// values and types.
func evaluate(t *testing.T, expression string, choices []string, resource string) []item {
	t.Helper()
	prog, err := (&compiler{choices: choices}).program("p", TypeToken, expression)
	require.NoError(t, err)
	var root map[string]any
	dec := json.NewDecoder(stringReader(resource))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&root))
	c := getCtx(root)
	defer putCtx(c)
	return append([]item(nil), prog.root.eval(c, c.push(c.root))...)
}

func TestEvaluate(t *testing.T) {
	const patient = `{"resourceType":"Patient","id":"p",
		"name":[{"family":"A","given":["B","C"]},{"family":"D"}],
		"telecom":[{"system":"phone","value":"1"},{"system":"email","value":"e@x"}],
		"extension":[{"url":"http://e.org/a","valueString":"ext"},{"url":"http://e.org/b","valueCode":"b"}],
		"deceasedBoolean":true,
		"link":[{"other":{"reference":"Patient/q"}},{"other":{"reference":"RelatedPerson/r"}},{"other":{"reference":"urn:uuid:1"}}]}`
	choices := []string{"valueString", "valueCode", "deceasedBoolean", "deceasedDateTime", "valueSet"}
	tests := []struct {
		expression string
		want       []item
	}{
		{"Patient.name.family", []item{{"A", ""}, {"D", ""}}},
		{"Patient.name.given", []item{{"B", ""}, {"C", ""}}},
		{"Observation.code", nil},
		{"Resource.id", []item{{"p", ""}}},
		{"Patient.name.family | Patient.id", []item{{"A", ""}, {"D", ""}, {"p", ""}}},
		{"Patient.telecom.where(system='email').value", []item{{"e@x", ""}}},
		{"Patient.telecom.where(system!='email').value", []item{{"1", ""}}},
		{"Patient.name.first().family", []item{{"A", ""}}},
		{"Patient.name.family.first()", []item{{"A", ""}}},
		// A choice element matches its JSON names; as() and ofType() keep one type.
		{"Patient.deceased", []item{{true, "Boolean"}}},
		{"Patient.deceased.as(dateTime)", nil},
		{"Patient.deceased.exists() and Patient.deceased != false", []item{{true, ""}}},
		{"Patient.deceased.exists() or Patient.nothing", []item{{true, ""}}},
		{"Patient.extension('http://e.org/a').value", []item{{"ext", "String"}}},
		{"Patient.extension.where(url='http://e.org/b').value.ofType(code)", []item{{"b", "Code"}}},
		{"Patient.extension.value is String", nil}, // is needs a single item
		{"Patient.extension.first().value is String", []item{{true, ""}}},
		// resolve() reads the type from the reference; urn:uuid has none.
		{"Patient.link.other.where(resolve() is Patient).reference", []item{{"Patient/q", ""}}},
		{"Patient.link.other.where(resolve() is RelatedPerson).reference", []item{{"RelatedPerson/r", ""}}},
		{"Patient.id = 'p'", []item{{true, ""}}},
		{"Patient.name.family = 'A'", nil}, // equality needs single items
		{"%resource.id", []item{{"p", ""}}},
		{"name.family", []item{{"A", ""}, {"D", ""}}},
		{"Patient.nothing.exists()", []item{{false, ""}}},
		{"Patient.nothing.exists() and Patient.nothing", []item{{false, ""}}},
		{"Patient.deceased and Patient.nothing", nil},
	}
	for _, tt := range tests {
		t.Run(tt.expression, func(t *testing.T) {
			got := evaluate(t, tt.expression, choices, patient)
			if len(tt.want) == 0 {
				assert.Empty(t, got)
				return
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestChoicesFromXPath shows why choice names come from the parameter's
// XPath: Coverage.subscriber is a Reference, and subscriberId is another
// element, not a choice of it.
func TestChoicesFromXPath(t *testing.T) {
	vals, err := Extract("Coverage", []byte(`{"resourceType":"Coverage","subscriberId":"ABC"}`))
	require.NoError(t, err)
	assert.Empty(t, shown(vals, "subscriber"))
}
