package sqlsearch

import (
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sharedcare/sharedcare/internal/search"
	"github.com/sharedcare/sharedcare/internal/searchparam"
	"github.com/sharedcare/sharedcare/internal/store"
)

// Options are what a store adds to every search it runs.
type Options struct {
	// Restrict, when set, returns a predicate that a resources row (named
	// alias) must satisfy to be seen, binding its arguments with arg, or ""
	// for none. types are the resource types the statement already
	// confines the row to (nil: any type), so that the predicate can leave
	// out what cannot apply to them. It is applied to every resources row
	// a search reads; see the package documentation.
	Restrict func(alias string, types []string, arg func(any) string) string
}

// tables are the index tables of the parameter types.
var tables = map[searchparam.Type]string{
	searchparam.TypeString:    "idx_string",
	searchparam.TypeToken:     "idx_token",
	searchparam.TypeDate:      "idx_date",
	searchparam.TypeNumber:    "idx_number",
	searchparam.TypeQuantity:  "idx_quantity",
	searchparam.TypeReference: "idx_reference",
	searchparam.TypeURI:       "idx_uri",
}

// builder writes the SQL of one statement and collects its arguments.
type builder struct {
	d       Dialect
	o       Options
	base    string
	args    []any
	aliases int
	err     error // the first value the dialect could not convert
}

func newBuilder(d Dialect, o Options, q *search.Query) *builder {
	return &builder{d: d, o: o, base: strings.TrimSuffix(q.Base, "/")}
}

// arg binds v and returns its placeholder.
func (b *builder) arg(v any) string {
	b.args = append(b.args, v)
	return b.d.Placeholder(len(b.args))
}

// name returns v, a resource type or a parameter's code, written into the
// statement as a literal, or bound as an argument if it has a character
// outside the vocabulary of names. These come from the definitions, not
// from the caller, and are few; written as literals they let the planner
// use a partial index whose predicate names them (idx_token_nhs_number)
// in the one generic plan of a prepared statement (a unique lookup), where
// an argument's value is unknown when the plan is made.
func (b *builder) name(v string) string {
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_-.:/", c)) {
			return b.arg(v)
		}
	}
	return "'" + v + "'"
}

// indexedSystems are the identifier systems a partial index names: a
// search by one writes it as a literal (see name).
var indexedSystems = map[string]bool{
	store.NHSNumberSystem: true, // idx_token_nhs_number
}

func (b *builder) time(t time.Time) string { return b.arg(b.d.Time(t)) }

func (b *builder) number(decimal string) string {
	v, err := b.d.Number(decimal)
	if err != nil && b.err == nil {
		b.err = err
	}
	return b.d.Cast(b.arg(v), KindNumber)
}

// alias returns a table alias not used before in the statement.
func (b *builder) alias(prefix string) string {
	b.aliases++
	return prefix + strconv.Itoa(b.aliases)
}

// live is the predicate every resources row a search reads must pass: not
// deleted, and visible to the caller (Options.Restrict). It is the one
// place where access control constrains searches.
//
// types are the resource types the statement confines the row to, by a
// condition of its own (nil: any type). They must never be fewer than
// those the row can be: the restriction is simplified for them.
func (b *builder) live(alias string, types []string) string {
	s := alias + ".deleted = " + b.d.Bool(false)
	if b.o.Restrict != nil {
		if r := b.o.Restrict(alias, types, b.arg); r != "" {
			s += " AND (" + r + ")"
		}
	}
	return s
}

// in returns col = v, or col IN (...) for several values, bound as
// arguments.
func (b *builder) in(col string, values []string) string {
	return b.inWith(col, values, func(v string) string { return b.arg(v) })
}

// inNames is in of names (see name).
func (b *builder) inNames(col string, values []string) string {
	return b.inWith(col, values, b.name)
}

