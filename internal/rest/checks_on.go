//go:build !benchnoaccess

package rest

// accessChecks is true in every build but the benchmark build
// (-tags benchnoaccess), which measures what the access model costs by
// leaving it out. Production builds cannot turn the checks off.
const accessChecks = true
