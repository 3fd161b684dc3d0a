package access

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/sharedcare/sharedcare/internal/fhir/jsonscan"
)

// A small JSON scanner for Classify, which runs on every resource a
// response may carry and needs only meta and a few top-level members: it
// walks the document once, skipping what it does not need, instead of
// decoding it, and allocates only for what it keeps. It reports malformed
// JSON that it notices, and Classify fails closed on it; it is not a
// validator (stored resources were validated when written).

var errJSON = errors.New("access: malformed JSON")

// jsonIter walks the members of an object or the items of an array:
//
//	it := newJSONObject(b)
//	for key, value, ok := it.next(); ok; key, value, ok = it.next() { ... }
//	if it.err != nil { ... }
type jsonIter struct {
	b      []byte
	i      int
	object bool
	done   bool
	err    error
}

func newJSONObject(b []byte) jsonIter { return newJSONIter(b, '{') }

func newJSONArray(b []byte) jsonIter { return newJSONIter(b, '[') }

func newJSONIter(b []byte, open byte) jsonIter {
	it := jsonIter{b: b, object: open == '{'}
	it.i = jsonscan.SkipSpace(b, 0)
	if it.i == len(b) || b[it.i] != open {
		it.fail()
		return it
	}
	it.i = jsonscan.SkipSpace(b, it.i+1)
	if it.i < len(b) && b[it.i] == it.close() {
		it.end()
	}
	return it
}

func (it *jsonIter) close() byte {
	if it.object {
		return '}'
	}
	return ']'
}

func (it *jsonIter) fail() { it.err, it.done = errJSON, true }

// end checks that nothing but space follows the closing bracket at it.i.
func (it *jsonIter) end() {
	it.done = true
	if jsonscan.SkipSpace(it.b, it.i+1) != len(it.b) {
		it.err = errJSON
	}
}

// next returns the next member's name (for an object) and value. The name
// is the literal's bytes without the quotes, unescaped when it has escapes.
// ok is false at the end or on malformed input (it.err).
func (it *jsonIter) next() (key, value []byte, ok bool) {
	if it.done {
		return nil, nil, false
	}
	b, i := it.b, it.i
	if it.object {
		if i >= len(b) || b[i] != '"' {
			it.fail()
			return nil, nil, false
		}
		end, err := jsonscan.SkipString(b, i)
		if err != nil {
			it.fail()
			return nil, nil, false
		}
		if key, err = jsonText(b[i:end]); err != nil {
			it.fail()
			return nil, nil, false
		}
		if i = jsonscan.SkipSpace(b, end); i == len(b) || b[i] != ':' {
			it.fail()
			return nil, nil, false
		}
		i = jsonscan.SkipSpace(b, i+1)
	}
	end, err := jsonscan.SkipValue(b, i)
	if err != nil {
		it.fail()
		return nil, nil, false
	}
	value = b[i:end]
	if i = jsonscan.SkipSpace(b, end); i == len(b) {
		it.fail()
		return nil, nil, false
	}
	switch b[i] {
	case ',':
		it.i = jsonscan.SkipSpace(b, i+1)
	case it.close():
		it.i = i
		it.end()
	default:
		it.fail()
		return nil, nil, false
	}
	return key, value, true
}

// jsonText returns the text of the string literal lit. Escapes are rare in
// names and codes but must be honoured: "co\u0064e" is the member code,
// and a code spelt with escapes must not slip past the sensitivity check.
func jsonText(lit []byte) ([]byte, error) {
	if len(lit) < 2 || lit[0] != '"' || lit[len(lit)-1] != '"' {
		return nil, errJSON
	}
	if bytes.IndexByte(lit, '\\') < 0 {
		return lit[1 : len(lit)-1], nil
	}
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		return nil, errJSON
	}
	return []byte(s), nil
}

// jsonString returns the text of value when it is a string literal, and
// nil for any other kind of value.
func jsonString(value []byte) []byte {
	if len(value) == 0 || value[0] != '"' {
		return nil
	}
	s, _ := jsonText(value)
	return s
}

// jsonCoding reads the system and code of a Coding object.
func jsonCoding(value []byte) (system, code []byte, err error) {
	it := newJSONObject(value)
	for key, v, ok := it.next(); ok; key, v, ok = it.next() {
		switch string(key) {
		case "system":
			system = jsonString(v)
		case "code":
			code = jsonString(v)
		}
	}
	return system, code, it.err
}
