package searchparam

import (
	"encoding/json"
	"fmt"
	"strings"
)

// item is one element of a FHIRPath collection: a value of the decoded JSON
// (map[string]any, string, json.Number or bool; arrays are flattened) and,
// when known, its FHIR type. The type is known for a choice element, from
// its JSON name (valueQuantity is a Quantity), after "as", and for what
// resolve() returns; it is written as in a JSON name: "Quantity", "DateTime".
type item struct {
	v   any
	typ string
}

// evalCtx is the state of one extraction. Nodes append their results to buf
// and return them as a slice of it, so that evaluating an expression
// allocates nothing once buf has grown.
type evalCtx struct {
	root item
	buf  []item
	vals []Value // Extract's scratch list of values
}

// node is a compiled FHIRPath expression. eval appends the result of the
// expression over in to c.buf, contiguously from len(c.buf) at the call,
// and returns that part of c.buf. in must not lie above that point.
type node interface {
	eval(c *evalCtx, in []item) []item
}

// keep moves r to c.buf[start:] and truncates c.buf after it, dropping any
// scratch items a node left between start and r.
func (c *evalCtx) keep(start int, r []item) []item {
	n := copy(c.buf[start:start+len(r)], r)
	c.buf = c.buf[:start+n]
	return c.buf[start:]
}

// push appends one item, for evaluating an expression on a single input.
func (c *evalCtx) push(it item) []item {
	c.buf = append(c.buf, it)
	return c.buf[len(c.buf)-1:]
}

// appendValue appends v, flattening a JSON array.
func (c *evalCtx) appendValue(v any, typ string) {
	if a, ok := v.([]any); ok {
		for _, e := range a {
			if e != nil {
				c.buf = append(c.buf, item{e, typ})
			}
		}
		return
	}
	if v != nil {
		c.buf = append(c.buf, item{v, typ})
	}
}

type (
	// pathNode evaluates its steps one after the other.
	pathNode struct{ steps []node }
	// typeNode is a type name at the start of a path: it keeps the
	// resources of that type (any resource for Resource and DomainResource).
	typeNode struct{ name string }
	// memberNode selects an element. For a choice element (value[x]) it
	// tries each JSON name the element can take.
	memberNode struct {
		name    string
		choices []choice
	}
	// rootNode is %resource: the resource being indexed.
	rootNode   struct{}
	unionNode  struct{ parts []node }
	whereNode  struct{ cond node }
	asNode     struct{ typ string }
	isNode     struct{ typ string }
	existsNode struct{}
	firstNode  struct{}
	// resolveNode yields each reference with the type of the resource it
	// points to, read from the reference itself: no resource is fetched.
	resolveNode  struct{}
	literalNode  struct{ v any }
	equalityNode struct {
		left, right node
		negate      bool
	}
	// logicNode is "and" or "or" with FHIRPath's three-valued logic.
	logicNode struct {
		left, right node
		or          bool
	}
)

type choice struct{ key, typ string }

func (n pathNode) eval(c *evalCtx, in []item) []item {
	start := len(c.buf)
	r := in
	for _, s := range n.steps {
		r = s.eval(c, r)
	}
	return c.keep(start, r)
}

func (n typeNode) eval(c *evalCtx, in []item) []item {
	start := len(c.buf)
	for _, it := range in {
		m, ok := it.v.(map[string]any)
		if !ok {
			continue
		}
		rt, _ := m["resourceType"].(string)
		if rt != "" && (rt == n.name || n.name == "Resource" || n.name == "DomainResource") {
			c.buf = append(c.buf, it)
		}
	}
	return c.buf[start:]
}

func (n memberNode) eval(c *evalCtx, in []item) []item {
	start := len(c.buf)
	for _, it := range in {
		m, ok := it.v.(map[string]any)
		if !ok {
			continue
		}
		if v, ok := m[n.name]; ok {
			c.appendValue(v, "")
			continue
		}
		for _, ch := range n.choices {
			if v, ok := m[ch.key]; ok {
				c.appendValue(v, ch.typ)
			}
		}
	}
	return c.buf[start:]
}

func (rootNode) eval(c *evalCtx, _ []item) []item { return c.push(c.root) }

func (n unionNode) eval(c *evalCtx, in []item) []item {
	start := len(c.buf)
	end := start
	for _, p := range n.parts {
		r := p.eval(c, in)
		end += copy(c.buf[end:end+len(r)], r)
		c.buf = c.buf[:end]
	}
	return c.buf[start:]
}

func (n whereNode) eval(c *evalCtx, in []item) []item {
	start := len(c.buf)
	for _, it := range in {
		mark := len(c.buf)
		ok := isTrue(n.cond.eval(c, c.push(it)))
		c.buf = c.buf[:mark]
		if ok {
			c.buf = append(c.buf, it)
		}
	}
	return c.buf[start:]
}

