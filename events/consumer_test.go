package events_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/events"
	"github.com/scimkit/scim/memstore"
	"github.com/scimkit/scim/postgres"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// stores are the stores the consumer tests run on: memstore, and the
// PostgreSQL store when SCIM_POSTGRES_DSN names a database.
func stores(t *testing.T) map[string]func(t *testing.T, r scim.Retention) scim.Store {
	out := map[string]func(t *testing.T, r scim.Retention) scim.Store{
		"memstore": func(t *testing.T, r scim.Retention) scim.Store { return memstore.New(memstore.WithChangeRetention(r)) },
	}
	if os.Getenv("SCIM_POSTGRES_DSN") != "" {
		out["postgres"] = func(t *testing.T, r scim.Retention) scim.Store { return pgStore(t, r) }
	} else {
		t.Log("SCIM_POSTGRES_DSN is not set: the consumer tests run on memstore only")
	}
	return out
}

// pgStore is a PostgreSQL store in a fresh schema, dropped when t ends.
func pgStore(t *testing.T, r scim.Retention) *postgres.Store {
	pool := pgPool(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "scimtest_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
	s, err := postgres.New(context.Background(), pool, postgres.WithSchema(schema), postgres.WithChangeRetention(r))
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

func pgPool(t *testing.T) *pgxpool.Pool {
	dsn := os.Getenv("SCIM_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("SCIM_POSTGRES_DSN is not set: set it to a PostgreSQL DSN to run the PostgreSQL consumer tests")
	}
	pool, err := pgxpool.New(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

func createUsers(t *testing.T, s scim.Store, prefix string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%03d", prefix, i)
		_, err := s.Create(context.Background(), &scim.Resource{Type: "User", ID: ids[i],
			Attributes: map[string]any{"userName": ids[i]},
			Unique:     []scim.UniqueKey{{Attribute: "userName", Value: ids[i]}}})
		require.NoError(t, err)
	}
	return ids
}

// recorder collects what a consumer handled.
type recorder struct {
	mu   sync.Mutex
	ids  []string
	seen map[string]int
}

func (r *recorder) add(c scim.Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]int{}
	}
	r.ids = append(r.ids, c.ID)
	r.seen[c.ID]++
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

// runUntil runs c until handled reports true or 10 s pass, then stops it.
func runUntil(t *testing.T, c *events.Consumer, handled func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !handled() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.True(t, handled(), "the consumer must handle what was written within 10 s")
}

// positionKept reports whether consumer name has kept a position: a consumer
// stopped between its Handle and keeping its position hands the change
// again, as it must, which tests that restart it must wait out.
func positionKept(s scim.Store, name string) bool {
	pos, ok, err := s.(scim.ConsumerLedger).Acquire(context.Background(), name, "probe", time.Nanosecond)
	if ok {
		_ = s.(scim.ConsumerLedger).Release(context.Background(), name, "probe")
	}
	return err == nil && pos != ""
}

func TestConsumerDeliversInOrderAndResumes(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := newStore(t, scim.Retention{})
			ids := createUsers(t, s, "a", 30)
			var rec recorder
			c := &events.Consumer{Name: "mirror", Store: s, Batch: 7, Logger: quiet,
				Handle: func(ctx context.Context, ch scim.Change) error { rec.add(ch); return nil }}
			runUntil(t, c, func() bool {
				return rec.count() == 30 && positionKept(s, "mirror") && func() bool {
					pos, _, _ := s.(scim.ConsumerLedger).Acquire(context.Background(), "mirror", "probe", time.Nanosecond)
					h, _ := s.(scim.ChangeFeed).Head(context.Background())
					return pos == h
				}()
			})
			assert.Equal(t, ids, rec.ids, "every change once, in feed order")

			// A new process (a new Consumer under the same name) goes on
			// from the kept position.
			more := createUsers(t, s, "b", 5)
			var rec2 recorder
			c2 := &events.Consumer{Name: "mirror", Store: s, Logger: quiet,
				Handle: func(ctx context.Context, ch scim.Change) error { rec2.add(ch); return nil }}
			runUntil(t, c2, func() bool { return rec2.count() == 5 })
			assert.Equal(t, more, rec2.ids, "a restarted consumer resumes where the last one kept its position")
		})
	}
}

func TestConsumerStoppedMidBatchRepeatsAtMostTheBatch(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := newStore(t, scim.Retention{})
			createUsers(t, s, "k", 40)
			const batch = 10
			var rec recorder
			ctx, cancel := context.WithCancel(context.Background())
			c := &events.Consumer{Name: "inviter", Store: s, Batch: batch, Logger: quiet,
				Handle: func(_ context.Context, ch scim.Change) error {
					rec.add(ch)
					if rec.count() == 25 { // the process dies in the middle of its third batch
						cancel()
						return context.Canceled
					}
					return nil
				}}
			require.ErrorIs(t, c.Run(ctx), context.Canceled)
			c2 := &events.Consumer{Name: "inviter", Store: s, Batch: batch, Logger: quiet,
				Handle: func(_ context.Context, ch scim.Change) error { rec.add(ch); return nil }}
			runUntil(t, c2, func() bool { return rec.count() == 40 })
			dups := 0
			for _, n := range rec.seen {
				dups += n - 1
			}
			assert.LessOrEqual(t, dups, batch, "only the unacknowledged batch is handed again")
			assert.Len(t, rec.seen, 40, "nothing is lost")
		})
	}
}

