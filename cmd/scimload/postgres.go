package main

// The scenarios on the PostgreSQL store, beside a primary-key SELECT
// served over the same HTTP path.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scimkit/scim/postgres"
)

// runPostgres runs the scenarios on the PostgreSQL store, in a schema of
// its own that it drops afterwards; the floor is the memory run's.
func (e *env) runPostgres(ctx context.Context, out io.Writer, floor side, buckets []float64) error {
	pool, err := pgxpool.New(ctx, e.cfg.postgres)
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer pool.Close()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	schema := "scimload_" + hex.EncodeToString(b)
	defer func() {
		if _, err := pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			fmt.Fprintf(out, "dropping the load schema %s: %v\n", schema, err)
		}
	}()
	store, err := postgres.New(ctx, pool, postgres.WithSchema(schema), postgres.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return fmt.Errorf("opening the PostgreSQL store: %w", err)
	}
	stopAnalyzing := analyzeWhileLoading(ctx, pool, schema)
	start := time.Now()
	pgFx, err := preloadStore(ctx, store, e.fx, e.cfg.groupSize, e.dir, "postgres")
	stopAnalyzing()
	if err != nil {
		return err
	}
	// As autovacuum does after a large insert: without it the count of a
	// page's totalResults reads every row from the heap, not the index.
	if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) "+tables(schema)); err != nil {
		return fmt.Errorf("vacuuming the load schema: %w", err)
	}
	fmt.Fprintf(out, "\npreloaded %d users into PostgreSQL in %s\n", e.cfg.users, time.Since(start).Round(time.Second))
	srv, err := bareServer("postgres", store)
	if err != nil {
		return err
	}
	defer srv.close()
	sel, err := selectServer(pool, schema)
	if err != nil {
		return err
	}
	defer sel.close()
	sides := []side{
		{name: "SELECT", target: pgFx.target(sel.url), pid: sel.pid, inProcess: true, serves: func(sc string) bool { return sc == scGet }},
		{name: "postgres", target: pgFx.target(srv.url), pid: srv.pid, inProcess: true, serves: func(string) bool { return true }},
	}
	rows, err := e.measure(ctx, floor, sides)
	if err != nil {
		return err
	}
	printTable(out, fmt.Sprintf("PostgreSQL store, %d users; the handler mounted bare; SELECT: a primary-key SELECT of the user's attributes served by net/http on the same path; ratio to the memory floor's GET by id",
		e.cfg.users), rows, buckets)
	return nil
}

// selectServer answers GET /scim/v2/Users/{id} with the user's stored
// attributes read by primary key: the least a request that reads the
// database costs, over the same HTTP path.
func selectServer(pool *pgxpool.Pool, schema string) (server, error) {
	q := "SELECT attrs::text FROM " + schema + ".resources WHERE tenant = '' AND type = 'User' AND id = $1"
	mux := http.NewServeMux()
	mux.HandleFunc("GET /scim/v2/Users/{id}", func(w http.ResponseWriter, r *http.Request) {
		var doc string
		if err := pool.QueryRow(r.Context(), q, r.PathValue("id")).Scan(&doc); errors.Is(err, pgx.ErrNoRows) {
			http.NotFound(w, r)
			return
		} else if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/scim+json")
		_, _ = io.WriteString(w, doc)
	})
	return listen("SELECT", mux)
}

// tables are the store's tables a load fills.
func tables(schema string) string {
	return schema + ".resources, " + schema + ".unique_keys, " + schema + ".members"
}

// analyzeSQL refreshes the statistics of the store's tables.
func analyzeSQL(schema string) string { return "ANALYZE " + tables(schema) }

// analyzeWhileLoading refreshes the statistics every few seconds until the
// returned function is called, as autovacuum would: on a server without it
// the planner checks foreign keys by scanning every resource of a type,
// and creates slow down as the directory grows.
func analyzeWhileLoading(ctx context.Context, pool *pgxpool.Pool, schema string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(3 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				_, _ = pool.Exec(ctx, analyzeSQL(schema))
			}
		}
	}()
	return func() { cancel(); <-done }
}