func (n asNode) eval(c *evalCtx, in []item) []item {
	start := len(c.buf)
	for _, it := range in {
		if it.typ == n.typ {
			c.buf = append(c.buf, it)
		}
	}
	return c.buf[start:]
}

func (n isNode) eval(c *evalCtx, in []item) []item {
	if len(in) != 1 {
		return c.buf[len(c.buf):]
	}
	return c.push(item{v: in[0].typ == n.typ})
}

func (existsNode) eval(c *evalCtx, in []item) []item { return c.push(item{v: len(in) > 0}) }

func (firstNode) eval(c *evalCtx, in []item) []item {
	if len(in) == 0 {
		return c.buf[len(c.buf):]
	}
	return c.push(in[0])
}

func (resolveNode) eval(c *evalCtx, in []item) []item {
	start := len(c.buf)
	for _, it := range in {
		if t := referenceType(it.v); t != "" {
			c.buf = append(c.buf, item{it.v, t})
		}
	}
	return c.buf[start:]
}

func (n literalNode) eval(c *evalCtx, _ []item) []item { return c.push(item{v: n.v}) }

func (n equalityNode) eval(c *evalCtx, in []item) []item {
	start := len(c.buf)
	l := n.left.eval(c, in)
	r := n.right.eval(c, in)
	if len(l) != 1 || len(r) != 1 {
		c.buf = c.buf[:start]
		return c.buf[start:]
	}
	eq := equal(l[0].v, r[0].v)
	c.buf = c.buf[:start]
	return c.push(item{v: eq != n.negate})
}

func (n logicNode) eval(c *evalCtx, in []item) []item {
	start := len(c.buf)
	l := truth(n.left.eval(c, in))
	r := truth(n.right.eval(c, in))
	c.buf = c.buf[:start]
	var v int // FHIRPath three-valued logic: -1 false, 0 empty, 1 true
	if n.or {
		v = max(l, r)
	} else {
		v = min(l, r)
	}
	if v == 0 {
		return c.buf[start:]
	}
	return c.push(item{v: v > 0})
}

// truth maps a collection to -1 (false), 0 (empty) or 1 (true); a single
// non-boolean item counts as true, as in FHIRPath.
func truth(r []item) int {
	if len(r) == 0 {
		return 0
	}
	if b, ok := r[0].v.(bool); ok && len(r) == 1 && !b {
		return -1
	}
	return 1
}

func isTrue(r []item) bool { return truth(r) > 0 }

func equal(a, b any) bool {
	switch a := a.(type) {
	case string:
		s, ok := b.(string)
		return ok && a == s
	case bool:
		v, ok := b.(bool)
		return ok && a == v
	case json.Number:
		n, ok := b.(json.Number)
		return ok && a == n
	}
	return false
}

// choiceSuffixes are the FHIR R4 data types a choice element can take, by
// the suffix they give its JSON name: valueQuantity, onsetDateTime.
var choiceSuffixes = map[string]bool{
	"Base64Binary": true, "Boolean": true, "Canonical": true, "Code": true, "Date": true,
	"DateTime": true, "Decimal": true, "Id": true, "Instant": true, "Integer": true,
	"Markdown": true, "Oid": true, "PositiveInt": true, "String": true, "Time": true,
	"UnsignedInt": true, "Uri": true, "Url": true, "Uuid": true,
	"Address": true, "Age": true, "Annotation": true, "Attachment": true,
	"CodeableConcept": true, "Coding": true, "ContactPoint": true, "Count": true,
	"Distance": true, "Duration": true, "HumanName": true, "Identifier": true,
	"Money": true, "Period": true, "Quantity": true, "Range": true, "Ratio": true,
	"Reference": true, "SampledData": true, "Signature": true, "Timing": true,
	"ContactDetail": true, "Contributor": true, "DataRequirement": true,
	"Expression": true, "ParameterDefinition": true, "RelatedArtifact": true,
	"TriggerDefinition": true, "UsageContext": true, "Dosage": true, "Meta": true,
}

// typeName writes a FHIR type name as it appears in a JSON name, so that
// "dateTime" (as FHIRPath writes it) matches effectiveDateTime.
func typeName(t string) string {
	if t == "" || t[0] < 'a' || t[0] > 'z' {
		return t
	}
	return string(t[0]-'a'+'A') + t[1:]
}

// compiler turns parsed expressions into nodes. choices are the JSON names
// of choice elements the parameter may meet (from its XPath).
type compiler struct {
	choices []string
}

