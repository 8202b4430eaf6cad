package storetest

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/scimkit/scim"
)

var membershipChecks = []check{
	{group: "Membership", name: "GroupsOfUser", run: checkGroupsOfUser},
	{group: "Membership", name: "MemberChangesByReplace", run: checkMemberChangesByReplace},
	{group: "Membership", name: "DeleteUserRemovesMemberships", run: checkDeleteUserRemovesMemberships},
	{group: "Membership", name: "DeleteGroupRemovesGroupsOfUser", run: checkDeleteGroup},
	{group: "Membership", name: "RenamedGroupDisplay", run: checkRenamedGroup},
}

// expectGroups fails unless the User id, read with Get and with Query,
// carries exactly the groups want (group id → displayName).
func expectGroups(t testing.TB, s scim.Store, ctx context.Context, id string, want map[string]string, after string) {
	t.Helper()
	u := mustGet(t, s, ctx, userType, id, "it exists")
	compareGroups(t, "Get", u, want, after)
	page := queryAll(t, s, ctx, userType, cmp(pID, scim.OpEqual, id))
	if len(page.Resources) != 1 {
		t.Errorf("Query id eq %q must find the User; the store returned %d resources", id, len(page.Resources))
		return
	}
	compareGroups(t, "Query", page.Resources[0], want, after)
}

