package scim

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/scimkit/scim/internal/compact"
	"github.com/scimkit/scim/internal/fold"
)

// Matches reports whether r satisfies f; a nil filter matches every
// resource. It is the reference semantics of a parsed filter, which a store
// may use as it is or mirror in its own query language:
//
//   - id, meta.created, meta.lastModified, meta.resourceType and
//     meta.version come from r's fields, every other attribute from
//     r.Attributes (extension attributes from the map under their URN).
//   - A comparison on a multi-valued attribute holds if any value
//     satisfies it.
//   - Strings compare case-insensitively unless the path is CaseExact;
//     gt, ge, lt and le order them by code point, after case folding.
//     Numbers compare numerically (int64 against float64 exactly), and
//     dateTimes, stored as RFC 3339 strings, chronologically; a value that
//     does not parse matches nothing. Booleans support eq and ne only.
//   - pr holds for a value that is not null, "", [] or {}.
//   - ne holds when no value equals the operand, so a missing attribute is
//     "ne" anything; "eq null" holds when the attribute is not present and
//     "ne null" when it is.
//   - A value path holds when one element of the attribute (a single-valued
//     complex attribute being one element) satisfies its filter.
func Matches(f Filter, r *Resource) bool {
	if f == nil {
		return true
	}
	if r == nil {
		return false
	}
	return evalFilter(f, r, nil)
}

// scopeElem is the element of a value path that the paths inside its
// brackets address.
type scopeElem struct {
	path AttrPath
	elem any // a complex value: map[string]any or *compact.Object
}

func evalFilter(f Filter, r *Resource, el *scopeElem) bool {
	switch f := f.(type) {
	case *LogicalExpr:
		switch f.Op {
		case And:
			return evalFilter(f.Left, r, el) && evalFilter(f.Right, r, el)
		case Or:
			return evalFilter(f.Left, r, el) || evalFilter(f.Right, r, el)
		}
	case *NotExpr:
		return !evalFilter(f.X, r, el)
	case *ValuePathExpr:
		top, _ := attrValue(r, f.Path)
		elems, ok := top.([]any)
		if !ok {
			elems = []any{top}
		}
		for _, e := range elems {
			if compact.IsObject(e) && evalFilter(f.Filter, r, &scopeElem{path: f.Path, elem: e}) {
				return true
			}
		}
	case *CompareExpr:
		if eq, ok := elemStringEqual(f, el); ok {
			return eq
		}
		var buf [4]any // most attributes have a value or two: no allocation
		return evalCompare(f, leafValues(buf[:0], r, f.Path, el))
	}
	return false
}

// elemStringEqual answers `sub eq "x"` on a value path's element without
// allocating: the common case (members[value eq "id"]), which a PATCH on a
// large group evaluates once per member. ok is false for anything else.
func elemStringEqual(c *CompareExpr, el *scopeElem) (eq, ok bool) {
	if el == nil || c.Op != OpEqual || c.Path.Sub == "" || c.Path.Name != el.path.Name || c.Path.URN != el.path.URN {
		return false, false
	}
	want, ok := c.Value.(string)
	if !ok || !(c.Path.Type == TypeString || c.Path.Type == TypeReference) {
		return false, false
	}
	got, _ := compact.Get(el.elem, c.Path.Sub)
	switch got := got.(type) {
	case string:
		if c.Path.CaseExact {
			return got == want, true
		}
		return FoldCase(got) == FoldCase(want), true
	case nil:
		return false, true
	}
	return false, false // a list or another kind: the general path
}

// attrValue returns the top-level attribute of p (its Sub is ignored but for
// meta, which the resource keeps in fields).
func attrValue(r *Resource, p AttrPath) (any, bool) {
	if r == nil {
		return nil, false
	}
	if p.URN != "" {
		return compact.Get(r.Attributes[p.URN], p.Name)
	}
	switch p.Name {
	case "id":
		return r.ID, r.ID != ""
	case "meta":
		return metaValue(r), true
	}
	v, ok := r.Attributes[p.Name]
	return v, ok
}

// metaValue builds the meta attribute from the resource's fields, over
// whatever else (location) the attributes hold.
func metaValue(r *Resource) map[string]any {
	m := map[string]any{}
	if stored, ok := r.Attributes["meta"].(map[string]any); ok {
		for k, v := range stored {
			m[k] = v
		}
	}
	if r.Type != "" {
		m["resourceType"] = r.Type
	}
	if !r.Meta.Created.IsZero() {
		m["created"] = r.Meta.Created
	}
	if !r.Meta.LastModified.IsZero() {
		m["lastModified"] = r.Meta.LastModified
	}
	if r.Meta.Version != "" {
		m["version"] = r.Meta.Version
	}
	return m
}

