package storetest

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math/rand"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// recorder is a testing.TB that records what a check reports instead of
// failing the test that runs it. FailNow and SkipNow end the check's
// goroutine, as they do in a real test.
type recorder struct {
	testing.TB // the surrounding test, for what is not overridden
	name       string

	mu       sync.Mutex
	failed   bool
	skipped  bool
	msgs     []string
	cleanups []func()
}

func (r *recorder) Helper()      {}
func (r *recorder) Name() string { return r.TB.Name() + "/" + r.name }

func (r *recorder) record(failed, skipped bool, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = r.failed || failed
	r.skipped = r.skipped || skipped
	if msg != "" {
		r.msgs = append(r.msgs, msg)
	}
}

func (r *recorder) Log(args ...any) { r.record(false, false, fmt.Sprint(args...)) }
func (r *recorder) Logf(format string, args ...any) {
	r.record(false, false, fmt.Sprintf(format, args...))
}
func (r *recorder) Error(args ...any) { r.record(true, false, fmt.Sprint(args...)) }
func (r *recorder) Errorf(format string, args ...any) {
	r.record(true, false, fmt.Sprintf(format, args...))
}
func (r *recorder) Fail()                             { r.record(true, false, "") }
func (r *recorder) FailNow()                          { r.Fail(); runtime.Goexit() }
func (r *recorder) Fatal(args ...any)                 { r.Error(args...); runtime.Goexit() }
func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...); runtime.Goexit() }
func (r *recorder) SkipNow()                          { r.record(false, true, ""); runtime.Goexit() }
func (r *recorder) Skip(args ...any)                  { r.record(false, true, fmt.Sprint(args...)); runtime.Goexit() }
func (r *recorder) Skipf(format string, args ...any) {
	r.record(false, true, fmt.Sprintf(format, args...))
	runtime.Goexit()
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recorder) Skipped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skipped
}

func (r *recorder) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

// runRecorded runs one check against s on a goroutine of its own and
// returns what it reported.
func runRecorded(t testing.TB, c check, s scim.Store) *recorder {
	return runRecordedWith(t, c, s, nil)
}

// runRecordedWith is runRecorded with the stores a retention check makes.
func runRecordedWith(t testing.TB, c check, s scim.Store, newRetained func(scim.Retention) scim.Store) *recorder {
	r := &recorder{TB: t, name: c.id()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				r.Errorf("the check panicked: %v", p)
			}
		}()
		c.exec(r, s, newRetained)
	}()
	<-done
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	return r
}

// kitResult is what the whole kit reported about one kind of store.
type kitResult struct {
	failed  map[string][]string // check id → its messages
	skipped []string
}