func (b *builder) inWith(col string, values []string, bind func(string) string) string {
	if len(values) == 1 {
		return col + " = " + bind(values[0])
	}
	ps := make([]string, len(values))
	for i, v := range values {
		ps[i] = bind(v)
	}
	return col + " IN (" + strings.Join(ps, ", ") + ")"
}

// of joins the index rows x to the resources row r.
func of(x, r string) string {
	return x + ".res_type = " + r + ".type AND " + x + ".res_id = " + r + ".id"
}

func or(conds []string) string {
	if len(conds) == 1 {
		return conds[0]
	}
	return "(" + strings.Join(conds, " OR ") + ")"
}

// local is the predicate that the reference row x points at this server:
// a relative reference, or an absolute one under the base URL.
func (b *builder) local(x string) string {
	if b.base == "" {
		return x + ".url = ''"
	}
	return "(" + x + ".url = '' OR " + b.d.StartsWith(x+".url", b.base+"/", b.arg) + ")"
}

// isLocal reports whether an absolute URL points at this server.
func (b *builder) isLocal(url string) bool {
	return b.base != "" && strings.HasPrefix(url, b.base+"/")
}

// where returns the conditions a resources row r must meet to match q.
func (b *builder) where(q *search.Query, r string) string {
	conds := []string{b.live(r, q.Types)}
	if len(q.Types) > 0 {
		conds = append(conds, b.inNames(r+".type", q.Types))
	}
	lead := b.lead(q)
	if c := q.Compartment; c != nil {
		conds = append(conds, b.compartment(c, r, q.Types, lead == leadCompartment))
	}
	for i := range q.Filters {
		conds = append(conds, b.filter(&q.Filters[i], r, q.Types, lead == i))
	}
	return strings.Join(conds, " AND ")
}

// What lead returns besides the index of a filter.
const (
	leadNone        = -1
	leadCompartment = -2
)

// lead chooses where a search of q starts, for a dialect whose planner
// does not choose it (Dialect.Lead): from the compartment, or from the
// filter likely to match the fewest resources (see leadRank), or, when
// none can lead or _id already does, from the resources table itself.
func (b *builder) lead(q *search.Query) int {
	if !b.d.Lead() || len(q.Types) == 0 {
		return leadNone
	}
	if c := q.Compartment; c != nil && len(c.Params) > 0 && !slices.Contains(q.Types, c.Type) {
		return leadCompartment
	}
	best, bestRank := leadNone, 0
	for i := range q.Filters {
		f := &q.Filters[i]
		if f.Param != nil && f.Param.Code == "_id" && f.Modifier != search.ModNot {
			return leadNone
		}
		if rank := b.leadRank(f); rank >= 0 && (best == leadNone || rank < bestRank) {
			best, bestRank = i, rank
		}
	}
	return best
}

// leadRank ranks a filter by how few resources it usually matches, from 0
// (a reference or a chain, in practice to one patient) to 3 (a range of
// dates or numbers, or text matched anywhere), or returns -1 when it cannot
// lead: it is not a subquery of index rows (_id, _lastUpdated, _list, a
// composite of several values), it is negated (:not, :missing), or it
// reads no index (a foreign reference, matched by its URL).
func (b *builder) leadRank(f *search.Filter) int {
	if f.Has != nil {
		return 2
	}
	p := f.Param
	if f.Modifier == search.ModMissing || f.Modifier == search.ModNot {
		return -1
	}
	switch p.Code {
	case "_id", "_lastUpdated", search.ListParam.Code:
		return -1
	}
	if f.Chain != nil {
		return 0
	}
	switch p.Type {
	case searchparam.TypeReference:
		if f.Modifier == search.ModIdentifier {
			return 0
		}
		for _, v := range f.Values {
			if r := v.Reference; r.URL != "" && !(r.ID != "" && b.isLocal(r.URL)) {
				return -1
			}
		}
		return 0
	case searchparam.TypeToken:
		if f.Modifier == search.ModText {
			return 3
		}
		return 1
	case searchparam.TypeString:
		switch f.Modifier {
		case search.ModExact:
			return 1
		case search.ModContains:
			return 3
		}
		return 2
	case searchparam.TypeURI:
		if f.Modifier == search.ModBelow {
			return 2
		}
		return 1
	case searchparam.TypeComposite:
		if len(f.Values) > 1 {
			return -1
		}
		return 2
	}
	return 3
}

