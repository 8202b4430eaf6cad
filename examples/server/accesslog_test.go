package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
)

// parseLine reads one logfmt line as slog's text handler writes it: key=value
// pairs split by spaces, a value quoted as Go quotes strings when it needs it.
func parseLine(line string) (map[string]string, error) {
	fields := map[string]string{}
	rest := line
	for rest != "" {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("no key=value at %q", rest)
		}
		key := rest[:eq]
		rest = rest[eq+1:]
		var value string
		if strings.HasPrefix(rest, `"`) {
			quoted, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			if value, err = strconv.Unquote(quoted); err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			rest = rest[len(quoted):]
		} else {
			end := strings.IndexByte(rest, ' ')
			if end < 0 {
				end = len(rest)
			}
			value, rest = rest[:end], rest[end:]
		}
		if _, dup := fields[key]; dup {
			return nil, fmt.Errorf("%s twice", key)
		}
		fields[key] = value
		if rest != "" {
			if rest[0] != ' ' {
				return nil, fmt.Errorf("%s: no space after the value", key)
			}
			rest = rest[1:]
		}
	}
	return fields, nil
}

// accessLines parses the access log lines (msg=request) in out.
func accessLines(t *testing.T, out string) []map[string]string {
	t.Helper()
	var lines []map[string]string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if !strings.Contains(sc.Text(), " msg=request ") {
			continue
		}
		fields, err := parseLine(sc.Text())
		require.NoError(t, err, "line %q", sc.Text())
		lines = append(lines, fields)
	}
	require.NoError(t, sc.Err())
	return lines
}

func TestAppendAccessLine(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 891_234_567, time.FixedZone("", 3600))
	tests := []struct {
		name      string
		path      string
		requestID string
	}{
		{name: "plain", path: "/scim/v2/Users/2819c223-7f76-453a-919d-413861904646", requestID: "abc-123"},
		{name: "no request id", path: "/scim/v2/Users", requestID: ""},
		{name: "space and quote", path: `/scim/v2/Users/a b"c`, requestID: "x"},
		{name: "forged field", path: "/x status=500", requestID: "x"},
		{name: "newline", path: "/x\ntime=forged level=INFO msg=request", requestID: "x"},
		{name: "backslash", path: `/x\"`, requestID: "x"},
		{name: "non-ASCII", path: "/scim/v2/Users/jürgen\u202e", requestID: "x"},
		{name: "invalid UTF-8", path: "/x\xff", requestID: "x"},
		{name: "empty path", path: "", requestID: "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := string(appendAccessLine(nil, at, http.MethodGet, tt.path, 201, 512, 1234567*time.Nanosecond, tt.requestID))
			require.True(t, strings.HasSuffix(line, "\n"))
			require.Equal(t, 1, strings.Count(line, "\n"), "one line: %q", line)
			fields, err := parseLine(strings.TrimSuffix(line, "\n"))
			require.NoError(t, err, "%q", line)
			assert.Equal(t, map[string]string{
				"time": "2025-03-04T05:06:07.891+01:00", "level": "INFO", "msg": "request",
				"method": "GET", "path": tt.path, "status": "201", "bytes": "512",
				"duration": "1.235ms", "request_id": tt.requestID,
			}, fields)
		})
	}
}

// TestAccessLineLikeSlog checks that a line reads as the line slog's text
// handler wrote before, with bytes and request_id added.
func TestAccessLineLikeSlog(t *testing.T) {
	var old bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&old, nil))
	at := time.Now()
	logger.Info("request", "method", "GET", "path", "/scim/v2/Users/a b", "status", 200, "duration", 87*time.Microsecond)
	oldFields, err := parseLine(strings.TrimSuffix(old.String(), "\n"))
	require.NoError(t, err)
	newFields, err := parseLine(strings.TrimSuffix(string(appendAccessLine(nil, at, "GET", "/scim/v2/Users/a b", 200, 0, 87*time.Microsecond, "id")), "\n"))
	require.NoError(t, err)
	for k, v := range oldFields {
		if k == "time" {
			oldT, err := time.Parse(time.RFC3339, v)
			require.NoError(t, err)
			newT, err := time.Parse(time.RFC3339, newFields[k])
			require.NoError(t, err)
			assert.WithinDuration(t, oldT, newT, time.Second)
			assert.Len(t, newFields[k], len(v), "the same layout: %s, %s", newFields[k], v)
			continue
		}
		assert.Equal(t, v, newFields[k], k)
	}
}

