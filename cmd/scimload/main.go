// Command scimload measures the handler against the net/http floor with
// wrk as the load generator, in one run:
//
//	go run ./cmd/scimload
//
// It starts a floor server (plain net/http answering a pre-encoded user
// document from a map), the handler mounted bare in this process as a
// host mounts it, the example server as shipped (built from
// ./examples/server and run as a process of its own, its access log on)
// and elimity-com/scim over a map, loads each with the same users, and
// drives every scenario with wrk in interleaved rounds: the floor's GET
// by id, then each side. A row is the median of the per-round ratios to
// that floor. With -postgres DSN (or $SCIM_POSTGRES_DSN) the scenarios
// also run on the PostgreSQL store, beside a primary-key SELECT served
// over the same HTTP path. wrk must be on PATH (apt-get install wrk).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"
	"time"
)

// config is what the flags set.
type config struct {
	users, groupSize, syncUsers, rounds int
	duration                            time.Duration
	wrk, wrkAlt                         wrkSettings
	postgres                            string
	only                                *regexp.Regexp // "scenario side" to run; nil: all
	cpuProfile                          string
}

// runs reports whether the scenario and side named name are to run.
func (c config) runs(name string) bool { return c.only == nil || c.only.MatchString(name) }

func main() {
	cfg := config{}
	flag.IntVar(&cfg.users, "users", 100_000, "users to preload on each side")
	flag.IntVar(&cfg.groupSize, "group", 10_000, "members of the large group")
	flag.DurationVar(&cfg.duration, "duration", 2*time.Second, "time wrk drives each side per round (whole seconds)")
	flag.IntVar(&cfg.rounds, "rounds", 3, "interleaved rounds per scenario; a row is the median of the per-round ratios")
	flag.IntVar(&cfg.syncUsers, "sync", 100_000, "users the initial sync creates (filter by userName, then POST)")
	flag.IntVar(&cfg.wrk.threads, "threads", 2, "wrk threads")
	flag.IntVar(&cfg.wrk.conns, "connections", 64, "wrk connections")
	flag.StringVar(&cfg.postgres, "postgres", os.Getenv("SCIM_POSTGRES_DSN"), "PostgreSQL DSN: also run the scenarios on the PostgreSQL store (default $SCIM_POSTGRES_DSN)")
	flag.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (the floor and the in-process sides, each request labelled side=NAME for go tool pprof -tagfocus) to this file, and one of the example server per shipped run (but the initial sync's) to FILE.shipped-LOAD-N, N counting them")
	only := flag.String("only", "", "run only the scenarios and sides whose \"scenario side\" matches this regular expression (sides: bare, shipped, elimity, postgres, SELECT)")
	flag.Parse()
	cfg.wrkAlt = wrkSettings{threads: cfg.wrk.threads + 1, conns: cfg.wrk.conns * 2}
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			fmt.Fprintln(os.Stderr, "scimload: -only:", err)
			os.Exit(2)
		}
		cfg.only = re
	}
	if err := run(context.Background(), cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "scimload:", err)
		os.Exit(1)
	}
}