// leadsAlone reports whether f, the one filter of a chain's or _has's
// subquery over resources of types, is where that subquery starts.
func (b *builder) leadsAlone(f *search.Filter, types []string) bool {
	return b.d.Lead() && len(types) > 0 && b.leadRank(f) >= 0
}

// semi returns the condition that the resources row r, which the caller
// has already constrained to be of one of types, has a row in the subquery
// over index tables "FROM table x joins WHERE where".
//
// It is an EXISTS correlated with r, which Postgres turns into a semi-join
// driven by whichever side is more selective, and which SQLite runs for
// each row r (reading table by resource, Dialect.IndexRows). For the filter
// a search leads with (see lead), it is instead r IN the uncorrelated
// subquery over the index rows of types (see rowIn), which SQLite reads
// first and then looks up the resources it names.
func (b *builder) semi(r, table, x, joins, where string, types []string, lead bool) string {
	if !lead {
		return "EXISTS (SELECT 1 FROM " + b.d.IndexRows(table, x) + joins + " WHERE " + of(x, r) + " AND " + where + ")"
	}
	return b.rowIn(r, types, true, branch{x + ".res_type", x + ".res_id",
		" FROM " + table + " " + x + joins + " WHERE " + b.inNames(x+".res_type", types) + " AND " + where})
}

// compartment matches the resources in a patient's compartment: those
// whose compartment parameters point at the patient, and, in a search of
// Patients, the patient itself. lead is set when the search starts from
// it (see where).
func (b *builder) compartment(c *search.Compartment, r string, types []string, lead bool) string {
	var ors []string
	if len(c.Params) > 0 {
		x := b.alias("c")
		where := fmt.Sprintf("%s AND %s.target_type = %s AND %s.target_id = %s AND %s",
			b.inNames(x+".param", c.Params), x, b.name(c.Type), x, b.arg(c.ID), b.local(x))
		ors = append(ors, b.semi(r, "idx_reference", x, "", where, types, lead))
	}
	if slices.Contains(types, c.Type) {
		ors = append(ors, "("+r+".type = "+b.name(c.Type)+" AND "+r+".id = "+b.arg(c.ID)+")")
	}
	if len(ors) == 0 {
		return b.d.Bool(false)
	}
	return or(ors)
}

// filter returns the condition of one filter on the resources row r, of
// one of types (any type when empty). lead is set when the search starts
// from it (see where).
//
// A filter on one index table is a correlated EXISTS (see semi), which
// the planner turns into a semi-join driven by whichever side is more
// selective. A filter that matches in two ways (a chain, _has and
// :identifier follow literal and logical references) is instead a row IN
// the UNION ALL of both, because an OR of two EXISTS cannot become a join
// and would be evaluated for every row of the type.
func (b *builder) filter(f *search.Filter, r string, types []string, lead bool) string {
	if f.Has != nil {
		return b.has(f.Has, r, types, lead)
	}
	p := f.Param
	switch p.Code {
	case "_id":
		return b.id(f, r)
	case "_lastUpdated":
		return b.lastUpdated(f, r)
	case search.ListParam.Code:
		return b.list(f, r)
	}
	if f.Modifier == search.ModMissing {
		table, code := tables[p.Type], p.Code
		if p.Type == searchparam.TypeComposite {
			table, code = tables[p.Components[0].Type], ComponentParam(p.Code, 0)
		}
		x := b.alias("x")
		e := b.semi(r, table, x, "", x+".param = "+b.name(code), types, false)
		if f.Missing {
			return "NOT " + e
		}
		return e
	}
	if f.Chain != nil {
		return b.chain(f, r, types, lead)
	}
	if p.Type == searchparam.TypeReference && f.Modifier == search.ModIdentifier {
		return b.identifier(f, r, types, lead)
	}
	if p.Type == searchparam.TypeComposite {
		return b.composite(f, r, types, lead)
	}
	x := b.alias("x")
	conds := make([]string, len(f.Values))
	for i, v := range f.Values {
		conds[i] = b.value(p.Type, f, v, x)
	}
	e := b.semi(r, tables[p.Type], x, "", x+".param = "+b.name(p.Code)+" AND "+or(conds), types, lead)
	if f.Modifier == search.ModNot {
		return "NOT " + e
	}
	return e
}

