package storetest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/scimkit/scim"
)

var pagingChecks = []check{
	{group: "Paging", name: "TotalResultsBeforePaging", run: checkTotalBeforePaging},
	{group: "Paging", name: "CountZero", run: checkCountZero},
	{group: "Paging", name: "StartIndexPastEnd", run: checkStartPastEnd},
	{group: "Paging", name: "Windows", run: checkWindows},
	{group: "Paging", name: "StableOrder", run: checkStableOrder},
	{group: "Paging", name: "StableOrderWithTiedSortKeys", run: checkStableTies},
}

// pagingFilter matches a good part of the population, not all of it.
var pagingFilter scim.Filter = or(cmp(pActive, scim.OpEqual, true), cmp(pTitle, scim.OpPresent, nil))

func matchCount(ref []*scim.Resource, f scim.Filter) int {
	n := 0
	for _, r := range ref {
		if scim.Matches(f, r) {
			n++
		}
	}
	return n
}

func checkTotalBeforePaging(t testing.TB, s scim.Store) {
	ctx := ctxA()
	pop := loadPopulation(t, s, ctx)
	by := pUserName
	for _, q := range []scim.Query{
		{StartIndex: 1, Count: 7},
		{Filter: pagingFilter, StartIndex: 3, Count: 7},
		{Filter: pagingFilter, SortBy: &by, StartIndex: 11, Count: 5},
		{SortBy: &by, Descending: true, StartIndex: 1, Count: 1},
	} {
		want := matchCount(pop.users, q.Filter)
		page := mustQuery(t, s, ctx, userType, q)
		if page.TotalResults != want {
			t.Errorf("totalResults is the number of matches before paging: Query User %s must report %d; the store reported %d", describeQuery(q), want, page.TotalResults)
		}
		if len(page.Resources) != min(q.Count, want-(q.StartIndex-1)) {
			t.Errorf("a page holds count resources when that many matches follow startIndex: Query User %s must return %d; the store returned %d", describeQuery(q), min(q.Count, want-(q.StartIndex-1)), len(page.Resources))
		}
	}
	// The last page, shorter than count, after skipping some matches.
	want := matchCount(pop.users, pagingFilter)
	q := scim.Query{Filter: pagingFilter, StartIndex: want - 1, Count: 10}
	if page := mustQuery(t, s, ctx, userType, q); page.TotalResults != want || len(page.Resources) != 2 {
		t.Errorf("totalResults is the number of matches before paging, also on the last page: Query User %s must return 2 resources and totalResults %d; the store returned %d and totalResults %d",
			describeQuery(q), want, len(page.Resources), page.TotalResults)
	}
}

func checkCountZero(t testing.TB, s scim.Store) {
	ctx := ctxA()
	pop := loadPopulation(t, s, ctx)
	for _, f := range []scim.Filter{nil, pagingFilter} {
		q := scim.Query{Filter: f, StartIndex: 1, Count: 0}
		page := mustQuery(t, s, ctx, userType, q)
		if want := matchCount(pop.users, f); page.TotalResults != want || len(page.Resources) != 0 {
			t.Errorf("with count 0 a page carries only totalResults: Query User %s must return no resources and totalResults %d; the store returned %d resources and totalResults %d",
				describeQuery(q), want, len(page.Resources), page.TotalResults)
		}
	}
}

func checkStartPastEnd(t testing.TB, s scim.Store) {
	ctx := ctxA()
	pop := loadPopulation(t, s, ctx)
	want := matchCount(pop.users, pagingFilter)
	by := pScore
	for _, q := range []scim.Query{
		{Filter: pagingFilter, StartIndex: want + 1, Count: 10},
		{Filter: pagingFilter, StartIndex: want + 50, Count: 10},
		{Filter: pagingFilter, SortBy: &by, StartIndex: want + 1, Count: 10},
		{StartIndex: len(pop.users) + 1, Count: 10},
	} {
		total := matchCount(pop.users, q.Filter)
		page := mustQuery(t, s, ctx, userType, q)
		if len(page.Resources) != 0 || page.TotalResults != total {
			t.Errorf("a startIndex past the last match gives an empty page with the full totalResults: Query User %s must return no resources and totalResults %d; the store returned %d and totalResults %d",
				describeQuery(q), total, len(page.Resources), page.TotalResults)
		}
	}
	q := scim.Query{Filter: pagingFilter, StartIndex: want, Count: 10}
	if page := mustQuery(t, s, ctx, userType, q); len(page.Resources) != 1 {
		t.Errorf("startIndex is 1-based: Query User %s, with %d matches, must return the last one; the store returned %d", describeQuery(q), want, len(page.Resources))
	}
	// Clients choose startIndex and count: their sum may pass the largest
	// int, and a store must not overflow on it.
	for _, c := range []struct {
		q    scim.Query
		want int
	}{
		{scim.Query{Filter: pagingFilter, StartIndex: math.MaxInt, Count: 10}, 0},
		{scim.Query{Filter: pagingFilter, StartIndex: 2, Count: math.MaxInt}, want - 1},
		{scim.Query{StartIndex: 2, Count: math.MaxInt}, len(pop.users) - 1},
	} {
		page, panicked := queryRecovering(s, ctx, userType, c.q)
		switch {
		case panicked != nil:
			t.Errorf("Query User %s must not panic (startIndex-1+count overflows an int); it panicked: %v", describeQuery(c.q), panicked)
		case page == nil || len(page.Resources) != c.want:
			t.Errorf("Query User %s must return %d resources", describeQuery(c.q), c.want)
		}
	}
}

