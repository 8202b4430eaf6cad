package postgres_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/scimkit/scim"
	"github.com/scimkit/scim/postgres"
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

// TestPatchMembersSeesChangesItWaitedFor: a PatchMembers that waits for
// another transaction holding the Group decides on what that transaction
// committed (its checks and writes read after the locks), so a remove
// queued behind a concurrent add of the same member removes it.
func TestPatchMembersSeesChangesItWaitedFor(t *testing.T) {
	pool := testPool(t)
	schema := freshSchema(t, pool)
	s, err := postgres.New(context.Background(), pool, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	ctx := scim.WithPrincipal(context.Background(), scim.Principal{ID: "t", Tenant: "t"})
	now := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for _, r := range []*scim.Resource{
		{Type: "User", ID: "u1", Attributes: map[string]any{"userName": "u1"}, Meta: scim.Meta{Created: now, LastModified: now}},
		{Type: "Group", ID: "g1", Attributes: map[string]any{"displayName": "g1"}, Meta: scim.Meta{Created: now, LastModified: now}},
	} {
		if _, err := s.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// Another writer holds the Group and adds u1.
	tx, err := pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	q := pgx.Identifier{schema}.Sanitize()
	if _, err := tx.Exec(context.Background(), `SELECT 1 FROM `+q+`.resources WHERE tenant = 't' AND type = 'Group' AND id = 'g1' FOR NO KEY UPDATE`); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var res scim.MembershipResult
	var perr error
	go func() {
		defer close(done)
		res, perr = s.PatchMembers(ctx, "Group", "g1", scim.MembershipChange{Remove: []string{"u1"}, MustBeMembers: true, LastModified: now.Add(time.Hour)}, "")
	}()
	time.Sleep(200 * time.Millisecond) // PatchMembers now waits for the lock
	if _, err := tx.Exec(context.Background(), `INSERT INTO `+q+`.members (tenant, group_id, member_type, member_id, member_folded, value, folded)
		VALUES ('t', 'g1', 'User', 'u1', 'u1', '{"value":"u1"}', '{"value":"u1"}')`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-done
	if perr != nil || !slices.Equal(res.Removed, []string{"u1"}) {
		t.Fatalf("a remove that waited for a committed add of the member must remove it; got %+v, %v", res, perr)
	}
	g, err := s.Get(ctx, "Group", "g1")
	if err != nil {
		t.Fatal(err)
	}
	if _, has := g.Attributes["members"]; has || g.Meta.Version != res.Meta.Version {
		t.Errorf("the Group must have no members at version %q; got %v at %q", res.Meta.Version, g.Attributes["members"], g.Meta.Version)
	}
}
