package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/scimkit/scim"
)

// consumer is a durable consumer's entry in a Store's ledger.
type consumer struct {
	position string
	owner    string
	until    time.Time // the owner's lease
}

type consumerKey struct{ tenant, name string }

var _ scim.ConsumerLedger = (*Store)(nil)

// Acquire implements scim.ConsumerLedger. The ledger lives in memory with
// the feed: a restarted process starts both anew.
func (s *Store) Acquire(ctx context.Context, name, owner string, ttl time.Duration) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	f := &s.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	k := consumerKey{scim.TenantFrom(ctx), name}
	c := f.consumers[k]
	if c == nil {
		c = &consumer{}
		f.consumers[k] = c
	}
	now := s.now()
	if c.owner != owner && c.owner != "" && now.Before(c.until) {
		return c.position, false, nil
	}
	c.owner, c.until = owner, now.Add(ttl)
	return c.position, true, nil
}

// Advance implements scim.ConsumerLedger.
func (s *Store) Advance(ctx context.Context, name, owner, position string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f := &s.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.consumers[consumerKey{scim.TenantFrom(ctx), name}]
	if c == nil || c.owner != owner || !s.now().Before(c.until) {
		return fmt.Errorf("memstore: consumer %q: %w", name, scim.ErrLeaseLost)
	}
	c.position = position
	return nil
}

// Release implements scim.ConsumerLedger.
func (s *Store) Release(ctx context.Context, name, owner string) error {
	f := &s.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.consumers[consumerKey{scim.TenantFrom(ctx), name}]; c != nil && c.owner == owner {
		c.owner, c.until = "", time.Time{}
	}
	return nil
}
