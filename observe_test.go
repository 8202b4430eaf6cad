package scim_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// writes returns the "scim: write" records logged so far.
func writes(t *testing.T, logs *syncBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		if rec["msg"] == "scim: write" {
			out = append(out, rec)
		}
	}
	return out
}

// TestWritesAreLogged: every write is logged once, with what was written by
// whom, how it ended and the request id; never a token, a password or an
// attribute value.
func TestWritesAreLogged(t *testing.T) {
	var logs syncBuffer
	const secret = "tok-SECRET-4711"
	auth := scim.NewBearerTokens(scim.Token{Secret: secret, Principal: scim.Principal{ID: "entra-prod", Tenant: "acme"}})
	s := newServerWithAuth(t, memstore.New(), auth, scim.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))

	resp := s.doAs(secret, http.MethodPost, "/Users", user("alice", map[string]any{"password": "hunter2-PLAINTEXT", "displayName": "Very Private Name"}),
		"X-Request-Id", "req-42")
	require.Equal(t, http.StatusCreated, resp.status, resp.raw)
	assert.Equal(t, "req-42", resp.header.Get("X-Request-Id"), "the client's request id is echoed")
	id := resp.body["id"].(string)
	s.doAs(secret, http.MethodGet, "/Users/"+id, nil)
	conflict := s.doAs(secret, http.MethodPost, "/Users", user("ALICE"), "X-Request-Id", "bad id forged=1 msg=x")
	require.Equal(t, http.StatusConflict, conflict.status)
	generated := conflict.header.Get("X-Request-Id")
	assert.NotContains(t, generated, "forged", "a request id that could forge log lines is replaced")
	assert.NotEmpty(t, generated)
	s.doAs(secret, http.MethodPost, "/Users/.search", map[string]any{}) // a read
	s.doAs(secret, http.MethodDelete, "/Users/"+id, nil)

	recs := writes(t, &logs)
	require.Len(t, recs, 3, "one record per write, none for reads: %s", logs.String())
	assert.Equal(t, map[string]any{"method": "POST", "resourceType": "User", "id": id, "tenant": "acme", "principal": "entra-prod",
		"status": float64(201), "outcome": "ok", "request_id": "req-42"}, pick(recs[0], "method", "resourceType", "id", "tenant", "principal", "status", "outcome", "request_id"))
	assert.Contains(t, recs[0], "duration")
	assert.Equal(t, "refused", recs[1]["outcome"])
	assert.Equal(t, generated, recs[1]["request_id"])
	assert.Equal(t, "DELETE", recs[2]["method"])
	assert.Equal(t, id, recs[2]["id"])
	for _, never := range []string{secret, "hunter2-PLAINTEXT", "Very Private Name"} {
		assert.NotContains(t, logs.String(), never)
	}
}

func pick(m map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for _, k := range keys {
		out[k] = m[k]
	}
	return out
}

// TestRequestIDReachesTheAuthenticator: the Authenticator, and the token
// store behind it, see the request id; a panic in it is reported under it.
func TestRequestIDReachesTheAuthenticator(t *testing.T) {
	var seen string
	auth := scim.AuthenticatorFunc(func(r *http.Request) (scim.Principal, error) {
		seen = scim.RequestIDFrom(r.Context())
		if _, ok := scim.PrincipalFrom(r.Context()); ok {
			t.Error("no principal before the Authenticator names one")
		}
		if r.Header.Get("X-Panic") != "" {
			panic("authenticator bug")
		}
		return scim.Principal{ID: "p"}, nil
	})
	h, err := scim.New(memstore.New(), auth, scim.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	get := func(id string, panics bool) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/Users", nil)
		r.Header.Set(scim.RequestIDHeader, id)
		if panics {
			r.Header.Set("X-Panic", "1")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	w := get("req-7", false)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "req-7", seen)

	w = get("req-8", true)
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.Contains(t, w.Body.String(), "request id req-8")
}
