package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// config is what the flags set.
type config struct {
	users, groupSize, clients, syncUsers, rounds int
	duration                                     time.Duration
	postgres                                     string
	only                                         *regexp.Regexp // scenarios to run; nil: all
}

// runs reports whether the scenario named name is to run.
func (c config) runs(name string) bool { return c.only == nil || c.only.MatchString(name) }

const token = "scimload"

// server is one HTTP server on a loopback port.
type server struct {
	url   string
	close func()
}

func listen(h http.Handler) (server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return server{}, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return server{url: "http://" + l.Addr().String(), close: func() { _ = srv.Close() }}, nil
}

// floorServer answers GET /Users/{id} with a pre-encoded document: the
// least any Go server can do for the request.
func floorServer(docs map[string][]byte) (server, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /scim/v2/Users/{id}", func(w http.ResponseWriter, r *http.Request) {
		doc, ok := docs[r.PathValue("id")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/scim+json")
		_, _ = w.Write(doc)
	})
	return listen(mux)
}

// scimServer mounts the handler over store as the example server does;
// with logRequests it also logs one line per request, to io.Discard.
func scimServer(store scim.Store, logRequests bool) (server, error) {
	h, err := scim.New(store, scim.NewBearerTokens(scim.Token{Secret: token}),
		scim.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), scim.WithMaxBodyBytes(1<<20))
	if err != nil {
		return server{}, err
	}
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", h)
	var root http.Handler = mux
	if logRequests {
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		root = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			mux.ServeHTTP(w, r)
			logger.Info("request", "method", r.Method, "path", r.URL.Path, "duration", time.Since(start))
		})
	}
	return listen(root)
}

// request is one request a scenario sends; ok tells the answers it
// expects. A request with then sends that one next, as one step.
type request struct {
	method, path, body string
	ok                 func(status int) bool
	then               *request
}

func is(codes ...int) func(int) bool {
	return func(s int) bool { return slices.Contains(codes, s) }
}

// result is what one side of a scenario measured.
type result struct {
	requests, failures int
	elapsed            time.Duration
	p50, p99           time.Duration
	allocs             float64 // heap allocations per request, client included
}

