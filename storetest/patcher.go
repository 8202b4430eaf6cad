package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/scimkit/scim"
)

// needsPatcher detects the optional scim.MembershipPatcher capability.
func needsPatcher(s scim.Store) (bool, string) {
	if _, ok := s.(scim.MembershipPatcher); ok {
		return true, ""
	}
	return false, fmt.Sprintf("%T does not implement the optional scim.MembershipPatcher; the handler changes members with Get and Replace instead, which the Membership checks cover", s)
}

var patcherChecks = []check{
	{group: "MembershipPatcher", name: "AddMembers", needs: needsPatcher, run: checkPatchAdd},
	{group: "MembershipPatcher", name: "AddPresentIsNoChange", needs: needsPatcher, run: checkPatchAddPresent},
	{group: "MembershipPatcher", name: "RemoveMembers", needs: needsPatcher, run: checkPatchRemove},
	{group: "MembershipPatcher", name: "RemoveAbsentIsNoChange", needs: needsPatcher, run: checkPatchRemoveAbsent},
	{group: "MembershipPatcher", name: "MustBeMembers", needs: needsPatcher, run: checkPatchMustBeMembers},
	{group: "MembershipPatcher", name: "VersionMismatch", needs: needsPatcher, run: checkPatchVersion},
	{group: "MembershipPatcher", name: "NotFound", needs: needsPatcher, run: checkPatchNotFound},
	{group: "MembershipPatcher", name: "ConcurrentChangesLoseNothing", needs: needsPatcher, run: checkPatchConcurrent},
	{group: "MembershipPatcher", name: "ReportsDisplayName", needs: needsPatcher, run: checkPatchDisplayName},
}

// checkPatchDisplayName: PatchMembers reports the Group's displayName as
// stored when it changed the members, after a rename too, for the
// handler's membership hooks (MembershipResult.DisplayName).
func checkPatchDisplayName(t testing.TB, s scim.Store) {
	ctx := ctxA()
	membershipFixture(t, s, ctx)
	p := s.(scim.MembershipPatcher)
	when := t0.Add(time.Hour)
	expect := func(c scim.MembershipChange, want, why string) {
		t.Helper()
		res, err := p.PatchMembers(ctx, groupType, "M-staff", c, "")
		if err != nil {
			t.Fatalf("PatchMembers of Group M-staff must succeed (%s); the store returned %s", why, errText(err))
		}
		if res.DisplayName != want {
			t.Errorf("PatchMembers reports the Group's displayName as stored (MembershipResult.DisplayName, which the handler hands to its membership hooks); %s it must be %q, the store reported %q",
				why, want, res.DisplayName)
		}
	}
	expect(scim.MembershipChange{Add: []map[string]any{member("M-u2")}, LastModified: when}, "Staff", "after adding a member to Staff")
	g := mustGet(t, s, ctx, groupType, "M-staff", "it exists")
	attrs := maps.Clone(g.Attributes)
	attrs["displayName"] = "Crew"
	mustReplace(t, s, ctx, withAttrs(g, attrs, when), g.Meta.Version, "renaming the Group")
	expect(scim.MembershipChange{Remove: []string{"M-u1"}, LastModified: when}, "Crew", "after the Group was renamed Crew and a member removed")
}

// patch calls PatchMembers and fails the check if it fails, or if it does
// not report exactly the ids added and removed.
func patch(t testing.TB, s scim.Store, ctx context.Context, gid string, c scim.MembershipChange, expected, why string, added, removed []string) scim.Meta {
	t.Helper()
	res, err := s.(scim.MembershipPatcher).PatchMembers(ctx, groupType, gid, c, expected)
	if err != nil {
		t.Fatalf("PatchMembers of Group %q at version %q must succeed (%s); the store returned %s", gid, expected, why, errText(err))
	}
	if !equalStrings(sortedIDs(res.Added), sortedIDs(added)) || !equalStrings(sortedIDs(res.Removed), sortedIDs(removed)) {
		t.Errorf("PatchMembers returns the ids it really added and removed (those of change.Add that were not members, those of change.Remove that were; the handler's membership hooks rely on them); after %s it must report added %q and removed %q, it reported %q and %q",
			why, added, removed, res.Added, res.Removed)
	}
	return res.Meta
}

// expectMeta fails unless the Group's stored Meta is meta, as PatchMembers
// returned it.
func expectMeta(t testing.TB, g *scim.Resource, meta scim.Meta) {
	t.Helper()
	if g.Meta.Version != meta.Version || !g.Meta.LastModified.Equal(meta.LastModified) || !g.Meta.Created.Equal(meta.Created) {
		t.Errorf("PatchMembers returns the resource's Meta after the change; it returned %+v, but Get returns %+v", meta, g.Meta)
	}
}

