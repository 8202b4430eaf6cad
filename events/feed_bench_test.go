package events_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/events"
	"github.com/scimkit/scim/memstore"
	"github.com/scimkit/scim/postgres"
)

// benchStore is a store of the feed's benchmarks.
type benchStore struct {
	scim.Store
	// settle has the store ready for load after its setup: on PostgreSQL,
	// the setup's changes sequenced, and its tables vacuumed with fresh
	// statistics, as autovacuum keeps them on a production server (this
	// one's may be off), so the planner uses the primary key and no round
	// pays for the setup's dead rows.
	settle func(b *testing.B)
	// reader is the store a consumer follows it through: on PostgreSQL,
	// a second Store on the same schema with a pool of its own, as a host
	// gives its consumers, so that they do not queue for a connection
	// behind the requests' writes.
	reader scim.Store
}

// benchStores makes the stores the feed's benchmarks compare: each with
// its feed on, and off.
func benchStores(b *testing.B) map[string]func(b *testing.B, feed bool) benchStore {
	out := map[string]func(b *testing.B, feed bool) benchStore{
		"memstore": func(b *testing.B, feed bool) benchStore {
			if feed {
				s := memstore.New()
				return benchStore{s, func(*testing.B) {}, s}
			}
			s := memstore.New(memstore.WithoutChangeFeed())
			return benchStore{s, func(*testing.B) {}, s}
		},
	}
	if pool := benchPool(b, 20); pool != nil {
		readers := benchPool(b, 4)
		out["postgres"] = func(b *testing.B, feed bool) benchStore {
			schema := benchSchema(b, pool)
			opts := []postgres.Option{postgres.WithSchema(schema)}
			if *sequencerInterval >= 0 {
				opts = append(opts, postgres.WithSequencerInterval(*sequencerInterval))
			}
			if !feed {
				opts = append(opts, postgres.WithoutChangeFeed())
			}
			s, err := postgres.New(context.Background(), pool, opts...)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(s.Close)
			reader := s
			if feed {
				if reader, err = postgres.New(context.Background(), readers, opts...); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(reader.Close)
			}
			return benchStore{s, func(b *testing.B) {
				ctx := context.Background()
				if feed {
					// The setup's changes get their positions now, not in
					// the timed writes' window.
					if _, err := s.Head(ctx); err != nil {
						b.Fatal(err)
					}
				}
				for _, table := range []string{"resources", "members", "unique_keys", "changes"} {
					if _, err := pool.Exec(ctx, "VACUUM ANALYZE "+pgx.Identifier{schema, table}.Sanitize()); err != nil {
						b.Fatal(err)
					}
				}
				// Flush the setup's WAL now, so no checkpoint falls into
				// a round's timed window; it needs superuser or
				// pg_checkpoint, which a benchmark need not have.
				if _, err := pool.Exec(ctx, "CHECKPOINT"); err != nil {
					b.Logf("CHECKPOINT skipped: %v", err)
				}
			}, reader}
		}
	}
	return out
}

var benchSeq atomic.Int64

func benchUser(prefix string) *scim.Resource {
	id := fmt.Sprintf("%s-%d", prefix, benchSeq.Add(1))
	return &scim.Resource{Type: "User", ID: id,
		Attributes: map[string]any{"userName": id, "active": true, "emails": []any{map[string]any{"value": id + "@example.com", "primary": true}}},
		Meta:       scim.Meta{Created: time.Now(), LastModified: time.Now()},
		Unique:     []scim.UniqueKey{{Attribute: "userName", Value: id}}}
}

var sequencerInterval = flag.Duration("feed.sequencer", -1, "PostgreSQL's WithSequencerInterval in the feed's benchmarks (default: the store's)")

var feedRounds = flag.Int("feed.rounds", 1, "interleaved rounds of BenchmarkFeedCost (feed off, on, on, off, off, on, …)")

