package embedded

import (
	"context"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/search"
	"github.com/sharedcare/sharedcare/internal/store"
)

// errNoSearch answers every search until the embedded store runs the
// shared SQL builder (package sqlsearch) with a SQLite dialect.
func errNoSearch() error {
	return fhir.Errorf(fhir.KindNotAllowed, "not-supported",
		"search is not yet supported on the embedded store: run the server on PostgreSQL (SHAREDCARE_DATABASE_URL) to search")
}

// Search is not supported yet; it returns a fhir.KindNotAllowed error.
func (s *Store) Search(ctx context.Context, q *search.Query) (store.SearchPage, error) {
	return store.SearchPage{}, errNoSearch()
}

// Match is not supported yet; it returns a fhir.KindNotAllowed error.
func (s *Store) Match(ctx context.Context, q *search.Query, limit int) ([]fhir.Resource, error) {
	return nil, errNoSearch()
}