func TestAppendTimestamp(t *testing.T) {
	zones := []*time.Location{time.UTC, time.Local, time.FixedZone("", 5*3600+30*60), time.FixedZone("", -(3*3600 + 30*60)), time.FixedZone("", -8*3600)}
	times := []time.Time{
		time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2030, 7, 15, 12, 0, 0, 10_000_000, time.UTC),
		time.Date(10, 1, 1, 0, 0, 0, 100_000_000, time.UTC),
		time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Now(),
	}
	for _, loc := range zones {
		for _, at := range times {
			at := at.In(loc)
			assert.Equal(t, at.Format(timestampLayout), string(appendTimestamp(nil, at)))
		}
	}
}

func TestAppendDuration(t *testing.T) {
	for _, d := range []time.Duration{
		0, 1, 999, time.Microsecond, 1500 * time.Nanosecond, 87 * time.Microsecond, 999 * time.Microsecond,
		time.Millisecond, 1001 * time.Microsecond, 1010 * time.Microsecond, 1100 * time.Microsecond,
		12345 * time.Microsecond, 999999 * time.Microsecond, time.Second, 1500 * time.Millisecond,
		3*time.Minute + 4*time.Microsecond, -time.Millisecond,
	} {
		assert.Equal(t, d.String(), string(appendDuration(nil, d)), "%d ns", int64(d))
	}
}

// lockedBuffer is a bytes.Buffer safe for the test to read while the log
// writes, that can be slow and remembers its largest Write.
type lockedBuffer struct {
	mu       sync.Mutex
	buf      bytes.Buffer
	delay    time.Duration
	writes   int
	maxWrite int
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	if b.delay > 0 {
		time.Sleep(b.delay)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes++
	b.maxWrite = max(b.maxWrite, len(p))
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestAccessLogConcurrent sends 64 goroutines × 200 requests through the
// middleware, into a fast writer and into a slow one with a small buffer
// (the requests wait for it), and finds every line, whole, once.
func TestAccessLogConcurrent(t *testing.T) {
	const goroutines, perGoroutine = 64, 200
	tests := []struct {
		name  string
		every time.Duration
		max   int
		delay time.Duration
	}{
		{name: "defaults", every: accessLogFlushEvery, max: accessLogMaxBuffered},
		{name: "small buffer", every: accessLogFlushEvery, max: 4 << 10},
		{name: "slow writer", every: accessLogFlushEvery, max: 4 << 10, delay: time.Millisecond},
		{name: "slow writer, frequent flushes", every: time.Millisecond, max: 64 << 10, delay: 2 * time.Millisecond},
		{name: "buffer smaller than a line", every: accessLogFlushEvery, max: 16, delay: 10 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := &lockedBuffer{delay: tt.delay}
			alog := newAccessLog(out, tt.every, tt.max)
			h := alog.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(scim.RequestIDHeader, r.Header.Get(scim.RequestIDHeader))
				if r.Method == http.MethodDelete {
					w.WriteHeader(http.StatusNoContent)
					return
				}
				_, _ = io.WriteString(w, r.URL.Path)
			}))
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range perGoroutine {
						method := http.MethodGet
						if i%5 == 0 {
							method = http.MethodDelete
						}
						r := httptest.NewRequest(method, fmt.Sprintf("/scim/v2/Users/u-%d-%d", g, i), nil)
						r.Header.Set(scim.RequestIDHeader, fmt.Sprintf("%d-%d", g, i))
						h.ServeHTTP(httptest.NewRecorder(), r)
					}
				}()
			}
			wg.Wait()
			require.NoError(t, alog.Close())

			lines := accessLines(t, out.String())
			require.Len(t, lines, goroutines*perGoroutine)
			seen := map[string]bool{}
			for _, f := range lines {
				id := f["request_id"]
				require.False(t, seen[id], "request %s logged twice", id)
				seen[id] = true
				var g, i int
				_, err := fmt.Sscanf(id, "%d-%d", &g, &i)
				require.NoError(t, err)
				path := fmt.Sprintf("/scim/v2/Users/u-%d-%d", g, i)
				assert.Equal(t, path, f["path"])
				if i%5 == 0 {
					assert.Equal(t, "DELETE", f["method"])
					assert.Equal(t, "204", f["status"])
					assert.Equal(t, "0", f["bytes"])
				} else {
					assert.Equal(t, "GET", f["method"])
					assert.Equal(t, "200", f["status"])
					assert.Equal(t, strconv.Itoa(len(path)), f["bytes"])
				}
				_, err = time.ParseDuration(f["duration"])
				assert.NoError(t, err)
				_, err = time.Parse(time.RFC3339, f["time"])
				assert.NoError(t, err)
			}
			// The log never held more than its buffer (but for a line
			// longer than the buffer): requests waited for the writer.
			assert.LessOrEqual(t, out.maxWrite, max(tt.max, 200), "%d writes", out.writes)
		})
	}
}

