package searchparam

import (
	"strings"

	"github.com/sharedcare/sharedcare/internal/fhir/r4"
)

// referenceOf reads a Reference object, or a canonical or uri written as a
// string, as a reference value. A Reference with neither a reference nor
// an identifier (only a display) has none.
func referenceOf(v any) (ReferenceValue, bool) {
	switch v := v.(type) {
	case string:
		r := parseReference(v)
		return r, v != ""
	case map[string]any:
		s := str(v, "reference")
		r := parseReference(s)
		if r.Type == "" {
			r.Type = str(v, "type")
		}
		if id, ok := v["identifier"].(map[string]any); ok {
			r.IdentifierSystem, r.IdentifierValue = str(id, "system"), str(id, "value")
		}
		return r, s != "" || r.IdentifierSystem != "" || r.IdentifierValue != ""
	}
	return ReferenceValue{}, false
}

// referenceType returns the type of resource a reference points to, for
// resolve(): from the reference's Type/id, else from Reference.type. It is
// empty when neither says, as for a urn:uuid: reference.
func referenceType(v any) string {
	switch v := v.(type) {
	case string:
		return parseReference(v).Type
	case map[string]any:
		if t := parseReference(str(v, "reference")).Type; t != "" {
			return t
		}
		return str(v, "type")
	}
	return ""
}

// parseReference reads a reference string: "Type/id", "Type/id/_history/v",
// an absolute URL that ends like those, or anything else (urn:uuid:,
// #contained, a canonical), which only sets URL. A canonical's "|version"
// is not part of its path.
func parseReference(s string) ReferenceValue {
	if s == "" {
		return ReferenceValue{}
	}
	absolute := strings.Contains(s, "://")
	if !absolute {
		// A relative reference is Type/id[/_history/v], nothing more.
		if t, id, v, ok := typeAndID(s); ok && len(s) == len(t)+1+len(id)+historyLen(v) {
			return ReferenceValue{Type: t, ID: id, Version: v}
		}
		return ReferenceValue{URL: s}
	}
	r := ReferenceValue{URL: s}
	path := s
	if i := strings.IndexByte(path, '|'); i >= 0 {
		path = path[:i]
	}
	path = path[strings.Index(path, "://")+3:]
	if i := strings.IndexByte(path, '/'); i >= 0 { // drop the host
		if t, id, v, ok := typeAndID(path[i+1:]); ok {
			r.Type, r.ID, r.Version = t, id, v
		}
	}
	return r
}

// typeAndID reads the last Type/id or Type/id/_history/v of a path.
func typeAndID(path string) (typ, id, version string, ok bool) {
	if i := strings.LastIndex(path, "/_history/"); i >= 0 {
		version, path = path[i+len("/_history/"):], path[:i]
		if !validID(version) {
			return "", "", "", false
		}
	}
	j := strings.LastIndexByte(path, '/')
	if j < 0 {
		return "", "", "", false
	}
	id, path = path[j+1:], path[:j]
	typ = path[strings.LastIndexByte(path, '/')+1:]
	if !validID(id) || !r4.IsResourceType(typ) {
		return "", "", "", false
	}
	return typ, id, version, true
}

// validID reports whether id is a FHIR logical id: [A-Za-z0-9\-.]{1,64}.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !(isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// historyLen is the length of "/_history/v", or 0 without a version.
func historyLen(version string) int {
	if version == "" {
		return 0
	}
	return len("/_history/") + len(version)
}
