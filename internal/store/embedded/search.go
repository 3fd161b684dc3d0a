package embedded

import (
	"context"
	"database/sql"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/search"
	"github.com/sharedcare/sharedcare/internal/store"
	"github.com/sharedcare/sharedcare/internal/store/sqlsearch"
)

// querier runs the statements of package sqlsearch on the read-only pool,
// so that searches run in parallel with each other and with the writer.
type querier struct{ db *sql.DB }

func (q querier) Query(ctx context.Context, query string, args ...any) (sqlsearch.Rows, error) {
	rows, err := q.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

// sqlRows adapts *sql.Rows to sqlsearch.Rows, whose Close returns
// nothing: what goes wrong while reading shows in Err.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

// Search returns one page of the resources that match q (see sqlsearch.Search).
func (s *Store) Search(ctx context.Context, q *search.Query) (store.SearchPage, error) {
	return sqlsearch.Search(ctx, querier{s.r}, sqlsearch.SQLite, q, sqlsearch.Options{})
}

// Match returns up to limit resources that match q, without their bodies.
func (s *Store) Match(ctx context.Context, q *search.Query, limit int) ([]fhir.Resource, error) {
	return sqlsearch.Match(ctx, querier{s.r}, sqlsearch.SQLite, q, sqlsearch.Options{}, limit)
}
