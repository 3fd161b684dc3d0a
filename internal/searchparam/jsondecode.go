package searchparam

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a JSON parser for decode. It produces exactly the values
// encoding/json's Decoder with UseNumber produces when decoding into an any
// (map[string]any, []any, string, json.Number, bool, nil), and rejects
// exactly the inputs that Decoder.Decode followed by a check for trailing
// data rejects, but without reflection and with few allocations besides the
// values themselves. FuzzDecodeMatchesEncodingJSON checks the equivalence.

// maxJSONDepth is encoding/json's limit on the nesting of arrays and
// objects; it also bounds the parser's recursion.
const maxJSONDepth = 10000

// errTrailingData is the error of parseJSON for a complete JSON value that
// is followed by more than whitespace, where encoding/json's Decode succeeds
// and the following Token does not return io.EOF.
var errTrailingData = errors.New("data after the JSON value")

// jsonSyntaxError is the error of parseJSON for input that is not JSON.
type jsonSyntaxError struct {
	msg    string
	offset int // of the byte at fault, or the input's length at its end
}

func (e *jsonSyntaxError) Error() string {
	return fmt.Sprintf("%s (offset %d)", e.msg, e.offset)
}

// jsonParser is the state of one parse. Its scratch stacks collect the
// elements of the arrays and the members of the objects being parsed, so
// that each array and map is allocated once, at its final size.
type jsonParser struct {
	data  []byte
	pos   int
	depth int
	elems []any        // elements of the arrays being parsed
	mems  []jsonMember // members of the objects being parsed
	buf   []byte       // scratch for unescaping strings
}

type jsonMember struct {
	key string
	val any
}

var jsonParserPool = sync.Pool{New: func() any {
	return &jsonParser{elems: make([]any, 0, 64), mems: make([]jsonMember, 0, 64), buf: make([]byte, 0, 256)}
}}

// maxPooledScratch bounds the scratch space kept for reuse, so that one huge
// resource does not pin its memory in the pool.
const maxPooledScratch = 1 << 12

// parseJSON parses data, one JSON value with optional surrounding
// whitespace. The error is errTrailingData when the value is followed by
// other data, and a *jsonSyntaxError when data is not JSON.
func parseJSON(data []byte) (any, error) {
	p := jsonParserPool.Get().(*jsonParser)
	p.data, p.pos, p.depth = data, 0, 0
	v, err := p.value()
	if err == nil {
		err = p.end()
	}
	if err != nil {
		v = nil
	}
	p.release()
	return v, err
}

// end checks that only whitespace follows the top-level value, as
// Decoder.Token returning io.EOF after Decoder.Decode does.
func (p *jsonParser) end() error {
	p.skipSpace()
	if p.pos < len(p.data) {
		return errTrailingData
	}
	return nil
}

func (p *jsonParser) release() {
	p.data = nil
	if cap(p.elems) > maxPooledScratch || cap(p.mems) > maxPooledScratch || cap(p.buf) > maxPooledScratch*16 {
		return
	}
	clear(p.elems) // after an error, drop references into the parsed values
	p.elems = p.elems[:0]
	clear(p.mems)
	p.mems = p.mems[:0]
	p.buf = p.buf[:0]
	jsonParserPool.Put(p)
}

func isJSONSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

func (p *jsonParser) skipSpace() {
	for p.pos < len(p.data) && isJSONSpace(p.data[p.pos]) {
		p.pos++
	}
}

// syntaxError reports the byte at p.pos, or the end of the input, as
// unexpected in context.
func (p *jsonParser) syntaxError(context string) error {
	if p.pos >= len(p.data) {
		return &jsonSyntaxError{msg: "unexpected end of JSON input", offset: len(p.data)}
	}
	return &jsonSyntaxError{msg: "invalid character " + quoteJSONChar(p.data[p.pos]) + " " + context, offset: p.pos}
}

// quoteJSONChar formats c as encoding/json's syntax errors do.
func quoteJSONChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	s := fmt.Sprintf("%q", rune(c))
	return "'" + s[1:len(s)-1] + "'"
}

// value parses the value at p.pos, after optional whitespace.
func (p *jsonParser) value() (any, error) {
	p.skipSpace()
	if p.pos >= len(p.data) {
		return nil, p.syntaxError("")
	}
	switch c := p.data[p.pos]; c {
	case '{':
		return p.object()
	case '[':
		return p.array()
	case '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return s, nil
	case 't':
		return true, p.literal("true")
	case 'f':
		return false, p.literal("false")
	case 'n':
		return nil, p.literal("null")
	default:
		if c == '-' || '0' <= c && c <= '9' {
			return p.number()
		}
		return nil, p.syntaxError("looking for beginning of value")
	}
}

