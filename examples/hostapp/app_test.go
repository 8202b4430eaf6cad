package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// call sends a request to the app and decodes a JSON answer.
func call(t *testing.T, srv *httptest.Server, token, method, path, body string) (int, map[string]any, []any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var obj map[string]any
	var list []any
	if json.Unmarshal(raw, &obj) != nil {
		_ = json.Unmarshal(raw, &list)
	}
	return resp.StatusCode, obj, list
}

func scimUser(userName string) string {
	return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + userName + `","active":true,"emails":[{"value":"` + userName + `@example.com","primary":true}]}`
}

const deactivate = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`

// TestHostApp runs the example end to end: tokens issued and revoked
// through the admin route, users provisioned through SCIM, and the app's
// own table following through its hooks.
func TestHostApp(t *testing.T) {
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h, err := newApp(ctx, config{admin: "admin-secret", seats: 2, logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()

	status, _, _ := call(t, srv, "wrong", http.MethodPost, "/admin/tokens?name=entra", "")
	require.Equal(t, http.StatusUnauthorized, status)
	status, issued, _ := call(t, srv, "admin-secret", http.MethodPost, "/admin/tokens?name=entra&days=365", "")
	require.Equal(t, http.StatusCreated, status)
	token := issued["token"].(string)

	// The first user owns the company; invites go out; seats run out.
	ids := map[string]string{}
	for _, name := range []string{"olivia", "bjensen", "carl"} {
		status, body, _ := call(t, srv, token, http.MethodPost, "/scim/v2/Users", scimUser(name))
		require.Equal(t, http.StatusCreated, status, "%v", body)
		ids[name] = body["id"].(string)
	}
	for _, name := range []string{"olivia", "bjensen", "carl"} {
		assert.Eventually(t, func() bool { return strings.Contains(logs.String(), `msg="invite sent" userName=`+name) },
			5*time.Second, 5*time.Millisecond, "the invite sender, a consumer of the change feed, invites %s", name)
	}
	_, table, _ := call(t, srv, "", http.MethodGet, "/users", "")
	users := table["users"].(map[string]any)
	assert.Equal(t, true, users[ids["olivia"]].(map[string]any)["owner"])
	assert.Equal(t, false, users[ids["carl"]].(map[string]any)["licensed"], "two seats for three users")
	assert.EqualValues(t, 0, table["freeSeats"])

	// Deactivating the only owner is refused with the host's own answer.
	status, body, _ := call(t, srv, token, http.MethodPatch, "/scim/v2/Users/"+ids["olivia"], deactivate)
	assert.Equal(t, http.StatusConflict, status)
	assert.Contains(t, body["detail"], "only owner")
	status, body, _ = call(t, srv, token, http.MethodGet, "/scim/v2/Users/"+ids["olivia"], "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, true, body["active"], "nothing was written")

	// Deactivating someone else frees their seat.
	status, _, _ = call(t, srv, token, http.MethodPatch, "/scim/v2/Users/"+ids["bjensen"], deactivate)
	require.Equal(t, http.StatusNoContent, status)
	_, table, _ = call(t, srv, "", http.MethodGet, "/users", "")
	assert.Equal(t, false, table["users"].(map[string]any)[ids["bjensen"]].(map[string]any)["licensed"])
	assert.EqualValues(t, 1, table["freeSeats"])
	assert.Contains(t, logs.String(), "licence freed")

	// Rotation and revocation through the admin routes.
	_, second, _ := call(t, srv, "admin-secret", http.MethodPost, "/admin/tokens?name=entra-2", "")
	_, _, list := call(t, srv, "admin-secret", http.MethodGet, "/admin/tokens", "")
	require.Len(t, list, 2)
	assert.NotContains(t, list[0], "token", "secrets are shown once")
	status, _, _ = call(t, srv, "admin-secret", http.MethodDelete, "/admin/tokens/"+issued["id"].(string), "")
	require.Equal(t, http.StatusNoContent, status)
	status, _, _ = call(t, srv, token, http.MethodGet, "/scim/v2/Users", "")
	assert.Equal(t, http.StatusUnauthorized, status, "a revoked token is refused")
	status, _, _ = call(t, srv, second["token"].(string), http.MethodGet, "/scim/v2/Users", "")
	assert.Equal(t, http.StatusOK, status)
	assert.NotContains(t, logs.String(), second["token"].(string), "tokens never reach the log")
}

// syncBuffer is a bytes.Buffer safe for the logger's and the test's
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
