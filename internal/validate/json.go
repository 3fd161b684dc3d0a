package validate

import (
	"fmt"
	"math"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// kind is the JSON type of a node.
type kind uint8

const (
	kindObject kind = iota + 1
	kindArray
	kindString
	kindNumber
	kindTrue
	kindFalse
	kindNull
)

func (k kind) String() string {
	switch k {
	case kindObject:
		return "an object"
	case kindArray:
		return "an array"
	case kindString:
		return "a string"
	case kindNumber:
		return "a number"
	case kindTrue, kindFalse:
		return "a boolean"
	}
	return "null"
}

// node is one JSON value in a tape: the document flattened in order, each
// container followed by its contents (an object's as key, value, key,
// value...). The walk that follows can then look at an object's members in
// any order, and skip a subtree in one step, without a tree of allocations.
type node struct {
	start, end int32 // a string's contents between the quotes; any other value's bytes
	next       int32 // tape index just past this value and its contents
	count      int32 // number of members of an object or items of an array
	kind       kind
	escaped    bool // a string containing backslash escapes
}

// syntaxError is a JSON document that cannot be parsed.
type syntaxError struct {
	offset int
	msg    string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("Invalid JSON at byte offset %d: %s", e.offset, e.msg)
}

// parser builds the tape of a document in one pass; every byte is looked at
// a bounded number of times, so parsing is linear in the size of the input.
type parser struct {
	data    []byte
	pos     int
	tape    []node
	scratch []byte // for text
}

// parse replaces p.tape with the tape of data.
func (p *parser) parse(data []byte) error {
	if len(data) >= math.MaxInt32 {
		return &syntaxError{0, "the document is too large"}
	}
	p.data, p.pos, p.tape = data, 0, p.tape[:0]
	p.skipSpace()
	if p.pos == len(p.data) {
		return &syntaxError{0, "the body is empty"}
	}
	if err := p.value(1); err != nil {
		return err
	}
	p.skipSpace()
	if p.pos != len(p.data) {
		return p.errorf("unexpected data after the top-level value")
	}
	return nil
}

func (p *parser) errorf(format string, args ...any) error {
	return &syntaxError{p.pos, fmt.Sprintf(format, args...)}
}

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) error {
	if depth > maxDepth {
		return p.errorf("nested deeper than %d levels", maxDepth)
	}
	p.skipSpace()
	if p.pos == len(p.data) {
		return p.errorf("unexpected end of input")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.container(depth, kindObject, '}')
	case c == '[':
		return p.container(depth, kindArray, ']')
	case c == '"':
		return p.string()
	case c == 't':
		return p.literal("true", kindTrue)
	case c == 'f':
		return p.literal("false", kindFalse)
	case c == 'n':
		return p.literal("null", kindNull)
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	default:
		return p.errorf("unexpected character %q", c)
	}
}

func (p *parser) container(depth int, k kind, closing byte) error {
	idx := len(p.tape)
	p.tape = append(p.tape, node{kind: k, start: int32(p.pos)})
	p.pos++
	p.skipSpace()
	count := int32(0)
	if p.pos < len(p.data) && p.data[p.pos] == closing {
		p.pos++
	} else {
		for {
			if k == kindObject {
				p.skipSpace()
				if p.pos == len(p.data) || p.data[p.pos] != '"' {
					return p.errorf("expected a member name in double quotes")
				}
				if err := p.string(); err != nil {
					return err
				}
				p.skipSpace()
				if p.pos == len(p.data) || p.data[p.pos] != ':' {
					return p.errorf("expected ':' after a member name")
				}
				p.pos++
			}
			if err := p.value(depth + 1); err != nil {
				return err
			}
			count++
			p.skipSpace()
			if p.pos == len(p.data) {
				return p.errorf("unexpected end of input")
			}
			c := p.data[p.pos]
			p.pos++
			if c == closing {
				break
			}
			if c != ',' {
				p.pos--
				return p.errorf("expected ',' or '%c'", closing)
			}
		}
	}
	n := &p.tape[idx]
	n.end, n.next, n.count = int32(p.pos), int32(len(p.tape)), count
	return nil
}

