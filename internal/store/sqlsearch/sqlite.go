package sqlsearch

import (
	"fmt"
	"strconv"
	"time"
)

// SQLite is the dialect of the embedded store's SQLite schema, where times
// are integers of microseconds since the Unix epoch, numbers are REAL and
// booleans are 0 and 1.
var SQLite Dialect = sqlite{}

type sqlite struct{}

// Placeholder returns ?NNN, which SQLite binds by number like Postgres's $n.
func (sqlite) Placeholder(n int) string { return "?" + strconv.Itoa(n) }

func (sqlite) Bool(v bool) string {
	if v {
		return "1"
	}
	return "0"
}

func (sqlite) Time(t time.Time) any { return t.UnixMicro() }

// Number parses the decimal as the index does (embedded.numbers), so that
// a search value and an indexed value written the same way are the same
// REAL.
func (sqlite) Number(decimal string) (any, error) {
	f, err := strconv.ParseFloat(decimal, 64)
	if err != nil {
		return nil, fmt.Errorf("sqlsearch: number %q: %w", decimal, err)
	}
	return f, nil
}

func (sqlite) Cast(p string, k Kind) string {
	switch k {
	case KindTime:
		return "CAST(" + p + " AS INTEGER)"
	case KindNumber:
		return "CAST(" + p + " AS REAL)"
	}
	return p
}

// Text leaves the conversion to the driver: database/sql scans an INTEGER
// key into the page token's text in full and a REAL one in the fewest
// digits that read back to the same value, which Cast then does.
func (sqlite) Text(expr string, _ Kind) string { return expr }

// StartsWith compares col with the range of strings that begin with
// prefix, [prefix, the first string after all of them), which an index on
// col serves: SQLite's LIKE ignores the case of ASCII letters, and uses an
// index only with the NOCASE collation. With the BINARY collation text
// sorts as its bytes, so the range holds exactly the strings with the
// prefix.
func (sqlite) StartsWith(col, prefix string, arg func(any) string) string {
	cond := col + " >= " + arg(prefix)
	if end, ok := prefixEnd(prefix); ok {
		cond += " AND " + col + " < " + arg(end)
	}
	return cond
}

// prefixEnd returns the least string above every string that begins with
// prefix, which may not be valid UTF-8, or false when there is none (no
// byte of prefix can be raised).
func prefixEnd(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

func (sqlite) ScanTime(v any) (time.Time, error) {
	us, ok := v.(int64)
	if !ok {
		return time.Time{}, fmt.Errorf("sqlsearch: last_updated scanned as %T", v)
	}
	return time.UnixMicro(us).UTC(), nil
}

// IndexRows names the table's (res_type, res_id) index. Without it the
// planner may reach a resource's rows through the index on the value,
// which matches more of the subquery's equalities (param, code) and so
// looks more selective, and then walks every row of a common value
// (status=final) once for each resource.
func (sqlite) IndexRows(table, alias string) string {
	return table + " " + alias + " INDEXED BY " + table + "_res"
}

// Lead is true: SQLite runs an EXISTS subquery once for each row of the
// table outside it, and never starts a join from one, so a search of
// rare values would read every resource of its type. It does start from
// an uncorrelated IN subquery, which it reckons small.
func (sqlite) Lead() bool { return true }
