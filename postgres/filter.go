package postgres

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/scimkit/scim"
)

// builder translates a query into SQL over the resources table (alias r),
// collecting the values it compares with as bound parameters: no value of
// a filter is ever part of the SQL text.
type builder struct {
	s    *Store
	typ  string
	args []any
}

// arg binds v and returns its placeholder.
func (b *builder) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

// cond is a filter in SQL: sup holds for every resource the filter
// matches (and maybe more), sub only for resources it matches (maybe
// fewer). When SQL expresses the filter exactly they are the same text.
// Both are never NULL, so that NOT keeps its meaning.
type cond struct{ sup, sub string }

func exactCond(sql string) cond { return cond{sup: sql, sub: sql} }

var (
	condTrue  = exactCond("TRUE")
	condFalse = exactCond("FALSE")
	// condUnknown is a filter SQL cannot decide: every resource is a
	// candidate, which Go then checks with scim.Matches.
	condUnknown = cond{sup: "TRUE", sub: "FALSE"}
)

func (c cond) exact() bool { return c.sup == c.sub }

func (c cond) not() cond { return cond{sup: "(NOT " + c.sub + ")", sub: "(NOT " + c.sup + ")"} }

func join(op string, a, b cond) cond {
	return cond{sup: "(" + a.sup + " " + op + " " + b.sup + ")", sub: "(" + a.sub + " " + op + " " + b.sub + ")"}
}

// scope is the element of a value path that the paths inside its
// brackets address: src.o, src.f and src.t are SQL expressions of the
// element in each form.
type scope struct {
	path scim.AttrPath
	src  source
}

// form names one of the three forms of the attributes a resource row
// keeps: as stored (attrs), case-folded (folded) and with dateTimes as
// numbers (times).
type form int

const (
	stored form = iota
	folded
	times
)

// filter translates f.
func (b *builder) filter(f scim.Filter, sc *scope) cond {
	switch f := f.(type) {
	case nil:
		return condTrue
	case *scim.LogicalExpr:
		l, r := b.filter(f.Left, sc), b.filter(f.Right, sc)
		if f.Op == scim.Or {
			return join("OR", l, r)
		}
		return join("AND", l, r)
	case *scim.NotExpr:
		return b.filter(f.X, sc).not()
	case *scim.ValuePathExpr:
		if sc != nil {
			return condUnknown
		}
		src, ok := b.elements(f.Path)
		if !ok {
			return condUnknown
		}
		inner := b.filter(f.Filter, &scope{path: f.Path, src: src})
		exists := func(pred string) string {
			return "EXISTS (SELECT 1 FROM " + src.from + " WHERE " + src.where + " AND jsonb_typeof(" + src.o + ") = 'object' AND " + pred + ")"
		}
		return cond{sup: exists(inner.sup), sub: exists(inner.sub)}
	case *scim.CompareExpr:
		return b.compare(f, sc)
	}
	return condUnknown
}

// source is a set of JSON values in SQL: FROM and WHERE clauses and the
// expressions of each value as stored (o), case-folded (f) and with
// dateTimes as numbers (t).
type source struct {
	from, where, o, f, t string
}

// in returns the expression of the value in form fm.
func (s source) in(fm form) string {
	switch fm {
	case folded:
		return s.f
	case times:
		return s.t
	}
	return s.o
}

