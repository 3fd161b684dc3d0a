package validate

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sharedcare/sharedcare/internal/fhir"
)

// FuzzResource holds Resource to its promises on any input: no panic, a
// *fhir.Error of the documented kinds, and a parser that agrees with
// encoding/json about what is JSON.
func FuzzResource(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(sharedFHIR, "ukcore-examples/json/*.json"))
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err == nil {
			f.Add(raw)
		}
	}
	for _, s := range []string{
		``, `{}`, `[]`, `null`, `"`, `{"resourceType":"Patient"}`, `{"resourceType":"Patient",}`,
		`{"resourceType":"Patient","name":[{"given":["a",null],"_given":[null,{}]}]}`,
		`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Bundle","entry":[{"resource":{}}]}}]}`,
		`{"resourceType":"Patient","contained":[{"resourceType":"Patient","contained":[{"resourceType":"X"}]}]}`,
		`{"resourceType":"Pat\u0069ent","_id":{"extension":[{"url":"\ud800"}]}}`,
		`{"resourceType":"Observation","valueQuantity":{"value":1e999999},"valueString":"x"}`,
		"{\"resourceType\":\"Patient\",\"text\":{\"div\":\"<div\xff\"}}",
		`{"resourceType":"Questionnaire","item":[{"item":[{"item":[{"item":[{"linkId":1}]}]}]}]}`,
		`{"resourceType":"Parameters","parameter":[{"part":[{"part":[{"resource":{"resourceType":"Parameters"}}]}]}]}`,
		`{"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9912003890"}]}`,
		strings.Repeat(`{"a":`, 200) + strings.Repeat(`}`, 200),
		strings.Repeat(`[`, 100000),
		`{"resourceType":"Patient","birthDate":"2024-02-30","_birthDate":[null]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		rt, err := Resource(raw)

		var p parser
		perr := p.parse(raw)
		if perr == nil && !json.Valid(raw) {
			t.Fatalf("accepted what encoding/json rejects")
		}
		if perr != nil && json.Valid(raw) && utf8.Valid(raw) && !strings.Contains(perr.Error(), "nested deeper") {
			t.Fatalf("rejected valid JSON: %v", perr)
		}

		if err == nil {
			if rt == "" {
				t.Fatal("no error and no resourceType")
			}
			return
		}
		var fe *fhir.Error
		if !errors.As(err, &fe) {
			t.Fatalf("not a *fhir.Error: %v", err)
		}
		switch fe.Kind {
		case fhir.KindInvalid:
			if rt != "" {
				t.Fatalf("400 with a resourceType %q", rt)
			}
		case fhir.KindUnprocessable:
			if rt == "" || perr != nil {
				t.Fatalf("422 for an unparsed body")
			}
		default:
			t.Fatalf("unexpected kind %d", fe.Kind)
		}
		if len(fe.Issues) == 0 || len(fe.Issues) > maxIssues+1 {
			t.Fatalf("%d issues", len(fe.Issues))
		}
		for _, is := range fe.Issues {
			if is.Severity == "error" && fe.Kind == fhir.KindUnprocessable && (len(is.Expression) != 1 || !strings.HasPrefix(is.Expression[0], rt)) {
				t.Fatalf("issue without a path: %+v", is)
			}
		}
	})
}
