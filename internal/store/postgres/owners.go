package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/sharedcare/sharedcare/internal/store/sqlsearch"
)

// Owners returns the organisations that own a record of the patient,
// deleted ones included: the owner of a deleted record may still learn it
// is gone. They are the care relations with no source resource.
func (s *Store) Owners(ctx context.Context, patientID string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT org FROM care_relations WHERE patient_id = $1 AND src_type = ''`, patientID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// ConsentedPatients returns the related patients with a Consent resource
// (store.Store).
func (s *Store) ConsentedPatients(ctx context.Context, org string, limit int) ([]string, error) {
	q, args := sqlsearch.ConsentedPatients(sqlsearch.Postgres, org, limit)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