// TestAccessLogClose checks that lines are held until the interval or
// Close, that Close writes them all, and that a line after Close is
// written at once.
func TestAccessLogClose(t *testing.T) {
	out := &lockedBuffer{}
	alog := newAccessLog(out, time.Hour, accessLogMaxBuffered)
	for i := range 100 {
		alog.write(appendAccessLine(nil, time.Now(), "GET", "/scim/v2/Users", 200, 0, time.Millisecond, strconv.Itoa(i)))
	}
	assert.Empty(t, out.String(), "held in memory until the interval, or half the buffer, or Close")
	require.NoError(t, alog.Close())
	lines := accessLines(t, out.String())
	require.Len(t, lines, 100)
	for i, f := range lines {
		assert.Equal(t, strconv.Itoa(i), f["request_id"], "in order")
	}
	alog.write(appendAccessLine(nil, time.Now(), "GET", "/late", 200, 0, time.Millisecond, "late"))
	assert.Len(t, accessLines(t, out.String()), 101, "a line after Close is written at once")
	assert.NoError(t, alog.Close(), "a second Close")
}

// TestAccessLogInterval checks that a line is written within the interval
// without Close.
func TestAccessLogInterval(t *testing.T) {
	out := &lockedBuffer{}
	alog := newAccessLog(out, 10*time.Millisecond, accessLogMaxBuffered)
	defer alog.Close()
	alog.write(appendAccessLine(nil, time.Now(), "GET", "/scim/v2/Users", 200, 0, time.Millisecond, "one"))
	assert.Eventually(t, func() bool { return strings.Contains(out.String(), "request_id=one") }, 5*time.Second, 5*time.Millisecond)
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestAccessLogWriteError(t *testing.T) {
	broken := errors.New("broken pipe")
	alog := newAccessLog(failingWriter{broken}, time.Hour, accessLogMaxBuffered)
	alog.write([]byte("time=x level=INFO msg=request\n"))
	err := alog.Close()
	require.ErrorIs(t, err, broken)
	assert.Contains(t, err.Error(), "access log")
}

func TestResponseRecorder(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int
		bytes   int64
	}{
		{name: "nothing written", handler: func(http.ResponseWriter, *http.Request) {}, status: 200},
		{name: "body only", handler: func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello") }, status: 200, bytes: 5},
		{name: "201 and body", handler: func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, "{}")
			_, _ = io.WriteString(w, "\n")
		}, status: 201, bytes: 3},
		{name: "a second WriteHeader", handler: func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			w.WriteHeader(http.StatusOK)
		}, status: 404},
		{name: "103 first", handler: func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusNoContent)
		}, status: 204},
		{name: "flush through ResponseController", handler: func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "a")
			if err := http.NewResponseController(w).Flush(); err != nil {
				w.WriteHeader(http.StatusTeapot)
			}
		}, status: 200, bytes: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rw := &responseRecorder{ResponseWriter: httptest.NewRecorder()}
			tt.handler(rw, httptest.NewRequest(http.MethodGet, "/", nil))
			assert.Equal(t, tt.status, rw.Status())
			assert.Equal(t, tt.bytes, rw.bytes)
		})
	}
}

// terminate sends SIGTERM to the process and waits for it to exit.
func (p *process) terminate() error {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.exited:
		p.cmd = nil
		return p.waitErr
	case <-time.After(30 * time.Second):
		p.t.Fatalf("the server did not exit 30 s after SIGTERM\n%s", p.log)
		return nil
	}
}

