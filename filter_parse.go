package scim

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scimkit/scim/internal/strictjson"
)

// parseFilter parses a SCIM filter (RFC 7644 §3.4.2.2) and checks it against
// the resource type: attribute paths come back canonical and values
// converted to the attribute's type. Lenient mode (strict false) also takes
// what Entra ID and Microsoft's SCIM validator send: unquoted values,
// "True"/"False" strings for booleans, numbers for strings, capitalised
// literals and dateTimes without a zone (read as UTC). Every error is an
// *Error with status 400 and scimType invalidFilter.
func (rt *resourceType) parseFilter(s string, strict bool) (Filter, error) {
	// The limits keep the parser, the evaluator and a store's query
	// translation from working without bound.
	if l := rt.limits.FilterBytes; len(s) > l {
		return nil, limitError(SCIMTypeInvalidFilter, "invalid filter: the filter is %d bytes long, more than the %d allowed", len(s), l)
	}
	if err := checkFilterText(s); err != nil {
		return nil, err
	}
	p := &filterParser{rt: rt, src: s, strict: strict}
	f, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	switch t := p.peek(); t.kind {
	case tokEOF:
		return f, nil
	case tokRParen, tokRBrack:
		return nil, p.errorf(t.pos, "%s has no matching opening bracket", t.describe())
	default:
		return nil, p.errorf(t.pos, `expected "and", "or" or the end of the filter, got %s`, t.describe())
	}
}

// checkFilterText refuses a filter that is not valid UTF-8 or holds a
// control character (see strictjson.InvalidText): 400 invalidFilter naming the
// character and its position (1-based, in bytes), as other filter errors
// name theirs.
func checkFilterText(s string) *Error {
	if !utf8.ValidString(s) {
		return badRequest(SCIMTypeInvalidFilter, "invalid filter: the filter is not valid UTF-8")
	}
	if i := strictjson.InvalidText(s); i >= 0 {
		return badRequest(SCIMTypeInvalidFilter, "invalid filter: control character %U (at position %d)", []rune(s[i:])[0], i+1)
	}
	return nil
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokLParen
	tokRParen
	tokLBrack
	tokRBrack
	tokString
	tokWord
)

type token struct {
	kind     tokKind
	text     string // source text
	pos, end int    // byte offsets in the source
}

func (t token) describe() string {
	if t.kind == tokEOF {
		return "the end of the filter"
	}
	return quoteShort(t.text)
}

// quoteShort quotes s for an error detail, cut short so that a long filter
// does not make a long error.
func quoteShort(s string) string {
	const max = 40
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}

type filterParser struct {
	rt     *resourceType
	src    string
	pos    int
	strict bool
	depth  int
	terms  int // comparisons parsed so far
	// outer is the attribute of the value path being parsed; the
	// attribute names inside its brackets are its sub-attributes.
	outer *AttrPath
}

func (p *filterParser) errorf(pos int, format string, args ...any) *Error {
	return badRequest(SCIMTypeInvalidFilter, "invalid filter: %s (at position %d)", fmt.Sprintf(format, args...), pos+1)
}

func isFilterSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

func isWordEnd(c byte) bool {
	return isFilterSpace(c) || c == '(' || c == ')' || c == '[' || c == ']' || c == '"'
}

func (p *filterParser) peek() token { return p.tokenAt(p.pos) }

// tokenAt scans the token at or after byte offset i without consuming it.
// Values are scanned by parseValue instead, since an unquoted value ends at
// different characters than a name does.
func (p *filterParser) tokenAt(i int) token {
	for i < len(p.src) && isFilterSpace(p.src[i]) {
		i++
	}
	if i >= len(p.src) {
		return token{kind: tokEOF, pos: i, end: i}
	}
	one := func(k tokKind) token { return token{kind: k, text: p.src[i : i+1], pos: i, end: i + 1} }
	switch p.src[i] {
	case '(':
		return one(tokLParen)
	case ')':
		return one(tokRParen)
	case '[':
		return one(tokLBrack)
	case ']':
		return one(tokRBrack)
	case '"':
		end := stringEnd(p.src, i)
		if end < 0 {
			end = len(p.src)
		}
		return token{kind: tokString, text: p.src[i:end], pos: i, end: end}
	}
	j := i
	for j < len(p.src) && !isWordEnd(p.src[j]) {
		j++
	}
	return token{kind: tokWord, text: p.src[i:j], pos: i, end: j}
}