func (cp *compiler) compile(e expr) (node, error) {
	switch e := e.(type) {
	case identExpr:
		if e.name[0] >= 'A' && e.name[0] <= 'Z' {
			return typeNode{e.name}, nil
		}
		return cp.member(e.name), nil
	case memberExpr:
		return cp.path(e.target, cp.member(e.name))
	case callExpr:
		fn, err := cp.function(e)
		if err != nil {
			return nil, err
		}
		if e.target == nil {
			return fn, nil
		}
		return cp.path(e.target, fn)
	case typeExpr:
		operand, err := cp.compile(e.operand)
		if err != nil {
			return nil, err
		}
		if e.op == "is" {
			return pathNode{[]node{operand, isNode{typeName(e.typ)}}}, nil
		}
		return pathNode{[]node{operand, asNode{typeName(e.typ)}}}, nil
	case binaryExpr:
		l, err := cp.compile(e.left)
		if err != nil {
			return nil, err
		}
		r, err := cp.compile(e.right)
		if err != nil {
			return nil, err
		}
		switch e.op {
		case "|":
			return unionNode{[]node{l, r}}, nil
		case "=", "!=":
			return equalityNode{left: l, right: r, negate: e.op == "!="}, nil
		case "and", "or":
			return logicNode{left: l, right: r, or: e.op == "or"}, nil
		}
	case literalExpr:
		return literalNode{e.value}, nil
	case varExpr:
		if e.name == "resource" || e.name == "rootResource" {
			return rootNode{}, nil
		}
	}
	return nil, fmt.Errorf("unsupported FHIRPath: %s", e)
}

// path compiles target and appends step to it.
func (cp *compiler) path(target expr, step node) (node, error) {
	t, err := cp.compile(target)
	if err != nil {
		return nil, err
	}
	if p, ok := t.(pathNode); ok {
		return pathNode{append(p.steps[:len(p.steps):len(p.steps)], step)}, nil
	}
	return pathNode{[]node{t, step}}, nil
}

func (cp *compiler) member(name string) memberNode {
	n := memberNode{name: name}
	for _, k := range cp.choices {
		if strings.HasPrefix(k, name) && choiceSuffixes[k[len(name):]] {
			n.choices = append(n.choices, choice{key: k, typ: k[len(name):]})
		}
	}
	return n
}

func (cp *compiler) function(e callExpr) (node, error) {
	typeArg := func() (string, error) {
		if len(e.args) == 1 {
			if id, ok := e.args[0].(identExpr); ok {
				return typeName(id.name), nil
			}
		}
		return "", fmt.Errorf("%s() takes a type name", e.name)
	}
	switch {
	case e.name == "where" && len(e.args) == 1:
		cond, err := cp.compile(e.args[0])
		if err != nil {
			return nil, err
		}
		return whereNode{cond}, nil
	case e.name == "as" || e.name == "ofType":
		t, err := typeArg()
		if err != nil {
			return nil, err
		}
		return asNode{t}, nil
	case e.name == "is":
		t, err := typeArg()
		if err != nil {
			return nil, err
		}
		return isNode{t}, nil
	case e.name == "exists" && len(e.args) == 0:
		return existsNode{}, nil
	case e.name == "first" && len(e.args) == 0:
		return firstNode{}, nil
	case e.name == "resolve" && len(e.args) == 0:
		return resolveNode{}, nil
	case e.name == "extension" && len(e.args) == 1:
		url, ok := e.args[0].(literalExpr)
		if _, isString := url.value.(string); !ok || !isString {
			return nil, fmt.Errorf("extension() takes a URL string")
		}
		return pathNode{[]node{
			memberNode{name: "extension"},
			whereNode{equalityNode{left: memberNode{name: "url"}, right: literalNode{url.value}}},
		}}, nil
	}
	return nil, fmt.Errorf("unsupported function %s", e)
}

// program is a compiled search parameter: the expression and, for a
// composite, its components' expressions.
type program struct {
	code       string // of the parameter, or of the component's definition
	typ        Type
	root       node
	components []*program
}

func compileParam(p *Param, choices []string) (*program, error) {
	if p.Expression == "" {
		return nil, fmt.Errorf("no expression")
	}
	if p.Type == TypeSpecial {
		return nil, fmt.Errorf("special parameters are not extracted")
	}
	cp := &compiler{choices: choices}
	prog, err := cp.program(p.Code, p.Type, p.Expression)
	if err != nil {
		return nil, err
	}
	if p.Type == TypeComposite {
		if len(p.Components) == 0 {
			return nil, fmt.Errorf("composite without components")
		}
		for _, comp := range p.Components {
			cprog, err := cp.program(comp.Code, comp.Type, comp.Expression)
			if err != nil {
				return nil, fmt.Errorf("component %s: %w", comp.Code, err)
			}
			prog.components = append(prog.components, cprog)
		}
	}
	return prog, nil
}

func (cp *compiler) program(code string, t Type, expression string) (*program, error) {
	e, err := parse(expression)
	if err != nil {
		return nil, err
	}
	n, err := cp.compile(e)
	if err != nil {
		return nil, err
	}
	return &program{code: code, typ: t, root: n}, nil
}
