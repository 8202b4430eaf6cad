package scim

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// foldEqual must agree with comparing FoldCase copies, which the stores'
// folded keys and indexes are made of.
func TestFoldEqualIsFoldCase(t *testing.T) {
	words := []string{"", "a", "A", "bjensen", "BJensen", "BJENSEN", "bjensen ", "k", "K", "\u212a", "s", "S", "ſ",
		"ı", "I", "i", "İ", "ς", "σ", "Σ", "straße", "STRASSE", "\xff", "\ufffd", "a\xffb", "a\ufffdb", "日本", "日本語"}
	for _, a := range words {
		for _, b := range words {
			assert.Equal(t, FoldCase(a) == FoldCase(b), foldEqual(a, b), "%q and %q", a, b)
		}
	}
}

func FuzzFoldEqual(f *testing.F) {
	f.Add("BJensen", "bjensen")
	f.Add("\u212a", "k")
	f.Fuzz(func(t *testing.T, a, b string) {
		if got, want := foldEqual(a, b), FoldCase(a) == FoldCase(b); got != want {
			t.Fatalf("foldEqual(%q, %q) = %v, FoldCase says %v", a, b, got, want)
		}
	})
}
