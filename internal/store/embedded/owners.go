package embedded

import (
	"context"

	"github.com/sharedcare/sharedcare/internal/store/sqlsearch"
)

// Owners returns the organisations that own a record of the patient, deleted
// ones included: the owner of a deleted record may still learn it is gone.
//
// The redundant patient_id <> ” lets SQLite use the partial index on
// patient_id: it cannot prove a bound parameter non-empty by itself.
func (s *Store) Owners(ctx context.Context, patientID string) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT DISTINCT owner FROM resources WHERE patient_id = ? AND patient_id <> '' AND owner <> ''`, patientID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// ConsentedPatients returns the related patients with a Consent resource
// (store.Store).
func (s *Store) ConsentedPatients(ctx context.Context, org string, limit int) ([]string, error) {
	q, args := sqlsearch.ConsentedPatients(sqlsearch.SQLite, org, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
