package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/scimkit/scim"
	"github.com/scimkit/scim/postgres"
	"github.com/scimkit/scim/storetest"
)

// dsnEnv names the environment variable with the test database's DSN.
const dsnEnv = "SCIM_POSTGRES_DSN"

// testPool connects to the database SCIM_POSTGRES_DSN names, or skips the
// test when it is unset. The pool is closed when the test ends.
func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		t.Skipf("%s is not set: set it to a PostgreSQL DSN (for example postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the PostgreSQL store's tests", dsnEnv)
	}
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connecting to %s: %v", dsnEnv, err)
	}
	t.Cleanup(pool.Close)
	if err := pool.Ping(context.Background()); err != nil {
		t.Fatalf("connecting to %s: %v", dsnEnv, err)
	}
	return pool
}

// freshSchema returns a new random schema name, dropped when t ends.
func freshSchema(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "scimtest_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", name, err)
		}
	})
	return name
}

// newStore returns a Store in a fresh schema.
func newStore(t testing.TB, pool *pgxpool.Pool, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	opts = append([]postgres.Option{postgres.WithSchema(freshSchema(t, pool))}, opts...)
	s, err := postgres.New(context.Background(), pool, opts...)
	if err != nil {
		t.Fatalf("postgres.New: %v", err)
	}
	t.Cleanup(s.Close) // before the schema is dropped
	return s
}

func TestConformance(t *testing.T) {
	pool := testPool(t)
	storetest.Run(t, func(t *testing.T) scim.Store {
		return newStore(t, pool)
	}, storetest.WithRetention(func(t *testing.T, r scim.Retention) scim.Store {
		return newStore(t, pool, postgres.WithChangeRetention(r))
	}))
}
