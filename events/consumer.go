// Package events delivers a store's change feed (scim.ChangeFeed) to the
// code that must follow the directory: durable consumers in the host's own
// process (an invite sender, a licence counter, a mirror of the host's
// accounts table), and, rendered as RFC 9967 Security Event Tokens, to
// receivers elsewhere.
//
// A Consumer receives every change at least once, in feed order (so in
// commit order for each resource), and keeps its position in the store
// (scim.ConsumerLedger), so that a process that restarts, crashes or is
// redeployed goes on where the last one stopped. With several replicas
// one of them consumes under a name at a time, by a lease; another takes
// over within the lease's time when it dies. On PostgreSQL, a
// Transactional consumer's writes to the host's own tables commit with
// its progress: exactly once.
package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/scimkit/scim"
)

// The defaults of a Consumer's zero fields.
const (
	DefaultBatch       = 100
	DefaultLease       = 30 * time.Second
	DefaultMinBackoff  = 100 * time.Millisecond
	DefaultMaxBackoff  = time.Minute
	DefaultMaxAttempts = 10
)

// Consumer hands every change of a store's feed to Handle, durably. Set
// Name, Store and Handle, then call Run. The zero values of the other
// fields are the defaults above.
//
// A change whose Handle fails is tried again, after a backoff that
// doubles from MinBackoff to MaxBackoff, MaxAttempts times in all; then it
// is handed to Failed (by default only logged, at Error level) and the
// consumer goes on with the next one. So one change that cannot be handled
// does not stop the others for ever; a Handle that must never skip sets
// MaxAttempts to -1, and is retried until it succeeds.
//
// Positions are kept after each batch (each change, when Transactional):
// a consumer that stops mid-batch, however it stops, hands that batch's
// changes again. Handle must therefore be idempotent, or Transactional.
type Consumer struct {
	// Name identifies the consumer, per tenant, in the store's ledger.
	Name string
	// Store is the feed and the ledger: a scim.Store that is a
	// scim.ChangeFeed and a scim.ConsumerLedger (memstore and postgres
	// stores are both).
	Store scim.Store
	// Handle is called with each change, in order, with Run's context
	// (and, when Transactional, the transaction in it).
	Handle func(ctx context.Context, c scim.Change) error
	// AllTenants consumes every tenant's changes; else those of the
	// tenant of Run's context.
	AllTenants bool
	// Transactional runs each Handle in a transaction with the
	// advance of the position (the store must be a scim.TxLedger: on
	// PostgreSQL, postgres.TxFrom(ctx) is the transaction).
	Transactional bool
	// Batch is the number of changes read at a time.
	Batch int
	// Lease is how long a consumer holds its name without renewing it;
	// another replica takes over that long after the holder died.
	Lease time.Duration
	// Owner names this process in the ledger; a random name by default.
	Owner string
	// MinBackoff, MaxBackoff and MaxAttempts govern retries (see above).
	MinBackoff, MaxBackoff time.Duration
	MaxAttempts            int
	// Failed is called with a change Handle failed MaxAttempts times, and
	// its last error, before the consumer skips it.
	Failed func(ctx context.Context, c scim.Change, err error)
	// Expired is called when the consumer's position is older than the
	// feed keeps (scim.ErrPositionExpired): changes were lost to it, so it
	// must resynchronise, typically by calling the feed's Head, listing
	// every resource, and returning the position Head gave. Without it,
	// Run returns the error.
	Expired func(ctx context.Context) (position string, err error)
	// Logger receives the consumer's reports; slog.Default() by default.
	Logger *slog.Logger
}

