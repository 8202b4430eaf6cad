package scim

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// readJSON reads a request body of at most l.BodyBytes bytes and decodes
// it into one JSON value, keeping numbers exact (json.Number). It refuses,
// with 400 invalidSyntax (413 for the size), what encoding/json would let
// through but a SCIM resource must not hold:
//
//   - bytes that are not UTF-8 (encoding/json would store U+FFFD instead);
//   - anything after the value, even a lone "]";
//   - objects and arrays nested deeper than l.JSONDepth;
//   - two keys of one object that differ only in case, since attribute
//     names are case-insensitive (RFC 7643 §2.1);
//   - strings longer than l.StringBytes, and strings holding control
//     characters other than tab, line feed and carriage return (see
//     validText).
func readJSON(r *http.Request, l Limits) (any, error) {
	body, err := readBody(r, l.BodyBytes)
	if err != nil {
		return nil, badRequest(SCIMTypeInvalidSyntax, "cannot read the request body")
	}
	if int64(len(body)) > l.BodyBytes {
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, SCIMType: SCIMTypeTooMany, Detail: "request body exceeds " + strconv.FormatInt(l.BodyBytes, 10) + " bytes", Err: errTooLarge}
	}
	return parseJSON(body, l)
}

// readBody reads at most limit+1 bytes of r's body, into a buffer sized
// by its Content-Length when it has one (io.ReadAll would grow one from
// 512 bytes, copying as it goes).
func readBody(r *http.Request, limit int64) ([]byte, error) {
	size := int64(512)
	if n := r.ContentLength; n >= 0 {
		size = min(n, limit, 64<<10) + 1 // +1: room to see the end without growing
	}
	b := make([]byte, 0, size)
	body := io.LimitReader(r.Body, limit+1)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// parseJSON decodes body as readJSON describes: one pass over the bytes
// checks nesting and keys, decodeJSON decodes, and a walk over the decoded
// value checks its strings.
func parseJSON(body []byte, l Limits) (any, error) {
	if !utf8.Valid(body) {
		return nil, badRequest(SCIMTypeInvalidSyntax, "request body is not valid UTF-8")
	}
	if err := scanStructure(body, l.JSONDepth); err != nil {
		return nil, err
	}
	v, err := decodeJSON(body)
	switch {
	case err == errTrailingJSON:
		return nil, badRequest(SCIMTypeInvalidSyntax, "request body holds more than one JSON value")
	case err != nil:
		return nil, badRequest(SCIMTypeInvalidSyntax, "request body is not valid JSON: %s", err)
	}
	if err := checkStrings(v, l); err != nil {
		return nil, err
	}
	return v, nil
}

// jsonFrame is an object or array scanStructure is inside.
type jsonFrame struct {
	object bool
	keys   int                 // where the object's keys start in scanStructure's list
	folded map[string]struct{} // the folded keys, once the object has many
}

// jsonKey is where an object key is in the body, without its quotes.
type jsonKey struct {
	start, end int
	plain      bool // ASCII without escapes: compared in place, without folding
}

// manyKeys is how many keys an object has before they are compared by a
// map of folded keys instead of one by one.
const manyKeys = 16

// scanStructure refuses a body that nests objects and arrays deeper than
// maxDepth or holds an object with two keys that differ only in case (or
// not at all). It reads JSON leniently: malformed input it cannot follow is
// left for the decoder to refuse. The keys of small objects are compared
// where they are, so that a typical body costs no allocation.
func scanStructure(b []byte, maxDepth int) error {
	var smallStack [8]jsonFrame
	var smallKeys [32]jsonKey
	stack, keys := smallStack[:0], smallKeys[:0]
	expectKey := false
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{', '[':
			if len(stack) >= maxDepth {
				return limitError(SCIMTypeInvalidSyntax, "request body nests objects and arrays more than %d levels deep", maxDepth)
			}
			stack = append(stack, jsonFrame{object: b[i] == '{', keys: len(keys)})
			expectKey = b[i] == '{'
		case '}', ']':
			if len(stack) == 0 {
				return nil
			}
			keys = keys[:stack[len(stack)-1].keys]
			stack = stack[:len(stack)-1]
			expectKey = false
		case ',':
			expectKey = len(stack) > 0 && stack[len(stack)-1].object
		case '"':
			j, plain := i+1, true
			for ; j < len(b) && b[j] != '"'; j++ {
				if b[j] == '\\' {
					plain = false
					j++
				} else if b[j] >= utf8.RuneSelf {
					plain = false
				}
			}
			if j >= len(b) {
				return nil // unterminated
			}
			if expectKey {
				f := &stack[len(stack)-1]
				k := jsonKey{i + 1, j, plain}
				dup, ok := f.addKey(b, keys[f.keys:], k)
				if !ok {
					return nil // a key the decoder will refuse
				}
				if dup {
					key, _ := keyText(b, k)
					return badRequest(SCIMTypeInvalidSyntax, "key %s appears twice in one object (names are case-insensitive)", quoteShort(key))
				}
				keys = append(keys, k)
				expectKey = false
			}
			i = j
		}
	}
	return nil
}

// addKey records key k of the object f, whose earlier keys are prev, and
// reports whether it has it already; ok is false for a key that is not a
// valid JSON string.
func (f *jsonFrame) addKey(b []byte, prev []jsonKey, k jsonKey) (dup, ok bool) {
	if f.folded == nil && len(prev) < manyKeys {
		for _, p := range prev {
			if p.plain && k.plain {
				if asciiEqualFold(b[p.start:p.end], b[k.start:k.end]) {
					return true, true
				}
				continue
			}
			pk, ok1 := keyText(b, p)
			kk, ok2 := keyText(b, k)
			if !ok1 || !ok2 {
				return false, false
			}
			if FoldCase(pk) == FoldCase(kk) {
				return true, true
			}
		}
		return false, true
	}
	if f.folded == nil {
		f.folded = make(map[string]struct{}, 2*len(prev))
		for _, p := range prev {
			pk, _ := keyText(b, p) // valid: it was compared before
			f.folded[FoldCase(pk)] = struct{}{}
		}
	}
	kk, ok := keyText(b, k)
	if !ok {
		return false, false
	}
	folded := FoldCase(kk)
	if _, dup := f.folded[folded]; dup {
		return true, true
	}
	f.folded[folded] = struct{}{}
	return false, true
}

// keyText returns the text of a key, unescaped.
func keyText(b []byte, k jsonKey) (string, bool) {
	if k.plain {
		return string(b[k.start:k.end]), true
	}
	return unquoteJSON(b[k.start-1 : k.end+1])
}

// asciiEqualFold compares two ASCII strings ignoring case, as FoldCase
// does for ASCII.
func asciiEqualFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// checkStrings refuses a decoded value holding a string, key or value,
// longer than l.StringBytes or with a character invalidText refuses.
func checkStrings(v any, l Limits) error {
	check := func(s string) error {
		if len(s) > l.StringBytes {
			return limitError(SCIMTypeInvalidValue, "a string of %d bytes is longer than the %d allowed", len(s), l.StringBytes)
		}
		if i := invalidText(s); i >= 0 {
			return badRequest(SCIMTypeInvalidValue, "string %s holds control character %U, which is not allowed", quoteShort(s), []rune(s[i:])[0])
		}
		return nil
	}
	switch v := v.(type) {
	case string:
		return check(v)
	case []any:
		for _, e := range v {
			if err := checkStrings(e, l); err != nil {
				return err
			}
		}
	case map[string]any:
		for k, e := range v {
			if err := check(k); err != nil {
				return err
			}
			if err := checkStrings(e, l); err != nil {
				return err
			}
		}
	}
	return nil
}

// invalidText returns the byte offset of the first character of s that no
// SCIM text may hold, or -1. Allowed are all Unicode characters but the
// C0 controls other than tab, line feed and carriage return (which
// multi-line values such as addresses.formatted need), DEL, and the C1
// controls (U+0080–U+009F). s must be valid UTF-8.
func invalidText(s string) int {
	for i, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
		case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
			return i
		}
	}
	return -1
}

