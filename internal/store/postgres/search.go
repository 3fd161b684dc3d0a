package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/search"
	"github.com/sharedcare/sharedcare/internal/store"
	"github.com/sharedcare/sharedcare/internal/store/sqlsearch"
)

// querier runs the statements of package sqlsearch on the pool.
type querier struct{ pool *pgxpool.Pool }

func (q querier) Query(ctx context.Context, sql string, args ...any) (sqlsearch.Rows, error) {
	return q.pool.Query(ctx, sql, customPlan(args)...)
}

// QueryUnique runs the statement of a unique lookup (a search by _id or
// by an identifier's system and value) prepared: its plan does not depend
// on the values, and planning it afresh, as customPlan has every other
// search planned, took three times as long as running it.
func (q querier) QueryUnique(ctx context.Context, sql string, args ...any) (sqlsearch.Rows, error) {
	return q.pool.Query(ctx, sql, args...)
}

// customPlan makes a search statement run unprepared (its description is
// still cached), so that Postgres plans each run for its values. A
// prepared statement may be switched to one generic plan after five runs,
// and for search SQL the values decide the plan (one patient's rows, or a
// code across everyone's): at 100,000 patients a generic plan took the
// clinician query from 5-14 ms to 4-13 s. Reads by id and writes keep
// their prepared statements.
func customPlan(args []any) []any {
	return append([]any{pgx.QueryExecModeCacheDescribe}, args...)
}

// Search returns one page of the resources that match q (see sqlsearch.Search).
func (s *Store) Search(ctx context.Context, q *search.Query) (store.SearchPage, error) {
	return sqlsearch.Search(ctx, querier{s.pool}, sqlsearch.Postgres, q, sqlsearch.Options{})
}

// Match returns up to limit resources that match q, without their bodies.
func (s *Store) Match(ctx context.Context, q *search.Query, limit int) ([]fhir.Resource, error) {
	return sqlsearch.Match(ctx, querier{s.pool}, sqlsearch.Postgres, q, sqlsearch.Options{}, limit)
}
