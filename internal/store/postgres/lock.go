package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/search"
	"github.com/sharedcare/sharedcare/internal/store/sqlsearch"
)

// txQuerier runs the statements of package sqlsearch in a transaction.
type txQuerier struct{ t pgx.Tx }

func (q txQuerier) Query(ctx context.Context, sql string, args ...any) (sqlsearch.Rows, error) {
	return q.t.Query(ctx, sql, customPlan(args)...)
}

// Lock takes a transaction-scoped advisory lock on the hash of key. It opens
// the explicit transaction, since a lock taken by the implicit transaction
// of the final batch would come too late to order anything. A hash
// collision only makes two unrelated writers queue; it never lets two
// related ones interleave.
func (t *tx) Lock(ctx context.Context, key string) error {
	if err := t.begin(ctx); err != nil {
		return err
	}
	_, err := t.t.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, key)
	return err
}

// Match runs the query in the transaction. At READ COMMITTED each statement
// takes a fresh snapshot, so a Match after Lock sees what the previous
// holder of the lock committed; the queued writes are sent first so that
// it sees the transaction's own as well.
func (t *tx) Match(ctx context.Context, q *search.Query, limit int) ([]fhir.Resource, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	return sqlsearch.Match(ctx, txQuerier{t.t}, sqlsearch.Postgres, q, sqlsearch.Options{}, limit)
}
