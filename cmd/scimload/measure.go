package main

// Rounds: the floor, then each side, per round; the CPU each used, and
// what the runtime says of the sides served in this process.

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"time"
)

// side is one server the scenarios run on.
type side struct {
	name      string
	target    target
	pid       int
	profile   string // the URL of its process's CPU profile, for a side in a process of its own that serves one
	inProcess bool
	serves    func(scenario string) bool
}

// sample is one wrk run on one side, with what the server spent on it.
type sample struct {
	wrkResult
	serverCPU time.Duration
	allocs    uint64  // heap allocations in this process, for in-process sides
	pauses    []int64 // GC pause histogram deltas, buckets of pauseBuckets
	ratio     float64 // to the floor's GET by id in the same round
}

// env is what every run needs.
type env struct {
	cfg      config
	wrk      string
	profiles int // CPU profiles fetched from other processes so far
	dir      string
	fx       *fixture
	loads    map[string]load
}

// runtimeSample reads the counters a sample takes deltas of.
func runtimeSample() []metrics.Sample {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}, {Name: "/sched/pauses/total/gc:seconds"}}
	metrics.Read(s)
	return s
}

// procCPU is the user and system time process pid has used so far,
// from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("reading the server's CPU time: %w", err)
	}
	// The command may hold spaces: the fields count from its closing ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("reading the server's CPU time: short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("reading the server's CPU time: /proc/%d/stat: %q %q", pid, f[11], f[12])
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks, nil
}

// drive runs scenario sc's load on sd once, for the run's duration or
// until stop closes, and takes what the server spent.
func (e *env) drive(ctx context.Context, sc string, sd side, settings wrkSettings, prefix string, d time.Duration, stop <-chan struct{}) (sample, error) {
	l := e.loads[sc]
	script, err := writeScript(e.dir, l, sd.target, e.fx.userFormat, map[string]string{"PREFIX": prefix})
	if err != nil {
		return sample{}, err
	}
	defer os.Remove(script)
	cpu0, err := procCPU(sd.pid)
	if err != nil {
		return sample{}, err
	}
	pctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel() // a fetch left when wrk failed
	profiled := e.profileProcess(pctx, sd, l.name, d, stop)
	before := runtimeSample()
	res, err := runWrk(ctx, e.wrk, script, sd.target.url+"/", settings, d, stop)
	if err != nil {
		return sample{}, fmt.Errorf("%s on %s: %w", sc, sd.name, err)
	}
	after := runtimeSample()
	cpu1, err := procCPU(sd.pid) // before the profile is written: that is not the load's
	if err != nil {
		return sample{}, err
	}
	if err := <-profiled; err != nil {
		return sample{}, fmt.Errorf("%s on %s: %w", sc, sd.name, err)
	}
	s := sample{wrkResult: res, serverCPU: cpu1 - cpu0}
	if sd.inProcess {
		s.allocs = after[0].Value.Uint64() - before[0].Value.Uint64()
		b, a := before[1].Value.Float64Histogram(), after[1].Value.Float64Histogram()
		s.pauses = make([]int64, len(a.Counts))
		for i := range a.Counts {
			s.pauses[i] = int64(a.Counts[i] - b.Counts[i])
		}
	}
	return s, nil
}

// pauseBuckets are the boundaries of the GC pause histogram.
func pauseBuckets() []float64 {
	return runtimeSample()[1].Value.Float64Histogram().Buckets
}

// row is one line of a table: a scenario on a side, over the rounds.
type row struct {
	scenario, side string
	samples        []sample
	inProcess      bool
	note           string // a figure of its own (the initial sync's time)
}

