// Package search turns the parameters of a FHIR search into a Query: the
// filters each matching resource must pass, and what the result should
// hold (includes, sort, page, total, summary). It knows the search
// parameters from the official definitions (package searchparam) and the
// FHIR search syntax (modifiers, prefixes, chains, _has, escaping), but no
// SQL: the stores turn a Query into their own (package sqlsearch).
//
// A Query is a plain value: once Parse has checked the parameters it can
// be inspected, built by hand in tests, or handed to a store as it is.
package search

import (
	"time"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/fhir/r4"
	"github.com/sharedcare/sharedcare/internal/searchparam"
)

// Page sizes: the page a search returns when _count is absent, and the
// largest it returns whatever _count asks for.
const (
	DefaultCount = 20
	MaxCount     = 1000
)

// Query is a parsed search.
type Query struct {
	// Types are the resource types searched: one for a type or compartment
	// search; for a system search the _type list, or none for every type.
	Types []string
	// Filters all must match (AND); each matches when any of its values
	// does (OR).
	Filters []Filter
	// Compartment, when set, keeps only the resources in one patient's
	// compartment (GET /Patient/{id}/{type}).
	Compartment *Compartment
	// Include and RevInclude are the _include and _revinclude requests.
	Include    []Include
	RevInclude []Include
	// Sort orders the matches; ties, and an empty Sort, are ordered by
	// type and id so that pages are stable.
	Sort []Sort
	// Count is the page size, at most MaxCount. 0 asks for the total only.
	Count int
	// Page continues a search from a page token this server issued
	// (_page); nil for the first page.
	Page *Cursor
	// Total says whether and how to count all matches (_total).
	Total Total
	// Summary is _summary (true, text, data, count or false) and Elements
	// is _elements: how much of each resource to return.
	Summary  string
	Elements []string
	// Visibility, when set, limits every resource the search reads
	// (matches, chain and _has targets, includes, counts) to those the
	// caller may see. The REST layer sets it for every request.
	Visibility *Visibility
	// PlanOnce, set by the server for a search of its own whose best plan
	// does not depend on the values (a patient's few resources of a type,
	// as the access model reads them), lets the store plan its statement
	// once and reuse the plan. A search from a request never sets it: the
	// best plan for a code or a date range depends on how common it is.
	PlanOnce bool
	// Base is the server's FHIR base URL. Absolute references that start
	// with it name local resources. Parse leaves it empty; the caller sets
	// it. Empty means only relative references are local.
	Base string
}

// SinglePatient returns the id of the one Patient a search is scoped to,
// or "" when it is not scoped to one: a compartment search, a search of
// Patients by one _id, or a search by one patient (or subject) that is a
// Patient.
func (q *Query) SinglePatient() string {
	if q.Compartment != nil {
		return q.Compartment.ID
	}
	if len(q.Types) == 1 && q.Types[0] == "Patient" {
		for _, f := range q.Filters {
			if f.Param != nil && f.Param.Code == "_id" && len(f.Values) == 1 && f.Modifier == "" {
				return f.Values[0].Token.Code
			}
		}
	}
	for _, f := range q.Filters {
		if f.Param == nil || f.Chain != nil || f.Has != nil || len(f.Values) != 1 || f.Modifier != ModNone {
			continue
		}
		if f.Param.Code != "patient" && f.Param.Code != "subject" {
			continue
		}
		ref := f.Values[0].Reference
		if ref.ID != "" && (ref.Type == "Patient" || (ref.Type == "" && f.TargetType == "Patient") ||
			(ref.Type == "" && f.Param.Code == "patient")) {
			return ref.ID
		}
	}
	return ""
}

// CountOnly reports whether the search asks for the number of matches and
// no resources (_summary=count or _count=0).
func (q *Query) CountOnly() bool { return q.Summary == "count" || q.Count == 0 }

