package postgres_test

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
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/postgres"
)

// flakyProxy forwards TCP connections to PostgreSQL and can break them the
// ways a network and a restarting server do: reset every open connection,
// reset new ones as soon as they arrive, or take new ones and never answer.
type flakyProxy struct {
	ln                net.Listener
	network, upstream string

	mu    sync.Mutex
	mode  string                // "up", "reset" or "blackhole"
	conns map[net.Conn]net.Conn // client side → server side, while forwarded
	held  []net.Conn            // taken in blackhole mode, never answered
	wg    sync.WaitGroup
}

func newFlakyProxy(t *testing.T, network, upstream string) *flakyProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &flakyProxy{ln: ln, network: network, upstream: upstream, mode: "up", conns: map[net.Conn]net.Conn{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.set("reset")
		p.wg.Wait()
	})
	return p
}

// resetConn closes c with a TCP reset, as a peer that went away does.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

func (p *flakyProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		if mode == "blackhole" {
			p.held = append(p.held, c)
		}
		p.mu.Unlock()
		switch mode {
		case "reset":
			resetConn(c)
			continue
		case "blackhole":
			continue
		}
		u, err := net.DialTimeout(p.network, p.upstream, 2*time.Second)
		if err != nil {
			resetConn(c)
			continue
		}
		p.mu.Lock()
		if p.mode != "up" {
			p.mu.Unlock()
			resetConn(c)
			_ = u.Close()
			continue
		}
		p.conns[c] = u
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(c, u, c)
		go p.pipe(c, c, u)
	}
}

// pipe copies from src to dst until either side fails, then closes both.
func (p *flakyProxy) pipe(client, dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	p.mu.Lock()
	u, ok := p.conns[client]
	delete(p.conns, client)
	p.mu.Unlock()
	if ok {
		_ = client.Close()
		_ = u.Close()
	}
}

// set switches the proxy's mode. Leaving "up" resets every forwarded
// connection; leaving "blackhole" resets the connections it held.
func (p *flakyProxy) set(mode string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = mode
	if mode != "up" {
		for c, u := range p.conns {
			resetConn(c)
			_ = u.Close()
		}
		clear(p.conns)
	}
	if mode != "blackhole" {
		for _, c := range p.held {
			resetConn(c)
		}
		p.held = nil
	}
}

// outcome is one POST of the load.
type outcome struct {
	sent   time.Time
	status int
	id     string // of the User, on 201
	detail string
	retry  string // the Retry-After header
	raw    string
	err    error
}