// readObject is readJSON for bodies that must be a JSON object.
func readObject(r *http.Request, l Limits) (map[string]any, error) {
	v, err := readJSON(r, l)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, badRequest(SCIMTypeInvalidSyntax, "request body must be a JSON object")
	}
	return m, nil
}

// checkRequestText refuses a request whose path or query is not valid
// UTF-8 or holds control characters (see invalidText), and a query that
// does not parse: it would otherwise be read with parameters silently
// dropped, a filter among them. Each error says which of the two the text
// breaks; a control character in the filter parameter is 400 invalidFilter
// as the filter parser answers it (see checkFilterText). It returns the
// parsed query.
func checkRequestText(r *http.Request) (url.Values, error) {
	if !utf8.ValidString(r.URL.Path) {
		return nil, badRequest(SCIMTypeInvalidSyntax, "the request path is not valid UTF-8 text")
	}
	if i := invalidText(r.URL.Path); i >= 0 {
		return nil, badRequest(SCIMTypeInvalidSyntax, "the request path holds control character %U (at position %d)", []rune(r.URL.Path[i:])[0], i+1)
	}
	for rest := r.URL.Path; rest != ""; {
		seg := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		// Routers that do not clean paths would let "/Users/../Groups/g1"
		// reach a Group through the Users endpoint.
		if seg == "." || seg == ".." {
			return nil, badRequest(SCIMTypeInvalidSyntax, "the request path holds a %q segment", seg)
		}
	}
	if r.URL.RawQuery == "" {
		return nil, nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest(SCIMTypeInvalidSyntax, "the query string does not parse")
	}
	for k, vs := range q {
		ok := utf8.ValidString(k)
		for _, v := range vs {
			ok = ok && utf8.ValidString(v)
		}
		if !ok {
			return nil, badRequest(SCIMTypeInvalidValue, "query parameter %s is not valid UTF-8 text", quoteShort(k))
		}
	}
	for k, vs := range q {
		if i := invalidText(k); i >= 0 {
			return nil, badRequest(SCIMTypeInvalidValue, "query parameter name %s holds control character %U (at position %d)", quoteShort(k), []rune(k[i:])[0], i+1)
		}
		for _, v := range vs {
			if strings.EqualFold(k, "filter") {
				if err := checkFilterText(v); err != nil {
					return nil, err
				}
			} else if i := invalidText(v); i >= 0 {
				return nil, badRequest(SCIMTypeInvalidValue, "query parameter %s holds control character %U (at position %d)", quoteShort(k), []rune(v[i:])[0], i+1)
			}
		}
	}
	return q, nil
}