// literal consumes lit, which starts at p.pos.
func (p *jsonParser) literal(lit string) error {
	for i := 0; i < len(lit); i++ {
		if p.pos >= len(p.data) || p.data[p.pos] != lit[i] {
			return p.syntaxError("in literal " + lit + " (expecting '" + lit[i:i+1] + "')")
		}
		p.pos++
	}
	return nil
}

// enter counts one more level of nesting at the '[' or '{' at p.pos.
func (p *jsonParser) enter() error {
	p.depth++
	if p.depth > maxJSONDepth {
		return p.syntaxError("exceeded max depth")
	}
	p.pos++
	return nil
}

func (p *jsonParser) object() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	base := len(p.mems)
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		p.depth--
		return map[string]any{}, nil
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.syntaxError("looking for beginning of object key string")
		}
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.syntaxError("after object key")
		}
		p.pos++
		val, err := p.value()
		if err != nil {
			return nil, err
		}
		p.mems = append(p.mems, jsonMember{key, val})
		p.skipSpace()
		if p.pos < len(p.data) && p.data[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.data) && p.data[p.pos] == '}' {
			p.pos++
			break
		}
		return nil, p.syntaxError("after object key:value pair")
	}
	mems := p.mems[base:]
	m := make(map[string]any, len(mems))
	for _, kv := range mems {
		m[kv.key] = kv.val // a later duplicate wins, as in encoding/json
	}
	clear(mems)
	p.mems = p.mems[:base]
	p.depth--
	return m, nil
}

func (p *jsonParser) array() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	base := len(p.elems)
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		p.depth--
		return []any{}, nil // encoding/json gives an empty, non-nil slice
	}
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		p.elems = append(p.elems, v)
		p.skipSpace()
		if p.pos < len(p.data) && p.data[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.data) && p.data[p.pos] == ']' {
			p.pos++
			break
		}
		return nil, p.syntaxError("after array element")
	}
	elems := p.elems[base:]
	a := make([]any, len(elems))
	copy(a, elems)
	clear(elems)
	p.elems = p.elems[:base]
	p.depth--
	return a, nil
}

// number parses the number at p.pos, keeping its text.
func (p *jsonParser) number() (any, error) {
	d := p.data
	start := p.pos
	if d[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(d) && d[p.pos] == '0':
		p.pos++
	case p.pos < len(d) && '1' <= d[p.pos] && d[p.pos] <= '9':
		p.pos++
		p.digits()
	default:
		return nil, p.syntaxError("in numeric literal")
	}
	if p.pos < len(d) && d[p.pos] == '.' {
		p.pos++
		if !p.digits() {
			return nil, p.syntaxError("after decimal point in numeric literal")
		}
	}
	if p.pos < len(d) && (d[p.pos] == 'e' || d[p.pos] == 'E') {
		p.pos++
		if p.pos < len(d) && (d[p.pos] == '+' || d[p.pos] == '-') {
			p.pos++
		}
		if !p.digits() {
			return nil, p.syntaxError("in exponent of numeric literal")
		}
	}
	return json.Number(d[start:p.pos]), nil
}

// digits consumes a run of decimal digits and reports whether it was not
// empty.
func (p *jsonParser) digits() bool {
	start := p.pos
	for p.pos < len(p.data) && '0' <= p.data[p.pos] && p.data[p.pos] <= '9' {
		p.pos++
	}
	return p.pos > start
}