// value returns the condition that the index row x of type t matches v.
func (b *builder) value(t searchparam.Type, f *search.Filter, v search.Value, x string) string {
	switch t {
	case searchparam.TypeString:
		return b.str(f.Modifier, v.String, x)
	case searchparam.TypeToken:
		if f.Modifier == search.ModText {
			s := strings.ToLower(v.String)
			return "(" + b.d.StartsWith("lower("+x+".display)", s, b.arg) + " OR " + b.d.StartsWith("lower("+x+".text)", s, b.arg) + ")"
		}
		cond := b.token(x+".system", x+".code", v.Token)
		if f.Modifier == search.ModOfType {
			cond += " AND " + x + ".type_system = " + b.arg(v.Token.TypeSystem) + " AND " + x + ".type_code = " + b.arg(v.Token.TypeCode)
		}
		return cond
	case searchparam.TypeDate:
		return b.date(x+".lo", x+".hi", v)
	case searchparam.TypeNumber:
		return b.num(x, v)
	case searchparam.TypeQuantity:
		conds := []string{b.num(x, v)}
		if u := v.Unit; u.HasSystem {
			conds = append(conds, x+".system = "+b.arg(u.System))
		}
		if u := v.Unit; u.Code != "" {
			if u.HasSystem {
				conds = append(conds, x+".code = "+b.arg(u.Code))
			} else {
				c := b.arg(u.Code)
				conds = append(conds, "("+x+".code = "+c+" OR "+x+".unit = "+c+")")
			}
		}
		return strings.Join(conds, " AND ")
	case searchparam.TypeReference:
		return b.reference(f, v, x)
	case searchparam.TypeURI:
		return b.uri(f.Modifier, v.String, x)
	}
	return b.d.Bool(false)
}

func (b *builder) str(mod search.Modifier, s, x string) string {
	switch mod {
	case search.ModExact:
		return x + ".value = " + b.arg(s)
	case search.ModContains:
		return x + ".norm LIKE " + b.arg("%"+likeEscape(searchparam.Normalize(s))+"%") + ` ESCAPE '\'`
	}
	return b.d.StartsWith(x+".norm", searchparam.Normalize(s), b.arg)
}

// token matches [system|]code against the columns sys and code.
func (b *builder) token(sys, code string, t search.Token) string {
	var conds []string
	if t.HasSystem {
		if indexedSystems[t.System] {
			conds = append(conds, sys+" = "+b.name(t.System))
		} else {
			conds = append(conds, sys+" = "+b.arg(t.System))
		}
	}
	if t.Code != "" || !t.HasSystem {
		conds = append(conds, code+" = "+b.arg(t.Code))
	}
	return strings.Join(conds, " AND ")
}

