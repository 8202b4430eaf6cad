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
	{group: "Membership", name: "DeleteNestedGroup", run: checkDeleteNestedGroup},
	{group: "Membership", name: "CascadeChangesVersionAndTime", run: checkCascadeVersionAndTime},
	{group: "Membership", name: "CascadeMatchesIDsExactly", run: checkCascadeExactIDs},
	{group: "Membership", name: "GroupsFollowEveryChange", run: checkGroupsFollowChanges},
	{group: "Membership", name: "GroupsSurviveProjection", run: checkGroupsSurviveProjection},
	{group: "Membership", name: "MembersMustExist", run: checkMembersMustExist},
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
	if list, _ := u.Attributes["groups"].([]any); len(list) != len(got) {
		t.Errorf("a User a store returns carries in \"groups\" one value per Group whose members hold its id; after %s, %s of User %q lists %d values for %d Groups: %s",
			after, op, u.ID, len(list), len(got), showValue(u.Attributes["groups"]))
		return
	}
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

// nestedFixture adds to membershipFixture a Group Outer holding M-u3 and
// the Group Admins.
func nestedFixture(t testing.TB, s scim.Store, ctx context.Context) {
	t.Helper()
	membershipFixture(t, s, ctx)
	outer := newGroup("M-outer", "Outer", "M-u3")
	outer.Attributes["members"] = append(outer.Attributes["members"].([]any), map[string]any{"value": "M-admins", "type": "Group"})
	mustCreate(t, s, ctx, outer)
}

func checkDeleteNestedGroup(t testing.TB, s scim.Store) {
	ctx := ctxA()
	nestedFixture(t, s, ctx)
	if err := s.Delete(ctx, groupType, "M-admins", ""); err != nil {
		t.Fatalf("Delete of an existing Group must succeed; the store returned %s", errText(err))
	}
	expectMembers(t, s, ctx, "M-outer", []string{"M-u3"}, "a Group among its members was deleted (deleting a User or Group removes it from every Group's members)")
	page := queryAll(t, s, ctx, groupType, cmp(pMembersValue, scim.OpEqual, "M-admins"))
	if len(page.Resources) != 0 {
		t.Errorf("after Group M-admins was deleted no Group holds it: Query members.value eq \"M-admins\" must return nothing; the store returned %s", listIDs(ids(page.Resources)))
	}
	expectGroups(t, s, ctx, "M-u3", map[string]string{"M-outer": "Outer"}, "a Group nested in its Group was deleted")
}

