package searchparam

import "strings"

// maxExponent bounds the exponent of a decimal, so that a value such as
// 1e999999999 cannot make the extractor write a billion zeros.
const maxExponent = 400

// decimalRange returns the range a decimal stands for given its precision,
// half a unit of its last digit either side: 5.4 is [5.35, 5.45], 100 is
// [99.5, 100.5], 1.0e2 is [95, 105]. The ends are exact decimals.
//
// It works on the digits: a magnitude of m units of 10^-scale lies between
// (10m-5) and (10m+5) units of 10^-(scale+1), which is m with a 5 appended,
// and m-1 with a 5 appended. Big-number arithmetic would cost more than the
// rest of an extraction.
func decimalRange(s string) (low, high string, ok bool) {
	neg, m, scale, ok := parseDecimal(s)
	if !ok {
		return "", "", false
	}
	above := placePoint(m+"5", scale+1)
	var below string
	if m == "0" {
		below = "-" + placePoint("5", scale+1)
	} else {
		below = placePoint(decrement(m)+"5", scale+1)
	}
	if neg {
		return negate(above), negate(below), true
	}
	return below, above, true
}

// parseDecimal splits a JSON number into its sign and its value as the
// integer m (digits without leading zeros) times 10^-scale.
func parseDecimal(s string) (neg bool, m string, scale int, ok bool) {
	neg = strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	mantissa, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mantissa = s[:i]
		if exp, ok = parseExponent(s[i+1:]); !ok {
			return false, "", 0, false
		}
	}
	intPart, frac, hasPoint := strings.Cut(mantissa, ".")
	if intPart == "" || !allDigits(intPart) || !allDigits(frac) || (hasPoint && frac == "") {
		return false, "", 0, false
	}
	m = strings.TrimLeft(intPart+frac, "0")
	if m == "" {
		m = "0"
	}
	return neg, m, len(frac) - exp, true
}

func parseExponent(e string) (int, bool) {
	neg := false
	if e != "" && (e[0] == '+' || e[0] == '-') {
		neg = e[0] == '-'
		e = e[1:]
	}
	if e == "" || len(e) > 3 || !allDigits(e) {
		return 0, false
	}
	n := 0
	for _, c := range []byte(e) {
		n = n*10 + int(c-'0')
	}
	if n > maxExponent {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

func allDigits(s string) bool {
	for _, c := range []byte(s) {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// decrement returns the digits m minus one; m is at least 1.
func decrement(m string) string {
	b := []byte(m)
	i := len(b) - 1
	for b[i] == '0' {
		b[i] = '9'
		i--
	}
	b[i]--
	if r := strings.TrimLeft(string(b), "0"); r != "" {
		return r
	}
	return "0"
}

// placePoint writes the integer digits times 10^-scale as a decimal.
func placePoint(digits string, scale int) string {
	digits = strings.TrimLeft(digits, "0")
	if scale <= 0 {
		if digits == "" {
			return "0"
		}
		return digits + strings.Repeat("0", -scale)
	}
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	return digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
}

func negate(s string) string {
	if t, ok := strings.CutPrefix(s, "-"); ok {
		return t
	}
	return "-" + s
}
