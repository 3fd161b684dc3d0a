package sqlsearch

import (
	"strconv"
	"strings"

	"github.com/sharedcare/sharedcare/internal/search"
	"github.com/sharedcare/sharedcare/internal/searchparam"
)

// Statement is one SQL statement and its arguments.
type Statement struct {
	SQL  string
	Args []any
	// Unique is true when one plan serves every run of the statement:
	// it finds its matches through a key that names at most one resource
	// whatever its value (see uniqueLookup), or its query says so
	// (search.Query.PlanOnce). The Postgres store prepares it.
	Unique bool
}

func (b *builder) statement(sql string) (Statement, error) {
	return Statement{SQL: sql, Args: b.args}, b.err
}

// resourceColumns are the columns of resources a page reads, and
// matchColumns those Match reads.
const (
	resourceColumns = "type, id, version, last_updated, raw, owner, patient_id"
	matchColumns    = "type, id, version, last_updated"
)

func qualify(alias, columns string) string {
	cols := strings.Split(columns, ", ")
	for i, c := range cols {
		cols[i] = alias + "." + c
	}
	return strings.Join(cols, ", ")
}

// sortKey is one key of the order of a search, as an expression on the
// resources row.
type sortKey struct {
	expr string
	kind Kind
	desc bool
	// always is set for the columns of resources (_id, _lastUpdated),
	// which are never NULL: their order needs no NULLS clause, which
	// lets it follow an index.
	always bool
}

// sortKeys returns the keys of q.Sort on the resources row r. A parameter
// sorts by its smallest value ascending and its largest descending, so
// that a resource with several values sorts by the one nearest the top.
func (b *builder) sortKeys(q *search.Query, r string) []sortKey {
	keys := make([]sortKey, len(q.Sort))
	for i, s := range q.Sort {
		agg := "min"
		if s.Desc {
			agg = "max"
		}
		var col string
		k := sortKey{kind: KindText, desc: s.Desc}
		p := s.Param
		switch {
		case p.Code == "_id":
			k.expr, k.always = r+".id", true
		case p.Code == "_lastUpdated":
			k.expr, k.kind, k.always = r+".last_updated", KindTime, true
		case p.Type == searchparam.TypeString:
			col = "norm"
		case p.Type == searchparam.TypeToken:
			col = "code"
		case p.Type == searchparam.TypeDate:
			col, k.kind = "lo", KindTime
			if s.Desc {
				col = "hi"
			}
		case p.Type == searchparam.TypeNumber || p.Type == searchparam.TypeQuantity:
			col, k.kind = "coalesce(x.value, x.lo)", KindNumber
			if s.Desc {
				col = "coalesce(x.value, x.hi)"
			}
		case p.Type == searchparam.TypeReference:
			col = "x.target_type || '/' || x.target_id"
		default:
			col = "value"
		}
		if k.expr == "" {
			if !strings.Contains(col, ".") {
				col = "x." + col
			}
			k.expr = "(SELECT " + agg + "(" + col + ") FROM " + b.d.IndexRows(tables[p.Type], "x") + " WHERE " + of("x", r) + " AND x.param = " + b.arg(p.Code) + ")"
		}
		keys[i] = k
	}
	return keys
}

// order returns the ORDER BY of the keys on the row m: missing values
// last, then type and id, which make the order total. reverse turns it
// round, for a page that ends before a cursor.
func order(keys []sortKey, m string, reverse bool) string {
	var parts []string
	for i, k := range keys {
		desc := k.desc != reverse
		dir, nulls := "ASC", ""
		if desc {
			dir = "DESC"
		}
		switch {
		case k.always:
			nulls = ""
		case reverse:
			nulls = " NULLS FIRST"
		default:
			nulls = " NULLS LAST"
		}
		parts = append(parts, m+".k"+strconv.Itoa(i)+" "+dir+nulls)
	}
	dir := "ASC"
	if reverse {
		dir = "DESC"
	}
	return strings.Join(append(parts, m+".type "+dir, m+".id "+dir), ", ")
}

