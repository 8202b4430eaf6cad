package fold

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

// Every rune joins every rune strings.EqualFold (Unicode simple case
// folding) or unicode.ToLower calls equal to it, so that a case-insensitive
// index lookup or duplicate-key check never misses a match.
func TestRuneJoinsEqualFold(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		f := Rune(r)
		for o := unicode.SimpleFold(r); o != r; o = unicode.SimpleFold(o) {
			if Rune(o) != f {
				t.Fatalf("strings.EqualFold joins %U and %U; Rune does not", r, o)
			}
		}
		if Rune(unicode.ToLower(r)) != f {
			t.Fatalf("%U and its lower case fold apart", r)
		}
	}
}

func TestString(t *testing.T) {
	for _, c := range [][2]string{{"bjensen", "BJensen"}, {"\u212Aelvin", "kelvin"}, {"ſtraße", "Straße"}, {"ΣΑΣ", "σας"}} {
		assert.True(t, strings.EqualFold(c[0], c[1]))
		assert.Equal(t, String(c[0]), String(c[1]), c)
	}
	assert.NotEqual(t, String("straße"), String("STRASSE"))
	s := "already-folded-123"
	assert.Equal(t, s, String(s))
	assert.Zero(t, testing.AllocsPerRun(10, func() { _ = String(s) }))
}

func TestEqual(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		eq   bool
	}{
		{"", "", true}, {"a", "", false}, {"userName", "USERNAME", true}, {"userName", "userNames", false},
		{"k", "K", true}, {"K", "k", true}, {"kk", "Kk", true}, {"sk", "ſK", true}, {"i", "İ", true}, {"i", "ı", true},
		{"straße", "STRASSE", false}, {"ä", "Ä", true}, {"ä", "a", false}, {"Ab", "aC", false}, {"[", "{", false}, {"@", "`", false},
	} {
		assert.Equal(t, tt.eq, Equal(tt.a, tt.b), "%q %q", tt.a, tt.b)
		assert.Equal(t, tt.eq, Equal(tt.b, tt.a), "%q %q", tt.b, tt.a)
	}
	words := []string{"", "a", "A", "bjensen", "BJensen", "BJENSEN", "bjensen ", "k", "K", "\u212a", "s", "S", "ſ",
		"ı", "I", "i", "İ", "ς", "σ", "Σ", "straße", "STRASSE", "\xff", "\ufffd", "a\xffb", "a\ufffdb", "日本", "日本語"}
	for _, a := range words {
		for _, b := range words {
			assert.Equal(t, String(a) == String(b), Equal(a, b), "%q and %q", a, b)
		}
	}
}

// Equal is String's equality, for any bytes.
func FuzzEqual(f *testing.F) {
	f.Add("BJensen", "bjensen")
	f.Add("\u212a", "k")
	f.Add("a\xffb", "A\ufffdB")
	f.Fuzz(func(t *testing.T, a, b string) {
		if got, want := Equal(a, b), String(a) == String(b); got != want {
			t.Fatalf("Equal(%q, %q) = %v, String says %v", a, b, got, want)
		}
	})
}
