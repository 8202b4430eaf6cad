package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scimkit/scim"
)

var tenancyChecks = []check{
	{group: "Tenancy", name: "Isolation", run: checkTenantIsolation},
	{group: "Tenancy", name: "SameUserNameInTwoTenants", run: checkTenantUserNames},
	{group: "Tenancy", name: "MembershipsStayInTheirTenant", run: checkTenantMemberships},
	{group: "Tenancy", name: "SameIDInTwoTenants", run: checkTenantSameID},
	{group: "Tenancy", name: "ReplaceUniquenessPerTenant", run: checkTenantReplaceUnique},
	{group: "Tenancy", name: "MembersMustExistInTheTenant", run: checkTenantMemberIntegrity},
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

func checkTenantSameID(t testing.TB, s scim.Store) {
	a, b := ctxA(), tenantCtx(tenantB)
	ua := mustCreate(t, s, a, simpleUser("Shared-U", "shared.in.a"))
	ub, err := s.Create(b, simpleUser("Shared-U", "shared.in.b"))
	if err != nil {
		t.Fatalf("ids are per tenant: a User with the id of a User in another tenant must be stored (%s); Create in %s returned %s", tenantRule, tenantB, errText(err))
	}
	mustCreate(t, s, a, newGroup("Shared-G", "Group A", "Shared-U"))
	mustCreate(t, s, b, newGroup("Shared-G", "Group B", "Shared-U"))

	for _, c := range []struct {
		ctx      context.Context
		tenant   string
		userName string
		group    string
	}{{a, tenantA, "shared.in.a", "Group A"}, {b, tenantB, "shared.in.b", "Group B"}} {
		got := mustGet(t, s, c.ctx, userType, "Shared-U", "it exists in the tenant")
		if got.Attributes["userName"] != c.userName {
			t.Errorf("Get of User Shared-U in tenant %s must return that tenant's User (%s); the store returned userName %s", c.tenant, tenantRule, showValue(got.Attributes["userName"]))
		}
		expectGroups(t, s, c.ctx, "Shared-U", map[string]string{"Shared-G": c.group}, "each tenant made a Group Shared-G holding its User Shared-U")
	}
	// Writes in one tenant leave the other's resource of the same id alone.
	mustReplace(t, s, a, withAttrs(ua, map[string]any{"userName": "shared.in.a", "title": "A only"}, t0.Add(time.Minute)), ua.Meta.Version, "it is the current version")
	if got := mustGet(t, s, b, userType, "Shared-U", "it exists"); got.Attributes["title"] != nil || got.Meta.Version != ub.Meta.Version {
		t.Errorf("a Replace in tenant %s must not touch the User with the same id in %s (%s); it now has title %s at version %q", tenantA, tenantB, tenantRule, showValue(got.Attributes["title"]), got.Meta.Version)
	}
	if err := s.Delete(a, userType, "Shared-U", ""); err != nil {
		t.Fatalf("Delete of an existing User must succeed; the store returned %s", errText(err))
	}
	mustGet(t, s, b, userType, "Shared-U", "a User with the same id was deleted in another tenant ("+tenantRule+")")
	expectMembers(t, s, b, "Shared-G", []string{"Shared-U"}, "a User with the same id was deleted in another tenant ("+tenantRule+")")
	expectMembers(t, s, a, "Shared-G", nil, "its member was deleted")
	if err := s.Delete(a, groupType, "Shared-G", ""); err != nil {
		t.Fatalf("Delete of an existing Group must succeed; the store returned %s", errText(err))
	}
	expectGroups(t, s, b, "Shared-U", map[string]string{"Shared-G": "Group B"}, "a Group with the same id was deleted in another tenant ("+tenantRule+")")
}

func checkTenantReplaceUnique(t testing.TB, s scim.Store) {
	a, b := ctxA(), tenantCtx(tenantB)
	mustCreate(t, s, a, simpleUser("RU-A", "alice"))
	ub := mustCreate(t, s, b, simpleUser("RU-B", "bob"))
	got, err := s.Replace(b, withAttrs(ub, map[string]any{"userName": "Alice"}, t0.Add(time.Minute)), ub.Meta.Version)
	if err != nil {
		t.Errorf("unique keys hold within a tenant, on Replace as on Create: renaming a User of %s to a userName only %s holds must succeed; the store returned %s and %s", tenantB, tenantA, errText(err), describeResource(got))
	}
}

func checkTenantMemberIntegrity(t testing.TB, s scim.Store) {
	a, b := ctxA(), tenantCtx(tenantB)
	mustCreate(t, s, a, simpleUser("TI-user", "ti.user"))
	mustCreate(t, s, a, newGroup("TI-group", "A's group"))
	for _, id := range []string{"TI-user", "TI-group"} {
		got, err := s.Create(b, newGroup("TI-b-"+id, "B's group", id))
		if !isMemberNotFound(id)(err) {
			t.Errorf("a Group's members must be Users or Groups of its own tenant (%s): Create in %s of a Group holding %q, which exists only in %s, must fail with a *scim.MemberNotFoundError; the store returned %s and %s", tenantRule, tenantB, id, tenantA, errText(err), describeResource(got))
		}
	}
}