// BenchmarkFeedCost compares writes with the feed on and off, in
// interleaved rounds (-feed.rounds), from 16 goroutines: through the
// handler, POST /Users and a PATCH adding a member to or removing one from
// a 10,000-member Group; and the same on the store alone (create,
// member), where the feed's share is larger. Run it with a fixed count
// (-benchtime 4000x on PostgreSQL, 100000x on memory) so that each round
// writes into a store of the same size. A warm-up run comes first, and
// every other round runs the feed on first: the first of a pair runs
// slower (some 10% here), so the benchmark prints the geometric mean of
// the rounds' on/off ratios, which cancels that: read it, not one round.
// A run with the feed on ends once every change it made has its position
// (Head), so that a sequencer that leaves work for later is charged for
// it. cpu-µs/op is the whole machine's CPU time per write (Linux): on a
// machine the database and the load share, it shows whether the cost is
// work or waiting.
func BenchmarkFeedCost(b *testing.B) {
	for name, newStore := range benchStores(b) {
		warmUp(b, newStore)
		for _, op := range []string{"POST", "PATCH", "create", "member"} {
			var ratios []float64
			for round := range *feedRounds {
				nsPerOp := map[bool]float64{}
				order := []bool{false, true}
				if round%2 == 1 {
					order = []bool{true, false}
				}
				for _, feed := range order {
					b.Run(fmt.Sprintf("%s/%s/round=%d/feed=%v", name, op, round+1, feed), func(b *testing.B) {
						s := newStore(b, feed)
						ctx := context.Background()
						if op == "member" || op == "PATCH" {
							setupGroup(b, s, 10000)
						} else {
							// Writes into a table the planner has statistics
							// of, as on a server whose autovacuum runs.
							seedUsers(b, s, 2000)
						}
						s.settle(b)
						var h http.Handler
						if op == "POST" || op == "PATCH" {
							var err error
							if h, err = scim.New(s.Store, scim.NewBearerTokens(scim.Token{Secret: "t", Principal: scim.Principal{ID: "idp"}}),
								scim.WithLogger(quiet)); err != nil {
								b.Fatal(err)
							}
						}
						b.SetParallelism(8)
						cpu := startCPU()
						b.ResetTimer()
						b.RunParallel(func(pb *testing.PB) {
							p, _ := s.Store.(scim.MembershipPatcher)
							mine := benchUser("m")
							if op == "member" || op == "PATCH" {
								if _, err := s.Create(ctx, mine); err != nil {
									b.Error(err)
									return
								}
							}
							add := true
							for pb.Next() {
								var err error
								switch op {
								case "create":
									_, err = s.Create(ctx, benchUser("c"))
								case "POST":
									id := fmt.Sprintf("p%d", benchSeq.Add(1))
									r := httptest.NewRequest(http.MethodPost, "/Users", strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+id+`","active":true,"emails":[{"value":"`+id+`@example.com","primary":true}]}`))
									err = serve(h, r, http.StatusCreated)
								case "PATCH":
									op := `{"op":"add","path":"members","value":[{"value":"` + mine.ID + `"}]}`
									if !add {
										op = `{"op":"remove","path":"members[value eq \"` + mine.ID + `\"]"}`
									}
									add = !add
									r := httptest.NewRequest(http.MethodPatch, "/Groups/big", strings.NewReader(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+op+`]}`))
									err = serve(h, r, http.StatusNoContent)
								default:
									change := scim.MembershipChange{LastModified: time.Now()}
									if add {
										change.Add = []map[string]any{{"value": mine.ID, "type": "User"}}
									} else {
										change.Remove = []string{mine.ID}
									}
									_, err = p.PatchMembers(ctx, "Group", "big", change, "")
									add = !add
								}
								if err != nil {
									b.Error(err)
									return
								}
							}
						})
						// The writes' cost includes their changes' positions:
						// whatever a sequencer left for later is given now.
						if f, ok := s.Store.(scim.ChangeFeed); ok && feed {
							if _, err := f.Head(ctx); err != nil {
								b.Fatal(err)
							}
						}
						b.StopTimer()
						cpu.report(b)
						nsPerOp[feed] = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
					})
				}
				if on, off := nsPerOp[true], nsPerOp[false]; on > 0 && off > 0 {
					ratios = append(ratios, on/off)
				}
			}
			if len(ratios) > 0 {
				g := geomean(ratios)
				// A parent benchmark's log is not shown: print it.
				fmt.Printf("FeedCost %s/%s: feed on/off time per write, geometric mean of %d rounds: %.3f (%+.1f%%)\n", name, op, len(ratios), g, (g-1)*100)
			}
		}
	}
}

