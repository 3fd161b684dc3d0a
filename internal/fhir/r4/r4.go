// Package r4 holds facts about FHIR R4 resource types, generated from the
// official definitions in ../shared/fhir/r4-definitions.
package r4

//go:generate go run ./gen -defs ../../../../shared/fhir/r4-definitions -out types_gen.go -elements elements_gen.go

import "sort"

// IsResourceType reports whether name is a concrete R4 resource type.
func IsResourceType(name string) bool {
	i := sort.SearchStrings(ResourceTypes, name)
	return i < len(ResourceTypes) && ResourceTypes[i] == name
}

// InPatientCompartment reports whether resources of type t can belong to a patient's record.
func InPatientCompartment(t string) bool {
	_, ok := PatientCompartment[t]
	return ok || t == "Patient"
}
