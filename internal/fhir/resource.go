package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sharedcare/sharedcare/internal/fhir/jsonscan"
)

// Resource is one version of a stored resource: the envelope the store keeps
// around the raw JSON. Raw is what the client sent, with only id and meta
// (versionId, lastUpdated and server-stamped tags) set by the server; it is
// served as stored, never re-encoded from a typed model.
type Resource struct {
	Type        string
	ID          string
	VersionID   int64
	LastUpdated time.Time
	Deleted     bool   // a deletion marker in the history; Raw is nil
	Raw         []byte // compact JSON; nil for a deletion
	// Owner is the ODS code of the organisation that wrote the version (its
	// owner tag), kept beside the JSON so that ownership and visibility can
	// be decided without parsing it, and for deletions, which have no JSON.
	Owner string
	// PatientID is the id of the Patient whose record holds the resource
	// (the resource itself for a Patient), empty when it belongs to no
	// patient. Every patient-owned row carries it so that the schema can be
	// distributed by patient.
	PatientID string
}

// Ref returns "Type/id".
func (r Resource) Ref() string { return r.Type + "/" + r.ID }

// ETag returns the weak entity tag for the version, W/"n".
func (r Resource) ETag() string { return `W/"` + strconv.FormatInt(r.VersionID, 10) + `"` }

var idPattern = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

// ValidID reports whether id is a valid FHIR logical id.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// LastUpdatedFormat is the instant format the server writes in meta.lastUpdated:
// UTC with millisecond precision, which every FHIR client parses.
const LastUpdatedFormat = "2006-01-02T15:04:05.000Z07:00"

// Member is one member of a JSON object, in document order.
type Member struct {
	Key   string
	Value json.RawMessage
}

// Object decodes a JSON object into its members in document order. It keeps
// every value's bytes as they were, so that rewriting one member leaves the
// rest of the document untouched. It checks the whole document, then
// splits it with a byte scanner: on every write (Stamp) and every
// transaction entry (reference rewriting), the token decoder it replaced
// cost three times as long.
func Object(raw []byte) ([]Member, error) {
	if !json.Valid(raw) {
		var v any
		return nil, json.Unmarshal(raw, &v)
	}
	// The members are slices of one copy, not of the caller's buffer.
	raw = bytes.Clone(raw)
	i := jsonscan.SkipSpace(raw, 0)
	if raw[i] != '{' {
		return nil, &json.UnmarshalTypeError{Value: "non-object", Type: nil}
	}
	var out []Member
	for i = jsonscan.SkipSpace(raw, i+1); raw[i] != '}'; {
		end, _ := jsonscan.SkipString(raw, i)
		key := string(raw[i+1 : end-1])
		if bytes.IndexByte(raw[i:end], '\\') >= 0 {
			_ = json.Unmarshal(raw[i:end], &key)
		}
		i = jsonscan.SkipSpace(raw, jsonscan.SkipSpace(raw, end)+1) // past ':'
		vend, _ := jsonscan.SkipValue(raw, i)
		out = append(out, Member{Key: key, Value: json.RawMessage(raw[i:vend:vend])})
		if i = jsonscan.SkipSpace(raw, vend); raw[i] == ',' {
			i = jsonscan.SkipSpace(raw, i+1)
		}
	}
	return out, nil
}

func get(members []Member, key string) (json.RawMessage, int) {
	for i, m := range members {
		if m.Key == key {
			return m.Value, i
		}
	}
	return nil, -1
}

// set replaces key's value in place, or inserts it after the member named
// after (or at the end when after is absent).
func set(members []Member, key string, value json.RawMessage, after string) []Member {
	if _, i := get(members, key); i >= 0 {
		members[i].Value = value
		return members
	}
	_, j := get(members, after)
	if j < 0 {
		return append(members, Member{key, value})
	}
	members = append(members, Member{})
	copy(members[j+2:], members[j+1:])
	members[j+1] = Member{key, value}
	return members
}

// Stamp returns raw with id, meta.versionId and meta.lastUpdated set by the
// server and meta.tag members with the given systems replaced by tags. Every
// other member keeps its place and its bytes. The result is compact JSON.
//
// It compacts raw first, in the one pass that also checks it, and then
// splits and joins compact bytes only: compacting member by member after a
// separate check cost twice as much (Stamp runs on every write).
func Stamp(raw []byte, id string, version int64, lastUpdated time.Time, tags []Coding) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(raw))
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	top, err := compactMembers(buf.Bytes())
	if err != nil {
		return nil, err
	}
	idJSON, _ := json.Marshal(id)
	top = set(top, "id", idJSON, "resourceType")

	var meta []Member
	if m, _ := get(top, "meta"); m != nil {
		if meta, err = compactMembers(m); err != nil {
			return nil, err
		}
	}
	meta = set(meta, "versionId", json.RawMessage(strconv.Quote(strconv.FormatInt(version, 10))), "")
	meta = set(meta, "lastUpdated", json.RawMessage(strconv.Quote(lastUpdated.UTC().Format(LastUpdatedFormat))), "versionId")
	if len(tags) > 0 {
		meta, err = replaceTags(meta, tags)
		if err != nil {
			return nil, err
		}
	}
	top = set(top, "meta", joinMembers(meta, 0), "id")
	return joinMembers(top, len(buf.Bytes())+len(idJSON)+96), nil
}

