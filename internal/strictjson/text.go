package strictjson

import (
	"github.com/scimkit/scim/internal/fold"
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
			if fold.Equal(p, k) {
				return true
			}
		}
		return false
	}
	if s.folded == nil {
		s.folded = make(map[string]struct{}, 2*len(prev))
		for _, p := range prev {
			s.folded[fold.String(p)] = struct{}{}
		}
	}
	f := fold.String(k)
	if _, dup := s.folded[f]; dup {
		return true
	}
	s.folded[f] = struct{}{}
	return false
}
