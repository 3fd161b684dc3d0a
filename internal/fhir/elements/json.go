package elements

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/fhir/jsonscan"
)

// The views are cut from stored resources, which were validated when
// written, so the splitting below only finds where values end and leaves
// full checking to the json.Compact of the result. It is several times
// faster than fhir.Object's json.Decoder, which matters when a search page
// of resources is summarised.

var errSyntax = errors.New("elements: malformed JSON")

// split calls fn with the start and end of each member of the object (key
// at b[start]) or item of the array b holds, after checking that b starts
// with open.
func split(b []byte, open, close byte, fn func(start, end int) error) error {
	i := jsonscan.SkipSpace(b, 0)
	if i == len(b) || b[i] != open {
		return errSyntax
	}
	i = jsonscan.SkipSpace(b, i+1)
	if i < len(b) && b[i] == close {
		return closed(b, i)
	}
	for {
		start := i
		if open == '{' {
			if i >= len(b) || b[i] != '"' {
				return errSyntax
			}
			end, err := jsonscan.SkipString(b, i)
			if err != nil {
				return err
			}
			if i = jsonscan.SkipSpace(b, end); i == len(b) || b[i] != ':' {
				return errSyntax
			}
			i = jsonscan.SkipSpace(b, i+1)
		}
		end, err := jsonscan.SkipValue(b, i)
		if err != nil {
			return err
		}
		if err := fn(start, end); err != nil {
			return err
		}
		if i = jsonscan.SkipSpace(b, end); i == len(b) {
			return errSyntax
		}
		switch b[i] {
		case ',':
			i = jsonscan.SkipSpace(b, i+1)
		case close:
			return closed(b, i)
		default:
			return errSyntax
		}
	}
}

// closed checks that nothing but space follows the closing bracket at b[i].
func closed(b []byte, i int) error {
	if jsonscan.SkipSpace(b, i+1) != len(b) {
		return errSyntax
	}
	return nil
}

// object returns the members of the JSON object b in document order.
func object(b []byte) ([]fhir.Member, error) {
	var out []fhir.Member
	err := split(b, '{', '}', func(start, end int) error {
		keyEnd, _ := jsonscan.SkipString(b, start)
		key, err := unquote(b[start:keyEnd])
		if err != nil {
			return err
		}
		valueStart := jsonscan.SkipSpace(b, jsonscan.SkipSpace(b, keyEnd)+1)
		out = append(out, fhir.Member{Key: key, Value: b[valueStart:end]})
		return nil
	})
	return out, err
}

// array returns the items of b when b is a JSON array.
func array(b []byte) ([]json.RawMessage, bool) {
	var out []json.RawMessage
	err := split(b, '[', ']', func(start, end int) error {
		out = append(out, b[start:end])
		return nil
	})
	return out, err == nil
}

// unquote returns the text of a JSON string literal; names and codes rarely
// carry escapes, so only those go through encoding/json.
func unquote(lit []byte) (string, error) {
	if len(lit) < 2 || lit[0] != '"' || lit[len(lit)-1] != '"' {
		return "", errSyntax
	}
	if bytes.IndexByte(lit, '\\') < 0 {
		return string(lit[1 : len(lit)-1]), nil
	}
	var s string
	err := json.Unmarshal(lit, &s)
	return s, err
}

// encodeObject writes members as a JSON object with their values' bytes as
// they are.
func encodeObject(members []fhir.Member) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		writeKey(&b, m.Key)
		b.WriteByte(':')
		b.Write(m.Value)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// writeKey writes a member name as a JSON string; element names need no
// escaping, so only other names go through encoding/json.
func writeKey(b *bytes.Buffer, key string) {
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			q, _ := json.Marshal(key)
			b.Write(q)
			return
		}
	}
	b.WriteByte('"')
	b.WriteString(key)
	b.WriteByte('"')
}

// encodeArray writes items as a JSON array with their bytes as they are
// (json.Marshal would escape <, > and & inside them).
func encodeArray(items []json.RawMessage) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, item := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(item)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// compact returns the compact form of a view, which also checks that the
// splitting above produced JSON.
func compact(view []byte) ([]byte, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, view); err != nil {
		return nil, errors.Join(errSyntax, err)
	}
	return b.Bytes(), nil
}