func checkCascadeVersionAndTime(t testing.TB, s scim.Store) {
	ctx := ctxA()
	nestedFixture(t, s, ctx)
	for _, del := range []struct{ typ, id string }{{userType, "M-u1"}, {groupType, "M-admins"}} {
		var changed []*scim.Resource
		for _, gid := range []string{"M-admins", "M-staff", "M-outer"} {
			if gid == del.id {
				continue
			}
			if g := mustGet(t, s, ctx, groupType, gid, "it exists"); contains(memberIDs(g), del.id) {
				changed = append(changed, g)
			}
		}
		if err := s.Delete(ctx, del.typ, del.id, ""); err != nil {
			t.Fatalf("Delete of an existing %s must succeed; the store returned %s", del.typ, errText(err))
		}
		for _, before := range changed {
			after := mustGet(t, s, ctx, groupType, before.ID, "it exists")
			if after.Meta.Version == before.Meta.Version {
				t.Errorf("deleting %s %q removed it from Group %q, which must get a new Meta.Version (with the old one, a read-modify-write that read the Group before the Delete would put the deleted member back); it kept %q", del.typ, del.id, before.ID, after.Meta.Version)
			}
			if after.Meta.LastModified.Equal(before.Meta.LastModified) {
				t.Errorf("deleting %s %q removed it from Group %q, which must get a new Meta.LastModified (each Group a Delete changes gets a new version and LastModified); it kept %s", del.typ, del.id, before.ID, after.Meta.LastModified.Format(time.RFC3339Nano))
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func checkCascadeExactIDs(t testing.TB, s scim.Store) {
	ctx := ctxA()
	mustCreate(t, s, ctx, simpleUser("Exact-ab", "exact.lower"))
	mustCreate(t, s, ctx, simpleUser("Exact-AB", "exact.upper"))
	mustCreate(t, s, ctx, newGroup("Exact-G", "Exact", "Exact-ab", "Exact-AB"))
	if err := s.Delete(ctx, userType, "Exact-ab", ""); err != nil {
		t.Fatalf("Delete of an existing User must succeed; the store returned %s", errText(err))
	}
	expectMembers(t, s, ctx, "Exact-G", []string{"Exact-AB"}, "User Exact-ab was deleted (ids are case-exact: a Delete removes the member with exactly that id, not Exact-AB)")
	expectGroups(t, s, ctx, "Exact-AB", map[string]string{"Exact-G": "Exact"}, "User Exact-ab, whose id differs only in case, was deleted")
}

// checkGroupsFollowChanges reads a User's groups after every kind of
// membership change: one User is read before each change (as a cache would
// keep it), the other only after.
func checkGroupsFollowChanges(t testing.TB, s scim.Store) {
	ctx := ctxA()
	membershipFixture(t, s, ctx)
	read := func() {
		t.Helper()
		mustGet(t, s, ctx, userType, "M-u1", "it exists")
		queryAll(t, s, ctx, userType, nil)
	}
	steps := []struct {
		what   string
		change func()
		u1, u3 map[string]string
	}{
		{"a Replace of Staff added M-u3", func() {
			g := mustGet(t, s, ctx, groupType, "M-staff", "it exists")
			mustReplace(t, s, ctx, withAttrs(g, map[string]any{"displayName": "Staff", "members": []any{member("M-u1"), member("M-u3")}}, t0.Add(time.Minute)), "", "it exists")
		}, map[string]string{"M-admins": "Admins", "M-staff": "Staff"}, map[string]string{"M-staff": "Staff"}},
		{"a Create of Group Ops listed both", func() {
			mustCreate(t, s, ctx, newGroup("M-ops", "Ops", "M-u1", "M-u3"))
		}, map[string]string{"M-admins": "Admins", "M-staff": "Staff", "M-ops": "Ops"}, map[string]string{"M-staff": "Staff", "M-ops": "Ops"}},
		{"a Replace renamed Ops to Operations", func() {
			g := mustGet(t, s, ctx, groupType, "M-ops", "it exists")
			attrs := g.Clone().Attributes
			attrs["displayName"] = "Operations"
			mustReplace(t, s, ctx, withAttrs(g, attrs, t0.Add(2*time.Minute)), "", "it exists")
		}, map[string]string{"M-admins": "Admins", "M-staff": "Staff", "M-ops": "Operations"}, map[string]string{"M-staff": "Staff", "M-ops": "Operations"}},
		{"Group Admins was deleted", func() {
			if err := s.Delete(ctx, groupType, "M-admins", ""); err != nil {
				t.Fatalf("Delete of an existing Group must succeed; the store returned %s", errText(err))
			}
		}, map[string]string{"M-staff": "Staff", "M-ops": "Operations"}, map[string]string{"M-staff": "Staff", "M-ops": "Operations"}},
	}
	if p, ok := s.(scim.MembershipPatcher); ok {
		steps = append(steps, struct {
			what   string
			change func()
			u1, u3 map[string]string
		}{"PatchMembers removed M-u1 and M-u3 from Staff", func() {
			if _, err := p.PatchMembers(ctx, groupType, "M-staff", scim.MembershipChange{Remove: []string{"M-u1", "M-u3"}, LastModified: t0.Add(time.Hour)}, ""); err != nil {
				t.Fatalf("PatchMembers removing two members must succeed; the store returned %s", errText(err))
			}
		}, map[string]string{"M-ops": "Operations"}, map[string]string{"M-ops": "Operations"}})
	}
	for _, st := range steps {
		read()
		st.change()
		expectGroups(t, s, ctx, "M-u1", st.u1, st.what+" (the User was read just before)")
		expectGroups(t, s, ctx, "M-u3", st.u3, st.what)
	}
}

// checkGroupsSurviveProjection asks for Users and Groups with projection
// hints: a store may leave out what is not asked for, never more.
func checkGroupsSurviveProjection(t testing.TB, s scim.Store) {
	ctx := ctxA()
	membershipFixture(t, s, ctx)
	userHints := []struct {
		name              string
		attrs, excl       []scim.AttrPath
		wantName, wantGrp bool
	}{
		{"attributes=userName,groups", []scim.AttrPath{pUserName, pGroups}, nil, true, true},
		{"attributes=groups.display", []scim.AttrPath{pGroupsDisplay}, nil, false, true},
		{"excludedAttributes=emails", nil, []scim.AttrPath{pEmails}, true, true},
		{"excludedAttributes=name.givenName", nil, []scim.AttrPath{pGivenName}, true, true},
		{"attributes=userName", []scim.AttrPath{pUserName}, nil, true, false},
	}
	for _, h := range userHints {
		page := mustQuery(t, s, ctx, userType, scim.Query{Filter: cmp(pID, scim.OpEqual, "M-u1"), StartIndex: 1, Count: 10, Attributes: h.attrs, ExcludedAttributes: h.excl})
		if len(page.Resources) != 1 {
			t.Errorf("Query id eq \"M-u1\" with %s must find the User; the store returned %s", h.name, listIDs(ids(page.Resources)))
			continue
		}
		u := page.Resources[0]
		if h.wantGrp {
			compareGroups(t, "Query with "+h.name, u, map[string]string{"M-admins": "Admins", "M-staff": "Staff"}, "projection hints that do not leave groups out (a store may leave out what is not asked for, never more)")
		}
		if h.wantName && u.Attributes["userName"] != "member.M-u1" {
			t.Errorf("projection hints let a store leave out what is not asked for, never more: Query with %s must return userName; the store returned %s", h.name, showValue(u.Attributes["userName"]))
		}
	}
	for _, h := range []struct {
		name                     string
		attrs, excl              []scim.AttrPath
		wantDisplay, wantMembers bool
	}{
		{"excludedAttributes=members", nil, []scim.AttrPath{pMembers}, true, false},
		{"attributes=members.value", []scim.AttrPath{pMembersValue}, nil, false, true},
		{"attributes=displayName", []scim.AttrPath{pDisplayName}, nil, true, false},
	} {
		page := mustQuery(t, s, ctx, groupType, scim.Query{Filter: cmp(pID, scim.OpEqual, "M-admins"), StartIndex: 1, Count: 10, Attributes: h.attrs, ExcludedAttributes: h.excl})
		if len(page.Resources) != 1 {
			t.Errorf("Query id eq \"M-admins\" with %s must find the Group; the store returned %s", h.name, listIDs(ids(page.Resources)))
			continue
		}
		g := page.Resources[0]
		if got := sortedIDs(memberIDs(g)); h.wantMembers && !equalStrings(got, []string{"M-u1", "M-u2"}) {
			t.Errorf("projection hints let a store leave out what is not asked for, never more: Query with %s must return the members M-u1 and M-u2; the store returned %q", h.name, got)
		}
		if h.wantDisplay && g.Attributes["displayName"] != "Admins" {
			t.Errorf("projection hints let a store leave out what is not asked for, never more: Query with %s must return displayName; the store returned %s", h.name, showValue(g.Attributes["displayName"]))
		}
	}
}
