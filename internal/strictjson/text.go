package strictjson

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// InvalidText returns the byte offset of the first character of s that no
// SCIM text may hold, or -1. Allowed are all Unicode characters but the C0
// controls other than tab, line feed and carriage return (which multi-line
// values such as addresses.formatted need), DEL, and the C1 controls
// (U+0080–U+009F). s must be valid UTF-8.
func InvalidText(s string) int {
	for i, r := range s {
		if isControl(r) {
			return i
		}
	}
	return -1
}

// isControl reports whether r is a character InvalidText refuses.
func isControl(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return false
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	}
	return false
}

// foldRune maps r to the form keys are compared in: ASCII letters to
// lower case, other characters lowercased after uppercasing, so that 'ſ'
// and 'K' (Kelvin) join 's' and 'k'. It is the fold of scim.FoldCase,
// which attribute names are matched with; it joins more than
// strings.EqualFold does ('İ' and 'ı' with 'i'), as it must: two keys
// that name one attribute are duplicates.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	return unicode.ToLower(unicode.ToUpper(r))
}

// fold returns s with every character folded by foldRune; s itself when
// that changes nothing.
func fold(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return strings.Map(foldRune, s)
		}
	}
	return s
}

// equalFold reports whether fold(a) == fold(b), without making either.
// a and b must be valid UTF-8.
func equalFold(a, b string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := a[i], b[i]
		if x >= utf8.RuneSelf || y >= utf8.RuneSelf {
			return equalFoldRunes(a[i:], b[i:])
		}
		if x != y && foldRune(rune(x)) != foldRune(rune(y)) {
			return false
		}
	}
	return len(a) == len(b)
}

// equalFoldRunes is equalFold for strings that need not be ASCII.
func equalFoldRunes(a, b string) bool {
	for a != "" && b != "" {
		x, n := utf8.DecodeRuneInString(a)
		y, m := utf8.DecodeRuneInString(b)
		if x != y && foldRune(x) != foldRune(y) {
			return false
		}
		a, b = a[n:], b[m:]
	}
	return a == "" && b == ""
}

// keySet is the keys of one object read so far, for finding a repeated
// one. Keys are compared in place while there are few; an object with
// manyKeys keys or more gets a map of them folded.
type keySet struct {
	folded map[string]struct{}
}

// manyKeys is how many keys an object has before its keys are looked up in
// a map of folded keys instead of compared one by one.
const manyKeys = 16

// add records key k of an object whose earlier keys are prev, and reports
// whether one of those is k, folded.
func (s *keySet) add(prev []string, k string) (dup bool) {
	if s.folded == nil && len(prev) < manyKeys {
		for _, p := range prev {
			if equalFold(p, k) {
				return true
			}
		}
		return false
	}
	if s.folded == nil {
		s.folded = make(map[string]struct{}, 2*len(prev))
		for _, p := range prev {
			s.folded[fold(p)] = struct{}{}
		}
	}
	f := fold(k)
	if _, dup := s.folded[f]; dup {
		return true
	}
	s.folded[f] = struct{}{}
	return false
}
