package events_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/events"
	"github.com/scimkit/scim/postgres"
)

// TestNoChangeLostWhenConnectionsAreCut has writers and a consumer run on
// PostgreSQL while every connection of their pool is cut, again and
// again, for two seconds (pg_terminate_backend, what a server restart
// does to its clients): every create that was acknowledged reaches the
// consumer.
func TestNoChangeLostWhenConnectionsAreCut(t *testing.T) {
	dsn := os.Getenv("SCIM_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("SCIM_POSTGRES_DSN is not set: set it to a PostgreSQL DSN to run the PostgreSQL fault test")
	}
	app := fmt.Sprintf("scim_feed_outage_%d", time.Now().UnixNano())
	cfg, err := pgxpool.ParseConfig(dsn)
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	cfg.MaxConns = 12
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	admin := pgPool(t)
	schema := benchSchemaT(t, admin)
	s, err := postgres.New(context.Background(), pool, postgres.WithSchema(schema))
	require.NoError(t, err)
	t.Cleanup(s.Close)

	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		seen  = map[string]bool{}
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &events.Consumer{Name: "mirror", Store: s, Logger: quiet, MinBackoff: 10 * time.Millisecond, Lease: 2 * time.Second,
		Handle: func(_ context.Context, ch scim.Change) error {
			mu.Lock()
			seen[ch.ID] = true
			mu.Unlock()
			return nil
		}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil { // a consumer whose Run fails is started again, as a supervisor would
			_ = c.Run(ctx)
		}
	}()
	stop := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				id := fmt.Sprintf("o-%d-%d", w, i)
				_, err := s.Create(context.Background(), &scim.Resource{Type: "User", ID: id, Attributes: map[string]any{"userName": id},
					Unique: []scim.UniqueKey{{Attribute: "userName", Value: id}}})
				if err == nil {
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				}
			}
		}()
	}
	cuts := 0
	for time.Now().Before(stop.Add(-time.Second)) {
		time.Sleep(100 * time.Millisecond)
		tag, err := admin.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, app)
		require.NoError(t, err)
		cuts += int(tag.RowsAffected())
	}
	wg.Wait()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for id := range acked {
			if !seen[id] {
				return false
			}
		}
		return true
	}, 20*time.Second, 20*time.Millisecond, "every acknowledged create reaches the consumer")
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	assert.NotZero(t, cuts)
	t.Logf("%d backends cut; %d creates acknowledged, all of them consumed (%d changes seen)", cuts, len(acked), len(seen))
}

// benchSchemaT is a fresh schema name, dropped when t ends.
func benchSchemaT(t *testing.T, pool *pgxpool.Pool) string {
	name := fmt.Sprintf("scimtest_outage_%d", time.Now().UnixNano())
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+name+" CASCADE") })
	return name
}
