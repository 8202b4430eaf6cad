package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// childEnv makes the test binary run main() instead of the tests, so that
// the tests can start real server processes without building anything.
const childEnv = "SCIM_EXAMPLE_SERVER_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// process is one example server running as a child process.
type process struct {
	t    *testing.T
	args []string
	env  []string
	url  string
	cmd  *exec.Cmd
	log  *strings.Builder

	exited  <-chan struct{} // closed once cmd has exited
	waitErr error           // cmd's exit, once exited is closed
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// startProcess starts the example server on a free address. An address
// free when picked may be taken before the child binds it (tests start
// servers in parallel): then it picks another.
func startProcess(t *testing.T, token string, args ...string) *process {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addr := freeAddr(t)
		p := &process{
			t:    t,
			args: append([]string{"-addr", addr}, args...),
			env:  append(os.Environ(), childEnv+"=1", "SCIM_TOKEN="+token),
			url:  "http://" + addr + "/scim/v2",
		}
		if p.tryStart() {
			t.Cleanup(p.kill)
			return p
		}
		if !strings.Contains(p.log.String(), "address already in use") || attempt == 5 {
			t.Fatalf("the server at %s did not start\n%s", p.url, p.log)
		}
	}
}

// start starts the process again, on its address.
func (p *process) start() {
	p.t.Helper()
	if !p.tryStart() {
		p.t.Fatalf("the server at %s did not start\n%s", p.url, p.log)
	}
}

// tryStart starts the process and reports whether it serves: its own log
// says it listens (an answer alone could come from another test's server
// on the address), and SCIM answers. A process that exits or does not
// serve within 20 s is a failure.
func (p *process) tryStart() bool {
	p.t.Helper()
	p.cmd = exec.Command(os.Args[0], p.args...)
	p.cmd.Env = p.env
	p.log = &strings.Builder{}
	log := &syncWriter{w: p.log}
	p.cmd.Stdout, p.cmd.Stderr = io.Discard, log
	require.NoError(p.t, p.cmd.Start())
	exited := make(chan struct{})
	p.exited = exited
	go func(cmd *exec.Cmd) {
		p.waitErr = cmd.Wait()
		close(exited)
	}(p.cmd)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			return false
		default:
		}
		if !strings.Contains(log.String(), "serving SCIM") {
			continue
		}
		resp, err := http.Get(p.url + "/ServiceProviderConfig")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusOK {
				return true
			}
		}
	}
	p.kill()
	return false
}

// kill ends the process at once, as a crash or an OOM kill would.
func (p *process) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprint(s.w)
}

// client sends SCIM requests with the token.
type client struct {
	token string
	http  *http.Client
}