func (r result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// drive sends next's requests from clients goroutines for d (or until next
// says it is done) and measures them.
func drive(base string, clients int, d time.Duration, next func(n int64) (request, bool)) result {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var counter atomic.Int64
	var failures atomic.Int64
	lat := make([][]time.Duration, clients)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for time.Now().Before(deadline) {
				req, more := next(counter.Add(1) - 1)
				if !more {
					return
				}
				t := time.Now()
				for r := &req; r != nil; r = r.then {
					if status, err := send(client, base, *r); err != nil || !r.ok(status) {
						failures.Add(1)
					}
				}
				lat[c] = append(lat[c], time.Since(t))
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	all := slices.Concat(lat...)
	slices.Sort(all)
	r := result{requests: len(all), failures: int(failures.Load()), elapsed: elapsed}
	if len(all) > 0 {
		r.p50, r.p99 = all[len(all)/2], all[len(all)*99/100]
		r.allocs = float64(after.Mallocs-before.Mallocs) / float64(len(all))
	}
	return r
}

func send(client *http.Client, base string, req request) (int, error) {
	var body io.Reader
	if req.body != "" {
		body = strings.NewReader(req.body)
	}
	r, err := http.NewRequest(req.method, base+req.path, body)
	if err != nil {
		return 0, err
	}
	r.Header.Set("Authorization", "Bearer "+token)
	if req.body != "" {
		r.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := client.Do(r)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// row is one line of the table.
type row struct {
	scenario string
	floor    *result
	res      result
	note     string
}

func printTable(w io.Writer, title string, rows []row) {
	fmt.Fprintf(w, "\n%s\n", title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\treq/s\tp50\tp99\tallocs/req\tfailures\tfloor req/s\tratio\t")
	for _, r := range rows {
		floor, ratio := "", ""
		if r.floor != nil {
			floor = fmt.Sprintf("%.0f", r.floor.rps())
			ratio = fmt.Sprintf("%.2f", r.res.rps()/r.floor.rps())
		}
		rps := fmt.Sprintf("%.0f", r.res.rps())
		if r.note != "" {
			rps = r.note
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.0f\t%d\t%s\t%s\t\n", r.scenario, rps, r.res.p50.Round(time.Microsecond),
			r.res.p99.Round(time.Microsecond), r.res.allocs, r.res.failures, floor, ratio)
	}
	_ = tw.Flush()
}

// run measures every scenario on the memory store (and on PostgreSQL with
// cfg.postgres) and prints the tables.
func run(ctx context.Context, cfg config, out io.Writer, logger *slog.Logger) error {
	start := time.Now()
	store := memstore.New()
	fx, err := preload(ctx, store, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "preloaded %d users, groups of %d and %d members in %s\n", cfg.users, cfg.groupSize, smallGroup, time.Since(start).Round(time.Millisecond))
	floor, err := floorServer(fx.docs)
	if err != nil {
		return err
	}
	defer floor.close()
	plain, err := scimServer(store, false)
	if err != nil {
		return err
	}
	defer plain.close()
	logged, err := scimServer(store, true)
	if err != nil {
		return err
	}
	defer logged.close()

	rows := measure(cfg, fx, floor.url, plain.url, logged.url)
	printTable(out, fmt.Sprintf("memory store, %d users, %d clients, %s per side and round, median of %d rounds", cfg.users, cfg.clients, cfg.duration, cfg.rounds), rows)
	if cfg.postgres != "" {
		if err := runPostgres(ctx, cfg, out, floor.url, logger); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "\ntotal %s\n", time.Since(start).Round(time.Second))
	return nil
}

// measure runs each scenario against the handler at scimURL, each after a
// floor run of the same length; loggedURL, if set, adds the logging row.
func measure(cfg config, fx *fixture, floorURL, scimURL, loggedURL string) []row {
	floorGet := func() result {
		return drive(floorURL, cfg.clients, cfg.duration, func(n int64) (request, bool) {
			return request{method: http.MethodGet, path: "/scim/v2/Users/" + fx.userID(n), ok: is(200)}, true
		})
	}
	// Each side runs cfg.rounds times, floor and handler in turn, and the
	// row keeps the round with the median ratio: the machine is shared, and
	// a neighbour's burst should not decide a row.
	pair := func(url string, next func(int64) (request, bool)) (result, result) {
		type run struct{ floor, res result }
		var runs []run
		for i := 0; i < max(cfg.rounds, 1); i++ {
			f := floorGet()
			runs = append(runs, run{f, drive(url, cfg.clients, cfg.duration, next)})
		}
		slices.SortFunc(runs, func(a, b run) int {
			ra, rb := a.res.rps()/a.floor.rps(), b.res.rps()/b.floor.rps()
			switch {
			case ra < rb:
				return -1
			case ra > rb:
				return 1
			}
			return 0
		})
		m := runs[len(runs)/2]
		return m.floor, m.res
	}
	var rows []row
	for _, sc := range scenarios(fx) {
		if cfg.runs(sc.name) {
			f, r := pair(scimURL, sc.next)
			rows = append(rows, row{scenario: sc.name, floor: &f, res: r})
		}
		if logged := sc.name + ", logged"; sc.name == "GET /Users/{id}" && loggedURL != "" && cfg.runs(logged) {
			f, r := pair(loggedURL, sc.next)
			rows = append(rows, row{scenario: logged, floor: &f, res: r})
		}
	}
	if sync := initialSync(cfg, fx, scimURL); cfg.runs(sync.scenario) {
		rows = append(rows, sync.run())
	}
	return rows
}

// initialSync provisions syncUsers new users as Entra ID's first cycle
// does: a filter by userName (no match), then a POST.
func initialSync(cfg config, fx *fixture, scimURL string) syncScenario {
	name := fmt.Sprintf("initial sync of %d users (filter, POST)", cfg.syncUsers)
	return syncScenario{scenario: name, run: func() row {
		res := drive(scimURL, cfg.clients, time.Hour, func(n int64) (request, bool) {
			if n >= int64(cfg.syncUsers) {
				return request{}, false
			}
			userName := fmt.Sprintf("%s-sync-%d", fx.run, n)
			post := &request{method: http.MethodPost, path: "/scim/v2/Users", body: userJSON(userName), ok: is(201)}
			return request{method: http.MethodGet, path: "/scim/v2/Users?filter=userName%20eq%20%22" + userName + "%22", ok: is(200), then: post}, true
		})
		return row{scenario: name, res: res, note: fmt.Sprintf("%.1f s", res.elapsed.Seconds())}
	}}
}

// syncScenario is the initial sync, named before it runs.
type syncScenario struct {
	scenario string
	run      func() row
}
