package scim

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseJSONKeys holds the keys parseJSON refuses as duplicates to
// those equal under FoldCase, which attribute names are matched with, in
// the objects encoding/json's token stream shows, on every body that
// stream accepts (with no string the body may not hold).
func FuzzParseJSONKeys(f *testing.F) {
	for _, s := range []string{`{"a":1,"A":2}`, `{"a":{"b":[{"c":1}]},"B":2}`, `{"\u0041":1,"a":[]}`, `{"ſ":1,"S":2}`, `{"i":1,"İ":2}`, `{"ı":1,"I":2}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		want, ok := duplicateKeysByTokens(body)
		if !ok {
			return
		}
		_, err := parseJSON([]byte(body), Limits{JSONDepth: 1000, StringBytes: 1 << 20})
		if err != nil && !strings.Contains(err.Error(), "appears twice") {
			return // refused for a string
		}
		if got := err != nil; got != want {
			t.Fatalf("parseJSON(%q): duplicate %v, encoding/json's tokens say %v", body, got, want)
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