// leafValues appends to out the values p addresses in r, or in el when p
// names the attribute of the enclosing value path. Multi-valued attributes
// are flattened; nulls are left out.
func leafValues(out []any, r *Resource, p AttrPath, el *scopeElem) []any {
	var top any
	if el != nil && el.path.Name == p.Name && el.path.URN == p.URN {
		top = el.elem
	} else if p.URN == "" && p.Name == "meta" && p.Sub != "" && r != nil {
		// Spare building the meta map for the common case.
		switch p.Sub {
		case "created":
			return timeValues(out, r.Meta.Created)
		case "lastModified":
			return timeValues(out, r.Meta.LastModified)
		case "resourceType":
			return stringValues(out, r.Type)
		case "version":
			return stringValues(out, r.Meta.Version)
		}
		top, _ = attrValue(r, p)
	} else if r != nil {
		top, _ = attrValue(r, p)
	}
	if p.Sub == "" {
		return flatten(out, top)
	}
	if list, ok := top.([]any); ok {
		for _, e := range list {
			v, _ := compact.Get(e, p.Sub)
			out = flatten(out, v)
		}
		return out
	}
	v, _ := compact.Get(top, p.Sub)
	return flatten(out, v)
}

func timeValues(out []any, t time.Time) []any {
	if t.IsZero() {
		return out
	}
	return append(out, t)
}

func stringValues(out []any, s string) []any {
	if s == "" {
		return out
	}
	return append(out, s)
}

func flatten(out []any, v any) []any {
	switch v := v.(type) {
	case nil:
		return out
	case []any:
		for _, e := range v {
			if e != nil {
				out = append(out, e)
			}
		}
		return out
	default:
		return append(out, v)
	}
}

// present reports whether v holds data: not null, "", [] or {} (nor a list
// or object holding only such values).
func present(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return v != ""
	case []any:
		for _, e := range v {
			if present(e) {
				return true
			}
		}
		return false
	case map[string]any, *compact.Object:
		found := false
		compact.Range(v, func(_ string, e any) bool {
			found = present(e)
			return !found
		})
		return found
	default:
		return true
	}
}

func evalCompare(c *CompareExpr, vals []any) bool {
	switch c.Op {
	case OpPresent:
		for _, v := range vals {
			if present(v) {
				return true
			}
		}
		return false
	case OpEqual:
		return anyEqual(c, vals)
	case OpNotEqual:
		return !anyEqual(c, vals)
	case OpContains, OpStartsWith, OpEndsWith:
		want, ok := c.Value.(string)
		if !ok || !(isStringType(c.Path.Type) || c.Path.Type == "") {
			return false
		}
		if !c.Path.CaseExact {
			want = FoldCase(want)
		}
		for _, v := range vals {
			s, ok := v.(string)
			if !ok {
				continue
			}
			if !c.Path.CaseExact {
				s = FoldCase(s)
			}
			switch {
			case c.Op == OpContains && strings.Contains(s, want),
				c.Op == OpStartsWith && strings.HasPrefix(s, want),
				c.Op == OpEndsWith && strings.HasSuffix(s, want):
				return true
			}
		}
		return false
	case OpGreater, OpGreaterOrEqual, OpLess, OpLessOrEqual:
		want := keyOf(c.Value, c.Path)
		if want.kind == keyNone || want.kind == keyBool {
			return false
		}
		for _, v := range vals {
			k := keyOf(v, c.Path)
			if k.kind != want.kind {
				continue
			}
			d := k.compare(want)
			switch {
			case c.Op == OpGreater && d > 0,
				c.Op == OpGreaterOrEqual && d >= 0,
				c.Op == OpLess && d < 0,
				c.Op == OpLessOrEqual && d <= 0:
				return true
			}
		}
		return false
	}
	return false
}

// anyEqual reports whether one of vals equals c.Value; with a nil Value
// (eq null), whether none is present.
func anyEqual(c *CompareExpr, vals []any) bool {
	if c.Value == nil {
		for _, v := range vals {
			if present(v) {
				return false
			}
		}
		return true
	}
	if want, ok := c.Value.(string); ok && (isStringType(c.Path.Type) || c.Path.Type == "") {
		// Only a string equals a string: compared in place, without
		// folding copies of both, as a scan does for every resource.
		for _, v := range vals {
			if s, ok := v.(string); ok && (s == want || !c.Path.CaseExact && fold.Equal(s, want)) {
				return true
			}
		}
		return false
	}
	want := keyOf(c.Value, c.Path)
	if want.kind == keyNone {
		return false
	}
	for _, v := range vals {
		if k := keyOf(v, c.Path); k.kind == want.kind && k.compare(want) == 0 {
			return true
		}
	}
	return false
}

