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
