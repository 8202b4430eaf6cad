package scim_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// outageCause is what a store down says; clients must never see it.
const outageCause = "dial tcp 10.0.0.7:5432: connect: connection refused"

// outageStore is a store whose database can go away: while down, every
// call fails with scim.ErrUnavailable (or with err, when set), as a host's
// own store would say it.
type outageStore struct {
	scim.Store // no Viewer, no MembershipPatcher: every path calls the methods below
	down       atomic.Bool
	err        atomic.Pointer[error]
}

func (s *outageStore) fail() error {
	if !s.down.Load() {
		return nil
	}
	if e := s.err.Load(); e != nil {
		return *e
	}
	return fmt.Errorf("mystore: %s: %w", outageCause, scim.ErrUnavailable)
}

func (s *outageStore) Create(ctx context.Context, res *scim.Resource) (*scim.Resource, error) {
	if err := s.fail(); err != nil {
		return nil, err
	}
	return s.Store.Create(ctx, res)
}

func (s *outageStore) Get(ctx context.Context, typ, id string) (*scim.Resource, error) {
	if err := s.fail(); err != nil {
		return nil, err
	}
	return s.Store.Get(ctx, typ, id)
}

func (s *outageStore) Replace(ctx context.Context, res *scim.Resource, version string) (*scim.Resource, error) {
	if err := s.fail(); err != nil {
		return nil, err
	}
	return s.Store.Replace(ctx, res, version)
}

func (s *outageStore) Delete(ctx context.Context, typ, id, version string) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.Store.Delete(ctx, typ, id, version)
}

func (s *outageStore) Query(ctx context.Context, typ string, q scim.Query) (*scim.Page, error) {
	if err := s.fail(); err != nil {
		return nil, err
	}
	return s.Store.Query(ctx, typ, q)
}

// requireUnavailable checks a 503 that tells the client to come back: a
// SCIM error with Retry-After, whose detail says so without the cause.
func requireUnavailable(t *testing.T, resp response) {
	t.Helper()
	requireError(t, resp, http.StatusServiceUnavailable, "")
	assert.Equal(t, "5", resp.header.Get("Retry-After"), "a 503 says when to retry")
	assert.Contains(t, resp.body["detail"], "temporarily unavailable; retry later")
	assert.NotContains(t, resp.raw, "connection refused", "the cause is logged, not sent")
	assert.NotContains(t, resp.raw, "10.0.0.7")
}

