package scim_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// TestBeforeCreateSeesID: the new resource's id is set when BeforeCreate
// runs, and it is the id the resource is stored under, that the response
// and its Location carry, and that the after hooks and the membership
// hooks of a new Group see.
func TestBeforeCreateSeesID(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]string{} // hook → ids
	record := func(hook, id string) {
		mu.Lock()
		defer mu.Unlock()
		seen[hook] = append(seen[hook], id)
	}
	store := memstore.New()
	s := newServerWithStore(t, store, scim.WithHooks(scim.Hooks{
		BeforeCreate:  func(_ context.Context, r *scim.Resource) error { record("BeforeCreate", r.ID); return nil },
		AfterCreate:   func(_ context.Context, r *scim.Resource) error { record("AfterCreate", r.ID); return nil },
		BeforeMembers: func(_ context.Context, m *scim.Membership) error { record("BeforeMembers", m.Group); return nil },
		AfterMembers:  func(_ context.Context, m *scim.Membership) error { record("AfterMembers", m.Group); return nil },
	}))
	for _, tc := range []struct {
		endpoint string
		body     func() map[string]any
		hooks    []string
	}{
		{"/Users", func() map[string]any { return user("alice") }, []string{"BeforeCreate", "AfterCreate"}},
		{"/Groups", func() map[string]any { seedUsers(t, store, "m1"); return group("staff", "m1") }, []string{"BeforeCreate", "BeforeMembers", "AfterCreate", "AfterMembers"}},
	} {
		t.Run(tc.endpoint, func(t *testing.T) {
			mu.Lock()
			clear(seen)
			mu.Unlock()
			resp := s.do(http.MethodPost, tc.endpoint, tc.body())
			require.Equal(t, http.StatusCreated, resp.status, resp.raw)
			id, _ := resp.body["id"].(string)
			require.NotEmpty(t, id)
			assert.True(t, strings.HasSuffix(resp.header.Get("Location"), tc.endpoint+"/"+id), resp.header.Get("Location"))
			mu.Lock()
			defer mu.Unlock()
			for _, hook := range tc.hooks {
				assert.Equal(t, []string{id}, seen[hook], "%s sees the id the resource is stored under", hook)
			}
		})
	}
}

