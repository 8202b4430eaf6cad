// Package fold is the one case fold of the module: scim.FoldCase, the
// filter's comparisons, memstore's indexes and strictjson's duplicate keys
// all compare strings in it, so that they agree on which strings are one.
package fold

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Rune maps r to its folded form: ASCII letters to lower case, other
// characters lowercased after uppercasing, so that 'ſ' and 'K' (Kelvin)
// join 's' and 'k', and 'İ' and 'ı' join 'i' (which strings.EqualFold
// does not do).
func Rune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	return unicode.ToLower(unicode.ToUpper(r))
}

// String returns s with every character folded by Rune; s itself, not
// copied, when that changes nothing.
func String(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return strings.Map(Rune, s)
		}
	}
	return s
}

// Equal reports whether String(a) == String(b), without making either
// (an invalid byte compares as U+FFFD, as String maps it).
func Equal(a, b string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := a[i], b[i]
		if x >= utf8.RuneSelf || y >= utf8.RuneSelf {
			return equalRunes(a[i:], b[i:])
		}
		if x != y && Rune(rune(x)) != Rune(rune(y)) {
			return false
		}
	}
	return len(a) == len(b)
}

// equalRunes is Equal for strings that need not be ASCII.
func equalRunes(a, b string) bool {
	for a != "" && b != "" {
		x, n := utf8.DecodeRuneInString(a)
		y, m := utf8.DecodeRuneInString(b)
		if x != y && Rune(x) != Rune(y) {
			return false
		}
		a, b = a[n:], b[m:]
	}
	return a == "" && b == ""
}
