// Command scimload measures the handler against the net/http floor on
// loopback, in one run:
//
//	go run ./cmd/scimload
//
// It starts a floor server — plain net/http answering a pre-encoded user
// document from a map — and the handler on the memory store, mounted as
// the example server mounts it (without its per-request log line, whose
// cost is a row of its own). It preloads the users and a large and a
// small group, drives every scenario with the same client concurrency for
// the same time, floor and handler in turn, and prints throughput,
// latencies, allocations per request and the ratio to the floor. With
// -postgres DSN the scenarios run on the PostgreSQL store too, beside a
// primary-key SELECT baseline.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"runtime/pprof"
	"time"
)

func main() {
	cfg := config{}
	flag.IntVar(&cfg.users, "users", 100_000, "users to preload")
	flag.IntVar(&cfg.groupSize, "group", 10_000, "members of the large group")
	flag.IntVar(&cfg.clients, "clients", 16, "concurrent clients")
	flag.DurationVar(&cfg.duration, "duration", time.Second, "time each side of each scenario runs, per round")
	flag.IntVar(&cfg.rounds, "rounds", 3, "rounds per scenario, floor and handler in turn; a row shows the median round")
	flag.IntVar(&cfg.syncUsers, "sync", 100_000, "users of the initial-sync scenario (filter, then POST each)")
	flag.StringVar(&cfg.postgres, "postgres", os.Getenv("SCIM_POSTGRES_DSN"), "PostgreSQL DSN: also run the scenarios on the PostgreSQL store")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (servers and clients) to this file, for go tool pprof")
	only := flag.String("only", "", "run only the scenarios whose names match this regular expression")
	flag.Parse()
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			fmt.Fprintln(os.Stderr, "scimload: -only:", err)
			os.Exit(2)
		}
		cfg.only = re
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "scimload:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(context.Background(), cfg, os.Stdout, logger); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "scimload:", err)
		os.Exit(1)
	}
}
