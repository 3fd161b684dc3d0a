package sqlsearch

import (
	"strings"

	"github.com/sharedcare/sharedcare/internal/fhir/r4"
	"github.com/sharedcare/sharedcare/internal/search"
)

// nonPatientTypes is the SQL list of the resource types outside the Patient
// compartment (AuditEvent excepted: it is never searched as a record). The
// names come from the generated R4 tables, so they are safe as literals.
var nonPatientTypes = func() string {
	var quoted []string
	for _, t := range r4.ResourceTypes {
		if !r4.InPatientCompartment(t) && t != "AuditEvent" {
			quoted = append(quoted, "'"+t+"'")
		}
	}
	return "(" + strings.Join(quoted, ", ") + ")"
}()

// restrictTo compiles v to the predicate of Options.Restrict.
func restrictTo(v *search.Visibility) func(alias string, arg func(any) string) string {
	return func(alias string, arg func(any) string) string {
		var or []string
		if v.Organization != "" {
			or = append(or, alias+".owner = "+arg(v.Organization))
		}
		if v.NonPatient {
			or = append(or, alias+".type IN "+nonPatientTypes)
		}
		if v.Patient != nil {
			or = append(or, sharedRecords(alias, arg, v.Patient))
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
	conds := []string{a + ".patient_id = " + arg(p.PatientID), a + ".type <> 'AuditEvent'"}
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
	source := []string{inList(a+".source", arg, p.Sources)}
	if p.GPTypes != nil {
		source = append(source, "("+a+".source <> 'gp' OR "+inList(a+".type", arg, p.GPTypes)+")")
	}
	if p.GPRecentEncountersOnly {
		// The patient's three most recent GP Encounters by period.start.
		source = append(source, "("+a+".source <> 'gp' OR "+a+".type <> 'Encounter' OR "+a+".id IN ("+
			"SELECT e.id FROM resources e JOIN idx_date d ON d.res_type = e.type AND d.res_id = e.id AND d.param = 'date'"+
			" WHERE e.type = 'Encounter' AND e.patient_id = "+arg(p.PatientID)+" AND e.source = 'gp' AND NOT e.deleted"+
			" ORDER BY d.lo DESC LIMIT 3))")
	}
	conds = append(conds, "("+a+".type = 'Patient' OR ("+strings.Join(source, " AND ")+"))")
	return "(" + strings.Join(conds, " AND ") + ")"
}
