package scim_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// TestMe: /Me serves the caller's own User, as /Users/{id} does, when the
// token maps to one; otherwise 501.
func TestMe(t *testing.T) {
	ctx := context.Background()
	tokens := scim.NewTokens(memstore.NewTokenStore())
	store := memstore.New()
	admin, _, err := tokens.Issue(ctx, scim.Principal{ID: "admin"}, 0)
	require.NoError(t, err)
	s := newServerWithAuth(t, store, tokens)
	id := s.doAs(admin, http.MethodPost, "/Users", user("bjensen", map[string]any{"title": "Guide"})).body["id"].(string)
	me, _, err := tokens.Issue(ctx, scim.Principal{ID: "bjensen's app", UserID: id}, 0)
	require.NoError(t, err)

	resp := s.doAs(me, http.MethodGet, "/Me", nil)
	require.Equal(t, http.StatusOK, resp.status, resp.raw)
	assert.Equal(t, id, resp.body["id"])
	assert.Equal(t, s.url+"/Users/"+id, resp.body["meta"].(map[string]any)["location"], "the User's own location")
	assert.Equal(t, s.doAs(admin, http.MethodGet, "/Users/"+id, nil).body, resp.body, "the same as /Users/{id}")
	etag := resp.header.Get("ETag")
	require.NotEmpty(t, etag)

	resp = s.doAs(me, http.MethodPatch, "/Me", patchJSON(`{"op":"replace","path":"nickName","value":"Babs"}`), "If-Match", etag)
	require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
	resp = s.doAs(me, http.MethodPut, "/Me", user("bjensen", map[string]any{"title": "Senior Guide"}))
	require.Equal(t, http.StatusOK, resp.status, resp.raw)
	assert.Equal(t, "Senior Guide", resp.body["title"])
	requireError(t, s.doAs(me, http.MethodPatch, "/Me", patchJSON(`{"op":"replace","path":"title","value":"x"}`), "If-Match", etag), 412, "")
	requireError(t, s.doAs(me, http.MethodPost, "/Me", user("x")), 501, "")
	requireError(t, s.doAs(me, http.MethodGet, "/Me/extra", nil), 404, "")

	require.Equal(t, http.StatusNoContent, s.doAs(me, http.MethodDelete, "/Me", nil).status)
	requireError(t, s.doAs(admin, http.MethodGet, "/Users/"+id, nil), 404, "")
	requireError(t, s.doAs(me, http.MethodGet, "/Me", nil), 404, "")

	resp = s.doAs(admin, http.MethodGet, "/Me", nil)
	requireError(t, resp, 501, "")
	assert.Contains(t, resp.body["detail"], "Principal.UserID")
}
