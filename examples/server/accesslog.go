package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/scimkit/scim"
)

// Defaults of the access log: it writes what it holds every
// accessLogFlushEvery, and holds at most accessLogMaxBuffered bytes
// before requests wait for the writer.
const (
	accessLogFlushEvery  = 100 * time.Millisecond
	accessLogMaxBuffered = 256 << 10
)

// accessLog writes one line per request, in the logfmt of slog's text
// handler:
//
//	time=2025-01-02T15:04:05.123+01:00 level=INFO msg=request method=GET path=/scim/v2/Users/2819c223 status=200 bytes=512 duration=87µs request_id=4f3c…
//
// It formats the line without slog (no reflection, no boxed values) in
// a pooled buffer and copies it into memory; one goroutine writes what
// it holds every flush interval, or sooner once half of its buffer is
// used. No line is dropped: when the writer falls behind and the buffer
// is full, a request waits for it. Close writes the rest; a line logged
// after Close is written at once, unbuffered.
//
// Lines are written whole, one or more in each Write, so another writer
// of the same file (the handler's slog logger on stderr) does not cut
// them; its lines can precede access lines of requests that ended up to
// a flush interval before.
type accessLog struct {
	// mu guards space, buf and closed; outMu, taken while holding mu,
	// serialises writes to out and so keeps the lines in order.
	mu     sync.Mutex
	space  *sync.Cond // signalled when the drainer takes the buffer
	buf    []byte     // lines not yet handed to the writer
	max    int        // the most buf holds before a line waits
	closed bool

	outMu sync.Mutex
	out   io.Writer
	err   error // the first error out returned; guarded by outMu

	lines    sync.Pool // *[]byte to format a line in
	kick     chan struct{}
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// newAccessLog starts an access log that writes to out every interval
// (or sooner), holding at most max bytes; Close stops it.
func newAccessLog(out io.Writer, every time.Duration, max int) *accessLog {
	l := &accessLog{
		out:  out,
		max:  max,
		kick: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	l.space = sync.NewCond(&l.mu)
	l.lines.New = func() any {
		b := make([]byte, 0, 256)
		return &b
	}
	go l.drain(every)
	return l
}

// Handler logs a line for each request that next serves, once it has
// served it: never a header, so never a token.
func (l *accessLog) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &responseRecorder{ResponseWriter: w}
		next.ServeHTTP(rw, r)
		end := time.Now()
		var id string
		if v := w.Header()[scim.RequestIDHeader]; len(v) > 0 {
			id = v[0]
		}
		bp := l.lines.Get().(*[]byte)
		line := appendAccessLine((*bp)[:0], end, r.Method, r.URL.Path, rw.Status(), rw.bytes, end.Sub(start), id)
		l.write(line)
		if cap(line) <= 4<<10 { // a long path's buffer is not kept
			*bp = line
			l.lines.Put(bp)
		}
	})
}

// write takes a copy of line, waiting while the buffer is full.
func (l *accessLog) write(line []byte) {
	l.mu.Lock()
	if l.closed {
		l.outMu.Lock()
		l.mu.Unlock()
		l.writeOut(line)
		l.outMu.Unlock()
		return
	}
	for len(l.buf) > 0 && len(l.buf)+len(line) > l.max && !l.closed {
		l.signal()
		l.space.Wait()
	}
	if l.closed { // closed while this line waited: the drainer is gone
		l.outMu.Lock()
		l.mu.Unlock()
		l.writeOut(line)
		l.outMu.Unlock()
		return
	}
	l.buf = append(l.buf, line...)
	if len(l.buf) >= l.max/2 {
		l.signal()
	}
	l.mu.Unlock()
}

