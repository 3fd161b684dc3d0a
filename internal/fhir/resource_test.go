package fhir

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var stampTime = time.Date(2026, 11, 24, 1, 2, 3, 4_000_000, time.UTC)

func TestStamp(t *testing.T) {
	tags := []Coding{{System: "https://sharedcare.example/source", Code: "gp"}}
	for _, tc := range []struct{ name, in, want string }{
		{"pretty input comes out compact, members in place",
			"{\n  \"resourceType\": \"Patient\",\n  \"active\" : true,\n  \"name\": [ { \"family\": \"Smith\" } ]\n}",
			`{"resourceType":"Patient","id":"p1","meta":{"versionId":"3","lastUpdated":"2026-11-24T01:02:03.004Z",` +
				`"tag":[{"system":"https://sharedcare.example/source","code":"gp"}]},"active":true,"name":[{"family":"Smith"}]}`},
		{"id and meta are replaced where they stand; other tags and meta members stay",
			`{"meta":{"profile":["p"],"versionId":"9","tag":[{"system":"x","code":"y"},{"system":"https://sharedcare.example/source","code":"old"}]},"id":"old","resourceType":"Patient","n":1.50}`,
			`{"meta":{"profile":["p"],"versionId":"3","lastUpdated":"2026-11-24T01:02:03.004Z","tag":[{"system":"x","code":"y"},` +
				`{"system":"https://sharedcare.example/source","code":"gp"}]},"id":"p1","resourceType":"Patient","n":1.50}`},
		{"keys spelt with escapes are decoded and written plainly",
			`{"resourceType":"Patient","\u0061ctive":true}`,
			`{"resourceType":"Patient","id":"p1","meta":{"versionId":"3","lastUpdated":"2026-11-24T01:02:03.004Z",` +
				`"tag":[{"system":"https://sharedcare.example/source","code":"gp"}]},"active":true}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Stamp([]byte(tc.in), "p1", 3, stampTime, tags)
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
		})
	}
	for _, bad := range []string{``, `[]`, `"x"`, `{"a":1`, `{"a":1} {}`, `{"meta":5}`, `{"a":[1,]}`} {
		_, err := Stamp([]byte(bad), "p1", 1, stampTime, nil)
		assert.Error(t, err, bad)
	}
}

// FuzzStamp checks Stamp against a decode of its input: for a JSON object,
// the output is compact and decodes to the input with id and meta's
// versionId and lastUpdated set, and nothing else changed.
func FuzzStamp(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Patient"}`, "{ \"meta\" : { \"tag\" : [ ] } , \"x\" : [ 1 , 2.50 ] }",
		`{"id":"a","meta":{"versionId":"1"},"\u00e9":"\ud83d\ude00"}`, `{"a":{"b":{"c":null}},"d":false}`,
		`{"meta":{"tag":[{"system":"s","code":"old"},{"system":"t"},"x",{"system":1}]}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tag := Coding{System: "s", Code: "c"}
		out, err := Stamp([]byte(in), "p1", 2, stampTime, []Coding{tag})
		var want map[string]any
		if json.Unmarshal([]byte(in), &want) != nil || want == nil {
			return // must not panic; an error or not
		}
		if repeats(t, []byte(in)) {
			return // the validator refuses repeated members before any Stamp
		}
		if m, ok := want["meta"]; ok {
			m, isObject := m.(map[string]any)
			if !isObject {
				require.Error(t, err)
				return
			}
			if tags, ok := m["tag"]; ok {
				if _, isArray := tags.([]any); !isArray {
					require.Error(t, err)
					return
				}
			}
		}
		require.NoError(t, err, in)
		var compact bytes.Buffer
		require.NoError(t, json.Compact(&compact, out), string(out))
		require.Equal(t, compact.String(), string(out), "the output is compact")
		var got map[string]any
		require.NoError(t, json.Unmarshal(out, &got))
		want["id"] = "p1"
		meta, _ := want["meta"].(map[string]any)
		if meta == nil {
			meta = map[string]any{}
		}
		meta["versionId"] = "2"
		meta["lastUpdated"] = "2026-11-24T01:02:03.004Z"
		// Tags of the stamped systems are replaced; the others stay.
		tags := []any{}
		old, _ := meta["tag"].([]any)
		for _, item := range old {
			if c, ok := item.(map[string]any); ok && c["system"] == "s" {
				continue
			}
			tags = append(tags, item)
		}
		meta["tag"] = append(tags, map[string]any{"system": "s", "code": "c"})
		want["meta"] = meta
		require.Equal(t, want, got, in)
	})
}

// repeats reports whether the object raw, or its meta, repeats a member.
func repeats(t *testing.T, raw []byte) bool {
	top, err := Object(raw)
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, m := range top {
		if seen[m.Key] {
			return true
		}
		seen[m.Key] = true
		if m.Key == "meta" && bytes.HasPrefix(bytes.TrimSpace(m.Value), []byte("{")) && repeats(t, m.Value) {
			return true
		}
	}
	return false
}

// FuzzPeek checks Peek against a full decode: wherever the document is a
// JSON object that decodes, Peek reads the same resourceType and id.
func FuzzPeek(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Patient","id":"a"}`, ` { "id" : "x\u0041" , "resourceType" : "Bundle" , "entry" : [ {} ] } `,
		`{"resourceType":"A","resourceType":"B"}`, `{"id":null}`, `{"id":1}`, `{"a":{"id":"nested"}}`, `{}`, `[]`, `{"a":1} x`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		typ, id, err := Peek([]byte(in))
		var obj map[string]any
		if json.Unmarshal([]byte(in), &obj) != nil || obj == nil {
			return // Peek may or may not find the top level well-formed; it must not panic
		}
		// Member names match exactly (encoding/json would also take "ID").
		want := map[string]string{}
		for _, k := range []string{"resourceType", "id"} {
			switch v := obj[k].(type) {
			case string:
				want[k] = v
			case nil:
			default:
				require.Error(t, err, in)
				return
			}
		}
		require.NoError(t, err, in)
		require.Equal(t, want["resourceType"], typ, in)
		require.Equal(t, want["id"], id, in)
	})
}