// elements returns the elements of the (multi-valued or complex) attribute
// p of the resource r: a list's elements, or the value itself. A Group's
// members come from the member rows, a User's groups from the Groups that
// hold it.
func (b *builder) elements(p scim.AttrPath) (source, bool) {
	if p.URN == "" {
		switch {
		case p.Name == membersAttr && b.typ == groupType:
			// The Group's member rows, as a correlated scalar subquery:
			// the planner looks them up by the primary key per Group
			// instead of joining whole tables.
			return rowElements(`(SELECT jsonb_agg(jsonb_build_array(em.value, em.folded)) FROM ` + b.s.t("members") +
				` em WHERE em.tenant = r.tenant AND em.group_id = r.id)`), true
		case p.Name == groupsAttr && b.typ == userType:
			display := func(doc string) string {
				return "CASE WHEN jsonb_typeof(eg." + doc + "->'displayName') = 'string' THEN eg." + doc + "->'displayName' END"
			}
			return rowElements(`(SELECT jsonb_agg(jsonb_build_array(
					jsonb_build_object('value', to_jsonb(eg.id), 'display', ` + display("attrs") + `, 'type', 'direct'),
					jsonb_build_object('value', to_jsonb(eg.id_folded), 'display', ` + display("folded") + `, 'type', 'direct')))
				FROM ` + b.s.t("members") + ` em JOIN ` + b.s.t("resources") + ` eg
					ON eg.tenant = em.tenant AND eg.type = 'Group' AND eg.id = em.group_id
				WHERE em.tenant = r.tenant AND em.member_id = r.id AND em.member_type = 'User')`), true
		case p.Name == "id" || p.Name == "meta":
			return source{}, false
		}
	}
	path := []string{p.Name}
	if p.URN != "" {
		path = []string{p.URN, p.Name}
	}
	k := b.arg(path) + "::text[]"
	list := func(doc string) string {
		return "CASE jsonb_typeof(r." + doc + " #> " + k + ") WHEN 'array' THEN r." + doc + " #> " + k +
			" ELSE jsonb_build_array(r." + doc + " #> " + k + ") END"
	}
	// The element of the same position in another form of the document.
	same := func(doc string) string {
		return "(CASE jsonb_typeof(r." + doc + " #> " + k + ") WHEN 'array' THEN (r." + doc + " #> " + k + ") -> (e.i::int - 1) ELSE r." + doc + " #> " + k + " END)"
	}
	return source{
		from:  "jsonb_array_elements(" + list("attrs") + ") WITH ORDINALITY AS e(o, i)",
		where: "TRUE",
		o:     "e.o",
		f:     same("folded"),
		t:     same("times"),
	}, true
}

// rowElements is the source of the elements of a jsonb array of
// [stored, folded] pairs.
func rowElements(pairs string) source {
	return source{
		from:  "jsonb_array_elements(coalesce(" + pairs + ", '[]'::jsonb)) AS ee(x)",
		where: "TRUE",
		o:     "(ee.x -> 0)",
		f:     "(ee.x -> 1)",
		t:     "NULL::jsonb", // members and groups hold no dateTime
	}
}

// jsonPath returns the SQL/JSON path (lax mode) of the values of sub in an
// element, or of the attribute p in a document, lists flattened.
func jsonPath(keys ...string) string {
	var sb strings.Builder
	sb.WriteString("$")
	for _, k := range keys {
		q, _ := json.Marshal(k) // a JSON string literal is a path string literal
		sb.WriteString(".")
		sb.Write(q)
		sb.WriteString("[*]")
	}
	return sb.String()
}