// geomean is the geometric mean of xs, which are positive.
func geomean(xs []float64) float64 {
	var sum float64
	for _, x := range xs {
		sum += math.Log(x)
	}
	return math.Exp(sum / float64(len(xs)))
}

// warmUp writes to a throwaway store from as many goroutines as a round
// runs, so that no round pays for what the first one would alone: the
// database pool's connections, their caches, the process's heap.
func warmUp(b *testing.B, newStore func(b *testing.B, feed bool) benchStore) {
	b.Run("warmup", func(b *testing.B) {
		s := newStore(b, true)
		var wg sync.WaitGroup
		for range 8 * runtime.GOMAXPROCS(0) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 50 {
					if _, err := s.Create(context.Background(), benchUser("w")); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	})
}

// serve has h answer r, as the identity provider, and checks its status.
func serve(h http.Handler, r *http.Request, want int) error {
	r.Header.Set("Authorization", "Bearer t")
	r.Header.Set("Content-Type", "application/scim+json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != want {
		return fmt.Errorf("%s %s: %d %s", r.Method, r.URL, w.Code, w.Body)
	}
	return nil
}

// setupGroup creates Group "big" with n member Users.
func setupGroup(b *testing.B, s scim.Store, n int) {
	members := seedUsers(b, s, n)
	if _, err := s.Create(context.Background(), &scim.Resource{Type: "Group", ID: "big", Attributes: map[string]any{"displayName": "big", "members": members},
		Meta: scim.Meta{Created: time.Now(), LastModified: time.Now()}}); err != nil {
		b.Fatal(err)
	}
}

// seedUsers creates n Users from a few goroutines (a database store takes
// a commit per create) and returns them as Group members.
func seedUsers(b *testing.B, s scim.Store, n int) []any {
	ctx := context.Background()
	members := make([]any, n)
	var wg sync.WaitGroup
	const workers = 8
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				u := benchUser("g")
				if _, err := s.Create(ctx, u); err != nil {
					b.Error(err)
					return
				}
				members[i] = map[string]any{"value": u.ID, "type": "User"}
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return members
}

// BenchmarkChangesRead reads 10,000 changes (all memstore keeps by
// default) in pages of 1,000 and reports changes read per second.
func BenchmarkChangesRead(b *testing.B) {
	for name, newStore := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			s := newStore(b, true)
			ctx := context.Background()
			const n = 10000
			for range n {
				if _, err := s.Create(ctx, benchUser("r")); err != nil {
					b.Fatal(err)
				}
			}
			f := s.Store.(scim.ChangeFeed)
			if _, err := f.Head(ctx); err != nil { // every change sequenced
				b.Fatal(err)
			}
			s.settle(b)
			b.ResetTimer()
			for b.Loop() {
				after, read := "", 0
				for read < n {
					cs, err := f.Changes(ctx, scim.ChangeQuery{After: after, Limit: 1000, AllTenants: true})
					if err != nil || len(cs) == 0 {
						b.Fatal(err, read)
					}
					read += len(cs)
					after = cs[len(cs)-1].Position
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "changes/s")
		})
	}
}

// BenchmarkConsumerLag has 64 writers create Users for a second while a
// consumer follows (on PostgreSQL through a pool of its own: see
// benchStore.reader), and reports the consumer's lag (from the change's
// record to its Handle) at the median and the 99th percentile.
func BenchmarkConsumerLag(b *testing.B) {
	for name, newStore := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				s := newStore(b, true)
				var (
					mu   sync.Mutex
					lags []time.Duration
				)
				ctx, cancel := context.WithCancel(context.Background())
				c := &events.Consumer{Name: "lag", Store: s.reader, Logger: quiet, Handle: func(_ context.Context, ch scim.Change) error {
					mu.Lock()
					lags = append(lags, time.Since(ch.Time))
					mu.Unlock()
					return nil
				}}
				done := make(chan struct{})
				go func() { _ = c.Run(ctx); close(done) }()
				var wg sync.WaitGroup
				var written atomic.Int64
				stop := time.Now().Add(time.Second)
				for range 64 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for time.Now().Before(stop) {
							if _, err := s.Create(context.Background(), benchUser("l")); err != nil {
								b.Error(err)
								return
							}
							written.Add(1)
						}
					}()
				}
				wg.Wait()
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
					mu.Lock()
					n := len(lags)
					mu.Unlock()
					if int64(n) >= written.Load() {
						break
					}
				}
				cancel()
				<-done
				mu.Lock()
				slices.Sort(lags)
				if len(lags) > 0 {
					b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "p99-ms")
					b.ReportMetric(float64(written.Load()), "writes")
				}
				mu.Unlock()
			}
		})
	}
}

