package sqlsearch

import (
	"strings"

	"github.com/sharedcare/sharedcare/internal/fhir/r4"
	"github.com/sharedcare/sharedcare/internal/search"
)

// isNonPatient reports whether t is outside the Patient compartment
// (AuditEvent excepted: it is never searched as a record).
func isNonPatient(t string) bool {
	return r4.IsResourceType(t) && !r4.InPatientCompartment(t) && t != "AuditEvent"
}

// nonPatientTypes is the SQL list of the types isNonPatient holds. The
// names come from the generated R4 tables, so they are safe as literals.
var nonPatientTypes = quotedTypes(r4.ResourceTypes)

// quotedTypes is the SQL list of the types of types that isNonPatient holds.
func quotedTypes(types []string) string {
	var quoted []string
	for _, t := range types {
		if isNonPatient(t) {
			quoted = append(quoted, "'"+t+"'")
		}
	}
	return "(" + strings.Join(quoted, ", ") + ")"
}

// restrictTo compiles v to the predicate of Options.Restrict.
//
// When the statement confines the row to known types, the predicate is
// worked out for them: a caller who sees every resource outside the
// Patient compartment has no restriction on rows of only such types, and
// rows of no such type need not be tested against the list of them.
// Planning the list of 80 types took most of the time of a search by NHS
// number.
func restrictTo(v *search.Visibility) func(alias string, types []string, arg func(any) string) string {
	return func(alias string, types []string, arg func(any) string) string {
		nonPatient := ""
		if v.NonPatient {
			nonPatient = nonPatientTypes
			if len(types) > 0 {
				n := 0
				for _, t := range types {
					if isNonPatient(t) {
						n++
					}
				}
				switch n {
				case len(types):
					return "" // every row it can be is visible
				case 0:
					nonPatient = ""
				default:
					nonPatient = quotedTypes(types)
				}
			}
		}
		var or []string
		if v.Organization != "" {
			or = append(or, alias+".owner = "+arg(v.Organization))
		}
		if nonPatient != "" {
			or = append(or, alias+".type IN "+nonPatient)
		}
		if v.Shared != nil {
			or = append(or, sharedPatients(alias, arg, v.Shared))
		}
		for _, p := range v.Patients {
			or = append(or, sharedRecords(alias, arg, p))
		}
		if len(or) == 0 {
			return "1 = 0"
		}
		return strings.Join(or, " OR ")
	}
}

// withVisibility returns o with the query's visibility as its restriction.
func withVisibility(q *search.Query, o Options) Options {
	if o.Restrict == nil && q.Visibility != nil {
		o.Restrict = restrictTo(q.Visibility)
	}
	return o
}

// inList returns col IN (...) over values as arguments, or false for none.
func inList(col string, arg func(any) string, values []string) string {
	if len(values) == 0 {
		return "1 = 0"
	}
	ps := make([]string, len(values))
	for i, v := range values {
		ps[i] = arg(v)
	}
	return col + " IN (" + strings.Join(ps, ", ") + ")"
}

// sharedRecords compiles one patient's visibility: the records of the
// patient that the access model shares with the caller, in the order
// search.PatientVisibility documents.
func sharedRecords(a string, arg func(any) string, p *search.PatientVisibility) string {
	pid := arg(p.PatientID)
	conds := []string{a + ".patient_id = " + pid, a + ".type <> 'AuditEvent'"}
	if p.HideSensitive {
		conds = append(conds, "NOT "+a+".sensitive")
	}
	if len(p.Consent) > 0 {
		var c strings.Builder
		c.WriteString("CASE")
		for _, rule := range p.Consent {
			match := []string{"1 = 1"}
			if rule.Types != nil {
				match = append(match, inList(a+".type", arg, rule.Types))
			}
			for _, set := range rule.Labels {
				var oneOf []string
				for _, l := range set {
					oneOf = append(oneOf, a+".sec_labels LIKE "+arg("%\n"+l+"\n%"))
				}
				if len(oneOf) == 0 {
					oneOf = []string{"1 = 0"}
				}
				match = append(match, "("+strings.Join(oneOf, " OR ")+")")
			}
			verdict := "1 = 0"
			if rule.Permit {
				verdict = "1 = 1"
			}
			c.WriteString(" WHEN " + strings.Join(match, " AND ") + " THEN " + verdict)
		}
		c.WriteString(" ELSE 1 = 1 END")
		conds = append(conds, c.String())
	}
	conds = append(conds, "("+a+".type = 'Patient' OR "+sourceRule(a, arg, pid, p.Sources, p.GPTypes, p.GPRecentEncountersOnly)+")")
	return "(" + strings.Join(conds, " AND ") + ")"
}

