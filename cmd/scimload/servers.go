package main

// The servers wrk drives: the net/http floor, the handler mounted bare in
// this process, elimity-com/scim in this process, and the example server
// as shipped, a process of its own.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/scimkit/scim"
)

// token is the bearer token every side accepts.
const token = "scimload-token"

// server is one HTTP server on a loopback port; pid is the process that
// serves it (this one for the servers in process).
type server struct {
	url     string
	pid     int
	profile string // where a CPU profile of the process is fetched, if it is another process and serves one
	close   func()
}

// Its connections' goroutines carry the pprof label side=name, so that
// one CPU profile of the run splits by side (go tool pprof -tagfocus
// side=bare), reading and writing the socket included. They are labelled
// at their first request, once per connection: per request would add to
// the allocations the table reports.
func listen(name string, h http.Handler) (server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return server{}, fmt.Errorf("listening: %w", err)
	}
	labels := pprof.WithLabels(context.Background(), pprof.Labels("side", name))
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if done, _ := r.Context().Value(labelledKey{}).(*bool); done != nil && !*done {
				*done = true // net/http serves a connection's requests in one goroutine
				pprof.SetGoroutineLabels(labels)
			}
			h.ServeHTTP(w, r)
		}),
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			return context.WithValue(ctx, labelledKey{}, new(bool))
		},
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = srv.Serve(l) }()
	return server{url: "http://" + l.Addr().String(), pid: os.Getpid(), close: func() { _ = srv.Close() }}, nil
}

// labelledKey carries whether a connection's goroutine is labelled yet.
type labelledKey struct{}

// floorServer answers GET /scim/v2/Users/{id} with a pre-encoded
// document from a map: the least any Go server can do for the request.
func floorServer(fx *fixture) (server, error) {
	docs := make(map[string][]byte, fx.users)
	for i := range fx.users {
		docs[fx.userID(i)] = fx.floorDoc(i)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /scim/v2/Users/{id}", func(w http.ResponseWriter, r *http.Request) {
		doc, ok := docs[r.PathValue("id")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/scim+json")
		_, _ = w.Write(doc)
	})
	return listen("floor", mux)
}

