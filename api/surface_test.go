package api

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInconsistentSurfaceIsRefused(t *testing.T) {
	tests := []struct {
		name   string
		change func(s *Surface)
		want   string
	}{
		{"no base URL", func(s *Surface) { s.BaseURL = "" }, "no base URL"},
		{"no version", func(s *Surface) { s.Version = "" }, "software name and version"},
		{"no date", func(s *Surface) { s.Date = time.Time{} }, "no publication date"},
		{"unknown system interaction", func(s *Surface) { s.SystemInteractions = []string{"history"} },
			`unknown system interaction "history"`},
		{"system interaction twice", func(s *Surface) { s.SystemInteractions = []string{"batch", "batch"} },
			"system interaction batch is listed twice"},
		{"unnamed type", func(s *Surface) { s.Types = append(s.Types, Type{}) }, "a type has no name"},
		{"type twice", func(s *Surface) { s.Types = append(s.Types, Type{Name: "Patient"}) }, "type Patient is listed twice"},
		{"unknown interaction", func(s *Surface) { s.Types[0].Interactions = []string{"search"} },
			`type Patient: unknown interaction "search"`},
		{"interaction twice", func(s *Surface) { s.Types[0].Interactions = []string{"read", "read"} },
			"interaction read is listed twice"},
		{"unknown versioning", func(s *Surface) { s.Types[0].Versioning = "yes" }, `unknown versioning "yes"`},
		{"unknown conditional read", func(s *Surface) { s.Types[0].ConditionalRead = "etag" },
			`unknown conditional read "etag"`},
		{"unknown conditional delete", func(s *Surface) { s.Types[0].ConditionalDelete = "all" },
			`unknown conditional delete "all"`},
		{"unknown search parameter type", func(s *Surface) {
			s.Types[0].SearchParams = []SearchParam{{Name: "name", Type: "text"}}
		}, `search parameter name has unknown type "text"`},
		{"search parameter twice", func(s *Surface) {
			s.Types[0].SearchParams = []SearchParam{{Name: "name", Type: "string"}, {Name: "name", Type: "string"}}
		}, "search parameter name is listed twice"},
		{"unnamed system search parameter", func(s *Surface) { s.SearchParams = []SearchParam{{Type: "token"}} },
			"search-system: a search parameter has no name"},
		{"operation on unsupported type", func(s *Surface) {
			s.Operations = []Operation{{Name: "everything", Type: "Encounter", Definition: "x"}}
		}, "type Encounter is not supported"},
		{"instance operation without type", func(s *Surface) {
			s.Operations = []Operation{{Name: "meta", Instance: true, Definition: "x"}}
		}, "an instance-level operation needs a type"},
		{"operation name with $", func(s *Surface) {
			s.Operations = []Operation{{Name: "$everything", Type: "Patient", Definition: "x"}}
		}, "no leading $"},
		{"operation without definition", func(s *Surface) {
			s.Operations = []Operation{{Name: "everything", Type: "Patient"}}
		}, "$everything: no definition"},
		{"operation twice", func(s *Surface) {
			op := Operation{Name: "everything", Type: "Patient", Instance: true, Definition: "x"}
			s.Operations = []Operation{op, op}
		}, `$everything on "Patient" is listed twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := minimalSurface()
			tt.change(&s)
			_, err := CapabilityStatement(s)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			_, err = OpenAPI(s)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestCamel(t *testing.T) {
	tests := []struct{ in, want string }{
		{"everything", "everything"},
		{"validate-code", "validateCode"},
		{"data-requirements", "dataRequirements"},
		{"meta-add", "metaAdd"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, camel(tt.in), tt.in)
	}
}
