package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/postgres"
)

// TestWaitersShareOneConnection: the store's waiters hold one connection
// of the pool between them, a write wakes every one, the connection goes
// back a moment after the last waiter left, and Close ends a wait.
func TestWaitersShareOneConnection(t *testing.T) {
	pool := testPool(t)
	s := newStore(t, pool)
	ctx := context.Background()
	head, err := s.Head(ctx)
	require.NoError(t, err)

	const waiters = 8
	var wg sync.WaitGroup
	errs := make(chan error, waiters)
	for range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			errs <- s.WaitChanges(wctx, scim.ChangeQuery{After: head})
		}()
	}
	require.Eventually(t, func() bool { return pool.Stat().AcquiredConns() == 1 }, 5*time.Second, 5*time.Millisecond,
		"the waiters share one listening connection")
	time.Sleep(200 * time.Millisecond) // every waiter has looked, and waits
	assert.Never(t, func() bool { return pool.Stat().AcquiredConns() > 1 }, 300*time.Millisecond, 5*time.Millisecond,
		"%d waiters hold one connection", waiters)

	_, err = s.Create(ctx, &scim.Resource{Type: "User", ID: "u1", Attributes: map[string]any{"userName": "u1"},
		Meta: scim.Meta{Created: time.Now(), LastModified: time.Now()}, Unique: []scim.UniqueKey{{Attribute: "userName", Value: "u1"}}})
	require.NoError(t, err)
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err, "every waiter wakes on the write")
	}
	assert.Eventually(t, func() bool { return pool.Stat().AcquiredConns() == 0 }, 5*time.Second, 10*time.Millisecond,
		"the listening connection goes back once no one waits")

	// Close ends a wait.
	next, err := s.Head(ctx)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.WaitChanges(ctx, scim.ChangeQuery{After: next}) }()
	require.Eventually(t, func() bool { return pool.Stat().AcquiredConns() == 1 }, 5*time.Second, 5*time.Millisecond)
	s.Close()
	select {
	case err := <-done:
		assert.Error(t, err, "a wait the store's Close ends is an error")
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the wait")
	}
	assert.Eventually(t, func() bool { return pool.Stat().AcquiredConns() == 0 }, 5*time.Second, 10*time.Millisecond,
		"Close gives the listening connection up")
}

// TestCloseRunsTheHeldBackSequencer gives the sequencer an interval of an
// hour: Close does not wait it out, but runs the held-back run at once,
// so that the store's committed changes leave with their positions.
func TestCloseRunsTheHeldBackSequencer(t *testing.T) {
	pool := testPool(t)
	schema := freshSchema(t, pool)
	ctx := context.Background()
	s, err := postgres.New(ctx, pool, postgres.WithSchema(schema), postgres.WithSequencerInterval(time.Hour))
	require.NoError(t, err)
	unsequenced := func() int {
		var n int
		require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema, "changes"}.Sanitize()+" WHERE pos IS NULL").Scan(&n))
		return n
	}
	_, err = s.Create(ctx, user("u1", "one"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return unsequenced() == 0 }, 10*time.Second, 5*time.Millisecond,
		"the first write after a quiet interval is sequenced at once")
	_, err = s.Create(ctx, user("u2", "two"))
	require.NoError(t, err)
	time.Sleep(20 * time.Millisecond)
	require.Equal(t, 1, unsequenced(), "the second write's run waits for the interval")

	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close waited for the sequencer's interval")
	}
	assert.Equal(t, 0, unsequenced(), "Close ran the held-back sequencer run")
}
