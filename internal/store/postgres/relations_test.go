package postgres_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/record"
	"github.com/sharedcare/sharedcare/internal/store/postgres"
	"github.com/sharedcare/sharedcare/internal/store/postgres/pgtest"
	"github.com/sharedcare/sharedcare/migrations"
)

// The care relations a write stores, and the rows migrations 000008 and
// 000009 derive in SQL for resources stored before them, are the same.
func TestCareRelationsBackfill(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	s, err := postgres.Open(ctx, url)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	records := &record.Service{Store: s}
	ods := `{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"VM123"}}`
	for _, w := range []struct{ typ, id, body string }{
		{"Patient", "p1", `{"resourceType":"Patient","generalPractitioner":[{"reference":"Organization/gp1"},{"reference":"Practitioner/x"},` + ods + `],"managingOrganization":{"reference":"Organization/m1"}}`},
		{"Patient", "p2", `{"resourceType":"Patient"}`},
		{"EpisodeOfCare", "e1", `{"resourceType":"EpisodeOfCare","status":"waitlist","patient":{"reference":"Patient/p2"},"managingOrganization":` + ods + `}`},
		{"EpisodeOfCare", "e2", `{"resourceType":"EpisodeOfCare","status":"finished","patient":{"reference":"Patient/p2"},"managingOrganization":{"reference":"Organization/old"}}`},
		{"CareTeam", "t1", `{"resourceType":"CareTeam","status":"active","subject":{"reference":"Patient/p1"},"managingOrganization":[{"reference":"Organization/m2"}],"participant":[{"member":{"reference":"Organization/member"},"onBehalfOf":` + ods + `}]}`},
		{"CareTeam", "t2", `{"resourceType":"CareTeam","status":"inactive","subject":{"reference":"Patient/p1"},"managingOrganization":[{"reference":"Organization/gone"}]}`},
		{"Condition", "c1", `{"resourceType":"Condition","subject":{"reference":"Patient/p1"}}`},
	} {
		body := strings.Replace(w.body, `"resourceType":"`+w.typ+`"`, `"resourceType":"`+w.typ+`","id":"`+w.id+`"`, 1)
		_, err := records.Update(ctx, w.typ, w.id, []byte(body), record.Options{Owner: "A81001"})
		require.NoError(t, err, "%s/%s", w.typ, w.id)
	}
	rows := func() []string {
		conn, err := pgx.Connect(ctx, url)
		require.NoError(t, err)
		defer conn.Close(ctx)
		r, err := conn.Query(ctx, `SELECT patient_id || ' ' || org || ' ' || src_type || '/' || src_id FROM care_relations ORDER BY 1`)
		require.NoError(t, err)
		out, err := pgx.CollectRows(r, pgx.RowTo[string])
		require.NoError(t, err)
		return out
	}
	written := rows()
	require.Equal(t, []string{
		"p1 A81001 /", // owning a record (migration 000009)
		"p1 Organization/gp1 Patient/p1",
		"p1 Organization/m1 Patient/p1",
		"p1 Organization/m2 CareTeam/t1",
		"p1 Organization/member CareTeam/t1",
		"p1 VM123 CareTeam/t1",
		"p1 VM123 Patient/p1",
		"p2 A81001 /",
		"p2 VM123 EpisodeOfCare/e1",
	}, written)

	up, err := fs.ReadFile(migrations.Postgres(), "000008_care_relations.up.sql")
	require.NoError(t, err)
	_, backfill, ok := strings.Cut(string(up), "-- Rows for the resources already stored.")
	require.True(t, ok)
	up9, err := fs.ReadFile(migrations.Postgres(), "000009_ownership_relations.up.sql")
	require.NoError(t, err)
	ownership, _, ok := strings.Cut(string(up9), "DROP INDEX")
	require.True(t, ok)
	require.NoError(t, pgtest.Exec(t, url, "DELETE FROM care_relations"))
	require.NoError(t, pgtest.Exec(t, url, backfill))
	require.NoError(t, pgtest.Exec(t, url, ownership))
	require.Equal(t, written, rows())
}
