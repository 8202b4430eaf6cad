package strictjson

import (
	"encoding/json"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is the deepest Decode lets objects and arrays nest, whatever
// the Limits: encoding/json reads no deeper either.
const MaxDepth = 10000

// Limits bounds what Decode accepts.
type Limits struct {
	// Depth is how many levels objects and arrays may nest: 1 allows
	// `[1]` but not `[[1]]`. Zero, or more than MaxDepth, is MaxDepth.
	Depth int
	// StringBytes is the longest a string may be, keys included, in bytes
	// of UTF-8 once unescaped. Zero allows any length.
	StringBytes int
}

// Decode decodes the one JSON value b holds, as the package comment
// describes: into nil, a bool, a json.Number, a string, a []any or a
// map[string]any. An input it refuses is an *Error.
func Decode(b []byte, l Limits) (any, error) {
	d := decoders.Get().(*decoder)
	d.b, d.i = b, 0
	d.depth = MaxDepth
	if l.Depth > 0 && l.Depth < MaxDepth {
		d.depth = l.Depth
	}
	d.maxDepth, d.maxString = d.depth, l.StringBytes
	v, err := d.value()
	if err == nil {
		d.space()
		if d.i < len(b) {
			err = d.unexpected(Trailing)
		}
	}
	d.release()
	if err != nil {
		return nil, err
	}
	return v, nil
}

// Unquote returns the string a JSON string literal, quotes included,
// stands for, as json.Unmarshal reads it: invalid UTF-8 and lone
// surrogates become U+FFFD, and control characters are let through. ok is
// false when lit is not exactly one string literal.
func Unquote(lit []byte) (s string, ok bool) {
	if len(lit) == 0 || lit[0] != '"' {
		return "", false
	}
	d := decoder{b: lit, lenient: true}
	s, err := d.text()
	if err != nil || d.i != len(lit) {
		return "", false
	}
	return s, true
}

// decoders keeps decoders, for the stacks they have grown.
var decoders = sync.Pool{New: func() any { return new(decoder) }}

// decoder reads one input.
type decoder struct {
	b         []byte
	i         int // the next byte to read
	depth     int // how many more levels objects and arrays may nest
	maxDepth  int
	maxString int  // 0: any length
	lenient   bool // Unquote: no UTF-8 or control character errors

	// The keys and values of the objects and arrays being read, the
	// innermost last: each is made once its length is known.
	keys []string
	vals []any
	buf  []byte // a string being unescaped
}

// release returns d to the pool, keeping its stacks unless they grew
// large on a large input.
func (d *decoder) release() {
	d.b = nil
	clear(d.keys)
	clear(d.vals)
	d.keys, d.vals, d.buf = d.keys[:0], d.vals[:0], d.buf[:0]
	if cap(d.vals) > 1<<12 || cap(d.keys) > 1<<12 || cap(d.buf) > 64<<10 {
		return
	}
	decoders.Put(d)
}

// syntax is the error for the byte at d.i, which is not what the grammar
// allows there (what says where), or for the end of the input.
func (d *decoder) syntax(what string) error {
	if d.i >= len(d.b) {
		return &Error{Kind: Syntax, Offset: len(d.b), EOF: true}
	}
	r, n := utf8.DecodeRune(d.b[d.i:])
	if r == utf8.RuneError && n == 1 {
		return &Error{Kind: InvalidUTF8, Offset: d.i}
	}
	return &Error{Kind: Syntax, Offset: d.i, Reason: "invalid character " + strconv.QuoteRune(r) + " " + what}
}

// unexpected is the error of kind k at d.i, or InvalidUTF8 if the bytes
// there are not UTF-8.
func (d *decoder) unexpected(k Kind) error {
	if r, n := utf8.DecodeRune(d.b[d.i:]); r == utf8.RuneError && n == 1 {
		k = InvalidUTF8
	}
	return &Error{Kind: k, Offset: d.i}
}

// space skips whitespace.
func (d *decoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// value reads the value at d.i, after whitespace.
func (d *decoder) value() (any, error) {
	d.space()
	if d.i >= len(d.b) {
		return nil, d.syntax("")
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		s, err := d.text()
		if err != nil {
			return nil, err
		}
		return s, nil
	case c == '-' || '0' <= c && c <= '9':
		return d.number()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	}
	return nil, d.syntax("looking for the beginning of a value")
}

// literal reads word, the value that starts at d.i.
func (d *decoder) literal(word string) error {
	for k := 0; k < len(word); k++ {
		if d.i >= len(d.b) || d.b[d.i] != word[k] {
			return d.syntax("in literal " + word)
		}
		d.i++
	}
	return nil
}

// enter goes one level deeper, into the object or array at d.i.
func (d *decoder) enter() error {
	if d.depth == 0 {
		return &Error{Kind: Depth, Offset: d.i, Limit: d.maxDepth}
	}
	d.depth--
	d.i++
	d.space()
	return nil
}

// object reads the object at d.i.
func (d *decoder) object() (any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		d.depth++
		return map[string]any{}, nil
	}
	keys, vals := len(d.keys), len(d.vals)
	var seen keySet
	for {
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, d.syntax("looking for the beginning of an object key")
		}
		at := d.i
		k, err := d.text()
		if err != nil {
			return nil, err
		}
		if seen.add(d.keys[keys:], k) {
			return nil, &Error{Kind: DuplicateKey, Offset: at, Text: k}
		}
		d.keys = append(d.keys, k)
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, d.syntax("after an object key")
		}
		d.i++
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.vals = append(d.vals, v)
		if more, err := d.more('}', "after an object value"); err != nil {
			return nil, err
		} else if !more {
			break
		}
	}
	m := make(map[string]any, len(d.vals)-vals)
	for j, k := range d.keys[keys:] {
		m[k] = d.vals[vals+j]
	}
	d.pop(keys, vals)
	return m, nil
}

