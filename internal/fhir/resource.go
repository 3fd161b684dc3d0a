package fhir

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"time"

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

// EncodeObject writes members back as a compact JSON object.
func EncodeObject(members []Member) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.Key)
		b.Write(k)
		b.WriteByte(':')
		if err := json.Compact(&b, m.Value); err != nil {
			b.Write(m.Value)
		}
	}
	b.WriteByte('}')
	return b.Bytes()
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
func Stamp(raw []byte, id string, version int64, lastUpdated time.Time, tags []Coding) ([]byte, error) {
	top, err := Object(raw)
	if err != nil {
		return nil, err
	}
	idJSON, _ := json.Marshal(id)
	top = set(top, "id", idJSON, "resourceType")

	var meta []Member
	if m, _ := get(top, "meta"); m != nil {
		if meta, err = Object(m); err != nil {
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
	top = set(top, "meta", EncodeObject(meta), "id")
	return EncodeObject(top), nil
}

// Coding is a FHIR Coding, as used in meta.tag and meta.security.
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

func replaceTags(meta []Member, tags []Coding) ([]Member, error) {
	var existing []json.RawMessage
	if t, _ := get(meta, "tag"); t != nil {
		if err := json.Unmarshal(t, &existing); err != nil {
			return nil, err
		}
	}
	replaced := map[string]bool{}
	for _, t := range tags {
		replaced[t.System] = true
	}
	var out []json.RawMessage
	for _, e := range existing {
		var c Coding
		if err := json.Unmarshal(e, &c); err == nil && replaced[c.System] {
			continue
		}
		out = append(out, e)
	}
	for _, t := range tags {
		b, _ := json.Marshal(t)
		out = append(out, b)
	}
	b, _ := json.Marshal(out)
	return set(meta, "tag", b, "lastUpdated"), nil
}

// Peek returns the resourceType and id members of a resource without decoding the rest.
func Peek(raw []byte) (resourceType, id string, err error) {
	var head struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
	}
	err = json.Unmarshal(raw, &head)
	return head.ResourceType, head.ID, err
}