// stringEnd returns the offset just after the JSON string opening at i, or
// -1 when it is not terminated.
func stringEnd(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

func isKeyword(t token, kw string) bool {
	return t.kind == tokWord && strings.EqualFold(t.text, kw)
}

var compareOps = map[string]CompareOp{
	"eq": OpEqual, "ne": OpNotEqual, "co": OpContains, "sw": OpStartsWith, "ew": OpEndsWith,
	"pr": OpPresent, "gt": OpGreater, "ge": OpGreaterOrEqual, "lt": OpLess, "le": OpLessOrEqual,
}

func compareOp(t token) (CompareOp, bool) {
	if t.kind != tokWord {
		return "", false
	}
	op, ok := compareOps[strings.ToLower(t.text)]
	return op, ok
}

// parseOr and parseAnd build left-leaning trees in loops, so a long flat
// chain of and/or costs no recursion; only brackets and not nest.
func (p *filterParser) parseOr() (Filter, error) {
	left, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if !isKeyword(t, "or") {
			return left, nil
		}
		p.pos = t.end
		right, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		left = &LogicalExpr{Op: Or, Left: left, Right: right}
	}
}

func (p *filterParser) parseAnd() (Filter, error) {
	left, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if !isKeyword(t, "and") {
			return left, nil
		}
		p.pos = t.end
		right, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		left = &LogicalExpr{Op: And, Left: left, Right: right}
	}
}

func (p *filterParser) enter(t token) error {
	p.depth++
	if l := p.rt.limits.FilterDepth; p.depth > l {
		e := p.errorf(t.pos, "the filter nests brackets, value paths and \"not\" more than %d levels deep", l)
		e.Err = errTooLarge
		return e
	}
	return nil
}

// parseGroup parses a filter in parentheses; open is the "(" token.
func (p *filterParser) parseGroup(open token) (Filter, error) {
	if err := p.enter(open); err != nil {
		return nil, err
	}
	p.pos = open.end
	f, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if err := p.expectClose(tokRParen, ")", open); err != nil {
		return nil, err
	}
	p.depth--
	return f, nil
}

func (p *filterParser) expectClose(kind tokKind, closer string, open token) error {
	t := p.peek()
	if t.kind == kind {
		p.pos = t.end
		return nil
	}
	if t.kind == tokEOF {
		return p.errorf(open.pos, "%q is never closed with %q", open.text, closer)
	}
	return p.errorf(t.pos, `expected "and", "or" or %q, got %s`, closer, t.describe())
}

const expectedFilterStart = `expected an attribute, "(" or "not"`

func (p *filterParser) parseUnary() (Filter, error) {
	t := p.peek()
	switch t.kind {
	case tokLParen:
		return p.parseGroup(t)
	case tokWord:
		if isKeyword(t, "not") {
			next := p.tokenAt(t.end)
			if next.kind == tokLParen {
				x, err := p.parseGroup(next)
				if err != nil {
					return nil, err
				}
				return &NotExpr{X: x}, nil
			}
			// An attribute named "not" is still possible: "not eq 1".
			if _, isOp := compareOp(next); !isOp {
				return nil, p.errorf(next.pos, `"not" must be followed by "(", got %s`, next.describe())
			}
		}
		if isKeyword(t, "and") || isKeyword(t, "or") {
			return nil, p.errorf(t.pos, "%s, got %q with no filter before it", expectedFilterStart, t.text)
		}
		return p.parseAttrExpr(t)
	default:
		return nil, p.errorf(t.pos, "%s, got %s", expectedFilterStart, t.describe())
	}
}

// validPathSyntax checks a textual attribute path: an optional URN prefix
// ending in ':', an attribute name and an optional ".subAttribute".
func validPathSyntax(s string) bool {
	rest := s
	if len(s) >= 4 && strings.EqualFold(s[:4], "urn:") {
		rest = s[strings.LastIndexByte(s, ':')+1:]
	}
	name, sub, dotted := strings.Cut(rest, ".")
	return validAttrName(name) && (!dotted || validAttrName(sub))
}