// bareServer mounts the handler over store as a host mounts it: under
// /scim/v2/ of its own mux, its logging off.
func bareServer(name string, store scim.Store) (server, error) {
	h, err := scim.New(store, scim.NewBearerTokens(scim.Token{Secret: token}),
		scim.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return server{}, fmt.Errorf("mounting the handler: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", h)
	return listen(name, mux)
}

// shippedServer builds ./examples/server into dir and starts it on the
// memory store with its access log on, written to a file in dir as a
// deployment redirects stderr; with profile, it also serves pprof.
func shippedServer(ctx context.Context, dir string, profile bool) (server, error) {
	bin := filepath.Join(dir, "scim-example-server")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/server")
	if out, err := build.CombinedOutput(); err != nil {
		return server{}, fmt.Errorf("building ./examples/server (run scimload from the module root): %w: %s", err, out)
	}
	addr, err := freePort()
	if err != nil {
		return server{}, err
	}
	args := []string{"-addr", addr}
	var profileURL string
	if profile {
		pprofAddr, err := freePort()
		if err != nil {
			return server{}, err
		}
		args = append(args, "-pprof", pprofAddr)
		profileURL = "http://" + pprofAddr + "/debug/pprof/profile"
	}
	logFile, err := os.Create(filepath.Join(dir, "example-server.log"))
	if err != nil {
		return server{}, fmt.Errorf("creating the server's log: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "SCIM_TOKEN="+token, "SCIM_POSTGRES_DSN=")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return server{}, fmt.Errorf("starting the example server: %w", err)
	}
	s := server{url: "http://" + addr, pid: cmd.Process.Pid, profile: profileURL, close: func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		logFile.Close()
	}}
	for range 200 {
		if status, _, err := call(ctx, http.DefaultClient, s.url, http.MethodGet, "/scim/v2/ServiceProviderConfig", nil); err == nil && status == http.StatusOK {
			return s, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.close()
	return server{}, fmt.Errorf("the example server did not answer on %s (log in %s)", addr, logFile.Name())
}

// freePort is a loopback address no listener holds now.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// call sends one request and returns its status and body.
func call(ctx context.Context, client *http.Client, base, method, p string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, base+p, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// bulkChunk is how many creates one preload /Bulk request carries.
const bulkChunk = 1000

// preloadHTTP loads the fixture into the server at base through /Bulk,
// as a client would, and writes the ids it assigned under dir as side.
func preloadHTTP(ctx context.Context, base string, fx *fixture, groupSize int, dir, side string) (loaded, error) {
	client := &http.Client{Timeout: time.Minute}
	create := func(names []string) ([]string, error) {
		ops := make([]map[string]any, len(names))
		for i, n := range names {
			u := typicalUser(n)
			u["schemas"] = []string{scim.UserSchema, scim.EnterpriseUserSchema}
			ops[i] = map[string]any{"method": "POST", "path": "/Users", "bulkId": fmt.Sprint(i), "data": u}
		}
		body, _ := json.Marshal(map[string]any{"schemas": []string{scim.BulkRequestSchema}, "Operations": ops})
		status, resp, err := call(ctx, client, base, http.MethodPost, "/scim/v2/Bulk", body)
		if err != nil {
			return nil, fmt.Errorf("preloading over /Bulk: %w", err)
		}
		var out struct {
			Operations []struct {
				Location string `json:"location"`
				Status   string `json:"status"`
			}
		}
		if err := json.Unmarshal(resp, &out); err != nil || status != http.StatusOK || len(out.Operations) != len(names) {
			return nil, fmt.Errorf("preloading over /Bulk: status %d: %.300s", status, resp)
		}
		ids := make([]string, len(names))
		for i, op := range out.Operations {
			if op.Status != "201" {
				return nil, fmt.Errorf("preloading over /Bulk: an operation answered %s: %.300s", op.Status, resp)
			}
			ids[i] = path.Base(op.Location)
		}
		return ids, nil
	}
	createAll := func(n int, name func(int) string) ([]string, error) {
		ids := make([]string, n)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var first error
		sem := make(chan struct{}, 4)
		for start := 0; start < n; start += bulkChunk {
			end := min(start+bulkChunk, n)
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				names := make([]string, 0, end-start)
				for i := start; i < end; i++ {
					names = append(names, name(i))
				}
				got, err := create(names)
				mu.Lock()
				defer mu.Unlock()
				if err != nil && first == nil {
					first = err
				}
				copy(ids[start:], got)
			}()
		}
		wg.Wait()
		return ids, first
	}
	ids, err := createAll(fx.users, fx.userName)
	if err != nil {
		return loaded{}, err
	}
	spare, err := createAll(spareUsers, fx.spareName)
	if err != nil {
		return loaded{}, err
	}
	group := func(name string, n int) (string, error) {
		members := make([]map[string]string, 0, n)
		for i := 0; i < n && i < len(ids); i++ {
			members = append(members, map[string]string{"value": ids[i], "type": "User"})
		}
		body, _ := json.Marshal(map[string]any{"schemas": []string{scim.GroupSchema}, "displayName": name + " " + fx.run, "members": members})
		status, resp, err := call(ctx, client, base, http.MethodPost, "/scim/v2/Groups?excludedAttributes=members", body)
		if err != nil || status != http.StatusCreated {
			return "", fmt.Errorf("preloading group %s: status %d: %w: %.300s", name, status, err, resp)
		}
		var g struct{ ID string }
		if err := json.Unmarshal(resp, &g); err != nil {
			return "", fmt.Errorf("preloading group %s: %w", name, err)
		}
		return g.ID, nil
	}
	var l loaded
	if l.bigGroup, err = group("big", groupSizeOf(groupSize)); err != nil {
		return loaded{}, err
	}
	if l.smallGroup, err = group("small", smallGroup); err != nil {
		return loaded{}, err
	}
	return writeFixtureFiles(dir, side, ids, spare, l)
}

// totalUsers asks the server at base how many users it holds.
func totalUsers(ctx context.Context, base string) (int, error) {
	status, body, err := call(ctx, http.DefaultClient, base, http.MethodGet, "/scim/v2/Users?count=0", nil)
	if err != nil {
		return 0, err
	}
	var page struct{ TotalResults int }
	if err := json.Unmarshal(body, &page); err != nil || status != http.StatusOK {
		return 0, fmt.Errorf("counting users: status %d: %.200s", status, strings.TrimSpace(string(body)))
	}
	return page.TotalResults, nil
}
