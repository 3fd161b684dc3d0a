package patch

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The FHIRPath subset that patch paths may use:
//
//	path      = step *( "." step / "[" integer "]" )
//	step      = identifier / function
//	function  = "first()" / "last()" / "where(" criteria ")" /
//	            "ofType(" identifier ")" / "extension(" string ")"
//	criteria  = condition *( "and" condition )
//	condition = ( "$this" / path ) "=" literal
//	literal   = string / number / "true" / "false"
//
// Identifiers may be quoted with backticks. That covers how clients point at
// an element: by position, by a distinguishing child (use, system and
// value) or by extension URL.

type stepKind int

const (
	stepChild stepKind = iota
	stepIndex
	stepFirst
	stepLast
	stepWhere
	stepOfType
	stepExtension
)

type step struct {
	kind  stepKind
	name  string // the child's name, ofType's type, extension's URL
	index int
	conds []condition // where's criteria, all of which must hold
}

// condition holds when the operand, evaluated on an item, is one primitive
// equal to the literal.
type condition struct {
	operand []step // a path from the item; empty for $this
	literal literal
}

type literal struct {
	kind byte // 's'tring, 'n'umber or 'b'oolean
	text string
}

// parsePath parses a FHIRPath expression of the supported subset.
func parsePath(s string) ([]step, error) {
	p := &pathParser{src: s}
	steps, err := p.parse()
	if err != nil {
		return nil, fmt.Errorf("path %q: %w", s, err)
	}
	return steps, nil
}

type pathParser struct {
	src string
	pos int
}

func (p *pathParser) parse() ([]step, error) {
	steps, err := p.steps()
	if err == nil && p.pos < len(p.src) {
		err = fmt.Errorf("unexpected %q", p.rest())
	}
	return steps, err
}

// steps reads steps for as long as a "." or "[" continues the path.
func (p *pathParser) steps() ([]step, error) {
	var steps []step
	st, err := p.step()
	if err != nil {
		return nil, err
	}
	steps = append(steps, st)
	for {
		p.space()
		if p.pos == len(p.src) {
			return steps, nil
		}
		switch p.src[p.pos] {
		case '.':
			p.pos++
			st, err := p.step()
			if err != nil {
				return nil, err
			}
			steps = append(steps, st)
		case '[':
			p.pos++
			p.space()
			n, err := p.integer()
			if err != nil {
				return nil, err
			}
			if err := p.expect(']'); err != nil {
				return nil, err
			}
			steps = append(steps, step{kind: stepIndex, index: n})
		default:
			return steps, nil
		}
	}
}

func (p *pathParser) step() (step, error) {
	p.space()
	name, err := p.identifier()
	if err != nil {
		return step{}, err
	}
	p.space()
	if p.pos == len(p.src) || p.src[p.pos] != '(' {
		return step{kind: stepChild, name: name}, nil
	}
	p.pos++
	st := step{}
	switch name {
	case "first":
		st.kind = stepFirst
	case "last":
		st.kind = stepLast
	case "where":
		st.kind = stepWhere
		if st.conds, err = p.criteria(); err != nil {
			return step{}, err
		}
	case "ofType":
		st.kind = stepOfType
		p.space()
		if st.name, err = p.identifier(); err != nil {
			return step{}, err
		}
		// FHIRPath may qualify a FHIR type with its namespace.
		if st.name == "FHIR" {
			if err := p.expect('.'); err != nil {
				return step{}, err
			}
			p.space()
			if st.name, err = p.identifier(); err != nil {
				return step{}, err
			}
		}
	case "extension":
		st.kind = stepExtension
		p.space()
		lit, err := p.literal()
		if err != nil {
			return step{}, err
		}
		if lit.kind != 's' {
			return step{}, fmt.Errorf("extension() takes a URL string")
		}
		st.name = lit.text
	default:
		return step{}, fmt.Errorf("function %s() is not supported (use first, last, where, ofType or extension)", name)
	}
	if err := p.expect(')'); err != nil {
		return step{}, err
	}
	return st, nil
}

func (p *pathParser) criteria() ([]condition, error) {
	var conds []condition
	for {
		c, err := p.condition()
		if err != nil {
			return nil, err
		}
		conds = append(conds, c)
		p.space()
		if !p.keyword("and") {
			return conds, nil
		}
	}
}

func (p *pathParser) condition() (condition, error) {
	var c condition
	p.space()
	if strings.HasPrefix(p.src[p.pos:], "$this") {
		p.pos += len("$this")
	} else {
		var err error
		if c.operand, err = p.steps(); err != nil {
			return c, err
		}
	}
	if err := p.expect('='); err != nil {
		return c, err
	}
	p.space()
	var err error
	c.literal, err = p.literal()
	return c, err
}

