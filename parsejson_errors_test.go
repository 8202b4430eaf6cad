package scim

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseJSONErrors pins the SCIM error each kind of body fault is
// answered with: status, scimType, detail, and whether it counts as a
// refused limit.
func TestParseJSONErrors(t *testing.T) {
	limits := DefaultLimits()
	limits.StringBytes = 8
	limits.JSONDepth = 4
	tests := []struct {
		name, body, scimType, detail string
		limit                        bool
	}{
		{"invalid UTF-8 in a value", "{\"a\":\"\xff\"}", SCIMTypeInvalidSyntax, "request body is not valid UTF-8", false},
		{"invalid UTF-8 in a key", "{\"\xc3\x28\":1}", SCIMTypeInvalidSyntax, "request body is not valid UTF-8", false},
		{"a surrogate in UTF-8", "\"\xed\xa0\x80\"", SCIMTypeInvalidSyntax, "request body is not valid UTF-8", false},
		{"invalid UTF-8 after the value", "{}\xff", SCIMTypeInvalidSyntax, "request body is not valid UTF-8", false},
		{"invalid UTF-8 for a value", "[\xff]", SCIMTypeInvalidSyntax, "request body is not valid UTF-8", false},
		{"a second value", `{} {}`, SCIMTypeInvalidSyntax, "request body holds more than one JSON value", false},
		{"a lone bracket after the value", `{}]`, SCIMTypeInvalidSyntax, "request body holds more than one JSON value", false},
		{"garbage after the value", `"a" x`, SCIMTypeInvalidSyntax, "request body holds more than one JSON value", false},
		{"a missing colon", `{"a" 1}`, SCIMTypeInvalidSyntax, "request body is not valid JSON: invalid character '1' after an object key (at byte 5)", false},
		{"a missing value", `{"a":}`, SCIMTypeInvalidSyntax, "request body is not valid JSON: invalid character '}' looking for the beginning of a value (at byte 5)", false},
		{"a trailing comma", `[1,]`, SCIMTypeInvalidSyntax, "request body is not valid JSON: invalid character ']' looking for the beginning of a value (at byte 3)", false},
		{"a key that is not a string", `{1:2}`, SCIMTypeInvalidSyntax, "request body is not valid JSON: invalid character '1' looking for the beginning of an object key (at byte 1)", false},
		{"a missing comma", `[1 2]`, SCIMTypeInvalidSyntax, "request body is not valid JSON: invalid character '2' after an array element (at byte 3)", false},
		{"a bad literal", `[tru]`, SCIMTypeInvalidSyntax, "request body is not valid JSON: invalid character ']' in literal true (at byte 4)", false},
		{"a bad number", `[01]`, SCIMTypeInvalidSyntax, "request body is not valid JSON: invalid character '1' after an array element (at byte 2)", false},
		{"a bad fraction", `[1.]`, SCIMTypeInvalidSyntax, "request body is not valid JSON: invalid character ']' after the decimal point of a number (at byte 3)", false},
		{"a bad exponent", `[1e]`, SCIMTypeInvalidSyntax, "request body is not valid JSON: invalid character ']' in the exponent of a number (at byte 3)", false},
		{"a raw control character in a string", "[\"a\x01\"]", SCIMTypeInvalidSyntax, `request body is not valid JSON: invalid character '\x01' in a string (at byte 3)`, false},
		{"a bad escape", `["\x"]`, SCIMTypeInvalidSyntax, `request body is not valid JSON: invalid character 'x' in a string escape (at byte 3)`, false},
		{"a bad \\u escape", `["\u12g4"]`, SCIMTypeInvalidSyntax, `request body is not valid JSON: invalid character 'u' in a \u escape (at byte 3)`, false},
		{"an empty body", ``, SCIMTypeInvalidSyntax, "request body is not valid JSON: it ends too early", false},
		{"a truncated object", `{"a":`, SCIMTypeInvalidSyntax, "request body is not valid JSON: it ends too early", false},
		{"an unterminated string", `["abc`, SCIMTypeInvalidSyntax, "request body is not valid JSON: it ends too early", false},
		{"too deep", `[[[[[]]]]]`, SCIMTypeInvalidSyntax, "request body nests objects and arrays more than 4 levels deep", true},
		{"too deep in objects", `{"a":{"b":{"c":{"d":{}}}}}`, SCIMTypeInvalidSyntax, "request body nests objects and arrays more than 4 levels deep", true},
		{"a key twice", `{"userName":1,"USERNAME":2}`, SCIMTypeInvalidSyntax, `key "USERNAME" appears twice in one object (names are case-insensitive)`, false},
		// strings.ToLower, which attributes are looked up with, makes "i" of 'İ'.
		{"a key twice, one with a dotted capital I", `{"id":1,"İd":2}`, SCIMTypeInvalidSyntax, `key "İd" appears twice in one object (names are case-insensitive)`, false},
		{"an escaped key twice", `{"a":1,"\u0041":2}`, SCIMTypeInvalidSyntax, `key "A" appears twice in one object (names are case-insensitive)`, false},
		{"a long string", `["123456789"]`, SCIMTypeInvalidValue, "a string of 9 bytes is longer than the 8 allowed", true},
		{"a long escaped string", `["\u00e9\u00e9\u00e9\u00e9\u00e9"]`, SCIMTypeInvalidValue, "a string of 10 bytes is longer than the 8 allowed", true},
		{"a long key", `{"123456789":1}`, SCIMTypeInvalidValue, "a string of 9 bytes is longer than the 8 allowed", true},
		{"an escaped NUL", `["a\u0000b"]`, SCIMTypeInvalidValue, `string "a\x00b" holds control character U+0000, which is not allowed`, false},
		{"an escaped backspace", `["a\bb"]`, SCIMTypeInvalidValue, `string "a\bb" holds control character U+0008, which is not allowed`, false},
		{"a raw DEL", "[\"a\x7f\"]", SCIMTypeInvalidValue, `string "a\x7f" holds control character U+007F, which is not allowed`, false},
		{"a raw C1 control", "[\"a\u0085\"]", SCIMTypeInvalidValue, `string "a\u0085" holds control character U+0085, which is not allowed`, false},
		{"an escaped C1 control", `["\u009f"]`, SCIMTypeInvalidValue, `string "\u009f" holds control character U+009F, which is not allowed`, false},
		{"a control character in a key", `{"a\u0001":1}`, SCIMTypeInvalidValue, `string "a\x01" holds control character U+0001, which is not allowed`, false},
		{"a long string with a control character", `["12345678\u0000"]`, SCIMTypeInvalidValue, "a string of 9 bytes is longer than the 8 allowed", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := parseJSON([]byte(tt.body), limits)
			assert.Nil(t, v)
			var se *Error
			require.True(t, errors.As(err, &se), "%v", err)
			assert.Equal(t, http.StatusBadRequest, se.Status)
			assert.Equal(t, tt.scimType, se.SCIMType)
			assert.Equal(t, tt.detail, se.Detail)
			assert.Equal(t, tt.limit, errors.Is(err, errTooLarge))
		})
	}
}

// Tab, line feed and carriage return are the control characters text may
// hold; so may every character past the C1 controls.
func TestParseJSONAllowedText(t *testing.T) {
	for _, body := range []string{`"a\tb\nc\rd"`, `"\u00a0é日本😀"`, "\"\u00a0é日本😀\"", `"\ud83d"`, `{"k":1,"K ":2}`} {
		_, err := parseJSON([]byte(body), DefaultLimits())
		assert.NoError(t, err, "%s", body)
	}
	_, err := parseJSON([]byte(`{"a":1,"b":{"A":2}}`), DefaultLimits())
	assert.NoError(t, err, "keys of different objects")
	_, err = parseJSON([]byte(`{"a":"`+strings.Repeat("x", DefaultLimits().StringBytes)+`"}`), DefaultLimits())
	assert.NoError(t, err, "a string of exactly the limit")
}