// date matches the range [lo, hi) of index rows against a search value:
// the row's range and the search value's range are compared, as the
// specification describes for each prefix. ap widens the search range by
// a tenth of the time between it and now on each side. Like every prefix,
// ne applies to each value: a resource with several matches when one of
// them lies outside the search range.
func (b *builder) date(lo, hi string, v search.Value) string {
	sl, sh := v.Date.Low, v.Date.High
	switch v.Prefix {
	case search.Ne:
		return "NOT (" + lo + " >= " + b.time(sl) + " AND " + hi + " <= " + b.time(sh) + ")"
	case search.Gt:
		return hi + " > " + b.time(sh)
	case search.Lt:
		return lo + " < " + b.time(sl)
	case search.Ge: // gt or eq
		return "(" + hi + " > " + b.time(sh) + " OR " + lo + " >= " + b.time(sl) + ")"
	case search.Le: // lt or eq
		return "(" + lo + " < " + b.time(sl) + " OR " + hi + " <= " + b.time(sh) + ")"
	case search.Sa:
		return lo + " >= " + b.time(sh)
	case search.Eb:
		return hi + " <= " + b.time(sl)
	case search.Ap:
		sl, sh = approximately(sl, sh)
		return lo + " < " + b.time(sh) + " AND " + hi + " > " + b.time(sl)
	}
	return lo + " >= " + b.time(sl) + " AND " + hi + " <= " + b.time(sh)
}

// now is the clock ap compares with; tests may stop it.
var now = time.Now

// approximately widens [low, high) by a tenth of the distance between the
// search value and now on each side, as the specification recommends.
func approximately(low, high time.Time) (time.Time, time.Time) {
	d := now().Sub(low)
	if d < 0 {
		d = -d
	}
	d /= 10
	return low.Add(-d), high.Add(d)
}

// pointDate matches a single instant (resources.last_updated) against a
// search value: the instant t stands for the range [t, t].
func (b *builder) pointDate(t string, v search.Value) string {
	sl, sh := v.Date.Low, v.Date.High
	switch v.Prefix {
	case search.Ne:
		return "NOT (" + t + " >= " + b.time(sl) + " AND " + t + " < " + b.time(sh) + ")"
	case search.Gt, search.Sa:
		return t + " >= " + b.time(sh)
	case search.Lt, search.Eb:
		return t + " < " + b.time(sl)
	case search.Ge:
		return t + " >= " + b.time(sl)
	case search.Le:
		return t + " < " + b.time(sh)
	case search.Ap:
		sl, sh = approximately(sl, sh)
	}
	return t + " >= " + b.time(sl) + " AND " + t + " < " + b.time(sh)
}

// num matches the number or quantity index row x (value, or a Range from lo
// to hi with value NULL) against a search number. eq and ne use the range
// the search value's precision implies; the other prefixes compare with the
// value as written. ap accepts values within 10% of it.
func (b *builder) num(x string, v search.Value) string {
	val, lo, hi := x+".value", x+".lo", x+".hi"
	n := v.Number
	rangeRow := val + " IS NULL AND "
	switch v.Prefix {
	case search.Ne:
		l, h := b.number(n.Low), b.number(n.High)
		return "(" + val + " < " + l + " OR " + val + " >= " + h + " OR " + rangeRow +
			"(" + lo + " IS NULL OR " + hi + " IS NULL OR " + lo + " < " + l + " OR " + hi + " > " + h + "))"
	case search.Gt:
		p := b.number(n.Value)
		return "(" + val + " > " + p + " OR " + rangeRow + "(" + hi + " IS NULL OR " + hi + " > " + p + "))"
	case search.Lt:
		p := b.number(n.Value)
		return "(" + val + " < " + p + " OR " + rangeRow + "(" + lo + " IS NULL OR " + lo + " < " + p + "))"
	case search.Ge:
		p := b.number(n.Value)
		return "(" + val + " >= " + p + " OR " + rangeRow + "(" + hi + " IS NULL OR " + hi + " >= " + p + "))"
	case search.Le:
		p := b.number(n.Value)
		return "(" + val + " <= " + p + " OR " + rangeRow + "(" + lo + " IS NULL OR " + lo + " <= " + p + "))"
	case search.Sa:
		p := b.number(n.Value)
		return "(" + val + " > " + p + " OR " + rangeRow + lo + " > " + p + ")"
	case search.Eb:
		p := b.number(n.Value)
		return "(" + val + " < " + p + " OR " + rangeRow + hi + " < " + p + ")"
	case search.Ap:
		l, h := approximateNumber(n)
		pl, ph := b.number(l), b.number(h)
		return "(" + val + " >= " + pl + " AND " + val + " <= " + ph + " OR " + rangeRow +
			"(" + lo + " IS NULL OR " + lo + " <= " + ph + ") AND (" + hi + " IS NULL OR " + hi + " >= " + pl + "))"
	}
	l, h := b.number(n.Low), b.number(n.High)
	return "(" + val + " >= " + l + " AND " + val + " < " + h + " OR " + rangeRow + lo + " >= " + l + " AND " + hi + " <= " + h + ")"
}