// TestStoreUnavailableIs503 checks that a store saying scim.ErrUnavailable
// is a 503 with Retry-After on every path that reaches it, /Bulk's
// operations included, logged once with the request id and the cause, and
// that the service is back when the store is.
func TestStoreUnavailableIs503(t *testing.T) {
	var logs syncBuffer
	store := &outageStore{Store: memstore.New()}
	s := newServerWithStore(t, store, scim.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	uid := s.create("/Users", user("alice"))
	gid := s.create("/Groups", group("staff", uid))
	store.down.Store(true)

	// failures counts the log lines of failed requests with that request id.
	failures := func(id string) int {
		n := 0
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, "scim: request failed") && strings.Contains(line, "request_id="+id+" ") {
				n++
				assert.Contains(t, line, outageCause, "the cause is logged")
			}
		}
		return n
	}
	for i, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/Users/" + uid, nil},
		{http.MethodGet, "/Groups/" + gid, nil},
		{http.MethodGet, "/Users", nil},
		{http.MethodGet, `/Users?filter=userName eq "alice"`, nil},
		{http.MethodPost, "/.search", map[string]any{"schemas": []string{scim.SearchRequestSchema}}},
		{http.MethodPost, "/Users", user("bob")},
		{http.MethodPut, "/Users/" + uid, user("alice")},
		{http.MethodPatch, "/Users/" + uid, map[string]any{"schemas": []string{scim.PatchOpSchema},
			"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": false}}}},
		{http.MethodPatch, "/Groups/" + gid, map[string]any{"schemas": []string{scim.PatchOpSchema},
			"Operations": []any{map[string]any{"op": "remove", "path": `members[value eq "` + uid + `"]`}}}},
		{http.MethodDelete, "/Users/" + uid, nil},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			id := fmt.Sprintf("req-%d", i)
			resp := s.do(c.method, c.path, c.body, "X-Request-Id", id)
			requireUnavailable(t, resp)
			assert.Contains(t, resp.body["detail"], id, "the client gets the request id")
			assert.Equal(t, 1, failures(id), "the cause is logged once, with the request id: %s", logs.String())
		})
	}

	t.Run("Bulk", func(t *testing.T) {
		resp := s.do(http.MethodPost, "/Bulk", map[string]any{
			"schemas": []string{scim.BulkRequestSchema},
			"Operations": []any{
				map[string]any{"method": "POST", "path": "/Users", "bulkId": "b1", "data": user("carol")},
				map[string]any{"method": "PATCH", "path": "/Users/" + uid, "data": map[string]any{"schemas": []string{scim.PatchOpSchema},
					"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": false}}}},
				map[string]any{"method": "DELETE", "path": "/Users/" + uid},
			},
		}, "X-Request-Id", "req-bulk")
		// The BulkResponse itself is 200: each operation has its own status.
		require.Equal(t, http.StatusOK, resp.status, resp.raw)
		ops := resp.body["Operations"].([]any)
		require.Len(t, ops, 3)
		for _, op := range ops {
			op := op.(map[string]any)
			assert.Equal(t, "503", op["status"], "%v", op)
			body := op["response"].(map[string]any)
			assert.Equal(t, []any{scim.ErrorSchema}, body["schemas"])
			assert.Equal(t, "503", body["status"])
			assert.Contains(t, body["detail"], "temporarily unavailable; retry later")
		}
		assert.NotContains(t, resp.raw, "connection refused")
		assert.Equal(t, 3, failures("req-bulk"), "once per operation: %s", logs.String())
	})

	// Errors retrying will not cure stay 500, without Retry-After.
	boom := error(fmt.Errorf("mystore: constraint check failed: %w", errors.New("violates check constraint")))
	store.err.Store(&boom)
	resp := s.do(http.MethodGet, "/Users/"+uid, nil)
	requireError(t, resp, http.StatusInternalServerError, "")
	assert.Empty(t, resp.header.Get("Retry-After"))

	// A client hanging up stays what it was, even when the store also says
	// unavailable: no outage is reported for it.
	cancelled := error(fmt.Errorf("mystore: %w: %w", context.Canceled, scim.ErrUnavailable))
	store.err.Store(&cancelled)
	resp = s.do(http.MethodGet, "/Users/"+uid, nil)
	require.Equal(t, http.StatusServiceUnavailable, resp.status)
	assert.Contains(t, resp.body["detail"], "request cancelled or timed out")

	// The database is back: so is the service, by itself.
	store.err.Store(nil)
	store.down.Store(false)
	assert.Equal(t, http.StatusOK, s.do(http.MethodGet, "/Users/"+uid, nil).status)
	s.create("/Users", user("dave"))
}

// TestDeadlineIs503WithRetryAfter checks that a request whose deadline
// passed in the store, as when a pool has no connection to hand out in
// time, tells the client when to retry.
func TestDeadlineIs503WithRetryAfter(t *testing.T) {
	store := &outageStore{Store: memstore.New()}
	s := newServerWithStore(t, store)
	store.down.Store(true)
	deadline := error(fmt.Errorf("mystore: acquiring a connection: %w", context.DeadlineExceeded))
	store.err.Store(&deadline)
	resp := s.do(http.MethodPost, "/Users", user("erin"))
	requireError(t, resp, http.StatusServiceUnavailable, "")
	assert.Equal(t, "5", resp.header.Get("Retry-After"))
}

// TestAuthenticatorUnavailableIs503: an Authenticator that cannot reach
// its own database says so with ErrUnavailable, as a store does.
func TestAuthenticatorUnavailableIs503(t *testing.T) {
	auth := scim.AuthenticatorFunc(func(*http.Request) (scim.Principal, error) {
		return scim.Principal{}, fmt.Errorf("tokens table: %w", scim.ErrUnavailable)
	})
	s := newServerWithAuth(t, memstore.New(), auth)
	resp := s.do(http.MethodGet, "/Users", nil)
	require.Equal(t, http.StatusServiceUnavailable, resp.status, resp.raw)
	require.NotEmpty(t, resp.header.Get("Retry-After"))
}
