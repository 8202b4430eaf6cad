package postgres

import (
	"sync"
	"sync/atomic"
	"time"
)

// rerun runs a job in the background, one run at a time: a request made
// while a run is under way is not lost but has the job run once more
// after it, and the requests made meanwhile share that run.
type rerun struct {
	delay          time.Duration   // before each run, for more requests to join it
	every          time.Duration   // at least this long from one run's start to the next's
	hurry          <-chan struct{} // once closed (Close), runs start without waiting
	running, again atomic.Bool
	lastStart      time.Time // only the goroutine that set running touches it
}

// ask has job run in a goroutine tracked by wg: now (after the delay),
// or once the run under way ends.
func (r *rerun) ask(wg *sync.WaitGroup, job func()) {
	r.again.Store(true)
	if !r.running.CompareAndSwap(false, true) {
		return // the run under way runs again
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			wait := time.NewTimer(max(r.delay, time.Until(r.lastStart.Add(r.every))))
			select {
			case <-wait.C:
			case <-r.hurry:
				wait.Stop()
			}
			r.lastStart = time.Now()
			r.again.Store(false)
			job()
			r.running.Store(false)
			// A request made after again was cleared, before running was,
			// found the job running and left it to this goroutine.
			if !r.again.Load() || !r.running.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}
