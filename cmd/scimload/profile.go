package main

// CPU profiles: this process's for the whole measurement, and the
// example server's for each of its wrk runs.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"time"
)

// startCPUProfile profiles this process into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating the CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting the CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// profileProcess fetches, with -cpuprofile, a CPU profile of sd's process
// over the next d, for a side in a process of its own that serves one
// (the example server's -pprof), into a file beside the run's profile
// named for the side, the load and a count of the profiles fetched:
// FILE.shipped-get-3. go tool pprof merges the files it is given. Runs
// that stop early (the initial sync) are not profiled: the profile would
// outlast them. The channel yields the fetch's error once it is done.
func (e *env) profileProcess(ctx context.Context, sd side, load string, d time.Duration, stop <-chan struct{}) <-chan error {
	done := make(chan error, 1)
	if e.cfg.cpuProfile == "" || sd.profile == "" || stop != nil {
		done <- nil
		return done
	}
	e.profiles++
	path := fmt.Sprintf("%s.%s-%s-%d", e.cfg.cpuProfile, sd.name, load, e.profiles)
	url := sd.profile + "?seconds=" + strconv.Itoa(int((d+time.Second-1)/time.Second))
	go func() { done <- fetchProfile(ctx, url, path) }()
	return done
}

// fetchProfile writes the profile url answers to path.
func fetchProfile(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetching the CPU profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching the CPU profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing the CPU profile: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("writing the CPU profile: %w", err)
	}
	return f.Close()
}
