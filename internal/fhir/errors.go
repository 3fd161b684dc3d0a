// Package fhir holds what every layer of the server shares about FHIR
// resources: error kinds that become OperationOutcomes, the stored resource
// envelope, and the few JSON edits the server makes to a client's body.
package fhir

import (
	"errors"
	"fmt"
)

// Kind classifies an error so that the REST layer can choose one HTTP status
// for it in a single place.
type Kind int

// Error kinds. Each maps to exactly one HTTP status in package rest.
const (
	KindInternal         Kind = iota // 500: logged, never shown in detail
	KindInvalid                      // 400: malformed request or body
	KindUnprocessable                // 422: well-formed but breaks a FHIR rule
	KindUnauthorized                 // 401
	KindForbidden                    // 403
	KindNotFound                     // 404
	KindNotAllowed                   // 405
	KindConflict                     // 409
	KindGone                         // 410
	KindPrecondition                 // 412
	KindTooLarge                     // 413
	KindUnsupportedMedia             // 415
	KindNotAcceptable                // 406
	KindNotModified                  // 304, used for conditional reads
)

// Issue is one OperationOutcome issue.
type Issue struct {
	Severity    string   // fatal | error | warning | information
	Code        string   // IssueType code: invalid, structure, required, value, not-found, ...
	Diagnostics string   // human readable text
	Expression  []string // FHIRPath locations of the problem, e.g. Patient.birthDate
}

// Error is the one error type the server's packages return for problems a
// client can act on. Anything else is treated as internal.
type Error struct {
	Kind   Kind
	Issues []Issue
	Err    error // underlying cause, logged but never sent to the client
}

func (e *Error) Error() string {
	if len(e.Issues) == 0 {
		if e.Err != nil {
			return e.Err.Error()
		}
		return "error"
	}
	msg := e.Issues[0].Diagnostics
	if len(e.Issues[0].Expression) > 0 {
		msg = e.Issues[0].Expression[0] + ": " + msg
	}
	if len(e.Issues) > 1 {
		msg = fmt.Sprintf("%s (and %d more issues)", msg, len(e.Issues)-1)
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind k with one error-severity issue of the
// given IssueType code.
func Errorf(k Kind, code, format string, args ...any) *Error {
	return &Error{Kind: k, Issues: []Issue{{Severity: "error", Code: code, Diagnostics: fmt.Sprintf(format, args...)}}}
}

// AtPath returns an *Error of kind k with one issue located at expression.
func AtPath(k Kind, code, expression, format string, args ...any) *Error {
	e := Errorf(k, code, format, args...)
	e.Issues[0].Expression = []string{expression}
	return e
}

// KindOf reports the kind of err, KindInternal for errors not made by this package.
func KindOf(err error) Kind {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Kind
	}
	return KindInternal
}

// Common error constructors.

// NotFound reports that type/id does not exist, or is withheld (the two are indistinguishable by design).
func NotFound(typ, id string) *Error {
	return Errorf(KindNotFound, "not-found", "Resource %s/%s is not known", typ, id)
}
