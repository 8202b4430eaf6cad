package scim_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// syncBuffer is a log sink safe for the handler's concurrent writes.
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

// leakyStore fails the way a database store does, with causes that must
// stay out of responses: SQL, a Go type, a panic.
type leakyStore struct {
	scim.Store
	mode string
}

type dbError struct{ query string }

func (e *dbError) Error() string { return "pq: relation \"scim_users\" does not exist: " + e.query }

func (s *leakyStore) fail() error {
	switch s.mode {
	case "sql":
		return fmt.Errorf("postgres store: query users: %w", &dbError{query: "SELECT * FROM scim_users WHERE tenant = $1"})
	case "panic":
		panic(fmt.Sprintf("runtime error: index out of range [3] with length 3 in *postgres.Store %p", s))
	case "scimError":
		return &scim.Error{Status: 200, Detail: "secret detail from *postgres.row"}
	}
	return nil
}

func (s *leakyStore) Get(ctx context.Context, typ, id string) (*scim.Resource, error) {
	if err := s.fail(); err != nil {
		return nil, err
	}
	return s.Store.Get(ctx, typ, id)
}

func (s *leakyStore) Query(ctx context.Context, typ string, q scim.Query) (*scim.Page, error) {
	if err := s.fail(); err != nil {
		return nil, err
	}
	return s.Store.Query(ctx, typ, q)
}

func (s *leakyStore) Create(ctx context.Context, res *scim.Resource) (*scim.Resource, error) {
	if err := s.fail(); err != nil {
		return nil, err
	}
	return s.Store.Create(ctx, res)
}

