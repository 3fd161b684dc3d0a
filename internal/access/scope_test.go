package access

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/fhir"
)

func TestParseScope(t *testing.T) {
	tests := []struct {
		scope    string
		ok       bool
		context  string
		typ      string
		wantPerm permissions
	}{
		{"user/Observation.read", true, "user", "Observation", permRead | permSearch},
		{"user/*.write", true, "user", "*", permCreate | permUpdate | permDelete},
		{"system/*.*", true, "system", "*", permAll},
		{"patient/Observation.read", true, "patient", "Observation", permRead | permSearch},
		{"user/Observation.rs", true, "user", "Observation", permRead | permSearch},
		{"system/*.cruds", true, "system", "*", permAll},
		{"user/Patient.r", true, "user", "Patient", permRead},
		{"user/Patient.s", true, "user", "Patient", permSearch},
		{"user/Encounter.cud", true, "user", "Encounter", permCreate | permUpdate | permDelete},
		{"user/AuditEvent.rs", true, "user", "AuditEvent", permRead | permSearch},
		{"user/Observation.rs?category=laboratory", false, "", "", 0},
		{"user/Observation.sr", false, "", "", 0},
		{"user/Observation.rr", false, "", "", 0},
		{"user/Observation.x", false, "", "", 0},
		{"user/Observation.", false, "", "", 0},
		{"user/Observation", false, "", "", 0},
		{"user/.read", false, "", "", 0},
		{"user/observation.read", false, "", "", 0},
		{"user/Obs-ervation.read", false, "", "", 0},
		{"admin/*.read", false, "", "", 0},
		{"openid", false, "", "", 0},
		{"launch/patient", false, "", "", 0},
		{"offline_access", false, "", "", 0},
		{"", false, "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.scope, func(t *testing.T) {
			got, ok := ParseScope(tt.scope)
			require.Equal(t, tt.ok, ok)
			if !ok {
				return
			}
			assert.Equal(t, tt.context, got.Context)
			assert.Equal(t, tt.typ, got.ResourceType)
			assert.Equal(t, tt.wantPerm, got.perms)
			assert.Equal(t, tt.scope, got.String())
		})
	}
}

func TestParseScopes(t *testing.T) {
	got := ParseScopes("  openid fhirUser user/Patient.rs\tuser/Observation.read?x=1 system/*.c ")
	require.Len(t, got, 2)
	assert.Equal(t, "user/Patient.rs", got[0].String())
	assert.Equal(t, "system/*.c", got[1].String())
	assert.Empty(t, ParseScopes(""))
}

func TestAllowed(t *testing.T) {
	every := []Interaction{
		InteractionRead, InteractionVRead, InteractionHistoryInstance, InteractionHistoryType,
		InteractionSearchType, InteractionCreate, InteractionUpdate, InteractionPatch, InteractionDelete,
	}
	tests := []struct {
		scopes string
		typ    string
		allow  []Interaction // every other interaction of `every` is refused
	}{
		// SMART v1
		{"user/Observation.read", "Observation", []Interaction{InteractionRead, InteractionVRead, InteractionHistoryInstance, InteractionHistoryType, InteractionSearchType}},
		{"user/Observation.read", "Condition", nil},
		{"user/Observation.write", "Observation", []Interaction{InteractionCreate, InteractionUpdate, InteractionPatch, InteractionDelete}},
		{"user/*.read", "Condition", []Interaction{InteractionRead, InteractionVRead, InteractionHistoryInstance, InteractionHistoryType, InteractionSearchType}},
		{"system/*.*", "Patient", every},
		{"user/Patient.*", "Patient", every},
		// SMART v2
		{"user/Observation.c", "Observation", []Interaction{InteractionCreate}},
		{"user/Observation.r", "Observation", []Interaction{InteractionRead, InteractionVRead, InteractionHistoryInstance}},
		{"user/Observation.u", "Observation", []Interaction{InteractionUpdate, InteractionPatch}},
		{"user/Observation.d", "Observation", []Interaction{InteractionDelete}},
		{"user/Observation.s", "Observation", []Interaction{InteractionSearchType, InteractionHistoryType}},
		{"user/Observation.rs", "Observation", []Interaction{InteractionRead, InteractionVRead, InteractionHistoryInstance, InteractionHistoryType, InteractionSearchType}},
		{"system/*.cruds", "Encounter", every},
		// combined scopes add up
		{"user/Observation.r user/*.s", "Observation", []Interaction{InteractionRead, InteractionVRead, InteractionHistoryInstance, InteractionHistoryType, InteractionSearchType}},
		{"user/Observation.r user/*.s", "Condition", []Interaction{InteractionHistoryType, InteractionSearchType}},
		// patient scopes grant nothing without a launch context
		{"patient/*.cruds", "Observation", nil},
		{"patient/*.read", "Patient", nil},
		// a restricted scope is not widened into an unrestricted one
		{"user/Observation.rs?category=laboratory", "Observation", nil},
		{"", "Observation", nil},
	}
	for _, tt := range tests {
		t.Run(tt.scopes+" on "+tt.typ, func(t *testing.T) {
			c := &Caller{Scopes: ParseScopes(tt.scopes)}
			for _, in := range every {
				want := false
				for _, a := range tt.allow {
					want = want || a == in
				}
				assert.Equal(t, want, c.Allowed(tt.typ, in), "%s", in)
			}
		})
	}
}

