package scim_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// server is a handler on a fresh memory store, mounted at /scim/v2 of an
// httptest server, with a read-write token "rw" and a read-only token "ro".
type server struct {
	t   *testing.T
	srv *httptest.Server
	url string // the SCIM root
}

func newServer(t *testing.T, opts ...scim.Option) *server {
	t.Helper()
	return newServerWithStore(t, memstore.New(), opts...)
}

func newServerWithStore(t *testing.T, store scim.Store, opts ...scim.Option) *server {
	t.Helper()
	auth := scim.NewBearerTokens(
		scim.Token{Secret: "rw", Principal: scim.Principal{ID: "writer"}},
		scim.Token{Secret: "ro", Principal: scim.Principal{ID: "reader", ReadOnly: true}},
	)
	return newServerWithAuth(t, store, auth, opts...)
}

func newServerWithAuth(t *testing.T, store scim.Store, auth scim.Authenticator, opts ...scim.Option) *server {
	t.Helper()
	h, err := scim.New(store, auth, opts...)
	require.NoError(t, err)
	srv := mount(t, "/scim/v2/", h)
	return &server{t: t, srv: srv, url: srv.URL + "/scim/v2"}
}

// mount serves h under the ServeMux pattern at a test server that closes
// when the test ends.
func mount(t *testing.T, pattern string, h http.Handler) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(pattern, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// seedUsers stores a User with each id straight into store, in the
// tenant of a principal without one, for tests that name Group members by
// ids they did not get from the API.
func seedUsers(t testing.TB, store scim.Store, ids ...string) {
	t.Helper()
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, id := range ids {
		userName := "seeded." + id
		_, err := store.Create(context.Background(), &scim.Resource{
			Type:       "User",
			ID:         id,
			Attributes: map[string]any{"schemas": []any{scim.UserSchema}, "userName": userName},
			Meta:       scim.Meta{Created: now, LastModified: now},
			Unique:     []scim.UniqueKey{{Attribute: "userName", Value: scim.FoldCase(userName)}},
		})
		require.NoError(t, err, "seeding User %q", id)
	}
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends a request with the read-write token; body may be a string or any
// value to encode as JSON.
func (s *server) do(method, path string, body any, headers ...string) response {
	s.t.Helper()
	return s.doAs("rw", method, path, body, headers...)
}

func (s *server) doAs(token, method, path string, body any, headers ...string) response {
	s.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		require.NoError(s.t, err)
		r = strings.NewReader(string(enc))
	}
	req, err := http.NewRequest(method, s.url+escapeQuery(path), r)
	require.NoError(s.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	out := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		require.NoError(s.t, json.Unmarshal(raw, &out.body), "body: %s", raw)
	}
	return out
}

// create posts a resource and returns its id, failing the test on anything but 201.
func (s *server) create(endpoint string, body map[string]any) string {
	s.t.Helper()
	resp := s.do(http.MethodPost, endpoint, body)
	require.Equal(s.t, http.StatusCreated, resp.status, resp.raw)
	return resp.body["id"].(string)
}

func user(userName string, extra ...map[string]any) map[string]any {
	u := map[string]any{"schemas": []string{scim.UserSchema}, "userName": userName}
	for _, e := range extra {
		for k, v := range e {
			u[k] = v
		}
	}
	return u
}

func group(displayName string, memberIDs ...string) map[string]any {
	members := []any{}
	for _, id := range memberIDs {
		members = append(members, map[string]any{"value": id})
	}
	return map[string]any{"schemas": []string{scim.GroupSchema}, "displayName": displayName, "members": members}
}

// ids lists the ids of a list response's resources.
func ids(resp response) []string {
	out := []string{}
	list, _ := resp.body["Resources"].([]any)
	for _, r := range list {
		out = append(out, r.(map[string]any)["id"].(string))
	}
	return out
}

// requireError checks a SCIM error response.
func requireError(t *testing.T, resp response, status int, scimType string) {
	t.Helper()
	require.Equal(t, status, resp.status, resp.raw)
	require.Equal(t, []any{scim.ErrorSchema}, resp.body["schemas"], resp.raw)
	require.Equal(t, strconv.Itoa(status), resp.body["status"], "status travels as a string")
	if scimType != "" {
		require.Equal(t, scimType, resp.body["scimType"], resp.raw)
	}
	require.NotEmpty(t, resp.body["detail"])
	require.Equal(t, "application/scim+json", resp.header.Get("Content-Type"))
}

// escapeQuery lets tests write queries as SCIM documents do
// (`?filter=userName eq "x"`).
func escapeQuery(path string) string {
	p, q, ok := strings.Cut(path, "?")
	if !ok {
		return path
	}
	return p + "?" + strings.NewReplacer(" ", "%20", `"`, "%22", "[", "%5B", "]", "%5D", "+", "%2B").Replace(q)
}
