package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// childEnv makes the test binary run main() instead of the tests, so that
// the tests can start real app processes without building anything.
const childEnv = "HOSTAPP_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// pgSchema returns a pool on SCIM_POSTGRES_DSN and a fresh schema name,
// dropped when t ends; it skips t without the DSN.
func pgSchema(t *testing.T) (*pgxpool.Pool, string, string) {
	t.Helper()
	dsn := os.Getenv("SCIM_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("SCIM_POSTGRES_DSN is not set: skipping the hostapp's PostgreSQL tests (set it to a database the test may create schemas in)")
	}
	pool, err := pgxpool.New(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "hostapp_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
	return pool, dsn, schema
}

// TestHostAppRestartOnPostgres runs the app on PostgreSQL, stops it and
// starts it again: the identity provider's token still works, the
// directory and the app's own table are still there, and the only owner
// is still protected.
func TestHostAppRestartOnPostgres(t *testing.T) {
	pool, _, schema := pgSchema(t)
	start := func() (*httptest.Server, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		h, err := newApp(ctx, config{admin: "admin-secret", seats: 5, pool: pool, schema: schema, lease: time.Second, logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		require.NoError(t, err)
		return httptest.NewServer(h), cancel
	}
	first, stop := start()
	status, issued, _ := call(t, first, "admin-secret", http.MethodPost, "/admin/tokens?name=entra", "")
	require.Equal(t, http.StatusCreated, status)
	token := issued["token"].(string)
	status, body, _ := call(t, first, token, http.MethodPost, "/scim/v2/Users", scimUser("olivia"))
	require.Equal(t, http.StatusCreated, status, "%v", body)
	id := body["id"].(string)
	first.Close()
	stop()

	second, stop := start() // a restart: a new process would start just so
	defer stop()
	defer second.Close()
	status, body, _ = call(t, second, token, http.MethodGet, "/scim/v2/Users/"+id, "")
	require.Equal(t, http.StatusOK, status, "the token and the user survive the restart: %v", body)
	assert.Equal(t, "olivia", body["userName"])
	assert.Eventually(t, func() bool {
		_, table, _ := call(t, second, "", http.MethodGet, "/users", "")
		u, _ := table["users"].(map[string]any)[id].(map[string]any)
		return u["owner"] == true && u["invited"] == true && table["freeSeats"] == float64(4)
	}, 10*time.Second, 10*time.Millisecond, "the account, its seat and its invite are in the database")
	status, body, _ = call(t, second, token, http.MethodPatch, "/scim/v2/Users/"+id, deactivate)
	assert.Equal(t, http.StatusConflict, status, "the only owner is still protected: %v", body)
	assert.Contains(t, body["detail"], "only owner")
}

// appProcess is one hostapp process.
type appProcess struct {
	t   *testing.T
	url string
	cmd *exec.Cmd
	log *strings.Builder
}

func startApp(t *testing.T, dsn, schema string, args ...string) *appProcess {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	p := &appProcess{t: t, url: "http://" + addr, log: &strings.Builder{}}
	p.cmd = exec.Command(os.Args[0], append([]string{"-addr", addr, "-postgres", dsn, "-postgres-schema", schema, "-seats", "25"}, args...)...)
	p.cmd.Env = append(os.Environ(), childEnv+"=1", "HOSTAPP_ADMIN_TOKEN=admin-secret")
	p.cmd.Stdout, p.cmd.Stderr = io.Discard, &lockedWriter{b: p.log}
	require.NoError(t, p.cmd.Start())
	t.Cleanup(p.kill)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.url + "/users")
		if err == nil {
			resp.Body.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("hostapp at %s did not start: %v", p.url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the process at once (SIGKILL), as a crash or an OOM kill would.
func (p *appProcess) kill() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

func (p *appProcess) do(token, method, path, body string) (int, map[string]any) {
	p.t.Helper()
	req, err := http.NewRequest(method, p.url+path, strings.NewReader(body))
	require.NoError(p.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(p.t, err)
	defer resp.Body.Close()
	var obj map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&obj)
	return resp.StatusCode, obj
}

func count(t *testing.T, pool *pgxpool.Pool, schema, sql string) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), strings.ReplaceAll(sql, "S.", pgx.Identifier{schema}.Sanitize()+".")).Scan(&n))
	return n
}

// TestHostAppKilledBeforeTheInvite kills the app after a 201 and before
// its invite sender ran: the account and seat committed with the user;
// the next process sends the invite, once.
func TestHostAppKilledBeforeTheInvite(t *testing.T) {
	pool, dsn, schema := pgSchema(t)
	first := startApp(t, dsn, schema, "-invite-delay", "1h")
	status, issued := first.do("admin-secret", http.MethodPost, "/admin/tokens?name=entra", "")
	require.Equal(t, http.StatusCreated, status)
	token := issued["token"].(string)
	status, body := first.do(token, http.MethodPost, "/scim/v2/Users", scimUser("olivia"))
	require.Equal(t, http.StatusCreated, status, "%v", body)
	first.kill()
	assert.Equal(t, 1, count(t, pool, schema, `SELECT count(*) FROM S.app_accounts WHERE licensed`), "the account and its seat committed with the user")
	assert.Equal(t, 0, count(t, pool, schema, `SELECT count(*) FROM S.app_invites`), "no invite went out before the kill")

	second := startApp(t, dsn, schema)
	require.Eventually(t, func() bool {
		return count(t, pool, schema, `SELECT count(*) FROM S.app_invites`) == 1
	}, 10*time.Second, 10*time.Millisecond, "the restarted app sends the invite the dead one did not")
	second.kill()
	third := startApp(t, dsn, schema)
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, 1, count(t, pool, schema, `SELECT count(*) FROM S.app_invites`), "once: another restart sends nothing again")
	assert.Equal(t, 24, count(t, pool, schema, `SELECT free FROM S.app_seats`))
	third.kill()
}

