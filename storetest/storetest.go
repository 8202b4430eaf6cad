// Package storetest is the conformance kit for scim.Store implementations:
// one call runs every check of the Store contract against a store.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) scim.Store {
//			return mystore.New() // a fresh, empty store for each check
//		})
//	}
//
// Each check is a subtest named "Group/Check", for example
// "CRUD/ReplaceVersionMismatch" or "Query/LogicalOperators", so that
// go test -run 'TestConformance/Query/' selects a group and a failure names
// the contract it is about. A failure says what the contract requires and
// what the store did.
//
// The checks drive the store directly, as the Handler does: resources
// carry canonical attribute names and values of the JSON kinds, the unique
// keys the handler computes (userName folded to lower case), and the ID and
// times the handler sets; filters are the parsed form (scim.CompareExpr and
// friends) with the attribute characteristics of the core User, Group and
// Enterprise User schemas and of an extension the kit defines with an
// attribute of every type. The groups are:
//
//   - CRUD: round trips of every attribute type, copies in and out at
//     every nesting level (Users, Groups, members, PatchMembers' values),
//     versions (a new one on every Replace, also of the stored attributes
//     and LastModified), compare-and-swap on Replace and Delete, not found,
//     resource types kept apart.
//   - Uniqueness: unique keys enforced per type and tenant, exactly as
//     handed over (userName folded by scim.FoldCase, also for ı, ſ, ς and
//     the Kelvin sign; white space and composition count), keys freed by
//     Delete and by a Replace that changes or drops them.
//   - Query: every filter operator on every attribute type, case rules, pr
//     and null on missing and empty values, value paths, and/or/not,
//     extension and meta attributes, dateTimes that differ by less than a
//     millisecond, projection hints. The store's answers
//     are compared with scim.Matches over a generated population of a few
//     hundred resources (see Population), so a store that translates
//     filters to its own query language is checked against the reference.
//   - Sort and Paging: every sortable type in both directions, missing
//     values and case rules as scim.Compare orders them; totalResults
//     before paging, count 0, startIndex past the end, a stable order that
//     lets paging see every resource once.
//   - Keyset: cursor paging (Query.Keyset, After, Page.Next) in every
//     order, ties and missing values included; a position the store did not
//     hand out is scim.ErrInvalidCursor; paging while Users are created and
//     deleted sees every User that exists throughout exactly once.
//   - Membership: the computed "groups" of a User after every kind of
//     change and under projection hints, member changes through Replace,
//     deleting a User or a (nested) Group with ids matched case-exactly
//     and a new version and LastModified for each Group changed, members
//     that must exist (no User or Group of the tenant: a
//     *scim.MemberNotFoundError, after the version check).
//   - MembershipPatcher: the optional scim.MembershipPatcher capability
//     (the ids it reports, versions, concurrency, the displayName it
//     reports for the handler's membership hooks);
//     skipped, with a message saying so, when the store does not have it.
//   - Viewer: the optional scim.Viewer capability: the page View lends is
//     the page Query returns, fn's error is View's, and a failing query
//     never calls fn; skipped like MembershipPatcher.
//   - Changes: the optional scim.ChangeFeed capability: every write kind
//     recorded once, as scim.ChangeFor describes it, cascades included;
//     failed and no-op writes record nothing; a change is readable only
//     with its write; tenants apart; no change skipped or repeated by a
//     reader tailing the feed while 64 writers commit; WaitChanges wakes;
//     positions, Head and Limit; retention and scim.ErrPositionExpired
//     (with WithRetention). Skipped like MembershipPatcher.
//   - Concurrency: read-modify-write with compare-and-swap loses no update,
//     one winner among concurrent creates of one userName, consistent
//     indexes after concurrent creates, renames and deletes, no dangling
//     member when a member is added while it is deleted.
//   - Tenancy: tenants (scim.TenantFrom) never see each other's data and
//     may hold the same id and userName; uniqueness on Create and Replace,
//     cascades, groups and member checks stay in their tenant.
//   - Context: a cancelled or expired context makes every method return
//     promptly with the context's error, without writing.
//
// Every check gets a new store from newStore, which may register cleanup
// with t.Cleanup. The checks do not run in parallel with each other, but
// many of them call the store from several goroutines. The whole kit makes
// a few thousand store calls.
//
// Where store.go leaves room, the kit holds a store to this:
//
//   - Times the kit hands over have microsecond precision and must come
//     back as the same instant; dateTime attribute values are strings and
//     must come back unchanged. Integers must come back as int64 with their
//     exact value (the kit uses values beyond 2^53); a decimal may come back
//     as an int64 when its value is whole. The order of a multi-valued
//     attribute is kept, except for a Group's members and a User's groups,
//     which the kit compares as sets.
//   - A store keeps any resource type and any extension URN it is handed
//     (the kit uses a type "Device" and an extension of its own), and
//     attribute values that are null, "", [] or {}.
//   - Replace keeps the stored Meta.Created whatever the replacement
//     carries. A Group whose members a Delete changes gets a new
//     Meta.Version: the version changes on every write, and otherwise a
//     read-modify-write that read the Group before the Delete could put the
//     deleted member back.
//   - Users carry their computed "groups" wherever a store returns them:
//     Get, Replace and Query (without a projection hint that
//     leaves groups out).
//   - Resources that tie on the sort attribute come in the same order on
//     every call, so that paging a sorted list sees each resource once.
//   - A call that returns the context's error has not written.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/scimkit/scim"
)