// Run consumes until ctx ends, and returns ctx's error; or returns a
// configuration error, or an expired position's without Expired. While
// another process holds the consumer's lease, it waits, and takes over
// when the lease expires.
func (c *Consumer) Run(ctx context.Context) error {
	r, err := c.runner()
	if err != nil {
		return err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = r.ledger.Release(rctx, c.Name, r.owner)
	}()
	for {
		if err := r.lead(ctx); err != nil {
			return err
		}
		err := r.consume(ctx)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, scim.ErrLeaseLost):
			r.log.WarnContext(ctx, "events: consumer lost its lease; waiting to take it back", "consumer", c.Name)
		case err != nil:
			return err
		}
	}
}

// runner is a Consumer's state while it runs.
type runner struct {
	c        *Consumer
	feed     scim.ChangeFeed
	ledger   scim.ConsumerLedger
	txLedger scim.TxLedger
	owner    string
	log      *slog.Logger

	position string
	renewed  time.Time // when the lease was last taken or renewed
}

func (c *Consumer) runner() (*runner, error) {
	switch {
	case c.Name == "":
		return nil, errors.New("events: a Consumer needs a Name")
	case c.Handle == nil:
		return nil, fmt.Errorf("events: consumer %q needs a Handle", c.Name)
	}
	feed, ok := c.Store.(scim.ChangeFeed)
	if !ok {
		return nil, fmt.Errorf("events: consumer %q: %T keeps no change feed (scim.ChangeFeed)", c.Name, c.Store)
	}
	ledger, ok := c.Store.(scim.ConsumerLedger)
	if !ok {
		return nil, fmt.Errorf("events: consumer %q: %T keeps no consumer positions (scim.ConsumerLedger)", c.Name, c.Store)
	}
	r := &runner{c: c, feed: feed, ledger: ledger, owner: c.Owner, log: c.Logger}
	if c.Transactional {
		if r.txLedger, ok = c.Store.(scim.TxLedger); !ok {
			return nil, fmt.Errorf("events: consumer %q is Transactional, but %T has no transactions (scim.TxLedger)", c.Name, c.Store)
		}
	}
	if r.owner == "" {
		r.owner = defaultOwner()
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	return r, nil
}

// defaultOwner names this process: host, pid and a random part (a
// restarted process is a new owner).
func defaultOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

func (r *runner) lease() time.Duration {
	if r.c.Lease > 0 {
		return r.c.Lease
	}
	return DefaultLease
}

// lead waits until this process holds the lease, and reads the position.
func (r *runner) lead(ctx context.Context) error {
	waiting := false
	for {
		pos, ok, err := r.ledger.Acquire(ctx, r.c.Name, r.owner, r.lease())
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			r.log.ErrorContext(ctx, "events: consumer cannot take its lease; retrying", "consumer", r.c.Name, "err", err)
		case ok:
			r.position, r.renewed = pos, time.Now()
			r.log.InfoContext(ctx, "events: consumer runs", "consumer", r.c.Name, "owner", r.owner, "position", pos)
			return nil
		case !waiting:
			waiting = true
			r.log.InfoContext(ctx, "events: another process runs the consumer; standing by", "consumer", r.c.Name, "owner", r.owner)
		}
		if err := sleep(ctx, r.lease()/3); err != nil {
			return err
		}
	}
}

// renew renews the lease once a third of it has passed.
func (r *runner) renew(ctx context.Context) error {
	if time.Since(r.renewed) < r.lease()/3 {
		return nil
	}
	_, ok, err := r.ledger.Acquire(ctx, r.c.Name, r.owner, r.lease())
	switch {
	case err != nil:
		return err
	case !ok:
		return scim.ErrLeaseLost
	}
	r.renewed = time.Now()
	return nil
}

