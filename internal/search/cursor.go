package search

import (
	"encoding/base64"
	"encoding/json"

	"github.com/sharedcare/sharedcare/internal/fhir"
)

// Cursor is a position in the ordered matches of a search, carried in a
// page link as the opaque _page token. Paging by position rather than by
// offset keeps the links valid while resources are written: a page starts
// right after (or, going back, ends right before) the row the cursor names,
// wherever that row now is.
type Cursor struct {
	// Keys are the sort key values of the row, one per Query.Sort key, as
	// the store renders them in text; nil where the row has no value.
	Keys []*string `json:"k,omitempty"`
	// Type and ID name the row, which breaks ties between equal keys.
	Type string `json:"t"`
	ID   string `json:"i"`
	// Before asks for the page that ends before the row (a previous
	// link) instead of the one that starts after it.
	Before bool `json:"b,omitempty"`
}

// Encode returns the cursor as a _page token.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c) // a struct of strings always marshals
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a _page token made by Encode.
func DecodeCursor(s string) (*Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	var c Cursor
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.Type == "" || c.ID == "" {
		return nil, fhir.Errorf(fhir.KindInvalid, "invalid", "_page=%q is not a page token this server issued", s)
	}
	return &c, nil
}
