package postgres

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
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
