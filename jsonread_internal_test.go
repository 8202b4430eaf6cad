package scim

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestScanStructureDuplicateKeys(t *testing.T) {
	many := func(extra string) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range 20 {
			fmt.Fprintf(&b, `"k%d":1,`, i)
		}
		b.WriteString(extra + "}")
		return b.String()
	}
	tests := []struct {
		name, body string
		dup        bool
	}{
		{"distinct", `{"a":1,"b":2}`, false},
		{"same key", `{"a":1,"a":2}`, true},
		{"keys differing in case", `{"userName":1,"USERNAME":2}`, true},
		{"an escaped key", `{"\u0061":1,"A":2}`, true},
		{"a key that folds to ASCII", `{"sk":1,"ſK":2}`, true},
		{"the Kelvin sign", `{"k":1,"K":2}`, true},
		{"same keys in sibling objects", `{"a":{"a":1},"b":{"a":2}}`, false},
		{"a duplicate after a nested object", `{"a":{"x":1,"y":2},"A":1}`, true},
		{"a duplicate inside an array element", `{"l":[{"v":1,"V":2}]}`, true},
		{"many keys", many(`"z":1`), false},
		{"many keys, one twice", many(`"K3":1`), true},
		{"many keys, one twice escaped", many(`"\u006b3":1`), true},
		{"a value that looks like a key", `{"a":"A","b":"a"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := scanStructure([]byte(tt.body), 32)
			if tt.dup {
				assert.ErrorContains(t, err, "appears twice")
			} else {
				assert.NoError(t, err)
			}
		})
	}
}

// FuzzScanStructureKeys compares scanStructure's duplicate keys with those
// encoding/json's token stream shows, on every body that stream accepts.
func FuzzScanStructureKeys(f *testing.F) {
	for _, s := range []string{`{"a":1,"A":2}`, `{"a":{"b":[{"c":1}]},"B":2}`, `{"\u0041":1,"a":[]}`, `{"ſ":1,"S":2}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		want, ok := duplicateKeysByTokens(body)
		if !ok {
			return
		}
		err := scanStructure([]byte(body), 1000)
		if got := err != nil && strings.Contains(err.Error(), "appears twice"); got != want {
			t.Fatalf("scanStructure(%q): duplicate %v, encoding/json's tokens say %v", body, got, want)
		}
	})
}

// duplicateKeysByTokens reports whether a valid JSON body has an object
// with two keys equal under FoldCase; ok is false when it is not valid.
func duplicateKeysByTokens(body string) (dup, ok bool) {
	if !json.Valid([]byte(body)) || !utf8.ValidString(body) {
		return false, false
	}
	dec := json.NewDecoder(strings.NewReader(body))
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // the next string is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return dup, true
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		isKey := top != nil && top.object && top.key
		if top != nil && top.object {
			top.key = !top.key
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				stack = append(stack, &frame{object: v == '{', keys: map[string]bool{}, key: true})
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].object {
					stack[len(stack)-1].key = true
				}
			}
			if (v == '{' || v == '[') && top != nil && top.object {
				top.key = false // the nested value is the value of a key
			}
		case string:
			if isKey {
				k := FoldCase(v)
				dup = dup || top.keys[k]
				top.keys[k] = true
			}
		}
	}
}