// TestAccessLogProcess starts the example server, sends it requests from
// 16 clients, stops it with SIGTERM and finds a line for each request in
// its stderr once it has exited; with -access-log=false, none.
func TestAccessLogProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the tests that start server processes")
	}
	const clients, perClient = 16, 50
	tests := []struct {
		name  string
		args  []string
		lines int
	}{
		{name: "default", lines: clients * perClient},
		{name: "-access-log=false", args: []string{"-access-log=false"}, lines: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token := "access-log-token"
			p := startProcess(t, token, append([]string{"-postgres="}, tt.args...)...)
			c := client{token: token, http: &http.Client{Timeout: 20 * time.Second}}
			status, body, err := c.send(http.MethodPost, p.url+"/Users", userBody("bjensen"))
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, status, "%v", body)
			userURL := p.url + "/Users/" + body["id"].(string)

			var wg sync.WaitGroup
			errs := make(chan error, clients*perClient)
			for cl := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range perClient {
						req, err := http.NewRequest(http.MethodGet, userURL, nil)
						if err != nil {
							errs <- err
							return
						}
						req.Header.Set("Authorization", "Bearer "+token)
						req.Header.Set(scim.RequestIDHeader, fmt.Sprintf("proc-%d-%d", cl, i))
						resp, err := c.http.Do(req)
						if err != nil {
							errs <- err
							continue
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							errs <- fmt.Errorf("GET: %d", resp.StatusCode)
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			// A connection the client dialed but never sent a request on
			// holds Shutdown up to 5 s (net/http waits that long for its
			// first request): close them, the test is about the log.
			c.http.CloseIdleConnections()
			require.NoError(t, p.terminate(), "exit status after SIGTERM\n%s", p.log)

			got := 0
			for _, f := range accessLines(t, p.log.String()) {
				if strings.HasPrefix(f["request_id"], "proc-") {
					got++
					assert.Equal(t, "200", f["status"])
					assert.Equal(t, strings.TrimPrefix(userURL, strings.TrimSuffix(p.url, "/scim/v2")), f["path"])
					assert.NotEqual(t, "0", f["bytes"])
				}
			}
			assert.Equal(t, tt.lines, got, "access lines of the GETs")
			assert.Contains(t, p.log.String(), "shutting down")
		})
	}
}

// BenchmarkAccessLog compares the request line as slog's text handler
// wrote it (before) with the access log, through the middleware around a
// handler that writes a small body, from parallel goroutines, into
// io.Discard and into a file.
//
//	go test -run '^$' -bench AccessLog -benchmem ./examples/server
func BenchmarkAccessLog(b *testing.B) {
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header()[scim.RequestIDHeader] = []string{"5b1e0c6f2d7a4e3b9c8d1f0a"}
		_, _ = w.Write([]byte(`{"id":"2819c223"}`))
	})
	styles := []struct {
		name string
		wrap func(out io.Writer) (http.Handler, func() error)
	}{
		{name: "slog", wrap: func(out io.Writer) (http.Handler, func() error) {
			// The middleware as it was: a slog line written at once.
			logger := slog.New(slog.NewTextHandler(out, nil))
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				start := time.Now()
				sw := &responseRecorder{ResponseWriter: w}
				next.ServeHTTP(sw, r)
				logger.Info("request", "method", r.Method, "path", r.URL.Path, "status", sw.Status(),
					"duration", time.Since(start).Round(time.Microsecond))
			}), func() error { return nil }
		}},
		{name: "append", wrap: func(out io.Writer) (http.Handler, func() error) {
			alog := newAccessLog(out, accessLogFlushEvery, accessLogMaxBuffered)
			return alog.Handler(next), alog.Close
		}},
	}
	outs := []struct {
		name string
		open func(b *testing.B) io.Writer
	}{
		{name: "discard", open: func(*testing.B) io.Writer { return io.Discard }},
		{name: "file", open: func(b *testing.B) io.Writer {
			f, err := os.Create(b.TempDir() + "/access.log")
			require.NoError(b, err)
			b.Cleanup(func() { f.Close() })
			return f
		}},
	}
	for _, o := range outs {
		for _, s := range styles {
			b.Run(s.name+"/"+o.name, func(b *testing.B) {
				h, closeLog := s.wrap(o.open(b))
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					r := httptest.NewRequest(http.MethodGet, "/scim/v2/Users/2819c223-7f76-453a-919d-413861904646", nil)
					w := &discardResponse{header: http.Header{}}
					for pb.Next() {
						h.ServeHTTP(w, r)
					}
				})
				require.NoError(b, closeLog())
			})
		}
	}
}

// discardResponse is a ResponseWriter that keeps nothing, so that the
// benchmark measures the log, not a recorder.
type discardResponse struct{ header http.Header }

func (w *discardResponse) Header() http.Header         { return w.header }
func (w *discardResponse) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardResponse) WriteHeader(int)             {}
