package scim

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/scimkit/scim/internal/strictjson"
)

// readJSON reads a request body of at most l.BodyBytes bytes and decodes
// it into one JSON value, keeping numbers exact (json.Number). It refuses,
// with 400 invalidSyntax (invalidValue for a string; 413 for the size),
// what encoding/json would let through but a SCIM resource must not hold:
//
//   - bytes that are not UTF-8 (encoding/json would store U+FFFD instead);
//   - anything after the value, even a lone "]";
//   - objects and arrays nested deeper than l.JSONDepth;
//   - two keys of one object that differ only in case, since attribute
//     names are case-insensitive (RFC 7643 §2.1);
//   - strings longer than l.StringBytes, and strings holding control
//     characters other than tab, line feed and carriage return (see
//     strictjson.InvalidText).
//
// A body with several faults is answered for the first in it.
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

// parseJSON decodes body as readJSON describes, in one pass (see package
// strictjson), and answers what it refuses with the SCIM error for it.
func parseJSON(body []byte, l Limits) (any, error) {
	v, err := strictjson.Decode(body, strictjson.Limits{Depth: l.JSONDepth, StringBytes: l.StringBytes})
	if err == nil {
		return v, nil
	}
	var e *strictjson.Error
	if !errors.As(err, &e) {
		return nil, badRequest(SCIMTypeInvalidSyntax, "request body is not valid JSON")
	}
	switch e.Kind {
	case strictjson.InvalidUTF8:
		return nil, badRequest(SCIMTypeInvalidSyntax, "request body is not valid UTF-8")
	case strictjson.Trailing:
		return nil, badRequest(SCIMTypeInvalidSyntax, "request body holds more than one JSON value")
	case strictjson.Depth:
		return nil, limitError(SCIMTypeInvalidSyntax, "request body nests objects and arrays more than %d levels deep", e.Limit)
	case strictjson.DuplicateKey:
		return nil, badRequest(SCIMTypeInvalidSyntax, "key %s appears twice in one object (names are case-insensitive)", quoteShort(e.Text))
	case strictjson.StringTooLong:
		return nil, limitError(SCIMTypeInvalidValue, "a string of %d bytes is longer than the %d allowed", e.Len, e.Limit)
	case strictjson.ControlCharacter:
		return nil, badRequest(SCIMTypeInvalidValue, "string %s holds control character %U, which is not allowed", quoteShort(e.Text), e.Char)
	case strictjson.Syntax:
		if e.EOF {
			return nil, badRequest(SCIMTypeInvalidSyntax, "request body is not valid JSON: it ends too early")
		}
		return nil, badRequest(SCIMTypeInvalidSyntax, "request body is not valid JSON: %s (at byte %d)", e.Reason, e.Offset)
	}
	return nil, badRequest(SCIMTypeInvalidSyntax, "request body is not valid JSON: %s", e.Kind)
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
// UTF-8 or holds control characters (see strictjson.InvalidText), and a query that
// does not parse: it would otherwise be read with parameters silently
// dropped, a filter among them. Each error says which of the two the text
// breaks; a control character in the filter parameter is 400 invalidFilter
// as the filter parser answers it (see checkFilterText). It returns the
// parsed query.
func checkRequestText(r *http.Request) (url.Values, error) {
	if !utf8.ValidString(r.URL.Path) {
		return nil, badRequest(SCIMTypeInvalidSyntax, "the request path is not valid UTF-8 text")
	}
	if i := strictjson.InvalidText(r.URL.Path); i >= 0 {
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
		if i := strictjson.InvalidText(k); i >= 0 {
			return nil, badRequest(SCIMTypeInvalidValue, "query parameter name %s holds control character %U (at position %d)", quoteShort(k), []rune(k[i:])[0], i+1)
		}
		for _, v := range vs {
			if strings.EqualFold(k, "filter") {
				if err := checkFilterText(v); err != nil {
					return nil, err
				}
			} else if i := strictjson.InvalidText(v); i >= 0 {
				return nil, badRequest(SCIMTypeInvalidValue, "query parameter %s holds control character %U (at position %d)", quoteShort(k), []rune(v[i:])[0], i+1)
			}
		}
	}
	return q, nil
}
