package strictjson

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/scimkit/scim/internal/fold"
)

// FuzzDecode holds Decode to encoding/json's answers on what both accept
// and to its tokens on duplicate keys, both ways, and checks that what
// only encoding/json accepts breaks one of the rules Decode adds, the one
// its error names. It also decodes with small limits: what that accepts
// is within them, and the same value.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,"x",{"b":null}]}`, `"\ud83d\ude00\ud83d"`, "\"\xff\"", `[1e5,-0.0,true]`, `{"a":1} `, `{"a":1,"A":2}`,
		`{"a":{"b":[{"c":1}]},"B":2}`, `{"\u0041":1,"a":[]}`, `{"ſ":1,"S":2}`, `{"k":1,"İ":2,"i":3}`, `["\u0000"]`, "[\"\x7f\"]",
		`[[[[[[]]]]]]`, `"a long string"`, `{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"K3":16}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Decode(b, Limits{})
		want, ok := stdDecode(b)
		if err == nil {
			if !ok || !reflect.DeepEqual(want, got) {
				t.Fatalf("Decode(%q) = %#v; encoding/json reads %#v (%v)", b, got, want, ok)
			}
			if dup, _ := duplicateKeysByTokens(b); dup {
				t.Fatalf("Decode(%q) accepts it; encoding/json's tokens show two keys equal under fold", b)
			}
			checkLimits(t, b, got)
			return
		}
		e, isError := err.(*Error)
		if !isError || e.Offset < 0 || e.Offset > len(b) || e.Kind.String() == "" {
			t.Fatalf("Decode(%q): bad error %#v", b, err)
		}
		switch e.Kind {
		case Syntax, Trailing, Depth:
			if ok {
				t.Fatalf("Decode(%q) fails (%v); encoding/json reads %#v", b, err, want)
			}
		case InvalidUTF8:
			if utf8.Valid(b) || utf8.Valid(b[e.Offset:e.Offset+1]) {
				t.Fatalf("Decode(%q): %v, but it is UTF-8 there", b, err)
			}
		case ControlCharacter:
			if i := InvalidText(e.Text); i < 0 || []rune(e.Text[i:])[0] != e.Char {
				t.Fatalf("Decode(%q): %v, not in %q", b, err, e.Text)
			}
		case DuplicateKey:
			if dup, valid := duplicateKeysByTokens(b); valid && !dup {
				t.Fatalf("Decode(%q): %v; encoding/json's tokens show no duplicate key", b, err)
			}
		default:
			t.Fatalf("Decode(%q): unexpected %v", b, err)
		}
	})
}

// checkLimits decodes b, which Decode accepts as v, with small limits: it
// is refused for a value deeper or a string longer, or read the same.
func checkLimits(t *testing.T, b []byte, v any) {
	t.Helper()
	l := Limits{Depth: 3, StringBytes: 4}
	depth, longest := measure(v)
	got, err := Decode(b, l)
	var e *Error
	switch {
	case err == nil:
		if depth > l.Depth || longest > l.StringBytes || !reflect.DeepEqual(got, v) {
			t.Fatalf("Decode(%q) with %+v = %#v, unlimited %#v", b, l, got, v)
		}
	case !errors.As(err, &e):
		t.Fatalf("Decode(%q): bad error %#v", b, err)
	case e.Kind == Depth && depth > l.Depth, e.Kind == StringTooLong && longest > l.StringBytes && e.Len > l.StringBytes:
	default:
		t.Fatalf("Decode(%q) with %+v: %v; the value nests %d deep, its longest string is %d", b, l, err, depth, longest)
	}
}

// measure returns how deeply v nests and the length of its longest string.
func measure(v any) (depth, longest int) {
	switch v := v.(type) {
	case string:
		return 0, len(v)
	case []any:
		for _, e := range v {
			d, l := measure(e)
			depth, longest = max(depth, d), max(longest, l)
		}
		return depth + 1, longest
	case map[string]any:
		for k, e := range v {
			d, l := measure(e)
			depth, longest = max(depth, d), max(longest, l, len(k))
		}
		return depth + 1, longest
	}
	return 0, 0
}

// duplicateKeysByTokens reports whether a JSON text has an object with two
// keys equal under fold, as encoding/json's tokens show them; valid is
// false when it is not UTF-8 JSON.
func duplicateKeysByTokens(b []byte) (dup, valid bool) {
	if !json.Valid(b) || !utf8.Valid(b) {
		return false, false
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
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
				k := fold.String(v)
				dup = dup || top.keys[k]
				top.keys[k] = true
			}
		}
	}
}
