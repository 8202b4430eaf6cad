package scim_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// downTokens is a token store whose database is down.
type downTokens struct{ scim.TokenStore }

func (downTokens) TokenByDigest(context.Context, [sha256.Size]byte) (scim.TokenInfo, error) {
	return scim.TokenInfo{}, errors.New("connection refused")
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	store := memstore.NewTokenStore()
	tokens := scim.NewTokens(store)
	s := newServerWithAuth(t, memstore.New(), tokens)

	rw, info, err := tokens.Issue(ctx, scim.Principal{ID: "entra", Tenant: "acme"}, 0)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(rw, "scim_"))
	assert.Equal(t, sha256.Sum256([]byte(rw)), info.Digest, "only the digest is kept")
	ro, _, err := tokens.Issue(ctx, scim.Principal{ID: "auditor", Tenant: "acme", ReadOnly: true}, time.Hour)
	require.NoError(t, err)
	other, _, err := tokens.Issue(ctx, scim.Principal{ID: "okta", Tenant: "globex"}, 0)
	require.NoError(t, err)

	// Read-write and read-only scopes; tenants apart.
	resp := s.doAs(rw, http.MethodPost, "/Users", user("alice"))
	require.Equal(t, http.StatusCreated, resp.status, resp.raw)
	requireError(t, s.doAs(ro, http.MethodPost, "/Users", user("bob")), 403, "")
	assert.EqualValues(t, 1, s.doAs(ro, http.MethodGet, "/Users", nil).body["totalResults"])
	assert.EqualValues(t, 0, s.doAs(other, http.MethodGet, "/Users", nil).body["totalResults"])

	// Rotation: both tokens work until the old one is revoked.
	rotated, _, err := tokens.Issue(ctx, scim.Principal{ID: "entra-2", Tenant: "acme"}, 0)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, s.doAs(rw, http.MethodGet, "/Users", nil).status)
	assert.Equal(t, http.StatusOK, s.doAs(rotated, http.MethodGet, "/Users", nil).status)
	list, err := tokens.List(ctx, "acme")
	require.NoError(t, err)
	require.Len(t, list, 3)
	assert.Equal(t, "entra", list[0].Principal.ID, "oldest first")
	require.NoError(t, tokens.Revoke(ctx, "acme", info.ID))
	requireError(t, s.doAs(rw, http.MethodGet, "/Users", nil), 401, "")
	assert.Equal(t, http.StatusOK, s.doAs(rotated, http.MethodGet, "/Users", nil).status)
	assert.ErrorIs(t, tokens.Revoke(ctx, "acme", info.ID), scim.ErrTokenNotFound)

	// An expired token.
	expired := "scim_expired-secret"
	require.NoError(t, store.SaveToken(ctx, scim.TokenInfo{ID: "old", Digest: sha256.Sum256([]byte(expired)),
		Principal: scim.Principal{Tenant: "acme"}, ExpiresAt: time.Now().Add(-time.Minute)}))
	resp = s.doAs(expired, http.MethodGet, "/Users", nil)
	requireError(t, resp, 401, "")
	assert.Equal(t, "token expired", resp.body["detail"])
	requireError(t, s.doAs("scim_unknown", http.MethodGet, "/Users", nil), 401, "")

	// A token store that fails is 503 with Retry-After, not 401.
	s = newServerWithAuth(t, memstore.New(), scim.NewTokens(downTokens{store}))
	resp = s.doAs(rotated, http.MethodGet, "/Users", nil)
	requireError(t, resp, 503, "")
	assert.NotEmpty(t, resp.header.Get("Retry-After"))
	assert.NotContains(t, resp.raw, "connection refused", "the cause stays in the log")
}