// TestHookContextWhenClientHangsUp: a real client that disconnects
// mid-request. A before hook's context is the request's, cancelled by the
// hang-up, and the write is abandoned; an after hook's context keeps the
// request's values but is not cancelled: the write has committed, and the
// hook can still use the store with it.
func TestHookContextWhenClientHangsUp(t *testing.T) {
	store := memstore.New()
	var (
		reqCtx  atomic.Pointer[context.Context] // the request's context as net/http made it
		entered = make(chan string, 1)
		mu      sync.Mutex
		got     = map[string]error{} // hook → its context's error once the server saw the hang-up
		values  = map[string]string{}
	)
	// hold blocks a hook until net/http has cancelled the request's
	// context (the client is gone), then records the hook's own context.
	hold := func(ctx context.Context, hook string) error {
		entered <- hook
		select {
		case <-(*reqCtx.Load()).Done():
		case <-time.After(10 * time.Second):
			return errors.New("the server never saw the client hang up")
		}
		mu.Lock()
		defer mu.Unlock()
		got[hook] = ctx.Err()
		values[hook] = fmt.Sprintf("request id set: %v, tenant: %q", scim.RequestIDFrom(ctx) != "", scim.TenantFrom(ctx))
		if ctx.Err() == nil {
			if _, err := store.Query(ctx, "User", scim.Query{StartIndex: 1, Count: 1}); err != nil {
				got[hook] = fmt.Errorf("the store refused the hook's context: %w", err)
			}
		}
		return nil
	}
	only := func(name string) func(ctx context.Context, r *scim.Resource) error {
		return func(ctx context.Context, r *scim.Resource) error {
			if n, _ := r.Attributes["userName"].(string); n == name {
				return hold(ctx, "for "+name)
			}
			return nil
		}
	}
	auth := scim.NewBearerTokens(scim.Token{Secret: "rw", Principal: scim.Principal{ID: "writer", Tenant: "acme"}})
	h, err := scim.New(store, auth, scim.WithHooks(scim.Hooks{
		BeforeCreate: only("hangs-up-before"),
		AfterCreate:  only("hangs-up-after"),
		AfterUpdate:  func(ctx context.Context, u *scim.Update) error { return hold(ctx, "AfterUpdate") },
		AfterDelete:  func(ctx context.Context, r *scim.Resource) error { return hold(ctx, "AfterDelete") },
	}))
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		reqCtx.Store(&ctx)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s := &server{t: t, srv: srv, url: srv.URL}
	// A client of its own, so that cancelling closes its connection.
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	hangUp := func(method, path, body string) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer rw")
		req.Header.Set("Content-Type", "application/scim+json")
		done := make(chan error, 1)
		go func() {
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		select {
		case <-entered:
		case err := <-done:
			t.Fatalf("the request ended before its hook ran: %v", err)
		}
		cancel() // the client hangs up while the hook runs
		assert.ErrorIs(t, <-done, context.Canceled)
	}
	waitFor := func(hook string) error {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			mu.Lock()
			err, ok := got[hook]
			mu.Unlock()
			if ok {
				return err
			}
		}
		t.Fatalf("%s did not finish", hook)
		return nil
	}

	t.Run("BeforeCreate", func(t *testing.T) {
		hangUp(http.MethodPost, "/Users", `{"schemas":["`+scim.UserSchema+`"],"userName":"hangs-up-before"}`)
		assert.ErrorIs(t, waitFor("for hangs-up-before"), context.Canceled, "a before hook's context is cancelled when the client hangs up")
		resp := s.do(http.MethodGet, `/Users?filter=userName eq "hangs-up-before"`, nil)
		assert.EqualValues(t, 0, resp.body["totalResults"], "the abandoned create wrote nothing")
	})
	t.Run("AfterCreate", func(t *testing.T) {
		hangUp(http.MethodPost, "/Users", `{"schemas":["`+scim.UserSchema+`"],"userName":"hangs-up-after"}`)
		assert.NoError(t, waitFor("for hangs-up-after"), "an after hook's context is not cancelled when the client hangs up")
		assert.Equal(t, `request id set: true, tenant: "acme"`, values["for hangs-up-after"], "it keeps the request's values")
		resp := s.do(http.MethodGet, `/Users?filter=userName eq "hangs-up-after"`, nil)
		assert.EqualValues(t, 1, resp.body["totalResults"], "the create committed")
	})
	id := s.create("/Users", user("bob"))
	t.Run("AfterUpdate", func(t *testing.T) {
		hangUp(http.MethodPatch, "/Users/"+id, `{"schemas":["`+scim.PatchOpSchema+`"],"Operations":[{"op":"replace","path":"title","value":"x"}]}`)
		assert.NoError(t, waitFor("AfterUpdate"))
	})
	t.Run("AfterDelete", func(t *testing.T) {
		hangUp(http.MethodDelete, "/Users/"+id, "")
		assert.NoError(t, waitFor("AfterDelete"))
		assert.Equal(t, `request id set: true, tenant: "acme"`, values["AfterDelete"])
	})
}

// orderWriter records, in the log the hooks write to, when the response
// starts.
type orderWriter struct {
	*httptest.ResponseRecorder
	log *hookLog
}

func (w orderWriter) WriteHeader(code int) {
	w.log.add("response %d", code)
	w.ResponseRecorder.WriteHeader(code)
}

func (w orderWriter) Write(b []byte) (int, error) {
	if !w.ResponseRecorder.Flushed && w.ResponseRecorder.Code == 0 {
		w.log.add("response 200")
	}
	return w.ResponseRecorder.Write(b)
}