// leaves returns the values the path p addresses, lists flattened, from the
// stored or the folded form: in the element of sc if p names its attribute,
// else in the resource r.
func (b *builder) leaves(p scim.AttrPath, sc *scope, fm form) (source, bool) {
	if sc != nil && p.Name == sc.path.Name && p.URN == sc.path.URN {
		el := sc.src.in(fm)
		if p.Sub == "" {
			return source{from: "(SELECT " + el + " AS v) l", where: "TRUE", o: "l.v"}, true
		}
		return source{from: "jsonb_path_query(" + el + ", " + b.arg(jsonPath(p.Sub)) + "::jsonpath) AS l(v)", where: "TRUE", o: "l.v"}, true
	}
	if p.URN == "" && ((p.Name == membersAttr && b.typ == groupType) || (p.Name == groupsAttr && b.typ == userType)) {
		src, _ := b.elements(scim.AttrPath{Name: p.Name})
		el := src.in(fm)
		if p.Sub == "" {
			return source{from: src.from, where: src.where, o: el}, true
		}
		return source{
			from:  src.from + " CROSS JOIN LATERAL jsonb_path_query(" + el + ", " + b.arg(jsonPath(p.Sub)) + "::jsonpath) AS l(v)",
			where: src.where, o: "l.v",
		}, true
	}
	keys := []string{p.Name}
	if p.URN != "" {
		keys = []string{p.URN, p.Name}
	}
	if p.Sub != "" {
		keys = append(keys, p.Sub)
	}
	doc := [...]string{stored: "r.attrs", folded: "r.folded", times: "r.times"}[fm]
	path := jsonPath(keys...)
	if p.URN != "" {
		// The extension object itself is not a list to flatten.
		q, _ := json.Marshal(p.URN)
		path = "$." + string(q) + jsonPath(keys[1:]...)[1:]
	}
	return source{from: "jsonb_path_query(" + doc + ", " + b.arg(path) + "::jsonpath) AS l(v)", where: "TRUE", o: "l.v"}, true
}

// exists is the SQL that holds when one leaf of src satisfies pred (on v).
func exists(src source, pred string) string {
	return "EXISTS (SELECT 1 FROM " + src.from + " WHERE " + src.where + " AND " + strings.ReplaceAll(pred, "{v}", src.o) + ")"
}

// presentPred holds for a JSON value that is not null, "", [] or {}, nor a
// list or object of only such values (scim.Matches' "pr").
const presentPred = `(CASE jsonb_typeof({v}) WHEN 'string' THEN {v} <> '""'::jsonb WHEN 'null' THEN FALSE
	WHEN 'number' THEN TRUE WHEN 'boolean' THEN TRUE
	ELSE jsonb_path_exists({v}, 'lax $.** ? (@.type() == "number" || @.type() == "boolean" || (@.type() == "string" && @ != ""))') END)`

func isStringType(t scim.AttrType) bool {
	return t == scim.TypeString || t == scim.TypeReference || t == scim.TypeBinary
}

