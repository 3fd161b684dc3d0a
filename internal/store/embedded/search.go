package embedded

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"strconv"
	"strings"

	"modernc.org/sqlite"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/search"
	"github.com/sharedcare/sharedcare/internal/store"
	"github.com/sharedcare/sharedcare/internal/store/sqlsearch"
)

// SQLite's lower() folds ASCII letters only, and the search builder uses
// it for :text, which must find "Ärztlicher Befund" by "ärzt" as Postgres
// does. Every connection the driver opens gets Go's Unicode folding in its
// place, the same folding the builder applies to the search value.
func init() {
	sqlite.MustRegisterDeterministicScalarFunction("lower", 1, lower)
}

// lower is SQL lower(x) with Unicode case folding. Like the built-in, it
// returns the lower-cased text of a value, and NULL for NULL.
func lower(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	switch v := args[0].(type) {
	case string:
		return strings.ToLower(v), nil
	case []byte:
		return strings.ToLower(string(v)), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	}
	return nil, nil
}

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
