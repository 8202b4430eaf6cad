package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/scimkit/scim"
)

// TestSequencerAvoidsTheSkip tails the feed while 32 writers create users,
// beside a naive reader that reads by the numbers the writers drew (as a
// feed on a plain sequence would): the feed skips nothing, while the naive
// reader shows the trap, numbers committing out of order, whenever the
// machine's timing lets it happen.
func TestSequencerAvoidsTheSkip(t *testing.T) {
	pool := internalPool(t)
	naiveMissed := 0
	for range 3 {
		missed, naive := tailWhileWriting(t, pool)
		if missed > 0 {
			t.Errorf("a reader tailing the feed must skip nothing; it skipped %d changes", missed)
		}
		naiveMissed += naive
	}
	t.Logf("a reader by the writers' own numbers skipped %d changes in 3 runs", naiveMissed)
}

// tailWhileWriting returns how many creates the feed's reader and the
// naive reader never saw.
func tailWhileWriting(t *testing.T, pool *pgxpool.Pool) (missed, naiveMissed int) {
	schema := internalSchema(t, pool, "scimtest_")
	s, err := New(context.Background(), pool, WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const writers, each, total = 32, 20, 32 * 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("h-%d-%d", w, i)
				if _, err := s.Create(ctx, &scim.Resource{Type: "User", ID: id, Attributes: map[string]any{"userName": id},
					Unique: []scim.UniqueKey{{Attribute: "userName", Value: id}}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	seen, naiveSeen := map[string]bool{}, map[string]bool{}
	after, naiveAfter := "", int64(0)
	var deadline time.Time // after the writers: what is late comes within it, what was skipped never
	for {
		cs, err := s.Changes(ctx, scim.ChangeQuery{After: after, AllTenants: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			seen[c.ID] = true
			after = c.Position
		}
		rows, err := pool.Query(ctx, `SELECT id, seq FROM `+s.t("changes")+` WHERE seq > $1 ORDER BY seq`, naiveAfter)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id, &naiveAfter); err != nil {
				t.Fatal(err)
			}
			naiveSeen[id] = true
		}
		rows.Close()
		select {
		case <-done:
			if deadline.IsZero() {
				deadline = time.Now().Add(5 * time.Second)
			}
			if len(seen) == total && len(naiveSeen) == total || time.Now().After(deadline) {
				return total - len(seen), total - len(naiveSeen)
			}
		default:
		}
	}
}
