package scim

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrInvalidExpr: a filter expression built with Eq, Present, Not,
// ValuePath and the others cannot be written as a SCIM filter (an
// attribute path that is no path, a value of a Go type no SCIM attribute
// has, null with an operator other than eq or ne, a value path nested in
// another).
var ErrInvalidExpr = errors.New("scim: invalid filter expression")

// Expr is a SCIM filter (RFC 7644 §3.4.2.2) built in Go, so that host code
// and reconcilers never assemble filter text by hand: values are escaped
// and typed, paths checked, precedence kept.
//
//	scim.Eq("userName", name).And(scim.Eq("active", true))
//	scim.ValuePath("emails", scim.Eq("type", "work").And(scim.Co("value", "@example.com")))
//
// String is the filter's text, for a filter query parameter (escape it
// with url.QueryEscape) or a SearchRequest. Filter checks it against a
// resource type and returns the Filter a Store's Query takes.
//
// The zero Expr is no filter: its String is "", its Filter nil, and And,
// Or, AllOf and AnyOf leave it out, so a filter can be built up from
// nothing. An Expr that cannot be written carries its error (Err, wrapping
// ErrInvalidExpr) through every expression built from it; its String is
// text that no SCIM server accepts, never one that matches more than
// asked.
type Expr struct {
	text string
	kind exprKind
	err  error
	// qualified: some comparison's path is more than an attribute name
	// (a sub-attribute, a URN): it cannot go inside a value path.
	qualified bool
	// hasValuePath: the expression holds a value path, which another
	// cannot hold.
	hasValuePath bool
}

type exprKind int

const (
	exprNone    exprKind = iota // the zero Expr: no filter
	exprCompare                 // attrPath op value, attrPath pr, not (…), path[…]
	exprAnd                     // … and …
	exprOr                      // … or …
	exprInvalid                 // carries err
)

// Eq is `path eq value`: equal (case-insensitively for attributes that are
// not caseExact). A nil value compares with null.
func Eq(path string, value any) Expr { return compare(path, OpEqual, value) }

// Ne is `path ne value`: not equal.
func Ne(path string, value any) Expr { return compare(path, OpNotEqual, value) }

// Co is `path co value`: contains (strings).
func Co(path string, value any) Expr { return compare(path, OpContains, value) }

// Sw is `path sw value`: starts with (strings).
func Sw(path string, value any) Expr { return compare(path, OpStartsWith, value) }

// Ew is `path ew value`: ends with (strings).
func Ew(path string, value any) Expr { return compare(path, OpEndsWith, value) }

// Gt is `path gt value`: greater than (strings, numbers, dateTimes).
func Gt(path string, value any) Expr { return compare(path, OpGreater, value) }

// Ge is `path ge value`: greater than or equal.
func Ge(path string, value any) Expr { return compare(path, OpGreaterOrEqual, value) }

// Lt is `path lt value`: less than.
func Lt(path string, value any) Expr { return compare(path, OpLess, value) }

// Le is `path le value`: less than or equal.
func Le(path string, value any) Expr { return compare(path, OpLessOrEqual, value) }

// Present is `path pr`: the attribute has a value.
func Present(path string) Expr {
	if err := checkExprPath(path); err != nil {
		return invalidExpr(err)
	}
	return Expr{text: path + " pr", kind: exprCompare, qualified: qualifiedPath(path)}
}

// Not is `not (e)`. Not of the zero Expr is invalid: it would match
// everything.
func Not(e Expr) Expr {
	switch e.kind {
	case exprInvalid:
		return e
	case exprNone:
		return invalidExpr(errors.New("not of an empty expression"))
	}
	return Expr{text: "not (" + e.text + ")", kind: exprCompare, qualified: e.qualified, hasValuePath: e.hasValuePath}
}

// ValuePath is `attr[e]`: the resource has a value of the multi-valued (or
// complex) attribute attr that matches e, whose paths name attr's
// sub-attributes by their bare names: ValuePath("emails", Eq("type",
// "work")) is `emails[type eq "work"]`.
func ValuePath(attr string, e Expr) Expr {
	switch {
	case e.kind == exprInvalid:
		return e
	case checkExprPath(attr) != nil:
		return invalidExpr(checkExprPath(attr))
	case strings.Contains(attr[strings.LastIndexByte(attr, ':')+1:], "."):
		return invalidExpr(fmt.Errorf("a value path's attribute %q names a sub-attribute", attr))
	case e.kind == exprNone:
		return invalidExpr(fmt.Errorf("the value path of %q has an empty expression", attr))
	case e.hasValuePath:
		return invalidExpr(fmt.Errorf("value paths cannot nest: %s inside %s[...]", e.text, attr))
	case e.qualified:
		return invalidExpr(fmt.Errorf("inside %s[...] paths are bare sub-attribute names: %s", attr, e.text))
	}
	return Expr{text: attr + "[" + e.text + "]", kind: exprCompare, qualified: qualifiedPath(attr), hasValuePath: true}
}

// AllOf joins the expressions with "and", leaving out zero ones; AllOf()
// is the zero Expr.
func AllOf(exprs ...Expr) Expr { return join(exprAnd, exprs) }

// AnyOf joins the expressions with "or", leaving out zero ones; AnyOf()
// is the zero Expr.
func AnyOf(exprs ...Expr) Expr { return join(exprOr, exprs) }

