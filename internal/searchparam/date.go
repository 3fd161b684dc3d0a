package searchparam

import "time"

// dateRange returns the period a FHIR date, dateTime or instant covers, from
// low (inclusive) to high (exclusive), in UTC. Its precision sets the width:
// 2024 is the whole year, 2024-03-05T10:15 one minute, 10:15:00.25 a
// hundredth of a second. A time without a zone is taken as UTC, as is a date.
func dateRange(s string) (low, high time.Time, ok bool) {
	year, ok := digits(s, 0, 4)
	if !ok {
		return low, high, false
	}
	if len(s) == 4 {
		low = time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
		return low, low.AddDate(1, 0, 0), true
	}
	month, ok := field(s, 4, '-', 1, 12)
	if !ok {
		return low, high, false
	}
	if len(s) == 7 {
		low = time.Date(year, time.Month(month), 1, 0, 0, 0, 0, time.UTC)
		return low, low.AddDate(0, 1, 0), true
	}
	day, ok := field(s, 7, '-', 1, 31)
	if !ok || day > daysIn(year, time.Month(month)) {
		return low, high, false
	}
	if len(s) == 10 {
		low = time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
		return low, low.AddDate(0, 0, 1), true
	}
	hour, ok := field(s, 10, 'T', 0, 23)
	if !ok {
		return low, high, false
	}
	minute, ok := field(s, 13, ':', 0, 59)
	if !ok {
		return low, high, false
	}
	i, sec, nsec := 16, 0, 0
	width := time.Minute
	if i < len(s) && s[i] == ':' {
		if sec, ok = field(s, 16, ':', 0, 59); !ok {
			return low, high, false
		}
		i, width = 19, time.Second
		if i < len(s) && s[i] == '.' {
			j := i + 1
			for j < len(s) && isDigit(s[j]) {
				if j-i <= 9 { // beyond nanoseconds the digits change nothing
					nsec = nsec*10 + int(s[j]-'0')
					width /= 10
				}
				j++
			}
			if j == i+1 {
				return low, high, false
			}
			for n := min(j-i-1, 9); n < 9; n++ {
				nsec *= 10
			}
			i = j
		}
	}
	offset, ok := zone(s[i:])
	if !ok {
		return low, high, false
	}
	low = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC).Add(-offset)
	return low, low.Add(width), true
}

// field reads the two digits after the separator sep at s[i], within [lo, hi].
func field(s string, i int, sep byte, lo, hi int) (int, bool) {
	if i >= len(s) || s[i] != sep {
		return 0, false
	}
	n, ok := digits(s, i+1, 2)
	return n, ok && n >= lo && n <= hi
}

// digits reads the n decimal digits at s[i:].
func digits(s string, i, n int) (int, bool) {
	if len(s) < i+n {
		return 0, false
	}
	v := 0
	for _, c := range []byte(s[i : i+n]) {
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// zone reads a time zone, "", "Z" or ±hh:mm, as its offset from UTC.
func zone(s string) (time.Duration, bool) {
	switch {
	case s == "" || s == "Z":
		return 0, true
	case len(s) == 6 && (s[0] == '+' || s[0] == '-') && s[3] == ':':
		h, ok1 := digits(s, 1, 2)
		m, ok2 := digits(s, 4, 2)
		if !ok1 || !ok2 || h > 14 || m > 59 {
			return 0, false
		}
		offset := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute
		if s[0] == '-' {
			offset = -offset
		}
		return offset, true
	}
	return 0, false
}

func daysIn(year int, m time.Month) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