type keyKind int

// Kinds in the order Compare puts them in when the values of one attribute
// are of different kinds, which only data not checked against a schema has.
const (
	keyString keyKind = iota
	keyNumber
	keyBool
	keyTime
	keyNone // no value, or one that does not convert
)

// valueKey is a value converted for comparison under an attribute's type
// and case rules.
type valueKey struct {
	kind keyKind
	s    string // folded unless case-exact
	n    number
	b    bool
	t    time.Time
}

// keyOf converts v, stored or given in a filter, by p's type; with no
// simple type on p (hand-built paths), by v's own kind.
func keyOf(v any, p AttrPath) valueKey {
	str := func(s string) valueKey {
		if !p.CaseExact {
			s = FoldCase(s)
		}
		return valueKey{kind: keyString, s: s}
	}
	switch p.Type {
	case TypeString, TypeReference, TypeBinary:
		if s, ok := v.(string); ok {
			return str(s)
		}
	case TypeBoolean:
		switch b := v.(type) {
		case bool:
			return valueKey{kind: keyBool, b: b}
		case string: // tolerate "True"/"False" written by lenient hosts
			if strings.EqualFold(b, "true") || strings.EqualFold(b, "false") {
				return valueKey{kind: keyBool, b: strings.EqualFold(b, "true")}
			}
		}
	case TypeInteger, TypeDecimal:
		if n, ok := toNumber(v); ok {
			return valueKey{kind: keyNumber, n: n}
		}
	case TypeDateTime:
		if t, ok := toTime(v); ok {
			return valueKey{kind: keyTime, t: t}
		}
	default:
		switch x := v.(type) {
		case string:
			return str(x)
		case bool:
			return valueKey{kind: keyBool, b: x}
		case time.Time:
			return valueKey{kind: keyTime, t: x}
		}
		if n, ok := toNumber(v); ok {
			return valueKey{kind: keyNumber, n: n}
		}
	}
	return valueKey{kind: keyNone}
}

func (a valueKey) compare(b valueKey) int {
	if a.kind != b.kind {
		return cmpOrdered(a.kind, b.kind)
	}
	switch a.kind {
	case keyString:
		return strings.Compare(a.s, b.s)
	case keyNumber:
		return a.n.compare(b.n)
	case keyBool:
		switch {
		case a.b == b.b:
			return 0
		case b.b:
			return -1
		default:
			return 1
		}
	case keyTime:
		return a.t.Compare(b.t)
	}
	return 0
}

func cmpOrdered[T int64 | float64 | keyKind](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	default:
		return 0
	}
}

// number is an int64 or a float64, kept apart so that large integers
// compare exactly.
type number struct {
	i       int64
	f       float64
	isFloat bool
}

func toNumber(v any) (number, bool) {
	switch n := v.(type) {
	case int64:
		return number{i: n}, true
	case int:
		return number{i: int64(n)}, true
	case int32:
		return number{i: int64(n)}, true
	case int16:
		return number{i: int64(n)}, true
	case int8:
		return number{i: int64(n)}, true
	case uint:
		return uintNumber(uint64(n)), true
	case uint64:
		return uintNumber(n), true
	case uint32:
		return number{i: int64(n)}, true
	case uint16:
		return number{i: int64(n)}, true
	case uint8:
		return number{i: int64(n)}, true
	case float64:
		return number{f: n, isFloat: true}, !math.IsNaN(n)
	case float32:
		return number{f: float64(n), isFloat: true}, !math.IsNaN(float64(n))
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return number{i: i}, true
		}
		f, err := n.Float64()
		return number{f: f, isFloat: true}, err == nil && !math.IsNaN(f)
	}
	return number{}, false
}

func uintNumber(u uint64) number {
	if u > math.MaxInt64 {
		return number{f: float64(u), isFloat: true}
	}
	return number{i: int64(u)}
}

func (a number) compare(b number) int {
	switch {
	case !a.isFloat && !b.isFloat:
		return cmpOrdered(a.i, b.i)
	case a.isFloat && b.isFloat:
		return cmpOrdered(a.f, b.f)
	case a.isFloat:
		return -cmpIntFloat(b.i, a.f)
	default:
		return cmpIntFloat(a.i, b.f)
	}
}

// cmpIntFloat compares an int64 with a float64 that is not NaN without
// rounding the integer to a float.
func cmpIntFloat(i int64, f float64) int {
	const two63 = 1 << 63
	switch {
	case f >= two63:
		return -1
	case f < -two63:
		return 1
	}
	t := math.Trunc(f)
	if c := cmpOrdered(i, int64(t)); c != 0 {
		return c
	}
	return cmpOrdered(0, f-t)
}