// And is AllOf(e, others...).
func (e Expr) And(others ...Expr) Expr { return join(exprAnd, append([]Expr{e}, others...)) }

// Or is AnyOf(e, others...).
func (e Expr) Or(others ...Expr) Expr { return join(exprOr, append([]Expr{e}, others...)) }

// String returns the filter's text: "" for the zero Expr, and for an
// invalid one a text that every SCIM filter parser refuses.
func (e Expr) String() string {
	if e.kind == exprInvalid {
		return "!invalid filter expression: " + e.err.Error()
	}
	return e.text
}

// Err returns why e cannot be written as a filter (wrapping
// ErrInvalidExpr), or nil.
func (e Expr) Err() error { return e.err }

// IsZero reports whether e is the zero Expr: no filter.
func (e Expr) IsZero() bool { return e.kind == exprNone }

// Filter checks e against the resource type rt (its schema and
// extensions, as a Handler serving rt would) and returns it parsed, for a
// Store's Query; nil for the zero Expr. An error is e's own, or a *Error
// (400 invalidFilter) saying what rt does not have, as ParseFilter's.
func (e Expr) Filter(rt ResourceType) (Filter, error) {
	switch e.kind {
	case exprInvalid:
		return nil, e.err
	case exprNone:
		return nil, nil
	}
	return ParseFilter(rt, e.text)
}

// ParseFilter parses a SCIM filter's text and checks it against the
// resource type rt, as the handler checks a client's, and returns the
// Filter a Store's Query takes: attribute paths canonical, values of the
// attribute's type. It reads the filter as RFC 7644 writes it, without
// the leniencies the handler grants identity providers by default (as
// WithStrict reads it), and within DefaultLimits. Every error is a *Error
// with status 400 and scimType invalidFilter. It compiles rt on every
// call: parse once, keep the Filter.
func ParseFilter(rt ResourceType, filter string) (Filter, error) {
	c, err := compileResourceType(rt)
	if err != nil {
		return nil, err
	}
	return c.parseFilter(filter, true)
}

func invalidExpr(err error) Expr {
	return Expr{kind: exprInvalid, err: fmt.Errorf("%w: %w", ErrInvalidExpr, err)}
}

func checkExprPath(path string) error {
	if !validPathSyntax(path) {
		return fmt.Errorf("%q is not an attribute path", path)
	}
	return nil
}

// qualifiedPath reports whether path is more than a bare attribute name.
func qualifiedPath(path string) bool { return !validAttrName(path) }

func compare(path string, op CompareOp, value any) Expr {
	if err := checkExprPath(path); err != nil {
		return invalidExpr(err)
	}
	v, err := filterValue(value)
	if err != nil {
		return invalidExpr(fmt.Errorf("%s %s: %w", path, op, err))
	}
	if v == "null" && op != OpEqual && op != OpNotEqual {
		return invalidExpr(fmt.Errorf("%s %s: null can only be compared with eq or ne", path, op))
	}
	return Expr{text: path + " " + string(op) + " " + v, kind: exprCompare, qualified: qualifiedPath(path)}
}

func join(kind exprKind, exprs []Expr) Expr {
	var parts []Expr
	for _, e := range exprs {
		switch e.kind {
		case exprInvalid:
			return e
		case exprNone:
			continue
		}
		parts = append(parts, e)
	}
	switch len(parts) {
	case 0:
		return Expr{}
	case 1:
		return parts[0]
	}
	sep := " and "
	if kind == exprOr {
		sep = " or "
	}
	out := Expr{kind: kind}
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteString(sep)
		}
		if kind == exprAnd && p.kind == exprOr { // "and" binds tighter
			b.WriteString("(" + p.text + ")")
		} else {
			b.WriteString(p.text)
		}
		out.qualified = out.qualified || p.qualified
		out.hasValuePath = out.hasValuePath || p.hasValuePath
	}
	out.text = b.String()
	return out
}

// filterValue writes a comparison value: strings as JSON strings (escaping
// what a filter's text may not hold), numbers, booleans, null, dateTimes
// (time.Time) as RFC 3339 strings in UTC, binary ([]byte) as base64.
func filterValue(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "null", nil
	case string:
		return quoteFilterString(v)
	case bool:
		return strconv.FormatBool(v), nil
	case time.Time:
		return `"` + v.UTC().Format(time.RFC3339Nano) + `"`, nil
	case []byte:
		return `"` + base64.StdEncoding.EncodeToString(v) + `"`, nil
	case json.Number:
		if !isJSONNumber(string(v)) {
			return "", fmt.Errorf("%q is not a number", string(v))
		}
		return string(v), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return quoteFilterString(rv.String())
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(rv.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return "", fmt.Errorf("%v is not a JSON number", f)
		}
		b, err := appendFloat(nil, f)
		return string(b), err
	}
	return "", fmt.Errorf("a value of type %T is no SCIM value (string, bool, number, time.Time, []byte or nil)", v)
}

// quoteFilterString writes s as a JSON string whose text holds no control
// character (which a filter's text may not: see checkFilterText), and
// refuses s when it is not UTF-8, rather than change it.
func quoteFilterString(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%q is not UTF-8 text", s)
	}
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f || r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return string(append(b, '"')), nil
}