func checkPatchAdd(t testing.TB, s scim.Store) {
	ctx := ctxA()
	membershipFixture(t, s, ctx)
	g := mustGet(t, s, ctx, groupType, "M-staff", "it exists")
	when := t0.Add(time.Hour)
	meta := patch(t, s, ctx, g.ID, scim.MembershipChange{
		Add: []map[string]any{
			{"value": "M-u2", "display": "Second", "type": "User"},
			{"value": "M-u3", "type": "User", "$ref": "https://example.com/Users/M-u3"},
		},
		LastModified: when,
	}, g.Meta.Version, "the version is current", []string{"M-u2", "M-u3"}, nil)
	if meta.Version == "" || meta.Version == g.Meta.Version {
		t.Errorf("PatchMembers that changed the members must assign a new Meta.Version; the store returned %q (it was %q)", meta.Version, g.Meta.Version)
	}
	if !meta.LastModified.Equal(when) {
		t.Errorf("PatchMembers that changed the members must set Meta.LastModified to change.LastModified (%s); the store returned %s", when.Format(time.RFC3339Nano), meta.LastModified.Format(time.RFC3339Nano))
	}
	if !meta.Created.Equal(g.Meta.Created) {
		t.Errorf("PatchMembers must keep Meta.Created (%s); the store returned %s", g.Meta.Created.Format(time.RFC3339Nano), meta.Created.Format(time.RFC3339Nano))
	}
	after := expectMembers(t, s, ctx, g.ID, []string{"M-u1", "M-u2", "M-u3"}, "PatchMembers added M-u2 and M-u3")
	expectMeta(t, after, meta)
	list, _ := after.Attributes["members"].([]any)
	for _, m := range list {
		mm, _ := m.(map[string]any)
		switch mm["value"] {
		case "M-u2":
			if mm["display"] != "Second" || mm["type"] != "User" {
				t.Errorf("an added member keeps the sub-attributes it was given (display, type, $ref); M-u2 is stored as %s", showValue(mm))
			}
		case "M-u3":
			if mm["$ref"] != "https://example.com/Users/M-u3" {
				t.Errorf("an added member keeps the sub-attributes it was given (display, type, $ref); M-u3 is stored as %s", showValue(mm))
			}
		}
	}
	if after.Attributes["displayName"] != "Staff" {
		t.Errorf("PatchMembers changes members only; displayName is now %s", showValue(after.Attributes["displayName"]))
	}
	expectGroups(t, s, ctx, "M-u3", map[string]string{"M-staff": "Staff"}, "PatchMembers added the User to Staff")

	// A Group without a members attribute.
	mustCreate(t, s, ctx, newGroup("M-empty", "Empty"))
	patch(t, s, ctx, "M-empty", scim.MembershipChange{Add: []map[string]any{member("M-u1")}, LastModified: when}, "", "the Group exists", []string{"M-u1"}, nil)
	expectMembers(t, s, ctx, "M-empty", []string{"M-u1"}, "PatchMembers added M-u1 to a Group that had no members attribute")
}

func checkPatchAddPresent(t testing.TB, s scim.Store) {
	ctx := ctxA()
	membershipFixture(t, s, ctx)
	g := mustGet(t, s, ctx, groupType, "M-admins", "it exists")
	meta := patch(t, s, ctx, g.ID, scim.MembershipChange{
		Add:          []map[string]any{{"value": "M-u1", "type": "User", "display": "changed?"}},
		Remove:       []string{"M-u3"},
		LastModified: t0.Add(time.Hour),
	}, g.Meta.Version, "adding a member already present and removing one that is absent", nil, nil)
	if meta.Version != g.Meta.Version || !meta.LastModified.Equal(g.Meta.LastModified) {
		t.Errorf("adding a member already present (and removing one that is absent) changes nothing: PatchMembers must keep Meta.Version %q and LastModified %s; the store returned version %q, LastModified %s",
			g.Meta.Version, g.Meta.LastModified.Format(time.RFC3339Nano), meta.Version, meta.LastModified.Format(time.RFC3339Nano))
	}
	after := expectMembers(t, s, ctx, g.ID, []string{"M-u1", "M-u2"}, "PatchMembers added a member already present")
	expectMeta(t, after, meta)
	list, _ := after.Attributes["members"].([]any)
	for _, m := range list {
		if mm, _ := m.(map[string]any); mm["value"] == "M-u1" && mm["display"] != nil {
			t.Errorf("adding a member already present changes nothing, not even its sub-attributes; M-u1 is now stored as %s", showValue(mm))
		}
	}
}

