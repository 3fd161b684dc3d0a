package postgres

import (
	"context"
	"strings"

	"github.com/sharedcare/sharedcare/internal/search"
	"github.com/sharedcare/sharedcare/internal/store/sqlsearch"
)

// recorder is a querier that remembers the statements it runs.
type recorder struct {
	querier
	stmts []sqlsearch.Statement
}

func (r *recorder) Query(ctx context.Context, sql string, args ...any) (sqlsearch.Rows, error) {
	r.stmts = append(r.stmts, sqlsearch.Statement{SQL: sql, Args: args})
	return r.querier.Query(ctx, sql, args...)
}

// ExplainSearch runs q and returns the plan PostgreSQL chose for its page
// statement, and that statement.
func ExplainSearch(ctx context.Context, s *Store, q *search.Query) (plan, sql string, err error) {
	rec := &recorder{querier: querier{s.pool}}
	if _, err := sqlsearch.Search(ctx, rec, sqlsearch.Postgres, q, sqlsearch.Options{}); err != nil {
		return "", "", err
	}
	page := rec.stmts[0]
	rows, err := s.pool.Query(ctx, "EXPLAIN "+page.SQL, page.Args...)
	if err != nil {
		return "", "", err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", "", err
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n"), page.SQL, rows.Err()
}

// Analyze updates the planner's statistics.
func Analyze(ctx context.Context, s *Store) error {
	_, err := s.pool.Exec(ctx, "ANALYZE")
	return err
}