// send returns the status and decoded body; err is a transport error (the
// server is down or died during the request: the write may or may not
// have happened).
func (c client) send(method, url, body string) (int, map[string]any, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			return 0, nil, fmt.Errorf("%d %s: %w", resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode, out, nil
}

func userBody(userName string) string {
	return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + userName + `"}`
}

// TestTwoProcessesOnePostgres runs two example servers on one PostgreSQL
// database: 64 clients through both add distinct members to one group and
// race to create the same userNames, while one server is killed and
// started again. No acknowledged write is lost, every userName has exactly
// one winner, and the group holds every member whose addition was
// acknowledged.
func TestTwoProcessesOnePostgres(t *testing.T) {
	dsn := os.Getenv("SCIM_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("SCIM_POSTGRES_DSN is not set: skipping the two-process test on PostgreSQL (set it to a database the test may create schemas in, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	if testing.Short() {
		t.Skip("-short: skipping the two-process test")
	}
	schema := newSchema(t, dsn)
	token := "multi-process-token"
	procs := []*process{
		startProcess(t, token, "-postgres", dsn, "-postgres-schema", schema),
		startProcess(t, token, "-postgres", dsn, "-postgres-schema", schema),
	}
	c := client{token: token, http: &http.Client{Timeout: 30 * time.Second}}

	status, body, err := c.send(http.MethodPost, procs[0].url+"/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Everyone"}`)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, status, "%v", body)
	group := body["id"].(string)

	const clients, perClient, duplicates = 64, 8, 12
	var (
		mu        sync.Mutex
		created   = map[string]string{} // acknowledged creates: userName → id
		members   []string              // acknowledged member additions
		winners   = map[string]int{}    // duplicate userName → acknowledged 201s
		failures  []string
		completed atomic.Int64
		retried   atomic.Int64 // requests that met a dead server or a 5xx
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf(format, args...))
	}
	// retry sends to one server and, on a transport error or a 5xx (the
	// server is down, or its database connection broke), to the other.
	retry := func(first int, method, path, body string) (int, map[string]any) {
		for try := 0; try < 100; try++ {
			p := procs[(first+try)%2]
			status, out, err := c.send(method, p.url+path, body)
			if err == nil && status < 500 {
				return status, out
			}
			retried.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
		return 0, nil
	}
	// idOf finds the user a create made even if its answer was lost.
	idOf := func(userName string) string {
		status, out := retry(0, http.MethodGet, `/Users?filter=userName%20eq%20%22`+userName+`%22`, "")
		if status != http.StatusOK {
			return ""
		}
		list, _ := out["Resources"].([]any)
		if len(list) != 1 {
			return ""
		}
		id, _ := list[0].(map[string]any)["id"].(string)
		return id
	}

	var wg sync.WaitGroup
	for cl := 0; cl < clients; cl++ {
		wg.Add(1)
		go func(cl int) {
			defer wg.Done()
			for i := 0; i < perClient; i++ {
				userName := fmt.Sprintf("member-%02d-%02d", cl, i)
				status, out := retry(cl+i, http.MethodPost, "/Users", userBody(userName))
				var id string
				switch status {
				case http.StatusCreated:
					id = out["id"].(string)
					mu.Lock()
					created[userName] = id
					mu.Unlock()
				case http.StatusConflict: // an earlier try was written but its answer lost
					id = idOf(userName)
				default:
					fail("POST /Users %s: %d %v", userName, status, out)
					continue
				}
				patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"` + id + `"}]}]}`
				if status, out := retry(cl+i+1, http.MethodPatch, "/Groups/"+group, patch); status == http.StatusNoContent {
					mu.Lock()
					members = append(members, id)
					mu.Unlock()
				} else {
					fail("PATCH add member %s: %d %v", id, status, out)
				}
				completed.Add(1)
			}
			for d := 0; d < duplicates; d++ {
				userName := fmt.Sprintf("duplicate-%02d", d)
				status, err := func() (int, error) {
					status, _, err := c.send(http.MethodPost, procs[cl%2].url+"/Users", userBody(userName))
					return status, err
				}()
				switch {
				case err != nil || status >= 500: // the server went down: not acknowledged
				case status == http.StatusCreated:
					mu.Lock()
					winners[userName]++
					mu.Unlock()
				case status != http.StatusConflict:
					fail("POST /Users %s: %d, want 201 or 409", userName, status)
				}
			}
		}(cl)
	}

	// Kill the second server once a quarter of the member additions are
	// acknowledged, and bring it back.
	for completed.Load() < clients*perClient/4 {
		time.Sleep(5 * time.Millisecond)
	}
	procs[1].kill()
	time.Sleep(300 * time.Millisecond)
	procs[1].start()
	wg.Wait()
	require.Empty(t, failures)

	// Every acknowledged write is there, read through either server.
	for i, p := range procs {
		status, out, err := c.send(http.MethodGet, p.url+"/Groups/"+group, "")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		got := map[string]bool{}
		list, _ := out["members"].([]any)
		for _, m := range list {
			got[m.(map[string]any)["value"].(string)] = true
		}
		for _, id := range members {
			assert.True(t, got[id], "server %d: acknowledged member %s is missing", i, id)
		}
		assert.Len(t, list, clients*perClient, "server %d: every member was added, once", i)
	}
	for userName, id := range created {
		status, out, err := c.send(http.MethodGet, procs[1].url+"/Users/"+id, "")
		require.NoError(t, err)
		if assert.Equal(t, http.StatusOK, status, "acknowledged user %s", userName) {
			assert.Equal(t, userName, out["userName"])
		}
	}
	for d := 0; d < duplicates; d++ {
		userName := fmt.Sprintf("duplicate-%02d", d)
		assert.LessOrEqual(t, winners[userName], 1, "%s: one acknowledged create at most", userName)
		status, out, err := c.send(http.MethodGet, procs[0].url+`/Users?filter=userName%20eq%20%22`+userName+`%22`, "")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		assert.EqualValues(t, 1, out["totalResults"], "%s: exactly one User holds the userName", userName)
	}
	t.Logf("%d users and %d member additions acknowledged; server 2 was killed and restarted, and %d requests were retried on the other server", len(created), len(members), retried.Load())
}

// newSchema returns the name of a fresh PostgreSQL schema for one test,
// dropped when it ends.
func newSchema(t *testing.T, dsn string) string {
	t.Helper()
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	schema := "scim_example_" + hex.EncodeToString(b)
	pool, err := pgxpool.New(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("dropping schema %s: %v", schema, err)
		}
		pool.Close()
	})
	return schema
}
