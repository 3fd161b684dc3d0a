// Package summary answers the Patient operations $everything and $summary:
// what one patient's record holds, gathered across resource types.
//
// It builds the searches these operations run (package search) and decides
// which supporting resources come with them; it reads nothing itself. The
// REST layer runs the searches with the caller's visibility, so that every
// summary passes the access model exactly as a compartment search does
// (docs/access-model.md, section 7).
package summary