// approximateNumber returns the bounds of ap: the value plus or minus 10%
// of it, and at least the range its precision implies.
func approximateNumber(n search.Number) (low, high string) {
	v, _ := new(big.Rat).SetString(n.Value)
	pl, _ := new(big.Rat).SetString(n.Low)
	d := new(big.Rat).Abs(v)
	d.Quo(d, big.NewRat(10, 1))
	if prec := new(big.Rat).Sub(v, pl); prec.Cmp(d) > 0 {
		d = prec
	}
	return new(big.Rat).Sub(v, d).FloatString(10), new(big.Rat).Add(v, d).FloatString(10)
}

func (b *builder) reference(f *search.Filter, v search.Value, x string) string {
	r := v.Reference
	if r.URL != "" && !(r.ID != "" && b.isLocal(r.URL)) {
		return x + ".url = " + b.arg(r.URL)
	}
	conds := []string{x + ".target_id = " + b.arg(r.ID)}
	if r.Type != "" {
		conds = append(conds, x+".target_type = "+b.arg(r.Type))
	}
	return strings.Join(append(conds, b.local(x)), " AND ")
}

func (b *builder) uri(mod search.Modifier, s, x string) string {
	switch mod {
	case search.ModBelow:
		return b.d.StartsWith(x+".value", s, b.arg)
	case search.ModAbove:
		return b.in(x+".value", uriAncestors(s))
	}
	return x + ".value = " + b.arg(s)
}

// uriAncestors returns s and every URI above it: s cut at each '/' of its
// path, with and without the slash.
func uriAncestors(s string) []string {
	out := []string{s}
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + 3
	}
	for i := len(s) - 1; i > start; i-- {
		if s[i] == '/' {
			if i+1 < len(s) {
				out = append(out, s[:i+1])
			}
			out = append(out, s[:i])
		}
	}
	return out
}

// composite matches the parts of one composite value: the index rows of
// the parts share grp. lead is set when the search starts from it (see
// where), which it only does with a single value.
func (b *builder) composite(f *search.Filter, r string, types []string, lead bool) string {
	comps := f.Param.Components
	ors := make([]string, len(f.Values))
	for n, v := range f.Values {
		first := b.alias("c")
		var joins, conds []string
		conds = append(conds, first+".param = "+b.name(ComponentParam(f.Param.Code, 0)),
			b.value(comps[0].Type, &search.Filter{}, v.Components[0], first))
		for i := 1; i < len(comps); i++ {
			c := b.alias("c")
			joins = append(joins, " JOIN "+b.d.IndexRows(tables[comps[i].Type], c)+" ON "+c+".res_type = "+first+".res_type AND "+
				c+".res_id = "+first+".res_id AND "+c+".grp = "+first+".grp AND "+c+".param = "+b.name(ComponentParam(f.Param.Code, i)))
			conds = append(conds, b.value(comps[i].Type, &search.Filter{}, v.Components[i], c))
		}
		ors[n] = b.semi(r, tables[comps[0].Type], first, strings.Join(joins, ""), strings.Join(conds, " AND "), types, lead)
	}
	return or(ors)
}

// branch is one SELECT of the (type, id) pairs of resources: SELECT typ,
// id followed by rest (FROM ...).
type branch struct{ typ, id, rest string }

