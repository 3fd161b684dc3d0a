package searchparam

import (
	"encoding/json"
	"testing"
)

// FuzzExtract checks that no input makes Extract or PatientRefs panic, and
// that every value Extract returns has its parameter's type. Seeds are in
// testdata/fuzz/FuzzExtract.
func FuzzExtract(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Patient","id":"p","birthDate":"2024-02-30"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var head struct {
			ResourceType string `json:"resourceType"`
		}
		if json.Unmarshal(raw, &head) != nil {
			head.ResourceType = "Observation"
		}
		vals, err := Extract(head.ResourceType, raw)
		PatientRefs(head.ResourceType, raw)
		if err != nil {
			return
		}
		for _, v := range vals {
			p, ok := Lookup(head.ResourceType, v.Param)
			if !ok || p.Type != v.Type {
				t.Fatalf("value %+v is not of a %s parameter", v, head.ResourceType)
			}
		}
		PatientRefsFromValues(head.ResourceType, vals)
	})
}
