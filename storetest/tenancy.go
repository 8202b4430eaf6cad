package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/scimkit/scim"
)

var tenancyChecks = []check{
	{group: "Tenancy", name: "Isolation", run: checkTenantIsolation},
	{group: "Tenancy", name: "SameUserNameInTwoTenants", run: checkTenantUserNames},
	{group: "Tenancy", name: "MembershipsStayInTheirTenant", run: checkTenantMemberships},
}

const tenantRule = "every Store method works only inside the tenant of its context (scim.TenantFrom); the empty tenant of a context without a Principal is one more tenant"

func checkTenantIsolation(t testing.TB, s scim.Store) {
	a, b, none := ctxA(), tenantCtx(tenantB), tenantCtx("")
	ua := simpleUser("Tenant-A1", "tenant.a")
	u0 := simpleUser("Tenant-01", "tenant.none")
	ca := mustCreate(t, s, a, ua)
	mustCreate(t, s, a, newGroup("Tenant-GA", "A's group", ua.ID))
	mustCreate(t, s, none, u0)

	expectNotFound(t, s, b, userType, ua.ID, "the User belongs to another tenant; "+tenantRule)
	expectNotFound(t, s, none, userType, ua.ID, "the User belongs to tenant "+tenantA+", not the empty tenant; "+tenantRule)
	expectNotFound(t, s, a, userType, u0.ID, "the User belongs to the empty tenant; "+tenantRule)
	for _, typ := range []string{userType, groupType} {
		page := queryAll(t, s, b, typ, nil)
		if len(page.Resources) != 0 || page.TotalResults != 0 {
			t.Errorf("Query %s in a tenant with no resources must return none (%s); the store returned %s, totalResults %d", typ, tenantRule, listIDs(ids(page.Resources)), page.TotalResults)
		}
	}
	page := queryAll(t, s, a, userType, nil)
	if got := ids(page.Resources); len(got) != 1 || got[0] != ua.ID || page.TotalResults != 1 {
		t.Errorf("Query User in tenant %s must return its one User %q (%s); the store returned %s, totalResults %d", tenantA, ua.ID, tenantRule, listIDs(got), page.TotalResults)
	}
	page = queryAll(t, s, b, userType, cmp(pUserName, scim.OpEqual, "tenant.a"))
	if len(page.Resources) != 0 {
		t.Errorf("a filter must not find resources of another tenant (%s); userName eq \"tenant.a\" in tenant %s returned %s", tenantRule, tenantB, listIDs(ids(page.Resources)))
	}

	repl := withAttrs(ua, map[string]any{"userName": "tenant.a", "title": "written from B"}, t0.Add(time.Minute))
	if r, err := s.Replace(b, repl.Clone(), ""); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("Replace from another tenant must fail with scim.ErrNotFound (%s); the store returned %s and %s", tenantRule, errText(err), describeResource(r))
	}
	if err := s.Delete(b, userType, ua.ID, ""); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("Delete from another tenant must fail with scim.ErrNotFound (%s); the store returned %s", tenantRule, errText(err))
	}
	if err := s.Delete(b, userType, ua.ID, ca.Meta.Version); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("Delete from another tenant must fail with scim.ErrNotFound even with the right version (%s); the store returned %s", tenantRule, errText(err))
	}
	got := mustGet(t, s, a, userType, ua.ID, "writes from another tenant must not touch it")
	if got.Meta.Version != ca.Meta.Version || got.Attributes["title"] != nil {
		t.Errorf("writes from another tenant must not touch a resource (%s); it is now at version %q with title %s", tenantRule, got.Meta.Version, showValue(got.Attributes["title"]))
	}
}

func checkTenantUserNames(t testing.TB, s scim.Store) {
	a, b := ctxA(), tenantCtx(tenantB)
	mustCreate(t, s, a, simpleUser("Same-A", "BJensen"))
	if _, err := s.Create(b, simpleUser("Same-B", "bjensen")); err != nil {
		t.Errorf("unique keys hold within a tenant: the same userName must be storable in two tenants; Create in %s returned %s", tenantB, errText(err))
	}
	if _, err := s.Create(tenantCtx(""), simpleUser("Same-0", "bjensen")); err != nil {
		t.Errorf("unique keys hold within a tenant: the same userName must be storable in the empty tenant too; Create returned %s", errText(err))
	}
	if _, err := s.Create(b, simpleUser("Same-B2", "BJENSEN")); !errors.Is(err, scim.ErrUniqueness) {
		t.Errorf("within one tenant userName stays unique: a second bjensen in %s must fail with scim.ErrUniqueness; the store returned %s", tenantB, errText(err))
	}
	for ctx, want := range map[string]string{tenantA: "Same-A", tenantB: "Same-B"} {
		page := queryAll(t, s, tenantCtx(ctx), userType, cmp(pUserName, scim.OpEqual, "bjensen"))
		if got := ids(page.Resources); len(got) != 1 || got[0] != want {
			t.Errorf("userName eq \"bjensen\" in tenant %s must find its own User %q; the store returned %s", ctx, want, listIDs(got))
		}
	}
	// Freeing the name in one tenant does not free it in the other.
	if err := s.Delete(a, userType, "Same-A", ""); err != nil {
		t.Fatalf("Delete of an existing User must succeed; the store returned %s", errText(err))
	}
	if _, err := s.Create(b, simpleUser("Same-B3", "bjensen")); !errors.Is(err, scim.ErrUniqueness) {
		t.Errorf("deleting a User in one tenant must not free its userName in another: a second bjensen in %s must still fail with scim.ErrUniqueness; the store returned %s", tenantB, errText(err))
	}
}

func checkTenantMemberships(t testing.TB, s scim.Store) {
	a, b := ctxA(), tenantCtx(tenantB)
	mustCreate(t, s, a, simpleUser("TM-user", "tm.user"))
	mustCreate(t, s, a, newGroup("TM-ga", "Group in A", "TM-user"))
	// Tenant B has a User with the same id, and a Group that lists it.
	mustCreate(t, s, b, simpleUser("TM-user", "tm.user"))
	gb := mustCreate(t, s, b, newGroup("TM-gb", "Group in B", "TM-user"))
	expectGroups(t, s, a, "TM-user", map[string]string{"TM-ga": "Group in A"}, "a Group of another tenant listed the same id ("+tenantRule+")")
	if err := s.Delete(a, userType, "TM-user", ""); err != nil {
		t.Fatalf("Delete of an existing User must succeed; the store returned %s", errText(err))
	}
	after := expectMembers(t, s, b, "TM-gb", []string{"TM-user"}, "a User with that id was deleted in another tenant ("+tenantRule+")")
	if after != nil && after.Meta.Version != gb.Meta.Version {
		t.Errorf("deleting a User must not touch the Groups of another tenant (%s); Group %q changed version from %q to %q", tenantRule, gb.ID, gb.Meta.Version, after.Meta.Version)
	}
	expectMembers(t, s, a, "TM-ga", nil, "its member was deleted")
}
