package validate

import (
	"bytes"
	"strconv"
)

// The checks below implement the regexes of the R4 primitive types
// (r4.Primitives) by hand, because every value of every write goes through
// them and regexp would dominate the cost of validation. The tests hold them
// to the regexes. Where the regex is looser than the specification's prose,
// the prose wins: dates must exist in the calendar, integers fit in 32 bits,
// and strings carry no control characters that XML could not represent.

// maxString is the specification's limit on the size of a string.
const maxString = 1024 * 1024

// checkString reports why s is not a valid string or markdown, or "".
func checkString(s []byte) string {
	if len(s) == 0 {
		return "must not be empty"
	}
	if len(s) > maxString {
		return "is longer than 1 MB"
	}
	for _, c := range s {
		if c < 0x20 && c != '\t' && c != '\r' && c != '\n' {
			return "contains a control character"
		}
	}
	return ""
}

// isJavaSpace reports whether c is in the \s class of the Java regexes the
// definitions were written for: it includes vertical tab, unlike Go's.
func isJavaSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isID(s []byte) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !isAlnum(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isCode matches [^\s]+(\s[^\s]+)*: no whitespace at the ends and no run of it inside.
func isCode(s []byte) bool {
	if len(s) == 0 || isJavaSpace(s[0]) || isJavaSpace(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if isJavaSpace(s[i]) && isJavaSpace(s[i-1]) {
			return false
		}
	}
	return true
}

// isURI matches \S*, made non-empty by the JSON rule that strings never are.
func isURI(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	for _, c := range s {
		if isJavaSpace(c) {
			return false
		}
	}
	return true
}

// isOID matches urn:oid:[0-2](\.(0|[1-9][0-9]*))+.
func isOID(s []byte) bool {
	rest, ok := bytes.CutPrefix(s, []byte("urn:oid:"))
	if !ok || len(rest) < 3 || rest[0] < '0' || rest[0] > '2' {
		return false
	}
	rest = rest[1:]
	for len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 {
			return false
		}
		n := digitRun(rest[1:])
		if n == 0 || n > 1 && rest[1] == '0' {
			return false
		}
		rest = rest[1+n:]
	}
	return true
}

func digitRun(s []byte) int {
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	return n
}

