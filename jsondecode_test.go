package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stdDecode is what decodeJSON must agree with: encoding/json's Decoder,
// with UseNumber, and nothing but whitespace after the value.
func stdDecode(b []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false
	}
	return v, true
}

func TestDecodeJSON(t *testing.T) {
	for _, body := range []string{
		`{"userName":"bjensen","active":true,"n":-1.5e+3,"z":0,"list":[1,"a",null,{},[]],"nested":{"a":{"b":[false]}}}`,
		` [ 1 , 2 ] `, `"plain"`, `"é日本\ud83d\ude00"`, `"\ud83d"`, `"\ud83dx"`, `"\ud83d\u0041"`, `"\ude00\ud83d"`,
		`"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\u0000"`, "\"\xff\xfe\"", `{"a":1,"a":2}`, `-0`, `0.5`, `1E9`,
		// Refused alike.
		``, ` `, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[1 2]`, `01`, `1.`, `.5`, `-`, `1e`, `+1`, `tru`, `nul`,
		`"unterminated`, "\"a\x01b\"", `"\x"`, `"\u12"`, `"\u12g4"`, `{} {}`, `{} x`, `[]]`, `{1:2}`, `'a'`, `NaN`,
	} {
		want, ok := stdDecode([]byte(body))
		got, err := decodeJSON([]byte(body))
		if !ok {
			assert.Error(t, err, "%q", body)
			continue
		}
		require.NoError(t, err, "%q", body)
		assert.Equal(t, want, got, "%q", body)
	}
}

func TestDecodeJSONNesting(t *testing.T) {
	deep := bytes.Repeat([]byte("["), maxJSONNesting)
	deep = append(deep, bytes.Repeat([]byte("]"), maxJSONNesting)...)
	_, err := decodeJSON(deep)
	assert.NoError(t, err, "encoding/json reads %d levels", maxJSONNesting)
	_, err = decodeJSON(append(append([]byte("["), deep...), ']'))
	assert.Error(t, err, "and refuses one more")
}

// FuzzDecodeJSON holds decodeJSON to encoding/json's answers: the same
// value, or an error for both.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,"x",{"b":null}]}`, `"\ud83d\ude00\ud83d"`, "\"\xff\"", `[1e5,-0.0,true]`, `{"a":1} `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, ok := stdDecode(b)
		got, err := decodeJSON(b)
		switch {
		case ok && err != nil:
			t.Fatalf("decodeJSON(%q) failed (%v); encoding/json reads %#v", b, err, want)
		case !ok && err == nil:
			t.Fatalf("decodeJSON(%q) = %#v; encoding/json refuses it", b, got)
		case ok && !reflect.DeepEqual(want, got):
			t.Fatalf("decodeJSON(%q) = %#v; encoding/json reads %#v", b, got, want)
		}
	})
}

// A value's canonical sub-attribute wins over an alias of it, whichever
// comes first, when the body is decoded in place (POST, PUT) or copied.
func TestDecodeAliasLosesToCanonicalName(t *testing.T) {
	_, groups := compiledTypes(t)
	for _, owned := range []bool{false, true} {
		for _, body := range []string{
			`{"displayName":"g","members":[{"value":"u1","display":"canonical","displayName":"alias"}]}`,
			`{"displayName":"g","members":[{"displayName":"alias","value":"u1","display":"canonical"}]}`,
		} {
			v, err := decodeJSON([]byte(body))
			require.NoError(t, err)
			attrs, err := decoder{rt: groups, owned: owned}.resource(v.(map[string]any))
			require.NoError(t, err)
			assert.Equal(t, []any{map[string]any{"value": "u1", "display": "canonical"}}, attrs["members"], "owned %v: %s", owned, body)
		}
	}
}

// unquoteJSON reads one string literal as json.Unmarshal does, and nothing
// else.
func TestUnquoteJSON(t *testing.T) {
	for _, lit := range []string{`"plain"`, `"a\"b"`, `"\u00e9\ud83d\ude00"`, `"\ud83d"`, `""`, `"x" `, `"x"y`, `"unterminated`, `x`, ``, "\"a\x01\""} {
		var want string
		wantOK := json.Unmarshal([]byte(lit), &want) == nil && strings.TrimSpace(lit) == lit
		got, ok := unquoteJSON([]byte(lit))
		assert.Equal(t, wantOK, ok, "%q", lit)
		if ok {
			assert.Equal(t, want, got, "%q", lit)
		}
	}
}