// TestErrorsNeverCarryInternalErrors: a failing store is a 500 whose detail
// is generic with a request id; the cause is logged under that id.
func TestErrorsNeverCarryInternalErrors(t *testing.T) {
	for _, mode := range []string{"sql", "panic", "scimError"} {
		t.Run(mode, func(t *testing.T) {
			var logs syncBuffer
			store := &leakyStore{Store: memstore.New(), mode: mode}
			s := newServerWithStore(t, store, scim.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
			for _, req := range []struct{ method, path string }{
				{"GET", "/Users/x"}, {"GET", "/Users?filter=userName pr"}, {"POST", "/Users"}, {"PATCH", "/Users/x"},
			} {
				var body any
				if req.method == "POST" {
					body = user("leak")
				} else if req.method == "PATCH" {
					body = patchOps(`{"op":"add","path":"nickName","value":"x"}`)
				}
				resp := s.do(req.method, req.path, body)
				requireError(t, resp, http.StatusInternalServerError, "")
				for _, secret := range []string{"pq:", "scim_users", "SELECT", "postgres", "runtime error", "*", "secret detail", "0x"} {
					assert.NotContains(t, resp.raw, secret, "%s %s", req.method, req.path)
				}
				m := regexp.MustCompile(`^internal server error \(request id ([0-9a-f-]{36})\)$`).FindStringSubmatch(resp.body["detail"].(string))
				require.NotNil(t, m, resp.raw)
				assert.Contains(t, logs.String(), `"request_id":"`+m[1]+`"`, "the log ties the cause to the id")
			}
			if mode != "panic" { // a panic fails the whole bulk request, as above
				resp := s.do(http.MethodPost, "/Bulk", map[string]any{"schemas": []string{scim.BulkRequestSchema}, "Operations": []any{
					map[string]any{"method": "POST", "path": "/Users", "bulkId": "b1", "data": user("leak")}}})
				require.Equal(t, http.StatusOK, resp.status, resp.raw)
				for _, secret := range []string{"pq:", "scim_users", "SELECT", "postgres", "secret detail"} {
					assert.NotContains(t, resp.raw, secret, "bulk")
				}
				assert.Regexp(t, `internal server error \(request id [0-9a-f-]{36}\)`, resp.raw)
			}
			cause := map[string]string{"sql": "scim_users", "panic": "index out of range", "scimError": "secret detail"}[mode]
			assert.Contains(t, logs.String(), cause, "the cause is logged")
		})
	}
}

// TestTokensNeverInLogsOrErrors sends right, wrong and expired tokens to a
// handler whose store fails now and then, and finds none of them in the
// log or a response body.
func TestTokensNeverInLogsOrErrors(t *testing.T) {
	var logs syncBuffer
	auth := scim.NewBearerTokens(
		scim.Token{Secret: "rw-secret-4f2a", Principal: scim.Principal{ID: "writer"}},
		scim.Token{Secret: "expired-secret-9c1d", Principal: scim.Principal{ID: "old"}, ExpiresAt: time.Now().Add(-time.Hour)},
	)
	store := &leakyStore{Store: memstore.New(), mode: "sql"}
	h, err := scim.New(store, auth, scim.WithLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	require.NoError(t, err)
	srv := mount(t, "/scim/v2/", h)
	var bodies strings.Builder
	for _, tok := range []string{"rw-secret-4f2a", "expired-secret-9c1d", "wrong-secret-77aa", "Basic cnctc2VjcmV0LTRmMmE="} {
		for _, p := range []string{"/Users", "/Users/x", "/Groups?filter=displayName pr", "/Bulk"} {
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/scim/v2"+escapeQuery(p), nil)
			require.NoError(t, err)
			if strings.HasPrefix(tok, "Basic ") {
				req.Header.Set("Authorization", tok)
			} else {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			resp.Body.Close()
			bodies.WriteString(b.String())
			for k, vs := range resp.Header {
				bodies.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
			}
		}
	}
	require.NotEmpty(t, logs.String(), "the failing store was logged")
	for _, secret := range []string{"rw-secret-4f2a", "expired-secret-9c1d", "wrong-secret-77aa", "cnctc2VjcmV0LTRmMmE"} {
		assert.NotContains(t, logs.String(), secret)
		assert.NotContains(t, bodies.String(), secret)
	}
}

// Test401RevealsNothing: without a valid token, an existing resource, a
// missing one and a missing endpoint get the same answer.
func Test401RevealsNothing(t *testing.T) {
	s := newServer(t)
	id := s.create("/Users", user("exists"))
	g := s.create("/Groups", group("g", id))
	for _, tok := range []string{"", "wrong"} {
		var first *response
		for _, p := range []string{"/Users/" + id, "/Users/missing", "/Groups/" + g, "/Nope", "/Users?filter=userName eq \"exists\"", "/Bulk", "/ServiceProviderConfig"} {
			for _, method := range []string{http.MethodGet, http.MethodDelete, http.MethodPatch} {
				resp := s.doAs(tok, method, p, nil)
				require.Equal(t, http.StatusUnauthorized, resp.status, "%s %s", method, p)
				assert.Equal(t, `Bearer realm="scim"`, resp.header.Get("WWW-Authenticate"))
				assert.Empty(t, resp.header.Get("ETag"))
				assert.Empty(t, resp.header.Get("Location"))
				if first == nil {
					first = &resp
					continue
				}
				assert.Equal(t, first.raw, resp.raw, "%s %s", method, p)
			}
		}
	}
	assert.Equal(t, http.StatusOK, s.do(http.MethodGet, "/Users/"+id, nil).status, "the resource is still there")
}

// TestReadOnlyTokenCannotWrite tries every write method on every endpoint
// with a read-only token: none is served and the store is unchanged; POST
// /.search, a read, is served at the root and per type.
func TestReadOnlyTokenCannotWrite(t *testing.T) {
	store := memstore.New()
	s := newServerWithStore(t, store)
	u := s.create("/Users", user("ro-target"))
	g := s.create("/Groups", group("ro-group", u))
	before := dumpStore(t, store)
	bodies := map[string]any{
		http.MethodPost:   user("ro-new"),
		http.MethodPut:    user("ro-target", map[string]any{"title": "changed"}),
		http.MethodPatch:  patchOps(`{"op":"add","path":"nickName","value":"x"}`),
		http.MethodDelete: nil,
	}
	paths := []string{"/Users", "/Users/" + u, "/Groups", "/Groups/" + g, "/Bulk", "/Me", "/ServiceProviderConfig",
		"/ResourceTypes", "/ResourceTypes/User", "/Schemas", "/Schemas/" + scim.UserSchema, "/Users/.search", "/.search", "/Nope"}
	for _, p := range paths {
		for method, body := range bodies {
			if method == http.MethodPost && strings.HasSuffix(p, ".search") {
				continue
			}
			resp := s.doAs("ro", method, p, body)
			assert.GreaterOrEqual(t, resp.status, 400, "%s %s: %s", method, p, resp.raw)
			if p == "/Users" || p == "/Groups" || strings.HasPrefix(p, "/Users/") || strings.HasPrefix(p, "/Groups/") || p == "/Bulk" {
				requireError(t, resp, http.StatusForbidden, "")
			}
		}
	}
	assert.Equal(t, before, dumpStore(t, store), "a read-only token changed the store")
	for _, p := range []string{"/.search", "/Users/.search", "/Groups/.search"} {
		resp := s.doAs("ro", http.MethodPost, p, map[string]any{"schemas": []string{scim.SearchRequestSchema}, "filter": "id pr"})
		require.Equal(t, http.StatusOK, resp.status, "%s: %s", p, resp.raw)
	}
	assert.Equal(t, before, dumpStore(t, store))
}
