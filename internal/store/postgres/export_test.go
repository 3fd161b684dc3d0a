package postgres

import (
	"context"
	"fmt"
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

func (r *recorder) QueryUnique(ctx context.Context, sql string, args ...any) (sqlsearch.Rows, error) {
	r.stmts = append(r.stmts, sqlsearch.Statement{SQL: sql, Args: args, Unique: true})
	return r.querier.QueryUnique(ctx, sql, args...)
}

// ExplainSearch runs q and returns the plan PostgreSQL chose for its page
// statement, and that statement. The plan of a unique lookup, which runs
// prepared, is the generic plan that serves all its runs.
func ExplainSearch(ctx context.Context, s *Store, q *search.Query) (plan, sql string, err error) {
	rec := &recorder{querier: querier{s.pool}}
	if _, err := sqlsearch.Search(ctx, rec, sqlsearch.Postgres, q, sqlsearch.Options{}); err != nil {
		return "", "", err
	}
	page := rec.stmts[0]
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return "", "", err
	}
	defer conn.Release()
	explain := "EXPLAIN " + page.SQL
	if page.Unique {
		if _, err := conn.Exec(ctx, "PREPARE explain_unique AS "+page.SQL); err != nil {
			return "", "", err
		}
		defer conn.Exec(context.WithoutCancel(ctx), "DEALLOCATE explain_unique; RESET plan_cache_mode")
		if _, err := conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
			return "", "", err
		}
		// EXECUTE takes its values as literals.
		values := make([]string, len(page.Args))
		for i, a := range page.Args {
			values[i] = "'" + strings.ReplaceAll(fmt.Sprint(a), "'", "''") + "'"
		}
		explain = "EXPLAIN EXECUTE explain_unique(" + strings.Join(values, ", ") + ")"
		page.Args = nil
	}
	rows, err := conn.Query(ctx, explain, page.Args...)
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

// SetInboxVacuumEvery sets how many moved records make the sealer vacuum
// audit_inbox, until the returned func restores it.
func SetInboxVacuumEvery(n int64) (restore func()) {
	old := inboxVacuumEvery
	inboxVacuumEvery = n
	return func() { inboxVacuumEvery = old }
}
