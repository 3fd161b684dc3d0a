package validate

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/sharedcare/sharedcare/internal/fhir/r4"
)

// formatCorpus holds strings that probe the edges of every string-typed
// primitive. Vertical tab is left out: it is whitespace to the Java regexes
// of the definitions but not to Go's.
var formatCorpus = []string{
	"", " ", "a", "A-1.b", "a_b", "a b", "a  b", " a", "a ", "a\tb", "a\nb", "a\r\nb", "a\fb", "a\x01b", "\x00",
	strings.Repeat("x", 64), strings.Repeat("x", 65), "ünïcödé", "中文", "http://example.org/a?b=c#d", "urn:x",
	"urn:oid:1", "urn:oid:1.2", "urn:oid:2.16.840.1", "urn:oid:3.1", "urn:oid:1.02", "urn:oid:1.0", "urn:oid:1.", "urn:oid:1..2", "urn:oid:.1",
	"urn:uuid:c757873d-ec9a-4326-a141-556f43239520", "urn:uuid:C757873D-EC9A-4326-A141-556F43239520",
	"urn:uuid:c757873d-ec9a-4326-a141-556f4323952", "urn:uuid:c757873dxec9a-4326-a141-556f43239520", "c757873d-ec9a-4326-a141-556f43239520",
	"SGVsbG8=", "SGVs bG8=", " SGVsbG8= ", "SGVsbG8", "SGV*bG8=", "====", "AAAA\nAAAA", "AAA",
	"0001", "0000", "2024", "202", "20245", "2024-", "2024-0", "2024-00", "2024-13", "2024-12", "2024-02-29", "2023-02-29",
	"2024-04-30", "2024-04-31", "2024-01-32", "2024-01-00", "2024-1-01", "2024-01-1",
	"2024-01-01T", "2024-01-01T10:00:00Z", "2024-01-01T10:00:00", "2024-01-01T10:00Z", "2024-01-01T23:59:60+14:00",
	"2024-01-01T10:00:00+14:01", "2024-01-01T10:00:00-13:59", "2024-01-01T10:00:00.123456789Z", "2024-01-01T10:00:00.Z",
	"2024-01-01T24:00:00Z", "2024-01-01T10:60:00Z", "2024-01-01T10:00:61Z", "2024-01-01 10:00:00Z", "2024-01-01T10:00:00+0100",
	"2024-01T10:00:00Z", "2024T10:00:00Z", "2024-01-01T10:00:00z",
	"00:00:00", "23:59:60", "23:59:60.5", "24:00:00", "10:00", "10:00:00Z", "10:00:00.", "1:00:00",
	"<div>x</div>", "in progress", "in  progress",
}

// prose lists what the specification's text rules out although the regex
// of the type lets it through.
func prose(typ, s string) bool {
	switch typ {
	case "string", "markdown":
		for _, c := range []byte(s) {
			if c < 0x20 && c != '\t' && c != '\r' && c != '\n' {
				return true // not representable in XML
			}
		}
	case "date", "dateTime", "instant":
		if len(s) >= 10 {
			y, _ := strconv.Atoi(s[:4])
			m, _ := strconv.Atoi(s[5:7])
			d, _ := strconv.Atoi(s[8:10])
			return d > daysIn(y, m) // not in the calendar
		}
	}
	return false
}

func TestChecksAgreeWithDefinitionRegexes(t *testing.T) {
	for typ, p := range r4.Primitives {
		if p.JSON != "string" || typ == "xhtml" {
			continue
		}
		re := regexp.MustCompile(`^(?:` + p.Regex + `)$`)
		for _, s := range formatCorpus {
			// Strings are never empty in FHIR JSON, whatever the regex says.
			want := s != "" && re.MatchString(s) && !prose(typ, s)
			got := checkPrimitive([]byte(s), typ) == ""
			assert.Equal(t, want, got, "%s %q", typ, s)
		}
	}
}

func TestNumbersAgreeWithDefinitionRegexes(t *testing.T) {
	corpus := []string{"0", "-0", "1", "-1", "10", "2147483647", "2147483648", "-2147483648", "-2147483649",
		"99999999999999999999", "0.5", "-0.5", "1.0", "1e3", "1E+3", "1e-3", "0.000", "123.456e-7"}
	for typ, p := range r4.Primitives {
		if p.JSON != "number" {
			continue
		}
		re := regexp.MustCompile(`^(?:` + p.Regex + `)$`)
		for _, s := range corpus {
			assert.True(t, json.Valid([]byte(s)), s)
			n, err := strconv.ParseInt(s, 10, 64)
			inRange := err == nil && n >= -1<<31 && n < 1<<31 // 32 bits, says the prose
			want := re.MatchString(s) && (typ == "decimal" || inRange)
			got := checkPrimitive([]byte(s), typ) == ""
			assert.Equal(t, want, got, "%s %s", typ, s)
		}
	}
}

func TestIsXHTML(t *testing.T) {
	for s, want := range map[string]bool{
		`<div xmlns="http://www.w3.org/1999/xhtml">x</div>`: true,
		"<div>x</div>":      true,
		"<div/>":            true,
		"\n <div\n>x</div>": true,
		"<DIV>x</DIV>":      false,
		"<divx>":            false,
		"<div":              false,
		"<p>x</p>":          false,
		"text":              false,
		"":                  false,
	} {
		assert.Equal(t, want, isXHTML([]byte(s)), s)
	}
}

func TestValidNHSNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"9912003888":  true,
		"9449307539":  true,
		"9000000009":  true,
		"9912003890":  false, // the check digit should be 6
		"9912003896":  true,
		"0000000060":  false, // the check digit would be 10: never issued
		"991200388":   false,
		"99120038888": false,
		"991200388a":  false,
		"991 200 388": false,
		"":            false,
	} {
		assert.Equal(t, want, validNHSNumber([]byte(s)), s)
	}
}
