package scim_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// countingTokens counts a TokenStore's reads by digest and touches.
type countingTokens struct {
	scim.TokenStore
	mu             sync.Mutex
	reads, touches int
	touchErr       error
}

func (s *countingTokens) TokenByDigest(ctx context.Context, d [32]byte) (scim.TokenInfo, error) {
	s.mu.Lock()
	s.reads++
	s.mu.Unlock()
	return s.TokenStore.TokenByDigest(ctx, d)
}

func (s *countingTokens) TouchToken(ctx context.Context, tenant, id string, at time.Time) error {
	s.mu.Lock()
	s.touches++
	err := s.touchErr
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.TokenStore.TouchToken(ctx, tenant, id, at)
}

func (s *countingTokens) counts() (reads, touches int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads, s.touches
}

// bearerRequest is a request with the token secret.
func bearerRequest(secret string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/scim/v2/Users", nil)
	r.Header.Set("Authorization", "Bearer "+secret)
	return r
}

// TestTokensRevokeScopedByTenant: revoking another tenant's token id is
// ErrTokenNotFound and that token keeps working; List shows a tenant its
// own tokens only.
func TestTokensRevokeScopedByTenant(t *testing.T) {
	ctx := context.Background()
	tokens := scim.NewTokens(memstore.NewTokenStore())
	acme, acmeInfo, err := tokens.Issue(ctx, scim.Principal{ID: "entra", Tenant: "acme"}, 0)
	require.NoError(t, err)
	_, globexInfo, err := tokens.Issue(ctx, scim.Principal{ID: "okta", Tenant: "globex"}, 0)
	require.NoError(t, err)

	for _, tenant := range []string{"globex", "", "ACME"} {
		assert.ErrorIs(t, tokens.Revoke(ctx, tenant, acmeInfo.ID), scim.ErrTokenNotFound, "tenant %q revoking acme's token", tenant)
	}
	p, err := tokens.Authenticate(bearerRequest(acme))
	require.NoError(t, err, "a revocation by another tenant leaves the token working")
	assert.Equal(t, "acme", p.Tenant)
	list, err := tokens.List(ctx, "globex")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, globexInfo.ID, list[0].ID, "globex lists its own token only")

	require.NoError(t, tokens.Revoke(ctx, "acme", acmeInfo.ID))
	_, err = tokens.Authenticate(bearerRequest(acme))
	assert.ErrorIs(t, err, scim.ErrUnauthenticated)
	assert.ErrorIs(t, tokens.Revoke(ctx, "acme", acmeInfo.ID), scim.ErrTokenNotFound, "revoked already")
}

// TestTokensNameAndLastUse: a token's name, and its last use written at
// most once per LastUsedResolution, so that authenticating stays one read;
// the clock option drives it, and expiry too.
func TestTokensNameAndLastUse(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	store := &countingTokens{TokenStore: memstore.NewTokenStore()}
	tokens := scim.NewTokens(store, scim.WithTokenClock(clock))

	secret, info, err := tokens.Issue(ctx, scim.Principal{ID: "entra", Tenant: "acme"}, 2*time.Hour, scim.TokenName("Entra ID, production"))
	require.NoError(t, err)
	assert.Equal(t, "Entra ID, production", info.Name)
	assert.Equal(t, now, info.CreatedAt, "the clock option sets CreatedAt")
	assert.Equal(t, now.Add(2*time.Hour), info.ExpiresAt)
	lastUse := func() time.Time {
		t.Helper()
		list, err := tokens.List(ctx, "acme")
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.Equal(t, "Entra ID, production", list[0].Name, "List shows the name")
		return list[0].LastUsedAt
	}
	assert.True(t, lastUse().IsZero(), "never used")

	first := now
	for range 10 {
		_, err := tokens.Authenticate(bearerRequest(secret))
		require.NoError(t, err)
	}
	reads, touches := store.counts()
	assert.Equal(t, 10, reads, "one read per authentication")
	assert.Equal(t, 1, touches, "one write of the last use in the minute")
	assert.Equal(t, first, lastUse())

	advance(scim.LastUsedResolution - time.Second)
	_, err = tokens.Authenticate(bearerRequest(secret))
	require.NoError(t, err)
	_, touches = store.counts()
	assert.Equal(t, 1, touches, "within the minute: no write")
	assert.Equal(t, first, lastUse())

	advance(time.Second)
	_, err = tokens.Authenticate(bearerRequest(secret))
	require.NoError(t, err)
	_, touches = store.counts()
	assert.Equal(t, 2, touches, "a minute later: written again")
	assert.Equal(t, first.Add(scim.LastUsedResolution), lastUse())

	// A store that cannot write the last use still authenticates.
	advance(time.Hour)
	store.touchErr = errors.New("read-only replica")
	_, err = tokens.Authenticate(bearerRequest(secret))
	require.NoError(t, err)
	store.touchErr = nil

	// Expiry follows the clock.
	advance(time.Hour)
	_, err = tokens.Authenticate(bearerRequest(secret))
	assert.ErrorIs(t, err, scim.ErrTokenExpired)

	// WithoutLastUsed only reads.
	quiet := &countingTokens{TokenStore: memstore.NewTokenStore()}
	qt := scim.NewTokens(quiet, scim.WithoutLastUsed())
	qs, _, err := qt.Issue(ctx, scim.Principal{ID: "okta"}, 0)
	require.NoError(t, err)
	_, err = qt.Authenticate(bearerRequest(qs))
	require.NoError(t, err)
	reads, touches = quiet.counts()
	assert.Equal(t, []int{1, 0}, []int{reads, touches})
}

// TestTokenNames: names for people, refused when they could garble a list
// or a log.
func TestTokenNames(t *testing.T) {
	tokens := scim.NewTokens(memstore.NewTokenStore())
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"", true},
		{"Entra ID — Zürich office", true},
		{strings.Repeat("x", scim.MaxTokenNameLength), true},
		{strings.Repeat("x", scim.MaxTokenNameLength+1), false},
		{"two\nlines", false},
		{"bell\a", false},
		{"nul\x00", false},
		{"bad \xff utf-8", false},
	} {
		_, info, err := tokens.Issue(context.Background(), scim.Principal{ID: "idp"}, 0, scim.TokenName(tc.name))
		if tc.ok {
			assert.NoError(t, err, "%q", tc.name)
			assert.Equal(t, tc.name, info.Name)
		} else {
			assert.ErrorIs(t, err, scim.ErrInvalidTokenName, "%q", tc.name)
		}
	}
	list, err := tokens.List(context.Background(), "")
	require.NoError(t, err)
	assert.Len(t, list, 3, "refused names store nothing")
}