func checkPatchRemove(t testing.TB, s scim.Store) {
	ctx := ctxA()
	membershipFixture(t, s, ctx)
	g := mustGet(t, s, ctx, groupType, "M-admins", "it exists")
	when := t0.Add(2 * time.Hour)
	meta := patch(t, s, ctx, g.ID, scim.MembershipChange{Remove: []string{"M-u1"}, LastModified: when}, g.Meta.Version, "removing a member", nil, []string{"M-u1"})
	if meta.Version == g.Meta.Version || !meta.LastModified.Equal(when) {
		t.Errorf("PatchMembers that removed a member must assign a new Meta.Version and set LastModified to %s; the store returned version %q (was %q), LastModified %s",
			when.Format(time.RFC3339Nano), meta.Version, g.Meta.Version, meta.LastModified.Format(time.RFC3339Nano))
	}
	expectMeta(t, expectMembers(t, s, ctx, g.ID, []string{"M-u2"}, "PatchMembers removed M-u1"), meta)
	expectGroups(t, s, ctx, "M-u1", map[string]string{"M-staff": "Staff"}, "PatchMembers removed the User from Admins")

	// Removing the last member, and adding and removing in one change.
	meta = patch(t, s, ctx, g.ID, scim.MembershipChange{Add: []map[string]any{member("M-u3")}, Remove: []string{"M-u2"}, LastModified: when}, meta.Version, "adding one member and removing another", []string{"M-u3"}, []string{"M-u2"})
	expectMeta(t, expectMembers(t, s, ctx, g.ID, []string{"M-u3"}, "PatchMembers added M-u3 and removed M-u2"), meta)
	patch(t, s, ctx, g.ID, scim.MembershipChange{Remove: []string{"M-u3"}, LastModified: when}, meta.Version, "removing the last member", nil, []string{"M-u3"})
	expectMembers(t, s, ctx, g.ID, nil, "PatchMembers removed the last member")
	expectGroups(t, s, ctx, "M-u3", map[string]string{}, "PatchMembers removed the User from its only Group")
}

func checkPatchRemoveAbsent(t testing.TB, s scim.Store) {
	ctx := ctxA()
	membershipFixture(t, s, ctx)
	g := mustGet(t, s, ctx, groupType, "M-staff", "it exists")
	meta := patch(t, s, ctx, g.ID, scim.MembershipChange{Remove: []string{"M-u2", "no-such-user"}, LastModified: t0.Add(time.Hour)}, g.Meta.Version, "removing members that are absent", nil, nil)
	if meta.Version != g.Meta.Version || !meta.LastModified.Equal(g.Meta.LastModified) {
		t.Errorf("removing members that are absent changes nothing: PatchMembers must keep Meta.Version %q and LastModified %s; the store returned version %q, LastModified %s",
			g.Meta.Version, g.Meta.LastModified.Format(time.RFC3339Nano), meta.Version, meta.LastModified.Format(time.RFC3339Nano))
	}
	expectMeta(t, expectMembers(t, s, ctx, g.ID, []string{"M-u1"}, "PatchMembers removed absent members"), meta)
}

func checkPatchMustBeMembers(t testing.TB, s scim.Store) {
	ctx := ctxA()
	membershipFixture(t, s, ctx)
	g := mustGet(t, s, ctx, groupType, "M-staff", "it exists")
	_, err := s.(scim.MembershipPatcher).PatchMembers(ctx, groupType, g.ID, scim.MembershipChange{
		Add: []map[string]any{member("M-u2")}, Remove: []string{"M-u1", "no-such-user"}, MustBeMembers: true, LastModified: t0.Add(time.Hour),
	}, g.Meta.Version)
	if !errors.Is(err, scim.ErrNoTarget) {
		t.Errorf("PatchMembers with MustBeMembers that removes a non-member must fail with scim.ErrNoTarget; the store returned %s", errText(err))
	}
	after := expectMembers(t, s, ctx, g.ID, []string{"M-u1"}, "a PatchMembers that failed with ErrNoTarget (which must change nothing)")
	if after.Meta.Version != g.Meta.Version {
		t.Errorf("a PatchMembers that fails with ErrNoTarget must change nothing; the version is now %q, not %q", after.Meta.Version, g.Meta.Version)
	}
	meta := patch(t, s, ctx, g.ID, scim.MembershipChange{Remove: []string{"M-u1"}, MustBeMembers: true, LastModified: t0.Add(time.Hour)}, g.Meta.Version, "removing member M-u1 that must be one", nil, []string{"M-u1"})
	expectMeta(t, expectMembers(t, s, ctx, g.ID, nil, "PatchMembers removed M-u1"), meta)
}

