package embedded

import (
	"context"

	"github.com/sharedcare/sharedcare/internal/store/sqlsearch"
)

// Owners returns the organisations that own a record of the patient,
// deleted ones included: the owner of a deleted record may still learn it
// is gone. They are the care relations with no source resource.
func (s *Store) Owners(ctx context.Context, patientID string) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT org FROM care_relations WHERE patient_id = ? AND src_type = ''`, patientID)
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
