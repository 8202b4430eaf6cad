package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// internalPool connects an internal test to SCIM_POSTGRES_DSN, or skips
// it when the variable is unset. The pool closes when the test ends.
func internalPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	dsn := os.Getenv("SCIM_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("SCIM_POSTGRES_DSN is not set: set it to a PostgreSQL DSN to run the PostgreSQL store's tests")
	}
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// internalSchema returns a new schema name with prefix, dropped when t
// ends.
func internalSchema(t *testing.T, pool *pgxpool.Pool, prefix string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := prefix + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
	return schema
}
