package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestTinyRun runs the whole harness on a few users for a second per side,
// from the module root (it builds ./examples/server). It checks that every
// row ran without failures, not any speed.
func TestTinyRun(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("wrk is not on PATH: apt-get install wrk to run the harness's test")
	}
	// It drives load for half a minute: CI runs the harness as a step of
	// its own, and a shared machine's benchmarks should not see it uninvited.
	if os.Getenv("SCIMLOAD_TEST") == "" {
		t.Skip("drives load with wrk for about 40 s: set SCIMLOAD_TEST=1 to run it")
	}
	if err := os.Chdir("../.."); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chdir("cmd/scimload") })
	cfg := config{users: 300, groupSize: 50, syncUsers: 200, rounds: 1, duration: time.Second,
		wrk: wrkSettings{threads: 1, conns: 4}, wrkAlt: wrkSettings{threads: 2, conns: 8}}
	var out bytes.Buffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log(out.String())
	for _, sc := range scenarioOrder() {
		if !strings.Contains(out.String(), sc) {
			t.Errorf("no row for %s", sc)
		}
	}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		// A row's failures column sits before its ratio; any non-zero
		// count is a scenario that sent what a side refused.
		for i, w := range f {
			if w == "bare" || w == "shipped" || w == "elimity" {
				if i+5 < len(f) && f[i+4] != "0" {
					t.Errorf("failures on %q", line)
				}
			}
		}
	}
}
