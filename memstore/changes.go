package memstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/scimkit/scim"
)

// The change feed's defaults (WithChangeRetention).
const (
	DefaultChangeMaxCount = 10_000
	DefaultChangeMaxAge   = 24 * time.Hour
	defaultChangePage     = 1000
)

// errFeedOff is the error of reading a store made WithoutChangeFeed.
var errFeedOff = errors.New("memstore: the change feed is off (WithoutChangeFeed)")

// WithChangeRetention bounds the change feed (scim.ChangeFeed): changes
// older than r.MaxAge, and all but the newest r.MaxCount, are dropped as
// new ones are recorded. Zero fields keep DefaultChangeMaxAge and
// DefaultChangeMaxCount. The feed lives in memory, like the resources:
// it is lost when the process ends, and a reader's position with it.
func WithChangeRetention(r scim.Retention) Option {
	return func(s *Store) {
		if r.MaxAge > 0 {
			s.feed.retention.MaxAge = r.MaxAge
		}
		if r.MaxCount > 0 {
			s.feed.retention.MaxCount = r.MaxCount
		}
	}
}

// WithoutChangeFeed turns the change feed off: writes record nothing, and
// reading the feed is an error. For hosts that neither consume it nor want
// to pay its memory.
func WithoutChangeFeed() Option {
	return func(s *Store) { s.feed.off = true }
}

// feed is a Store's change feed: one log over all tenants, numbered from
// 1, bounded by its retention. A write records its changes while it holds
// its tenant's write lock, so that a change is readable exactly when its
// write is; the feed's own lock is taken inside tenant locks, never the
// other way round.
type feed struct {
	mu        sync.Mutex
	off       bool
	retention scim.Retention
	ring      []scim.Change // a circular buffer, grown up to MaxCount: the i-th oldest change is at(i)
	head      int           // the index in ring of the oldest change
	n         int           // the changes kept
	first     uint64        // the number of the oldest change kept
	next      uint64        // the number the next change gets
	wake      chan struct{} // closed (and replaced) when changes are recorded and waited for
	waited    bool          // a WaitChanges holds wake
	consumers map[consumerKey]*consumer
}

func newFeed() feed {
	return feed{
		retention: scim.Retention{MaxAge: DefaultChangeMaxAge, MaxCount: DefaultChangeMaxCount},
		first:     1,
		next:      1,
		wake:      make(chan struct{}),
		consumers: map[consumerKey]*consumer{},
	}
}

// record appends changes, stamped at now, and drops what retention no
// longer keeps. The caller holds the write lock of the changes' tenant.
func (f *feed) record(now time.Time, changes ...scim.Change) {
	if f.off || len(changes) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for cut := now.Add(-f.retention.MaxAge); f.n > 0 && f.at(0).Time.Before(cut); {
		f.dropOldest()
	}
	for _, c := range changes {
		c.Time = now
		if f.n == f.retention.MaxCount {
			f.dropOldest()
		}
		if f.n == len(f.ring) { // full, and smaller than MaxCount: grow
			grown := make([]scim.Change, min(max(2*f.n, 64), f.retention.MaxCount))
			for i := range f.n {
				grown[i] = *f.at(i)
			}
			f.ring, f.head = grown, 0
		}
		*f.at(f.n) = c
		f.n++
		f.next++
	}
	if f.waited {
		close(f.wake)
		f.wake, f.waited = make(chan struct{}), false
	}
}

// at returns the i-th oldest change kept. The caller holds f.mu.
func (f *feed) at(i int) *scim.Change { return &f.ring[(f.head+i)%len(f.ring)] }

// dropOldest drops the oldest change kept. The caller holds f.mu.
func (f *feed) dropOldest() {
	*f.at(0) = scim.Change{} // let its strings go
	f.head = (f.head + 1) % len(f.ring)
	f.n--
	f.first++
}

// Changes implements scim.ChangeFeed: the changes after q.After, of the
// context's tenant or (q.AllTenants) of all, in the order they were
// recorded.
func (s *Store) Changes(ctx context.Context, q scim.ChangeQuery) ([]scim.Change, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	after, err := scim.ParsePosition(q.After)
	if err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultChangePage
	}
	tenant := scim.TenantFrom(ctx)
	f := &s.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.off:
		return nil, errFeedOff
	case after >= f.next:
		return nil, fmt.Errorf("memstore: position %q is ahead of the feed: %w", q.After, scim.ErrInvalidPosition)
	case after != 0 && after+1 < f.first:
		return nil, fmt.Errorf("memstore: position %q: %w", q.After, scim.ErrPositionExpired)
	}
	var out []scim.Change
	for i := int(max(after+1, f.first) - f.first); i < f.n && len(out) < limit; i++ {
		if c := *f.at(i); q.AllTenants || c.Tenant == tenant {
			c.Position = scim.FormatPosition(f.first + uint64(i))
			c.Attributes = append([]string(nil), c.Attributes...)
			c.Added = append([]string(nil), c.Added...)
			c.Removed = append([]string(nil), c.Removed...)
			out = append(out, c)
		}
	}
	return out, nil
}

// WaitChanges implements scim.ChangeFeed: it returns once a change after
// q.After of the context's tenant (of any, with q.AllTenants) has been
// recorded, or when ctx ends.
func (s *Store) WaitChanges(ctx context.Context, q scim.ChangeQuery) error {
	n, err := scim.ParsePosition(q.After)
	if err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	tenant := scim.TenantFrom(ctx)
	f := &s.feed
	for {
		f.mu.Lock()
		if f.off {
			f.mu.Unlock()
			return errFeedOff
		}
		ready := false
		for i := f.n - 1; i >= 0 && f.first+uint64(i) > n; i-- { // the newest first: few
			if q.AllTenants || f.at(i).Tenant == tenant {
				ready = true
				break
			}
		}
		wake := f.wake
		f.waited = f.waited || !ready
		f.mu.Unlock()
		if ready {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Head implements scim.ChangeFeed: the position of the newest change.
func (s *Store) Head(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	f := &s.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.off {
		return "", errFeedOff
	}
	if f.next == 1 {
		return "", nil
	}
	return scim.FormatPosition(f.next - 1), nil
}
