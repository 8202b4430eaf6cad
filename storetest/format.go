package storetest

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/scimkit/scim"
)

// diffValues lists how got differs from want, both attribute values of the
// JSON kinds, as "path: want …, got …". Strings, booleans, objects and
// arrays (in order) must be equal and of the same kind; an int64 must come
// back as an int64 of the same value; a float64 as a float64 of the same
// value, or an int64 when the value is whole.
func diffValues(path string, want, got any) []string {
	bad := func() []string {
		return []string{fmt.Sprintf("%s: want %s, got %s", path, showValue(want), showValue(got))}
	}
	switch w := want.(type) {
	case nil:
		if got != nil {
			return bad()
		}
	case string, bool:
		if got != want {
			return bad()
		}
	case int64:
		if g, ok := got.(int64); !ok || g != w {
			return bad()
		}
	case float64:
		switch g := got.(type) {
		case float64:
			if g != w && !(math.IsNaN(g) && math.IsNaN(w)) {
				return bad()
			}
		case int64:
			if w != math.Trunc(w) || float64(g) != w || math.Abs(w) > 1<<53 {
				return bad()
			}
		default:
			return bad()
		}
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return bad()
		}
		var out []string
		for _, k := range sortedKeys(w, g) {
			wv, wok := w[k]
			gv, gok := g[k]
			switch {
			case !gok:
				out = append(out, fmt.Sprintf("%s.%s: want %s, got no such attribute", path, k, showValue(wv)))
			case !wok:
				out = append(out, fmt.Sprintf("%s.%s: want no such attribute, got %s", path, k, showValue(gv)))
			default:
				out = append(out, diffValues(path+"."+k, wv, gv)...)
			}
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return bad()
		}
		var out []string
		for i := range w {
			out = append(out, diffValues(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return out
	default:
		return []string{fmt.Sprintf("%s: the kit cannot compare a %T", path, want)}
	}
	return nil
}

func sortedKeys(ms ...map[string]any) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// diffAttributes compares the attributes of a returned resource with what
// the kit stored. When want has no "groups", an empty or null "groups" in
// got (a User's computed groups, none) is no difference.
func diffAttributes(want, got map[string]any) []string {
	w, g := make(map[string]any, len(want)), make(map[string]any, len(got))
	for k, v := range want {
		w[k] = v
	}
	for k, v := range got {
		g[k] = v
	}
	if _, ok := w["groups"]; !ok {
		if l, isList := g["groups"].([]any); g["groups"] == nil || isList && len(l) == 0 {
			delete(g, "groups")
		}
	}
	return diffValues("attributes", w, g)
}

// showValue renders a value and its Go type for a failure message.
func showValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(v) + " (string)"
	case map[string]any, []any:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprintf("%v (%T)", v, v)
		}
		return string(b)
	default:
		return fmt.Sprintf("%v (%T)", v, v)
	}
}

// formatFilter writes f in SCIM filter syntax, for failure messages.
func formatFilter(f scim.Filter) string {
	if f == nil {
		return "(no filter)"
	}
	var b strings.Builder
	writeFilter(&b, f, nil)
	return b.String()
}

func writeFilter(b *strings.Builder, f scim.Filter, outer *scim.AttrPath) {
	switch f := f.(type) {
	case *scim.CompareExpr:
		p := f.Path.String()
		if outer != nil && f.Path.Name == outer.Name && f.Path.URN == outer.URN {
			p = f.Path.Sub
		}
		b.WriteString(p + " " + string(f.Op))
		if f.Op != scim.OpPresent {
			b.WriteString(" " + formatOperand(f.Value))
		}
	case *scim.LogicalExpr:
		for i, side := range []scim.Filter{f.Left, f.Right} {
			if i == 1 {
				b.WriteString(" " + string(f.Op) + " ")
			}
			if l, ok := side.(*scim.LogicalExpr); ok && l.Op != f.Op {
				b.WriteString("(")
				writeFilter(b, side, outer)
				b.WriteString(")")
			} else {
				writeFilter(b, side, outer)
			}
		}
	case *scim.NotExpr:
		b.WriteString("not (")
		writeFilter(b, f.X, outer)
		b.WriteString(")")
	case *scim.ValuePathExpr:
		b.WriteString(f.Path.String() + "[")
		writeFilter(b, f.Filter, &f.Path)
		b.WriteString("]")
	default:
		fmt.Fprintf(b, "%v", f)
	}
}

// formatOperand writes a comparison value as a filter literal.
func formatOperand(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		b, _ := json.Marshal(v)
		return string(b)
	case time.Time:
		return `"` + v.Format(time.RFC3339Nano) + `"`
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// describeQuery renders a query for a failure message.
func describeQuery(q scim.Query) string {
	return describeOrder(q) + fmt.Sprintf(", startIndex %d, count %d", q.StartIndex, q.Count)
}

// describeOrder renders a query's filter and sort order.
func describeOrder(q scim.Query) string {
	s := "filter " + formatFilter(q.Filter)
	if q.SortBy != nil {
		order := "ascending"
		if q.Descending {
			order = "descending"
		}
		s += fmt.Sprintf(", sortBy %s %s", q.SortBy, order)
	}
	return s
}

// listIDs renders at most a few ids for a failure message.
func listIDs(ids []string) string {
	const max = 6
	if len(ids) <= max {
		return fmt.Sprintf("%q", ids)
	}
	return fmt.Sprintf("%q and %d more", ids[:max], len(ids)-max)
}