// TestHostAppTwoReplicas runs two app processes on one database: they
// share the seats, one sends invites at a time, and when it is killed the
// other takes over; every user is invited exactly once and exactly as
// many users are licensed as there are seats.
func TestHostAppTwoReplicas(t *testing.T) {
	pool, dsn, schema := pgSchema(t)
	replicas := []*appProcess{startApp(t, dsn, schema, "-lease", "1s"), startApp(t, dsn, schema, "-lease", "1s")}
	status, issued := replicas[0].do("admin-secret", http.MethodPost, "/admin/tokens?name=entra", "")
	require.Equal(t, http.StatusCreated, status)
	token := issued["token"].(string)
	create := func(p *appProcess, name string) {
		status, body := p.do(token, http.MethodPost, "/scim/v2/Users", scimUser(name))
		require.Equal(t, http.StatusCreated, status, "%v", body)
	}
	for i := range 20 {
		create(replicas[i%2], fmt.Sprintf("user%02d", i))
	}
	// Kill the replica that holds the invite sender's lease.
	var owner string
	require.Eventually(t, func() bool {
		err := pool.QueryRow(context.Background(), `SELECT owner FROM `+pgx.Identifier{schema}.Sanitize()+`.consumers WHERE name = 'invite-sender'`).Scan(&owner)
		return err == nil && owner != ""
	}, 10*time.Second, 10*time.Millisecond)
	pid, _ := strconv.Atoi(strings.Split(owner, "/")[1])
	var survivor *appProcess
	for _, r := range replicas {
		if r.cmd.Process.Pid == pid {
			r.kill()
		} else {
			survivor = r
		}
	}
	require.NotNil(t, survivor, "the lease's owner %q is one of the replicas", owner)
	for i := 20; i < 30; i++ {
		create(survivor, fmt.Sprintf("user%02d", i))
	}
	require.Eventually(t, func() bool {
		return count(t, pool, schema, `SELECT count(*) FROM S.app_invites`) == 30
	}, 15*time.Second, 20*time.Millisecond, "the surviving replica takes the invite sender over")
	assert.Equal(t, 30, count(t, pool, schema, `SELECT count(DISTINCT scim_id) FROM S.app_invites`), "each user invited once")
	assert.Equal(t, 25, count(t, pool, schema, `SELECT count(*) FROM S.app_accounts WHERE licensed`), "25 seats, shared")
	assert.Equal(t, 0, count(t, pool, schema, `SELECT free FROM S.app_seats`))
	assert.Equal(t, 1, count(t, pool, schema, `SELECT count(*) FROM S.app_accounts WHERE owner`), "one owner")
}

// lockedWriter is a strings.Builder safe for the child's output.
type lockedWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