// array reads the array at d.i.
func (d *decoder) array() (any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		d.depth++
		return []any{}, nil
	}
	vals := len(d.vals)
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.vals = append(d.vals, v)
		if more, err := d.more(']', "after an array element"); err != nil {
			return nil, err
		} else if !more {
			break
		}
	}
	list := make([]any, len(d.vals)-vals)
	copy(list, d.vals[vals:])
	d.pop(len(d.keys), vals)
	return list, nil
}

// more reads what follows a member or an element: a comma, and more
// follow, or close, the end of the object or array.
func (d *decoder) more(close byte, what string) (bool, error) {
	d.space()
	switch {
	case d.i >= len(d.b):
		return false, d.syntax("")
	case d.b[d.i] == ',':
		d.i++
		return true, nil
	case d.b[d.i] == close:
		d.i++
		return false, nil
	}
	return false, d.syntax(what)
}

// pop ends an object or array whose keys and values start at keys and vals
// on the stacks, once they are in their map or slice.
func (d *decoder) pop(keys, vals int) {
	clear(d.keys[keys:])
	clear(d.vals[vals:])
	d.keys, d.vals = d.keys[:keys], d.vals[:vals]
	d.depth++
}

// number reads the number at d.i in JSON's grammar (RFC 8259 §6), as it is
// written.
func (d *decoder) number() (any, error) {
	start := d.i
	digits := func() int {
		n := d.i
		for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
			d.i++
		}
		return d.i - n
	}
	if d.b[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.b) && d.b[d.i] == '0':
		d.i++
	case digits() == 0:
		return nil, d.syntax("in a number")
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return nil, d.syntax("after the decimal point of a number")
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return nil, d.syntax("in the exponent of a number")
		}
	}
	return json.Number(d.b[start:d.i]), nil
}

// plain marks the bytes a string holds as they are written and that need
// no check: printable ASCII but the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// control is the first control character of a string, if at >= 0.
type control struct {
	at int // its offset in the input
	r  rune
}

