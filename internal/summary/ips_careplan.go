package summary

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sharedcare/sharedcare/internal/fhir"
)

// carePlans builds the care plans section: the active plans and any plan
// that changed in the last 30 days, each change described against the
// version before it, so that staff see at a glance whether a regimen
// changed and how.
func (b *book) carePlans(ctx context.Context, src Source, active, changed Found) (*section, error) {
	s := newSection("Care plans", CodeCarePlans, "Plan of care note", emptyNilKnown)
	var plans []rec
	seen := map[string]bool{}
	for _, r := range parseAll(append(append([]fhir.Resource{}, active.Matches...), changed.Matches...)) {
		if !seen[r.r.ID] {
			seen[r.r.ID] = true
			plans = append(plans, r)
		}
	}
	sort.SliceStable(plans, func(i, j int) bool { return plans[i].r.LastUpdated.After(plans[j].r.LastUpdated) })
	since := b.req.Now.Add(-carePlanWindow)
	t := &table{head: []string{"Care plan", "Status", "Period", "Changes in the last 30 days", "Source"}}
	diffs := 0
	for _, p := range plans {
		changes := "none"
		if !p.r.LastUpdated.Before(since) {
			if diffs < maxCarePlanDiffs {
				diffs++
				cs, err := carePlanChanges(ctx, src, p, since)
				if err != nil {
					return nil, err
				}
				changes = lines(cs)
			} else {
				changes = "changed on " + updated(p)
			}
		}
		t.row(carePlanTitle(p), str(p.m, "status"), period(p.m["period"]), changes, provenance(p))
	}
	s.entries, s.withheld = plans, active.Withheld || changed.Withheld
	s.div = narrative(t, "No active or recently changed care plans are recorded in the shared care record.", s.withheld)
	return s, nil
}

func carePlanTitle(p rec) string {
	for _, v := range []string{str(p.m, "title"), codeable(get(p.m, "category", "0")).label, str(p.m, "description")} {
		if v != "" {
			return v
		}
	}
	return "Care plan"
}

// carePlanChanges describes each version of plan made since since,
// against the version before it (newest first).
func carePlanChanges(ctx context.Context, src Source, plan rec, since time.Time) ([]string, error) {
	if plan.r.VersionID <= 1 {
		return []string{"Version 1 (" + updated(plan) + "): created"}, nil
	}
	versions, err := src.Versions(ctx, "CarePlan", plan.r.ID, carePlanVersions)
	if err != nil {
		return nil, err
	}
	return describeVersions(plan, versions, since), nil
}

// describeVersions describes the versions of plan made since since, newest
// first, each against the one before it. versions are those the caller
// may see; a missing one is said to be missing, never guessed at.
func describeVersions(plan rec, versions []fhir.Resource, since time.Time) []string {
	if plan.r.VersionID <= 1 {
		return []string{"Version 1 (" + updated(plan) + "): created"}
	}
	byVersion := map[int64]rec{}
	for _, v := range versions {
		if !v.Deleted {
			byVersion[v.VersionID] = parse(v)
		}
	}
	var out []string
	for vid := plan.r.VersionID; vid >= 1; vid-- {
		cur, ok := byVersion[vid]
		if !ok {
			if vid == plan.r.VersionID {
				cur = plan
			} else {
				out = append(out, fmt.Sprintf("Version %d: not shown", vid))
				break
			}
		}
		if cur.r.LastUpdated.Before(since) {
			break
		}
		head := fmt.Sprintf("Version %d (%s): ", vid, updated(cur))
		if vid == 1 {
			out = append(out, head+"created")
			break
		}
		prev, ok := byVersion[vid-1]
		if !ok {
			out = append(out, head+"changed (the previous version is not available)")
			break
		}
		cs := DiffCarePlan(prev.m, cur.m)
		if len(cs) == 0 {
			cs = []string{"saved again without changes"}
		}
		out = append(out, head+strings.Join(cs, "; "))
	}
	return out
}

