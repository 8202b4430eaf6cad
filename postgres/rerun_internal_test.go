package postgres

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRerunLosesNoRequest asks for a job while it runs: each request made
// during a run is served by one more run after it, never by a second
// concurrent one, and requests made together share that run.
func TestRerunLosesNoRequest(t *testing.T) {
	tests := []struct {
		name     string
		during   int   // requests made while the first run is held
		wantRuns int32 // runs in all
	}{
		{"one request", 0, 1},
		{"a request during the run", 1, 2},
		{"requests during the run share the next", 5, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				r              rerun
				wg             sync.WaitGroup
				runs, inFlight atomic.Int32
				overlapped     atomic.Bool
			)
			started, release := make(chan struct{}), make(chan struct{})
			job := func() {
				if inFlight.Add(1) > 1 {
					overlapped.Store(true)
				}
				if runs.Add(1) == 1 {
					close(started)
					<-release
				}
				inFlight.Add(-1)
			}
			r.ask(&wg, job)
			<-started
			for range tt.during {
				r.ask(&wg, job)
			}
			close(release)
			wg.Wait()
			assert.Equal(t, tt.wantRuns, runs.Load(), "runs")
			assert.False(t, overlapped.Load(), "two runs at once")
		})
	}
}

// TestRerunPaces asks for a job again right after each run: no run starts
// sooner than every after the one before, however soon it is asked for.
func TestRerunPaces(t *testing.T) {
	const every = 30 * time.Millisecond
	r := rerun{delay: time.Millisecond, every: every}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		starts []time.Time
	)
	var job func()
	job = func() {
		mu.Lock()
		starts = append(starts, time.Now())
		n := len(starts)
		mu.Unlock()
		if n < 4 {
			r.ask(&wg, job) // a request made during the run
		}
	}
	r.ask(&wg, job)
	wg.Wait()
	require.Len(t, starts, 4)
	for i := 1; i < len(starts); i++ {
		assert.GreaterOrEqual(t, starts[i].Sub(starts[i-1]), every, "run %d started too soon after the one before", i+1)
	}
}

// TestRerunHurries holds a run back by a long interval, then closes
// hurry: the run starts at once instead of waiting the interval out.
func TestRerunHurries(t *testing.T) {
	hurry := make(chan struct{})
	r := rerun{delay: time.Millisecond, every: time.Hour, hurry: hurry}
	var (
		wg   sync.WaitGroup
		runs atomic.Int32
	)
	r.ask(&wg, func() { runs.Add(1) })
	wg.Wait() // the first run waits only the delay
	r.ask(&wg, func() { runs.Add(1) })
	time.Sleep(20 * time.Millisecond)
	assert.Equal(t, int32(1), runs.Load(), "the second run waits for the interval")
	close(hurry)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the held-back run still waits for the interval after hurry closed")
	}
	assert.Equal(t, int32(2), runs.Load(), "the held-back run ran once hurry closed")
}
