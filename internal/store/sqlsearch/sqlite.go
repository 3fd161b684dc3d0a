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

// Text leaves the conversion of numbers to the driver: database/sql writes
// an int64 in full and a float64 in the fewest digits that read back to
// the same value, where SQLite's CAST(x AS TEXT) rounds a REAL to 15
// significant digits, after which the keyset comparison of the next page
// would no longer find the row the cursor stands on.
func (sqlite) Text(expr string, _ Kind) string { return expr }

// StartsWith compares col with the range of strings that begin with
// prefix, [prefix, the first string after all of them): SQLite has no
// pattern operator class, and its LIKE uses an index only for a literal
// pattern and the NOCASE collation. With the BINARY collation text sorts
// as its bytes, so the range holds exactly the strings with the prefix.
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
