package store

import "github.com/sharedcare/sharedcare/internal/fhir"

// NHSNumberSystem is the identifier system of NHS numbers.
const NHSNumberSystem = "https://fhir.nhs.uk/Id/nhs-number"

// NHSNumberTaken is the error of a write that would give a second Patient
// the NHS number existingID holds: 409, naming the existing Patient, so
// that a source can update it or reference it instead.
func NHSNumberTaken(number, existingID string) error {
	return fhir.AtPath(fhir.KindConflict, "duplicate", "Patient.identifier",
		"NHS number %s is already held by Patient/%s: one Patient per NHS number; update that Patient, "+
			"or use a conditional create or reference (identifier=%s|%s)", number, existingID, NHSNumberSystem, number)
}