// rowIn is the condition that the resources row r, which the caller has
// already constrained to be of one of types, is one of the (type, id)
// pairs the branches select. When the search leads with it (see lead) and
// r is of one type, it is r.id IN the ids alone: SQLite starts from that,
// and reads the ids in order, so that a page in id order needs no sort,
// where it only probes a set of pairs.
func (b *builder) rowIn(r string, types []string, lead bool, branches ...branch) string {
	queries := make([]string, len(branches))
	if lead && len(types) == 1 {
		for i, q := range branches {
			queries[i] = "SELECT " + q.id + q.rest
		}
		return r + ".id IN (" + strings.Join(queries, " UNION ALL ") + ")"
	}
	for i, q := range branches {
		queries[i] = "SELECT " + q.typ + ", " + q.id + q.rest
	}
	return "(" + r + ".type, " + r + ".id) IN (" + strings.Join(queries, " UNION ALL ") + ")"
}

// and joins the non-empty conditions.
func and(conds ...string) string {
	kept := conds[:0]
	for _, c := range conds {
		if c != "" {
			kept = append(kept, c)
		}
	}
	return strings.Join(kept, " AND ")
}

// ofTypes is col IN types, or nothing when types is empty (any type).
func (b *builder) ofTypes(col string, types []string) string {
	if len(types) == 0 {
		return ""
	}
	return b.inNames(col, types)
}

// identifier matches :identifier: references that carry the identifier
// (logical references), and references to a resource that has it.
func (b *builder) identifier(f *search.Filter, r string, types []string, lead bool) string {
	x, y, i, t := b.alias("x"), b.alias("x"), b.alias("i"), b.alias("t")
	carried := make([]string, len(f.Values))
	held := make([]string, len(f.Values))
	for n, v := range f.Values {
		carried[n] = b.token(x+".ident_system", x+".ident_value", v.Token)
		held[n] = b.token(i+".system", i+".code", v.Token)
	}
	logical := branch{x + ".res_type", x + ".res_id", " FROM idx_reference " + x + " WHERE " +
		and(b.ofTypes(x+".res_type", types), x+".param = "+b.name(f.Param.Code), or(carried))}
	literal := branch{y + ".res_type", y + ".res_id", " FROM idx_token " + i + " JOIN resources " + t + " ON " + of(i, t) +
		" JOIN idx_reference " + y + " ON " + y + ".target_type = " + i + ".res_type AND " + y + ".target_id = " + i + ".res_id WHERE " +
		and(b.ofTypes(i+".res_type", f.Param.Targets), i+".param = "+b.name("identifier"), or(held),
			b.ofTypes(y+".res_type", types), y+".param = "+b.name(f.Param.Code), b.local(y), b.live(t, f.Param.Targets))}
	return b.rowIn(r, types, lead, logical, literal)
}

// chain matches resources whose reference parameter points at a resource
// that matches the rest of the chain: by a literal reference (Type/id), or
// by a logical one (Reference.identifier) to a resource with that
// identifier.
func (b *builder) chain(f *search.Filter, r string, types []string, lead bool) string {
	c := f.Chain
	x, t := b.alias("x"), b.alias("t")
	literal := branch{x + ".res_type", x + ".res_id", " FROM idx_reference " + x + " JOIN resources " + t +
		" ON " + t + ".type = " + x + ".target_type AND " + t + ".id = " + x + ".target_id WHERE " +
		and(b.ofTypes(x+".res_type", types), x+".param = "+b.name(f.Param.Code), b.inNames(t+".type", c.Types),
			b.local(x), b.live(t, c.Types), b.filter(&c.Filter, t, c.Types, b.leadsAlone(&c.Filter, c.Types)))}
	y, i, u := b.alias("x"), b.alias("i"), b.alias("t")
	logical := branch{y + ".res_type", y + ".res_id", " FROM idx_reference " + y + " JOIN idx_token " + i +
		" ON " + i + ".code = " + y + ".ident_value AND " + i + ".system = " + y + ".ident_system AND " + i + ".param = " + b.name("identifier") +
		" JOIN resources " + u + " ON " + u + ".type = " + i + ".res_type AND " + u + ".id = " + i + ".res_id WHERE " +
		and(b.ofTypes(y+".res_type", types), y+".param = "+b.name(f.Param.Code), y+".ident_value <> ''",
			"("+y+".target_type = '' OR "+y+".target_type = "+u+".type)", b.inNames(u+".type", c.Types),
			b.live(u, c.Types), b.filter(&c.Filter, u, c.Types, b.leadsAlone(&c.Filter, c.Types)))}
	return b.rowIn(r, types, lead, literal, logical)
}