func toTime(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, true
	case string:
		return parseDateTime(t, true)
	}
	return time.Time{}, false
}

// ParseDateTime reads a stored dateTime value as Matches, Compare and
// SortResources do: RFC 3339 in either letter case with any number of
// fractional digits, or without a zone as UTC. A store that compares times
// in its own query language parses them with it.
func ParseDateTime(s string) (time.Time, bool) { return parseDateTime(s, true) }

// FoldCase maps s to the case-folded form that Matches, Compare and the
// handler's unique keys use for attributes that are not case-exact: two
// strings that differ only in case fold to the same string, and folded
// strings order by code point. It lowercases after uppercasing so that
// variants such as 'ſ' and 'K' (Kelvin) join their letters' lowercase
// forms. A store that compares in its own query language must fold exactly
// so; SQL's lower() differs for some letters.
func FoldCase(s string) string {
	return fold.String(s)
}

// Compare orders resources a and b by the attribute by, for sorting
// (RFC 7644 §3.4.2.3): it returns -1, 0 or 1. The value compared is the
// attribute's; for a multi-valued attribute, that of the element whose
// "primary" is true, else of the first element (with by.Sub, that
// element's sub-attribute; for a complex element without Sub, its
// "value"). Strings compare case-insensitively unless by.CaseExact, numbers
// numerically, dateTimes chronologically and booleans false before true.
//
// A resource with no value for by (missing, null, "", or one that does not
// convert to the attribute's type) orders after every resource with one;
// two without compare equal. RFC 7644 §3.4.2.3 says such resources come
// last in ascending and first in descending order, which is what negating
// Compare gives, and what SortResources does.
func Compare(a, b *Resource, by AttrPath) int {
	return sortKey(a, by).compare(sortKey(b, by))
}

func sortKey(r *Resource, by AttrPath) valueKey { return sortValueKey(SortValue(r, by), by) }

func sortValueKey(v any, by AttrPath) valueKey {
	if !present(v) {
		return valueKey{kind: keyNone}
	}
	return keyOf(v, by)
}

// SortValue returns the value r sorts by under by, as Compare takes it:
// for a multi-valued attribute that of its primary value, else of its
// first. It is nil when r has none. A store paging by keyset
// (Query.Keyset) records it in the positions it hands out, and compares
// it with CompareSortValues.
func SortValue(r *Resource, by AttrPath) any {
	var v any
	if r != nil && by.URN == "" && by.Name == "meta" && by.Sub != "" {
		v = metaValue(r)[by.Sub]
	} else {
		top, _ := attrValue(r, by)
		v = sortValue(top, by.Sub)
	}
	if !present(v) {
		return nil
	}
	return v
}

// CompareSortValues orders two values SortValue returned (or their JSON
// round trips) under by, as Compare orders the resources they came from.
func CompareSortValues(a, b any, by AttrPath) int {
	return sortValueKey(a, by).compare(sortValueKey(b, by))
}

// sortValue picks the value of top (and sub) that a resource sorts by.
func sortValue(top any, sub string) any {
	if list, ok := top.([]any); ok {
		top = nil
		for _, e := range list {
			if p, _ := compact.Get(e, "primary"); isTrue(p) {
				top = e
				break
			}
		}
		if top == nil && len(list) > 0 {
			top = list[0]
		}
	}
	isMap := compact.IsObject(top)
	switch {
	case sub != "" && !isMap:
		return nil
	case sub != "":
		top, _ = compact.Get(top, sub)
	case isMap:
		top, _ = compact.Get(top, "value")
	}
	if list, ok := top.([]any); ok { // a multi-valued sub-attribute
		if len(list) == 0 {
			return nil
		}
		return list[0]
	}
	return top
}

func isTrue(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		return strings.EqualFold(b, "true")
	}
	return false
}

// SortResources sorts rs by the attribute by, as Compare orders them, or in
// reverse when descending; resources without a value for by come last when
// ascending and first when descending (RFC 7644 §3.4.2.3). The sort is
// stable: resources that compare equal keep their order in rs.
func SortResources(rs []*Resource, by AttrPath, descending bool) {
	type keyed struct {
		r *Resource
		k valueKey
	}
	ks := make([]keyed, len(rs))
	for i, r := range rs {
		ks[i] = keyed{r: r, k: sortKey(r, by)}
	}
	slices.SortStableFunc(ks, func(x, y keyed) int {
		if descending {
			return y.k.compare(x.k)
		}
		return x.k.compare(y.k)
	})
	for i := range ks {
		rs[i] = ks[i].r
	}
}
