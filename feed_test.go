package scim_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// changesAfter reads every change after the position.
func changesAfter(t *testing.T, f scim.ChangeFeed, after string) []scim.Change {
	t.Helper()
	cs, err := f.Changes(context.Background(), scim.ChangeQuery{After: after, AllTenants: true})
	require.NoError(t, err)
	return cs
}

// TestHandlerDescribesEveryWrite checks what the handler tells the store
// of each write kind, as the feed records it.
func TestHandlerDescribesEveryWrite(t *testing.T) {
	store := memstore.New()
	s := newServerWithStore(t, store)
	mark := func() string {
		h, err := store.Head(context.Background())
		require.NoError(t, err)
		return h
	}
	one := func(after string) scim.Change {
		t.Helper()
		cs := changesAfter(t, store, after)
		require.Len(t, cs, 1, "one write, one change: %+v", cs)
		return cs[0]
	}

	start := mark()
	resp := s.do(http.MethodPost, "/Users", user("ada", map[string]any{"externalId": "e-ada", "active": true}), "X-Request-Id", "req-post")
	require.Equal(t, http.StatusCreated, resp.status, resp.raw)
	uid := resp.body["id"].(string)
	c := one(start)
	assert.Equal(t, scim.ChangeCreate, c.Op)
	assert.Equal(t, "User", c.Type)
	assert.Equal(t, uid, c.ID)
	assert.Equal(t, "e-ada", c.ExternalID)
	assert.Equal(t, "writer", c.Principal)
	assert.Equal(t, "req-post", c.RequestID)
	assert.NotEmpty(t, c.Txn)
	assert.Equal(t, strings.Trim(strings.TrimPrefix(resp.header.Get("ETag"), "W/"), `"`), c.Version)
	assert.Equal(t, []string{"active", "externalId", "userName"}, c.Attributes)

	at := mark()
	resp = s.do(http.MethodPatch, "/Users/"+uid, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "Replace", "path": "active", "value": "False"}},
	})
	require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
	c = one(at)
	assert.Equal(t, scim.ChangePatch, c.Op)
	assert.True(t, c.Deactivated)
	assert.False(t, c.Activated)
	assert.Equal(t, []string{"active"}, c.Attributes)

	at = mark()
	resp = s.do(http.MethodPut, "/Users/"+uid, user("ada", map[string]any{"externalId": "e-ada", "active": true, "title": "Engineer"}))
	require.Equal(t, http.StatusOK, resp.status, resp.raw)
	c = one(at)
	assert.Equal(t, scim.ChangeReplace, c.Op)
	assert.True(t, c.Activated)
	assert.Equal(t, []string{"active", "title"}, c.Attributes)

	at = mark()
	resp = s.do(http.MethodPut, "/Users/"+uid, user("ada", map[string]any{"externalId": "e-ada", "active": true, "title": "Engineer"}))
	require.Equal(t, http.StatusOK, resp.status, resp.raw)
	assert.Empty(t, changesAfter(t, store, at), "a write that changes nothing records nothing")
	resp = s.do(http.MethodPost, "/Users", user("ADA"))
	require.Equal(t, http.StatusConflict, resp.status, resp.raw)
	assert.Empty(t, changesAfter(t, store, at), "a refused write records nothing")

	gid := s.create("/Groups", group("Staff"))
	at = mark()
	resp = s.do(http.MethodPatch, "/Groups/"+gid, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": uid}}}},
	})
	require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
	c = one(at)
	assert.Equal(t, scim.ChangePatch, c.Op, "the MembershipPatcher path")
	assert.Equal(t, []string{uid}, c.Added)
	assert.Equal(t, []string{"members"}, c.Attributes)

	at = mark()
	resp = s.do(http.MethodDelete, "/Users/"+uid, nil)
	require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
	cs := changesAfter(t, store, at)
	require.Len(t, cs, 2)
	assert.Equal(t, scim.ChangeDelete, cs[0].Op)
	assert.Equal(t, uid, cs[0].ID)
	assert.True(t, cs[1].Cascade)
	assert.Equal(t, gid, cs[1].ID)
	assert.Equal(t, []string{uid}, cs[1].Removed)
	assert.Equal(t, cs[0].Txn, cs[1].Txn, "a cascade shares the delete's transaction")

	at = mark()
	resp = s.do(http.MethodPost, "/Bulk", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:BulkRequest"},
		"Operations": []any{
			map[string]any{"method": "POST", "path": "/Users", "bulkId": "a", "data": user("bob")},
			map[string]any{"method": "POST", "path": "/Groups", "bulkId": "g", "data": group("Team", "bulkId:a")},
		},
	})
	require.Equal(t, http.StatusOK, resp.status, resp.raw)
	cs = changesAfter(t, store, at)
	require.Len(t, cs, 2)
	txn, _, ok := strings.Cut(cs[0].Txn, ":")
	require.True(t, ok, "a /Bulk operation's transaction is txn:index, got %q", cs[0].Txn)
	assert.Equal(t, txn+":0", cs[0].Txn)
	assert.Equal(t, txn+":1", cs[1].Txn)
	assert.Equal(t, []string{cs[0].ID}, cs[1].Added)
}
