package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimkit/scim"
)

const integrityRule = "members refer to existing resources: a Group write (Create, Replace, PatchMembers) whose members name an id that is not, when the write commits, a User or Group of the same tenant writes nothing and returns a *scim.MemberNotFoundError"

// isMemberNotFound reports whether err is the contract's answer for the
// member id: errors.Is ErrMemberNotFound, and a *MemberNotFoundError
// naming id.
func isMemberNotFound(id string) func(error) bool {
	return func(err error) bool {
		var mnf *scim.MemberNotFoundError
		return errors.Is(err, scim.ErrMemberNotFound) && errors.As(err, &mnf) && mnf.ID == id
	}
}

// expectRefused runs write, which must fail as want says, and fails the
// check if the resource typ/id changed.
func expectRefused(t testing.TB, s scim.Store, ctx context.Context, typ, id, what string, write func() error, want func(error) bool) {
	t.Helper()
	before := mustGet(t, s, ctx, typ, id, "it exists")
	if err := write(); !want(err) {
		t.Errorf("%s must fail (%s); the store returned %s", what, integrityRule, errText(err))
	}
	after := mustGet(t, s, ctx, typ, id, "it exists")
	if diffs := diffAttributes(before.Attributes, after.Attributes); len(diffs) > 0 || after.Meta.Version != before.Meta.Version {
		t.Errorf("%s was refused, so it must write nothing; %s %q changed (version %q → %q):\n\t%s", what, typ, id, before.Meta.Version, after.Meta.Version, strings.Join(diffs, "\n\t"))
	}
}

func checkMembersMustExist(t testing.TB, s scim.Store) {
	ctx := ctxA()
	membershipFixture(t, s, ctx)
	mustCreate(t, s, ctx, device("Int-device"))
	mustCreate(t, s, tenantCtx(tenantB), simpleUser("Int-elsewhere", "int.elsewhere"))
	mustCreate(t, s, ctx, simpleUser("Int-gone", "int.gone"))
	if err := s.Delete(ctx, userType, "Int-gone", ""); err != nil {
		t.Fatalf("Delete of an existing User must succeed; the store returned %s", errText(err))
	}
	// Users and Groups are members; so is a nested Group.
	mustCreate(t, s, ctx, newGroup("Int-ok", "Both kinds", "M-u1", "M-admins"))

	ghosts := []struct{ id, why string }{
		{"Int-nobody", "no resource has that id"},
		{"Int-device", "the id is a Device's, not a User's or a Group's"},
		{"Int-elsewhere", "the id is a User's in another tenant"},
		{"Int-gone", "the User with that id was deleted"},
		{"m-U1", "ids are case-exact: the User is M-u1"},
	}
	// The compare-and-swap comes first: a stale write fails on its version.
	stale := mustGet(t, s, ctx, groupType, "M-staff", "it exists")
	mustReplace(t, s, ctx, withAttrs(stale, map[string]any{"displayName": "Staff", "members": []any{member("M-u1")}}, t0.Add(time.Minute)), stale.Meta.Version, "it is the current version")
	late := withAttrs(stale, map[string]any{"displayName": "Staff", "members": []any{member("M-u1"), member("Int-gone")}}, t0.Add(2*time.Minute))
	if _, err := s.Replace(ctx, late, stale.Meta.Version); !errors.Is(err, scim.ErrVersionMismatch) {
		t.Errorf("a Replace at a stale version naming a member that does not exist must fail with scim.ErrVersionMismatch (the member check comes after the version check, so that the handler reads again instead of blaming the client for a member deleted meanwhile); the store returned %s", errText(err))
	}

	p, patcher := s.(scim.MembershipPatcher)
	for i, g := range ghosts {
		what := fmt.Sprintf("Create of a Group with members M-u1 and %q (%s)", g.id, g.why)
		gid := fmt.Sprintf("Int-new-%d", i)
		got, err := s.Create(ctx, newGroup(gid, "New", "M-u1", g.id))
		if !isMemberNotFound(g.id)(err) {
			t.Errorf("%s must fail (%s) with ID %q; the store returned %s and %s", what, integrityRule, g.id, errText(err), describeResource(got))
		}
		expectNotFound(t, s, ctx, groupType, gid, "a Create refused for its members stores nothing")

		staff := mustGet(t, s, ctx, groupType, "M-staff", "it exists")
		repl := withAttrs(staff, map[string]any{"displayName": "Staff", "members": []any{member("M-u1"), member(g.id)}}, t0.Add(time.Hour))
		expectRefused(t, s, ctx, groupType, "M-staff", fmt.Sprintf("Replace of a Group adding member %q (%s)", g.id, g.why),
			func() error { _, err := s.Replace(ctx, repl, ""); return err }, isMemberNotFound(g.id))

		if patcher {
			c := scim.MembershipChange{Add: []map[string]any{member("M-u3"), member(g.id)}, LastModified: t0.Add(time.Hour)}
			expectRefused(t, s, ctx, groupType, "M-staff", fmt.Sprintf("PatchMembers adding members M-u3 and %q (%s)", g.id, g.why),
				func() error { _, err := p.PatchMembers(ctx, groupType, "M-staff", c, ""); return err }, isMemberNotFound(g.id))
		}
	}
}

