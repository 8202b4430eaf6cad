package memstore

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/scimkit/scim"
)

// TokenStore is a scim.TokenStore in memory: tokens by digest and by id,
// under one lock. They last as long as the process; postgres.Store keeps
// them across restarts.
type TokenStore struct {
	mu       sync.RWMutex
	byDigest map[[sha256.Size]byte]*scim.TokenInfo
	byID     map[string]*scim.TokenInfo
}

var _ scim.TokenStore = (*TokenStore)(nil)

// NewTokenStore returns an empty TokenStore.
func NewTokenStore() *TokenStore {
	return &TokenStore{byDigest: map[[sha256.Size]byte]*scim.TokenInfo{}, byID: map[string]*scim.TokenInfo{}}
}

// SaveToken implements scim.TokenStore. A token whose id or digest is taken
// is refused.
func (s *TokenStore) SaveToken(ctx context.Context, t scim.TokenInfo) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID[t.ID] != nil || s.byDigest[t.Digest] != nil {
		return fmt.Errorf("memstore: token %q: %w", t.ID, scim.ErrUniqueness)
	}
	s.byID[t.ID], s.byDigest[t.Digest] = &t, &t
	return nil
}

// TokenByDigest implements scim.TokenStore with one map lookup.
func (s *TokenStore) TokenByDigest(ctx context.Context, digest [sha256.Size]byte) (scim.TokenInfo, error) {
	if err := ctx.Err(); err != nil {
		return scim.TokenInfo{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if t := s.byDigest[digest]; t != nil {
		return *t, nil
	}
	return scim.TokenInfo{}, scim.ErrTokenNotFound
}

// ListTokens implements scim.TokenStore.
func (s *TokenStore) ListTokens(ctx context.Context, tenant string) ([]scim.TokenInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	var out []scim.TokenInfo
	for _, t := range s.byID {
		if t.Principal.Tenant == tenant {
			out = append(out, *t)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b scim.TokenInfo) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// DeleteToken implements scim.TokenStore: another tenant's token is not
// found.
func (s *TokenStore) DeleteToken(ctx context.Context, tenant, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.byID[id]
	if t == nil || t.Principal.Tenant != tenant {
		return fmt.Errorf("memstore: token %q of tenant %q: %w", id, tenant, scim.ErrTokenNotFound)
	}
	delete(s.byID, id)
	delete(s.byDigest, t.Digest)
	return nil
}

// TouchToken implements scim.TokenStore: another tenant's token is not
// found, and a later LastUsedAt stays.
func (s *TokenStore) TouchToken(ctx context.Context, tenant, id string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.byID[id]
	if t == nil || t.Principal.Tenant != tenant {
		return fmt.Errorf("memstore: token %q of tenant %q: %w", id, tenant, scim.ErrTokenNotFound)
	}
	if at.After(t.LastUsedAt) {
		t.LastUsedAt = at
	}
	return nil
}