// compare translates one attribute comparison.
func (b *builder) compare(c *scim.CompareExpr, sc *scope) cond {
	p := c.Path
	inScope := sc != nil && p.Name == sc.path.Name && p.URN == sc.path.URN
	if !inScope && p.URN == "" {
		switch p.Name {
		case "id":
			if !isStringType(p.Type) {
				return condUnknown
			}
			col := "r.id"
			if !p.CaseExact {
				col = "r.id_folded"
			}
			return b.columnString(col, c, false)
		case "meta":
			return b.compareMeta(c)
		}
	}
	if c.Op == scim.OpPresent || c.Value == nil && (c.Op == scim.OpEqual || c.Op == scim.OpNotEqual) {
		src, ok := b.leaves(p, sc, stored)
		if !ok {
			return condUnknown
		}
		e := exactCond(exists(src, presentPred))
		if c.Op == scim.OpEqual {
			return e.not()
		}
		return e
	}
	if p.Type == scim.TypeComplex {
		// No value of a complex attribute converts to an operand.
		return noKey(c.Op)
	}
	if !inScope && p.URN == "" && p.Sub == "" {
		if col, ok := b.stringColumn(p); ok {
			return b.columnString(col, c, true)
		}
	}
	if !inScope && p.URN == "" && p.Name == membersAttr && p.Sub == "value" && b.typ == groupType && isStringType(p.Type) {
		if want, ok := c.Value.(string); ok && (c.Op == scim.OpEqual || c.Op == scim.OpNotEqual) {
			col, v := "m.member_id", want
			if !p.CaseExact {
				col, v = "m.member_folded", scim.FoldCase(want)
			}
			e := exactCond("r.id IN (SELECT m.group_id FROM " + b.s.t("members") + " m WHERE m.tenant = $1 AND " + col + " = " + b.arg(v) + "::text)")
			if c.Op == scim.OpNotEqual {
				return e.not()
			}
			return e
		}
	}
	if !inScope && p.URN == "" && p.Name == groupsAttr && b.typ == userType && isStringType(p.Type) && (p.Sub == "value" || p.Sub == "display" && !p.CaseExact) {
		if want, ok := c.Value.(string); ok && (c.Op == scim.OpEqual || c.Op == scim.OpNotEqual) {
			col := "g.id"
			switch {
			case p.Sub == "display" && !p.CaseExact:
				col, want = "g.display_name", scim.FoldCase(want)
			case !p.CaseExact:
				col, want = "g.id_folded", scim.FoldCase(want)
			}
			e := exactCond("r.id IN (SELECT m.member_id FROM " + b.s.t("members") + " m JOIN " + b.s.t("resources") +
				" g ON g.tenant = m.tenant AND g.type = 'Group' AND g.id = m.group_id WHERE m.tenant = $1 AND m.member_type = 'User' AND " +
				col + " = " + b.arg(want) + "::text)")
			if c.Op == scim.OpNotEqual {
				return e.not()
			}
			return e
		}
	}
	switch {
	case isStringType(p.Type):
		want, ok := c.Value.(string)
		if !ok {
			return noKey(c.Op)
		}
		if !p.CaseExact {
			want = scim.FoldCase(want)
		}
		fm := stored
		if !p.CaseExact {
			fm = folded
		}
		src, ok := b.leaves(p, sc, fm)
		if !ok {
			return condUnknown
		}
		var pred string
		switch c.Op {
		case scim.OpEqual, scim.OpNotEqual:
			pred = "{v} = to_jsonb(" + b.arg(want) + "::text)"
		case scim.OpGreater, scim.OpGreaterOrEqual, scim.OpLess, scim.OpLessOrEqual:
			pred = "jsonb_typeof({v}) = 'string' AND ({v} #>> '{}') COLLATE \"C\" " + sqlOp(c.Op) + " " + b.arg(want) + "::text"
		case scim.OpContains, scim.OpStartsWith, scim.OpEndsWith:
			pred = "jsonb_typeof({v}) = 'string' AND ({v} #>> '{}') LIKE " + b.arg(likePattern(c.Op, want)) + "::text"
		default:
			return condUnknown
		}
		e := exactCond(exists(src, pred))
		if c.Op == scim.OpNotEqual {
			return e.not()
		}
		return e
	case p.Type == scim.TypeBoolean:
		want, ok := boolOperand(c.Value)
		if !ok {
			return noKey(c.Op)
		}
		switch c.Op {
		case scim.OpEqual, scim.OpNotEqual:
		case scim.OpContains, scim.OpStartsWith, scim.OpEndsWith, scim.OpGreater, scim.OpGreaterOrEqual, scim.OpLess, scim.OpLessOrEqual:
			return condFalse
		default:
			return condUnknown
		}
		src, ok := b.leaves(p, sc, folded)
		if !ok {
			return condUnknown
		}
		lit := strconv.FormatBool(want)
		e := exactCond(exists(src, "({v} = "+b.arg(lit)+"::jsonb OR {v} = to_jsonb("+b.arg(lit)+"::text))"))
		if c.Op == scim.OpNotEqual {
			return e.not()
		}
		return e
	case p.Type == scim.TypeInteger || p.Type == scim.TypeDecimal:
		want, ok := numberOperand(c.Value)
		if !ok {
			return noKey(c.Op)
		}
		switch c.Op {
		case scim.OpEqual, scim.OpNotEqual, scim.OpGreater, scim.OpGreaterOrEqual, scim.OpLess, scim.OpLessOrEqual:
		case scim.OpContains, scim.OpStartsWith, scim.OpEndsWith:
			return condFalse
		default:
			return condUnknown
		}
		src, ok := b.leaves(p, sc, stored)
		if !ok {
			return condUnknown
		}
		op := sqlOp(c.Op)
		if c.Op == scim.OpNotEqual {
			op = "="
		}
		e := exactCond(exists(src, "(CASE WHEN jsonb_typeof({v}) = 'number' THEN {v}::numeric END) "+op+" "+b.arg(want)+"::numeric"))
		if c.Op == scim.OpNotEqual {
			return e.not()
		}
		return e
	case p.Type == scim.TypeDateTime:
		switch c.Op {
		case scim.OpContains, scim.OpStartsWith, scim.OpEndsWith:
			return condFalse
		case scim.OpEqual, scim.OpNotEqual, scim.OpGreater, scim.OpGreaterOrEqual, scim.OpLess, scim.OpLessOrEqual:
		default:
			return condUnknown
		}
		var want time.Time
		switch v := c.Value.(type) {
		case time.Time:
			want = v
		case string:
			t, ok := scim.ParseDateTime(v)
			if !ok {
				return noKey(c.Op)
			}
			want = t
		default:
			return noKey(c.Op)
		}
		// Stored dateTimes are strings in any zone and precision: the
		// times form holds each as its instant in nanoseconds.
		src, ok := b.leaves(p, sc, times)
		if !ok {
			return condUnknown
		}
		op := sqlOp(c.Op)
		if c.Op == scim.OpNotEqual {
			op = "="
		}
		e := exactCond(exists(src, "(CASE WHEN jsonb_typeof({v}) = 'number' THEN {v}::numeric END) "+op+" "+b.arg(epochNanos(want))+"::numeric"))
		if c.Op == scim.OpNotEqual {
			return e.not()
		}
		return e
	}
	return condUnknown
}

