package searchparam

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Outcomes of parsing, as decode distinguishes them.
const (
	parsedOK = iota
	parsedInvalid
	parsedTrailing
)

// decodeStd parses raw as decode did before parseJSON: encoding/json's
// Decoder with UseNumber, then a check that nothing but whitespace follows.
func decodeStd(raw []byte) (any, int) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, parsedInvalid
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, parsedTrailing
	}
	return v, parsedOK
}

func decodeNew(raw []byte) (any, int) {
	v, err := parseJSON(raw)
	switch {
	case errors.Is(err, errTrailingData):
		return nil, parsedTrailing
	case err != nil:
		return nil, parsedInvalid
	}
	return v, parsedOK
}

func checkDecodeMatches(t *testing.T, raw []byte) {
	t.Helper()
	want, wantKind := decodeStd(raw)
	got, gotKind := decodeNew(raw)
	if gotKind != wantKind {
		_, err := parseJSON(raw)
		t.Fatalf("input %q: outcome %d (%v), encoding/json's %d", truncate(raw), gotKind, err, wantKind)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("input %q:\n got %#v\nwant %#v", truncate(raw), got, want)
	}
}

func truncate(raw []byte) []byte {
	if len(raw) > 200 {
		return raw[:200]
	}
	return raw
}

var jsonEdgeCases = []string{
	`{}`, ` {} `, "\t\r\n{\n}\r\n\t", `{"a":{}}`, `{"a":[]}`, `[]`, `[[[]],[[],[1]]]`,
	`{"resourceType":"Patient","a":[1,[2,[3,[4]]]],"b":{"c":{"d":null}}}`,
	`{"s":"caf\u00e9"}`, `{"s":"caf\u00E9"}`, `{"s":"\ud83d\ude00"}`, `{"s":"\ud800"}`,
	`{"s":"\udc00\ud800"}`, `{"s":"\ud800\u0041"}`, `{"s":"\ud800\ud800\udc00"}`,
	`{"s":"\ud800\"}`, `{"s":"\ud800\uZZZZ"}`, `{"s":"\u12"}`, `{"s":"\u12G4"}`,
	`{"s":"\"\\\/\b\f\n\r\t"}`, `{"s":"\'"}`, `{"s":"\x"}`, `{"s":"\`, `{"s":"a`,
	"{\"s\":\"\xff\"}", "{\"s\":\"a\xc3\"}", "{\"s\":\"\xc3\xa9\"}", "{\"s\":\"\xed\xa0\x80\"}",
	"{\"s\":\"\xef\xbf\xbd\"}", "{\"\xff\":1}", "{\"s\":\"\xe2\x82\"}", "{\"s\":\"tab\there\"}",
	"{\"s\":\"nul\x00\"}", "{\"s\":\"del\x7f\"}",
	`{"n":-0}`, `{"n":0}`, `{"n":1e5}`, `{"n":1E+5}`, `{"n":0.5e-3}`, `{"n":-12.340}`,
	`{"n":123456789012345678901234567890}`, `{"n":1e400}`, `{"n":01}`, `{"n":-01}`, `{"n":1.}`,
	`{"n":.5}`, `{"n":-}`, `{"n":+1}`, `{"n":1e}`, `{"n":1e+}`, `{"n":0x10}`, `{"n":1.5.2}`, `{"n":Infinity}`,
	`{"n":NaN}`, `{"n":1_000}`,
	`{"a":1,}`, `[1,]`, `{,}`, `[,]`, `{"a" 1}`, `{"a":}`, `{"a"}`, `{a:1}`, `{'a':1}`, `{"a":1 "b":2}`,
	`{"a":1}}`, `{"a":1`, `{"a":[1}`, `{"a":[1,2}]}`, `{"a":1,"a":2}`, `{"a":{"x":1},"a":[2]}`,
	`true`, `false`, `null`, `tru`, `fals`, `nul`, `{"a":tru}`, `{"a":nulL}`, `{"a":truex}`, `{"a":true}`,
	`{"a":false,"b":null}`, `{"a":True}`,
	`{}x`, `{} x`, `{}{}`, `{} {}`, `{}]`, `{} "a"`, `{}  `, `{}` + "\x00", "{}\u00a0", `[]x`,
	`1`, `1x`, `1 x`, `"a"`, `"a"x`, `"a" x`, `truex`, `true x`, `null1`, `-`, `1.5 `, `[1]`, `""`,
	``, ` `, "\xef\xbb\xbf{}", `{"a":1}` + "\v", "\f{}",
}

func FuzzDecodeMatchesEncodingJSON(f *testing.F) {
	dir := filepath.Join("..", "..", "..", "shared", "fhir", "ukcore-examples", "json")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	if len(files) == 0 {
		f.Fatalf("no UK Core examples in %s", dir)
	}
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	for _, s := range jsonEdgeCases {
		f.Add([]byte(s))
	}
	f.Add([]byte(strings.Repeat(`{"a":[`, 200) + strings.Repeat(`]}`, 200)))
	f.Add([]byte(strings.Repeat(`[`, maxJSONDepth) + strings.Repeat(`]`, maxJSONDepth)))
	f.Add([]byte(strings.Repeat(`[`, maxJSONDepth+1) + strings.Repeat(`]`, maxJSONDepth+1)))
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkDecodeMatches(t, raw)
	})
}

