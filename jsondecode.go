package scim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxJSONNesting is the nesting encoding/json refuses beyond; decodeJSON
// refuses it too, whatever the Limits (readJSON applies those before).
const maxJSONNesting = 10000

// decodeJSON decodes the one JSON value b holds, as encoding/json's Decoder
// with UseNumber decodes it into an any: objects as map[string]any (the
// last of a repeated key wins), arrays as []any, numbers as json.Number,
// strings unescaped, with invalid UTF-8 and lone surrogates as U+FFFD.
// Nothing but whitespace may follow the value. Request bodies are read
// with it: it does what encoding/json does without reflection, in a third
// of the time (FuzzDecodeJSON holds the two to the same answers).
func decodeJSON(b []byte) (any, error) {
	d := jsonDecoder{b: b}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.space()
	if d.i < len(b) {
		return nil, errTrailingJSON
	}
	return v, nil
}

// unquoteJSON returns the string a JSON string literal (quotes included)
// stands for; ok is false when lit is not exactly one such literal.
func unquoteJSON(lit []byte) (string, bool) {
	d := jsonDecoder{b: lit}
	if len(lit) == 0 || lit[0] != '"' {
		return "", false
	}
	v, err := d.string()
	if err != nil || d.i != len(lit) {
		return "", false
	}
	return v.(string), true
}

// errTrailingJSON: something follows the value.
var errTrailingJSON = &jsonSyntaxError{msg: "more than one JSON value"}

// jsonSyntaxError is where and why a body is not JSON.
type jsonSyntaxError struct {
	msg    string
	offset int // -1: the body ends too early
}

func (e *jsonSyntaxError) Error() string {
	if e.offset < 0 {
		return e.msg
	}
	return fmt.Sprintf("%s (at byte %d)", e.msg, e.offset)
}

type jsonDecoder struct {
	b []byte
	i int
}

func (d *jsonDecoder) fail(what string) error {
	if d.i >= len(d.b) {
		return &jsonSyntaxError{msg: "it ends too early", offset: -1}
	}
	return &jsonSyntaxError{msg: fmt.Sprintf("invalid character %s %s", strconv.QuoteRune(rune(d.b[d.i])), what), offset: d.i}
}

func (d *jsonDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonDecoder) value(depth int) (any, error) {
	d.space()
	if d.i >= len(d.b) {
		return nil, d.fail("")
	}
	switch c := d.b[d.i]; {
	case c == '{':
		if depth >= maxJSONNesting {
			return nil, &jsonSyntaxError{msg: "nested too deeply", offset: d.i}
		}
		return d.object(depth + 1)
	case c == '[':
		if depth >= maxJSONNesting {
			return nil, &jsonSyntaxError{msg: "nested too deeply", offset: d.i}
		}
		return d.array(depth + 1)
	case c == '"':
		return d.string()
	case c == '-' || '0' <= c && c <= '9':
		return d.number()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	}
	return nil, d.fail("looking for the beginning of a value")
}

func (d *jsonDecoder) literal(word string) error {
	for k := 0; k < len(word); k++ {
		if d.i >= len(d.b) || d.b[d.i] != word[k] {
			return d.fail("in literal " + word)
		}
		d.i++
	}
	return nil
}

func (d *jsonDecoder) object(depth int) (any, error) {
	d.i++ // {
	m := map[string]any{}
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return m, nil
	}
	for {
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, d.fail("looking for the beginning of an object key")
		}
		k, err := d.string()
		if err != nil {
			return nil, err
		}
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, d.fail("after an object key")
		}
		d.i++
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		m[k.(string)] = v
		if more, err := d.more('}', "after an object value"); !more {
			return m, err
		}
	}
}

// more reads what follows a member or an element: a comma, and more
// follow, or close, the end.
func (d *jsonDecoder) more(close byte, what string) (bool, error) {
	d.space()
	switch {
	case d.i >= len(d.b):
		return false, d.fail("")
	case d.b[d.i] == ',':
		d.i++
		return true, nil
	case d.b[d.i] == close:
		d.i++
		return false, nil
	}
	return false, d.fail(what)
}

func (d *jsonDecoder) array(depth int) (any, error) {
	d.i++ // [
	list := []any{}
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return list, nil
	}
	for {
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
		if more, err := d.more(']', "after an array element"); !more {
			return list, err
		}
	}
}

// number reads a number in JSON's grammar (RFC 8259 §6) as it is written.
func (d *jsonDecoder) number() (any, error) {
	start := d.i
	digits := func() int {
		n := 0
		for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.b[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.b) && d.b[d.i] == '0':
		d.i++
	case digits() == 0:
		return nil, d.fail("in a number")
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return nil, d.fail("after the decimal point of a number")
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return nil, d.fail("in the exponent of a number")
		}
	}
	return json.Number(d.b[start:d.i]), nil
}

// string reads a string, unescaped. Most have no escape and valid UTF-8:
// they are one copy of their bytes.
func (d *jsonDecoder) string() (any, error) {
	d.i++ // "
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := string(d.b[start:d.i])
			d.i++
			return s, nil
		case c == '\\' || c >= utf8.RuneSelf:
			return d.slowString(start)
		case c < 0x20:
			return nil, d.fail("in a string")
		}
		d.i++
	}
	return nil, d.fail("")
}

// slowString reads the rest of a string that holds an escape or a
// non-ASCII byte, from start, its first byte.
func (d *jsonDecoder) slowString(start int) (any, error) {
	d.i = start
	out := make([]byte, 0, 2*(len(d.b)-start)/3+8)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return string(out), nil
		case c < 0x20:
			return nil, d.fail("in a string")
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(d.b[d.i:])
			out = utf8.AppendRune(out, r) // an invalid byte is U+FFFD
			d.i += n
			continue
		case c != '\\':
			out = append(out, c)
			d.i++
			continue
		}
		d.i++ // the backslash
		if d.i >= len(d.b) {
			return nil, d.fail("")
		}
		switch e := d.b[d.i]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := d.hex4(d.i + 1)
			if !ok {
				return nil, d.fail("in a \\u escape")
			}
			d.i += 4 // at the last digit
			if utf16.IsSurrogate(r) {
				// A pair makes one character; a lone half is U+FFFD, and
				// what follows it is read on its own.
				hi := r
				r = utf8.RuneError
				if d.i+2 < len(d.b) && d.b[d.i+1] == '\\' && d.b[d.i+2] == 'u' {
					if lo, ok := d.hex4(d.i + 3); ok {
						if pair := utf16.DecodeRune(hi, lo); pair != utf8.RuneError {
							r = pair
							d.i += 6
						}
					}
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, d.fail("in a string escape")
		}
		d.i++
	}
	return nil, d.fail("")
}

// hex4 reads the four hexadecimal digits at i.
func (d *jsonDecoder) hex4(i int) (rune, bool) {
	if i+4 > len(d.b) {
		return 0, false
	}
	var r rune
	for _, c := range d.b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
