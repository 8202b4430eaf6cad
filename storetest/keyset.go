package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/scimkit/scim"
)

var keysetChecks = []check{
	{group: "Keyset", name: "PagesFollowTheOrder", run: checkKeysetPages},
	{group: "Keyset", name: "InvalidCursor", run: checkKeysetInvalid},
	{group: "Keyset", name: "CreatesAndDeletesWhilePaging", run: checkKeysetChurn},
}

const keysetRule = "a Keyset query returns the Count matches that follow the position After names, in the query's order, and in Page.Next the position after the page's last resource (\"\" when no match follows)"

// keysetThrough reads every match of q by keyset pages of size and
// returns their ids, failing on an error or a runaway cursor.
func keysetThrough(t testing.TB, s scim.Store, ctx context.Context, q scim.Query, size, most int) []string {
	t.Helper()
	q.Keyset, q.After, q.StartIndex, q.Count = true, "", 0, size
	var out []string
	for pages := 0; ; pages++ {
		if pages > most {
			t.Fatalf("%s; paging %s %d at a time never ended after %d pages", keysetRule, describeOrder(q), size, pages)
		}
		page := mustQuery(t, s, ctx, userType, q)
		out = append(out, ids(page.Resources)...)
		if len(page.Resources) > size {
			t.Fatalf("%s; a page of %s had %d resources, more than Count %d", keysetRule, describeOrder(q), len(page.Resources), size)
		}
		if page.Next == "" {
			return out
		}
		if len(page.Resources) == 0 {
			t.Fatalf("%s; a page of %s with no resources named a next position %q", keysetRule, describeOrder(q), page.Next)
		}
		q.After = page.Next
	}
}

func checkKeysetPages(t testing.TB, s scim.Store) {
	ctx := ctxA()
	loadPopulation(t, s, ctx)
	name, level, hired := pUserName, pLevel, pHiredAt
	for _, base := range []scim.Query{
		{},
		{Filter: pagingFilter},
		{SortBy: &name},
		{SortBy: &name, Descending: true},
		{Filter: pagingFilter, SortBy: &level}, // ties and missing values
		{Filter: pagingFilter, SortBy: &level, Descending: true}, // missing values first
		{SortBy: &hired},
		{SortBy: &pActive},
	} {
		full := allOf(t, s, ctx, base)
		for _, size := range []int{1, 7, 50, len(full) + 1} {
			got := keysetThrough(t, s, ctx, base, size, len(full)+2)
			if !slices.Equal(got, full) {
				missing, extra, dups := setDiff(full, got)
				t.Errorf("%s; paging %s by keyset %d at a time must return the whole ordered answer %s; the store returned %s (never seen: %s, twice: %s, unknown: %s)",
					keysetRule, describeOrder(base), size, listIDs(full), listIDs(got), listIDs(missing), listIDs(dups), listIDs(extra))
				break
			}
		}
	}
	// A keyset page ignores StartIndex and counts all matches.
	q := scim.Query{Filter: pagingFilter, Keyset: true, StartIndex: 40, Count: 5}
	page := mustQuery(t, s, ctx, userType, q)
	full := allOf(t, s, ctx, scim.Query{Filter: pagingFilter})
	if got := ids(page.Resources); !slices.Equal(got, full[:5]) || page.TotalResults != len(full) {
		t.Errorf("%s, from the start when After is \"\" (StartIndex does not count); the first keyset page of %s must be %s with totalResults %d; the store returned %s with %d",
			keysetRule, describeQuery(q), listIDs(full[:5]), len(full), listIDs(got), page.TotalResults)
	}
}

func checkKeysetInvalid(t testing.TB, s scim.Store) {
	ctx := ctxA()
	loadPopulation(t, s, ctx)
	for _, after := range []string{"not a position", "%%%", "eyJ4IjoxfQ"} {
		q := scim.Query{Keyset: true, After: after, Count: 10}
		if _, err := s.Query(ctx, userType, q); !errors.Is(err, scim.ErrInvalidCursor) {
			t.Errorf("a Keyset query whose After is no position the store handed out must fail with scim.ErrInvalidCursor; After %q returned %s", after, errText(err))
		}
	}
}

// checkKeysetChurn pages through the Users by keyset while another
// goroutine creates and deletes others: every User that exists throughout
// is seen exactly once.
func checkKeysetChurn(t testing.TB, s scim.Store) {
	ctx := ctxA()
	const stable = 300
	for i := 0; i < stable; i++ {
		mustCreate(t, s, ctx, simpleUser(fmt.Sprintf("KS-%03d", i), fmt.Sprintf("keyset.%03d", i)))
		if i%3 == 0 { // users that will be deleted while paging
			mustCreate(t, s, ctx, simpleUser(fmt.Sprintf("KD-%03d", i), fmt.Sprintf("keyset.doomed.%03d", i)))
		}
	}
	name := pUserName
	for round, base := range []scim.Query{{}, {SortBy: &name}, {SortBy: &name, Descending: true}} {
		var stop atomic.Bool
		var wg sync.WaitGroup
		var errs errorList
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < stable/2 && !stop.Load(); i++ { // bounded: paging must catch up
				id := fmt.Sprintf("KN-%d-%05d", round, i)
				if _, err := s.Create(ctx, simpleUser(id, "keyset.new."+id)); err != nil {
					errs.add("Create during paging must succeed; the store returned %s", errText(err))
					return
				}
				doomed := fmt.Sprintf("KD-%03d", (i*3)%stable)
				if err := s.Delete(ctx, userType, doomed, ""); err != nil && !errors.Is(err, scim.ErrNotFound) {
					errs.add("Delete during paging must succeed; the store returned %s", errText(err))
					return
				}
			}
		}()
		got := keysetThrough(t, s, ctx, base, 9, 10000)
		stop.Store(true)
		wg.Wait()
		errs.report(t)
		seen := map[string]int{}
		for _, id := range got {
			seen[id]++
		}
		for i := 0; i < stable; i++ {
			id := fmt.Sprintf("KS-%03d", i)
			if seen[id] != 1 {
				t.Errorf("%s, in an order that creates and deletes do not shift: paging %s by keyset while other Users were created and deleted saw User %s, which existed throughout, %d times (it must be once)",
					keysetRule, describeOrder(base), id, seen[id])
				break
			}
		}
		for id, n := range seen {
			if n > 1 {
				t.Errorf("%s; paging %s by keyset under creates and deletes saw User %s %d times", keysetRule, describeOrder(base), id, n)
				break
			}
		}
	}
}