// has matches resources that a resource of h.Type matching h.Filter
// points at through h.Param: by a literal reference, or by a logical one
// (Reference.identifier) that carries one of the resource's identifiers.
func (b *builder) has(h *search.Has, r string, types []string, lead bool) string {
	inner := []string{h.Type}
	x, s := b.alias("x"), b.alias("s")
	literal := branch{x + ".target_type", x + ".target_id", " FROM idx_reference " + x + " JOIN resources " + s +
		" ON " + s + ".type = " + x + ".res_type AND " + s + ".id = " + x + ".res_id WHERE " +
		and(x+".res_type = "+b.name(h.Type), x+".param = "+b.name(h.Param.Code), b.ofTypes(x+".target_type", types),
			x+".target_id <> ''", b.local(x), b.live(s, inner), b.filter(&h.Filter, s, inner, b.leadsAlone(&h.Filter, inner)))}
	y, u, i := b.alias("x"), b.alias("s"), b.alias("i")
	logical := branch{i + ".res_type", i + ".res_id", " FROM idx_reference " + y + " JOIN resources " + u +
		" ON " + u + ".type = " + y + ".res_type AND " + u + ".id = " + y + ".res_id JOIN idx_token " + i +
		" ON " + i + ".code = " + y + ".ident_value AND " + i + ".system = " + y + ".ident_system AND " + i + ".param = " + b.name("identifier") + " WHERE " +
		and(y+".res_type = "+b.name(h.Type), y+".param = "+b.name(h.Param.Code), y+".ident_value <> ''",
			b.ofTypes(i+".res_type", types), "("+y+".target_type = '' OR "+y+".target_type = "+i+".res_type)",
			b.live(u, inner), b.filter(&h.Filter, u, inner, b.leadsAlone(&h.Filter, inner)))}
	return b.rowIn(r, types, lead, literal, logical)
}

// id matches _id on the resources row itself.
func (b *builder) id(f *search.Filter, r string) string {
	ids := make([]string, len(f.Values))
	for i, v := range f.Values {
		ids[i] = v.Token.Code
	}
	e := b.in(r+".id", ids)
	if f.Modifier == search.ModNot {
		return "NOT (" + e + ")"
	}
	return e
}

// lastUpdated matches _lastUpdated on the resources row itself.
func (b *builder) lastUpdated(f *search.Filter, r string) string {
	conds := make([]string, len(f.Values))
	for i, v := range f.Values {
		conds[i] = "(" + b.pointDate(r+".last_updated", v) + ")"
	}
	return or(conds)
}

// list matches the resources the entries of a List point at.
func (b *builder) list(f *search.Filter, r string) string {
	ids := make([]string, len(f.Values))
	for i, v := range f.Values {
		ids[i] = v.String
	}
	x, l := b.alias("x"), b.alias("l")
	return fmt.Sprintf("EXISTS (SELECT 1 FROM idx_reference %[1]s JOIN resources %[2]s ON %[2]s.type = %[1]s.res_type AND %[2]s.id = %[1]s.res_id"+
		" WHERE %[1]s.res_type = %[3]s AND %[4]s AND %[1]s.param = %[5]s AND %[1]s.target_type = %[6]s.type AND %[1]s.target_id = %[6]s.id AND %[7]s AND %[8]s)",
		x, l, b.name("List"), b.in(x+".res_id", ids), b.name("item"), r, b.local(x), b.live(l, []string{"List"}))
}