// BenchmarkPrune measures PostgreSQL's Prune: once dropping 10,000
// changes of 11,000 (retention of 1,000), each iteration first writing
// its 11,000, untimed (run it with a fixed count, -benchtime 3x); and in
// the steady state, a feed that keeps 50,000 dropping the 1,000 written
// since the last prune.
func BenchmarkPrune(b *testing.B) {
	pool := benchPool(b, 20)
	if pool == nil {
		b.Skip("SCIM_POSTGRES_DSN is not set")
	}
	ctx := context.Background()
	b.Run("drop=10000/of=11000", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			schema := benchSchema(b, pool)
			s, err := postgres.New(ctx, pool, postgres.WithSchema(schema),
				postgres.WithChangeRetention(scim.Retention{MaxCount: 1_000_000}))
			if err != nil {
				b.Fatal(err)
			}
			seedUsers(b, s, 11000)
			if _, err := s.Head(ctx); err != nil {
				b.Fatal(err)
			}
			s.Close()
			s, err = postgres.New(ctx, pool, postgres.WithSchema(schema), postgres.WithChangeRetention(scim.Retention{MaxCount: 1000}))
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := s.Prune(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("drop=1000/of=51000", func(b *testing.B) {
		// One store writes (its own prunes keep everything), another
		// prunes to 50,000.
		schema := benchSchema(b, pool)
		w, err := postgres.New(ctx, pool, postgres.WithSchema(schema), postgres.WithChangeRetention(scim.Retention{MaxCount: 1_000_000}))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(w.Close)
		p, err := postgres.New(ctx, pool, postgres.WithSchema(schema), postgres.WithChangeRetention(scim.Retention{MaxCount: 50000}))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(p.Close)
		seedUsers(b, w, 50000)
		for b.Loop() {
			b.StopTimer()
			seedUsers(b, w, 1000)
			if _, err := w.Head(ctx); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := p.Prune(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchPool is a pool of size connections on SCIM_POSTGRES_DSN, nil
// without it.
func benchPool(b *testing.B, size int32) *pgxpool.Pool {
	dsn := os.Getenv("SCIM_POSTGRES_DSN")
	if dsn == "" {
		return nil
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = size
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	// Open every connection now, so that no run pays for opening them.
	conns := make([]*pgxpool.Conn, cfg.MaxConns)
	for i := range conns {
		if conns[i], err = pool.Acquire(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range conns {
		c.Release()
	}
	return pool
}

// benchSchema is a fresh schema name, dropped when b ends.
func benchSchema(b *testing.B, pool *pgxpool.Pool) string {
	var r [6]byte
	_, _ = rand.Read(r[:])
	name := "scimbench_" + hex.EncodeToString(r[:])
	b.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE")
	})
	return name
}

// machineCPU measures the CPU time the whole machine spends (this process,
// the database's, anything else), from /proc/stat on Linux: on a machine
// whose cores the database and the load share, the cost of a write shows
// steadier there than in its throughput.
type machineCPU struct{ start time.Duration }

func startCPU() machineCPU { return machineCPU{busyCPU()} }

// report adds the machine's CPU time per operation since start to b's
// results, where /proc/stat can be read.
func (m machineCPU) report(b *testing.B) {
	if end := busyCPU(); m.start > 0 && end > m.start {
		b.ReportMetric(float64((end-m.start).Microseconds())/float64(b.N), "cpu-µs/op")
	}
}

// busyCPU is the machine's CPU time not idle nor waiting for I/O since
// boot, or 0 where /proc/stat cannot be read.
func busyCPU() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	if len(fields) < 8 || fields[0] != "cpu" {
		return 0
	}
	var ticks int64
	for i, f := range fields[1:8] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / 100) // USER_HZ is 100 on Linux
}
