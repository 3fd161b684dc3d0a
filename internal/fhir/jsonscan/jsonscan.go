// Package jsonscan holds the byte-level primitives of the server's small
// JSON scanners, which read a few members of a resource without decoding
// the rest: the access labels of every write (package access) and the
// _summary/_elements views (package elements).
package jsonscan

import "errors"

// ErrSyntax reports malformed JSON.
var ErrSyntax = errors.New("malformed JSON")

// IsSpace reports whether c is JSON white space.
func IsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// SkipSpace returns the index of the first byte at or after i that is not
// white space.
func SkipSpace(b []byte, i int) int {
	for i < len(b) && IsSpace(b[i]) {
		i++
	}
	return i
}

// SkipString returns the index just past the string literal at b[i] ('"').
func SkipString(b []byte, i int) (int, error) {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, nil
		}
	}
	return 0, ErrSyntax
}

// SkipValue returns the index just past the value starting at b[i]. A
// plain byte loop: it is faster here than bytes.IndexAny, as JSON of FHIR
// resources is dense with brackets and short strings.
func SkipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, ErrSyntax
	}
	switch b[i] {
	case '"':
		return SkipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				end, err := SkipString(b, i)
				if err != nil {
					return 0, err
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1, nil
				}
			}
		}
		return 0, ErrSyntax
	case ',', ':', '}', ']':
		return 0, ErrSyntax
	}
	start := i
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != '"' && !IsSpace(b[i]) {
		i++
	}
	if i == start {
		return 0, ErrSyntax
	}
	return i, nil
}
