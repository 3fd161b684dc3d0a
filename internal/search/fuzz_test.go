package search

import (
	"net/url"
	"testing"
)

// FuzzParse checks that no query, however malformed, makes Parse panic,
// and that what it accepts is a consistent Query. The seeds are in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, typ, query string, strict bool) {
		params, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		q, _, err := Parse(typ, params, strict)
		if err != nil {
			return
		}
		if q.Count < 0 || q.Count > MaxCount {
			t.Fatalf("_count %d out of range", q.Count)
		}
		if q.Page != nil && len(q.Page.Keys) != len(q.Sort) {
			t.Fatalf("cursor of %d keys for %d sort keys", len(q.Page.Keys), len(q.Sort))
		}
		for _, f := range q.Filters {
			checkFilter(t, f)
		}
	})
}

func checkFilter(t *testing.T, f Filter) {
	switch {
	case f.Has != nil:
		checkFilter(t, f.Has.Filter)
	case f.Param == nil:
		t.Fatal("a filter without a parameter")
	case f.Chain != nil:
		if len(f.Chain.Types) == 0 {
			t.Fatal("a chain to no type")
		}
		checkFilter(t, f.Chain.Filter)
	case f.Modifier == ModMissing:
	case len(f.Values) == 0:
		t.Fatalf("%s: a filter without values", f.Param.Code)
	}
	for _, v := range f.Values {
		if len(v.Components) != 0 && len(v.Components) != len(f.Param.Components) {
			t.Fatalf("%s: %d parts for %d components", f.Param.Code, len(v.Components), len(f.Param.Components))
		}
		if v.Date.High.Before(v.Date.Low) {
			t.Fatalf("%s: date range ends before it starts", f.Param.Code)
		}
	}
}
