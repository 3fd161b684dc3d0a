package sqlsearch

import (
	"context"
	"fmt"
	"slices"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/search"
	"github.com/sharedcare/sharedcare/internal/store"
)

// Querier runs a query. Each store adapts its driver to it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
}

// UniqueQuerier is a Querier that runs the statements of unique lookups
// (Statement.Unique) its own way: the Postgres store prepares them.
type UniqueQuerier interface {
	QueryUnique(ctx context.Context, sql string, args ...any) (Rows, error)
}

// query runs st on db.
func query(ctx context.Context, db Querier, st Statement) (Rows, error) {
	if u, ok := db.(UniqueQuerier); ok && st.Unique {
		return u.QueryUnique(ctx, st.SQL, st.Args...)
	}
	return db.Query(ctx, st.SQL, st.Args...)
}

// Rows is the result of a query, as pgx.Rows and *sql.Rows both provide it.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Limits of a search's work.
const (
	// cheapTotal is how many matches the default _total counts before it
	// gives up and leaves Bundle.total out: a total is given when it costs
	// no more than reading that many index entries.
	cheapTotal = 10000
	// maxIncluded bounds the resources _include and _revinclude add to one
	// page, :iterate included.
	maxIncluded = 1000
	// idBatch is how many ids one include statement looks up.
	idBatch = 500
)

// Search runs q: one page of matches in keyset order, the page tokens
// around it, the total as q.Total asks, and the includes of the page.
//
// The default _total (and estimate) is exact when it is cheap: on a first
// page that holds every match it is the page's length; otherwise the
// matches are counted up to cheapTotal, and beyond that the total is left
// out. _total=accurate always counts; _total=none never does.
func Search(ctx context.Context, db Querier, d Dialect, q *search.Query, o Options) (store.SearchPage, error) {
	o = withVisibility(q, o)
	var page store.SearchPage
	if q.CountOnly() {
		if n, withheld, ok, err := countBoth(ctx, db, d, q, o, 0); ok || err != nil {
			page.Total, page.Withheld = &n, &withheld
			return page, err
		}
		n, err := count(ctx, db, d, q, o, 0)
		page.Total = &n
		return page, err
	}
	// The first page of a unique lookup, or of a search of one patient's
	// records, most likely holds every match: read them all, each with
	// whether the caller may see it, and the page, its total and whether
	// anything was withheld come from one statement (allRead).
	attempt := q.Page == nil && o.Restrict != nil && readsOnlyMatches(q) && (uniqueLookup(q) || q.SinglePatient() != "")
	var (
		st   Statement
		keys []sortKey
		err  error
	)
	if attempt {
		st, keys, err = visiblePageStatement(d, o, q, resourceColumns, q.Count+1)
	} else {
		st, keys, err = pageStatement(d, o, q, resourceColumns, q.Count+1)
	}
	if err != nil {
		return page, err
	}
	rows, err := readRows(ctx, db, d, st, len(keys), true, attempt)
	if err != nil {
		return page, err
	}
	allRead := false
	if attempt {
		hidden := slices.ContainsFunc(rows, func(r row) bool { return !r.visible })
		switch {
		case len(rows) <= q.Count:
			// Every match was read.
			allRead = true
			rows = slices.DeleteFunc(rows, func(r row) bool { return !r.visible })
			page.Withheld = &hidden
		case hidden:
			// More matches than a page, some withheld: the visible ones
			// among the first are not the first visible ones. Page as
			// any search.
			if st, keys, err = pageStatement(d, o, q, resourceColumns, q.Count+1); err != nil {
				return page, err
			}
			if rows, err = readRows(ctx, db, d, st, len(keys), true, false); err != nil {
				return page, err
			}
		}
		// Otherwise the first Count+1 matches are all visible: they are
		// the first Count+1 visible ones, as the page statement would
		// have found them.
	}
	more := len(rows) > q.Count
	if more {
		rows = rows[:q.Count]
	}
	before := q.Page != nil && q.Page.Before
	if before {
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
	}
	if len(rows) > 0 {
		first, last := rows[0], rows[len(rows)-1]
		if more || before {
			page.Next = last.cursor(false)
		}
		if more && before || !before && q.Page != nil {
			page.Previous = first.cursor(true)
		}
	}
	for _, r := range rows {
		page.Matches = append(page.Matches, r.res)
	}
	switch {
	case q.Total == search.TotalNone:
	case allRead:
		// Every match was read: the visible ones are the total.
		n := len(rows)
		page.Total = &n
	case q.Total == search.TotalAccurate:
		n, withheld, ok, err := countBoth(ctx, db, d, q, o, 0)
		if err != nil {
			return page, err
		}
		if ok {
			page.Withheld = &withheld
		} else if n, err = count(ctx, db, d, q, o, 0); err != nil {
			return page, err
		}
		page.Total = &n
	case q.Page == nil && !more:
		n := len(rows)
		page.Total = &n
	default:
		// Counting every match, visible or not, up to the cheap bound
		// answers both the total and whether anything was withheld.
		n, withheld, ok, err := countBoth(ctx, db, d, q, o, cheapTotal+1)
		if err != nil {
			return page, err
		}
		if !ok {
			if n, err = count(ctx, db, d, q, o, cheapTotal+1); err != nil {
				return page, err
			}
		} else {
			page.Withheld = &withheld
		}
		if n <= cheapTotal {
			page.Total = &n
		}
	}
	page.Included, err = includes(ctx, db, d, q, o, page.Matches)
	return page, err
}