// keyset returns the condition that the row m comes after the cursor in
// the order of keys, or before it when c.Before: the condition of keyset
// pagination, expanded key by key because the keys mix directions and
// missing values.
func (b *builder) keyset(keys []sortKey, c *search.Cursor, m string) string {
	var ors []string
	var equal []string
	for i, k := range keys {
		col := m + ".k" + strconv.Itoa(i)
		v := c.Keys[i]
		var beyond string
		switch {
		case v == nil && c.Before:
			beyond = col + " IS NOT NULL" // every value comes before the missing ones
		case v == nil:
			beyond = "" // nothing but other missing values comes after a missing one
		default:
			op := ">"
			if k.desc != c.Before {
				op = "<"
			}
			beyond = col + " " + op + " " + b.d.Cast(b.arg(*v), k.kind)
			if !c.Before && !k.always {
				beyond = "(" + beyond + " OR " + col + " IS NULL)"
			}
		}
		if beyond != "" {
			ors = append(ors, strings.Join(append(append([]string{}, equal...), beyond), " AND "))
		}
		if v == nil {
			equal = append(equal, col+" IS NULL")
		} else {
			equal = append(equal, col+" = "+b.d.Cast(b.arg(*v), k.kind))
		}
	}
	op := ">"
	if c.Before {
		op = "<"
	}
	t := b.arg(c.Type)
	tie := "(" + m + ".type " + op + " " + t + " OR " + m + ".type = " + t + " AND " + m + ".id " + op + " " + b.arg(c.ID) + ")"
	ors = append(ors, strings.Join(append(equal, tie), " AND "))
	return "(" + strings.Join(ors, " OR ") + ")"
}

// pageStatement selects the next limit rows of q after (or before)
// q.Page, with the text of their sort keys after columns.
func pageStatement(d Dialect, o Options, q *search.Query, columns string, limit int) (Statement, []sortKey, error) {
	return buildPage(newBuilder(d, o, q), q, columns, nil, limit)
}

// visiblePageStatement is pageStatement of every match, the restriction
// lifted, with whether restrict lets the caller see each: the column v
// after columns, before the sort keys.
func visiblePageStatement(d Dialect, o Options, q *search.Query, columns string, limit int) (Statement, []sortKey, error) {
	restrict := o.Restrict
	o.Restrict = nil
	return buildPage(newBuilder(d, o, q), q, columns, restrict, limit)
}

func buildPage(b *builder, q *search.Query, columns string, visible func(alias string, types []string, arg func(any) string) string, limit int) (Statement, []sortKey, error) {
	keys := b.sortKeys(q, "r")
	inner := []string{qualify("r", columns)}
	outer := []string{qualify("m", columns)}
	if visible != nil {
		inner = append(inner, b.visible(visible, q)+" AS v")
		// A match the caller may not see is read for its v alone: its
		// body stays in the database.
		outer = []string{strings.Replace(outer[0], "m.raw", "CASE WHEN m.v THEN m.raw END", 1), "m.v"}
	}
	for i, k := range keys {
		name := "k" + strconv.Itoa(i)
		inner = append(inner, k.expr+" AS "+name)
		outer = append(outer, b.d.Text("m."+name, k.kind))
	}
	sql := "SELECT " + strings.Join(outer, ", ") +
		" FROM (SELECT " + strings.Join(inner, ", ") + " FROM resources r WHERE " + b.where(q, "r") + ") m"
	reverse := false
	if c := q.Page; c != nil {
		sql += " WHERE " + b.keyset(keys, c, "m")
		reverse = c.Before
	}
	sql += " ORDER BY " + order(keys, "m", reverse) + " LIMIT " + strconv.Itoa(limit)
	st, err := b.statement(sql)
	st.Unique = uniqueLookup(q) || q.PlanOnce
	return st, keys, err
}

// visible is whether restrict lets the caller see the match r of q, as a
// parenthesised SQL truth value (true when it does not restrict r).
func (b *builder) visible(restrict func(alias string, types []string, arg func(any) string) string, q *search.Query) string {
	v := restrict("r", q.Types, b.arg)
	if v == "" {
		v = b.d.Bool(true)
	}
	return "(" + v + ")"
}

// readsOnlyMatches reports whether the only resources rows q reads are its
// matches: no chain, _has, :identifier (the resource holding the
// identifier) or _list (the List), each of which reads other resources
// under the restriction too. Only then can the restriction be judged on
// the matches alone, as countBothStatement and the first page of a unique
// lookup (Search) do.
func readsOnlyMatches(q *search.Query) bool {
	for _, f := range q.Filters {
		if f.Chain != nil || f.Has != nil || f.Modifier == search.ModIdentifier || f.Param == search.ListParam {
			return false
		}
	}
	return true
}