// DiffCarePlan describes how cur differs from prev, two versions of one
// CarePlan decoded from JSON, by top-level element: status and period by
// value, activities one by one (added, removed, changed, matched on what
// they are), anything else by name. The server-set id, meta and narrative
// are not changes to the plan.
func DiffCarePlan(prev, cur map[string]any) []string {
	keys := map[string]bool{}
	for k := range prev {
		keys[k] = true
	}
	for k := range cur {
		keys[k] = true
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		switch k {
		case "resourceType", "id", "meta", "text":
			continue
		}
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return elementOrder(names[i]) < elementOrder(names[j]) })
	var out []string
	for _, k := range names {
		p, c := prev[k], cur[k]
		if reflect.DeepEqual(p, c) {
			continue
		}
		switch {
		case k == "status" || k == "intent":
			out = append(out, fmt.Sprintf("%s changed from %s to %s", k, orNone(str(prev, k)), orNone(str(cur, k))))
		case k == "period":
			out = append(out, fmt.Sprintf("period changed from %s to %s", orNone(period(p)), orNone(period(c))))
		case k == "activity":
			out = append(out, diffActivities(p, c)...)
		case p == nil:
			out = append(out, k+" added")
		case c == nil:
			out = append(out, k+" removed")
		default:
			out = append(out, k+" changed")
		}
	}
	return out
}

// elementOrder puts the elements a reader looks for first first.
func elementOrder(k string) string {
	switch k {
	case "status":
		return "0"
	case "period":
		return "1"
	case "activity":
		return "2"
	}
	return "3" + k
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// activityName is what an activity is, for matching it across versions
// and naming it: its detail's code, kind of reference or description.
func activityName(a any) string {
	if l := codeable(get(a, "detail", "code")).label; l != "" {
		return l
	}
	if d := str(a, "detail", "description"); d != "" {
		return d
	}
	if r := str(a, "reference", "display"); r != "" {
		return r
	}
	return str(a, "reference", "reference")
}

// diffActivities compares the activity lists of two versions.
func diffActivities(prev, cur any) []string {
	index := func(v any) (map[string]any, []string) {
		m := map[string]any{}
		var order []string
		list, _ := v.([]any)
		for i, a := range list {
			name := activityName(a)
			if name == "" {
				name = "activity " + strconv.Itoa(i+1)
			}
			if _, dup := m[name]; dup {
				name += " (" + strconv.Itoa(i+1) + ")"
			}
			m[name] = a
			order = append(order, name)
		}
		return m, order
	}
	pm, porder := index(prev)
	cm, corder := index(cur)
	var out []string
	for _, name := range corder {
		p, ok := pm[name]
		c := cm[name]
		switch {
		case !ok:
			out = append(out, "activity added: "+name)
		case reflect.DeepEqual(p, c):
		case str(p, "detail", "status") != str(c, "detail", "status"):
			out = append(out, fmt.Sprintf("activity %s: status changed from %s to %s", name,
				orNone(str(p, "detail", "status")), orNone(str(c, "detail", "status"))))
		default:
			out = append(out, "activity changed: "+name+describeDetail(p, c))
		}
	}
	for _, name := range porder {
		if _, ok := cm[name]; !ok {
			out = append(out, "activity removed: "+name)
		}
	}
	return out
}

// describeDetail names the detail elements that changed in an activity.
func describeDetail(p, c any) string {
	pd, _ := get(p, "detail").(map[string]any)
	cd, _ := get(c, "detail").(map[string]any)
	var changed []string
	for k := range cd {
		if !reflect.DeepEqual(pd[k], cd[k]) {
			changed = append(changed, k)
		}
	}
	for k := range pd {
		if _, ok := cd[k]; !ok {
			changed = append(changed, k)
		}
	}
	if len(changed) == 0 {
		return ""
	}
	sort.Strings(changed)
	return " (" + strings.Join(changed, ", ") + ")"
}