// validAttrName checks ATTRNAME (RFC 7644 §3.10), letting names start with
// '$' too, as "$ref" does.
func validAttrName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alpha := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
		if alpha || c == '$' || i > 0 && (c >= '0' && c <= '9' || c == '_' || c == '-') {
			continue
		}
		return false
	}
	return true
}

// resolvePath resolves the attribute token t, relative to the value path
// being parsed, if any.
func (p *filterParser) resolvePath(t token) (AttrPath, *attrDef, error) {
	text := t.text
	if p.outer != nil {
		if !validAttrName(text) {
			return AttrPath{}, nil, p.errorf(t.pos, "%s inside %s[...] must be the name of one of its sub-attributes", quoteShort(text), p.outer)
		}
		text = p.outer.String() + "." + text
	} else if !validPathSyntax(text) {
		return AttrPath{}, nil, p.errorf(t.pos, "%s is not a valid attribute path", quoteShort(text))
	}
	path, def, err := p.rt.resolve(text, p.strict)
	if err != nil {
		var e *Error
		if p.outer != nil {
			e = p.errorf(t.pos, "%s has no sub-attribute %s", p.outer, quoteShort(t.text))
		} else {
			e = p.errorf(t.pos, "unknown attribute %s", quoteShort(t.text))
		}
		e.Err = err // a *pathError: a search across types skips the type
		return AttrPath{}, nil, e
	}
	if p.rt.neverReturned(path, def) {
		// Filtering on a password would let a client guess it.
		return AttrPath{}, nil, p.errorf(t.pos, "%s is never returned, so it cannot be filtered on", path)
	}
	if rendered(path) {
		return AttrPath{}, nil, p.errorf(t.pos, "%s is computed when a resource is sent, not stored, so it cannot be filtered on", path)
	}
	return path, def, nil
}

func (p *filterParser) parseAttrExpr(t token) (Filter, error) {
	p.pos = t.end
	p.terms++
	if l := p.rt.limits.FilterTerms; p.terms > l {
		e := p.errorf(t.pos, "the filter has more than %d comparisons", l)
		e.Err = errTooLarge
		return nil, e
	}
	if lb := p.peek(); lb.kind == tokLBrack {
		return p.parseValuePath(t, lb)
	}
	path, def, err := p.resolvePath(t)
	if err != nil {
		return nil, err
	}
	opTok := p.peek()
	op, ok := compareOp(opTok)
	if !ok {
		if opTok.kind == tokEOF {
			return nil, p.errorf(opTok.pos, "missing an operator after %s", quoteShort(t.text))
		}
		return nil, p.errorf(opTok.pos, "unknown operator %s after %s; use eq, ne, co, sw, ew, gt, ge, lt, le or pr", opTok.describe(), quoteShort(t.text))
	}
	p.pos = opTok.end

	if op == OpPresent {
		switch next := p.peek(); {
		case next.kind == tokEOF, next.kind == tokRParen, next.kind == tokRBrack,
			isKeyword(next, "and"), isKeyword(next, "or"):
			return &CompareExpr{Path: path, Op: OpPresent}, nil
		default:
			return nil, p.errorf(next.pos, "pr takes no value, got %s", next.describe())
		}
	}

	if path.Type == TypeComplex {
		// `emails co "x"` compares the value sub-attribute.
		v := def.sub("value")
		if v == nil {
			return nil, p.errorf(t.pos, "%s is complex and has no \"value\" sub-attribute; compare one of its sub-attributes", path)
		}
		path.Sub, path.Type, path.CaseExact = v.name, v.typ, v.caseExact
	}
	raw, err := p.parseValue(opTok)
	if err != nil {
		return nil, err
	}
	val, err := p.convertValue(path, op, opTok, raw)
	if err != nil {
		return nil, err
	}
	if s, ok := val.(string); ok && path.URN == "" && path.Name == "meta" && path.Sub == "version" {
		// Clients compare with the version as served, a weak ETag: W/"3".
		val = strings.Trim(strings.TrimPrefix(s, "W/"), `"`)
	}
	return &CompareExpr{Path: path, Op: op, Value: val}, nil
}

