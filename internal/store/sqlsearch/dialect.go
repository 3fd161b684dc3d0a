// Package sqlsearch turns a search.Query into SQL over the resources table
// and the search index tables, and runs it: the page of matches in
// keyset order, the total, and the includes. The Postgres and embedded
// (SQLite) stores share it; what differs between their SQL is behind the
// small Dialect interface, and what differs between their drivers behind
// Querier.
//
// # Access control
//
// Every resources row a search reads (the matches, the targets of chains,
// the sources of _has, included resources, and the rows counted for the
// total) passes through one predicate, builder.live, which today excludes
// deleted resources and adds Options.Restrict when it is set. That is the
// place where the caller's visibility (a store.Visibility turned into SQL)
// constrains every search.
package sqlsearch

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kind is the SQL type of a sort key or an argument that is passed as text.
type Kind int

// The kinds of sort key.
const (
	KindText Kind = iota
	KindTime
	KindNumber
)

// Dialect is what the SQL of one database does its own way.
type Dialect interface {
	// Placeholder returns the marker of the nth argument, counted from 1.
	// It must name the argument by number ($n in Postgres, ?n in SQLite):
	// the builder uses a marker more than once and not always in the order
	// of the arguments.
	Placeholder(n int) string
	// Bool returns the literal for a boolean (resources.deleted).
	Bool(v bool) string
	// Time converts a time to the form last_updated and idx_date hold.
	Time(t time.Time) any
	// Number converts a decimal to the form the numeric columns compare
	// with, and Cast gives the placeholder's SQL type.
	Number(decimal string) (any, error)
	// Cast returns placeholder p read as kind k: sort keys go into page
	// tokens as text and come back through Cast.
	Cast(p string, k Kind) string
	// Text returns the expression expr, of kind k, as text that Cast reads
	// back to the same value.
	Text(expr string, k Kind) string
	// StartsWith returns a predicate that the text expression col begins
	// with prefix, binding its arguments with arg. It is case-sensitive
	// and should use an index on col.
	StartsWith(col, prefix string, arg func(any) string) string
	// ScanTime reads a last_updated value as the driver scanned it into an
	// any.
	ScanTime(v any) (time.Time, error)
	// IndexRows returns the FROM item of the index table read as alias
	// for the rows of one resource, found by res_type and res_id.
	IndexRows(table, alias string) string
	// Lead reports whether the database's planner needs the SQL to say
	// which filter a search starts from. When it does, the builder writes
	// the filter likely to match the fewest resources as an uncorrelated
	// IN, and the others as EXISTS subqueries correlated with the
	// resources row; when it does not, every filter is an EXISTS and the
	// planner orders them.
	Lead() bool
}

// Postgres is the dialect of PostgreSQL (through pgx).
var Postgres Dialect = postgres{}

type postgres struct{}

func (postgres) Placeholder(n int) string { return "$" + strconv.Itoa(n) }

func (postgres) Bool(v bool) string { return strconv.FormatBool(v) }

func (postgres) Time(t time.Time) any { return t.UTC() }

func (postgres) Number(decimal string) (any, error) { return decimal, nil }

func (postgres) Cast(p string, k Kind) string {
	switch k {
	case KindTime:
		return p + "::timestamptz"
	case KindNumber:
		return p + "::numeric"
	}
	return p + "::text"
}

func (postgres) Text(expr string, k Kind) string {
	if k == KindText {
		return expr
	}
	return "(" + expr + ")::text"
}

// StartsWith uses LIKE with a pattern that has no wildcard but the final
// %, which the text_pattern_ops indexes of the schema serve.
func (postgres) StartsWith(col, prefix string, arg func(any) string) string {
	return col + " LIKE " + arg(likeEscape(prefix)+"%") + ` ESCAPE '\'`
}

func (postgres) IndexRows(table, alias string) string { return table + " " + alias }

// Lead is false: Postgres turns each EXISTS into a semi-join and chooses
// which side drives it from its statistics.
func (postgres) Lead() bool { return false }

func (postgres) ScanTime(v any) (time.Time, error) {
	t, ok := v.(time.Time)
	if !ok {
		return time.Time{}, fmt.Errorf("sqlsearch: last_updated scanned as %T", v)
	}
	return t.UTC(), nil
}

// likeEscape escapes the LIKE wildcards of s with backslashes.
func likeEscape(s string) string {
	if !strings.ContainsAny(s, `%_\`) {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// ComponentParam is the param column of the index rows that hold part i of
// the composite parameter code. The parts of one composite value share
// the grp column, so that a search matches parts of the same value.
func ComponentParam(code string, i int) string {
	return code + "$" + strconv.Itoa(i)
}
