package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stdDecode is what Decode must agree with on what it accepts:
// encoding/json's Decoder, with UseNumber, and nothing but whitespace after
// the value.
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

// Decode reads what encoding/json reads, to the same values, and refuses
// the syntax it refuses.
func TestDecodeAsEncodingJSON(t *testing.T) {
	for _, body := range []string{
		`{"userName":"bjensen","active":true,"n":-1.5e+3,"z":0,"list":[1,"a",null,{},[]],"nested":{"a":{"b":[false]}}}`,
		` [ 1 , 2 ] `, "\t\r\n{}\n", `"plain"`, `""`, `"é日本\ud83d\ude00"`, "\"é日本😀\"", `"\ud83d"`, `"\ud83dx"`, `"\ud83d\u0041"`, `"\ude00\ud83d"`,
		`"a\"b\\c\/d\n\r\t"`, `"\u00e9\u00E9"`, `-0`, `0.5`, `1E9`, `-1.25e-7`, `123456789012345678901234567890`, `true`, `false`, `null`,
		`{"a":{"a":1},"b":{"a":2}}`, `[{"v":1},{"v":2}]`, `{"k":1,"K ":2}`, `[[[]],[{}]]`,
		// Refused alike.
		``, ` `, `{`, `[`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1`, `{"a" 1}`, `[1,]`, `[1 2]`, `[1`, `01`, `1.`, `.5`, `-`, `1e`, `1e+`, `+1`, `tru`, `nul`, `fals`, `True`,
		`"unterminated`, `"\`, "\"a\x01b\"", "\"a\tb\"", `"\x"`, `"\u12"`, `"\u12g4"`, `{} {}`, `{} x`, `[]]`, `{1:2}`, `'a'`, `NaN`, `[-]`, `{"a":1}}`,
	} {
		want, ok := stdDecode([]byte(body))
		got, err := Decode([]byte(body), Limits{})
		if !ok {
			var e *Error
			require.ErrorAs(t, err, &e, "%q", body)
			assert.Contains(t, []Kind{Syntax, Trailing}, e.Kind, "%q: %v", body, err)
			continue
		}
		require.NoError(t, err, "%q", body)
		assert.Equal(t, want, got, "%q", body)
	}
}

func TestDecodeErrors(t *testing.T) {
	small := Limits{Depth: 3, StringBytes: 4}
	tests := []struct {
		name string
		body string
		l    Limits
		want Error
	}{
		{"a missing colon", `{"a" 1}`, Limits{}, Error{Kind: Syntax, Offset: 5, Reason: "invalid character '1' after an object key"}},
		{"a missing value", `{"a":}`, Limits{}, Error{Kind: Syntax, Offset: 5, Reason: "invalid character '}' looking for the beginning of a value"}},
		{"a key that is not a string", `{1:2}`, Limits{}, Error{Kind: Syntax, Offset: 1, Reason: "invalid character '1' looking for the beginning of an object key"}},
		{"a missing comma in an object", `{"a":1 "b":2}`, Limits{}, Error{Kind: Syntax, Offset: 7, Reason: "invalid character '\"' after an object value"}},
		{"a missing comma in an array", `[1 2]`, Limits{}, Error{Kind: Syntax, Offset: 3, Reason: "invalid character '2' after an array element"}},
		{"a bad literal", `[nul]`, Limits{}, Error{Kind: Syntax, Offset: 4, Reason: "invalid character ']' in literal null"}},
		{"a bare minus", `[-]`, Limits{}, Error{Kind: Syntax, Offset: 2, Reason: "invalid character ']' in a number"}},
		{"a bad fraction", `[1.x]`, Limits{}, Error{Kind: Syntax, Offset: 3, Reason: "invalid character 'x' after the decimal point of a number"}},
		{"a bad exponent", `[1e+]`, Limits{}, Error{Kind: Syntax, Offset: 4, Reason: "invalid character ']' in the exponent of a number"}},
		{"a raw control character", "[\"a\x01\"]", Limits{}, Error{Kind: Syntax, Offset: 3, Reason: `invalid character '\x01' in a string`}},
		{"a raw tab", "[\"a\tb\"]", Limits{}, Error{Kind: Syntax, Offset: 3, Reason: `invalid character '\t' in a string`}},
		{"a raw control character after an escape", "[\"\\n\x01\"]", Limits{}, Error{Kind: Syntax, Offset: 4, Reason: `invalid character '\x01' in a string`}},
		{"a bad escape", `["\x"]`, Limits{}, Error{Kind: Syntax, Offset: 3, Reason: "invalid character 'x' in a string escape"}},
		{"a bad \\u escape", `["\u12g4"]`, Limits{}, Error{Kind: Syntax, Offset: 3, Reason: `invalid character 'u' in a \u escape`}},
		{"a short \\u escape", `"\u12`, Limits{}, Error{Kind: Syntax, Offset: 2, Reason: `invalid character 'u' in a \u escape`}},
		{"a character that is not JSON", `[é]`, Limits{}, Error{Kind: Syntax, Offset: 1, Reason: "invalid character 'é' looking for the beginning of a value"}},
		{"an empty input", ``, Limits{}, Error{Kind: Syntax, Offset: 0, EOF: true}},
		{"only whitespace", ` `, Limits{}, Error{Kind: Syntax, Offset: 1, EOF: true}},
		{"a truncated object", `{"a":`, Limits{}, Error{Kind: Syntax, Offset: 5, EOF: true}},
		{"a truncated array", `[1,`, Limits{}, Error{Kind: Syntax, Offset: 3, EOF: true}},
		{"a truncated literal", `tr`, Limits{}, Error{Kind: Syntax, Offset: 2, EOF: true}},
		{"an unterminated string", `["abc`, Limits{}, Error{Kind: Syntax, Offset: 5, EOF: true}},
		{"an unterminated escaped string", `["a\n`, Limits{}, Error{Kind: Syntax, Offset: 5, EOF: true}},
		{"a backslash at the end", `"\`, Limits{}, Error{Kind: Syntax, Offset: 2, EOF: true}},

		{"a second value", `{} {}`, Limits{}, Error{Kind: Trailing, Offset: 3}},
		{"a lone bracket", `{}]`, Limits{}, Error{Kind: Trailing, Offset: 2}},
		{"garbage", `1 x`, Limits{}, Error{Kind: Trailing, Offset: 2}},

		{"invalid UTF-8 in a value", "{\"a\":\"\xff\"}", Limits{}, Error{Kind: InvalidUTF8, Offset: 6}},
		{"invalid UTF-8 in an escaped value", "\"\\n\xff\"", Limits{}, Error{Kind: InvalidUTF8, Offset: 3}},
		{"invalid UTF-8 in a key", "{\"\xc3\x28\":1}", Limits{}, Error{Kind: InvalidUTF8, Offset: 2}},
		{"overlong UTF-8", "\"\xc0\xaf\"", Limits{}, Error{Kind: InvalidUTF8, Offset: 1}},
		{"a surrogate in UTF-8", "\"\xed\xa0\x80\"", Limits{}, Error{Kind: InvalidUTF8, Offset: 1}},
		{"a truncated character", "\"\xe6\x97", Limits{}, Error{Kind: InvalidUTF8, Offset: 1}},
		{"invalid UTF-8 for a value", "[\xff]", Limits{}, Error{Kind: InvalidUTF8, Offset: 1}},
		{"invalid UTF-8 after the value", "{}\xff", Limits{}, Error{Kind: InvalidUTF8, Offset: 2}},
		{"invalid UTF-8 before a syntax error", "[\"\xff\" 1]", Limits{}, Error{Kind: InvalidUTF8, Offset: 2}},
		{"a syntax error before invalid UTF-8", "[1 \"\xff\"]", Limits{}, Error{Kind: Syntax, Offset: 3, Reason: `invalid character '"' after an array element`}},

		{"arrays too deep", `[[[[1]]]]`, small, Error{Kind: Depth, Offset: 3, Limit: 3}},
		{"objects too deep", `{"a":{"b":{"c":{}}}}`, small, Error{Kind: Depth, Offset: 15, Limit: 3}},
		{"an empty array too deep", `[[[[]]]]`, small, Error{Kind: Depth, Offset: 3, Limit: 3}},
		{"deeper than MaxDepth", strings.Repeat("[", MaxDepth+1), Limits{Depth: MaxDepth + 5}, Error{Kind: Depth, Offset: MaxDepth, Limit: MaxDepth}},

		{"a key twice", `{"a":1,"a":2}`, Limits{}, Error{Kind: DuplicateKey, Offset: 7, Text: "a"}},
		{"a key twice in another case", `{"userName":1,"USERNAME":2}`, Limits{}, Error{Kind: DuplicateKey, Offset: 14, Text: "USERNAME"}},
		{"a key twice, escaped", `{"a":1,"\u0041":2}`, Limits{}, Error{Kind: DuplicateKey, Offset: 7, Text: "A"}},

		{"a long value", `["12345"]`, small, Error{Kind: StringTooLong, Offset: 1, Len: 5, Limit: 4}},
		{"a long key", `{"12345":1}`, small, Error{Kind: StringTooLong, Offset: 1, Len: 5, Limit: 4}},
		{"a long escaped value", `["\u00e9\u00e9\u00e9"]`, small, Error{Kind: StringTooLong, Offset: 1, Len: 6, Limit: 4}},
		{"a long value with a control character", `["1234\u0000"]`, small, Error{Kind: StringTooLong, Offset: 1, Len: 5, Limit: 4}},
		{"a long value with a syntax error", `["12345\x"]`, small, Error{Kind: Syntax, Offset: 8, Reason: "invalid character 'x' in a string escape"}},

		{"an escaped NUL", `["a\u0000b"]`, Limits{}, Error{Kind: ControlCharacter, Offset: 3, Text: "a\x00b", Char: 0}},
		{"an escaped backspace", `["a\bb"]`, Limits{}, Error{Kind: ControlCharacter, Offset: 3, Text: "a\bb", Char: '\b'}},
		{"an escaped form feed", `["\f"]`, Limits{}, Error{Kind: ControlCharacter, Offset: 2, Text: "\f", Char: '\f'}},
		{"an escaped escape", `["\u001b[31m"]`, Limits{}, Error{Kind: ControlCharacter, Offset: 2, Text: "\x1b[31m", Char: 0x1b}},
		{"a raw DEL", "[\"a\x7f\"]", Limits{}, Error{Kind: ControlCharacter, Offset: 3, Text: "a\x7f", Char: 0x7f}},
		{"an escaped DEL", `["\u007F"]`, Limits{}, Error{Kind: ControlCharacter, Offset: 2, Text: "\x7f", Char: 0x7f}},
		{"a raw C1 control", "[\"é\u0085\"]", Limits{}, Error{Kind: ControlCharacter, Offset: 4, Text: "é\u0085", Char: 0x85}},
		{"an escaped C1 control", `["\u0080"]`, Limits{}, Error{Kind: ControlCharacter, Offset: 2, Text: "\u0080", Char: 0x80}},
		{"the first of two control characters", "[\"\x7f\\u0000\"]", Limits{}, Error{Kind: ControlCharacter, Offset: 2, Text: "\x7f\x00", Char: 0x7f}},
		{"a control character in a key", `{"a\u0001":1}`, Limits{}, Error{Kind: ControlCharacter, Offset: 3, Text: "a\x01", Char: 1}},
		{"a control character before invalid UTF-8", "[\"\x7f\xff\"]", Limits{}, Error{Kind: InvalidUTF8, Offset: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Decode([]byte(tt.body), tt.l)
			assert.Nil(t, v)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tt.want, *e)
			assert.NotEmpty(t, e.Error())
		})
	}
}

// Text may hold tab, line feed and carriage return, and every character
// past the C1 controls; a string may be exactly as long as the limit.
func TestDecodeAllowedText(t *testing.T) {
	for _, body := range []string{`"a\tb\nc\rd"`, `"\u00a0\u00A0é日本😀"`, "\"\u00a0é日本😀\u2028\ufeff\"", `"\ud83d"`, `"\udc00"`} {
		_, err := Decode([]byte(body), Limits{})
		assert.NoError(t, err, "%s", body)
	}
	for _, body := range []string{`"1234"`, `"\u00e9\u00e9"`, `"日a"`, `{"1234":"ab"}`} {
		_, err := Decode([]byte(body), Limits{StringBytes: 4})
		assert.NoError(t, err, "%s", body)
	}
}

func TestDecodeDepth(t *testing.T) {
	nest := func(n int) []byte {
		return []byte(strings.Repeat("[", n) + strings.Repeat("]", n))
	}
	for _, tt := range []struct {
		depth, levels int
		ok            bool
	}{
		{1, 1, true}, {1, 2, false}, {3, 3, true}, {3, 4, false},
		{0, MaxDepth, true}, {0, MaxDepth + 1, false}, // as encoding/json
		{MaxDepth + 10, MaxDepth + 1, false},
	} {
		_, err := Decode(nest(tt.levels), Limits{Depth: tt.depth})
		assert.Equal(t, tt.ok, err == nil, "depth %d, %d levels: %v", tt.depth, tt.levels, err)
	}
	_, err := Decode([]byte(`[1,{"a":[2]},[3]]`), Limits{Depth: 3})
	assert.NoError(t, err, "siblings do not add up")
}

func TestDecodeDuplicateKeys(t *testing.T) {
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
		dup        string // the key reported, or "" for none
	}{
		{"distinct", `{"a":1,"b":2}`, ""},
		{"same key", `{"a":1,"a":2}`, "a"},
		{"keys differing in case", `{"userName":1,"USERNAME":2}`, "USERNAME"},
		{"keys of different lengths", `{"ab":1,"a":2,"abc":3}`, ""},
		{"an escaped key", `{"\u0061":1,"A":2}`, "A"},
		{"a key that folds to ASCII", `{"sk":1,"ſK":2}`, "ſK"},
		{"the Kelvin sign", `{"k":1,"K":2}`, "K"},
		{"a dotted capital I", `{"displayName":1,"dİsplayName":2}`, "dİsplayName"},
		{"a dotless small i", `{"displayName":1,"dısplayName":2}`, "dısplayName"},
		{"non-ASCII keys", `{"Ärger":1,"ärger":2}`, "ärger"},
		{"distinct non-ASCII keys", `{"Ärger":1,"Arger":2,"ärgerlich":3}`, ""},
		{"same keys in sibling objects", `{"a":{"a":1},"b":{"a":2}}`, ""},
		{"a nested key like an outer one", `{"a":{"A":1}}`, ""},
		{"a duplicate after a nested object", `{"a":{"x":1,"y":2},"A":1}`, "A"},
		{"a duplicate inside an array element", `{"l":[{"v":1,"V":2}]}`, "V"},
		{"a value that looks like a key", `{"a":"A","b":"a"}`, ""},
		{"many keys", many(`"z":1`), ""},
		{"many keys, one twice", many(`"K3":1`), "K3"},
		{"many keys, one twice escaped", many(`"\u006b3":1`), "k3"},
		{"many keys, one twice folded", many(`"K3":1`), "K3"},
		{"many keys, non-ASCII twice", many(`"ä":1,"Ä":2`), "Ä"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.body), Limits{})
			if tt.dup == "" {
				assert.NoError(t, err)
				return
			}
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, DuplicateKey, e.Kind)
			assert.Equal(t, tt.dup, e.Text)
			assert.Equal(t, byte('"'), tt.body[e.Offset], "the offset is the key's quote")
		})
	}
}

func TestInvalidText(t *testing.T) {
	for _, tt := range []struct {
		s    string
		want int
	}{
		{"", -1}, {"plain", -1}, {"tab\tlf\ncr\r", -1}, {"é日本😀\u00a0\u2028", -1}, {"\ufffd", -1},
		{"\x00", 0}, {"a\x1f", 1}, {"ab\x7f", 2}, {"é\u0080", 2}, {"\u009f", 0}, {"a\u0085\x00", 1},
	} {
		assert.Equal(t, tt.want, InvalidText(tt.s), "%q", tt.s)
	}
}

// Unquote reads one string literal as json.Unmarshal does, and nothing
// else.
func TestUnquote(t *testing.T) {
	for _, lit := range []string{
		`"plain"`, `"a\"b"`, `"\u00e9\ud83d\ude00"`, `"\ud83d"`, `""`, `"\u0000\b"`, "\"\xff\x7f\"", "\"a\\n\xffb\"",
		`"x" `, ` "x"`, `"x"y`, `"unterminated`, `x`, ``, "\"a\x01\"", `"\q"`,
	} {
		var want string
		wantOK := json.Unmarshal([]byte(lit), &want) == nil && strings.TrimSpace(lit) == lit
		got, ok := Unquote([]byte(lit))
		assert.Equal(t, wantOK, ok, "%q", lit)
		if ok {
			assert.Equal(t, want, got, "%q", lit)
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{Syntax: "Syntax", Trailing: "Trailing", DuplicateKey: "DuplicateKey", Kind(99): "Kind(99)"} {
		assert.Equal(t, want, k.String())
	}
}
