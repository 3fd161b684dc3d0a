package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/searchparam"
	"github.com/sharedcare/sharedcare/internal/store"
)

// testConsentedPatients: the patients with a Consent that an organisation
// has a care relationship with, through the relations versions state (by
// ODS code or through an Organization resource carrying it) or by owning a
// record; a later version's relations replace the earlier ones.
func testConsentedPatients(t *testing.T, s store.Store) {
	ctx := t.Context()
	n := 0
	write := func(typ, id, patient, owner string, raw []byte, relations ...string) {
		t.Helper()
		n++
		var index []searchparam.Value
		if raw != nil {
			var err error
			index, err = searchparam.Extract(typ, raw)
			require.NoError(t, err)
		}
		require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
			cur, ok, err := tx.Current(ctx, typ, id)
			if err != nil {
				return err
			}
			v := store.Version{Resource: fhir.Resource{Type: typ, ID: id, VersionID: 1, LastUpdated: at(n), Raw: raw,
				Deleted: raw == nil, Owner: owner, PatientID: patient}, Index: index}
			if ok {
				v.VersionID = cur.VersionID + 1
			}
			v.StatesRelations = typ == "Patient"
			v.Relations = relations
			return tx.Put(ctx, v)
		}))
	}
	consent := func(id, patient, owner string) {
		write("Consent", id, patient, owner, body("Consent", id, `"status":"active"`, `"patient":{"reference":"Patient/`+patient+`"}`))
	}
	write("Organization", "o1", "", "X", body("Organization", "o1",
		`"identifier":[{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"VM1"}]`))
	write("Patient", "pa", "pa", "GP", body("Patient", "pa"), "VM1")
	write("Patient", "pb", "pb", "GP", body("Patient", "pb"), "Organization/o1")
	write("Patient", "pc", "pc", "GP", body("Patient", "pc"), "VM1")
	write("Patient", "pd", "pd", "GP", body("Patient", "pd"))
	write("Patient", "pe", "pe", "GP", body("Patient", "pe"), "OTHER")
	consent("ca", "pa", "GP")
	consent("cb", "pb", "GP")
	consent("cd", "pd", "VM1") // owning a record of pd relates VM1 to pd
	consent("ce", "pe", "GP")

	got, err := s.ConsentedPatients(ctx, "VM1", 10)
	require.NoError(t, err)
	require.Equal(t, []string{"pa", "pb", "pd"}, got, "pc has no Consent; pe no relationship with VM1")
	got, err = s.ConsentedPatients(ctx, "VM1", 2)
	require.NoError(t, err)
	require.Equal(t, []string{"pa", "pb"}, got, "the first by id, up to the limit")

	write("Patient", "pa", "pa", "GP", body("Patient", "pa")) // the relationship ends
	write("Consent", "cb", "pb", "GP", nil)                   // the Consent is deleted
	got, err = s.ConsentedPatients(ctx, "VM1", 10)
	require.NoError(t, err)
	require.Equal(t, []string{"pd"}, got)
}