// sourceRule compiles the restricted view of the GP record (access model,
// section 5) for records of the patient whose id the SQL expression patient
// gives: only records from sources, GP records only of gpTypes (nil: any),
// and GP Encounters only the patient's three most recent by period.start
// when recentOnly.
func sourceRule(a string, arg func(any) string, patient string, sources, gpTypes []string, recentOnly bool) string {
	rule := []string{inList(a+".source", arg, sources)}
	if gpTypes != nil {
		rule = append(rule, "("+a+".source <> 'gp' OR "+inList(a+".type", arg, gpTypes)+")")
	}
	if recentOnly {
		rule = append(rule, "("+a+".source <> 'gp' OR "+a+".type <> 'Encounter' OR "+a+".id IN ("+
			"SELECT e.id FROM resources e JOIN idx_date d ON d.res_type = e.type AND d.res_id = e.id AND d.param = 'date'"+
			" WHERE e.type = 'Encounter' AND e.patient_id = "+patient+" AND e.source = 'gp' AND NOT e.deleted"+
			" ORDER BY d.lo DESC LIMIT 3))")
	}
	return "(" + strings.Join(rule, " AND ") + ")"
}

// odsSystem is the identifier system of ODS organisation codes.
const odsSystem = "https://fhir.nhs.uk/Id/ods-organization-code"

// related is the predicate that the organisation whose ODS code the SQL
// expression org gives has a care relationship with the patient whose id
// the SQL expression patient gives: through the care relations resources
// state (an Organization/<id> reference counts when that Organization
// carries the ODS code), or by owning a record of the patient (a relation
// with no source resource): both are care_relations rows.
func related(patient, org string, arg func(any) string) string {
	return "(EXISTS (SELECT 1 FROM care_relations vis_cr WHERE vis_cr.patient_id = " + patient + " AND (vis_cr.org = " + org +
		" OR vis_cr.org IN (SELECT 'Organization/' || vis_ot.res_id FROM idx_token vis_ot WHERE vis_ot.res_type = 'Organization'" +
		" AND vis_ot.param = 'identifier' AND vis_ot.system = " + arg(odsSystem) + " AND vis_ot.code = " + org + "))))"
}

// sharedPatients compiles SharedVisibility: records of the patients the
// caller's organisation has a care relationship with, through the care
// relations resources state or by owning a record of the patient (related),
// unless the patient has a Consent resource (judged patient by
// patient instead), narrowed by the caller's view.
func sharedPatients(a string, arg func(any) string, v *search.SharedVisibility) string {
	org := arg(v.Organization)
	conds := []string{
		a + ".patient_id <> ''",
		a + ".type <> 'AuditEvent'",
		related(a+".patient_id", org, arg),
		"NOT EXISTS (SELECT 1 FROM resources vis_cs WHERE vis_cs.patient_id = " + a + ".patient_id AND vis_cs.type = 'Consent' AND NOT vis_cs.deleted)",
	}
	if v.HideSensitive {
		conds = append(conds, "NOT "+a+".sensitive")
	}
	conds = append(conds, "("+a+".type = 'Patient' OR "+sourceRule(a, arg, a+".patient_id", v.Sources, v.GPTypes, v.GPRecentEncountersOnly)+")")
	return "(" + strings.Join(conds, " AND ") + ")"
}

// ConsentedPatients returns the query, and its arguments, for the ids of
// up to limit patients, in id order, who have a Consent resource and with
// whom org has a care relationship that SharedVisibility would count: the
// patients whose records a search across patients must judge one by one.
func ConsentedPatients(d Dialect, org string, limit int) (string, []any) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return d.Placeholder(len(args))
	}
	q := "SELECT DISTINCT c.patient_id FROM resources c WHERE c.type = 'Consent' AND NOT c.deleted AND c.patient_id <> '' AND " +
		related("c.patient_id", arg(org), arg) + " ORDER BY c.patient_id LIMIT " + arg(limit)
	return q, args
}
