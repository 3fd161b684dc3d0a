package searchparam

import (
	"math/big"
	"strings"
)

// maxExponent bounds the exponent of a decimal, so that a value such as
// 1e999999999 cannot make the extractor build a number of a billion digits.
const maxExponent = 400

// decimalRange returns the range a decimal stands for given its precision,
// half a unit of its last digit either side: 5.4 is [5.35, 5.45], 100 is
// [99.5, 100.5], 1.0e2 is [95, 105]. The ends are exact decimals.
func decimalRange(s string) (low, high string, ok bool) {
	mantissa, exp, ok := splitExponent(s)
	if !ok {
		return "", "", false
	}
	v, ok := new(big.Rat).SetString(s)
	if !ok {
		return "", "", false
	}
	scale := -exp // digits after the point of the last significant digit
	if dot := strings.IndexByte(mantissa, '.'); dot >= 0 {
		scale += len(mantissa) - dot - 1
	}
	// half = 5 * 10^-(scale+1)
	half := new(big.Rat)
	pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(scale+1))), nil)
	if scale+1 >= 0 {
		half.SetFrac(big.NewInt(5), pow)
	} else {
		half.SetInt(pow.Mul(pow, big.NewInt(5)))
	}
	places := max(scale+1, 0)
	lo := new(big.Rat).Sub(v, half)
	hi := new(big.Rat).Add(v, half)
	return lo.FloatString(places), hi.FloatString(places), true
}

// splitExponent checks that s is a JSON number and splits off its exponent.
func splitExponent(s string) (mantissa string, exp int, ok bool) {
	mantissa = s
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mantissa = s[:i]
		e := s[i+1:]
		neg := false
		if e != "" && (e[0] == '+' || e[0] == '-') {
			neg = e[0] == '-'
			e = e[1:]
		}
		if e == "" || len(e) > 3 {
			return "", 0, false
		}
		for _, c := range []byte(e) {
			if !isDigit(c) {
				return "", 0, false
			}
			exp = exp*10 + int(c-'0')
		}
		if exp > maxExponent {
			return "", 0, false
		}
		if neg {
			exp = -exp
		}
	}
	m := strings.TrimPrefix(mantissa, "-")
	if m == "" || !isDigit(m[0]) || !isDigit(m[len(m)-1]) || strings.Count(m, ".") > 1 {
		return "", 0, false
	}
	for _, c := range []byte(m) {
		if c != '.' && !isDigit(c) {
			return "", 0, false
		}
	}
	return mantissa, exp, true
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