// TestOutageUnderLoad cuts the database away from a running handler while
// clients create users through it: backends terminated by the server
// (57P01), connections reset, new connections reset or never answered (so
// that the pool cannot hand one out before the request's deadline). Every
// response must be a 201 or a 503 with Retry-After and a SCIM error body
// that does not carry the cause; every user acknowledged with 201 must be
// stored; and once the cuts stop, the service must be back by itself
// within a few seconds. Tokens live in the same database, so the
// Authenticator meets the outage too.
func TestOutageUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a fault test of several seconds")
	}
	admin := testPool(t)
	schema := freshSchema(t, admin)
	ctx := context.Background()
	var b [6]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	appName := "scim_outage_" + hex.EncodeToString(b[:])

	// The store under test reaches PostgreSQL only through the proxy, on a
	// pool of its own, named so that only its backends are terminated.
	base := admin.Config().ConnConfig
	network, upstream := pgconn.NetworkAddress(base.Host, base.Port)
	proxy := newFlakyProxy(t, network, upstream)
	cfg, err := pgxpool.ParseConfig(admin.Config().ConnString())
	require.NoError(t, err)
	cfg.MaxConns = 4
	cfg.MinConns = 0
	cfg.ConnConfig.RuntimeParams["application_name"] = appName
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second // longer than a request may wait: the request's deadline ends a hung connect
	var dialer net.Dialer
	proxyAddr := proxy.ln.Addr().String()
	cfg.ConnConfig.DialFunc = func(ctx context.Context, _, _ string) (net.Conn, error) {
		return dialer.DialContext(ctx, "tcp", proxyAddr) // fallbacks and cancel requests too
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	direct, err := postgres.New(ctx, admin, postgres.WithSchema(schema))
	require.NoError(t, err)
	store, err := postgres.New(ctx, pool, postgres.WithSchema(schema))
	require.NoError(t, err)
	secret, _, err := scim.NewTokens(direct).Issue(ctx, scim.Principal{ID: "idp", Tenant: "acme"}, 0)
	require.NoError(t, err)

	var logs syncWriter
	// Half the clients hold a token kept in the database, half one kept in
	// memory, whose requests meet the outage only in the store.
	inMemory := scim.NewBearerTokens(scim.Token{Secret: "in-memory-" + appName, Principal: scim.Principal{ID: "idp", Tenant: "acme"}})
	inDB := scim.NewTokens(store)
	auth := scim.AuthenticatorFunc(func(r *http.Request) (scim.Principal, error) {
		if p, err := inMemory.Authenticate(r); err == nil {
			return p, nil
		}
		return inDB.Authenticate(r)
	})
	h, err := scim.New(store, auth, scim.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)
	// A host bounds how long a request may wait, the pool's queue included.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(srv.Close)
	transport := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}

	const clients = 8
	var (
		stop    atomic.Bool
		mu      sync.Mutex
		results []outcome
		seq     atomic.Int64
		wg      sync.WaitGroup
	)
	post := func(secret string) outcome {
		name := fmt.Sprintf("%s-%d@example.com", appName, seq.Add(1))
		body := `{"schemas":["` + scim.UserSchema + `"],"userName":"` + name + `"}`
		o := outcome{sent: time.Now()}
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/Users", strings.NewReader(body))
		if err != nil {
			o.err = err
			return o
		}
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := client.Do(req)
		if err != nil {
			o.err = err
			return o
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		o.status, o.retry, o.raw, o.err = resp.StatusCode, resp.Header.Get("Retry-After"), string(raw), err
		var m map[string]any
		if json.Unmarshal(raw, &m) == nil {
			o.id, _ = m["id"].(string)
			o.detail, _ = m["detail"].(string)
			if o.status != http.StatusCreated && (fmt.Sprint(m["schemas"]) != "["+scim.ErrorSchema+"]" || m["status"] != fmt.Sprint(o.status)) {
				o.err = fmt.Errorf("not a SCIM error body: %s", raw)
			}
		}
		return o
	}
	for i := range clients {
		secret := secret
		if i%2 == 0 {
			secret = "in-memory-" + appName
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				o := post(secret)
				mu.Lock()
				results = append(results, o)
				mu.Unlock()
			}
		}()
	}

	// Healthy, then cut for a while, then healthy again. All along the
	// cuts, the server ends the store's sessions every 50 ms, as on a
	// restart or a failover (57P01).
	time.Sleep(300 * time.Millisecond)
	schedule := []struct {
		until time.Duration
		mode  string
	}{
		{600 * time.Millisecond, "up"},
		{900 * time.Millisecond, "reset"}, // connections reset, new ones too
		{1400 * time.Millisecond, "up"},
		{2600 * time.Millisecond, "blackhole"}, // new connections never answered: no connection before the deadline
		{3000 * time.Millisecond, "up"},
		{3300 * time.Millisecond, "reset"},
	}
	cutStart := time.Now()
	current := "up"
	for _, phase := range schedule {
		if phase.mode != current {
			proxy.set(phase.mode)
			current = phase.mode
		}
		for time.Since(cutStart) < phase.until {
			if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, appName); err != nil {
				t.Errorf("terminating backends: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	proxy.set("up")
	cutEnd := time.Now()
	time.Sleep(3500 * time.Millisecond) // recovery, then full service
	stop.Store(true)
	wg.Wait()

	// Every answer was a 201 or a 503 telling the client to come back.
	const recovery = 2 * time.Second // after the cuts, for the pool to replace what broke
	var created, unavailable, authUnavailable, after int
	acked := map[string]bool{}
	for _, o := range results {
		require.NoError(t, o.err)
		switch o.status {
		case http.StatusCreated:
			created++
			require.NotEmpty(t, o.id, o.raw)
			acked[o.id] = true
		case http.StatusServiceUnavailable:
			unavailable++
			if strings.Contains(o.detail, "authentication") {
				authUnavailable++
			}
			assert.Equal(t, "5", o.retry, "a 503 says when to retry: %s", o.raw)
			for _, leak := range []string{"SQLSTATE", "57P01", "postgres:", "EOF", "reset", "dial", "127.0.0.1"} {
				assert.NotContains(t, o.raw, leak, "the cause stays in the log")
			}
		default:
			t.Errorf("status %d during an outage; want 201 or 503: %s", o.status, o.raw)
		}
		if o.sent.After(cutEnd.Add(recovery)) {
			after++
			assert.Equal(t, http.StatusCreated, o.status, "%s after the cuts stopped: full service again: %s",
				o.sent.Sub(cutEnd).Round(time.Millisecond), o.raw)
		}
	}
	t.Logf("%d requests: %d created, %d unavailable (%d of them authenticating); %d after recovery",
		len(results), created, unavailable, authUnavailable, after)
	require.Positive(t, unavailable-authUnavailable, "the cuts must reach the store's write path, not only the Authenticator")
	require.Positive(t, authUnavailable, "the cuts must reach the Authenticator's token lookup")
	require.Positive(t, after, "requests after the recovery")

	// Every acknowledged user was stored.
	page, err := direct.Query(scim.WithPrincipal(ctx, scim.Principal{ID: "check", Tenant: "acme"}), "User",
		scim.Query{StartIndex: 1, Count: len(results) + 1})
	require.NoError(t, err)
	stored := map[string]bool{}
	for _, r := range page.Resources {
		stored[r.ID] = true
	}
	for id := range acked {
		assert.True(t, stored[id], "user %s was acknowledged with 201 and must be stored", id)
	}
	assert.GreaterOrEqual(t, page.TotalResults, len(acked))
	// The cause of each 503 was logged.
	assert.Contains(t, logs.String(), "scim: request failed")
}

// syncWriter is a log sink safe for the handler's concurrent writes.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