// Run runs every check of the kit against stores made by newStore, each as
// a subtest, with a new store for each check. Checks of an optional
// capability the store does not implement are skipped.
func Run(t *testing.T, newStore func(t *testing.T) scim.Store, opts ...Option) {
	t.Helper()
	if newStore == nil {
		t.Fatal("storetest.Run needs a function that returns a new store")
	}
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	for _, g := range groupOrder {
		t.Run(g, func(t *testing.T) {
			for _, c := range allChecks {
				if c.group != g {
					continue
				}
				t.Run(c.name, func(t *testing.T) {
					s := newStore(t)
					if s == nil {
						t.Fatal("newStore returned a nil scim.Store")
					}
					var newRetained func(scim.Retention) scim.Store
					if cfg.newRetained != nil {
						newRetained = func(r scim.Retention) scim.Store { return cfg.newRetained(t, r) }
					}
					c.exec(t, s, newRetained)
				})
			}
		})
	}
}

// check is one named check of the contract.
type check struct {
	group, name string
	// needs, when set, reports whether the store has the optional
	// capability the check is about, and if not why it is skipped.
	needs func(s scim.Store) (ok bool, why string)
	run   func(t testing.TB, s scim.Store)
	// retained, instead of run, is a check of a store's retention: it
	// makes its own stores with newRetained (see WithRetention). Without
	// that option it is skipped.
	retained func(t testing.TB, newRetained func(scim.Retention) scim.Store)
}

// id is the check's subtest path below Run's test: "Group/Name".
func (c check) id() string { return c.group + "/" + c.name }

// exec runs the check, or skips it when the store lacks its capability.
func (c check) exec(t testing.TB, s scim.Store, newRetained func(scim.Retention) scim.Store) {
	if c.needs != nil {
		if ok, why := c.needs(s); !ok {
			t.Skip(why)
		}
	}
	if c.retained == nil {
		c.run(t, s)
		return
	}
	if newRetained == nil {
		t.Skip("the store's retention is not checked: pass storetest.WithRetention to Run")
	}
	c.retained(t, newRetained)
}

// config is what Run's options set.
type config struct {
	newRetained func(t *testing.T, r scim.Retention) scim.Store
}

// Option configures Run.
type Option func(*config)

// WithRetention lets the Changes/Retention check make stores whose change
// feed keeps at most r.MaxCount changes (and changes at most r.MaxAge
// old): the check writes a few times MaxCount changes and expects the
// oldest position to be scim.ErrPositionExpired within a few seconds.
func WithRetention(newStore func(t *testing.T, r scim.Retention) scim.Store) Option {
	return func(c *config) { c.newRetained = newStore }
}

// groupOrder is the order Run runs the groups in.
var groupOrder = []string{
	"CRUD", "Uniqueness", "Query", "Sort", "Paging", "Keyset", "Membership",
	"MembershipPatcher", "Viewer", "Changes", "Concurrency", "Tenancy", "Context",
}

// allChecks lists every check; each file of the package contributes its
// group's.
var allChecks = concatChecks(
	crudChecks, uniquenessChecks, queryChecks, sortChecks, pagingChecks, keysetChecks,
	membershipChecks, patcherChecks, viewerChecks, changeChecks, concurrencyChecks, tenancyChecks,
	contextChecks,
)