// signal wakes the drainer unless it has been woken already.
func (l *accessLog) signal() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// drain is the one goroutine that hands the buffer to out: every
// interval, when kicked, and a last time when stopped.
func (l *accessLog) drain(every time.Duration) {
	defer close(l.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	var spare []byte
	for {
		stopping := false
		select {
		case <-tick.C:
		case <-l.kick:
		case <-l.stop:
			stopping = true
		}
		l.mu.Lock()
		full := l.buf
		l.buf = spare[:0]
		l.space.Broadcast()
		if len(full) == 0 {
			l.mu.Unlock()
		} else {
			l.outMu.Lock()
			l.mu.Unlock()
			l.writeOut(full)
			l.outMu.Unlock()
		}
		spare = full
		if stopping {
			return
		}
	}
}

// writeOut writes b to out and remembers the first error; outMu is held.
func (l *accessLog) writeOut(b []byte) {
	if _, err := l.out.Write(b); err != nil && l.err == nil {
		l.err = err
	}
}

// Close writes every line logged so far and stops the drainer. It
// returns the first error of the writer, if any; the access log goes on
// taking lines, writing each at once.
func (l *accessLog) Close() error {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
	l.mu.Lock()
	l.closed = true
	l.space.Broadcast()
	rest := l.buf
	l.buf = nil
	l.outMu.Lock()
	l.mu.Unlock()
	defer l.outMu.Unlock()
	if len(rest) > 0 {
		l.writeOut(rest)
	}
	if l.err != nil {
		return fmt.Errorf("writing the access log: %w", l.err)
	}
	return nil
}

// appendAccessLine appends the line for one request to b, ending in a
// newline.
func appendAccessLine(b []byte, at time.Time, method, path string, status int, bytes int64, took time.Duration, requestID string) []byte {
	b = append(b, "time="...)
	b = appendTimestamp(b, at)
	b = append(b, " level=INFO msg=request method="...)
	b = appendValue(b, method)
	b = append(b, " path="...)
	b = appendValue(b, path)
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, " bytes="...)
	b = strconv.AppendInt(b, bytes, 10)
	b = append(b, " duration="...)
	b = appendDuration(b, took.Round(time.Microsecond))
	b = append(b, " request_id="...)
	b = appendValue(b, requestID)
	return append(b, '\n')
}

// timestampLayout is the layout of the time field, as slog's text
// handler writes it; appendTimestamp writes it faster than AppendFormat.
const timestampLayout = "2006-01-02T15:04:05.000Z07:00"

// appendTimestamp appends t in timestampLayout.
func appendTimestamp(b []byte, t time.Time) []byte {
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, timestampLayout)
	}
	b = appendPadded(b, year, 4)
	b = append(b, '-')
	b = appendPadded(b, int(month), 2)
	b = append(b, '-')
	b = appendPadded(b, day, 2)
	b = append(b, 'T')
	b = appendPadded(b, hour, 2)
	b = append(b, ':')
	b = appendPadded(b, minute, 2)
	b = append(b, ':')
	b = appendPadded(b, sec, 2)
	b = append(b, '.')
	b = appendPadded(b, t.Nanosecond()/int(time.Millisecond), 3)
	_, offset := t.Zone()
	if offset == 0 {
		return append(b, 'Z')
	}
	sign := byte('+')
	if offset < 0 {
		sign, offset = '-', -offset
	}
	b = append(b, sign)
	b = appendPadded(b, offset/3600, 2)
	b = append(b, ':')
	return appendPadded(b, offset/60%60, 2)
}

// appendPadded appends n (0 or more) in decimal, with leading zeros to
// width digits.
func appendPadded(b []byte, n, width int) []byte {
	digits := 1
	for p := 10; n >= p; p *= 10 {
		digits++
	}
	for ; digits < width; digits++ {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(n), 10)
}

// appendValue appends s, quoted as Go quotes a string when it is empty
// or holds a space, '"', '=', a control character or anything beyond
// ASCII, so that no value can end a line or forge a field.
func appendValue(b []byte, s string) []byte {
	if s == "" {
		return append(b, `""`...)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f {
			return strconv.AppendQuote(b, s)
		}
	}
	return append(b, s...)
}

// appendDuration appends d as d.String() writes it, without allocating
// below a second.
func appendDuration(b []byte, d time.Duration) []byte {
	switch {
	case d <= 0 || d >= time.Second:
		return append(b, d.String()...)
	case d < time.Microsecond:
		b = strconv.AppendInt(b, int64(d), 10)
		return append(b, "ns"...)
	case d < time.Millisecond:
		return appendFraction(b, int64(d), int64(time.Microsecond), "µs")
	default:
		return appendFraction(b, int64(d), int64(time.Millisecond), "ms")
	}
}

// appendFraction appends n/unit in decimal, without trailing zeros in
// the fraction, and the unit's name.
func appendFraction(b []byte, n, unit int64, name string) []byte {
	b = strconv.AppendInt(b, n/unit, 10)
	if frac := n % unit; frac != 0 {
		digits := 0
		for u := unit; u > 1; u /= 10 {
			digits++
		}
		for frac%10 == 0 {
			frac /= 10
			digits--
		}
		b = append(b, '.')
		for i := 0; i < digits; i++ {
			b = append(b, '0')
		}
		for i := len(b) - 1; frac > 0; i-- {
			b[i] = byte('0' + frac%10)
			frac /= 10
		}
	}
	return append(b, name...)
}

// responseRecorder remembers the status and the body bytes a handler
// answered with.
type responseRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

// WriteHeader remembers the first final status.
func (w *responseRecorder) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write counts the body's bytes; a write before WriteHeader is a 200.
func (w *responseRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Status is the status the handler answered with: 200 when it wrote
// nothing.
func (w *responseRecorder) Status() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Unwrap lets http.ResponseController reach the server's writer (to
// flush a long poll, say).
func (w *responseRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