func TestDecodeMatchesEncodingJSONEdgeCases(t *testing.T) {
	for _, s := range jsonEdgeCases {
		checkDecodeMatches(t, []byte(s))
	}
	rs := syntheaResources(t)
	for _, r := range rs[:min(len(rs), 200)] {
		checkDecodeMatches(t, r)
	}
}

func TestDecodeDepth(t *testing.T) {
	nest := func(open, close string, n int) []byte {
		return []byte(strings.Repeat(open, n) + strings.Repeat(close, n))
	}
	for _, n := range []int{maxJSONDepth - 1, maxJSONDepth, maxJSONDepth + 1, 3 * maxJSONDepth} {
		checkDecodeMatches(t, nest("[", "]", n))
		checkDecodeMatches(t, nest(`{"a":`, "}", n))
		checkDecodeMatches(t, []byte(strings.Repeat("[", n))) // unterminated
	}
	if _, err := parseJSON(nest("[", "]", maxJSONDepth)); err != nil {
		t.Fatalf("depth %d: %v", maxJSONDepth, err)
	}
	if _, err := parseJSON(nest("[", "]", maxJSONDepth+1)); err == nil {
		t.Fatalf("depth %d: no error", maxJSONDepth+1)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, c := range []struct{ raw, want string }{
		{`{"resourceType":"Patient"`, "resource is not valid JSON: unexpected end of JSON input"},
		{`{"resourceType":"Patient",}`, "resource is not valid JSON: invalid character '}' looking for beginning of object key string"},
		{`{"resourceType":"Patient"} x`, "resource has data after its JSON object"},
		{`[]`, "resource is not a JSON object"},
		{`{"resourceType":"Observation"}`, `resourceType is "Observation", expected "Patient"`},
	} {
		_, err := decode("Patient", []byte(c.raw))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("decode(%s) = %v, want %q", c.raw, err, c.want)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	cases := []struct {
		name string
		raw  []byte
	}{
		{"SyntheaObservation", synthea(b, "86575039-871b-4223-9abb-439821846191")},
		{"SyntheaPatient", firstSynthea(b, "Patient")},
		{"UKCoreBloodPressure", ukcore(b, "UKCore-Observation-VitalSigns-BloodPressure-Example.json")},
	}
	for _, c := range cases {
		b.Run(c.name+"/encoding-json", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.raw)))
			for b.Loop() {
				if _, kind := decodeStd(c.raw); kind != parsedOK {
					b.Fatal(kind)
				}
			}
		})
		b.Run(c.name+"/parseJSON", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.raw)))
			for b.Loop() {
				if _, err := parseJSON(c.raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