// median is the sample of the median ratio.
func (r row) median() sample {
	s := slices.Clone(r.samples)
	slices.SortFunc(s, func(a, b sample) int { return cmpFloat(a.ratio, b.ratio) })
	return s[len(s)/2]
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// failures are unexpected statuses and socket errors, over the rounds.
func (r row) failures() int64 {
	var n int64
	for _, s := range r.samples {
		n += s.Failures + s.Errors
	}
	return n
}

// allocsPerRequest is over the rounds; 0 for a side out of process.
func (r row) allocsPerRequest() float64 {
	var a uint64
	var n int64
	for _, s := range r.samples {
		a, n = a+s.allocs, n+s.Requests
	}
	if n == 0 {
		return 0
	}
	return float64(a) / float64(n)
}

// gcPauseP99 is the 99th percentile GC pause over the rounds, from the
// runtime's histogram (the upper bound of its bucket); 0 when none.
func (r row) gcPauseP99(buckets []float64) time.Duration {
	var counts []int64
	for _, s := range r.samples {
		if counts == nil {
			counts = make([]int64, len(s.pauses))
		}
		for i, c := range s.pauses {
			counts[i] += c
		}
	}
	var total int64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	var seen int64
	for i, c := range counts {
		seen += c
		if float64(seen) >= 0.99*float64(total) {
			up := buckets[i+1]
			if math.IsInf(up, 1) {
				up = buckets[i]
			}
			return time.Duration(up * float64(time.Second))
		}
	}
	return 0
}

// bulkRunFactor lengthens the runs of the /Bulk scenario: on PostgreSQL
// the first bulks of 100 creates from all of wrk's connections end only
// after seconds, so a run of the usual length would count none.
const bulkRunFactor = 5

// measure runs every scenario cfg selects on the sides that serve it,
// each round the floor's GET by id first, then each side.
func (e *env) measure(ctx context.Context, floor side, sides []side) ([]row, error) {
	var rows []row
	for _, sc := range scenarioOrder() {
		var these []side
		for _, sd := range sides {
			if sd.serves(sc) && e.cfg.runs(sc+" "+sd.name) {
				these = append(these, sd)
			}
		}
		if len(these) == 0 {
			continue
		}
		rounds, d := e.cfg.rounds, e.cfg.duration
		switch sc {
		case scSync:
			rounds, d = 1, 10*time.Minute
		case scBulk:
			d *= bulkRunFactor
		}
		byName := map[string]*row{}
		for r := range max(rounds, 1) {
			f, err := e.drive(ctx, scGet, floor, e.cfg.wrk, "", e.cfg.duration, nil)
			if err != nil {
				return nil, err
			}
			for _, sd := range these {
				prefix := fmt.Sprintf("%s-%s-%s-r%d-", e.fx.run, e.loads[sc].name, sd.name, r)
				var stop chan struct{}
				var wait func() error
				if sc == scSync {
					stop, wait = e.stopAfter(ctx, sd.target.url, e.cfg.syncUsers)
				}
				s, err := e.drive(ctx, sc, sd, e.cfg.wrk, prefix, d, stop)
				if wait != nil {
					if werr := wait(); werr != nil && err == nil {
						err = werr
					}
				}
				if err != nil {
					return nil, err
				}
				s.ratio = s.rps() / f.rps()
				if byName[sd.name] == nil {
					byName[sd.name] = &row{scenario: sc, side: sd.name, inProcess: sd.inProcess}
				}
				byName[sd.name].samples = append(byName[sd.name].samples, s)
			}
		}
		for _, sd := range these {
			r := *byName[sd.name]
			if sc == scSync {
				r.note = fmt.Sprintf("%d users in %.1f s", e.cfg.syncUsers, r.samples[0].elapsed().Seconds())
			}
			if sc == scBulk {
				r.note = fmt.Sprintf("runs of %s", d)
			}
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// stopAfter closes stop once the server at base holds n more users than
// now; wait ends the watch and says what went wrong.
func (e *env) stopAfter(ctx context.Context, base string, n int) (stop chan struct{}, wait func() error) {
	stop = make(chan struct{})
	start, err := totalUsers(ctx, base)
	if err != nil {
		close(stop)
		return stop, func() error { return err }
	}
	done := make(chan error, 1)
	quit := make(chan struct{})
	go func() {
		defer close(stop)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				done <- nil
				return
			case <-tick.C:
			}
			total, err := totalUsers(ctx, base)
			if err != nil {
				done <- err
				return
			}
			if total-start >= n {
				done <- nil
				return
			}
		}
	}()
	return stop, func() error {
		select {
		case <-stop:
		default:
			close(quit)
		}
		return <-done
	}
}