func (k kitResult) failedIDs() []string {
	var out []string
	for id := range k.failed {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// fullKit makes the self-tests run every check against every broken
// store, to list all the checks each bug fails (slow; for go test -v).
var fullKit = flag.Bool("kit.full", false, "run every check of the kit against every broken store")

// runKit runs the checks named in only (every check when only is nil)
// against a new store from newStore each.
func runKit(t testing.TB, newStore func() scim.Store, only map[string]bool) kitResult {
	res := kitResult{failed: map[string][]string{}}
	for _, c := range allChecks {
		if only != nil && !only[c.id()] {
			continue
		}
		r := runRecorded(t, c, newStore())
		switch {
		case r.failed:
			res.failed[c.id()] = r.msgs
		case r.skipped:
			res.skipped = append(res.skipped, c.id())
		}
	}
	return res
}

func TestRecorder(t *testing.T) {
	c := check{group: "Self", name: "Fatal", run: func(t testing.TB, s scim.Store) {
		t.Fatalf("stop here")
		panic("FailNow must end the check")
	}}
	if r := runRecorded(t, c, nil); !r.failed || len(r.msgs) != 1 {
		t.Errorf("a check that calls Fatalf must be recorded as failed with its message; got failed=%v msgs=%q", r.failed, r.msgs)
	}
	c = check{group: "Self", name: "Skip", needs: func(scim.Store) (bool, string) { return false, "no capability" }, run: func(t testing.TB, s scim.Store) {
		panic("a skipped check must not run")
	}}
	if r := runRecorded(t, c, nil); r.failed || !r.skipped {
		t.Errorf("a check whose capability is missing must be recorded as skipped; got failed=%v skipped=%v", r.failed, r.skipped)
	}
}

func TestCheckNamesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	groups := map[string]bool{}
	for _, g := range groupOrder {
		groups[g] = true
	}
	for _, c := range allChecks {
		if seen[c.id()] {
			t.Errorf("two checks are named %s", c.id())
		}
		seen[c.id()] = true
		if !groups[c.group] {
			t.Errorf("check %s is in a group Run does not run", c.id())
		}
		if strings.ContainsAny(c.name, " /") {
			t.Errorf("check %s: names are single words, so that -run selects them", c.id())
		}
	}
}

// selected returns the checks the self-tests run: those that must catch
// a broken store, or every check with -kit.full.
func selected(want ...string) map[string]bool {
	if *fullKit {
		return nil
	}
	only := map[string]bool{}
	for _, id := range want {
		only[id] = true
	}
	return only
}

// TestCorrectStoreFailsNothing runs the checks that catch the broken stores
// below against memstore, recorded as for them: a correct store passes
// them, so a failure of a broken store is the kit catching its bug, not
// the kit (or the recording) being wrong. memstore's own conformance test
// runs the whole kit with a real *testing.T.
func TestCorrectStoreFailsNothing(t *testing.T) {
	t.Parallel()
	var want []string
	for _, b := range brokenStores {
		want = append(want, b.want...)
	}
	for name, newStore := range map[string]func() scim.Store{
		"memstore":   func() scim.Store { return memstore.New() },
		"naiveStore": func() scim.Store { return newNaive(bugs{}) },
	} {
		res := runKit(t, newStore, selected(want...))
		for _, id := range res.failedIDs() {
			t.Errorf("%s fails %s:\n%s", name, id, strings.Join(res.failed[id], "\n"))
		}
		for _, id := range res.skipped {
			t.Errorf("%s skipped %s", name, id)
		}
	}
}

// TestNaiveStore runs the whole kit against the naive store without bugs,
// the base of most broken stores.
func TestNaiveStore(t *testing.T) {
	t.Parallel()
	Run(t, func(t *testing.T) scim.Store { return newNaive(bugs{}) })
}

// brokenStores are stores with one bug each, made by wrapping memstore,
// and the checks that must catch the bug.
var brokenStores = []struct {
	name string
	new  func() scim.Store
	// want are the checks that must fail.
	want []string
}{
	{"CaseSensitiveUserName", onMemstore(func(s *memstore.Store) scim.Store { return caseSensitiveUnique{s} }),
		[]string{"Uniqueness/UserNameCaseInsensitive", "Concurrency/CreateSameUserNameOneWins", "Tenancy/SameUserNameInTwoTenants"}},
	{"ReplaceIgnoresVersion", onMemstore(func(s *memstore.Store) scim.Store { return replaceIgnoresVersion{s} }),
		[]string{"CRUD/ReplaceVersionMismatch"}},
	{"ReplaceChecksVersionThenWrites", onMemstore(func(s *memstore.Store) scim.Store { return racyReplace{s} }),
		[]string{"Concurrency/ReadModifyWriteLosesNoUpdate"}},
	{"QueryIgnoresNot", onMemstore(func(s *memstore.Store) scim.Store { return queryRewrite{s, stripNot} }),
		[]string{"Query/LogicalOperators", "Query/RandomFilters"}},
	{"QueryFlattensValuePaths", onMemstore(func(s *memstore.Store) scim.Store { return queryRewrite{s, flattenValuePaths} }),
		[]string{"Query/ValuePaths"}},
	{"TotalResultsAfterPaging", onMemstore(func(s *memstore.Store) scim.Store { return totalAfterPaging{s} }),
		[]string{"Paging/TotalResultsBeforePaging", "Paging/CountZero", "Paging/StartIndexPastEnd"}},
	{"UnstableOrder", onMemstore(func(s *memstore.Store) scim.Store { return &unstableOrder{Store: s} }),
		[]string{"Paging/StableOrder"}},
	{"SortIgnoresCaseRules", onMemstore(func(s *memstore.Store) scim.Store { return sortCaseExact{s} }),
		[]string{"Sort/CaseRules"}},
	{"AliasesReturnedValues", onMemstore(func(s *memstore.Store) scim.Store { return newAliasing(s) }),
		[]string{"CRUD/ReturnedValuesAreCopies"}},
	{"NoGroupsOnUsers", onMemstore(func(s *memstore.Store) scim.Store { return noGroups{s} }),
		[]string{"Membership/GroupsOfUser", "Membership/MemberChangesByReplace"}},
	{"IgnoresTenant", onMemstore(func(s *memstore.Store) scim.Store { return ignoresTenant{s} }),
		[]string{"Tenancy/Isolation", "Tenancy/SameUserNameInTwoTenants", "Tenancy/MembershipsStayInTheirTenant"}},
	{"IgnoresContext", onMemstore(func(s *memstore.Store) scim.Store { return ignoresContext{s} }),
		[]string{"Context/Cancelled", "Context/DeadlineExceeded"}},
	{"PatchMembersIgnoresVersion", onMemstore(func(s *memstore.Store) scim.Store { return patchIgnoresVersion{s} }),
		[]string{"MembershipPatcher/VersionMismatch"}},
	{"PatchMembersReportsNoDisplayName", onMemstore(func(s *memstore.Store) scim.Store { return patchNoDisplayName{s} }),
		[]string{"MembershipPatcher/ReportsDisplayName"}},
	{"PatchMembersReportsStaleDisplayName", onMemstore(func(s *memstore.Store) scim.Store { return &patchStaleDisplayName{Store: s} }),
		[]string{"MembershipPatcher/ReportsDisplayName"}},
	{"ViewLeavesOutGroups", onMemstore(func(s *memstore.Store) scim.Store { return viewWithoutGroups{s} }), []string{"Viewer/SameAsQuery"}},
	{"ViewSwallowsTheCallbackError", onMemstore(func(s *memstore.Store) scim.Store { return viewSwallowsError{s} }), []string{"Viewer/ReturnsTheCallbackError"}},
	{"ViewCallsBackOnError", onMemstore(func(s *memstore.Store) scim.Store { return viewCallsOnError{s} }), []string{"Viewer/FailsWithoutCalling"}},
	{"NumbersThroughJSONAsFloat", onMemstore(func(s *memstore.Store) scim.Store { return jsonFloats{s} }),
		[]string{"CRUD/RoundTripEveryType", "Query/SpecialValues"}},
	{"DateTimesComparedAsText", onMemstore(func(s *memstore.Store) scim.Store { return queryRewrite{s, datesAsText} }),
		[]string{"Query/SpecialValues", "Query/EveryOperatorEveryType", "Query/SubSecondDateTimes"}},

	// Bugs of a store written from scratch: the naive store with one each.
	{"KeepsNestedInputValues", naive(bugs{shallowCopyIn: true}), []string{"CRUD/NoAliasingAnywhere"}},
	{"HandsOutNestedValues", naive(bugs{shallowCopyOut: true}), []string{"CRUD/NoAliasingAnywhere"}},
	{"KeepsPatchedMemberValues", naive(bugs{keepsAddedMembers: true}), []string{"CRUD/NoAliasingAnywhere"}},
	{"ReplaceOfSameValuesKeepsVersion", naive(bugs{skipsSameReplace: true}), []string{"CRUD/VersionAndTimes"}},
	{"IdenticalReplaceKeepsVersion", naive(bugs{skipsIdenticalReplace: true}), []string{"CRUD/IdenticalReplaceNewVersion"}},
	{"IdenticalReplaceNotStored", naive(bugs{identicalReplaceUnstored: true}), []string{"CRUD/IdenticalReplaceNewVersion"}},
	{"VersionIsLastModified", naive(bugs{versionFromLastModified: true}),
		[]string{"CRUD/IdenticalReplaceNewVersion", "Concurrency/ReadModifyWriteLosesNoUpdate"}},
	{"CascadeKeepsVersion", naive(bugs{cascadeKeepsVersion: true}),
		[]string{"Membership/CascadeChangesVersionAndTime", "Membership/DeleteUserRemovesMemberships"}},
	{"CascadeKeepsLastModified", naive(bugs{cascadeKeepsLastModified: true}), []string{"Membership/CascadeChangesVersionAndTime"}},
	{"DeletedGroupStaysInParents", naive(bugs{cascadeUsersOnly: true}), []string{"Membership/DeleteNestedGroup"}},
	{"CascadeFoldsIDCase", naive(bugs{cascadeFoldsCase: true}), []string{"Membership/CascadeMatchesIDsExactly"}},
	{"CascadeCrossesTenants", naive(bugs{cascadeAllTenants: true}),
		[]string{"Tenancy/MembershipsStayInTheirTenant", "Tenancy/SameIDInTwoTenants"}},
	{"CachedGroupsOfUser", naive(bugs{staleGroups: true}), []string{"Membership/GroupsFollowEveryChange"}},
	{"GroupsFromOtherTenants", naive(bugs{groupsAllTenants: true}),
		[]string{"Tenancy/MembershipsStayInTheirTenant", "Tenancy/SameIDInTwoTenants"}},
	{"ProjectionHintsDropGroups", naive(bugs{hintsDropGroups: true}), []string{"Membership/GroupsSurviveProjection"}},
	{"MembersNotChecked", naive(bugs{noMemberCheck: true}), []string{"Membership/MembersMustExist"}},
	{"MembersOfAnyType", naive(bugs{memberAnyType: true}), []string{"Membership/MembersMustExist"}},
	{"MemberIDsFoldCase", naive(bugs{memberFoldsCase: true}), []string{"Membership/MembersMustExist"}},
	{"MembersFromOtherTenants", naive(bugs{memberAllTenants: true}),
		[]string{"Membership/MembersMustExist", "Tenancy/MembersMustExistInTheTenant"}},
	{"MemberCheckNotAtomic", naive(bugs{memberCheckRacy: true}), []string{"Concurrency/MemberAddRacesDelete"}},
	{"MembersCheckedBeforeVersion", naive(bugs{membersBeforeVersion: true}), []string{"Membership/MembersMustExist"}},
	{"IDsUniqueAcrossTenants", naive(bugs{idsAllTenants: true}), []string{"Tenancy/SameIDInTwoTenants"}},
	{"ReplaceUniqueAcrossTenants", naive(bugs{replaceUniqueAllTenants: true}), []string{"Tenancy/ReplaceUniquenessPerTenant"}},
	{"KeysTrimmed", naive(bugs{trimsKeys: true}), []string{"Uniqueness/KeysCompareExactly"}},
	{"UserNameKeysByToLower", naive(bugs{lowerKeys: true}), []string{"Uniqueness/UserNameCaseInsensitive"}},
	{"ReplaceKeepsDroppedKeys", naive(bugs{keepsDroppedKeys: true}), []string{"Uniqueness/ReplaceWithoutAKeyFreesIt"}},
	{"KeysetPositionsAreOffsets", naive(bugs{keysetAsOffset: true}), []string{"Keyset/CreatesAndDeletesWhilePaging"}},
	{"KeysetIgnoresSortValue", naive(bugs{keysetByIDOnly: true}), []string{"Keyset/PagesFollowTheOrder"}},
	{"PageEndOverflows", naive(bugs{pageEndOverflows: true}), []string{"Paging/StartIndexPastEnd"}},
	{"MetaTimesComparedInSeconds", naive(bugs{metaTimesToSeconds: true}), []string{"Query/SubSecondDateTimes"}},
	{"DateTimeAttributesComparedInSeconds", naive(bugs{attrTimesToSeconds: true}), []string{"Query/SubSecondDateTimes"}},
	{"DateTimesComparedInMilliseconds", naive(bugs{timesToMillis: true}), []string{"Query/SubSecondDateTimes"}},
}

// onMemstore makes stores that wrap a new memstore with w.
func onMemstore(w func(*memstore.Store) scim.Store) func() scim.Store {
	return func() scim.Store { return w(memstore.New()) }
}

// naive makes naiveStores with bugs b.
func naive(b bugs) func() scim.Store {
	return func() scim.Store { return newNaive(b) }
}

func TestKitCatchesBrokenStores(t *testing.T) {
	for _, b := range brokenStores {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			res := runKit(t, b.new, selected(b.want...))
			for _, id := range b.want {
				msgs, ok := res.failed[id]
				if !ok {
					t.Errorf("the kit must catch a store whose bug is %s with check %s; it passed. Checks that failed: %q", b.name, id, res.failedIDs())
					continue
				}
				if len(msgs) > 0 {
					t.Logf("%s says: %s", id, firstLine(msgs[0]))
				}
			}
			if *fullKit {
				for _, id := range res.failedIDs() {
					t.Logf("%s fails %s: %s", b.name, id, firstLine(res.failed[id][0]))
				}
			}
		})
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// caseSensitiveUnique enforces userName uniqueness on the userName as
// written, not on the folded key the handler computed.
type caseSensitiveUnique struct{ scim.Store }

func rawKeys(res *scim.Resource) *scim.Resource {
	if res == nil {
		return nil
	}
	c := res.Clone()
	for i, k := range c.Unique {
		if un, ok := res.Attributes["userName"].(string); ok && k.Attribute == "userName" {
			c.Unique[i].Value = un
		}
	}
	return c
}

func (s caseSensitiveUnique) Create(ctx context.Context, res *scim.Resource) (*scim.Resource, error) {
	return s.Store.Create(ctx, rawKeys(res))
}

func (s caseSensitiveUnique) Replace(ctx context.Context, res *scim.Resource, v string) (*scim.Resource, error) {
	return s.Store.Replace(ctx, rawKeys(res), v)
}

// replaceIgnoresVersion overwrites whatever version is stored.
type replaceIgnoresVersion struct{ scim.Store }

func (s replaceIgnoresVersion) Replace(ctx context.Context, res *scim.Resource, _ string) (*scim.Resource, error) {
	return s.Store.Replace(ctx, res, "")
}

// racyReplace compares the version and then writes, in two steps: the
// compare-and-swap is not atomic.
type racyReplace struct{ scim.Store }

func (s racyReplace) Replace(ctx context.Context, res *scim.Resource, v string) (*scim.Resource, error) {
	if res != nil && v != "" {
		cur, err := s.Store.Get(ctx, res.Type, res.ID)
		if err != nil {
			return nil, err
		}
		if cur.Meta.Version != v {
			return nil, scim.ErrVersionMismatch
		}
		time.Sleep(50 * time.Microsecond)
	}
	return s.Store.Replace(ctx, res, "")
}

// queryRewrite answers a different filter than it was asked.
type queryRewrite struct {
	scim.Store
	rewrite func(scim.Filter) scim.Filter
}

func (s queryRewrite) Query(ctx context.Context, typ string, q scim.Query) (*scim.Page, error) {
	q.Filter = s.rewrite(q.Filter)
	return s.Store.Query(ctx, typ, q)
}

// stripNot drops every not: not (x) becomes x.
func stripNot(f scim.Filter) scim.Filter {
	switch f := f.(type) {
	case *scim.NotExpr:
		return stripNot(f.X)
	case *scim.LogicalExpr:
		return &scim.LogicalExpr{Op: f.Op, Left: stripNot(f.Left), Right: stripNot(f.Right)}
	case *scim.ValuePathExpr:
		return &scim.ValuePathExpr{Path: f.Path, Filter: stripNot(f.Filter)}
	}
	return f
}

// flattenValuePaths turns emails[type eq "work" and value co "x"] into
// emails.type eq "work" and emails.value co "x", as a naive translation
// to SQL joins does: the conditions may hold for different values.
func flattenValuePaths(f scim.Filter) scim.Filter {
	switch f := f.(type) {
	case *scim.ValuePathExpr:
		return flattenValuePaths(f.Filter)
	case *scim.LogicalExpr:
		return &scim.LogicalExpr{Op: f.Op, Left: flattenValuePaths(f.Left), Right: flattenValuePaths(f.Right)}
	case *scim.NotExpr:
		return &scim.NotExpr{X: flattenValuePaths(f.X)}
	}
	return f
}

// datesAsText compares dateTimes as the strings they are stored as, as a
// store keeping JSON text would: "2024-03-10T05:00:00-05:00" sorts before
// "2024-03-10T06:00:00Z", although it is four hours later.
func datesAsText(f scim.Filter) scim.Filter {
	switch f := f.(type) {
	case *scim.CompareExpr:
		if tm, ok := f.Value.(time.Time); ok && f.Path.Type == scim.TypeDateTime && f.Path.URN != "" {
			c := *f
			c.Path.Type, c.Path.CaseExact, c.Value = scim.TypeString, true, tm.UTC().Format(time.RFC3339Nano)
			return &c
		}
	case *scim.LogicalExpr:
		return &scim.LogicalExpr{Op: f.Op, Left: datesAsText(f.Left), Right: datesAsText(f.Right)}
	case *scim.NotExpr:
		return &scim.NotExpr{X: datesAsText(f.X)}
	case *scim.ValuePathExpr:
		return &scim.ValuePathExpr{Path: f.Path, Filter: datesAsText(f.Filter)}
	}
	return f
}

// jsonFloats keeps attributes as JSON and decodes them without
// UseNumber: every number comes back a float64.
type jsonFloats struct{ scim.Store }

func viaJSON(res *scim.Resource) *scim.Resource {
	if res == nil {
		return nil
	}
	c := res.Clone()
	b, err := json.Marshal(c.Attributes)
	if err != nil {
		panic(err)
	}
	c.Attributes = nil
	if err := json.Unmarshal(b, &c.Attributes); err != nil {
		panic(err)
	}
	return c
}

func (s jsonFloats) Create(ctx context.Context, res *scim.Resource) (*scim.Resource, error) {
	return s.Store.Create(ctx, viaJSON(res))
}

func (s jsonFloats) Replace(ctx context.Context, res *scim.Resource, v string) (*scim.Resource, error) {
	return s.Store.Replace(ctx, viaJSON(res), v)
}

// totalAfterPaging counts the page, not the matches.
type totalAfterPaging struct{ scim.Store }

func (s totalAfterPaging) Query(ctx context.Context, typ string, q scim.Query) (*scim.Page, error) {
	p, err := s.Store.Query(ctx, typ, q)
	if p != nil {
		p.TotalResults = len(p.Resources)
	}
	return p, err
}

// unstableOrder returns the matches in a new order on every call when no
// sort order is asked for.
type unstableOrder struct {
	scim.Store
	mu  sync.Mutex
	rng *rand.Rand
}

func (s *unstableOrder) Query(ctx context.Context, typ string, q scim.Query) (*scim.Page, error) {
	if q.SortBy != nil {
		return s.Store.Query(ctx, typ, q)
	}
	all := q
	all.StartIndex, all.Count = 1, allCount
	p, err := s.Store.Query(ctx, typ, all)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.rng == nil {
		s.rng = rand.New(rand.NewSource(1))
	}
	s.rng.Shuffle(len(p.Resources), func(i, j int) { p.Resources[i], p.Resources[j] = p.Resources[j], p.Resources[i] })
	s.mu.Unlock()
	start := min(max(q.StartIndex-1, 0), len(p.Resources))
	p.Resources = p.Resources[start:min(start+max(q.Count, 0), len(p.Resources))]
	return p, nil
}

// sortCaseExact sorts every string case-sensitively.
type sortCaseExact struct{ scim.Store }

func (s sortCaseExact) Query(ctx context.Context, typ string, q scim.Query) (*scim.Page, error) {
	if q.SortBy != nil {
		by := *q.SortBy
		by.CaseExact = true
		q.SortBy = &by
	}
	return s.Store.Query(ctx, typ, q)
}

// aliasing hands every caller the same *Resource for a resource version,
// so that what one caller changes, the next one reads.
type aliasing struct {
	scim.Store
	mu    sync.Mutex
	cache map[string]*scim.Resource
}

func newAliasing(s scim.Store) *aliasing {
	return &aliasing{Store: s, cache: map[string]*scim.Resource{}}
}

func (s *aliasing) shared(ctx context.Context, r *scim.Resource) *scim.Resource {
	if r == nil {
		return nil
	}
	k := scim.TenantFrom(ctx) + "\x00" + r.Type + "\x00" + r.ID + "\x00" + r.Meta.Version
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.cache[k]; ok {
		return c
	}
	s.cache[k] = r
	return r
}

func (s *aliasing) Create(ctx context.Context, res *scim.Resource) (*scim.Resource, error) {
	r, err := s.Store.Create(ctx, res)
	return s.shared(ctx, r), err
}

func (s *aliasing) Get(ctx context.Context, typ, id string) (*scim.Resource, error) {
	r, err := s.Store.Get(ctx, typ, id)
	return s.shared(ctx, r), err
}

func (s *aliasing) Replace(ctx context.Context, res *scim.Resource, v string) (*scim.Resource, error) {
	r, err := s.Store.Replace(ctx, res, v)
	return s.shared(ctx, r), err
}

func (s *aliasing) Query(ctx context.Context, typ string, q scim.Query) (*scim.Page, error) {
	p, err := s.Store.Query(ctx, typ, q)
	if p != nil {
		for i, r := range p.Resources {
			p.Resources[i] = s.shared(ctx, r)
		}
	}
	return p, err
}

// noGroups never fills a User's computed groups.
type noGroups struct{ scim.Store }

func dropGroups(r *scim.Resource) *scim.Resource {
	if r != nil {
		delete(r.Attributes, "groups")
	}
	return r
}

func (s noGroups) Get(ctx context.Context, typ, id string) (*scim.Resource, error) {
	r, err := s.Store.Get(ctx, typ, id)
	return dropGroups(r), err
}

func (s noGroups) Query(ctx context.Context, typ string, q scim.Query) (*scim.Page, error) {
	p, err := s.Store.Query(ctx, typ, q)
	if p != nil {
		for _, r := range p.Resources {
			dropGroups(r)
		}
	}
	return p, err
}

// ignoresTenant keeps every tenant's data in one.
type ignoresTenant struct{ scim.Store }

func oneTenant(ctx context.Context) context.Context {
	p, _ := scim.PrincipalFrom(ctx)
	p.Tenant = ""
	return scim.WithPrincipal(ctx, p)
}

func (s ignoresTenant) Create(ctx context.Context, res *scim.Resource) (*scim.Resource, error) {
	return s.Store.Create(oneTenant(ctx), res)
}

func (s ignoresTenant) Get(ctx context.Context, typ, id string) (*scim.Resource, error) {
	return s.Store.Get(oneTenant(ctx), typ, id)
}

func (s ignoresTenant) Replace(ctx context.Context, res *scim.Resource, v string) (*scim.Resource, error) {
	return s.Store.Replace(oneTenant(ctx), res, v)
}

func (s ignoresTenant) Delete(ctx context.Context, typ, id, v string) error {
	return s.Store.Delete(oneTenant(ctx), typ, id, v)
}

func (s ignoresTenant) Query(ctx context.Context, typ string, q scim.Query) (*scim.Page, error) {
	return s.Store.Query(oneTenant(ctx), typ, q)
}

// ignoresContext works on whatever the state of the context.
type ignoresContext struct{ scim.Store }

func detach(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

func (s ignoresContext) Create(ctx context.Context, res *scim.Resource) (*scim.Resource, error) {
	return s.Store.Create(detach(ctx), res)
}

func (s ignoresContext) Get(ctx context.Context, typ, id string) (*scim.Resource, error) {
	return s.Store.Get(detach(ctx), typ, id)
}

func (s ignoresContext) Replace(ctx context.Context, res *scim.Resource, v string) (*scim.Resource, error) {
	return s.Store.Replace(detach(ctx), res, v)
}

func (s ignoresContext) Delete(ctx context.Context, typ, id, v string) error {
	return s.Store.Delete(detach(ctx), typ, id, v)
}

func (s ignoresContext) Query(ctx context.Context, typ string, q scim.Query) (*scim.Page, error) {
	return s.Store.Query(detach(ctx), typ, q)
}

// patchIgnoresVersion has the MembershipPatcher capability, but applies
// every change whatever the stored version.
type patchIgnoresVersion struct{ *memstore.Store }

func (s patchIgnoresVersion) PatchMembers(ctx context.Context, typ, id string, c scim.MembershipChange, _ string) (scim.MembershipResult, error) {
	return s.Store.PatchMembers(ctx, typ, id, c, "")
}

// patchNoDisplayName does not report the Group's displayName.
type patchNoDisplayName struct{ *memstore.Store }

func (s patchNoDisplayName) PatchMembers(ctx context.Context, typ, id string, c scim.MembershipChange, v string) (scim.MembershipResult, error) {
	res, err := s.Store.PatchMembers(ctx, typ, id, c, v)
	res.DisplayName = ""
	return res, err
}

// patchStaleDisplayName reports the displayName each Group had when it
// first changed its members: a cache that a rename does not refresh.
type patchStaleDisplayName struct {
	*memstore.Store
	mu    sync.Mutex
	names map[string]string
}

func (s *patchStaleDisplayName) PatchMembers(ctx context.Context, typ, id string, c scim.MembershipChange, v string) (scim.MembershipResult, error) {
	res, err := s.Store.PatchMembers(ctx, typ, id, c, v)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.names == nil {
		s.names = map[string]string{}
	}
	if name, ok := s.names[id]; ok {
		res.DisplayName = name
	} else {
		s.names[id] = res.DisplayName
	}
	return res, err
}

// viewWithoutGroups lends Users without their computed groups.
type viewWithoutGroups struct{ *memstore.Store }

func (s viewWithoutGroups) View(ctx context.Context, typ string, q scim.Query, fn func(*scim.Page) error) error {
	return s.Store.View(ctx, typ, q, func(p *scim.Page) error {
		for i, r := range p.Resources {
			c := *r
			c.Attributes = maps.Clone(r.Attributes)
			delete(c.Attributes, "groups")
			p.Resources[i] = &c
		}
		return fn(p)
	})
}

// viewSwallowsError drops the error fn returns.
type viewSwallowsError struct{ *memstore.Store }

func (s viewSwallowsError) View(ctx context.Context, typ string, q scim.Query, fn func(*scim.Page) error) error {
	return s.Store.View(ctx, typ, q, func(p *scim.Page) error { _ = fn(p); return nil })
}

// viewCallsOnError calls fn with an empty page when the query fails.
type viewCallsOnError struct{ *memstore.Store }

func (s viewCallsOnError) View(ctx context.Context, typ string, q scim.Query, fn func(*scim.Page) error) error {
	if err := s.Store.View(ctx, typ, q, fn); err != nil {
		_ = fn(&scim.Page{})
		return err
	}
	return nil
}
