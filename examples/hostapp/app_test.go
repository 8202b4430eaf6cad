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

// TestHostApp runs the app's own routes: tokens issued, listed and
// revoked through the admin route, and what a revoked token gets.
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

	// The identity provider's cycles, the accounts, seats, invites and the
	// owner's protection are TestHostAppUnderIdentityProviders'.
	status, _, _ = call(t, srv, token, http.MethodGet, "/scim/v2/Users", "")
	require.Equal(t, http.StatusOK, status)

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