// Match returns up to limit resources that match q, without their bodies.
func Match(ctx context.Context, db Querier, d Dialect, q *search.Query, o Options, limit int) ([]fhir.Resource, error) {
	if limit <= 0 {
		return nil, nil
	}
	o = withVisibility(q, o)
	st, keys, err := pageStatement(d, o, q, matchColumns, limit)
	if err != nil {
		return nil, err
	}
	rows, err := readRows(ctx, db, d, st, len(keys), false, false)
	out := make([]fhir.Resource, len(rows))
	for i, r := range rows {
		out[i] = r.res
	}
	return out, err
}

// countBoth runs countBothStatement: the visible matches and whether any
// match was withheld. ok is false when q cannot be counted so (no
// restriction, a chain or _has, or more than limit matches in all, when the
// visible ones among the first limit are not the visible total).
func countBoth(ctx context.Context, db Querier, d Dialect, q *search.Query, o Options, limit int) (visible int, withheld, ok bool, err error) {
	st, ok, err := countBothStatement(d, o, q, limit)
	if !ok || err != nil {
		return 0, false, false, err
	}
	rows, err := query(ctx, db, st)
	if err != nil {
		return 0, false, false, err
	}
	defer rows.Close()
	var v, all int64
	if rows.Next() {
		if err := rows.Scan(&v, &all); err != nil {
			return 0, false, false, err
		}
	}
	if err := rows.Err(); err != nil {
		return 0, false, false, err
	}
	if limit > 0 && all >= int64(limit) {
		return 0, false, false, nil
	}
	return int(v), all > v, true, nil
}

func count(ctx context.Context, db Querier, d Dialect, q *search.Query, o Options, limit int) (int, error) {
	st, err := countStatement(d, o, q, limit)
	if err != nil {
		return 0, err
	}
	rows, err := query(ctx, db, st)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
	}
	return int(n), rows.Err()
}

// row is a resource read by a search, with its sort keys.
type row struct {
	res     fhir.Resource
	keys    []*string
	visible bool // the caller may see it (visiblePageStatement)
}

func (r row) cursor(before bool) string {
	return search.Cursor{Keys: r.keys, Type: r.res.Type, ID: r.res.ID, Before: before}.Encode()
}

// readRows runs st and reads resources (with their bodies and owners when
// full) followed by nkeys sort keys.
//
// With visible, each row's v column follows its columns (see
// visiblePageStatement).
func readRows(ctx context.Context, db Querier, d Dialect, st Statement, nkeys int, full, visible bool) ([]row, error) {
	rows, err := query(ctx, db, st)
	if err != nil {
		return nil, fmt.Errorf("sqlsearch: %w", err)
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		var r row
		var lastUpdated any
		dest := []any{&r.res.Type, &r.res.ID, &r.res.VersionID, &lastUpdated}
		if full {
			dest = append(dest, &r.res.Raw, &r.res.Owner, &r.res.PatientID)
		}
		if visible {
			dest = append(dest, &r.visible)
		}
		r.keys = make([]*string, nkeys)
		for i := range r.keys {
			dest = append(dest, &r.keys[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		if r.res.LastUpdated, err = d.ScanTime(lastUpdated); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// includes returns the resources q's _include and _revinclude add to the
// matches: first from the matches, then, for the :iterate ones, from what
// the previous round added, until a round adds nothing or maxIncluded is
// reached. A resource is returned once, and never when it is a match.
func includes(ctx context.Context, db Querier, d Dialect, q *search.Query, o Options, matches []fhir.Resource) ([]fhir.Resource, error) {
	if len(q.Include) == 0 && len(q.RevInclude) == 0 {
		return nil, nil
	}
	seen := map[string]bool{}
	for _, m := range matches {
		seen[m.Ref()] = true
	}
	var out []fhir.Resource
	from := matches
	for round := 0; len(from) > 0 && len(out) < maxIncluded; round++ {
		byType := map[string][]string{}
		var types []string
		for _, r := range from {
			if byType[r.Type] == nil {
				types = append(types, r.Type)
			}
			byType[r.Type] = append(byType[r.Type], r.ID)
		}
		var added []fhir.Resource
		run := func(st Statement, err error) error {
			if err != nil {
				return err
			}
			rows, err := readRows(ctx, db, d, st, 0, true, false)
			for _, r := range rows {
				if !seen[r.res.Ref()] && len(out)+len(added) < maxIncluded {
					seen[r.res.Ref()] = true
					added = append(added, r.res)
				}
			}
			return err
		}
		for _, inc := range q.Include {
			if round > 0 && !inc.Iterate {
				continue
			}
			for _, t := range types {
				if inc.Type != "" && inc.Type != t {
					continue
				}
				for _, ids := range batches(byType[t]) {
					if err := run(includeStatement(d, o, q, t, inc.Param, inc.Target, ids, maxIncluded)); err != nil {
						return nil, err
					}
				}
			}
		}
		for _, inc := range q.RevInclude {
			if round > 0 && !inc.Iterate {
				continue
			}
			for _, t := range types {
				if inc.Target != "" && inc.Target != t {
					continue
				}
				for _, ids := range batches(byType[t]) {
					if err := run(revIncludeStatement(d, o, q, inc.Type, inc.Param, t, ids, maxIncluded)); err != nil {
						return nil, err
					}
				}
			}
		}
		out = append(out, added...)
		from = added
	}
	return out, nil
}

// batches cuts ids into slices of at most idBatch.
func batches(ids []string) [][]string {
	var out [][]string
	for len(ids) > idBatch {
		out = append(out, ids[:idBatch])
		ids = ids[idBatch:]
	}
	return append(out, ids)
}