func (p *filterParser) parseValuePath(t, lb token) (Filter, error) {
	if p.outer != nil {
		return nil, p.errorf(lb.pos, "value filters cannot nest: %s[...] inside %s[...]", quoteShort(t.text), p.outer)
	}
	path, _, err := p.resolvePath(t)
	if err != nil {
		return nil, err
	}
	if path.Type != TypeComplex || path.Sub != "" {
		return nil, p.errorf(lb.pos, "%s is not a complex attribute, so it takes no [value filter]", path)
	}
	if err := p.enter(lb); err != nil {
		return nil, err
	}
	p.pos = lb.end
	p.outer = &path
	inner, err := p.parseOr()
	p.outer = nil
	if err != nil {
		return nil, err
	}
	if err := p.expectClose(tokRBrack, "]", lb); err != nil {
		return nil, err
	}
	p.depth--
	// Lenient: `emails[type eq "work"].value eq "x"`, Entra ID's match on a
	// work email, compares a sub-attribute of the selected values.
	if next := p.peek(); !p.strict && next.kind == tokWord && next.pos == p.pos && strings.HasPrefix(next.text, ".") {
		p.outer = &path
		cmp, err := p.parseAttrExpr(token{kind: tokWord, text: next.text[1:], pos: next.pos + 1, end: next.end})
		p.outer = nil
		if err != nil {
			return nil, err
		}
		inner = &LogicalExpr{Op: And, Left: inner, Right: cmp}
	}
	return &ValuePathExpr{Path: path, Filter: inner}, nil
}

type rawKind int

const (
	rawString rawKind = iota // a JSON string
	rawBare                  // an unquoted word (lenient only)
	rawNumber
	rawBool
	rawNull
)

// rawValue is a comparison value as written, before conversion to the
// attribute's type.
type rawValue struct {
	kind rawKind
	text string // decoded string, or the literal as written
	b    bool
	pos  int
}

func (p *filterParser) parseValue(op token) (rawValue, error) {
	i := p.pos
	for i < len(p.src) && isFilterSpace(p.src[i]) {
		i++
	}
	if i >= len(p.src) {
		return rawValue{}, p.errorf(i, "missing a value after %q", op.text)
	}
	if p.src[i] == '"' {
		end := stringEnd(p.src, i)
		if end < 0 {
			return rawValue{}, p.errorf(i, "unterminated string")
		}
		s, ok := plainString(p.src[i+1 : end-1])
		if !ok {
			if s, ok = strictjson.Unquote([]byte(p.src[i:end])); !ok {
				return rawValue{}, p.errorf(i, "invalid string %s: use JSON string syntax", quoteShort(p.src[i:end]))
			}
		}
		p.pos = end
		return rawValue{kind: rawString, text: s, pos: i}, nil
	}
	// An unquoted value runs to whitespace or a closing bracket, so that
	// `emails.value co example.com)` reads "example.com".
	j := i
	for j < len(p.src) && !isFilterSpace(p.src[j]) && p.src[j] != ')' && p.src[j] != ']' {
		j++
	}
	if j == i {
		return rawValue{}, p.errorf(i, "missing a value after %q", op.text)
	}
	w := p.src[i:j]
	p.pos = j
	lit := func(s string) bool {
		if p.strict {
			return w == s
		}
		return strings.EqualFold(w, s)
	}
	switch {
	case lit("true"):
		return rawValue{kind: rawBool, text: w, b: true, pos: i}, nil
	case lit("false"):
		return rawValue{kind: rawBool, text: w, pos: i}, nil
	case lit("null"):
		return rawValue{kind: rawNull, text: w, pos: i}, nil
	case isJSONNumber(w):
		return rawValue{kind: rawNumber, text: w, pos: i}, nil
	case p.strict || strings.ContainsAny(w, "\"{}[]();\\`"):
		// Unquoted values (Entra ID's) are words: ids, names, addresses;
		// quotes and brackets in one are a malformed or injected filter.
		return rawValue{}, p.errorf(i, "%s is not a JSON value; put strings in double quotes", quoteShort(w))
	default:
		return rawValue{kind: rawBare, text: w, pos: i}, nil
	}
}

// plainString returns the inside of a JSON string literal that needs no
// decoding (no escape, no control character, valid UTF-8) as it is, and
// whether it is one: most filter values are, and they need no Unmarshal.
func plainString(s string) (string, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c < 0x20 {
			return "", false
		}
	}
	return s, utf8.ValidString(s)
}