// keyword consumes word if it comes next as a whole word.
func (p *pathParser) keyword(word string) bool {
	rest := p.src[p.pos:]
	if !strings.HasPrefix(rest, word) || (len(rest) > len(word) && isIdentChar(rest[len(word)])) {
		return false
	}
	p.pos += len(word)
	return true
}

func (p *pathParser) identifier() (string, error) {
	if p.pos < len(p.src) && p.src[p.pos] == '`' {
		end := strings.IndexByte(p.src[p.pos+1:], '`')
		if end <= 0 {
			return "", fmt.Errorf("unterminated or empty `identifier`")
		}
		name := p.src[p.pos+1 : p.pos+1+end]
		p.pos += end + 2
		return name, nil
	}
	start := p.pos
	for p.pos < len(p.src) && isIdentChar(p.src[p.pos]) && (p.pos > start || !isDigit(p.src[p.pos])) {
		p.pos++
	}
	if p.pos == start {
		return "", fmt.Errorf("expected a name at %q", p.rest())
	}
	return p.src[start:p.pos], nil
}

func (p *pathParser) integer() (int, error) {
	start := p.pos
	for p.pos < len(p.src) && isDigit(p.src[p.pos]) {
		p.pos++
	}
	n, err := strconv.Atoi(p.src[start:p.pos])
	if err != nil {
		return 0, fmt.Errorf("expected an index at %q", p.src[start:])
	}
	return n, nil
}

func (p *pathParser) literal() (literal, error) {
	switch {
	case p.pos < len(p.src) && p.src[p.pos] == '\'':
		s, err := p.str()
		return literal{'s', s}, err
	case p.keyword("true"):
		return literal{'b', "true"}, nil
	case p.keyword("false"):
		return literal{'b', "false"}, nil
	}
	start := p.pos
	if p.pos < len(p.src) && p.src[p.pos] == '-' {
		p.pos++
	}
	for p.pos < len(p.src) && (isDigit(p.src[p.pos]) || p.src[p.pos] == '.') {
		p.pos++
	}
	text := p.src[start:p.pos]
	if _, err := strconv.ParseFloat(text, 64); err != nil {
		return literal{}, fmt.Errorf("expected a string, number or boolean at %q", p.src[start:])
	}
	return literal{'n', text}, nil
}

// str reads a single-quoted FHIRPath string with its escapes.
func (p *pathParser) str() (string, error) {
	var b strings.Builder
	for p.pos++; p.pos < len(p.src); {
		c := p.src[p.pos]
		switch c {
		case '\'':
			p.pos++
			return b.String(), nil
		case '\\':
			if p.pos+1 == len(p.src) {
				return "", fmt.Errorf("unterminated string")
			}
			p.pos += 2
			switch e := p.src[p.pos-1]; e {
			case '\'', '"', '`', '\\', '/':
				b.WriteByte(e)
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				if p.pos+4 > len(p.src) {
					return "", fmt.Errorf("bad \\u escape")
				}
				r, err := strconv.ParseUint(p.src[p.pos:p.pos+4], 16, 32)
				if err != nil {
					return "", fmt.Errorf("bad \\u escape")
				}
				b.WriteRune(rune(r))
				p.pos += 4
			default:
				return "", fmt.Errorf("unknown escape \\%c", e)
			}
		default:
			_, size := utf8.DecodeRuneInString(p.src[p.pos:])
			b.WriteString(p.src[p.pos : p.pos+size])
			p.pos += size
		}
	}
	return "", fmt.Errorf("unterminated string")
}

func (p *pathParser) expect(c byte) error {
	p.space()
	if p.pos == len(p.src) || p.src[p.pos] != c {
		return fmt.Errorf("expected %q at %q", c, p.rest())
	}
	p.pos++
	return nil
}

func (p *pathParser) space() {
	for p.pos < len(p.src) && strings.IndexByte(" \t\r\n", p.src[p.pos]) >= 0 {
		p.pos++
	}
}

func (p *pathParser) rest() string { return p.src[p.pos:] }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIdentChar(c byte) bool {
	return c == '_' || isDigit(c) || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// equals reports whether the JSON primitive raw equals the literal, by
// FHIRPath's rules: same type and same value.
func (l literal) equals(raw json.RawMessage) bool {
	switch l.kind {
	case 's':
		var s string
		return len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil && s == l.text
	case 'b':
		return string(raw) == l.text
	default:
		a, err1 := strconv.ParseFloat(string(raw), 64)
		b, err2 := strconv.ParseFloat(l.text, 64)
		return err1 == nil && err2 == nil && a == b
	}
}