// plain marks the bytes a string may hold without a closer look.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (p *parser) string() error {
	p.pos++ // opening quote
	start := p.pos
	escaped := false
	for {
		for p.pos < len(p.data) && plain[p.data[p.pos]] {
			p.pos++
		}
		if p.pos == len(p.data) {
			return p.errorf("unterminated string")
		}
		switch c := p.data[p.pos]; {
		case c == '"':
			p.tape = append(p.tape, node{kind: kindString, start: int32(start), end: int32(p.pos), next: int32(len(p.tape) + 1), escaped: escaped})
			p.pos++
			return nil
		case c == '\\':
			escaped = true
			if err := p.escape(); err != nil {
				return err
			}
		case c < 0x20:
			return p.errorf("control character %#02x in a string must be escaped", c)
		default:
			r, size := utf8.DecodeRune(p.data[p.pos:])
			if r == utf8.RuneError && size <= 1 {
				return p.errorf("invalid UTF-8")
			}
			p.pos += size
		}
	}
}

func (p *parser) escape() error {
	p.pos++
	if p.pos == len(p.data) {
		return p.errorf("unterminated string")
	}
	switch p.data[p.pos] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		p.pos++
		return nil
	case 'u':
		if p.pos+5 > len(p.data) {
			return p.errorf("unterminated string")
		}
		for _, h := range p.data[p.pos+1 : p.pos+5] {
			if !isHex(h) {
				return p.errorf("invalid \\u escape")
			}
		}
		p.pos += 5
		return nil
	}
	return p.errorf("invalid escape character %q", p.data[p.pos])
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (p *parser) literal(word string, k kind) error {
	if len(p.data)-p.pos < len(word) || string(p.data[p.pos:p.pos+len(word)]) != word {
		return p.errorf("invalid literal")
	}
	p.tape = append(p.tape, node{kind: k, start: int32(p.pos), end: int32(p.pos + len(word)), next: int32(len(p.tape) + 1)})
	p.pos += len(word)
	return nil
}

// number accepts exactly the JSON number grammar, which is also the lexical
// form of FHIR's decimal.
func (p *parser) number() error {
	start := p.pos
	if p.data[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(p.data) && p.data[p.pos] == '0':
		p.pos++
	case p.pos < len(p.data) && p.data[p.pos] >= '1' && p.data[p.pos] <= '9':
		p.digits()
	default:
		return p.errorf("invalid number")
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if p.digits() == 0 {
			return p.errorf("invalid number")
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if p.digits() == 0 {
			return p.errorf("invalid number")
		}
	}
	p.tape = append(p.tape, node{kind: kindNumber, start: int32(start), end: int32(p.pos), next: int32(len(p.tape) + 1)})
	return nil
}

func (p *parser) digits() int {
	start := p.pos
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
		p.pos++
	}
	return p.pos - start
}

// text returns the contents of a string node, unescaped, or the bytes of
// any other value. Escapes are rare in FHIR JSON apart from the quotes in
// narratives, so an escaped string is decoded into a buffer that the next
// call reuses: use the result before calling text again.
func (p *parser) text(n node) []byte {
	b := p.data[n.start:n.end]
	if !n.escaped {
		return b
	}
	out := p.scratch[:0]
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			out = append(out, b[i])
			continue
		}
		i++
		switch c := b[i]; c {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(b[i+1:])
			i += 4
			if utf16.IsSurrogate(r) {
				// As encoding/json does: a pair makes one rune, a lone
				// surrogate becomes U+FFFD.
				pair := unicode.ReplacementChar
				if i+6 < len(b) && b[i+1] == '\\' && b[i+2] == 'u' {
					pair = utf16.DecodeRune(r, hex4(b[i+3:]))
				}
				if r = pair; r != unicode.ReplacementChar {
					i += 6
				}
			}
			out = utf8.AppendRune(out, r)
		default: // " \ /
			out = append(out, c)
		}
	}
	p.scratch = out
	return out
}

// hex4 decodes the four hex digits the parser has checked at the start of b.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
