package storetest

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"testing"

	"github.com/scimkit/scim"
)

// needsViewer detects the optional scim.Viewer capability.
func needsViewer(s scim.Store) (bool, string) {
	if _, ok := s.(scim.Viewer); ok {
		return true, ""
	}
	return false, fmt.Sprintf("%T does not implement the optional scim.Viewer; the handler reads through Query instead, which the Query checks cover", s)
}

var viewerChecks = []check{
	{group: "Viewer", name: "SameAsQuery", needs: needsViewer, run: checkViewSameAsQuery},
	{group: "Viewer", name: "ReturnsTheCallbackError", needs: needsViewer, run: checkViewReturnsFnError},
	{group: "Viewer", name: "FailsWithoutCalling", needs: needsViewer, run: checkViewFailsWithoutCalling},
}

// view runs View and returns the page fn saw, copied, or fails the check.
func view(t testing.TB, s scim.Store, typ string, q scim.Query) *scim.Page {
	t.Helper()
	var got *scim.Page
	err := s.(scim.Viewer).View(ctxA(), typ, q, func(p *scim.Page) error {
		if got != nil {
			return errors.New("fn called twice")
		}
		c := *p
		c.Resources = make([]*scim.Resource, len(p.Resources))
		for i, r := range p.Resources {
			c.Resources[i] = r.Clone()
		}
		got = &c
		return nil
	})
	switch {
	case err != nil:
		t.Fatalf("View %s %s must succeed as Query does; the store returned %s", typ, describeQuery(q), errText(err))
	case got == nil:
		t.Fatalf("View %s %s must call fn with the page; it returned without calling it", typ, describeQuery(q))
	}
	return got
}

func checkViewSameAsQuery(t testing.TB, s scim.Store) {
	ctx := ctxA()
	membershipFixture(t, s, ctx)
	byName := scim.AttrPath{Name: "userName", Type: scim.TypeString}
	queries := []struct {
		typ string
		q   scim.Query
	}{
		{userType, scim.Query{StartIndex: 1, Count: 10}},
		{userType, scim.Query{StartIndex: 2, Count: 1}},
		{userType, scim.Query{Filter: &scim.CompareExpr{Path: byName, Op: scim.OpEqual, Value: "member.M-u1"}, StartIndex: 1, Count: 10}},
		{userType, scim.Query{SortBy: &byName, Descending: true, StartIndex: 1, Count: 2}},
		{userType, scim.Query{Keyset: true, SortBy: &byName, Count: 2}},
		{groupType, scim.Query{Filter: &scim.CompareExpr{Path: scim.AttrPath{Name: "members", Sub: "value", Type: scim.TypeString, MultiValued: true, CaseExact: true}, Op: scim.OpEqual, Value: "M-u2"}, StartIndex: 1, Count: 10}},
		{groupType, scim.Query{StartIndex: 1, Count: 0}},
	}
	for _, c := range queries {
		want := mustQuery(t, s, ctx, c.typ, c.q)
		got := view(t, s, c.typ, c.q)
		what := fmt.Sprintf("View %s %s must call fn with the page Query returns", c.typ, describeQuery(c.q))
		if got.TotalResults != want.TotalResults || got.Next != want.Next || len(got.Resources) != len(want.Resources) {
			t.Errorf("%s: Query gave %d of %d (next %q), View %d of %d (next %q)", what,
				len(want.Resources), want.TotalResults, want.Next, len(got.Resources), got.TotalResults, got.Next)
			continue
		}
		for i, w := range want.Resources {
			g := got.Resources[i]
			if g.ID != w.ID || g.Meta.Version != w.Meta.Version {
				t.Errorf("%s: resource %d is %s at version %q in Query, %s at %q in View", what, i, w.ID, w.Meta.Version, g.ID, g.Meta.Version)
				continue
			}
			// A User's groups are a set: their order may differ.
			wa, ga := maps.Clone(w.Attributes), maps.Clone(g.Attributes)
			delete(wa, "groups")
			delete(ga, "groups")
			if diffs := diffAttributes(wa, ga); len(diffs) > 0 {
				t.Errorf("%s: %s differs: %v", what, w.ID, diffs)
			}
			if wg, gg := groupValues(w), groupValues(g); !reflect.DeepEqual(wg, gg) {
				t.Errorf("%s: the groups of %s are %v in Query, %v in View", what, w.ID, wg, gg)
			}
		}
	}
}

func checkViewReturnsFnError(t testing.TB, s scim.Store) {
	ctx := ctxA()
	membershipFixture(t, s, ctx)
	stop := errors.New("storetest: the callback's own error")
	err := s.(scim.Viewer).View(ctx, userType, scim.Query{StartIndex: 1, Count: 10}, func(*scim.Page) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("View must return the error fn returned (the handler answers with it); it returned %s", errText(err))
	}
}

func checkViewFailsWithoutCalling(t testing.TB, s scim.Store) {
	ctx := ctxA()
	membershipFixture(t, s, ctx)
	called := false
	q := scim.Query{Keyset: true, After: "not a position", Count: 10}
	err := s.(scim.Viewer).View(ctx, userType, q, func(*scim.Page) error { called = true; return nil })
	if !errors.Is(err, scim.ErrInvalidCursor) || called {
		t.Errorf("View must fail as Query does, without calling fn; with After %q it returned %s and called fn: %v", q.After, errText(err), called)
	}
}
