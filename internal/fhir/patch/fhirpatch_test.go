package patch

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/fhir"
)

// Helpers that write a FHIRPath Patch Parameters resource.

func params(ops ...string) string {
	return `{"resourceType":"Parameters","parameter":[` + strings.Join(ops, ",") + `]}`
}

func op(typ, path string, parts ...string) string {
	all := append([]string{part("type", "valueCode", q(typ)), part("path", "valueString", q(path))}, parts...)
	return `{"name":"operation","part":[` + strings.Join(all, ",") + `]}`
}

func part(name, key, value string) string {
	return `{"name":` + q(name) + `,` + q(key) + `:` + value + `}`
}

func parts(name string, ps ...string) string {
	return `{"name":` + q(name) + `,"part":[` + strings.Join(ps, ",") + `]}`
}

func name(n string) string { return part("name", "valueString", q(n)) }

func intPartJSON(n, v string) string { return part(n, "valueInteger", v) }

func q(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

const fourIdentifiers = `{"resourceType":"Patient","identifier":[` +
	`{"system":"http://example.org","value":"value 1"},{"system":"http://example.org","value":"value 2"},` +
	`{"system":"http://example.org","value":"value 3"},{"system":"http://example.org","value":"value 4"}]}`

func identifiers(values ...string) string {
	var ids []string
	for _, v := range values {
		ids = append(ids, `{"system":"http://example.org","value":"value `+v+`"}`)
	}
	return `{"resourceType":"Patient","identifier":[` + strings.Join(ids, ",") + `]}`
}

func move(from, to string) string {
	return op("move", "Patient.identifier", intPartJSON("source", from), intPartJSON("destination", to))
}

// The cases of the FHIR test suite's fhir-patch-tests.xml for R4, in JSON.
func TestFHIRPathPatchSpecCases(t *testing.T) {
	contact := `{"resourceType":"Patient","contact":[{"name":{"text":"a name"},"gender":"male"}]}`
	tests := []struct {
		name   string
		input  string
		params string
		want   string
	}{
		{"no difference", `{"resourceType":"Patient","birthDate":"1920-01-01"}`, params(),
			`{"resourceType":"Patient","birthDate":"1920-01-01"}`},
		{"replace primitive", `{"resourceType":"Patient","birthDate":"1920-01-01"}`,
			params(op("replace", "Patient.birthDate", part("value", "valueDate", `"1930-01-01"`))),
			`{"resourceType":"Patient","birthDate":"1930-01-01"}`},
		{"delete primitive", `{"resourceType":"Patient","birthDate":"1920-01-01"}`,
			params(op("delete", "Patient.birthDate")),
			`{"resourceType":"Patient"}`},
		{"add primitive", `{"resourceType":"Patient"}`,
			params(op("add", "Patient", name("birthDate"), part("value", "valueDate", `"1930-01-01"`))),
			`{"resourceType":"Patient","birthDate":"1930-01-01"}`},
		{"replace nested primitive #1", contact,
			params(op("replace", "Patient.contact[0].gender", part("value", "valueCode", `"female"`))),
			`{"resourceType":"Patient","contact":[{"name":{"text":"a name"},"gender":"female"}]}`},
		{"replace nested primitive #2", contact,
			params(op("replace", "Patient.contact[0].name.text", part("value", "valueString", `"the name"`))),
			`{"resourceType":"Patient","contact":[{"name":{"text":"the name"},"gender":"male"}]}`},
		{"delete nested primitive #1", contact,
			params(op("delete", "Patient.contact[0].gender")),
			`{"resourceType":"Patient","contact":[{"name":{"text":"a name"}}]}`},
		{"delete nested primitive #2 drops the emptied parent", contact,
			params(op("delete", "Patient.contact[0].name.text")),
			`{"resourceType":"Patient","contact":[{"gender":"male"}]}`},
		{"add nested primitive", `{"resourceType":"Patient","contact":[{"name":{"text":"a name"}}]}`,
			params(op("add", "Patient.contact[0]", name("gender"), part("value", "valueCode", `"male"`))),
			contact},
		{"add complex", `{"resourceType":"Patient"}`,
			params(op("add", "Patient", name("maritalStatus"), part("value", "valueCodeableConcept", `{"text":"married"}`))),
			`{"resourceType":"Patient","maritalStatus":{"text":"married"}}`},
		{"replace complex", `{"resourceType":"Patient","maritalStatus":{"id":"1","text":"married"}}`,
			params(op("replace", "Patient.maritalStatus", part("value", "valueCodeableConcept", `{"id":"2","text":"not married"}`))),
			`{"resourceType":"Patient","maritalStatus":{"id":"2","text":"not married"}}`},
		{"delete complex", `{"resourceType":"Patient","maritalStatus":{"text":"married"}}`,
			params(op("delete", "Patient.maritalStatus")),
			`{"resourceType":"Patient"}`},
		{"add anonymous type", `{"resourceType":"Patient"}`,
			params(op("add", "Patient", name("contact"), parts("value", part("name", "valueHumanName", `{"text":"a name"}`)))),
			`{"resourceType":"Patient","contact":[{"name":{"text":"a name"}}]}`},
		{"delete anonymous type", `{"resourceType":"Patient","contact":[{"name":{"text":"a name"}}]}`,
			params(op("delete", "Patient.contact[0]")),
			`{"resourceType":"Patient"}`},
		{"list unchanged, contents changed", `{"resourceType":"Patient","identifier":[` +
			`{"id":"a","system":"http://example.org","value":"value 1"},{"id":"b","system":"http://example.org","value":"value 2"}]}`,
			params(
				op("replace", "Patient.identifier[0].value", part("value", "valueString", `"value 2"`)),
				op("replace", "Patient.identifier[1].value", part("value", "valueString", `"value 1"`))),
			`{"resourceType":"Patient","identifier":[` +
				`{"id":"a","system":"http://example.org","value":"value 2"},{"id":"b","system":"http://example.org","value":"value 1"}]}`},
		{"add to list", identifiers("1", "2"),
			params(op("add", "Patient", name("identifier"), part("value", "valueIdentifier", `{"system":"http://example.org","value":"value 3"}`))),
			identifiers("1", "2", "3")},
		{"insert in list #1", identifiers("1", "2"),
			params(op("insert", "Patient.identifier", intPartJSON("index", "1"), part("value", "valueIdentifier", `{"system":"http://example.org","value":"value 3"}`))),
			identifiers("1", "3", "2")},
		{"insert in list #2", identifiers("1", "2"),
			params(op("insert", "Patient.identifier", intPartJSON("index", "0"), part("value", "valueIdentifier", `{"system":"http://example.org","value":"value 3"}`))),
			identifiers("3", "1", "2")},
		{"delete from list #1", identifiers("1", "2", "3"), params(op("delete", "Patient.identifier[0]")), identifiers("2", "3")},
		{"delete from list #2", identifiers("1", "2", "3"), params(op("delete", "Patient.identifier[1]")), identifiers("1", "3")},
		{"delete from list #3", identifiers("1", "2", "3"), params(op("delete", "Patient.identifier[2]")), identifiers("1", "2")},
		{"reorder list #1", fourIdentifiers, params(move("3", "1")), identifiers("1", "4", "2", "3")},
		{"reorder list #2", fourIdentifiers, params(move("3", "0")), identifiers("4", "1", "2", "3")},
		{"reorder list #3", fourIdentifiers, params(move("3", "2")), identifiers("1", "2", "4", "3")},
		{"reorder list #4", fourIdentifiers, params(move("0", "3")), identifiers("2", "3", "4", "1")},
		{"reorder list #5", fourIdentifiers, params(move("1", "0"), move("2", "1")), identifiers("2", "3", "1", "4")},
		{"reorder list #6", fourIdentifiers, params(move("3", "0"), move("3", "1"), move("3", "2")), identifiers("4", "3", "2", "1")},
		{"operation on missing element #2", `{"resourceType":"Patient"}`,
			params(op("add", "Patient", name("identifier"), part("value", "valueIdentifier", `{"system":"http://example.org","value":"value 3"}`))),
			identifiers("3")},
		{"full resource", `{"resourceType":"Patient","id":"example","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><b>Chalmers</b></div>"},` +
			`"name":[{"use":"official","family":"Chalmers","given":["Peter","James"]},{"use":"usual","given":["Jim"]}]}`,
			params(
				op("replace", "Patient.text.div", part("value", "valueString", `"<div xmlns=\"http://www.w3.org/1999/xhtml\"><b>Chalmers1</b></div>"`)),
				op("replace", "Patient.name[0].family", part("value", "valueString", `"Chalmers1"`))),
			`{"resourceType":"Patient","id":"example","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><b>Chalmers1</b></div>"},` +
				`"name":[{"use":"official","family":"Chalmers1","given":["Peter","James"]},{"use":"usual","given":["Jim"]}]}`},
		{"consecutive operations", `{"resourceType":"Patient","id":"example","contact":[{"name":{"family":"du Marché","_family":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/humanname-own-prefix","valueString":"WW"}]},"given":["Bénédicte"]}}]}`,
			params(
				op("add", "Patient.contact[0]", name("gender"), part("value", "valueCode", `"male"`)),
				op("add", "Patient", name("contact"), parts("value", part("gender", "valueCode", `"male"`)))),
			`{"resourceType":"Patient","id":"example","contact":[{"name":{"family":"du Marché","_family":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/humanname-own-prefix","valueString":"WW"}]},"given":["Bénédicte"]},"gender":"male"},{"gender":"male"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FHIRPathPatch([]byte(tt.input), []byte(tt.params))
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
		})
	}
}

func TestFHIRPathPatch(t *testing.T) {
	names := `{"resourceType":"Patient","name":[{"use":"official","family":"Chalmers","given":["Peter","James"]},{"use":"usual","given":["Jim"]}]}`
	tests := []struct {
		name   string
		input  string
		params string
		want   string
	}{
		{"keeps member order, untouched bytes and narrative markup",
			"{\"resourceType\" : \"Patient\",\n \"text\": {\"div\": \"<div>\\u00e9</div>\"},\n \"multipleBirthInteger\": 2.0e0, \"active\": true}",
			params(op("replace", "Patient.active", part("value", "valueBoolean", "false"))),
			`{"resourceType":"Patient","text":{"div":"<div>\u00e9</div>"},"multipleBirthInteger":2.0e0,"active":false}`},
		{"where with a simple equality", names,
			params(op("replace", "Patient.name.where(use = 'usual').given[0]", part("value", "valueString", `"Jimmy"`))),
			`{"resourceType":"Patient","name":[{"use":"official","family":"Chalmers","given":["Peter","James"]},{"use":"usual","given":["Jimmy"]}]}`},
		{"where with and, and $this", names,
			params(op("delete", "Patient.name.where(use='official' and family='Chalmers').given.where($this = 'James')")),
			`{"resourceType":"Patient","name":[{"use":"official","family":"Chalmers","given":["Peter"]},{"use":"usual","given":["Jim"]}]}`},
		{"where with a path and a function in the condition", names,
			params(op("add", "Patient.name.where(given.first() = 'Peter')", name("text"), part("value", "valueString", `"Peter James Chalmers"`))),
			`{"resourceType":"Patient","name":[{"use":"official","family":"Chalmers","given":["Peter","James"],"text":"Peter James Chalmers"},{"use":"usual","given":["Jim"]}]}`},
		{"first and last", names,
			params(
				op("add", "Patient.name.first()", name("prefix"), part("value", "valueString", `"Mr"`)),
				op("delete", "Patient.name.last()")),
			`{"resourceType":"Patient","name":[{"use":"official","family":"Chalmers","given":["Peter","James"],"prefix":["Mr"]}]}`},
		{"path without the resource type", names,
			params(op("delete", "name[1]")),
			`{"resourceType":"Patient","name":[{"use":"official","family":"Chalmers","given":["Peter","James"]}]}`},
		{"add a HumanName given as parts, repeating parts becoming an array", `{"resourceType":"Patient"}`,
			params(op("add", "Patient", name("name"), parts("value",
				part("family", "valueString", `"Chalmers"`),
				part("given", "valueString", `"Peter"`),
				part("given", "valueString", `"James"`),
				part("period", "valuePeriod", `{"start":"2001"}`)))),
			`{"resourceType":"Patient","name":[{"family":"Chalmers","given":["Peter","James"],"period":{"start":"2001"}}]}`},
		{"a single repeating part is still an array", `{"resourceType":"Patient"}`,
			params(op("add", "Patient", name("contact"), parts("value", part("telecom", "valueContactPoint", `{"system":"phone","value":"1"}`)))),
			`{"resourceType":"Patient","contact":[{"telecom":[{"system":"phone","value":"1"}]}]}`},
		{"insert into an absent list", `{"resourceType":"Patient"}`,
			params(op("insert", "Patient.name", intPartJSON("index", "0"), part("value", "valueHumanName", `{"text":"A"}`))),
			`{"resourceType":"Patient","name":[{"text":"A"}]}`},
		{"insert at the end of a nested list", names,
			params(op("insert", "Patient.name[1].given", intPartJSON("index", "1"), part("value", "valueString", `"Jimbo"`))),
			`{"resourceType":"Patient","name":[{"use":"official","family":"Chalmers","given":["Peter","James"]},{"use":"usual","given":["Jim","Jimbo"]}]}`},
		{"delete of nothing is no error", names,
			params(op("delete", "Patient.birthDate"), op("delete", "Patient.name.where(use='old')")),
			names},
		{"integer and decimal keep their JSON types", `{"resourceType":"Observation","status":"final","code":{"text":"x"}}`,
			params(
				op("add", "Observation", name("value"), part("value", "valueQuantity", `{"value":1.50,"unit":"kg"}`)),
				op("add", "Observation", name("component"), parts("value",
					part("code", "valueCodeableConcept", `{"text":"y"}`),
					part("value", "valueInteger", "3")))),
			`{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50,"unit":"kg"},"component":[{"code":{"text":"y"},"valueInteger":3}]}`},
		{"a choice by its JSON name", `{"resourceType":"Patient"}`,
			params(op("add", "Patient", name("deceasedBoolean"), part("value", "valueBoolean", "true"))),
			`{"resourceType":"Patient","deceasedBoolean":true}`},
		{"replacing a choice may change its type, in place", `{"resourceType":"Patient","deceasedBoolean":true,"active":true}`,
			params(op("replace", "Patient.deceased", part("value", "valueDateTime", `"2020-01-01"`))),
			`{"resourceType":"Patient","deceasedDateTime":"2020-01-01","active":true}`},
		{"ofType picks a choice's type", `{"resourceType":"Observation","status":"final","code":{},"valueQuantity":{"value":1}}`,
			params(op("replace", "Observation.value.ofType(Quantity).value", part("value", "valueDecimal", "2"))),
			`{"resourceType":"Observation","status":"final","code":{},"valueQuantity":{"value":2}}`},
		{"extension() by URL", `{"resourceType":"Patient","extension":[{"url":"a","valueString":"x"},{"url":"b","valueString":"y"}]}`,
			params(op("replace", "Patient.extension('b').value", part("value", "valueString", `"z"`))),
			`{"resourceType":"Patient","extension":[{"url":"a","valueString":"x"},{"url":"b","valueString":"z"}]}`},
		{"a primitive's extensions move with it", `{"resourceType":"Patient","name":[{"given":["A","B","C"],"_given":[null,{"id":"b"},null]}]}`,
			params(op("move", "Patient.name[0].given", intPartJSON("source", "1"), intPartJSON("destination", "0"))),
			`{"resourceType":"Patient","name":[{"given":["B","A","C"],"_given":[{"id":"b"},null,null]}]}`},
		{"deleting the only extended entry drops the companion", `{"resourceType":"Patient","name":[{"given":["A","B"],"_given":[null,{"id":"b"}]}]}`,
			params(op("delete", "Patient.name[0].given[1]")),
			`{"resourceType":"Patient","name":[{"given":["A"]}]}`},
		{"adding a primitive with extensions", `{"resourceType":"Patient","name":[{"given":["A"]}]}`,
			params(op("add", "Patient.name[0]", name("given"), `{"name":"value","valueString":"B","_valueString":{"id":"b"}}`)),
			`{"resourceType":"Patient","name":[{"given":["A","B"],"_given":[null,{"id":"b"}]}]}`},
		{"deleting a primitive deletes its extensions", `{"resourceType":"Patient","birthDate":"1970","_birthDate":{"id":"x"},"active":true}`,
			params(op("delete", "Patient.birthDate")),
			`{"resourceType":"Patient","active":true}`},
		{"contained resources", `{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","name":"A"}]}`,
			params(
				op("replace", "Patient.contained.where(id='o').name", part("value", "valueString", `"B"`)),
				op("add", "Patient", name("contained"), `{"name":"value","resource":{"resourceType":"Practitioner","id":"p"}}`)),
			`{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","name":"B"},{"resourceType":"Practitioner","id":"p"}]}`},
		{"ofType on contained resources", `{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o"},{"resourceType":"Practitioner","id":"p"}]}`,
			params(op("delete", "Patient.contained.ofType(Practitioner)")),
			`{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o"}]}`},
		{"a code may come as valueString", `{"resourceType":"Patient"}`,
			params(op("add", "Patient", name("gender"), part("value", "valueString", `"other"`))),
			`{"resourceType":"Patient","gender":"other"}`},
		{"backbone recursion by contentReference", `{"resourceType":"Questionnaire","status":"draft","item":[{"linkId":"1","type":"group"}]}`,
			params(op("add", "Questionnaire.item[0]", name("item"), parts("value",
				part("linkId", "valueString", `"1.1"`), part("type", "valueCode", `"string"`)))),
			`{"resourceType":"Questionnaire","status":"draft","item":[{"linkId":"1","type":"group","item":[{"linkId":"1.1","type":"string"}]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FHIRPathPatch([]byte(tt.input), []byte(tt.params))
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
		})
	}
}

func TestFHIRPathPatchErrors(t *testing.T) {
	patient := `{"resourceType":"Patient","birthDate":"1970-01-01","gender":"male","name":[{"use":"official","given":["A"]},{"use":"official","given":["B"]}],"identifier":[{"value":"1"}]}`
	tests := []struct {
		name   string
		params string
		kind   fhir.Kind
		code   string
		diag   string // a part of the diagnostics
	}{
		{"not JSON", `{`, fhir.KindInvalid, "structure", "not JSON"},
		{"not an object", `[]`, fhir.KindInvalid, "structure", "Parameters"},
		{"not Parameters", `{"resourceType":"Patient"}`, fhir.KindInvalid, "invalid", "Parameters"},
		{"parameter not an array", `{"resourceType":"Parameters","parameter":{}}`, fhir.KindInvalid, "structure", "array"},
		{"not an operation", params(`{"name":"foo","valueString":"x"}`), fhir.KindInvalid, "invalid", `"foo" is not an operation`},
		{"unknown type", params(op("patch", "Patient")), fhir.KindInvalid, "invalid", `type "patch"`},
		{"no path", params(`{"name":"operation","part":[{"name":"type","valueCode":"delete"}]}`), fhir.KindInvalid, "invalid", "needs a path"},
		{"replace without value", params(op("replace", "Patient.gender")), fhir.KindInvalid, "invalid", "needs a value"},
		{"add without name", params(op("add", "Patient", part("value", "valueCode", `"x"`))), fhir.KindInvalid, "invalid", "needs a name"},
		{"part twice", params(op("delete", "Patient.gender", part("path", "valueString", `"x"`))), fhir.KindInvalid, "invalid", "twice"},
		{"unknown part", params(op("delete", "Patient.gender", part("where", "valueString", `"x"`))), fhir.KindInvalid, "invalid", "unknown part"},
		{"negative index", params(op("insert", "Patient.name", intPartJSON("index", "-1"), part("value", "valueHumanName", `{}`))), fhir.KindInvalid, "invalid", "0 or more"},
		{"bad path syntax", params(op("delete", "Patient.name[")), fhir.KindInvalid, "invalid", "path"},
		{"unsupported function", params(op("delete", "Patient.name.exists()")), fhir.KindInvalid, "invalid", "exists() is not supported"},
		{"insert path not a list name", params(op("insert", "Patient.name[0]", intPartJSON("index", "0"), part("value", "valueHumanName", `{}`))), fhir.KindInvalid, "invalid", "list element's name"},
		{"value of the wrong JSON form", params(op("replace", "Patient.gender", part("value", "valueBoolean", `"yes"`))), fhir.KindInvalid, "invalid", "JSON boolean"},
		{"unknown value type", params(op("replace", "Patient.gender", part("value", "valueFoo", `{}`))), fhir.KindInvalid, "invalid", "not an R4 data type"},
		{"two values", params(op("replace", "Patient.gender", `{"name":"value","valueCode":"a","valueString":"b"}`)), fhir.KindInvalid, "invalid", "more than one value"},
		{"unknown member", params(op("delete", "Patient.gender", `{"name":"x","valueString":"y","foo":1}`)), fhir.KindInvalid, "invalid", "unknown member foo"},

		{"operation on missing element", params(op("add", "Patient.identifier.where(use = 'official').period", name("end"), part("value", "valueDate", `"2021-12-01"`))),
			fhir.KindUnprocessable, "processing", "no content found"},
		{"replace of nothing", params(op("replace", "Patient.maritalStatus", part("value", "valueCodeableConcept", `{"text":"x"}`))),
			fhir.KindUnprocessable, "processing", "no content found"},
		{"replace matching two", params(op("replace", "Patient.name.where(use='official')", part("value", "valueHumanName", `{"text":"x"}`))),
			fhir.KindUnprocessable, "processing", "matches 2 elements"},
		{"delete matching two", params(op("delete", "Patient.name")), fhir.KindUnprocessable, "processing", "matches 2 elements"},
		{"no such element", params(op("delete", "Patient.nmae")), fhir.KindUnprocessable, "processing", "Patient has no element nmae"},
		{"add an element that does not exist", params(op("add", "Patient", name("foo"), part("value", "valueString", `"x"`))),
			fhir.KindUnprocessable, "processing", "Patient has no element foo"},
		{"other resource type", params(op("delete", "Observation.status")), fhir.KindUnprocessable, "processing", "resource is a Patient"},
		{"add to a set single element", params(op("add", "Patient", name("birthDate"), part("value", "valueDate", `"1980"`))),
			fhir.KindUnprocessable, "processing", "already has birthDate"},
		{"add a second choice", `{"resourceType":"Parameters","parameter":[` + op("add", "Patient", name("deceased"), part("value", "valueBoolean", "true")) + `,` +
			op("add", "Patient", name("deceased"), part("value", "valueDateTime", `"2000"`)) + `]}`,
			fhir.KindUnprocessable, "processing", "operation 1 "},
		{"wrong primitive type", params(op("replace", "Patient.birthDate", part("value", "valueBoolean", "true"))),
			fhir.KindUnprocessable, "processing", "needs a date"},
		{"wrong complex type", params(op("add", "Patient", name("maritalStatus"), part("value", "valueCoding", `{"code":"M"}`))),
			fhir.KindUnprocessable, "processing", "needs a CodeableConcept"},
		{"choice of a type it cannot have", params(op("add", "Patient", name("deceased"), part("value", "valueString", `"x"`))),
			fhir.KindUnprocessable, "processing", "boolean, dateTime"},
		{"anonymous type given as a value", params(op("add", "Patient", name("contact"), part("value", "valueHumanName", `{}`))),
			fhir.KindUnprocessable, "processing", "as parts"},
		{"primitive given as parts", params(op("add", "Patient", name("gender"), parts("value", part("x", "valueString", `"y"`)))),
			fhir.KindUnprocessable, "processing", "not as parts"},
		{"unknown part element", params(op("add", "Patient", name("contact"), parts("value", part("nmae", "valueHumanName", `{}`)))),
			fhir.KindUnprocessable, "processing", "Patient.contact has no element nmae"},
		{"single part given twice", params(op("add", "Patient", name("contact"), parts("value", part("gender", "valueCode", `"male"`), part("gender", "valueCode", `"female"`)))),
			fhir.KindUnprocessable, "processing", "already has gender"},
		{"add to a primitive", params(op("add", "Patient.birthDate", name("id"), part("value", "valueString", `"x"`))),
			fhir.KindUnprocessable, "processing", "cannot add"},
		{"insert past the end", params(op("insert", "Patient.identifier", intPartJSON("index", "2"), part("value", "valueIdentifier", `{}`))),
			fhir.KindUnprocessable, "processing", "past the end"},
		{"insert into a single element", params(op("insert", "Patient.gender", intPartJSON("index", "0"), part("value", "valueCode", `"x"`))),
			fhir.KindUnprocessable, "processing", "does not repeat"},
		{"move out of range", params(op("move", "Patient.identifier", intPartJSON("source", "0"), intPartJSON("destination", "1"))),
			fhir.KindUnprocessable, "processing", "has 1 entries"},
		{"delete the resource", params(op("delete", "Patient")), fhir.KindUnprocessable, "processing", "resource itself"},
		{"replace the resource", params(op("replace", "Patient", part("value", "valueString", `"x"`))), fhir.KindUnprocessable, "processing", "resource itself"},
		{"into a primitive", params(op("delete", "Patient.birthDate.extension")), fhir.KindUnprocessable, "processing", "primitive"},
		{"contained resource of an unknown type", params(op("add", "Patient", name("contained"), `{"name":"value","resource":{"resourceType":"Foo"}}`)),
			fhir.KindUnprocessable, "processing", "Foo is not an R4 resource type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FHIRPathPatch([]byte(patient), []byte(tt.params))
			var fe *fhir.Error
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.kind, fe.Kind)
			require.Len(t, fe.Issues, 1)
			assert.Equal(t, tt.code, fe.Issues[0].Code)
			assert.Contains(t, fe.Issues[0].Diagnostics, tt.diag)
		})
	}
}

func TestFHIRPathPatchNamesTheFailingOperation(t *testing.T) {
	_, err := FHIRPathPatch([]byte(`{"resourceType":"Patient"}`), []byte(params(
		op("add", "Patient", name("gender"), part("value", "valueCode", `"male"`)),
		op("replace", "Patient.birthDate", part("value", "valueDate", `"2000"`)))))
	var fe *fhir.Error
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, []string{"Parameters.parameter[1]"}, fe.Issues[0].Expression)
	assert.Contains(t, fe.Issues[0].Diagnostics, "operation 1 (replace Patient.birthDate)")
}

func TestFHIRPathPatchBadResource(t *testing.T) {
	for _, raw := range []string{``, `[]`, `{"resourceType":`, `"x"`} {
		_, err := FHIRPathPatch([]byte(raw), []byte(params()))
		require.Error(t, err)
		assert.Equal(t, fhir.KindInternal, fhir.KindOf(err), "resource %q", raw)
	}
	_, err := FHIRPathPatch([]byte(`{"resourceType":"Foo"}`), []byte(params()))
	assert.Equal(t, fhir.KindUnprocessable, fhir.KindOf(err))
}
