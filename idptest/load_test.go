package idptest_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/idptest"
	"github.com/scimkit/scim/memstore"
	"github.com/scimkit/scim/postgres"
)

// loadSize is the load cycle's size on a store: 10,000 users and groups
// of 5,000 on memstore (a tenth under the race detector); on PostgreSQL,
// where that takes about a minute a cycle on an idle machine of two cores
// and several on a busy one, 1,000 users (300 under the race detector)
// unless IDPTEST_FULL_LOAD=1 asks for the full size.
func loadSize(store string) (users, members int) {
	switch {
	case store == "postgres" && os.Getenv("IDPTEST_FULL_LOAD") == "1":
		return 10000, 5000
	case store == "postgres" && raceEnabled:
		return 300, 150
	case store == "postgres", raceEnabled:
		return 1000, 500
	}
	return 10000, 5000
}

// stores are the stores the kit's tests play on: memstore, and the
// PostgreSQL store when SCIM_POSTGRES_DSN names a database.
func stores(t *testing.T) map[string]func(t testing.TB) scim.Store {
	out := map[string]func(t testing.TB) scim.Store{"memstore": func(testing.TB) scim.Store { return memstore.New() }}
	if dsn := os.Getenv("SCIM_POSTGRES_DSN"); dsn != "" {
		out["postgres"] = func(t testing.TB) scim.Store { return pgStore(t, dsn) }
	} else {
		t.Log("SCIM_POSTGRES_DSN is not set: the load cycle runs on memstore only (set it to a database the test may create schemas in, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	return out
}

// pgStore is a PostgreSQL store in a fresh schema, dropped when t ends.
func pgStore(t testing.TB, dsn string) scim.Store {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "idptest_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
	s, err := postgres.New(ctx, pool, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	analyzeWhileRunning(t, pool, schema)
	return s
}

// analyzeWhileRunning refreshes the schema's statistics every 3 s until t
// ends, as autovacuum does: without them PostgreSQL checks foreign keys
// and numbers changes by scanning, and a load of 10,000 users crawls to a
// few creates a second where autovacuum is off (as on CI's machine).
func analyzeWhileRunning(t testing.TB, pool *pgxpool.Pool, schema string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	q := pgx.Identifier{schema}.Sanitize()
	sql := "ANALYZE " + q + ".resources, " + q + ".unique_keys, " + q + ".members, " + q + ".changes"
	go func() {
		defer close(done)
		tick := time.NewTicker(3 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				_, _ = pool.Exec(ctx, sql)
			}
		}
	}()
}

// TestLoad plays each cycle at 10,000 users with two 5,000-member groups
// (see loadSize), four requests at a time, and logs each step's time:
//
//	IDPTEST_FULL_LOAD=1 go test -run TestLoad -v ./idptest
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the load cycle is skipped")
	}
	for name, newStore := range stores(t) {
		users, members := loadSize(name)
		if name == "postgres" && users < 10000 {
			t.Logf("PostgreSQL at %d users; IDPTEST_FULL_LOAD=1 plays 10,000", users)
		}
		t.Run(name, func(t *testing.T) {
			for _, c := range []cycle{allCycles()[0], allCycles()[2]} {
				t.Run(c.name, func(t *testing.T) {
					h := storeHandler(t, newStore(t))
					start := time.Now()
					r := c.play(t, h, idptest.Options{Token: token, Users: users, Groups: 2, GroupMembers: members, Concurrency: 4})
					var b strings.Builder
					_ = r.WriteTable(&b)
					t.Logf("%d users, 2 groups of %d members on %s: %s\n%s", users, members, name, time.Since(start).Round(time.Millisecond), b.String())
					empty(t, h)
				})
			}
		})
	}
}
