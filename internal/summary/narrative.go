package summary

import (
	"encoding/json"
	"html"
	"sort"
	"strings"
	"time"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/fhir"
)

// rec is a resource of a summary with its JSON decoded once, and the
// source that pushed it (its record-source tag).
type rec struct {
	r      fhir.Resource
	m      map[string]any
	source string
}

// parse decodes r. A body that does not decode (which the write path never
// stores) reads as empty, so one odd record cannot break a summary.
func parse(r fhir.Resource) rec {
	out := rec{r: r}
	_ = json.Unmarshal(r.Raw, &out.m)
	if meta, ok := out.m["meta"].(map[string]any); ok {
		tags, _ := meta["tag"].([]any)
		for _, t := range tags {
			if t, ok := t.(map[string]any); ok && t["system"] == access.RecordSourceSystem {
				out.source, _ = t["code"].(string)
			}
		}
	}
	return out
}

func parseAll(rs []fhir.Resource) []rec {
	out := make([]rec, len(rs))
	for i, r := range rs {
		out[i] = parse(r)
	}
	return out
}

// get follows path through nested objects; a number in the path indexes an
// array ("0").
func get(m any, path ...string) any {
	cur := m
	for _, p := range path {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			i := 0
			for _, ch := range p {
				i = i*10 + int(ch-'0')
			}
			if i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

// str is get for a string.
func str(m any, path ...string) string {
	s, _ := get(m, path...).(string)
	return s
}

// concept is a CodeableConcept read: its label for people and the keys
// that say when two concepts are the same thing.
type concept struct {
	label string
	keys  []string
}

// snomedSystems are the code systems whose codes are SNOMED CT concept
// ids: dm+d codes are SNOMED CT identifiers, so the same medicine coded by
// a GP system as SNOMED and by a care home's MAR as dm+d is one medicine.
var snomedSystems = map[string]bool{
	"http://snomed.info/sct": true,
	"https://dmd.nhs.uk":     true,
	"http://dmd.nhs.uk":      true,
}

// codeable reads a CodeableConcept.
func codeable(v any) concept {
	var c concept
	fallback := "" // the first code, for a concept with no display or text
	cc, _ := v.(map[string]any)
	if cc == nil {
		return c
	}
	codings, _ := cc["coding"].([]any)
	for _, cd := range codings {
		system, code := str(cd, "system"), str(cd, "code")
		if code == "" {
			continue
		}
		if snomedSystems[system] {
			system = "http://snomed.info/sct"
		}
		c.keys = append(c.keys, system+"|"+code)
		if c.label == "" {
			c.label = str(cd, "display")
		}
		if fallback == "" {
			fallback = code
		}
	}
	if text := str(cc, "text"); text != "" {
		c.label = text
		if len(c.keys) == 0 {
			c.keys = append(c.keys, "text|"+strings.ToLower(strings.TrimSpace(text)))
		}
	}
	if c.label == "" {
		c.label = fallback
	}
	return c
}

// sourceLabel is how a record-source tag reads in a narrative.
func sourceLabel(code string) string {
	switch code {
	case access.RecordSourceGP:
		return "GP"
	case access.RecordSourceHospital:
		return "Hospital"
	case access.RecordSourceSocialCare:
		return "Social care"
	}
	return "Unknown source"
}

// updated is when a record was last updated, as the narrative shows it.
func updated(r rec) string {
	return r.r.LastUpdated.UTC().Format("2006-01-02 15:04") + " UTC"
}

// provenance is the "source, last updated" cell of one record.
func provenance(r rec) string {
	return sourceLabel(r.source) + " (updated " + updated(r) + ")"
}

// sourcesOf lists each source of a group once per source and resource
// type, with the latest update: the same fact pushed by several sources
// is one row that hides none of them.
func sourcesOf(rs []rec) []string {
	type key struct{ source, typ string }
	latest := map[key]rec{}
	var order []key
	for _, r := range rs {
		k := key{r.source, r.r.Type}
		prev, ok := latest[k]
		if !ok {
			order = append(order, k)
		}
		if !ok || r.r.LastUpdated.After(prev.r.LastUpdated) {
			latest[k] = r
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, sourceLabel(k.source)+": "+k.typ+" (updated "+updated(latest[k])+")")
	}
	return out
}

// fhirTime parses a FHIR dateTime, date, year-month or year; ok is false
// for anything else.
func fhirTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// period renders a Period.
func period(v any) string {
	start, end := str(v, "start"), str(v, "end")
	switch {
	case start == "" && end == "":
		return ""
	case end == "":
		return "from " + start
	case start == "":
		return "until " + end
	}
	return start + " to " + end
}

// esc escapes text for XHTML.
func esc(s string) string { return html.EscapeString(s) }

// table is a narrative table under construction.
type table struct {
	head []string
	rows [][]string
}

// row adds a row; a cell holding several lines is joined with line breaks.
func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

// lines joins items as separate lines of one cell.
func lines(items []string) string { return strings.Join(items, "\n") }

// narrative renders a section's XHTML: an optional note, then the table,
// or the empty text when there are no rows.
func narrative(t *table, empty string, withheld bool) string {
	var b strings.Builder
	b.WriteString(`<div xmlns="http://www.w3.org/1999/xhtml">`)
	switch {
	case len(t.rows) == 0 && withheld:
		b.WriteString("<p>" + SuppressedText + ".</p>")
	case len(t.rows) == 0:
		b.WriteString("<p>" + esc(empty) + "</p>")
	default:
		if withheld {
			b.WriteString("<p>" + WithheldNote + "</p>")
		}
		b.WriteString("<table><thead><tr>")
		for _, h := range t.head {
			b.WriteString("<th>" + esc(h) + "</th>")
		}
		b.WriteString("</tr></thead><tbody>")
		for _, r := range t.rows {
			b.WriteString("<tr>")
			for _, c := range r {
				b.WriteString("<td>")
				for i, l := range strings.Split(c, "\n") {
					if i > 0 {
						b.WriteString("<br/>")
					}
					b.WriteString(esc(l))
				}
				b.WriteString("</td>")
			}
			b.WriteString("</tr>")
		}
		b.WriteString("</tbody></table>")
	}
	b.WriteString("</div>")
	return b.String()
}

// group is one row of facts that share a code.
type group struct {
	label   string
	keys    map[string]bool
	members []rec
}

// grouper puts records with a common code key in one group, in the order
// the groups are first seen.
type grouper struct {
	groups []*group
	byKey  map[string]*group
}

func newGrouper() *grouper { return &grouper{byKey: map[string]*group{}} }

// find returns the group of c, nil when none has any of its keys.
func (g *grouper) find(c concept) *group {
	for _, k := range c.keys {
		if gr := g.byKey[k]; gr != nil {
			return gr
		}
	}
	return nil
}

// add puts r, coded c, in its group, making one when create is set; it
// returns the group, or nil.
func (g *grouper) add(r rec, c concept, create bool) *group {
	gr := g.find(c)
	if gr == nil {
		if !create {
			return nil
		}
		label := c.label
		if label == "" {
			label = "(not coded)"
		}
		gr = &group{label: label, keys: map[string]bool{}}
		g.groups = append(g.groups, gr)
	}
	if len(c.keys) == 0 {
		// Nothing to match on: the record is a group of its own.
		c.keys = []string{"ref|" + r.r.Ref()}
	}
	for _, k := range c.keys {
		gr.keys[k] = true
		if g.byKey[k] == nil {
			g.byKey[k] = gr
		}
	}
	gr.members = append(gr.members, r)
	return gr
}

// sortGroups orders groups by label, for a stable narrative.
func sortGroups(gs []*group) {
	sort.SliceStable(gs, func(i, j int) bool { return strings.ToLower(gs[i].label) < strings.ToLower(gs[j].label) })
}

// recsOf returns the records of groups, in order.
func recsOf(gs []*group) []rec {
	var out []rec
	for _, g := range gs {
		out = append(out, g.members...)
	}
	return out
}

// patientName is the Patient's name as a person reads it.
func patientName(p rec) string {
	name := get(p.m, "name", "0")
	if text := str(name, "text"); text != "" {
		return text
	}
	var parts []string
	given, _ := get(name, "given").([]any)
	for _, g := range given {
		if s, ok := g.(string); ok {
			parts = append(parts, s)
		}
	}
	if family := str(name, "family"); family != "" {
		parts = append(parts, family)
	}
	if len(parts) == 0 {
		return "Patient/" + p.r.ID
	}
	return strings.Join(parts, " ")
}