// isUUID matches urn:uuid: and a lower-case 8-4-4-4-12 hex uuid.
func isUUID(s []byte) bool {
	rest, ok := bytes.CutPrefix(s, []byte("urn:uuid:"))
	if !ok || len(rest) != 36 {
		return false
	}
	for i, c := range rest {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isDigit(c) && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

// isBase64 matches (\s*([0-9a-zA-Z\+/=]){4}\s*)+: groups of four characters
// of the alphabet, with whitespace allowed anywhere.
func isBase64(s []byte) bool {
	n := 0
	for _, c := range s {
		switch {
		case isAlnum(c) || c == '+' || c == '/' || c == '=':
			n++
		case isJavaSpace(c):
		default:
			return false
		}
	}
	return n > 0 && n%4 == 0
}

// checkInteger reports why a JSON number is not a valid integer,
// positiveInt or unsignedInt, or "".
func checkInteger(s []byte, typ string) string {
	neg := len(s) > 0 && s[0] == '-'
	digits := s
	if neg {
		digits = s[1:]
	}
	if digitRun(digits) != len(digits) || len(digits) == 0 {
		return "must be a whole number"
	}
	n, err := strconv.ParseInt(string(s), 10, 32)
	if err != nil {
		return "is out of range for a 32-bit integer"
	}
	switch {
	case typ == "positiveInt" && n < 1:
		return "must be at least 1"
	case typ == "unsignedInt" && (n < 0 || neg):
		return "must not be negative"
	}
	return ""
}

// checkDateTime reports why s is not a valid date, dateTime or instant
// (selected by typ), or "". A date is YYYY, YYYY-MM or YYYY-MM-DD; a dateTime
// is a date or a full date with a time and a zone; an instant is always the
// latter.
func checkDateTime(s []byte, typ string) string {
	const bad = "is not a valid "
	year, ok := fixedDigits(s, 0, 4)
	if !ok || year == 0 {
		return bad + typ
	}
	rest := s[4:]
	month, day := 0, 0
	if len(rest) > 0 {
		if month, ok = field(rest, '-', 1, 12); !ok {
			return bad + typ
		}
		rest = rest[3:]
	}
	if len(rest) > 0 {
		if day, ok = field(rest, '-', 1, 31); !ok {
			return bad + typ
		}
		if day > daysIn(year, month) {
			return "is not a date in the calendar"
		}
		rest = rest[3:]
	}
	switch {
	case typ == "date" && len(rest) > 0:
		return bad + typ
	case typ == "instant" && (day == 0 || len(rest) == 0):
		return bad + "instant: it must have a date, a time and a time zone"
	case len(rest) == 0:
		return ""
	case day == 0 || rest[0] != 'T':
		return bad + typ
	}
	rest = rest[1:]
	n := timeLen(rest)
	if n == 0 {
		return bad + typ
	}
	if !isZone(rest[n:]) {
		return bad + typ + ": a time must have a time zone"
	}
	return ""
}

// checkTime reports why s is not a valid time (hh:mm:ss with an optional fraction), or "".
func checkTime(s []byte) string {
	if n := timeLen(s); n == 0 || n != len(s) {
		return "is not a valid time"
	}
	return ""
}

// timeLen returns the length of the hh:mm:ss(.fff) at the start of s, or 0.
func timeLen(s []byte) int {
	h, ok := fixedDigits(s, 0, 2)
	if !ok || h > 23 {
		return 0
	}
	if _, ok := field(s[2:], ':', 0, 59); !ok {
		return 0
	}
	if _, ok := field(s[5:], ':', 0, 60); !ok {
		return 0
	}
	n := 8
	if n < len(s) && s[n] == '.' {
		d := digitRun(s[n+1:])
		if d == 0 {
			return 0
		}
		n += 1 + d
	}
	return n
}

// isZone matches Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00).
func isZone(s []byte) bool {
	if len(s) == 1 && s[0] == 'Z' {
		return true
	}
	if len(s) != 6 || s[0] != '+' && s[0] != '-' {
		return false
	}
	h, ok := fixedDigits(s, 1, 2)
	if !ok || h > 14 {
		return false
	}
	m, ok := field(s[3:], ':', 0, 59)
	return ok && (h < 14 || m == 0)
}

// field reads sep followed by two digits in [lo, hi] at the start of s.
func field(s []byte, sep byte, lo, hi int) (int, bool) {
	if len(s) < 3 || s[0] != sep {
		return 0, false
	}
	v, ok := fixedDigits(s, 1, 2)
	return v, ok && v >= lo && v <= hi
}

func fixedDigits(s []byte, at, n int) (int, bool) {
	if len(s) < at+n {
		return 0, false
	}
	v := 0
	for _, c := range s[at : at+n] {
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// isXHTML accepts what the JSON form allows for Narrative.div without
// parsing it: a string holding a div element.
func isXHTML(s []byte) bool {
	s = bytes.TrimLeft(s, " \t\r\n")
	if !bytes.HasPrefix(s, []byte("<div")) || len(s) == 4 {
		return false
	}
	c := s[4]
	return c == '>' || c == '/' || isJavaSpace(c)
}

// validNHSNumber reports whether s is ten digits whose last is the Modulus
// 11 check digit of the first nine (NHS Data Dictionary, "NHS Number").
func validNHSNumber(s []byte) bool {
	if len(s) != 10 || digitRun(s) != 10 {
		return false
	}
	sum := 0
	for i, c := range s[:9] {
		sum += int(c-'0') * (10 - i)
	}
	check := 11 - sum%11
	if check == 11 {
		check = 0
	}
	return check != 10 && check == int(s[9]-'0')
}
