package memstore

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
)

func TestPostingGrowsAndShrinks(t *testing.T) {
	var p posting
	es := make([]*entry, 3*smallPosting)
	for i := range es {
		es[i] = &entry{seq: uint64(i)}
		p.add(es[i])
		p.add(es[i])
		require.Equal(t, i+1, p.len())
	}
	assert.NotNil(t, p.set)
	assert.ElementsMatch(t, es, p.appendTo(nil))
	for i, e := range es {
		p.remove(e)
		p.remove(e)
		require.Equal(t, len(es)-i-1, p.len())
	}

	var q posting
	q.add(es[0])
	q.add(es[1])
	q.add(es[2])
	q.remove(es[0])
	assert.ElementsMatch(t, es[1:3], q.appendTo(nil))
}

func TestAttrIndexVariants(t *testing.T) {
	x := newAttrIndex("members", "value")
	e1, e2 := &entry{seq: 1}, &entry{seq: 2}
	res := func(vals ...string) *scim.Resource {
		var ms []any
		for _, v := range vals {
			ms = append(ms, map[string]any{"value": v})
		}
		return &scim.Resource{Attributes: map[string]any{"members": ms}}
	}
	x.reindex(e1, nil, res("abc", "ABC", "Abc", "abc"))
	x.reindex(e2, nil, res("ABC"))
	assert.Equal(t, []*entry{e1}, bySeq(x.lookup(nil, "abc", true)))
	assert.Equal(t, []*entry{e1, e2}, bySeq(x.lookup(nil, "ABC", true)))
	assert.Equal(t, []*entry{e1, e2}, bySeq(x.lookup(nil, "aBc", false)))
	assert.Empty(t, x.lookup(nil, "aBc", true))

	x.reindex(e1, res("abc", "ABC", "Abc", "abc"), res("abc", "xyz"))
	assert.Equal(t, []*entry{e2}, bySeq(x.lookup(nil, "ABC", true)))
	assert.Equal(t, []*entry{e1, e2}, bySeq(x.lookup(nil, "abc", false)))
	x.reindex(e2, res("ABC"), nil)
	x.reindex(e1, res("abc", "xyz"), nil)
	assert.Empty(t, x.one)
	assert.Empty(t, x.many)
	assert.Empty(t, x.variants, "variants are dropped with their values")
}

// TestIndexedFilters pins which filters are answered from an index, so a
// change that quietly turns an indexed lookup into a scan fails here.
func TestIndexedFilters(t *testing.T) {
	users, groups := newTable("User"), newTable("Group")
	str := func(name, sub string, exact bool) scim.AttrPath {
		return scim.AttrPath{Name: name, Sub: sub, Type: scim.TypeString, CaseExact: exact}
	}
	eq := func(p scim.AttrPath, v any) *scim.CompareExpr {
		return &scim.CompareExpr{Path: p, Op: scim.OpEqual, Value: v}
	}
	and := func(l, r scim.Filter) scim.Filter { return &scim.LogicalExpr{Op: scim.And, Left: l, Right: r} }
	or := func(l, r scim.Filter) scim.Filter { return &scim.LogicalExpr{Op: scim.Or, Left: l, Right: r} }
	scan := &scim.CompareExpr{Path: str("title", "", false), Op: scim.OpStartsWith, Value: "x"}
	members := scim.AttrPath{Name: "members", Type: scim.TypeComplex, MultiValued: true}
	ext := scim.AttrPath{URN: scim.EnterpriseUserSchema, Name: "employeeNumber", Type: scim.TypeString}

	for i, c := range []struct {
		tb      *table
		f       scim.Filter
		indexed bool
	}{
		{users, nil, false},
		{users, eq(str("id", "", true), "x"), true},
		{users, eq(str("id", "", false), "x"), false},
		{users, eq(str("userName", "", false), "x"), true},
		{users, eq(str("externalId", "", true), "x"), true},
		{users, eq(str("displayName", "", false), "x"), false},
		{groups, eq(str("displayName", "", false), "x"), true},
		{groups, eq(str("members", "value", false), "x"), true},
		{groups, &scim.ValuePathExpr{Path: members, Filter: eq(str("members", "value", false), "x")}, true},
		{groups, &scim.ValuePathExpr{Path: members, Filter: and(scan, eq(str("members", "value", false), "x"))}, true},
		{groups, &scim.ValuePathExpr{Path: members, Filter: eq(str("members", "type", false), "x")}, false},
		{users, eq(str("userName", "", false), nil), false},
		{users, &scim.CompareExpr{Path: str("userName", "", false), Op: scim.OpNotEqual, Value: "x"}, false},
		{users, &scim.CompareExpr{Path: str("userName", "", false), Op: scim.OpStartsWith, Value: "x"}, false},
		{users, eq(scim.AttrPath{URN: ext.URN, Name: "userName", Type: scim.TypeString}, "x"), false},
		{users, eq(ext, "x"), false},
		{users, and(scan, eq(str("userName", "", false), "x")), true},
		{users, and(eq(str("userName", "", false), "x"), scan), true},
		{users, and(scan, and(scan, eq(str("externalId", "", true), "x"))), true},
		{users, and(scan, scan), false},
		{users, or(eq(str("userName", "", false), "x"), eq(str("externalId", "", true), "y")), true},
		{users, or(eq(str("userName", "", false), "x"), scan), false},
		{users, &scim.NotExpr{X: eq(str("userName", "", false), "x")}, false},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			_, ok := candidates(c.tb, c.f)
			assert.Equal(t, c.indexed, ok)
		})
	}
}
