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
		return nil, badRequest(ErrTypeInvalidSyntax, "cannot read the request body")
	}
	if int64(len(body)) > l.BodyBytes {
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, ScimType: ErrTypeTooMany, Detail: "request body exceeds " + strconv.FormatInt(l.BodyBytes, 10) + " bytes", Err: errTooLarge}
	}
	return parseJSON(body, l)
}

// parseJSON decodes body as readJSON describes.
func parseJSON(body []byte, l Limits) (any, error) {
	if !utf8.Valid(body) {
		return nil, badRequest(ErrTypeInvalidSyntax, "request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	jr := jsonReader{dec: dec, limits: l}
	v, err := jr.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, badRequest(ErrTypeInvalidSyntax, "request body holds more than one JSON value")
	}
	return v, nil
}

// jsonReader builds a JSON value token by token, checking each.
type jsonReader struct {
	dec    *json.Decoder
	limits Limits
}

// syntaxError turns a decoding error into a SCIM error; encoding/json's
// syntax messages name characters and offsets, never Go types.
func syntaxError(err error) *Error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return badRequest(ErrTypeInvalidSyntax, "request body is not valid JSON: %s (at byte %d)", se.Error(), se.Offset)
	}
	return badRequest(ErrTypeInvalidSyntax, "request body is not valid JSON: it ends too early")
}

func (jr *jsonReader) value(depth int) (any, error) {
	tok, err := jr.dec.Token()
	if err != nil {
		return nil, syntaxError(err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= jr.limits.JSONDepth {
			return nil, limitError(ErrTypeInvalidSyntax, "request body nests objects and arrays more than %d levels deep", jr.limits.JSONDepth)
		}
		switch t {
		case '{':
			return jr.object(depth + 1)
		case '[':
			return jr.array(depth + 1)
		}
		return nil, badRequest(ErrTypeInvalidSyntax, "request body is not valid JSON: unexpected %q", t.String())
	case string:
		if err := jr.checkString(t); err != nil {
			return nil, err
		}
		return t, nil
	default: // json.Number, bool, nil
		return t, nil
	}
}

func (jr *jsonReader) object(depth int) (any, error) {
	m := map[string]any{}
	var seen map[string]bool // folded keys, once there are two
	for jr.dec.More() {
		tok, err := jr.dec.Token()
		if err != nil {
			return nil, syntaxError(err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, badRequest(ErrTypeInvalidSyntax, "request body is not valid JSON: an object key must be a string")
		}
		if err := jr.checkString(key); err != nil {
			return nil, err
		}
		if len(m) > 0 && seen == nil {
			seen = make(map[string]bool, 8)
			for k := range m {
				seen[FoldCase(k)] = true
			}
		}
		if seen != nil {
			folded := FoldCase(key)
			if seen[folded] {
				return nil, badRequest(ErrTypeInvalidSyntax, "key %s appears twice in one object (names are case-insensitive)", quoteShort(key))
			}
			seen[folded] = true
		}
		v, err := jr.value(depth)
		if err != nil {
			return nil, err
		}
		m[key] = v
	}
	if _, err := jr.dec.Token(); err != nil { // '}'
		return nil, syntaxError(err)
	}
	return m, nil
}

func (jr *jsonReader) array(depth int) (any, error) {
	list := []any{}
	for jr.dec.More() {
		v, err := jr.value(depth)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
	}
	if _, err := jr.dec.Token(); err != nil { // ']'
		return nil, syntaxError(err)
	}
	return list, nil
}

func (jr *jsonReader) checkString(s string) error {
	if len(s) > jr.limits.StringBytes {
		return limitError(ErrTypeInvalidValue, "a string of %d bytes is longer than the %d allowed", len(s), jr.limits.StringBytes)
	}
	if i := invalidText(s); i >= 0 {
		return badRequest(ErrTypeInvalidValue, "string %s holds control character %U, which is not allowed", quoteShort(s), []rune(s[i:])[0])
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
		return nil, badRequest(ErrTypeInvalidSyntax, "request body must be a JSON object")
	}
	return m, nil
}

// checkRequestText refuses a request whose path or query is not valid
// UTF-8 or holds control characters (see invalidText), and a query that
// does not parse: it would otherwise be read with parameters silently
// dropped, a filter among them.
func checkRequestText(r *http.Request) error {
	if !utf8.ValidString(r.URL.Path) || invalidText(r.URL.Path) >= 0 {
		return badRequest(ErrTypeInvalidSyntax, "the request path is not valid UTF-8 text")
	}
	for _, seg := range strings.Split(r.URL.Path, "/") {
		// Routers that do not clean paths would let "/Users/../Groups/g1"
		// reach a Group through the Users endpoint.
		if seg == "." || seg == ".." {
			return badRequest(ErrTypeInvalidSyntax, "the request path holds a %q segment", seg)
		}
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return badRequest(ErrTypeInvalidSyntax, "the query string does not parse")
	}
	for k, vs := range q {
		for _, v := range append(vs, k) {
			if !utf8.ValidString(v) || invalidText(v) >= 0 {
				return badRequest(ErrTypeInvalidValue, "query parameter %s is not valid UTF-8 text", quoteShort(k))
			}
		}
	}
	return nil
}