func checkPatchVersion(t testing.TB, s scim.Store) {
	ctx := ctxA()
	membershipFixture(t, s, ctx)
	p := s.(scim.MembershipPatcher)
	g := mustGet(t, s, ctx, groupType, "M-staff", "it exists")
	v2 := patch(t, s, ctx, g.ID, scim.MembershipChange{Add: []map[string]any{member("M-u2")}, LastModified: t0.Add(time.Hour)}, g.Meta.Version, "the version is current", []string{"M-u2"}, nil).Version
	_, err := p.PatchMembers(ctx, groupType, g.ID, scim.MembershipChange{Add: []map[string]any{member("M-u3")}, LastModified: t0.Add(2 * time.Hour)}, g.Meta.Version)
	if !errors.Is(err, scim.ErrVersionMismatch) {
		t.Errorf("PatchMembers with a stale expectedVersion (%q; the stored one is %q) must fail with scim.ErrVersionMismatch; the store returned %s", g.Meta.Version, v2, errText(err))
	}
	after := expectMembers(t, s, ctx, g.ID, []string{"M-u1", "M-u2"}, "a PatchMembers with a stale version (which must change nothing)")
	if after.Meta.Version != v2 {
		t.Errorf("a PatchMembers that fails the compare-and-swap must change nothing; the version is now %q, not %q", after.Meta.Version, v2)
	}
	_, err = p.PatchMembers(ctx, groupType, g.ID, scim.MembershipChange{Remove: []string{"M-u1"}, LastModified: t0.Add(2 * time.Hour)}, g.Meta.Version)
	if !errors.Is(err, scim.ErrVersionMismatch) {
		t.Errorf("PatchMembers with a stale expectedVersion must fail with scim.ErrVersionMismatch for a removal too; the store returned %s", errText(err))
	}
	patch(t, s, ctx, g.ID, scim.MembershipChange{Add: []map[string]any{member("M-u3")}, LastModified: t0.Add(3 * time.Hour)}, "", `"" matches any version`, []string{"M-u3"}, nil)
	expectMembers(t, s, ctx, g.ID, []string{"M-u1", "M-u2", "M-u3"}, "a PatchMembers with expectedVersion \"\"")
}

func checkPatchNotFound(t testing.TB, s scim.Store) {
	ctx := ctxA()
	membershipFixture(t, s, ctx)
	p := s.(scim.MembershipPatcher)
	c := scim.MembershipChange{Add: []map[string]any{member("M-u1")}, LastModified: t0}
	if _, err := p.PatchMembers(ctx, groupType, "no-such-group", c, ""); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("PatchMembers of a Group that does not exist must fail with scim.ErrNotFound; the store returned %s", errText(err))
	}
	expectNotFound(t, s, ctx, groupType, "no-such-group", "PatchMembers must not create it")
	if _, err := p.PatchMembers(tenantCtx(tenantB), groupType, "M-admins", c, ""); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("PatchMembers of a Group of another tenant must fail with scim.ErrNotFound; the store returned %s", errText(err))
	}
	expectMembers(t, s, ctx, "M-admins", []string{"M-u1", "M-u2"}, "a PatchMembers from another tenant")
}

func checkPatchConcurrent(t testing.TB, s scim.Store) {
	ctx := ctxA()
	mustCreate(t, s, ctx, newGroup("M-big", "Big"))
	p := s.(scim.MembershipPatcher)
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	var want []string
	for w := 0; w < workers; w++ {
		for i := 0; i < each; i++ {
			for _, id := range []string{fmt.Sprintf("C-%d-%d", w, i), fmt.Sprintf("tmp-%d-%d", w, i)} {
				mustCreate(t, s, ctx, simpleUser(id, "patch."+id))
			}
			want = append(want, fmt.Sprintf("C-%d-%d", w, i))
		}
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				id := fmt.Sprintf("C-%d-%d", w, i)
				c := scim.MembershipChange{Add: []map[string]any{member(id), member(fmt.Sprintf("tmp-%d-%d", w, i))}, LastModified: t0.Add(time.Duration(i) * time.Second)}
				if _, err := p.PatchMembers(ctx, groupType, "M-big", c, ""); err != nil {
					errs <- err
				}
				rm := scim.MembershipChange{Remove: []string{fmt.Sprintf("tmp-%d-%d", w, i)}, LastModified: t0.Add(time.Duration(i) * time.Second)}
				if _, err := p.PatchMembers(ctx, groupType, "M-big", rm, ""); err != nil {
					errs <- err
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent PatchMembers with expectedVersion \"\" must all succeed; one returned %s", errText(err))
		break
	}
	expectMembers(t, s, ctx, "M-big", want, fmt.Sprintf("%d goroutines each added %d members and removed %d others with PatchMembers (concurrent changes must not lose one another)", workers, each, each))
}
