//go:build benchnoaccess

package rest

// accessChecks is false in the benchmark build only: no token
// verification, scopes, visibility rules or audit trail, so that
// `make bench` can report what they cost. Never deploy this build.
const accessChecks = false
