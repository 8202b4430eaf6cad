package postgres_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/scimkit/scim"
)

// TestPatchMembersOtherType checks PatchMembers on a resource type other
// than Group, whose members stay in its document.
func TestPatchMembersOtherType(t *testing.T) {
	s := newStore(t, testPool(t))
	ctx := scim.WithPrincipal(context.Background(), scim.Principal{ID: "t", Tenant: "t"})
	now := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	team := &scim.Resource{Type: "Team", ID: "T1", Attributes: map[string]any{
		"name": "Team", "members": []any{map[string]any{"value": "a"}, map[string]any{"value": "b"}},
	}, Meta: scim.Meta{Created: now, LastModified: now}}
	created, err := s.Create(ctx, team)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.PatchMembers(ctx, "Team", "T1", scim.MembershipChange{
		Add: []map[string]any{{"value": "c", "display": "C"}, {"value": "a"}}, Remove: []string{"b", "zz"}, LastModified: now.Add(time.Hour),
	}, created.Meta.Version)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Added, []string{"c"}) || !slices.Equal(res.Removed, []string{"b"}) || res.Meta.Version == created.Meta.Version || !res.Meta.LastModified.Equal(now.Add(time.Hour)) {
		t.Errorf("PatchMembers must add c, remove b and write a new version at the change's time; got %+v", res)
	}
	got, err := s.Get(ctx, "Team", "T1")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range got.Attributes["members"].([]any) {
		ids = append(ids, m.(map[string]any)["value"].(string))
	}
	if !slices.Equal(ids, []string{"a", "c"}) || got.Meta.Version != res.Meta.Version {
		t.Errorf("the Team must hold members a and c at version %q; it holds %v at %q", res.Meta.Version, ids, got.Meta.Version)
	}
	_, err = s.PatchMembers(ctx, "Team", "T1", scim.MembershipChange{Remove: []string{"zz"}, MustBeMembers: true}, "")
	if !errors.Is(err, scim.ErrNoTarget) {
		t.Errorf("removing a non-member with MustBeMembers must fail with ErrNoTarget; got %v", err)
	}
	if _, err := s.PatchMembers(ctx, "Team", "T1", scim.MembershipChange{Remove: []string{"a"}}, "stale"); !errors.Is(err, scim.ErrVersionMismatch) {
		t.Errorf("a stale version must fail with ErrVersionMismatch; got %v", err)
	}
}