// TestAfterHooksRunBeforeResponse: on every write path the after hooks
// have returned before the response starts.
func TestAfterHooksRunBeforeResponse(t *testing.T) {
	for _, native := range []bool{true, false} {
		t.Run(fmt.Sprintf("native=%v", native), func(t *testing.T) {
			var store scim.Store = memstore.New()
			if !native {
				store = plainStore{store}
			}
			var log hookLog
			h, err := scim.New(store, scim.NewBearerTokens(scim.Token{Secret: "rw"}), scim.WithHooks(log.hooks()))
			require.NoError(t, err)
			do := func(method, path, body string) *httptest.ResponseRecorder {
				t.Helper()
				r := httptest.NewRequest(method, "/scim/v2"+path, strings.NewReader(body))
				r.Header.Set("Authorization", "Bearer rw")
				if body != "" {
					r.Header.Set("Content-Type", "application/scim+json")
				}
				w := orderWriter{ResponseRecorder: httptest.NewRecorder(), log: &log}
				h.ServeHTTP(w, r)
				require.Less(t, w.Code, 300, w.Body.String())
				return w.ResponseRecorder
			}
			created := func(w *httptest.ResponseRecorder) string {
				loc := w.Header().Get("Location")
				return loc[strings.LastIndexByte(loc, '/')+1:]
			}
			patch := func(ops ...string) string {
				return `{"schemas":["` + scim.PatchOpSchema + `"],"Operations":[` + strings.Join(ops, ",") + `]}`
			}
			u1 := created(do(http.MethodPost, "/Users", `{"schemas":["`+scim.UserSchema+`"],"userName":"u1"}`))
			u2 := created(do(http.MethodPost, "/Users", `{"schemas":["`+scim.UserSchema+`"],"userName":"u2"}`))
			log.take()
			for _, tc := range []struct {
				name         string
				method, path string
				body         func() string
				hooks        int // after hooks that run
			}{
				{"create", http.MethodPost, "/Users", func() string { return `{"schemas":["` + scim.UserSchema + `"],"userName":"u3"}` }, 1},
				{"create Group", http.MethodPost, "/Groups", func() string {
					return `{"schemas":["` + scim.GroupSchema + `"],"displayName":"g","members":[{"value":"` + u1 + `"}]}`
				}, 2},
				{"PUT", http.MethodPut, "/Users/" + u2, func() string { return `{"schemas":["` + scim.UserSchema + `"],"userName":"u2","title":"t"}` }, 1},
				{"PATCH", http.MethodPatch, "/Users/" + u2, func() string { return patch(`{"op":"replace","path":"title","value":"x"}`) }, 1},
				{"PATCH members", http.MethodPatch, "/Groups/", func() string { return patch(`{"op":"add","path":"members","value":[{"value":"` + u2 + `"}]}`) }, 1},
				{"PATCH rename and members", http.MethodPatch, "/Groups/", func() string {
					return patch(`{"op":"replace","path":"displayName","value":"G"}`, `{"op":"remove","path":"members[value eq \"`+u2+`\"]"}`)
				}, 2},
				{"DELETE with cascade", http.MethodDelete, "/Users/" + u1, func() string { return "" }, 2},
				{"Bulk", http.MethodPost, "/Bulk", func() string {
					return `{"schemas":["` + scim.BulkRequestSchema + `"],"Operations":[{"method":"POST","path":"/Users","bulkId":"b","data":{"schemas":["` + scim.UserSchema + `"],"userName":"u4"}}]}`
				}, 1},
			} {
				path := tc.path
				if path == "/Groups/" {
					path += groupID(t, h)
				}
				do(tc.method, path, tc.body())
				calls := log.take("After", "response")
				require.Len(t, calls, tc.hooks+1, "%s: %q", tc.name, calls)
				assert.True(t, strings.HasPrefix(calls[len(calls)-1], "response"), "%s: the after hooks return before the response starts: %q", tc.name, calls)
			}
		})
	}
}

// groupID returns the id of the only Group h serves.
func groupID(t *testing.T, h http.Handler) string {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/scim/v2/Groups?attributes=id", nil)
	r.Header.Set("Authorization", "Bearer rw")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	body := w.Body.String()
	_, rest, ok := strings.Cut(body, `"id":"`)
	require.True(t, ok, body)
	id, _, _ := strings.Cut(rest, `"`)
	return id
}
