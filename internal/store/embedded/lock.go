package embedded

import (
	"context"
	"database/sql"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/search"
	"github.com/sharedcare/sharedcare/internal/store/sqlsearch"
)

// txQuerier runs the statements of package sqlsearch in the write
// transaction, on the writer connection.
type txQuerier struct{ t *sql.Tx }

func (q txQuerier) Query(ctx context.Context, query string, args ...any) (sqlsearch.Rows, error) {
	rows, err := q.t.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

// Lock does nothing: every write transaction runs alone on the one writer
// connection and holds the database's write lock from its start, so no
// two transactions can interleave whatever their keys.
func (t *tx) Lock(context.Context, string) error { return nil }

// Match runs the query on the writer connection inside the transaction, so
// that it sees the transaction's own writes; the reader pool would not.
func (t *tx) Match(ctx context.Context, q *search.Query, limit int) ([]fhir.Resource, error) {
	return sqlsearch.Match(ctx, txQuerier{t.sqlTx}, sqlsearch.SQLite, q, sqlsearch.Options{}, limit)
}
