package r4

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLookupType(t *testing.T) {
	for _, rt := range ResourceTypes {
		typ := LookupType(rt)
		require.NotNil(t, typ, rt)
		assert.Equal(t, ResourceKind, typ.Kind, rt)
	}
	for name, kind := range map[string]TypeKind{
		"HumanName":          DataTypeKind,
		"Age":                DataTypeKind,
		"Element":            DataTypeKind,
		"Patient.contact":    BackboneKind,
		"Timing.repeat":      BackboneKind,
		"Questionnaire.item": BackboneKind,
	} {
		typ := LookupType(name)
		require.NotNil(t, typ, name)
		assert.Equal(t, kind, typ.Kind, name)
	}
	assert.Nil(t, LookupType("string"), "primitives have no table")
	assert.Nil(t, LookupType("NoSuchType"))
	assert.Nil(t, LookupType("SimpleQuantity"), "profiles are not types")
}

func TestEveryElementTypeResolves(t *testing.T) {
	for name, typ := range types() {
		for _, el := range typ.Elements {
			for _, code := range el.Types {
				ok := code == "Resource" || IsPrimitive(code) || LookupType(code) != nil
				assert.True(t, ok, "%s.%s: %s", name, el.Name, code)
			}
		}
	}
}

func TestTypeLookup(t *testing.T) {
	cases := []struct {
		typ, member string
		wantName    string // "" when unknown
		wantType    string
		check       func(t *testing.T, el Element)
	}{
		{"Patient", "birthDate", "birthDate", "date", func(t *testing.T, el Element) {
			assert.False(t, el.Array)
			assert.True(t, el.Summary)
			assert.Equal(t, 0, el.Min)
			assert.Equal(t, 1, el.Max)
		}},
		{"Patient", "id", "id", "id", nil},
		{"Patient", "name", "name", "HumanName", func(t *testing.T, el Element) {
			assert.True(t, el.Array)
			assert.Equal(t, -1, el.Max)
		}},
		{"Patient", "deceasedDateTime", "deceased", "dateTime", func(t *testing.T, el Element) {
			assert.True(t, el.Choice)
			assert.True(t, el.Modifier)
			assert.Equal(t, "deceasedBoolean", el.JSONName("boolean"))
		}},
		{"Patient", "deceased", "", "", nil},
		{"Patient", "deceased[x]", "", "", nil},
		{"Patient", "contact", "contact", "Patient.contact", nil},
		{"Observation", "valueQuantity", "value", "Quantity", nil},
		{"Observation", "status", "status", "code", func(t *testing.T, el Element) {
			assert.Equal(t, 1, el.Min)
			assert.True(t, el.Modifier)
		}},
		{"Observation", "contained", "contained", "Resource", nil},
		{"Questionnaire.item", "item", "item", "Questionnaire.item", nil},
		{"Questionnaire.item", "linkId", "linkId", "string", nil},
		{"Bundle.entry", "resource", "resource", "Resource", nil},
		{"Extension", "url", "url", "uri", nil},
		{"Extension", "valueMeta", "value", "Meta", nil},
		{"HumanName", "id", "id", "string", nil},
		{"Narrative", "div", "div", "xhtml", nil},
		{"Timing", "repeat", "repeat", "Timing.repeat", nil},
		{"Dosage.doseAndRate", "doseQuantity", "dose", "Quantity", nil},
		{"Element", "extension", "extension", "Extension", nil},
		{"Element", "value", "", "", nil},
	}
	for _, c := range cases {
		t.Run(c.typ+"."+c.member, func(t *testing.T) {
			typ := LookupType(c.typ)
			require.NotNil(t, typ)
			i, got, table := typ.Resolve(c.member)
			li, lgot := typ.Lookup(c.member)
			assert.Equal(t, i, li)
			assert.Equal(t, got, lgot)
			if c.wantName == "" {
				assert.Equal(t, -1, i)
				return
			}
			require.GreaterOrEqual(t, i, 0)
			assert.Equal(t, c.wantName, typ.Elements[i].Name)
			assert.Equal(t, c.wantType, got)
			assert.Equal(t, LookupType(got), table)
			if c.check != nil {
				c.check(t, typ.Elements[i])
			}
		})
	}
}

func TestPrimitives(t *testing.T) {
	assert.Len(t, Primitives, 20)
	assert.Equal(t, "number", Primitives["positiveInt"].JSON)
	assert.Equal(t, "number", Primitives["decimal"].JSON)
	assert.Equal(t, "boolean", Primitives["boolean"].JSON)
	assert.Equal(t, "string", Primitives["dateTime"].JSON)
	assert.Equal(t, `[A-Za-z0-9\-\.]{1,64}`, Primitives["id"].Regex)
	assert.True(t, IsPrimitive("xhtml"))
	assert.False(t, IsPrimitive("Quantity"))
}

func TestDecodeTypesRejectsBadTables(t *testing.T) {
	for _, table := range []string{
		"Patient x\n",
		"\tname string 0 1 -\n",
		"Patient r\n\tname string zero 1 -\n",
		"Patient r\n\tname string 0 many -\n",
		"Patient r\n\tname string 0\n",
		"Patient r extra\n",
	} {
		_, err := decodeTypes(table)
		assert.Error(t, err, table)
	}
}
