package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/scimkit/scim"
)

const aliasRule = "a store must not retain or modify the *Resource values passed in or handed out (the Store contract): at every nesting level, for Users and Groups, core and extension attributes and members"

// scribbleAll changes, in place, every value reachable from v: each leaf
// of each map and list, nested ones first, and adds a key to each map.
func scribbleAll(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			switch e.(type) {
			case map[string]any, []any:
				scribbleAll(e)
			default:
				v[k] = "scribbled"
			}
		}
		v["scribbled"] = true
	case []any:
		for i, e := range v {
			switch e.(type) {
			case map[string]any, []any:
				scribbleAll(e)
			default:
				v[i] = "scribbled"
			}
		}
	}
}

// scribbleResource changes everything a caller holds of r.
func scribbleResource(r *scim.Resource) {
	if r == nil {
		return
	}
	scribbleAll(r.Attributes)
	r.Meta = scim.Meta{Version: "scribbled"}
	for i := range r.Unique {
		r.Unique[i].Value = "scribbled"
	}
}

// aliasFixture is what NoAliasingAnywhere writes: a User with a value of
// every type and nesting, a Group holding it and a nested Group, both
// with members carrying every sub-attribute.
func aliasFixture() (u, inner, outer *scim.Resource) {
	u = everyTypeUser("Alias-U")
	inner = newGroup("Alias-Inner", "Inner")
	outer = newGroup("Alias-Outer", "Outer")
	outer.Attributes["externalId"] = "outer-ext"
	outer.Attributes["members"] = []any{
		map[string]any{"value": u.ID, "type": "User", "display": "Zoë", "$ref": "https://example.com/Users/" + u.ID},
		map[string]any{"value": inner.ID, "type": "Group", "display": "Inner", "$ref": "https://example.com/Groups/" + inner.ID},
	}
	outer.Attributes[extURN] = map[string]any{"tags": []any{"x", map[string]any{"deep": []any{"y"}}}}
	return u, inner, outer
}

func checkNoAliasing(t testing.TB, s scim.Store) {
	ctx := ctxA()
	u, inner, outer := aliasFixture()
	stored := map[string]*scim.Resource{} // type/id → what the store must still hold
	snapshot := func(typ, id string) {
		t.Helper()
		stored[typ+"/"+id] = nil
		for key := range stored { // a write may change other Users' groups
			typ, id, _ := strings.Cut(key, "/")
			stored[key] = mustGet(t, s, ctx, typ, id, "it was written").Clone()
		}
	}
	unchanged := func(after string) {
		t.Helper()
		for key, want := range stored {
			typ, id, _ := strings.Cut(key, "/")
			got := mustGet(t, s, ctx, typ, id, "it was written")
			if diffs := diffAttributes(want.Attributes, got.Attributes); len(diffs) > 0 {
				t.Fatalf("%s; after %s, Get %s %q returns changed attributes:\n\t%s", aliasRule, after, typ, id, strings.Join(diffs, "\n\t"))
			}
			if got.Meta.Version != want.Meta.Version || !got.Meta.LastModified.Equal(want.Meta.LastModified) || !got.Meta.Created.Equal(want.Meta.Created) {
				t.Fatalf("%s; after %s, Get %s %q returns Meta %+v, not %+v", aliasRule, after, typ, id, got.Meta, want.Meta)
			}
		}
	}

	// Create: what was passed in and what came back.
	for _, r := range []*scim.Resource{u, inner, outer} {
		in := r.Clone()
		out, err := s.Create(ctx, in)
		if err != nil || out == nil {
			t.Fatalf("Create of a valid new %s %q must succeed; the store returned %s", r.Type, r.ID, errText(err))
		}
		snapshot(r.Type, r.ID)
		scribbleResource(in)
		unchanged("the caller changed everything in the " + r.Type + " it passed to Create")
		scribbleResource(out)
		unchanged("the caller changed everything in the " + r.Type + " Create returned")
	}

	// Get and Query.
	for _, r := range []*scim.Resource{u, inner, outer} {
		scribbleResource(mustGet(t, s, ctx, r.Type, r.ID, "it was created"))
		unchanged("the caller changed everything in the " + r.Type + " Get returned")
	}
	for _, typ := range []string{userType, groupType} {
		for _, q := range []scim.Query{
			{StartIndex: 1, Count: allCount},
			{Filter: cmp(pID, scim.OpPresent, nil), SortBy: &pDisplayName, StartIndex: 1, Count: allCount},
		} {
			for _, r := range mustQuery(t, s, ctx, typ, q).Resources {
				scribbleResource(r)
			}
			unchanged("the caller changed everything in the " + typ + "s Query " + describeQuery(q) + " returned")
		}
	}

	// Replace: what was passed in and what came back.
	for i, r := range []*scim.Resource{u, inner, outer} {
		cur := mustGet(t, s, ctx, r.Type, r.ID, "it was created")
		in := r.Clone()
		in.Meta.LastModified = t0.Add(time.Duration(i+1) * time.Hour)
		out, err := s.Replace(ctx, in, cur.Meta.Version)
		if err != nil || out == nil {
			t.Fatalf("Replace of %s %q at its current version must succeed; the store returned %s", r.Type, r.ID, errText(err))
		}
		snapshot(r.Type, r.ID)
		scribbleResource(in)
		unchanged("the caller changed everything in the " + r.Type + " it passed to Replace")
		scribbleResource(out)
		unchanged("the caller changed everything in the " + r.Type + " Replace returned")
	}

	// PatchMembers: the member values passed in.
	p, ok := s.(scim.MembershipPatcher)
	if !ok {
		return
	}
	mustCreate(t, s, ctx, simpleUser("Alias-New", "alias.new"))
	add := []map[string]any{{"value": "Alias-New", "type": "User", "display": "New", "$ref": "https://example.com/Users/Alias-New"}}
	if _, err := p.PatchMembers(ctx, groupType, inner.ID, scim.MembershipChange{Add: add, LastModified: t0.Add(time.Hour)}, ""); err != nil {
		t.Fatalf("PatchMembers adding an existing User must succeed; the store returned %s", errText(err))
	}
	snapshot(groupType, inner.ID)
	for _, m := range add {
		for k := range m {
			m[k] = "scribbled"
		}
	}
	unchanged("the caller changed the member values it passed to PatchMembers")
}