// queryRecovering runs a query, turning a panic of the store into a value.
func queryRecovering(s scim.Store, ctx context.Context, typ string, q scim.Query) (page *scim.Page, panicked any) {
	defer func() { panicked = recover() }()
	page, _ = s.Query(ctx, typ, q)
	return page, nil
}

// allOf returns the ids of every match of q, in the store's order.
func allOf(t testing.TB, s scim.Store, ctx context.Context, q scim.Query) []string {
	t.Helper()
	q.StartIndex, q.Count = 1, allCount
	return ids(mustQuery(t, s, ctx, userType, q).Resources)
}

func checkWindows(t testing.TB, s scim.Store) {
	ctx := ctxA()
	pop := loadPopulation(t, s, ctx)
	by := pHiredAt
	for _, base := range []scim.Query{
		{Filter: pagingFilter},
		{Filter: pagingFilter, SortBy: &by},
		{SortBy: &by, Descending: true},
	} {
		full := allOf(t, s, ctx, base)
		n := len(full)
		if want := matchCount(pop.users, base.Filter); n != want {
			t.Fatalf("Query User %s must return all %d matches when count allows; the store returned %d", describeQuery(base), want, n)
		}
		for _, w := range [][2]int{{1, 1}, {1, 10}, {5, 10}, {n - 3, 10}, {n, 1}, {2, n}} {
			q := base
			q.StartIndex, q.Count = w[0], w[1]
			want := full[w[0]-1 : min(w[0]-1+w[1], n)]
			if got := ids(mustQuery(t, s, ctx, userType, q).Resources); !slices.Equal(got, want) {
				t.Errorf("a page is the slice [startIndex-1, startIndex-1+count) of the whole ordered answer: Query User %s must return %s; the store returned %s",
					describeQuery(q), listIDs(want), listIDs(got))
			}
		}
	}
}

// pageThrough reads every match of q in pages of size, and describes what
// is wrong: a resource seen twice or never, or an order different from
// the whole answer's.
func pageThrough(t testing.TB, s scim.Store, ctx context.Context, q scim.Query, size int) string {
	t.Helper()
	full := allOf(t, s, ctx, q)
	if again := allOf(t, s, ctx, q); !slices.Equal(full, again) {
		return fmt.Sprintf("two identical queries (%s) returned the matches in different orders: %s, then %s", describeOrder(q), listIDs(full), listIDs(again))
	}
	var paged []string
	for start := 1; start <= len(full); start += size {
		q.StartIndex, q.Count = start, size
		paged = append(paged, ids(mustQuery(t, s, ctx, userType, q).Resources)...)
	}
	if missing, extra, dups := setDiff(full, paged); len(missing)+len(extra)+len(dups) > 0 {
		return fmt.Sprintf("paging through %s %d at a time must see every match exactly once; never seen: %s, seen twice: %s, unknown: %s",
			describeOrder(q), size, listIDs(missing), listIDs(dups), listIDs(extra))
	}
	if !slices.Equal(full, paged) {
		return fmt.Sprintf("the pages of %s, %d at a time, must follow the order of the whole answer", describeOrder(q), size)
	}
	return ""
}

func checkStableOrder(t testing.TB, s scim.Store) {
	ctx := ctxA()
	loadPopulation(t, s, ctx)
	for _, f := range []scim.Filter{nil, pagingFilter} {
		if msg := pageThrough(t, s, ctx, scim.Query{Filter: f}, 17); msg != "" {
			t.Errorf("without sortBy a store keeps its own stable order, the same on every call, so that paging sees each resource once: %s", msg)
		}
	}
}

func checkStableTies(t testing.TB, s scim.Store) {
	ctx := ctxA()
	loadPopulation(t, s, ctx)
	for _, p := range []scim.AttrPath{pActive, pMetaCreated, pVIP} {
		by := p
		for _, desc := range []bool{false, true} {
			if msg := pageThrough(t, s, ctx, scim.Query{SortBy: &by, Descending: desc}, 13); msg != "" {
				t.Errorf("resources that tie on the sort attribute (here %s, which many share) must still come in one order on every call (break ties, for example by the store's own order), or paging skips and repeats them: %s", p, msg)
			}
		}
	}
}
