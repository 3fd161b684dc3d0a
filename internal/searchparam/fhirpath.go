package searchparam

import (
	"encoding/json"
	"fmt"
	"strings"
)

// This file parses the subset of FHIRPath that search parameter
// expressions are written in: paths, function calls, "|", "=", "!=", "and",
// "or", "is" and "as", string, boolean and number literals, and %resource.
// Precedence follows the FHIRPath specification: is/as bind tighter than
// "|", which binds tighter than equality, then "and", then "or".

// expr is a parsed FHIRPath expression.
type expr interface{ String() string }

type (
	// identExpr is a name at the start of a path: a type name such as
	// "Observation", or an element of the input ("code").
	identExpr struct{ name string }
	// memberExpr selects an element of each item of target.
	memberExpr struct {
		target expr
		name   string
	}
	// callExpr calls a function on target (nil: on the input).
	callExpr struct {
		target expr
		name   string
		args   []expr
	}
	binaryExpr struct {
		op          string // "|", "=", "!=", "and", "or"
		left, right expr
	}
	// typeExpr is "operand is T" or "operand as T".
	typeExpr struct {
		op      string
		operand expr
		typ     string
	}
	literalExpr struct{ value any } // string, bool or json.Number
	varExpr     struct{ name string }
	indexExpr   struct{ target, index expr }
)

func (e identExpr) String() string  { return e.name }
func (e memberExpr) String() string { return e.target.String() + "." + e.name }
func (e callExpr) String() string {
	args := make([]string, len(e.args))
	for i, a := range e.args {
		args[i] = a.String()
	}
	call := e.name + "(" + strings.Join(args, ", ") + ")"
	if e.target == nil {
		return call
	}
	return e.target.String() + "." + call
}
func (e binaryExpr) String() string {
	return "(" + e.left.String() + " " + e.op + " " + e.right.String() + ")"
}
func (e typeExpr) String() string { return "(" + e.operand.String() + " " + e.op + " " + e.typ + ")" }
func (e literalExpr) String() string {
	if s, ok := e.value.(string); ok {
		return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
	}
	return fmt.Sprint(e.value)
}
func (e varExpr) String() string   { return "%" + e.name }
func (e indexExpr) String() string { return e.target.String() + "[" + e.index.String() + "]" }

type tokenKind int

const (
	tokEOF tokenKind = iota
	tokIdent
	tokString
	tokNumber
	tokOp
)

type token struct {
	kind tokenKind
	text string
	pos  int
}

func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case isIdentStart(c):
			j := i + 1
			for j < len(s) && (isIdentStart(s[j]) || isDigit(s[j])) {
				j++
			}
			toks = append(toks, token{tokIdent, s[i:j], i})
			i = j
		case c == '`':
			j := strings.IndexByte(s[i+1:], '`')
			if j < 0 {
				return nil, fmt.Errorf("unterminated identifier at %d", i)
			}
			toks = append(toks, token{tokIdent, s[i+1 : i+1+j], i})
			i += j + 2
		case isDigit(c):
			j := i + 1
			for j < len(s) && (isDigit(s[j]) || s[j] == '.') {
				j++
			}
			toks = append(toks, token{tokNumber, s[i:j], i})
			i = j
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != '\''; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			toks = append(toks, token{tokString, b.String(), i})
			i = j + 1
		case c == '!' && i+1 < len(s) && s[i+1] == '=':
			toks = append(toks, token{tokOp, "!=", i})
			i += 2
		case strings.IndexByte(".()[]|=,%", c) >= 0:
			toks = append(toks, token{tokOp, string(c), i})
			i++
		default:
			return nil, fmt.Errorf("unexpected %q at %d", c, i)
		}
	}
	return append(toks, token{kind: tokEOF, pos: len(s)}), nil
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

type parser struct {
	toks []token
	i    int
}