func concatChecks(lists ...[]check) []check {
	var out []check
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// The tenants the checks work in; most checks use tenantA.
const (
	tenantA = "storetest-a"
	tenantB = "storetest-b"
)

// tenantCtx returns a context whose caller writes to tenant.
func tenantCtx(tenant string) context.Context {
	return scim.WithPrincipal(context.Background(), scim.Principal{ID: "storetest", Tenant: tenant})
}

// ctxA is the context of most checks.
func ctxA() context.Context { return tenantCtx(tenantA) }

// errText describes an error a store returned, for failure messages.
func errText(err error) string {
	if err == nil {
		return "nil"
	}
	return fmt.Sprintf("%q", err.Error())
}

// mustCreate creates res and fails the check if the store refuses.
func mustCreate(t testing.TB, s scim.Store, ctx context.Context, res *scim.Resource) *scim.Resource {
	t.Helper()
	got, err := s.Create(ctx, res.Clone())
	if err != nil {
		t.Fatalf("Create of a valid new %s %q must succeed; the store returned %s", res.Type, res.ID, errText(err))
	}
	if got == nil {
		t.Fatalf("Create must return the stored resource; the store returned nil for %s %q", res.Type, res.ID)
	}
	if got.Meta.Version == "" {
		t.Fatalf("Create must assign a Meta.Version; the store returned %s %q with an empty version", res.Type, res.ID)
	}
	return got
}

// mustGet gets a resource that must exist.
func mustGet(t testing.TB, s scim.Store, ctx context.Context, typ, id, why string) *scim.Resource {
	t.Helper()
	got, err := s.Get(ctx, typ, id)
	if err != nil {
		t.Fatalf("Get %s %q must succeed (%s); the store returned %s", typ, id, why, errText(err))
	}
	if got == nil {
		t.Fatalf("Get %s %q must return the resource (%s); the store returned nil and no error", typ, id, why)
	}
	return got
}

// mustReplace replaces a resource that must exist at expected.
func mustReplace(t testing.TB, s scim.Store, ctx context.Context, res *scim.Resource, expected, why string) *scim.Resource {
	t.Helper()
	got, err := s.Replace(ctx, res.Clone(), expected)
	if err != nil {
		t.Fatalf("Replace of %s %q at version %q must succeed (%s); the store returned %s", res.Type, res.ID, expected, why, errText(err))
	}
	if got == nil {
		t.Fatalf("Replace must return the stored resource; the store returned nil for %s %q", res.Type, res.ID)
	}
	return got
}

// mustQuery runs a query that must succeed.
func mustQuery(t testing.TB, s scim.Store, ctx context.Context, typ string, q scim.Query) *scim.Page {
	t.Helper()
	page, err := s.Query(ctx, typ, q)
	if err != nil {
		t.Fatalf("Query %s %s must succeed; the store returned %s", typ, describeQuery(q), errText(err))
	}
	if page == nil {
		t.Fatalf("Query %s %s must return a page; the store returned nil and no error", typ, describeQuery(q))
	}
	return page
}

// queryAll returns every match of f, in the store's order.
func queryAll(t testing.TB, s scim.Store, ctx context.Context, typ string, f scim.Filter) *scim.Page {
	t.Helper()
	return mustQuery(t, s, ctx, typ, scim.Query{Filter: f, StartIndex: 1, Count: allCount})
}

// allCount is a page size larger than any population of the kit.
const allCount = 100000

// expectNotFound fails unless Get reports the resource missing.
func expectNotFound(t testing.TB, s scim.Store, ctx context.Context, typ, id, why string) {
	t.Helper()
	got, err := s.Get(ctx, typ, id)
	if !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("Get %s %q must fail with scim.ErrNotFound (%s); the store returned error %s and resource %v", typ, id, why, errText(err), describeResource(got))
	}
}

// describeResource names a resource in a failure message.
func describeResource(r *scim.Resource) string {
	if r == nil {
		return "nil"
	}
	s := fmt.Sprintf("%s %q (version %q", r.Type, r.ID, r.Meta.Version)
	if un, ok := r.Attributes["userName"].(string); ok {
		s += fmt.Sprintf(", userName %q", un)
	}
	return s + ")"
}

// ids lists the IDs of rs.
func ids(rs []*scim.Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		if r != nil {
			out[i] = r.ID
		}
	}
	return out
}