func compareGroups(t testing.TB, op string, u *scim.Resource, want map[string]string, after string) {
	t.Helper()
	got := groupValues(u)
	var gotIDs, wantIDs []string
	for id := range got {
		gotIDs = append(gotIDs, id)
	}
	for id := range want {
		wantIDs = append(wantIDs, id)
	}
	sort.Strings(gotIDs)
	sort.Strings(wantIDs)
	if !equalStrings(gotIDs, wantIDs) {
		t.Errorf("a User a store returns carries in \"groups\" one value per Group whose members hold its id; after %s, %s of User %q must list groups %q; the store listed %q (groups %s)",
			after, op, u.ID, wantIDs, gotIDs, showValue(u.Attributes["groups"]))
		return
	}
	for id, name := range want {
		g := got[id]
		if g["type"] != "direct" {
			t.Errorf("each value of a User's \"groups\" has type \"direct\"; %s of User %q returned %s for group %q", op, u.ID, showValue(g["type"]), id)
		}
		if name != "" && g["display"] != name {
			t.Errorf("each value of a User's \"groups\" has the Group's displayName as display; after %s, %s of User %q returned %s for group %q, not %q", after, op, u.ID, showValue(g["display"]), id, name)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// expectMembers fails unless the Group holds exactly the members want, in
// any order.
func expectMembers(t testing.TB, s scim.Store, ctx context.Context, gid string, want []string, after string) *scim.Resource {
	t.Helper()
	g := mustGet(t, s, ctx, groupType, gid, "it exists")
	got := memberIDs(g)
	sort.Strings(got)
	w := append([]string(nil), want...)
	sort.Strings(w)
	if !equalStrings(got, w) {
		t.Errorf("after %s, Group %q must have members %q; the store holds %q", after, gid, w, got)
	}
	return g
}

// membershipFixture creates three Users and two Groups: Admins holds u1
// and u2, Staff holds u1.
func membershipFixture(t testing.TB, s scim.Store, ctx context.Context) {
	t.Helper()
	for _, id := range []string{"M-u1", "M-u2", "M-u3"} {
		mustCreate(t, s, ctx, simpleUser(id, "member."+id))
	}
	mustCreate(t, s, ctx, newGroup("M-admins", "Admins", "M-u1", "M-u2"))
	mustCreate(t, s, ctx, newGroup("M-staff", "Staff", "M-u1"))
}

func checkGroupsOfUser(t testing.TB, s scim.Store) {
	ctx := ctxA()
	membershipFixture(t, s, ctx)
	expectGroups(t, s, ctx, "M-u1", map[string]string{"M-admins": "Admins", "M-staff": "Staff"}, "the Groups were created")
	expectGroups(t, s, ctx, "M-u2", map[string]string{"M-admins": "Admins"}, "the Groups were created")
	expectGroups(t, s, ctx, "M-u3", map[string]string{}, "the Groups were created")
	// Replace returns the stored User: with its groups.
	u := mustGet(t, s, ctx, userType, "M-u1", "it exists")
	repl := withAttrs(u, map[string]any{"userName": "member.M-u1", "title": "replaced"}, t0.Add(time.Minute))
	delete(repl.Attributes, "groups")
	compareGroups(t, "Replace", mustReplace(t, s, ctx, repl, u.Meta.Version, "it is the current version"),
		map[string]string{"M-admins": "Admins", "M-staff": "Staff"}, "a Replace of the User")
}

func checkMemberChangesByReplace(t testing.TB, s scim.Store) {
	ctx := ctxA()
	membershipFixture(t, s, ctx)
	setMembers := func(ids []string, when time.Duration) {
		t.Helper()
		g := mustGet(t, s, ctx, groupType, "M-admins", "it exists")
		ms := make([]any, len(ids))
		for i, id := range ids {
			ms[i] = member(id)
		}
		mustReplace(t, s, ctx, withAttrs(g, map[string]any{"displayName": "Admins", "members": ms}, t0.Add(when)), g.Meta.Version, "it is the current version")
	}
	setMembers([]string{"M-u1", "M-u2", "M-u3"}, time.Minute)
	expectGroups(t, s, ctx, "M-u3", map[string]string{"M-admins": "Admins"}, "a Replace added the User to Admins")
	setMembers([]string{"M-u1", "M-u3"}, 2*time.Minute)
	expectGroups(t, s, ctx, "M-u2", map[string]string{}, "a Replace removed the User from Admins")
	setMembers([]string{"M-u2"}, 3*time.Minute)
	expectGroups(t, s, ctx, "M-u1", map[string]string{"M-staff": "Staff"}, "a Replace set Admins' members to another User")
	expectGroups(t, s, ctx, "M-u2", map[string]string{"M-admins": "Admins"}, "a Replace set Admins' members to this User")
	expectGroups(t, s, ctx, "M-u3", map[string]string{}, "a Replace set Admins' members to another User")
	setMembers(nil, 4*time.Minute)
	expectGroups(t, s, ctx, "M-u2", map[string]string{}, "a Replace left Admins without members")
}

func checkDeleteUserRemovesMemberships(t testing.TB, s scim.Store) {
	ctx := ctxA()
	membershipFixture(t, s, ctx)
	before := map[string]string{}
	for _, gid := range []string{"M-admins", "M-staff"} {
		before[gid] = mustGet(t, s, ctx, groupType, gid, "it exists").Meta.Version
	}
	if err := s.Delete(ctx, userType, "M-u1", ""); err != nil {
		t.Fatalf("Delete of an existing User must succeed; the store returned %s", errText(err))
	}
	admins := expectMembers(t, s, ctx, "M-admins", []string{"M-u2"}, "its member M-u1 was deleted (deleting a User removes it from every Group's members)")
	staff := expectMembers(t, s, ctx, "M-staff", nil, "its only member M-u1 was deleted (deleting a User removes it from every Group's members)")
	for _, g := range []*scim.Resource{admins, staff} {
		if g.Meta.Version == before[g.ID] {
			t.Errorf("a Group whose members a Delete changed must get a new Meta.Version (the version changes on every write; with the old one a read-modify-write that read the Group before the Delete would put the deleted member back); Group %q kept %q", g.ID, g.Meta.Version)
		}
	}
	if admins != nil {
		list, _ := admins.Attributes["members"].([]any)
		for _, m := range list {
			if mm, ok := m.(map[string]any); ok && mm["value"] == "M-u2" && mm["type"] != "User" {
				t.Errorf("the members a Delete keeps must keep their values; M-u2 now has type %s", showValue(mm["type"]))
			}
		}
		if admins.Attributes["displayName"] != "Admins" {
			t.Errorf("removing a deleted member must keep the Group's other attributes; displayName is now %s", showValue(admins.Attributes["displayName"]))
		}
	}
	expectGroups(t, s, ctx, "M-u2", map[string]string{"M-admins": "Admins"}, "another member of its group was deleted")
}

func checkDeleteGroup(t testing.TB, s scim.Store) {
	ctx := ctxA()
	membershipFixture(t, s, ctx)
	if err := s.Delete(ctx, groupType, "M-admins", ""); err != nil {
		t.Fatalf("Delete of an existing Group must succeed; the store returned %s", errText(err))
	}
	expectGroups(t, s, ctx, "M-u1", map[string]string{"M-staff": "Staff"}, "one of its Groups was deleted")
	expectGroups(t, s, ctx, "M-u2", map[string]string{}, "its only Group was deleted")
	page := queryAll(t, s, ctx, userType, cmp(pGroupsValue, scim.OpEqual, "M-admins"))
	if len(page.Resources) != 0 {
		t.Errorf("after the Group was deleted, no User is in it: Query groups.value eq \"M-admins\" must return nothing; the store returned %s", listIDs(ids(page.Resources)))
	}
}

func checkRenamedGroup(t testing.TB, s scim.Store) {
	ctx := ctxA()
	membershipFixture(t, s, ctx)
	g := mustGet(t, s, ctx, groupType, "M-admins", "it exists")
	attrs := g.Clone().Attributes
	attrs["displayName"] = "Administrators"
	mustReplace(t, s, ctx, withAttrs(g, attrs, t0.Add(time.Minute)), g.Meta.Version, "it is the current version")
	expectGroups(t, s, ctx, "M-u1", map[string]string{"M-admins": "Administrators", "M-staff": "Staff"}, "the Group was renamed")
	page := queryAll(t, s, ctx, userType, cmp(pGroupsDisplay, scim.OpEqual, "administrators"))
	if got := sortedIDs(ids(page.Resources)); !equalStrings(got, []string{"M-u1", "M-u2"}) {
		t.Errorf("Users filter on their computed groups: groups.display eq \"administrators\" must return M-u1 and M-u2 after the rename; the store returned %q", got)
	}
}