// consume reads and handles batches while it holds the lease.
func (r *runner) consume(ctx context.Context) error {
	for {
		if err := r.renew(ctx); err != nil {
			return err
		}
		batch := r.c.Batch
		if batch <= 0 {
			batch = DefaultBatch
		}
		changes, err := r.feed.Changes(ctx, scim.ChangeQuery{After: r.position, Limit: batch, AllTenants: r.c.AllTenants})
		switch {
		case errors.Is(err, scim.ErrPositionExpired):
			if err := r.resync(ctx, err); err != nil {
				return err
			}
			continue
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.log.ErrorContext(ctx, "events: consumer cannot read the feed; retrying", "consumer", r.c.Name, "err", err)
			if err := sleep(ctx, time.Second); err != nil {
				return err
			}
			continue
		}
		if len(changes) == 0 {
			wctx, cancel := context.WithTimeout(ctx, r.lease()/3)
			err := r.feed.WaitChanges(wctx, scim.ChangeQuery{After: r.position, AllTenants: r.c.AllTenants})
			cancel()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				r.log.WarnContext(ctx, "events: consumer's wait for changes failed", "consumer", r.c.Name, "err", err)
				if err := sleep(ctx, time.Second); err != nil {
					return err
				}
			}
			continue
		}
		if err := r.handleBatch(ctx, changes); err != nil {
			return err
		}
	}
}

// resync asks Expired where to go on from.
func (r *runner) resync(ctx context.Context, cause error) error {
	if r.c.Expired == nil {
		return fmt.Errorf("events: consumer %q at position %q: %w", r.c.Name, r.position, cause)
	}
	r.log.WarnContext(ctx, "events: consumer's position expired; resynchronising", "consumer", r.c.Name, "position", r.position)
	pos, err := r.c.Expired(ctx)
	if err != nil {
		return fmt.Errorf("events: consumer %q: resynchronising: %w", r.c.Name, err)
	}
	if err := r.ledger.Advance(ctx, r.c.Name, r.owner, pos); err != nil {
		return err
	}
	r.position = pos
	return nil
}

// handleBatch handles changes in order and keeps the position after them.
func (r *runner) handleBatch(ctx context.Context, changes []scim.Change) error {
	for _, ch := range changes {
		if err := r.handle(ctx, ch); err != nil {
			return err
		}
		r.position = ch.Position
	}
	if r.txLedger != nil {
		return nil // each change kept its position with it
	}
	return r.ledger.Advance(ctx, r.c.Name, r.owner, r.position)
}

// handle hands one change to Handle, with retries, then to Failed.
func (r *runner) handle(ctx context.Context, ch scim.Change) error {
	attempts := r.c.MaxAttempts
	if attempts == 0 {
		attempts = DefaultMaxAttempts
	}
	backoff := r.c.MinBackoff
	if backoff <= 0 {
		backoff = DefaultMinBackoff
	}
	maxBackoff := r.c.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = DefaultMaxBackoff
	}
	for attempt := 1; ; attempt++ {
		err := r.call(ctx, ch)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, scim.ErrLeaseLost) || ctx.Err() != nil:
			return err
		}
		log := r.log.With("consumer", r.c.Name, "position", ch.Position, "op", string(ch.Op),
			"resource_type", ch.Type, "id", ch.ID, "tenant", ch.Tenant, "attempt", attempt, "err", err)
		if attempts > 0 && attempt >= attempts {
			log.ErrorContext(ctx, "events: consumer gives up on a change and goes on")
			if r.c.Failed != nil {
				r.c.Failed(ctx, ch, err)
			}
			if r.txLedger != nil { // keep the skip, or it comes back after a restart
				return r.ledger.Advance(ctx, r.c.Name, r.owner, ch.Position)
			}
			return nil
		}
		log.WarnContext(ctx, "events: consumer failed to handle a change; retrying", "backoff", backoff)
		if err := sleep(ctx, backoff); err != nil {
			return err
		}
		if err := r.renew(ctx); err != nil {
			return err
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// call runs Handle once, in a transaction with the position's advance
// when the consumer is Transactional.
func (r *runner) call(ctx context.Context, ch scim.Change) error {
	if r.txLedger == nil {
		return r.c.Handle(ctx, ch)
	}
	return r.txLedger.AdvanceTx(ctx, r.c.Name, r.owner, ch.Position, func(ctx context.Context) error {
		return r.c.Handle(ctx, ch)
	})
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
