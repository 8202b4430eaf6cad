package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim/postgres"
)

// TestHostAppRestartOnPostgres runs the app on PostgreSQL, stops it and
// starts it again: the identity provider's token still works, the
// directory is still there, and the app's own table is rebuilt from it.
func TestHostAppRestartOnPostgres(t *testing.T) {
	dsn := os.Getenv("SCIM_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("SCIM_POSTGRES_DSN is not set: skipping the restart test on PostgreSQL (set it to a database the test may create schemas in)")
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	defer pool.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "hostapp_test_" + hex.EncodeToString(b)
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE") })

	start := func() *httptest.Server {
		store, err := postgres.New(ctx, pool, postgres.WithSchema(schema))
		require.NoError(t, err)
		h, err := newApp(ctx, store, store, "admin-secret", 5, slog.New(slog.NewTextHandler(io.Discard, nil)))
		require.NoError(t, err)
		return httptest.NewServer(h)
	}
	first := start()
	status, issued, _ := call(t, first, "admin-secret", http.MethodPost, "/admin/tokens?name=entra", "")
	require.Equal(t, http.StatusCreated, status)
	token := issued["token"].(string)
	status, body, _ := call(t, first, token, http.MethodPost, "/scim/v2/Users", scimUser("olivia"))
	require.Equal(t, http.StatusCreated, status, "%v", body)
	id := body["id"].(string)
	first.Close()

	second := start() // a restart: a new process would start just so
	defer second.Close()
	status, body, _ = call(t, second, token, http.MethodGet, "/scim/v2/Users/"+id, "")
	require.Equal(t, http.StatusOK, status, "the token and the user survive the restart: %v", body)
	assert.Equal(t, "olivia", body["userName"])
	_, table, _ := call(t, second, "", http.MethodGet, "/users", "")
	owner := table["users"].(map[string]any)[id].(map[string]any)
	assert.Equal(t, true, owner["owner"], "the table is rebuilt from the directory")
	assert.EqualValues(t, 4, table["freeSeats"])
	status, body, _ = call(t, second, token, http.MethodPatch, "/scim/v2/Users/"+id, deactivate)
	assert.Equal(t, http.StatusConflict, status, "the only owner is still protected: %v", body)
}