// noKey is the answer of a comparison whose operand does not convert to
// the attribute's type: nothing equals it, so only ne holds.
func noKey(op scim.CompareOp) cond {
	if op == scim.OpNotEqual {
		return condTrue
	}
	return condFalse
}

// stringColumn returns the indexed column that holds the top-level string
// attribute p of every resource (folded if p is not case-exact).
func (b *builder) stringColumn(p scim.AttrPath) (string, bool) {
	if !isStringType(p.Type) {
		return "", false
	}
	switch {
	case p.Name == "userName" && !p.CaseExact:
		return "r.user_name", true
	case p.Name == "externalId" && p.CaseExact:
		return "r.external_id", true
	case p.Name == "displayName" && !p.CaseExact:
		return "r.display_name", true
	}
	return "", false
}

// columnString compares a text column (NULL where the resource has no
// string value) as scim.Matches compares a single-valued string.
func (b *builder) columnString(col string, c *scim.CompareExpr, nullable bool) cond {
	if c.Op == scim.OpPresent || c.Value == nil {
		pres := col + " <> ''"
		if nullable {
			pres = "(" + col + " IS NOT NULL AND " + pres + ")"
		}
		switch {
		case c.Op == scim.OpPresent, c.Op == scim.OpNotEqual:
			return exactCond(pres)
		case c.Op == scim.OpEqual:
			return exactCond("(NOT " + pres + ")")
		}
		return condUnknown
	}
	want, ok := c.Value.(string)
	if !ok {
		return noKey(c.Op)
	}
	if !c.Path.CaseExact {
		want = scim.FoldCase(want)
	}
	var pred string
	switch c.Op {
	case scim.OpEqual, scim.OpNotEqual:
		pred = col + " = " + b.arg(want) + "::text"
	case scim.OpGreater, scim.OpGreaterOrEqual, scim.OpLess, scim.OpLessOrEqual:
		pred = col + " COLLATE \"C\" " + sqlOp(c.Op) + " " + b.arg(want) + "::text"
	case scim.OpContains, scim.OpStartsWith, scim.OpEndsWith:
		pred = col + " LIKE " + b.arg(likePattern(c.Op, want)) + "::text"
	default:
		return condUnknown
	}
	if nullable {
		// Never NULL, so that NOT keeps its meaning, and still a plain
		// comparison an index answers.
		pred = col + " IS NOT NULL AND " + pred
	}
	e := exactCond("(" + pred + ")")
	if c.Op == scim.OpNotEqual {
		return e.not()
	}
	return e
}

