package scim

import (
	"bytes"
	"encoding/json"
	"errors"
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
	body, err := io.ReadAll(io.LimitReader(r.Body, l.BodyBytes+1))
	if err != nil {
		return nil, badRequest(SCIMTypeInvalidSyntax, "cannot read the request body")
	}
	if int64(len(body)) > l.BodyBytes {
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, SCIMType: SCIMTypeTooMany, Detail: "request body exceeds " + strconv.FormatInt(l.BodyBytes, 10) + " bytes", Err: errTooLarge}
	}
	return parseJSON(body, l)
}

// parseJSON decodes body as readJSON describes: one pass over the bytes
// checks nesting and keys, encoding/json decodes, and a walk over the
// decoded value checks its strings.
func parseJSON(body []byte, l Limits) (any, error) {
	if !utf8.Valid(body) {
		return nil, badRequest(SCIMTypeInvalidSyntax, "request body is not valid UTF-8")
	}
	if err := scanStructure(body, l.JSONDepth); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, syntaxError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, badRequest(SCIMTypeInvalidSyntax, "request body holds more than one JSON value")
	}
	if err := checkStrings(v, l); err != nil {
		return nil, err
	}
	return v, nil
}

// syntaxError turns a decoding error into a SCIM error; encoding/json's
// syntax messages name characters and offsets, never Go types.
func syntaxError(err error) *Error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return badRequest(SCIMTypeInvalidSyntax, "request body is not valid JSON: %s (at byte %d)", se.Error(), se.Offset)
	}
	return badRequest(SCIMTypeInvalidSyntax, "request body is not valid JSON: it ends too early")
}

// jsonFrame is an object or array scanStructure is inside.
type jsonFrame struct {
	object bool
	n      int                 // keys so far
	first  string              // the first key, folded
	keys   map[string]struct{} // the folded keys, once there are two
}

// scanStructure refuses a body that nests objects and arrays deeper than
// maxDepth or holds an object with two keys that differ only in case (or
// not at all). It reads JSON leniently: malformed input it cannot follow is
// left for the decoder to refuse.
func scanStructure(b []byte, maxDepth int) error {
	var stack []jsonFrame
	expectKey := false
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{', '[':
			if len(stack) >= maxDepth {
				return limitError(SCIMTypeInvalidSyntax, "request body nests objects and arrays more than %d levels deep", maxDepth)
			}
			stack = append(stack, jsonFrame{object: b[i] == '{'})
			expectKey = b[i] == '{'
		case '}', ']':
			if len(stack) == 0 {
				return nil
			}
			stack = stack[:len(stack)-1]
			expectKey = false
		case ',':
			expectKey = len(stack) > 0 && stack[len(stack)-1].object
		case '"':
			j, escaped := i+1, false
			for ; j < len(b) && b[j] != '"'; j++ {
				if b[j] == '\\' {
					escaped = true
					j++
				}
			}
			if j >= len(b) {
				return nil // unterminated
			}
			if expectKey {
				key := string(b[i+1 : j])
				if escaped && json.Unmarshal(b[i:j+1], &key) != nil {
					return nil
				}
				if err := stack[len(stack)-1].addKey(key); err != nil {
					return err
				}
				expectKey = false
			}
			i = j
		}
	}
	return nil
}

// addKey records a key of the object f, refusing one it already has.
func (f *jsonFrame) addKey(key string) error {
	folded := FoldCase(key)
	f.n++
	switch f.n {
	case 1:
		f.first = folded
		return nil
	case 2:
		f.keys = map[string]struct{}{f.first: {}}
	}
	if _, dup := f.keys[folded]; dup {
		return badRequest(SCIMTypeInvalidSyntax, "key %s appears twice in one object (names are case-insensitive)", quoteShort(key))
	}
	f.keys[folded] = struct{}{}
	return nil
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
// dropped, a filter among them. It returns the parsed query.
func checkRequestText(r *http.Request) (url.Values, error) {
	if !utf8.ValidString(r.URL.Path) || invalidText(r.URL.Path) >= 0 {
		return nil, badRequest(SCIMTypeInvalidSyntax, "the request path is not valid UTF-8 text")
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
	text := func(s string) bool { return utf8.ValidString(s) && invalidText(s) < 0 }
	for k, vs := range q {
		ok := text(k)
		for _, v := range vs {
			ok = ok && text(v)
		}
		if !ok {
			return nil, badRequest(SCIMTypeInvalidValue, "query parameter %s is not valid UTF-8 text", quoteShort(k))
		}
	}
	return q, nil
}
