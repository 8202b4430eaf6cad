package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/scimkit/scim/postgres"
)

func TestMigrateConcurrentAndIdempotent(t *testing.T) {
	pool := testPool(t)
	schema := freshSchema(t, pool)
	ctx := context.Background()

	// Two processes starting at once on a fresh schema: both succeed.
	const racers = 4
	var wg sync.WaitGroup
	errs := make([]error, racers)
	start := make(chan struct{})
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			_, errs[i] = postgres.New(ctx, pool, postgres.WithSchema(schema))
		}(i)
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("New #%d racing the others on a fresh schema: %v", i, err)
		}
	}

	// Again: nothing to do.
	if _, err := postgres.New(ctx, pool, postgres.WithSchema(schema)); err != nil {
		t.Fatalf("New on a migrated schema: %v", err)
	}

	rows, err := pool.Query(ctx, "SELECT version FROM "+pgx.Identifier{schema}.Sanitize()+".schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != postgres.SchemaVersion || versions[len(versions)-1] != postgres.SchemaVersion {
		t.Errorf("schema_migrations must record each migration once, up to %d; it holds %v", postgres.SchemaVersion, versions)
	}
}

func TestSchemaNameIsQuoted(t *testing.T) {
	pool := testPool(t)
	name := `Odd "Schema"; DROP TABLE x; --`
	t.Cleanup(func() {
		pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE")
	})
	if _, err := postgres.New(context.Background(), pool, postgres.WithSchema(name)); err != nil {
		t.Fatalf("New with a schema name that needs quoting: %v", err)
	}
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM pg_namespace WHERE nspname = $1", name).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the schema %q must exist under its exact name; found %d (%v)", name, n, err)
	}
}

// TestMigrateFromVersion1 upgrades a schema at version 1 (before the
// tokens table and the change feed): New adds the steps and records them.
func TestMigrateFromVersion1(t *testing.T) {
	pool := testPool(t)
	schema := freshSchema(t, pool)
	ctx := context.Background()
	if _, err := postgres.New(ctx, pool, postgres.WithSchema(schema)); err != nil {
		t.Fatal(err)
	}
	q := pgx.Identifier{schema}.Sanitize()
	if _, err := pool.Exec(ctx, "DROP TABLE "+q+".tokens, "+q+".changes, "+q+".changes_pruned, "+q+".consumers; DROP SEQUENCE "+q+".change_seq; DELETE FROM "+q+".schema_migrations WHERE version > 1"); err != nil {
		t.Fatal(err)
	}
	s, err := postgres.New(ctx, pool, postgres.WithSchema(schema))
	if err != nil {
		t.Fatalf("New on a schema at version 1: %v", err)
	}
	if _, err := s.ListTokens(ctx, "acme"); err != nil {
		t.Errorf("after the upgrade the tokens table must exist: %v", err)
	}
	var v int
	if err := pool.QueryRow(ctx, "SELECT max(version) FROM "+q+".schema_migrations").Scan(&v); err != nil || v != postgres.SchemaVersion {
		t.Errorf("the upgrade must record version %d; found %d (%v)", postgres.SchemaVersion, v, err)
	}
}
