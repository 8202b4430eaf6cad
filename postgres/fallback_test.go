package postgres_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/postgres"
	"github.com/scimkit/scim/storetest"
)

// TestFallback checks the queries SQL does not answer alone: an untyped
// path and a sort by a User's groups are answered as scim.Matches and
// scim.SortResources answer them, and more candidates than the limit is a
// tooMany error, not another answer.
func TestFallback(t *testing.T) {
	pool := testPool(t)
	s := newStore(t, pool, postgres.WithFallbackLimit(300))
	ctx := scim.WithPrincipal(context.Background(), scim.Principal{ID: "t", Tenant: "t"})
	var users []*scim.Resource
	pop := storetest.Population(7, 120)
	for _, r := range pop {
		if _, err := s.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range pop {
		if r.Type == "User" {
			got, err := s.Get(ctx, "User", r.ID)
			if err != nil {
				t.Fatal(err)
			}
			users = append(users, got)
		}
	}
	untyped := &scim.CompareExpr{Path: scim.AttrPath{Name: "title"}, Op: scim.OpContains, Value: "eng"}
	byGroups := scim.AttrPath{Name: "groups", Sub: "value", Type: scim.TypeString, CaseExact: true, MultiValued: true}
	for _, q := range []scim.Query{
		{Filter: untyped, StartIndex: 1, Count: 1000},
		{SortBy: &byGroups, StartIndex: 1, Count: 1000},
		{SortBy: &byGroups, Descending: true, Filter: untyped, StartIndex: 2, Count: 3},
	} {
		var want []*scim.Resource
		for _, u := range users {
			if scim.Matches(q.Filter, u) {
				want = append(want, u)
			}
		}
		if q.SortBy != nil {
			scim.SortResources(want, *q.SortBy, q.Descending)
		}
		total := len(want)
		want = want[min(q.StartIndex-1, len(want)):min(q.StartIndex-1+q.Count, len(want))]
		page, err := s.Query(ctx, "User", q)
		if err != nil {
			t.Fatalf("Query %+v: %v", q, err)
		}
		ids := func(rs []*scim.Resource) []string {
			var out []string
			for _, r := range rs {
				out = append(out, r.ID)
			}
			return out
		}
		if !slices.Equal(ids(page.Resources), ids(want)) || page.TotalResults != total {
			t.Errorf("Query %+v must answer %v (total %d) as the reference does; got %v (total %d)", q, ids(want), total, ids(page.Resources), page.TotalResults)
		}
	}

	// Keyset pages of fallback queries (Go filters, Go sorts, or both)
	// follow the order of the whole answer.
	userName := scim.AttrPath{Name: "userName", Type: scim.TypeString}
	for _, base := range []scim.Query{
		{Filter: untyped},
		{Filter: untyped, SortBy: &userName, Descending: true},
		{SortBy: &byGroups},
		{SortBy: &byGroups, Descending: true, Filter: untyped},
	} {
		full := base
		full.StartIndex, full.Count = 1, 1000
		want, err := s.Query(ctx, "User", full)
		if err != nil {
			t.Fatalf("Query %+v: %v", full, err)
		}
		for _, size := range []int{1, 4, 1000} {
			q := base
			q.Keyset, q.Count = true, size
			var got []string
			for pages := 0; pages <= len(want.Resources)+1; pages++ {
				page, err := s.Query(ctx, "User", q)
				if err != nil {
					t.Fatalf("Query %+v: %v", q, err)
				}
				if page.TotalResults != want.TotalResults {
					t.Errorf("keyset Query %+v: total %d, want %d", q, page.TotalResults, want.TotalResults)
				}
				for _, r := range page.Resources {
					got = append(got, r.ID)
				}
				if page.Next == "" {
					break
				}
				q.After = page.Next
			}
			var wantIDs []string
			for _, r := range want.Resources {
				wantIDs = append(wantIDs, r.ID)
			}
			if !slices.Equal(got, wantIDs) {
				t.Errorf("paging %+v by keyset %d at a time: got %v, want %v", base, size, got, wantIDs)
			}
		}
	}

	small := newStore(t, pool, postgres.WithFallbackLimit(5))
	for _, r := range storetest.Population(7, 20) {
		if _, err := small.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	_, err := small.Query(ctx, "User", scim.Query{Filter: untyped, StartIndex: 1, Count: 10})
	var se *scim.Error
	if !errors.As(err, &se) || se.SCIMType != scim.SCIMTypeTooMany {
		t.Errorf("a query with more candidates than the fallback limit must fail with a tooMany SCIM error; got %v", err)
	}
}