// compareMeta translates comparisons of meta sub-attributes, which come
// from the resource's columns.
func (b *builder) compareMeta(c *scim.CompareExpr) cond {
	switch c.Path.Sub {
	case "resourceType":
		// The same for every resource of the query.
		if scim.Matches(c, &scim.Resource{Type: b.typ}) {
			return condTrue
		}
		return condFalse
	case "version":
		if !isStringType(c.Path.Type) || !c.Path.CaseExact {
			return condUnknown
		}
		return b.columnString("r.version", c, false)
	case "created", "lastModified":
		col := "r.created"
		if c.Path.Sub == "lastModified" {
			col = "r.last_modified"
		}
		if c.Path.Type != scim.TypeDateTime {
			return condUnknown
		}
		switch c.Op {
		case scim.OpPresent:
			return condTrue
		case scim.OpContains, scim.OpStartsWith, scim.OpEndsWith:
			return condFalse
		}
		if c.Value == nil {
			return noKey(c.Op) // always present: eq null never holds, ne null always
		}
		t, ok := c.Value.(time.Time)
		if !ok {
			return condUnknown
		}
		op := sqlOp(c.Op)
		if op == "" {
			return condUnknown
		}
		if us := t.Truncate(time.Microsecond); !us.Equal(t) {
			// Stored times have microseconds: none equals an operand
			// between two, and each lies above the operand exactly when
			// it lies above the microsecond the operand falls in.
			switch c.Op {
			case scim.OpEqual:
				return condFalse
			case scim.OpNotEqual:
				return condTrue
			case scim.OpLess, scim.OpLessOrEqual:
				op = "<="
			default:
				op = ">"
			}
			t = us
		}
		return exactCond("(" + col + " " + op + " " + b.arg(t) + "::timestamptz)")
	}
	return condUnknown
}

func sqlOp(op scim.CompareOp) string {
	switch op {
	case scim.OpEqual:
		return "="
	case scim.OpNotEqual:
		return "<>"
	case scim.OpGreater:
		return ">"
	case scim.OpGreaterOrEqual:
		return ">="
	case scim.OpLess:
		return "<"
	case scim.OpLessOrEqual:
		return "<="
	}
	return ""
}

// likePattern returns the LIKE pattern of co, sw or ew with the literal s:
// %, _ and the escape character \ in s match only themselves.
func likePattern(op scim.CompareOp, s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	s = r.Replace(s)
	switch op {
	case scim.OpContains:
		return "%" + s + "%"
	case scim.OpStartsWith:
		return s + "%"
	default:
		return "%" + s
	}
}

// boolOperand converts a filter operand as scim.Matches does for a
// boolean attribute.
func boolOperand(v any) (bool, bool) {
	switch v := v.(type) {
	case bool:
		return v, true
	case string:
		if strings.EqualFold(v, "true") || strings.EqualFold(v, "false") {
			return strings.EqualFold(v, "true"), true
		}
	}
	return false, false
}

// numberOperand returns the exact decimal text of a numeric operand.
func numberOperand(v any) (string, bool) {
	switch n := v.(type) {
	case int64:
		return strconv.FormatInt(n, 10), true
	case int:
		return strconv.Itoa(n), true
	case int32:
		return strconv.FormatInt(int64(n), 10), true
	case uint64:
		return strconv.FormatUint(n, 10), true
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return "", false
		}
		s, err := exactDecimal(n)
		return s, err == nil
	case json.Number:
		if _, err := strconv.ParseFloat(string(n), 64); err == nil {
			return string(n), true
		}
	}
	return "", false
}
