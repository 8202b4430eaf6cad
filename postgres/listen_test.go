package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
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
