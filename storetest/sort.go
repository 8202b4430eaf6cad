package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/scimkit/scim"
)

var sortChecks = []check{
	{group: "Sort", name: "Ascending", run: func(t testing.TB, s scim.Store) { sortEveryPath(t, s, false) }},
	{group: "Sort", name: "Descending", run: func(t testing.TB, s scim.Store) { sortEveryPath(t, s, true) }},
	{group: "Sort", name: "MissingValues", run: checkSortMissing},
	{group: "Sort", name: "CaseRules", run: checkSortCase},
	{group: "Sort", name: "WithFilter", run: checkSortWithFilter},
}

// sortPaths are the attributes the kit sorts by: every simple type,
// case-exact and not, multi-valued ones (which sort by their primary or
// first value), extension and meta attributes.
var sortPaths = []scim.AttrPath{
	pUserName, pDisplayName, pTitle, pNickName, pExternalID, pID, pActive, pFamilyName,
	pEmailValue, pEmailType, pPhoneValue, pMetaCreated, pMetaLastModified,
	pLevel, pScore, pHiredAt, pVIP, pCode, pTags, pDepartment, pEmployeeNumber, pManagerValue,
}

const sortRule = "sorting orders values as scim.Compare does: strings case-insensitively unless CaseExact (by code point after folding), numbers numerically, dateTimes chronologically, booleans false first; a multi-valued attribute by its primary value, else its first; resources without a value last when ascending and first when descending (RFC 7644 §3.4.2.3)"

func sortEveryPath(t testing.TB, s scim.Store, descending bool) {
	ctx := ctxA()
	pop := loadPopulation(t, s, ctx)
	wrong := 0
	for _, p := range sortPaths {
		by := p
		q := scim.Query{SortBy: &by, Descending: descending, StartIndex: 1, Count: allCount}
		if msg := checkSorted(s, ctx, userType, pop.users, q); msg != "" {
			wrong++
			if wrong <= maxReported {
				t.Errorf("%s\n\tthe rule: %s", msg, sortRule)
			}
		}
	}
	if wrong > maxReported {
		t.Errorf("… and %d more sort orders were wrong", wrong-maxReported)
	}
}

// checkSorted runs q and describes what is wrong with the answer: the
// resources (the matches of q.Filter in ref) and their order.
func checkSorted(s scim.Store, ctx context.Context, typ string, ref []*scim.Resource, q scim.Query) string {
	byID := map[string]*scim.Resource{}
	var want []string
	for _, r := range ref {
		byID[r.ID] = r
		if scim.Matches(q.Filter, r) {
			want = append(want, r.ID)
		}
	}
	page, err := s.Query(ctx, typ, q)
	if err != nil || page == nil {
		return fmt.Sprintf("Query %s %s must succeed; the store returned error %s", typ, describeQuery(q), errText(err))
	}
	got := ids(page.Resources)
	if missing, extra, dups := setDiff(want, got); len(missing)+len(extra)+len(dups) > 0 {
		return fmt.Sprintf("Query %s %s must return the %d matches, each once; the store returned %d: missing %s, extra %s, repeated %s",
			typ, describeQuery(q), len(want), len(got), listIDs(missing), listIDs(extra), listIDs(dups))
	}
	if page.TotalResults != len(want) {
		return fmt.Sprintf("Query %s %s must report totalResults %d; the store reported %d", typ, describeQuery(q), len(want), page.TotalResults)
	}
	for i := 1; i < len(got); i++ {
		a, b := byID[got[i-1]], byID[got[i]]
		c := scim.Compare(a, b, *q.SortBy)
		if (!q.Descending && c > 0) || (q.Descending && c < 0) {
			probe := &scim.CompareExpr{Path: *q.SortBy, Op: scim.OpPresent}
			return fmt.Sprintf("Query %s %s returned resource %d (%s) before resource %d (%s), which scim.Compare puts the other way round",
				typ, describeQuery(q), i, relevantValues(a, probe), i+1, relevantValues(b, probe))
		}
	}
	return ""
}

func checkSortMissing(t testing.TB, s scim.Store) {
	ctx := ctxA()
	pop := loadPopulation(t, s, ctx)
	// Each of these is missing, null or empty in some Users.
	for _, p := range []scim.AttrPath{pTitle, pNickName, pLevel, pHiredAt, pEmailValue, pActive} {
		for _, desc := range []bool{false, true} {
			by := p
			q := scim.Query{SortBy: &by, Descending: desc, StartIndex: 1, Count: allCount}
			if msg := checkSorted(s, ctx, userType, pop.users, q); msg != "" {
				t.Errorf("%s\n\tthe rule: resources with no value for the sort attribute (missing, null, \"\" or []) come last when ascending and first when descending, as scim.Compare and RFC 7644 §3.4.2.3 have it", msg)
			}
		}
	}
}

func checkSortCase(t testing.TB, s scim.Store) {
	ctx := ctxA()
	names := []string{"bravo", "Alpha", "charlie", "ALPHA2", "Émile", "delta", "Zulu", "zoë"}
	var ref []*scim.Resource
	for i, n := range names {
		u := simpleUser(fmt.Sprintf("SortCase-%d", i), n)
		u.Attributes["externalId"] = n
		mustCreate(t, s, ctx, u)
		ref = append(ref, mustGet(t, s, ctx, userType, u.ID, "it was created"))
	}
	for _, p := range []scim.AttrPath{pUserName, pExternalID} {
		for _, desc := range []bool{false, true} {
			by := p
			q := scim.Query{SortBy: &by, Descending: desc, StartIndex: 1, Count: allCount}
			if msg := checkSorted(s, ctx, userType, ref, q); msg != "" {
				t.Errorf("%s\n\tthe rule: userName is not case-exact and sorts ignoring case (Alpha, ALPHA2, bravo); externalId is case-exact and sorts by code point (ALPHA2, Alpha, Zulu, bravo)", msg)
			}
		}
	}
}

func checkSortWithFilter(t testing.TB, s scim.Store) {
	ctx := ctxA()
	pop := loadPopulation(t, s, ctx)
	f := or(cmp(pActive, scim.OpEqual, true), cmp(pLevel, scim.OpGreater, int64(20)))
	for _, p := range []scim.AttrPath{pFamilyName, pScore, pHiredAt} {
		for _, desc := range []bool{false, true} {
			by := p
			q := scim.Query{Filter: f, SortBy: &by, Descending: desc, StartIndex: 1, Count: allCount}
			if msg := checkSorted(s, ctx, userType, pop.users, q); msg != "" {
				t.Errorf("%s\n\tthe rule: the filter selects, then the sort orders the matches: %s", msg, sortRule)
			}
		}
	}
}
