package postgres

import (
	"context"
	"errors"
	"sync"
	"time"
)

// listenIdle is how long the listener keeps its connection after the
// last waiter left: long enough for a consumer to handle a batch and wait
// again, short enough not to hold up a pool's Close for long.
const listenIdle = time.Second

// listener is a Store's one LISTEN on the feed's channel, shared by every
// WaitChanges of the process: it holds one connection of the pool while
// anyone waits (and listenIdle after), where a LISTEN per wait would hold
// a connection per waiter and spend two more round trips each time.
type listener struct {
	ctx  context.Context    // the store's: Close cancels it
	stop context.CancelFunc // see Close

	mu      sync.Mutex
	closed  bool
	run     *listenRun    // the running one; nil when none runs
	wake    chan struct{} // closed (and replaced) on each notification, and when a run ends
	waiters int
	idle    *time.Timer // ends the run listenIdle after the last waiter left
}

// listenRun is one connection's LISTEN.
type listenRun struct {
	ready  chan struct{} // closed once the LISTEN is in place, or failed
	err    error         // why it failed, set before ready is closed
	cancel context.CancelFunc
}

// errClosed is the error of waiting on a closed Store.
var errClosed = errors.New("postgres: the store is closed")

// close ends the listener for good.
func (l *listener) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.stop()
}

func newListener() *listener {
	ctx, stop := context.WithCancel(context.Background())
	return &listener{ctx: ctx, stop: stop, wake: make(chan struct{})}
}

// subscribe returns a channel closed on the next notification (or when
// the LISTEN ends), once the LISTEN is in place, so that a change the
// caller then finds missing wakes it. done must be called when the caller
// stops waiting.
func (s *Store) subscribe(ctx context.Context) (wake <-chan struct{}, done func(), err error) {
	l := s.listen
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, nil, errClosed
	}
	if l.run == nil {
		rctx, cancel := context.WithCancel(l.ctx)
		l.run = &listenRun{ready: make(chan struct{}), cancel: cancel}
		s.background.Add(1)
		go s.runListener(rctx, l.run)
	}
	if l.idle != nil {
		l.idle.Stop()
		l.idle = nil
	}
	l.waiters++
	run, wake := l.run, l.wake
	l.mu.Unlock()
	done = func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.waiters--; l.waiters == 0 && l.run == run {
			l.idle = time.AfterFunc(listenIdle, func() {
				l.mu.Lock()
				defer l.mu.Unlock()
				if l.waiters == 0 && l.run == run {
					run.cancel()
				}
			})
		}
	}
	select {
	case <-run.ready:
		if run.err != nil {
			done()
			return nil, nil, run.err
		}
		return wake, done, nil
	case <-ctx.Done():
		done()
		return nil, nil, ctx.Err()
	}
}

// runListener holds a connection listening on the feed's channel until
// run is cancelled (idle, or the store closed) or the connection fails;
// the next subscribe starts another.
func (s *Store) runListener(ctx context.Context, run *listenRun) {
	defer s.background.Done()
	l := s.listen
	defer func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.run == run {
			l.run = nil
		}
		close(l.wake) // waiters look again, and start another run
		l.wake = make(chan struct{})
		select {
		case <-run.ready:
		default:
			close(run.ready)
		}
	}()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		run.err = wrap(ctx, "listen for changes", err)
		return
	}
	// The connection never goes back to the pool: its wait is cut short,
	// perhaps mid-message.
	defer func() {
		_ = conn.Conn().Close(context.Background())
		conn.Release()
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+s.channel()); err != nil {
		run.err = wrap(ctx, "listen for changes", err)
		return
	}
	close(run.ready)
	for {
		if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
			if ctx.Err() == nil {
				s.logger.WarnContext(ctx, "postgres: the change feed's listening connection failed", "err", err)
			}
			return
		}
		l.mu.Lock()
		close(l.wake)
		l.wake = make(chan struct{})
		l.mu.Unlock()
	}
}