// Filter is one search parameter of a query, with its values. Exactly one
// of Values, Chain and Has says what to match, except for the :missing
// modifier, which has none of them.
type Filter struct {
	// Param is the parameter filtered on. For _has it is nil; for _list it
	// is ListParam.
	Param    *searchparam.Param
	Modifier Modifier
	// TargetType is the resource type of a reference's :[type] modifier.
	TargetType string
	// Missing is the value of :missing: true matches resources that have
	// no value for Param, false those that have one.
	Missing bool
	// Values match when any of them does.
	Values []Value
	// Chain, for a chained reference parameter (subject:Patient.name),
	// matches resources whose Param points at a resource that matches it.
	Chain *Chain
	// Has, for _has, matches resources that other resources point at.
	Has *Has
}

// Chain is the rest of a chained parameter: resources of one of Types that
// match Filter.
type Chain struct {
	Types  []string
	Filter Filter
}

// Has is a reverse chain (_has:Type:param:filter): resources of Type whose
// reference parameter Param points at the resource, and that match Filter.
type Has struct {
	Type   string
	Param  *searchparam.Param
	Filter Filter
}

// Compartment is a patient compartment: the resources whose compartment
// parameters (Params, from the CompartmentDefinition) point at Patient/ID.
// For a search of Patients it also holds Patient/ID itself.
type Compartment struct {
	Type   string // always "Patient" for now
	ID     string
	Params []string
}

// Include is one _include or _revinclude.
type Include struct {
	// Type is the type holding the references: for _include the type of
	// the resources whose references are followed, for _revinclude the
	// type of the resources included. Empty for _include=*.
	Type string
	// Param is the reference parameter of Type followed; empty for every
	// reference parameter (*).
	Param string
	// Target limits the resources referenced to one type.
	Target string
	// Iterate applies the include to included resources too (:iterate).
	Iterate bool
}

// Sort is one key of _sort.
type Sort struct {
	Param *searchparam.Param
	Desc  bool
}

// Total is the _total mode.
type Total string

// The _total modes. TotalDefault counts when counting is cheap (see
// package sqlsearch).
const (
	TotalDefault  Total = ""
	TotalNone     Total = "none"
	TotalEstimate Total = "estimate"
	TotalAccurate Total = "accurate"
)

// Modifier is a search parameter modifier, the part after the colon.
type Modifier string

// The modifiers this server supports. A reference's :[type] modifier is
// kept in Filter.TargetType instead.
const (
	ModNone       Modifier = ""
	ModMissing    Modifier = "missing"
	ModExact      Modifier = "exact"
	ModContains   Modifier = "contains"
	ModText       Modifier = "text"
	ModNot        Modifier = "not"
	ModOfType     Modifier = "of-type"
	ModIdentifier Modifier = "identifier"
	ModBelow      Modifier = "below"
	ModAbove      Modifier = "above"
)

// Prefix is the comparison prefix of a number, date or quantity value.
type Prefix string

// The comparison prefixes.
const (
	Eq Prefix = "eq"
	Ne Prefix = "ne"
	Gt Prefix = "gt"
	Lt Prefix = "lt"
	Ge Prefix = "ge"
	Le Prefix = "le"
	Sa Prefix = "sa"
	Eb Prefix = "eb"
	Ap Prefix = "ap"
)

// Value is one value of a filter, unescaped. Which fields are set depends
// on the parameter's type and modifier.
type Value struct {
	// Prefix is the comparison of a number, date or quantity (Eq when
	// none was written).
	Prefix Prefix
	// String is the value of a string or uri parameter, the text of a
	// token's :text, and the List id of _list.
	String string
	// Token is a token value, and the identifier of a reference's
	// :identifier.
	Token Token
	// Date is the range a date value covers: 2024-03 is
	// [2024-03-01T00:00:00Z, 2024-04-01T00:00:00Z).
	Date DateRange
	// Number is a number value, and the number of a quantity.
	Number Number
	// Unit is the system and code of a quantity.
	Unit Token
	// Reference is a reference value.
	Reference Reference
	// Components are the values of a composite's parts, in the
	// parameter's order.
	Components []Value
}

// Token is a token value: [system|]code.
type Token struct {
	System, Code string
	// HasSystem is true when the value had a '|': System was given, and
	// empty means "no system". Without it any system matches.
	HasSystem bool
	// TypeSystem and TypeCode are the identifier type of :of-type.
	TypeSystem, TypeCode string
}