// countBothStatement counts the matches of q as o's Restrict sees them and
// as they are without it, in one pass: the visible count and whether
// anything was withheld, for a query whose only reads of resources are its
// matches (readsOnlyMatches). With limit above 0 it stops after limit
// unrestricted matches.
func countBothStatement(d Dialect, o Options, q *search.Query, limit int) (Statement, bool, error) {
	if o.Restrict == nil || !readsOnlyMatches(q) {
		return Statement{}, false, nil
	}
	restrict := o.Restrict
	o.Restrict = nil
	b := newBuilder(d, o, q)
	visible := b.visible(restrict, q)
	where := b.where(q, "r")
	sql := "SELECT count(*) FILTER (WHERE v), count(*) FROM (SELECT " + visible + " AS v FROM resources r WHERE " + where
	if limit > 0 {
		sql += " LIMIT " + strconv.Itoa(limit)
	}
	st, err := b.statement(sql + ") c")
	st.Unique = uniqueLookup(q)
	return st, true, err
}

// countStatement counts the matches of q, stopping at limit when it is
// above 0 so that a large result costs no more than limit rows.
func countStatement(d Dialect, o Options, q *search.Query, limit int) (Statement, error) {
	b := newBuilder(d, o, q)
	where := b.where(q, "r")
	sql := "SELECT count(*) FROM resources r WHERE " + where
	if limit > 0 {
		sql = "SELECT count(*) FROM (SELECT 1 FROM resources r WHERE " + where + " LIMIT " + strconv.Itoa(limit) + ") c"
	}
	st, err := b.statement(sql)
	st.Unique = uniqueLookup(q)
	return st, err
}

// uniqueLookup reports whether q is confined by a key that names at most
// one resource of a type whatever its value: an _id, or an identifier
// with its system and value (one Patient per NHS number; identifiers are
// unique in their system). Such a statement is planned well once for all
// values, while the plan of most searches depends on them (see the
// Postgres store's Search).
func uniqueLookup(q *search.Query) bool {
	for _, f := range q.Filters {
		if f.Param == nil || f.Chain != nil || f.Has != nil || f.Modifier != search.ModNone || len(f.Values) != 1 {
			continue
		}
		t := f.Values[0].Token
		switch {
		case f.Param.Code == "_id":
			return true
		case f.Param.Code == "identifier" && f.Param.Type == searchparam.TypeToken && t.System != "" && t.Code != "":
			return true
		}
	}
	return false
}

// typesOf is the one type t, or any type (nil) when t is empty.
func typesOf(t string) []string {
	if t == "" {
		return nil
	}
	return []string{t}
}

// includeStatement selects the resources that the references of param
// (every reference parameter when empty) of the resources typ/ids point at,
// of type target when it is set.
func includeStatement(d Dialect, o Options, q *search.Query, typ, param, target string, ids []string, limit int) (Statement, error) {
	b := newBuilder(d, o, q)
	conds := []string{"x.res_type = " + b.arg(typ), b.in("x.res_id", ids)}
	if param != "" {
		conds = append(conds, "x.param = "+b.name(param))
	}
	if target != "" {
		conds = append(conds, "x.target_type = "+b.arg(target))
	}
	conds = append(conds, "x.target_id <> ''", b.local("x"))
	return b.statement("SELECT " + qualify("t", resourceColumns) + " FROM resources t JOIN (SELECT DISTINCT x.target_type, x.target_id FROM idx_reference x WHERE " +
		strings.Join(conds, " AND ") + ") x ON t.type = x.target_type AND t.id = x.target_id WHERE " + b.live("t", typesOf(target)) +
		" ORDER BY t.type, t.id LIMIT " + strconv.Itoa(limit))
}

// revIncludeStatement selects the resources of type typ whose references
// of param (every reference parameter when empty) point at target/ids.
func revIncludeStatement(d Dialect, o Options, q *search.Query, typ, param, target string, ids []string, limit int) (Statement, error) {
	b := newBuilder(d, o, q)
	conds := []string{b.in("x.target_id", ids), "x.target_type = " + b.arg(target), "x.res_type = " + b.arg(typ)}
	if param != "" {
		conds = append(conds, "x.param = "+b.name(param))
	}
	conds = append(conds, b.local("x"))
	return b.statement("SELECT " + qualify("s", resourceColumns) + " FROM resources s JOIN (SELECT DISTINCT x.res_type, x.res_id FROM idx_reference x WHERE " +
		strings.Join(conds, " AND ") + ") x ON s.type = x.res_type AND s.id = x.res_id WHERE " + b.live("s", []string{typ}) +
		" ORDER BY s.type, s.id LIMIT " + strconv.Itoa(limit))
}