// parse parses a FHIRPath expression of the supported subset.
func parse(s string) (expr, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	e, err := p.binary(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, fmt.Errorf("unexpected %q at %d", t.text, t.pos)
	}
	return e, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) accept(kind tokenKind, text string) bool {
	if t := p.peek(); t.kind == kind && t.text == text {
		p.i++
		return true
	}
	return false
}

func (p *parser) expect(text string) error {
	if !p.accept(tokOp, text) {
		t := p.peek()
		return fmt.Errorf("expected %q at %d, found %q", text, t.pos, t.text)
	}
	return nil
}

// binaryLevels lists the binary operators from the loosest to the tightest.
var binaryLevels = [][]string{{"or"}, {"and"}, {"=", "!="}, {"|"}}

func (p *parser) binary(level int) (expr, error) {
	if level == len(binaryLevels) {
		return p.typeTest()
	}
	left, err := p.binary(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		op, ok := p.binaryOp(binaryLevels[level])
		if !ok {
			return left, nil
		}
		right, err := p.binary(level + 1)
		if err != nil {
			return nil, err
		}
		left = binaryExpr{op: op, left: left, right: right}
	}
}

func (p *parser) binaryOp(ops []string) (string, bool) {
	t := p.peek()
	for _, op := range ops {
		if (t.kind == tokOp || t.kind == tokIdent) && t.text == op {
			p.i++
			return op, true
		}
	}
	return "", false
}

func (p *parser) typeTest() (expr, error) {
	e, err := p.postfix()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tokIdent || (t.text != "is" && t.text != "as") {
			return e, nil
		}
		p.i++
		typ := p.next()
		if typ.kind != tokIdent {
			return nil, fmt.Errorf("expected a type name at %d", typ.pos)
		}
		e = typeExpr{op: t.text, operand: e, typ: typ.text}
	}
}

func (p *parser) postfix() (expr, error) {
	e, err := p.term()
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case p.accept(tokOp, "."):
			name := p.next()
			if name.kind != tokIdent {
				return nil, fmt.Errorf("expected a name at %d", name.pos)
			}
			if p.accept(tokOp, "(") {
				args, err := p.args()
				if err != nil {
					return nil, err
				}
				e = callExpr{target: e, name: name.text, args: args}
			} else {
				e = memberExpr{target: e, name: name.text}
			}
		case p.accept(tokOp, "["):
			idx, err := p.binary(0)
			if err != nil {
				return nil, err
			}
			if err := p.expect("]"); err != nil {
				return nil, err
			}
			e = indexExpr{target: e, index: idx}
		default:
			return e, nil
		}
	}
}

func (p *parser) term() (expr, error) {
	t := p.next()
	switch t.kind {
	case tokString:
		return literalExpr{t.text}, nil
	case tokNumber:
		return literalExpr{json.Number(t.text)}, nil
	case tokIdent:
		switch t.text {
		case "true":
			return literalExpr{true}, nil
		case "false":
			return literalExpr{false}, nil
		}
		if p.accept(tokOp, "(") {
			args, err := p.args()
			if err != nil {
				return nil, err
			}
			return callExpr{name: t.text, args: args}, nil
		}
		return identExpr{t.text}, nil
	case tokOp:
		switch t.text {
		case "(":
			e, err := p.binary(0)
			if err != nil {
				return nil, err
			}
			return e, p.expect(")")
		case "%":
			name := p.next()
			if name.kind != tokIdent {
				return nil, fmt.Errorf("expected a variable name at %d", name.pos)
			}
			return varExpr{name.text}, nil
		}
	}
	if t.kind == tokEOF {
		return nil, fmt.Errorf("unexpected end of expression")
	}
	return nil, fmt.Errorf("unexpected %q at %d", t.text, t.pos)
}

// args parses a call's arguments after its opening parenthesis.
func (p *parser) args() ([]expr, error) {
	var args []expr
	if p.accept(tokOp, ")") {
		return nil, nil
	}
	for {
		a, err := p.binary(0)
		if err != nil {
			return nil, err
		}
		args = append(args, a)
		if p.accept(tokOp, ")") {
			return args, nil
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
	}
}
