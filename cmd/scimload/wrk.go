package main

// Driving wrk: finding it, writing the Lua script of one scenario, running
// it and reading what its done() hook prints.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// errNoWrk says what the harness needs when wrk is not on PATH.
var errNoWrk = errors.New("wrk not found on PATH: scimload drives load with wrk (Debian/Ubuntu: apt-get install wrk)")

// findWrk returns the path of wrk.
func findWrk() (string, error) {
	p, err := exec.LookPath("wrk")
	if err != nil {
		return "", errNoWrk
	}
	return p, nil
}

// load is what wrk is told to send: a Lua body defining make(n), which
// returns method, path and body of the n-th request of a thread (n from
// 0), and the statuses counted as success.
type load struct {
	name string // for the script's file name
	next string // Lua: function make(n) ... end
	ok   []int  // expected statuses
	// emptyFilter counts as a failure a 200 whose body does not say
	// "totalResults":0 (a filter that must find nothing).
	emptyFilter bool
}

// wrkSettings are wrk's threads and connections.
type wrkSettings struct{ threads, conns int }

func (s wrkSettings) String() string { return fmt.Sprintf("-t%d -c%d", s.threads, s.conns) }

// wrkResult is what one wrk run measured.
type wrkResult struct {
	Requests   int64   `json:"requests"`
	DurationUS float64 `json:"duration_us"`
	P50US      float64 `json:"p50"`
	P99US      float64 `json:"p99"`
	Failures   int64   `json:"failures"` // unexpected statuses
	Errors     int64   `json:"errors"`   // connect, read, write and timeout errors
	// cpu is the CPU time wrk used (user and system).
	cpu time.Duration
}

func (r wrkResult) rps() float64 {
	if r.DurationUS == 0 {
		return 0
	}
	return float64(r.Requests) / (r.DurationUS / 1e6)
}

func (r wrkResult) elapsed() time.Duration { return time.Duration(r.DurationUS) * time.Microsecond }

// luaPrelude is the part of every script that does not depend on the
// scenario. Each thread numbers its requests; setup hands each its
// number (tid) so that threads do not send the same names. Every
// response's status is checked against ok; done prints one JSON line
// that run parses.
const luaPrelude = `
local threads = {}
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local function lines(file)
  local t = {}
  if file == "" then return t end
  for l in io.lines(file) do t[#t + 1] = l end
  return t
end

local n = 0
fails = 0
function init(args)
  users = lines(USERS_FILE)
  spare = lines(SPARE_FILE)
  if tid == nil then tid = 0 end
end

function request()
  local method, path, body = make(n)
  n = n + 1
  local headers = {["Authorization"] = "Bearer " .. TOKEN}
  if body ~= nil then headers["Content-Type"] = "application/scim+json" end
  return wrk.format(method, path, headers, body)
end

function response(status, headers, body)
  if not OK[status] then
    fails = fails + 1
  elseif EMPTY_FILTER and status == 200 and not string.find(body, '"totalResults":0', 1, true) then
    fails = fails + 1
  end
end

function done(summary, latency, requests)
  local f = 0
  for _, t in ipairs(threads) do f = f + (t:get("fails") or 0) end
  local e = summary.errors
  io.write(string.format('SCIMLOAD {"requests":%d,"duration_us":%d,"p50":%d,"p99":%d,"failures":%d,"errors":%d}\n',
    summary.requests, summary.duration, math.floor(latency:percentile(50)), math.floor(latency:percentile(99)), f,
    e.connect + e.read + e.write + e.timeout))
end

-- user(i) is the userName of preloaded user i (from 0).
function user(i) return string.format(USER_FORMAT, i) end

-- userJSON is a typical user, as Entra ID provisions one.
function userJSON(name)
  return '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],' ..
    '"userName":"' .. name .. '","active":true,"displayName":"Load ' .. name .. '",' ..
    '"name":{"givenName":"Load","familyName":"' .. name .. '"},' ..
    '"emails":[{"value":"' .. name .. '@example.com","type":"work","primary":true},{"value":"' .. name .. '@home.example","type":"home"}],' ..
    '"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Engineering"}}'
end
`

// target is where wrk sends a scenario: a server and the files that hold
// its users' and spare users' ids, one a line, in preload order.
type target struct {
	url                  string
	usersFile, spareFile string
	bigGroup, smallGroup string
}

// writeScript writes the Lua script of l against t into dir and returns
// its path; vars are Lua globals the scenario's next reads.
func writeScript(dir string, l load, t target, userFormat string, vars map[string]string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "-- scimload: %s\n", l.name)
	fmt.Fprintf(&b, "TOKEN = %q\nUSERS_FILE = %q\nSPARE_FILE = %q\nUSER_FORMAT = %q\n", token, t.usersFile, t.spareFile, userFormat)
	fmt.Fprintf(&b, "BIG_GROUP = %q\nSMALL_GROUP = %q\nEMPTY_FILTER = %t\n", t.bigGroup, t.smallGroup, l.emptyFilter)
	for k, v := range vars {
		fmt.Fprintf(&b, "%s = %q\n", k, v)
	}
	b.WriteString("OK = {")
	for _, s := range l.ok {
		fmt.Fprintf(&b, "[%d] = true, ", s)
	}
	b.WriteString("}\n")
	b.WriteString(luaPrelude)
	b.WriteString(l.next)
	b.WriteString("\n")
	f, err := os.CreateTemp(dir, "scenario-*.lua")
	if err != nil {
		return "", fmt.Errorf("writing the wrk script: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return "", fmt.Errorf("writing the wrk script: %w", err)
	}
	return filepath.Clean(f.Name()), f.Close()
}

// runWrk runs wrk with script against url for d, or until stop is
// closed (stop may be nil), and returns what it measured. wrk's CPU time
// comes from the kernel's accounting of the ended process.
func runWrk(ctx context.Context, wrk, script, url string, s wrkSettings, d time.Duration, stop <-chan struct{}) (wrkResult, error) {
	secs := strconv.Itoa(max(1, int((d+time.Second-1)/time.Second)))
	cmd := exec.CommandContext(ctx, wrk, "-t"+strconv.Itoa(s.threads), "-c"+strconv.Itoa(s.conns), "-d"+secs+"s",
		"--timeout", "30s", "-s", script, url)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		return wrkResult{}, fmt.Errorf("starting wrk: %w", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var err error
	select {
	case err = <-waited:
	case <-stop:
		// wrk prints its figures when interrupted, over the time it ran.
		_ = cmd.Process.Signal(os.Interrupt)
		err = <-waited
	}
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w: %s", err, strings.TrimSpace(errOut.String()))
	}
	var res wrkResult
	for _, line := range strings.Split(out.String(), "\n") {
		if j, ok := strings.CutPrefix(line, "SCIMLOAD "); ok {
			if err := json.Unmarshal([]byte(j), &res); err != nil {
				return wrkResult{}, fmt.Errorf("reading wrk's output: %w", err)
			}
			res.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			return res, nil
		}
	}
	return wrkResult{}, fmt.Errorf("wrk printed no result: %s %s", strings.TrimSpace(out.String()), strings.TrimSpace(errOut.String()))
}