// text reads the string whose opening quote is at d.i and returns it
// unescaped. Most strings have no escape: they are read in place and
// copied once.
func (d *decoder) text() (string, error) {
	quote := d.i
	ctl := control{at: -1}
	for i := quote + 1; i < len(d.b); {
		for i < len(d.b) && plain[d.b[i]] {
			i++
		}
		if i >= len(d.b) {
			break
		}
		switch c := d.b[i]; {
		case c == '"':
			d.i = i + 1
			return d.finish(quote, d.b[quote+1:i], ctl)
		case c == '\\':
			return d.unescape(quote, i, ctl)
		case c < 0x20:
			d.i = i
			return "", d.syntax("in a string")
		default: // DEL or not ASCII
			r, n := utf8.DecodeRune(d.b[i:])
			if r == utf8.RuneError && n == 1 {
				if d.lenient {
					return d.unescape(quote, i, ctl)
				}
				return "", &Error{Kind: InvalidUTF8, Offset: i}
			}
			if ctl.at < 0 && isControl(r) {
				ctl = control{i, r}
			}
			i += n
		}
	}
	d.i = len(d.b)
	return "", d.syntax("")
}

// unescape reads on from i the string text began at quote, copying it
// into d.buf as it reads, for what is not read in place: escapes, and for
// Unquote invalid UTF-8.
func (d *decoder) unescape(quote, i int, ctl control) (string, error) {
	d.buf = append(d.buf[:0], d.b[quote+1:i]...)
	for i < len(d.b) {
		start := i
		for i < len(d.b) && plain[d.b[i]] {
			i++
		}
		d.buf = append(d.buf, d.b[start:i]...)
		if i >= len(d.b) {
			break
		}
		c := d.b[i]
		switch {
		case c == '"':
			d.i = i + 1
			return d.finish(quote, d.buf, ctl)
		case c < 0x20:
			d.i = i
			return "", d.syntax("in a string")
		case c != '\\': // DEL or not ASCII
			r, n := utf8.DecodeRune(d.b[i:])
			if r == utf8.RuneError && n == 1 && !d.lenient {
				return "", &Error{Kind: InvalidUTF8, Offset: i}
			}
			if ctl.at < 0 && isControl(r) {
				ctl = control{i, r}
			}
			d.buf = utf8.AppendRune(d.buf, r)
			i += n
			continue
		}
		// An escape.
		if i+1 >= len(d.b) {
			d.i = len(d.b)
			return "", d.syntax("")
		}
		var r rune
		n := 2
		switch e := d.b[i+1]; e {
		case '"', '\\', '/':
			r = rune(e)
		case 'b':
			r = '\b'
		case 'f':
			r = '\f'
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 't':
			r = '\t'
		case 'u':
			var ok bool
			if r, ok = hex4(d.b, i+2); !ok {
				d.i = i + 1
				return "", d.syntax(`in a \u escape`)
			}
			n = 6
			if utf16.IsSurrogate(r) {
				// A pair is one character; a lone half is U+FFFD, and what
				// follows it is read on its own.
				hi := r
				r = utf8.RuneError
				if i+7 < len(d.b) && d.b[i+6] == '\\' && d.b[i+7] == 'u' {
					if lo, ok := hex4(d.b, i+8); ok {
						if pair := utf16.DecodeRune(hi, lo); pair != utf8.RuneError {
							r, n = pair, 12
						}
					}
				}
			}
		default:
			d.i = i + 1
			return "", d.syntax("in a string escape")
		}
		if ctl.at < 0 && isControl(r) {
			ctl = control{i, r}
		}
		d.buf = utf8.AppendRune(d.buf, r)
		i += n
	}
	d.i = len(d.b)
	return "", d.syntax("")
}

// finish checks the text of the string whose opening quote is at quote,
// unescaped, whose first control character is ctl, and returns it.
func (d *decoder) finish(quote int, text []byte, ctl control) (string, error) {
	if d.maxString > 0 && len(text) > d.maxString {
		return "", &Error{Kind: StringTooLong, Offset: quote, Len: len(text), Limit: d.maxString}
	}
	s := string(text)
	if ctl.at >= 0 && !d.lenient {
		return "", &Error{Kind: ControlCharacter, Offset: ctl.at, Text: s, Char: ctl.r}
	}
	return s, nil
}

// hex4 reads the four hexadecimal digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
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