// isJSONNumber reports whether s is a number in JSON syntax (RFC 8259 §6).
func isJSONNumber(s string) bool {
	i := 0
	digits := func() bool {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if !digits() {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(s)
}

func isStringType(t AttrType) bool {
	return t == TypeString || t == TypeReference || t == TypeBinary
}

// convertValue checks that op applies to the attribute's type and converts
// the value to that type, as CompareExpr.Value documents.
func (p *filterParser) convertValue(path AttrPath, op CompareOp, opTok token, raw rawValue) (any, error) {
	if raw.kind == rawNull {
		if op != OpEqual && op != OpNotEqual {
			return nil, p.errorf(raw.pos, "null can only be compared with eq or ne")
		}
		return nil, nil
	}
	switch op {
	case OpContains, OpStartsWith, OpEndsWith:
		if !isStringType(path.Type) {
			return nil, p.errorf(opTok.pos, "operator %s applies to strings, and %s is of type %s", op, path, path.Type)
		}
	case OpGreater, OpGreaterOrEqual, OpLess, OpLessOrEqual:
		if path.Type == TypeBoolean || path.Type == TypeBinary {
			return nil, p.errorf(opTok.pos, "operator %s cannot order values of %s, which is of type %s", op, path, path.Type)
		}
	}
	quoted := raw.kind == rawString || raw.kind == rawBare
	// numText is the text of a number: a literal, or in lenient mode a string.
	numText, isNum := raw.text, raw.kind == rawNumber || quoted && !p.strict
	switch path.Type {
	case TypeString, TypeReference, TypeBinary:
		if quoted || !p.strict {
			return raw.text, nil
		}
		return nil, p.errorf(raw.pos, "%s is of type %s; give the value as a quoted string", path, path.Type)
	case TypeBoolean:
		if raw.kind == rawBool {
			return raw.b, nil
		}
		if quoted && !p.strict {
			switch {
			case strings.EqualFold(raw.text, "true"):
				return true, nil
			case strings.EqualFold(raw.text, "false"):
				return false, nil
			}
		}
		return nil, p.errorf(raw.pos, "%s is a boolean; compare it with true or false", path)
	case TypeInteger:
		if isNum {
			if n, ok := parseInteger(strings.TrimSpace(numText)); ok {
				return n, nil
			}
		}
		return nil, p.errorf(raw.pos, "%s is an integer, and %s is not one", path, quoteShort(raw.text))
	case TypeDecimal:
		if isNum {
			if f, ok := parseDecimal(strings.TrimSpace(numText)); ok {
				return f, nil
			}
		}
		return nil, p.errorf(raw.pos, "%s is a decimal number, and %s is not one", path, quoteShort(raw.text))
	case TypeDateTime:
		if quoted {
			if t, ok := parseDateTime(raw.text, !p.strict); ok {
				return t, nil
			}
		}
		return nil, p.errorf(raw.pos, "%s is a dateTime; give it as an RFC 3339 string such as \"2024-05-01T12:00:00Z\", not %s", path, quoteShort(raw.text))
	default:
		return nil, p.errorf(opTok.pos, "cannot compare %s, which is of type %s", path, path.Type)
	}
}

// parseInteger accepts a JSON number with an integral value in int64 range;
// "1e3" is 1000.
func parseInteger(s string) (int64, bool) {
	if !isJSONNumber(s) {
		return 0, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

func parseDecimal(s string) (float64, bool) {
	if !isJSONNumber(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// parseDateTime reads an RFC 3339 time with any number of fractional
// digits. Lenient mode also reads one without a zone, as UTC.
func parseDateTime(s string, lenient bool) (time.Time, bool) {
	// RFC 3339 allows a lowercase "t" and "z"; Go's parser does not.
	s = strings.ToUpper(s)
	if !lenient && strings.Contains(s, ",") { // Go takes "05,5" for "05.5".
		return time.Time{}, false
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	if lenient {
		if t, err := time.ParseInLocation("2006-01-02T15:04:05", s, time.UTC); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// rendered reports whether path names what the handler computes when it
// sends a resource rather than what a store keeps: meta.location and the
// $ref of members, groups and managers. Filters and sortBy on them would
// silently match nothing, so they are refused.
func rendered(path AttrPath) bool {
	return path.Sub == "$ref" || path.URN == "" && path.Name == "meta" && path.Sub == "location"
}
