package record

import (
	"slices"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/searchparam"
	"github.com/sharedcare/sharedcare/internal/store"
)

// Derived is what the store keeps beside a version's JSON and computes from
// it alone: the search index, the patient it belongs to, the access labels
// and the care relations it states. The write path, migrate-store and
// reindex all take it from Derive, so that a copied or reindexed resource
// is indexed and labelled exactly as a fresh write of it would be.
type Derived struct {
	Index     []searchparam.Value
	PatientID string // the first patient the Patient compartment names; empty for none
	Labels    store.AccessLabels
	// StatesRelations and Relations are store.Version's: whether the type
	// can state care relationships, and those this version states.
	StatesRelations bool
	Relations       []string
}

// Derive computes the derived data of raw, a resource of type typ, with
// codes as the sensitive SNOMED CT set (the default set when nil).
func Derive(typ string, raw []byte, codes *access.SensitiveCodes) (Derived, error) {
	index, err := searchparam.Extract(typ, raw)
	if err != nil {
		return Derived{}, err
	}
	d := Derived{StatesRelations: access.StatesRelations(typ)}
	if refs := searchparam.PatientRefsFromValues(typ, index); len(refs) > 0 {
		d.PatientID = refs[0]
	}
	d.Index = slices.DeleteFunc(index, onResourceRow)
	if codes == nil {
		codes = access.DefaultSensitiveCodes()
	}
	l := access.Classify(typ, raw, codes)
	d.Labels = store.AccessLabels{Source: l.Source, Sensitive: l.Sensitive, Security: l.SecurityLabels}
	if d.StatesRelations {
		d.Relations = access.Relations(typ, raw)
	}
	return d, nil
}

// onResourceRow reports whether v is of a parameter that searches match on
// the resource's own row (its id and lastUpdated columns), so that an index
// row of it would be read by nothing. They were a sixth of the index rows
// of a bulk load.
func onResourceRow(v searchparam.Value) bool {
	return v.Param == "_id" || v.Param == "_lastUpdated"
}

// Version returns r, with d's patient, as the store.Version that carries d.
func (d Derived) Version(r fhir.Resource) store.Version {
	r.PatientID = d.PatientID
	return store.Version{Resource: r, Index: d.Index, Labels: d.Labels, Relations: d.Relations, StatesRelations: d.StatesRelations}
}

// DeriveVersion returns the current, not deleted, version r with its
// derived data, as a write of it would store it: what migrate-store and
// reindex hand the store.
func DeriveVersion(r fhir.Resource, codes *access.SensitiveCodes) (store.Version, error) {
	d, err := Derive(r.Type, r.Raw, codes)
	if err != nil {
		return store.Version{}, err
	}
	return d.Version(r), nil
}