func TestConsumerSkipsAChangeThatKeepsFailing(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := newStore(t, scim.Retention{})
			createUsers(t, s, "f", 5)
			var rec recorder
			var failed []string
			attempts := 0
			c := &events.Consumer{Name: "seats", Store: s, Logger: quiet, MaxAttempts: 3, MinBackoff: time.Millisecond,
				Handle: func(_ context.Context, ch scim.Change) error {
					if ch.ID == "f-002" {
						attempts++
						return errors.New("the licence service is down")
					}
					rec.add(ch)
					return nil
				},
				Failed: func(_ context.Context, ch scim.Change, err error) { failed = append(failed, ch.ID) }}
			runUntil(t, c, func() bool { return rec.count() == 4 })
			assert.Equal(t, []string{"f-000", "f-001", "f-003", "f-004"}, rec.ids)
			assert.Equal(t, 3, attempts, "MaxAttempts tries")
			assert.Equal(t, []string{"f-002"}, failed, "the change given up on goes to Failed")
		})
	}
}

func TestConsumerOneReplicaAtATime(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := newStore(t, scim.Retention{})
			createUsers(t, s, "r", 20)
			var rec recorder
			stuck := make(chan struct{})
			var handlers sync.Map // owner → changes handled
			mk := func(owner string, block bool) *events.Consumer {
				return &events.Consumer{Name: "accounts", Store: s, Owner: owner, Lease: 300 * time.Millisecond, Batch: 5, Logger: quiet,
					Handle: func(ctx context.Context, ch scim.Change) error {
						if block {
							select { // this replica hangs, as a dying process would
							case <-stuck:
							case <-ctx.Done():
							}
							return ctx.Err()
						}
						v, _ := handlers.LoadOrStore(owner, new(int))
						*v.(*int)++
						rec.add(ch)
						return nil
					}}
			}
			actx, acancel := context.WithCancel(context.Background())
			adone := make(chan error, 1)
			a := mk("replica-a", true)
			go func() { adone <- a.Run(actx) }()
			time.Sleep(50 * time.Millisecond) // a takes the lease first
			b := mk("replica-b", false)
			start := time.Now()
			runUntil(t, b, func() bool { return rec.count() == 20 })
			assert.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond, "b waits for a's lease to expire")
			acancel()
			close(stuck)
			<-adone
			_, aHandled := handlers.Load("replica-a")
			assert.False(t, aHandled)
			assert.Len(t, rec.seen, 20, "b took over and handled everything once")
		})
	}
}

func TestConsumerResynchronisesAnExpiredPosition(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := newStore(t, scim.Retention{MaxCount: 5})
			createUsers(t, s, "e", 1)
			var rec recorder
			c := &events.Consumer{Name: "index", Store: s, Logger: quiet,
				Handle: func(_ context.Context, ch scim.Change) error { rec.add(ch); return nil }}
			runUntil(t, c, func() bool { return rec.count() == 1 && positionKept(s, "index") })
			createUsers(t, s, "x", 40)            // the consumer is not running: it falls behind retention
			if p, ok := s.(*postgres.Store); ok { // prune what retention no longer keeps, now
				_, err := p.Head(context.Background())
				require.NoError(t, err)
				require.NoError(t, p.Prune(context.Background()))
			}
			resynced := false
			c.Expired = func(ctx context.Context) (string, error) {
				resynced = true
				head, err := s.(scim.ChangeFeed).Head(ctx)
				// A real host lists every resource now; a write meanwhile
				// comes after head.
				createUsers(t, s, "y", 1)
				return head, err
			}
			runUntil(t, c, func() bool { rec.mu.Lock(); defer rec.mu.Unlock(); return rec.seen["y-000"] == 1 })
			assert.True(t, resynced, "an expired position is handed to Expired")
		})
	}
}

func TestConsumerWithoutExpiredStops(t *testing.T) {
	s := memstore.New(memstore.WithChangeRetention(scim.Retention{MaxCount: 2}))
	createUsers(t, s, "z", 1)
	var rec recorder
	c := &events.Consumer{Name: "strict", Store: s, Logger: quiet,
		Handle: func(_ context.Context, ch scim.Change) error { rec.add(ch); return nil }}
	runUntil(t, c, func() bool { return rec.count() == 1 })
	createUsers(t, s, "w", 10)
	err := c.Run(context.Background())
	assert.ErrorIs(t, err, scim.ErrPositionExpired)
}

func TestConsumerTransactionalOnPostgres(t *testing.T) {
	s := pgStore(t, scim.Retention{})
	pool := pgPool(t)
	table := pgx.Identifier{"scimtest_accounts_" + fmt.Sprint(time.Now().UnixNano())}.Sanitize()
	_, err := pool.Exec(context.Background(), `CREATE TABLE `+table+` (id text NOT NULL)`)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), `DROP TABLE `+table) })
	createUsers(t, s, "t", 10)
	failOnce := map[string]bool{"t-004": true}
	var mu sync.Mutex
	c := &events.Consumer{Name: "accounts", Store: s, Transactional: true, Logger: quiet, MinBackoff: time.Millisecond,
		Handle: func(ctx context.Context, ch scim.Change) error {
			tx, ok := postgres.TxFrom(ctx)
			if !ok {
				return errors.New("no transaction")
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+table+` (id) VALUES ($1)`, ch.ID); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if failOnce[ch.ID] { // fails after its insert: the insert must not stay
				delete(failOnce, ch.ID)
				return errors.New("the host failed after writing")
			}
			return nil
		}}
	count := func() int {
		var n int
		require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n))
		return n
	}
	runUntil(t, c, func() bool { return count() == 10 })
	// A new process: nothing is handled twice, since the position moved
	// with each row.
	createUsers(t, s, "u", 2)
	runUntil(t, c, func() bool { return count() == 12 })
	time.Sleep(100 * time.Millisecond)
	var distinct int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(DISTINCT id) FROM `+table).Scan(&distinct))
	assert.Equal(t, 12, count(), "each change's row once: the failed attempt's insert rolled back with it")
	assert.Equal(t, 12, distinct)
}
