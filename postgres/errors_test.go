package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/scimkit/scim"
	"github.com/scimkit/scim/postgres"
)

func TestErrorsAreNotNotFound(t *testing.T) {
	dsnPool := testPool(t)
	schema := freshSchema(t, dsnPool)
	ctx := scim.WithPrincipal(context.Background(), scim.Principal{ID: "t", Tenant: "t"})

	// A pool of its own, closed under the store: the database is gone.
	pool, err := pgxpool.New(context.Background(), dsnPool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	s, err := postgres.New(ctx, pool, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	pool.Close()
	checkAll(t, s, ctx, func(op string, err error) {
		if err == nil || errors.Is(err, scim.ErrNotFound) {
			t.Errorf("%s on a closed pool must fail with an error that is not scim.ErrNotFound; got %v", op, err)
		}
	})

	// A context that ends while the store works: the context's error.
	s = newStore(t, dsnPool)
	for _, c := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"cancelled", func() (context.Context, context.CancelFunc) {
			c, cancel := context.WithCancel(ctx)
			cancel()
			return c, cancel
		}, context.Canceled},
		{"timed out", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(ctx, time.Nanosecond)
		}, context.DeadlineExceeded},
	} {
		c2, cancel := c.ctx()
		time.Sleep(time.Millisecond)
		checkAll(t, s, c2, func(op string, err error) {
			if !errors.Is(err, c.want) || errors.Is(err, scim.ErrNotFound) {
				t.Errorf("%s with a %s context must fail with the context's error (%v); got %v", op, c.name, c.want, err)
			}
		})
		cancel()
	}

	// A statement the database interrupts: still the context's error.
	c3, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = dsnPool.Exec(c3, "SELECT pg_sleep(5)")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Logf("pgx itself returned %v for an interrupted statement", err)
	}
}

func checkAll(t *testing.T, s *postgres.Store, ctx context.Context, check func(op string, err error)) {
	t.Helper()
	u := &scim.Resource{Type: "User", ID: "u1", Attributes: map[string]any{"userName": "u1"}, Meta: scim.Meta{Created: time.Now(), LastModified: time.Now()}}
	_, err := s.Create(ctx, u)
	check("Create", err)
	_, err = s.Get(ctx, "User", "u1")
	check("Get", err)
	_, err = s.Replace(ctx, u, "")
	check("Replace", err)
	check("Delete", s.Delete(ctx, "User", "u1", ""))
	_, err = s.Query(ctx, "User", scim.Query{StartIndex: 1, Count: 10})
	check("Query", err)
	_, err = s.PatchMembers(ctx, "Group", "g1", scim.MembershipChange{Remove: []string{"u1"}}, "")
	check("PatchMembers", err)
}
