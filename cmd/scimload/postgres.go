package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scimkit/scim/postgres"
)

// runPostgres runs the scenarios on the PostgreSQL store, in a schema of
// its own that it drops afterwards, beside a primary-key SELECT round trip
// on the same pool, the least a request that reads the database costs.
func runPostgres(ctx context.Context, cfg config, out io.Writer, floorURL string, logger *slog.Logger) error {
	pool, err := pgxpool.New(ctx, cfg.postgres)
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer pool.Close()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	schema := "scimload_" + hex.EncodeToString(b)
	defer func() {
		if _, err := pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			logger.Warn("dropping the load schema", "schema", schema, "err", err)
		}
	}()
	store, err := postgres.New(ctx, pool, postgres.WithSchema(schema))
	if err != nil {
		return err
	}
	stopAnalyzing := analyzeWhileLoading(ctx, pool, schema, logger)
	defer stopAnalyzing()
	start := time.Now()
	fx, err := preload(ctx, store, cfg)
	if err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, analyzeSQL(schema)); err != nil {
		return err
	}
	fmt.Fprintf(out, "\npreloaded %d users into PostgreSQL in %s\n", cfg.users, time.Since(start).Round(time.Second))
	srv, err := scimServer(store, false)
	if err != nil {
		return err
	}
	defer srv.close()

	pk := selectByKey(ctx, pool, cfg, schema, fx)
	rows := append([]row{{scenario: "SELECT by primary key (pgx, no HTTP)", res: pk}}, measure(cfg, fx, floorURL, srv.url, "")...)
	for i := range rows[1:] {
		r := &rows[i+1]
		if r.note == "" {
			r.note = fmt.Sprintf("%.0f (%.1fx PK)", r.res.rps(), pk.rps()/r.res.rps())
		}
	}
	printTable(out, fmt.Sprintf("PostgreSQL store, %d users, %d clients; \"x PK\" is the time of a request over that of a primary-key SELECT", cfg.users, cfg.clients), rows)
	return nil
}

// analyzeSQL refreshes the statistics of the store's tables.
func analyzeSQL(schema string) string {
	return "ANALYZE " + schema + ".resources, " + schema + ".unique_keys, " + schema + ".members"
}

// analyzeWhileLoading refreshes the statistics every few seconds until the
// returned function is called, as autovacuum would: on a server without it
// the planner checks foreign keys by scanning every resource of a type,
// and creates slow down as the directory grows (see the README).
func analyzeWhileLoading(ctx context.Context, pool *pgxpool.Pool, schema string, logger *slog.Logger) (stop func()) {
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
				if _, err := pool.Exec(ctx, analyzeSQL(schema)); err != nil && ctx.Err() == nil {
					logger.Warn("analyzing the load schema", "schema", schema, "err", err)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// selectByKey measures a primary-key SELECT of a user's row with the
// scenarios' concurrency.
func selectByKey(ctx context.Context, pool *pgxpool.Pool, cfg config, schema string, fx *fixture) result {
	var counter, failures atomic.Int64
	lat := make([][]time.Duration, cfg.clients)
	deadline := time.Now().Add(cfg.duration)
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < cfg.clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for time.Now().Before(deadline) {
				id := fx.userID(counter.Add(1))
				t := time.Now()
				var version string
				err := pool.QueryRow(ctx, "SELECT version FROM "+schema+".resources WHERE tenant = $1 AND type = $2 AND id = $3", "", "User", id).Scan(&version)
				lat[c] = append(lat[c], time.Since(t))
				if err != nil {
					failures.Add(1)
				}
			}
		}(c)
	}
	wg.Wait()
	all := slices.Concat(lat...)
	slices.Sort(all)
	r := result{requests: len(all), failures: int(failures.Load()), elapsed: time.Since(start)}
	if len(all) > 0 {
		r.p50, r.p99 = all[len(all)/2], all[len(all)*99/100]
	}
	return r
}
