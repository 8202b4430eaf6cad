package main

// The run: servers up, fixtures loaded, the self-check, the tables.

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/scimkit/scim/memstore"
)

// run measures every scenario on the memory store (and on PostgreSQL with
// cfg.postgres) and prints the tables to out.
func run(ctx context.Context, cfg config, out io.Writer) error {
	start := time.Now()
	wrk, err := findWrk()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "scimload-")
	if err != nil {
		return fmt.Errorf("creating a temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	fx := newFixture(cfg.users)
	e := &env{cfg: cfg, wrk: wrk, dir: dir, fx: fx, loads: loads()}

	store := memstore.New()
	bareFx, err := preloadStore(ctx, store, fx, cfg.groupSize, dir, "bare")
	if err != nil {
		return err
	}
	floorSrv, err := floorServer(fx)
	if err != nil {
		return err
	}
	defer floorSrv.close()
	bare, err := bareServer("bare", store)
	if err != nil {
		return err
	}
	defer bare.close()
	elimity, err := elimityHandler(fx)
	if err != nil {
		return err
	}
	elimitySrv, err := listen("elimity", elimity)
	if err != nil {
		return err
	}
	defer elimitySrv.close()
	shipped, err := shippedServer(ctx, dir, cfg.cpuProfile != "")
	if err != nil {
		return err
	}
	defer shipped.close()
	shippedFx, err := preloadHTTP(ctx, shipped.url, fx, cfg.groupSize, dir, "shipped")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "preloaded %d users and groups of %d and %d members on each side in %s\n", cfg.users,
		groupSizeOf(cfg.groupSize), smallGroup, time.Since(start).Round(time.Second))

	all := func(string) bool { return true }
	floor := side{name: "floor", target: bareFx.target(floorSrv.url), pid: floorSrv.pid, inProcess: true, serves: all}
	sides := []side{
		{name: "bare", target: bareFx.target(bare.url), pid: bare.pid, inProcess: true, serves: all},
		{name: "shipped", target: shippedFx.target(shipped.url), pid: shipped.pid, profile: shipped.profile, serves: all},
		{name: "elimity", target: bareFx.target(elimitySrv.url), pid: elimitySrv.pid, inProcess: true,
			serves: func(sc string) bool { return sc == scGet }},
	}
	if err := e.selfCheck(ctx, out, floor); err != nil {
		return err
	}
	if cfg.cpuProfile != "" {
		stop, err := startCPUProfile(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	rows, err := e.measure(ctx, floor, sides)
	if err != nil {
		return err
	}
	buckets := pauseBuckets()
	printTable(out, fmt.Sprintf("memory store, %d users; wrk %s, %s per side and round; ratio: median over %d rounds of req/s over the floor's GET by id in the same round",
		cfg.users, cfg.wrk, cfg.duration, cfg.rounds), rows, buckets)
	if cfg.postgres != "" {
		if err := e.runPostgres(ctx, out, floor, buckets); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "\nbare: the handler in this process, its logging off; shipped: ./examples/server as a process, its access log on (to a file);\n"+
		"elimity: elimity-com/scim over a map, in this process. failures: unexpected statuses and socket errors, all rounds.\n"+
		"allocs/req and GC p99 (runtime/metrics) are this process's, for the sides it serves. CPU: of one core, wrk's and the server process's, median round.\n")
	fmt.Fprintf(out, "total %s\n", time.Since(start).Round(time.Second))
	return nil
}

// selfCheck measures the floor at the run's wrk settings and at more
// threads and connections, in interleaved pairs (which goes first
// alternates): if the generator were the bottleneck the floor would move
// with it. The verdict is on the median of the per-pair ratios, as the
// table's are, so that the machine's drift between pairs does not count.
// It also reports the CPU wrk took.
func (e *env) selfCheck(ctx context.Context, out io.Writer, floor side) error {
	const pairs = 3
	var a, b []sample
	var ratios []float64
	settings := [2]wrkSettings{e.cfg.wrk, e.cfg.wrkAlt}
	for i := range pairs {
		var got [2]sample
		for k := range 2 {
			j := k ^ i%2 // odd pairs run the alternative first
			s, err := e.drive(ctx, scGet, floor, settings[j], "", e.cfg.duration, nil)
			if err != nil {
				return err
			}
			got[j] = s
		}
		a, b = append(a, got[0]), append(b, got[1])
		ratios = append(ratios, got[1].rps()/got[0].rps())
	}
	mean := func(ss []sample) (rps, wrkCPU, srvCPU float64) {
		for _, s := range ss {
			secs := s.elapsed().Seconds()
			rps += s.rps() / float64(len(ss))
			wrkCPU += s.cpu.Seconds() / secs / float64(len(ss))
			srvCPU += s.serverCPU.Seconds() / secs / float64(len(ss))
		}
		return
	}
	ra, wa, sa := mean(a)
	rb, wb, sb := mean(b)
	slices.Sort(ratios)
	diff := ratios[len(ratios)/2] - 1
	var problems []string
	if diff > 0.10 || diff < -0.10 {
		problems = append(problems, fmt.Sprintf("the floor moves %+.0f%% with wrk's settings", 100*diff))
	}
	if wa > 0.8*float64(e.cfg.wrk.threads) {
		problems = append(problems, fmt.Sprintf("wrk used %.0f%% of its %d thread(s)' cores", 100*wa, e.cfg.wrk.threads))
	}
	fmt.Fprintf(out, "\nself-check: floor GET by id with wrk %s: %.0f req/s (wrk %.0f%% of a core, server %.0f%%); with wrk %s: %.0f req/s (wrk %.0f%%, server %.0f%%); median of %d pairs %+.0f%%\n",
		e.cfg.wrk, ra, 100*wa, 100*sa, e.cfg.wrkAlt, rb, 100*wb, 100*sb, pairs, 100*diff)
	if len(problems) > 0 {
		fmt.Fprintf(out, "self-check: FIGURES NOT VALID: %s: the load generator may be bounding the floor\n", strings.Join(problems, "; "))
	} else {
		fmt.Fprintf(out, "self-check: valid: the floor is within 10%% across wrk settings, and wrk kept below 80%% of its cores\n")
	}
	return nil
}