// compactMembers splits a compact, valid JSON object into its members,
// which are slices of raw.
func compactMembers(raw []byte) ([]Member, error) {
	if len(raw) < 2 || raw[0] != '{' {
		return nil, &json.UnmarshalTypeError{Value: "non-object", Type: nil}
	}
	out := make([]Member, 0, 16)
	for i := 1; raw[i] != '}'; {
		end, err := jsonscan.SkipString(raw, i)
		if err != nil {
			return nil, err
		}
		key := string(raw[i+1 : end-1])
		if bytes.IndexByte(raw[i:end], '\\') >= 0 {
			_ = json.Unmarshal(raw[i:end], &key)
		}
		vend, err := jsonscan.SkipValue(raw, end+1) // past ':'
		if err != nil {
			return nil, err
		}
		out = append(out, Member{Key: key, Value: json.RawMessage(raw[end+1 : vend : vend])})
		if i = vend; raw[i] == ',' {
			i++
		}
	}
	return out, nil
}

// joinMembers writes members whose values are compact as a compact JSON
// object.
func joinMembers(members []Member, size int) []byte {
	if size == 0 {
		for _, m := range members {
			size += len(m.Key) + len(m.Value) + 4
		}
	}
	b := make([]byte, 0, size+2)
	b = append(b, '{')
	for i, m := range members {
		if i > 0 {
			b = append(b, ',')
		}
		if plainKey(m.Key) {
			b = append(b, '"')
			b = append(b, m.Key...)
			b = append(b, '"')
		} else {
			k, _ := json.Marshal(m.Key)
			b = append(b, k...)
		}
		b = append(b, ':')
		b = append(b, m.Value...)
	}
	return append(b, '}')
}

// plainKey reports whether key needs no escaping in a JSON string, as every
// FHIR element name does not.
func plainKey(key string) bool {
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// Coding is a FHIR Coding, as used in meta.tag and meta.security.
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

func replaceTags(meta []Member, tags []Coding) ([]Member, error) {
	out := []byte{'['}
	if t, _ := get(meta, "tag"); t != nil {
		// meta is compact: each item is kept as its bytes.
		err := compactItems(t, func(item []byte) {
			var system string
			_ = TopLevel(item, func(key string, value []byte) error {
				if key == "system" {
					system, _ = topString(value)
				}
				return nil
			})
			if system != "" && slices.ContainsFunc(tags, func(c Coding) bool { return c.System == system }) {
				return
			}
			if len(out) > 1 {
				out = append(out, ',')
			}
			out = append(out, item...)
		})
		if err != nil {
			return nil, err
		}
	}
	for _, t := range tags {
		if len(out) > 1 {
			out = append(out, ',')
		}
		b, _ := json.Marshal(t)
		out = append(out, b...)
	}
	return set(meta, "tag", append(out, ']'), "lastUpdated"), nil
}

// compactItems calls fn with each item of the compact JSON array raw.
func compactItems(raw []byte, fn func(item []byte)) error {
	if len(raw) < 2 || raw[0] != '[' {
		return errors.New("meta.tag is not an array")
	}
	for i := 1; raw[i] != ']'; {
		end, err := jsonscan.SkipValue(raw, i)
		if err != nil {
			return err
		}
		fn(raw[i:end])
		if i = end; raw[i] == ',' {
			i++
		}
	}
	return nil
}

// Peek returns the resourceType and id members of a resource without
// decoding the rest. It reads the top level of the object only: an error
// deeper down is the validator's to find. (A full decode here cost a tenth
// of a bulk import's CPU.)
func Peek(raw []byte) (resourceType, id string, err error) {
	err = TopLevel(raw, func(key string, value []byte) error {
		switch key {
		case "resourceType":
			resourceType, err = topString(value)
		case "id":
			id, err = topString(value)
		}
		return err
	})
	return resourceType, id, err
}

// topString decodes a string member value as encoding/json would into a
// string field: null leaves it empty, and any other kind is an error.
func topString(value []byte) (string, error) {
	if string(value) == "null" {
		return "", nil
	}
	if len(value) >= 2 && value[0] == '"' && bytes.IndexByte(value, '\\') < 0 && utf8.Valid(value) {
		return string(value[1 : len(value)-1]), nil
	}
	var s string
	err := json.Unmarshal(value, &s)
	return s, err
}

// TopLevel calls fn with each member of the JSON object raw, in document
// order, with its value's bytes. It checks the object's own syntax but not
// inside its values; it stops at fn's first error.
func TopLevel(raw []byte, fn func(key string, value []byte) error) error {
	i := jsonscan.SkipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return errors.New("the JSON is not an object")
	}
	syntax := func(i int, what string) error {
		return fmt.Errorf("invalid JSON at offset %d: %s", i, what)
	}
	i = jsonscan.SkipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		i++
	} else {
		for {
			if i >= len(raw) || raw[i] != '"' {
				return syntax(i, "expected a member name")
			}
			end, err := jsonscan.SkipString(raw, i)
			if err != nil {
				return syntax(i, "unterminated string")
			}
			key := string(raw[i+1 : end-1])
			if bytes.IndexByte(raw[i:end], '\\') >= 0 {
				if err := json.Unmarshal(raw[i:end], &key); err != nil {
					return err
				}
			}
			if i = jsonscan.SkipSpace(raw, end); i >= len(raw) || raw[i] != ':' {
				return syntax(i, "expected ':'")
			}
			i = jsonscan.SkipSpace(raw, i+1)
			vend, err := jsonscan.SkipValue(raw, i)
			if err != nil {
				return syntax(i, "expected a value")
			}
			if err := fn(key, raw[i:vend]); err != nil {
				return err
			}
			if i = jsonscan.SkipSpace(raw, vend); i < len(raw) && raw[i] == ',' {
				i = jsonscan.SkipSpace(raw, i+1)
				continue
			}
			if i >= len(raw) || raw[i] != '}' {
				return syntax(i, "expected ',' or '}'")
			}
			i++
			break
		}
	}
	if i = jsonscan.SkipSpace(raw, i); i != len(raw) {
		return syntax(i, "data after the object")
	}
	return nil
}