// DateRange is the period a date search value covers, from Low (inclusive)
// to High (exclusive), in UTC.
type DateRange struct {
	Low, High time.Time
}

// Number is a decimal search value as written, and the range its
// precision implies: 100 stands for [99.5, 100.5).
type Number struct {
	Value, Low, High string
}

// Reference is a reference search value. Type and ID are set when it
// names a resource (id, Type/id, or an absolute URL ending in Type/id);
// URL holds an absolute URL or a canonical as written.
type Reference struct {
	Type, ID, URL string
}

// ListParam stands for _list, which has no SearchParameter definition: it
// matches the resources a List's entries point at.
var ListParam = &searchparam.Param{Code: "_list", Type: searchparam.TypeSpecial}

// InPatientCompartment limits q, a search of one resource type, to the
// compartment of Patient/id: GET [base]/Patient/id/[type]. A type outside
// the Patient compartment is a fhir.KindInvalid error.
func (q *Query) InPatientCompartment(id string) error {
	if len(q.Types) != 1 {
		return fhir.Errorf(fhir.KindInvalid, "invalid", "a compartment search is a search of one resource type")
	}
	if !fhir.ValidID(id) {
		return fhir.Errorf(fhir.KindInvalid, "invalid", "%q is not a valid FHIR id", id)
	}
	typ := q.Types[0]
	c := &Compartment{Type: "Patient", ID: id}
	for _, code := range r4.PatientCompartment[typ] {
		if p, ok := searchparam.Lookup(typ, code); ok && p.Type == searchparam.TypeReference && p.Indexed() {
			c.Params = append(c.Params, code)
		}
	}
	if len(c.Params) == 0 && typ != "Patient" {
		return fhir.Errorf(fhir.KindInvalid, "not-supported", "%s is not in the Patient compartment", typ)
	}
	q.Compartment = c
	return nil
}

// Visibility is the part of the access model a search compiles to SQL: a
// resource is visible when the caller's organisation owns it; when
// NonPatient is set and it is not patient data (its type is outside the
// Patient compartment, and it is not an AuditEvent); when Shared makes it
// visible; or when one of Patients does. It is a subset of what the access
// model allows; what it leaves out is withheld.
type Visibility struct {
	Organization string // ODS code of the caller's organisation; empty: owns nothing
	NonPatient   bool
	// Shared, when set, makes visible the records of every patient with
	// whom the caller's organisation has a care relationship stated by a
	// resource (SharedVisibility), as long as the patient has no Consent:
	// Consents are judged patient by patient, in Patients.
	Shared *SharedVisibility
	// Patients each make visible the records of one patient that the
	// access model shares with the caller (access.PatientRestriction,
	// compiled for that patient).
	Patients []*PatientVisibility
}

// SharedVisibility is which records, owned by other organisations, a
// caller may see of the patients its organisation has a care relationship
// with and who have no Consent resource: the caller's part of
// access.PatientRestriction, the same for every such patient. A
// relationship here is one a Patient, EpisodeOfCare or CareTeam states
// (the store's care relations) or owning a record of the patient; the
// relationship a consent permit grants is judged in Patients.
type SharedVisibility struct {
	Organization           string // the caller's ODS code
	HideSensitive          bool
	Sources                []string
	GPTypes                []string
	GPRecentEncountersOnly bool
}

// PatientVisibility is which records of one patient, owned by other
// organisations, a caller may see. The fields mirror
// access.PatientRestriction, in the order that decides: a sensitive record
// is hidden when HideSensitive; the first ConsentRule a record matches
// decides; the Patient itself is then visible; other records only from
// Sources, GP records only of GPTypes (nil: any), and GP Encounters only
// the three most recent when GPRecentEncountersOnly.
type PatientVisibility struct {
	PatientID              string
	HideSensitive          bool
	Consent                []ConsentRule
	Sources                []string
	GPTypes                []string
	GPRecentEncountersOnly bool
}

// ConsentRule is one rule of a patient's consents: it matches a record of
// one of Types (nil: any) that carries, for every set in Labels, at least
// one of its security labels (system|code).
type ConsentRule struct {
	Permit bool
	Types  []string
	Labels [][]string
}