// plainStringByte says which bytes a string can hold as they are: printable
// ASCII other than '"' and '\\'.
var plainStringByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// commonKeys interns the most frequent FHIR element names, so that parsing
// their keys does not allocate.
var commonKeys = func() map[string]string {
	names := []string{
		// data types
		"code", "system", "display", "coding", "reference", "value", "text",
		"id", "resourceType", "status", "meta", "tag", "profile", "lastUpdated",
		"versionId", "security", "source", "url", "extension", "modifierExtension",
		"start", "end", "unit", "comparator", "use", "type", "period", "assigner",
		"identifier", "family", "given", "prefix", "suffix", "line", "city",
		"district", "state", "postalCode", "country", "rank", "div", "version",
		"userSelected", "low", "high", "numerator", "denominator", "currency",
		"contentType", "language", "title", "data", "size", "hash", "creation",
		"authorString", "authorReference", "time", "note", "name", "telecom",
		"address", "gender", "birthDate", "active",
		// resources
		"subject", "patient", "encounter", "category", "effectiveDateTime",
		"effectivePeriod", "issued", "valueQuantity", "valueCodeableConcept",
		"valueString", "valueBoolean", "valueInteger", "valueDateTime",
		"valuePeriod", "valueReference", "valueCode", "valueCoding",
		"valueDecimal", "valueUri", "valueIdentifier", "component",
		"interpretation", "referenceRange", "performer", "bodySite", "method",
		"specimen", "device", "hasMember", "derivedFrom", "basedOn", "partOf",
		"dataAbsentReason", "intent", "priority", "requester", "recorder",
		"asserter", "clinicalStatus", "verificationStatus", "severity",
		"onsetDateTime", "abatementDateTime", "recordedDate", "authoredOn",
		"occurrenceDateTime", "medicationCodeableConcept",
		"medicationReference", "dosageInstruction", "reasonCode",
		"reasonReference", "participant", "individual", "location",
		"serviceProvider", "class", "organization", "managingOrganization",
		"generalPractitioner", "contact", "relationship", "qualification",
		"sequence", "amount", "productOrService", "provider", "insurance",
		"focal", "coverage", "item", "total", "net", "created", "billablePeriod",
		"informationSequence", "adjudication", "diagnosis", "result",
		"entry", "resource", "fullUrl", "request", "response", "search",
		"contained", "role", "vaccineCode", "primarySource", "outcome",
	}
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[n] = n
	}
	return m
}()

// key parses the object key at p.pos, which is at its opening quote.
func (p *jsonParser) key() (string, error) {
	d := p.data
	start := p.pos + 1
	i := start
	for i < len(d) && plainStringByte[d[i]] {
		i++
	}
	if i < len(d) && d[i] == '"' {
		p.pos = i + 1
		if k, ok := commonKeys[string(d[start:i])]; ok {
			return k, nil
		}
		return string(d[start:i]), nil
	}
	return p.strSlow(start, i)
}

// str parses the string at p.pos, which is at its opening quote.
func (p *jsonParser) str() (string, error) {
	d := p.data
	start := p.pos + 1
	i := start
	for i < len(d) && plainStringByte[d[i]] {
		i++
	}
	if i < len(d) && d[i] == '"' {
		p.pos = i + 1
		return string(d[start:i]), nil
	}
	return p.strSlow(start, i)
}

// strSlow continues parsing a string whose content starts at start, at the
// first byte i that is not plain ASCII. It unescapes like encoding/json:
// invalid UTF-8 bytes and unpaired surrogate escapes become U+FFFD.
func (p *jsonParser) strSlow(start, i int) (string, error) {
	d := p.data
	buf := append(p.buf[:0], d[start:i]...)
	defer func() { p.buf = buf[:0] }()
	for i < len(d) {
		c := d[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return string(buf), nil
		case c == '\\':
			if i+1 >= len(d) {
				p.pos = len(d)
				return "", p.syntaxError("")
			}
			switch e := d[i+1]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				for j := i + 2; j < i+6; j++ {
					if j >= len(d) || hexValue(d[j]) < 0 {
						p.pos = j
						return "", p.syntaxError("in \\u hexadecimal character escape")
					}
				}
				r := getU4(d[i:])
				i += 6
				if utf16.IsSurrogate(r) {
					if r2 := getU4(d[i:]); r2 >= 0 {
						if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
							buf = utf8.AppendRune(buf, dec)
							i += 6
							continue
						}
					}
					r = unicode.ReplacementChar
				}
				buf = utf8.AppendRune(buf, r)
				continue
			default:
				p.pos = i + 1
				return "", p.syntaxError("in string escape code")
			}
			i += 2
		case c < 0x20:
			p.pos = i
			return "", p.syntaxError("in string literal")
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			i++
		default:
			r, size := utf8.DecodeRune(d[i:])
			buf = utf8.AppendRune(buf, r) // utf8.RuneError for each invalid byte
			i += size
		}
	}
	p.pos = len(d)
	return "", p.syntaxError("")
}

func hexValue(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// getU4 decodes the \uXXXX escape at the start of s, or returns -1.
func getU4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		h := hexValue(c)
		if h < 0 {
			return -1
		}
		r = r<<4 | h
	}
	return r
}
