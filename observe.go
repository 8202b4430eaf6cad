package scim

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// RequestIDHeader carries a request's id: the handler takes a client's or
// a proxy's, or makes one, and echoes it in the response.
const RequestIDHeader = "X-Request-Id"

type requestIDKey struct{}

// RequestIDFrom returns the id of the request ctx belongs to, for a host's
// own logs from hooks and stores; "" outside a request.
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestID returns the id of r: its X-Request-Id header when that is a
// sensible one, else a new one.
func requestID(r *http.Request) string {
	id := r.Header.Get(RequestIDHeader)
	if !validRequestID(id) {
		id = newID()
	}
	return id
}

// validRequestID accepts up to 128 characters of letters, digits and
// "-_.:/+=", so that a header cannot forge log lines.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:/+=", c)
		if !ok {
			return false
		}
	}
	return true
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// isWrite reports whether a request to segs writes: every method but GET
// and HEAD, and POST to a search.
func isWrite(method string, segs []string) bool {
	return method != http.MethodGet && method != http.MethodHead && !(method == http.MethodPost && isSearch(segs))
}

// The outcomes of a write's log line.
const (
	outcomeOK      = "ok"
	outcomeRefused = "refused" // 4xx
	outcomeFailed  = "failed"  // 5xx
	// outcomeAfterHookFailed: the write succeeded, and the client was
	// told so, but an after hook returned an error (logged on its own line
	// under the same request id); failed_hooks names them.
	outcomeAfterHookFailed = "ok_after_hook_failed"
)

// logWrite logs one write, once: what was written by whom, how it ended
// and how long it took. Never a token, a password or an attribute value.
// afterFailed names the after hooks of the write that failed.
func (h *Handler) logWrite(ctx context.Context, method, resourceType, id string, status int, took time.Duration, afterFailed []string) {
	outcome, level := outcomeOK, slog.LevelInfo
	switch {
	case status >= 500:
		outcome, level = outcomeFailed, slog.LevelError
	case status >= 400:
		outcome, level = outcomeRefused, slog.LevelWarn
	case len(afterFailed) > 0:
		outcome, level = outcomeAfterHookFailed, slog.LevelWarn
	}
	p, _ := PrincipalFrom(ctx)
	attrs := []slog.Attr{slog.String("method", method), slog.String("resourceType", resourceType),
		slog.String("id", id), slog.String("tenant", p.Tenant), slog.String("principal", p.ID), slog.Int("status", status),
		slog.String("outcome", outcome), slog.Duration("duration", took.Round(time.Microsecond)), slog.String("request_id", RequestIDFrom(ctx))}
	if outcome == outcomeAfterHookFailed {
		attrs = append(attrs, slog.String("failed_hooks", strings.Join(afterFailed, ",")))
	}
	h.logger.LogAttrs(ctx, level, "scim: write", attrs...)
}

// writtenID returns the id of the resource a write answered for: the last
// segment of its Location, or of its path.
func writtenID(w http.ResponseWriter, segs []string) string {
	if loc := w.Header().Get("Location"); loc != "" {
		return loc[strings.LastIndexByte(loc, '/')+1:]
	}
	if len(segs) == 2 {
		return segs[1]
	}
	return ""
}