func TestAllowedWholeSystem(t *testing.T) {
	tests := []struct {
		scopes   string
		in       Interaction
		typ      string
		want     bool
		wantDesc string
	}{
		{"user/*.rs", InteractionSearchSystem, "", true, "wildcard search covers a search of every type"},
		{"user/*.read", InteractionHistorySystem, "*", true, "v1 read covers system history"},
		{"user/*.r", InteractionHistorySystem, "", false, "v2 r is instance history only"},
		{"user/Observation.rs user/Patient.rs", InteractionSearchSystem, "", false, "per-type scopes do not cover every type"},
		{"user/Observation.rs user/Patient.rs", InteractionSearchSystem, "Patient", true, "but do cover a _type they name"},
		{"user/Observation.rs", InteractionBatch, "", true, "a batch needs some scope; its entries are checked one by one"},
		{"user/Observation.c", InteractionTransaction, "", true, "so does a transaction"},
		{"patient/*.cruds", InteractionBatch, "", false, "patient scopes are not honoured"},
		{"", InteractionTransaction, "", false, "no scope, no bundle"},
		{"system/*.cruds", Interaction("operation"), "Patient", false, "unknown interactions are refused"},
	}
	for _, tt := range tests {
		t.Run(tt.wantDesc, func(t *testing.T) {
			c := &Caller{Scopes: ParseScopes(tt.scopes)}
			assert.Equal(t, tt.want, c.Allowed(tt.typ, tt.in))
		})
	}
}

func TestScopedTypes(t *testing.T) {
	tests := []struct {
		scopes    string
		in        Interaction
		wantTypes []string
		wantAll   bool
	}{
		{"user/Patient.rs user/Observation.read user/Patient.s user/Condition.c", InteractionSearchSystem, []string{"Observation", "Patient"}, false},
		{"user/Patient.rs user/*.s", InteractionSearchType, nil, true},
		{"user/*.r", InteractionSearchType, nil, false},
		{"patient/Observation.rs", InteractionSearchType, nil, false},
		{"system/*.cruds", Interaction("operation"), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.scopes, func(t *testing.T) {
			c := &Caller{Scopes: ParseScopes(tt.scopes)}
			types, all := c.ScopedTypes(tt.in)
			assert.Equal(t, tt.wantTypes, types)
			assert.Equal(t, tt.wantAll, all)
		})
	}
}

func TestInsufficientScope(t *testing.T) {
	err := InsufficientScope("Observation", InteractionDelete)
	assert.Equal(t, fhir.KindForbidden, err.Kind)
	assert.Equal(t, "the token's scopes do not permit delete on Observation", err.Error())
	assert.Equal(t, "the token's scopes do not permit search-system on all resource types", InsufficientScope("", InteractionSearchSystem).Error())
}