// checkMemberAddRacesDelete adds Users to a Group while other goroutines
// delete them, round after round, through every write that adds members
// and with the Delete starting at several moments of the add: when the
// dust settles, no Group lists a User that is gone.
func checkMemberAddRacesDelete(t testing.TB, s scim.Store) {
	ctx := ctxA()
	mustCreate(t, s, ctx, newGroup("Race-G", "Racing"))
	p, patcher := s.(scim.MembershipPatcher)
	const rounds, pairs = 20, 4
	var errs errorList
	add := func(id string, byPatch bool) {
		for try := 0; try < maxRetries; try++ {
			var err error
			if byPatch {
				_, err = p.PatchMembers(ctx, groupType, "Race-G", scim.MembershipChange{Add: []map[string]any{member(id)}, LastModified: t0.Add(time.Second)}, "")
			} else {
				g, gerr := s.Get(ctx, groupType, "Race-G")
				if gerr != nil {
					errs.add("Get of the Group must succeed; the store returned %s", errText(gerr))
					return
				}
				attrs := g.Clone().Attributes
				list, _ := attrs["members"].([]any)
				attrs["members"] = append(list, member(id))
				_, err = s.Replace(ctx, withAttrs(g, attrs, t0.Add(time.Second)), g.Meta.Version)
			}
			switch {
			case errors.Is(err, scim.ErrVersionMismatch):
				continue
			case err != nil && !errors.Is(err, scim.ErrMemberNotFound):
				errs.add("adding a member that is being deleted must succeed or fail with scim.ErrMemberNotFound; the store returned %s", errText(err))
			}
			return
		}
	}
	for r := 0; r < rounds; r++ {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for j := 0; j < pairs; j++ {
			id := fmt.Sprintf("Race-U%02d-%d", r, j)
			mustCreate(t, s, ctx, simpleUser(id, "race."+id))
			wg.Add(2)
			go func(byPatch bool) {
				defer wg.Done()
				<-start
				add(id, byPatch)
			}(patcher && (r+j)%2 == 0)
			go func(delay time.Duration) {
				defer wg.Done()
				<-start
				time.Sleep(delay) // vary which of the two writes starts first
				if err := s.Delete(ctx, userType, id, ""); err != nil {
					errs.add("Delete of an existing User must succeed while it is being added to a Group; the store returned %s", errText(err))
				}
			}(time.Duration(j) * 500 * time.Microsecond)
		}
		close(start)
		wg.Wait()
	}
	errs.report(t)
	g := mustGet(t, s, ctx, groupType, "Race-G", "it exists")
	if left := memberIDs(g); len(left) > 0 {
		t.Errorf("%s, atomically with the write, so that no Delete running at the same time leaves a dangling member; after %d rounds of adding %d Users each (by Replace and PatchMembers) while deleting them, Group Race-G still lists deleted Users %q", integrityRule, rounds, pairs, left)
	}
}
