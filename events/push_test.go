package events_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/events"
)

// receiver is an RFC 8935 push receiver: answer decides each answer.
type receiver struct {
	t      *testing.T
	mu     sync.Mutex
	pushes []push                    // every request, in order
	answer func(n int) (int, string) // status and JSON body of the n-th request (from 0)
}

type push struct {
	contentType, accept, auth, jti, uri string
	events                              map[string]any
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	_, claims := decode(rc.t, string(body))
	ev, _ := claims["events"].(map[string]any)
	rc.mu.Lock()
	n := len(rc.pushes)
	rc.pushes = append(rc.pushes, push{contentType: r.Header.Get("Content-Type"), accept: r.Header.Get("Accept"),
		auth: r.Header.Get("Authorization"), jti: claims["jti"].(string),
		uri: claims["sub_id"].(map[string]any)["uri"].(string), events: ev})
	rc.mu.Unlock()
	status, resp := http.StatusAccepted, ""
	if rc.answer != nil {
		status, resp = rc.answer(n)
	}
	if resp != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, resp)
}

func (rc *receiver) got() []push {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]push(nil), rc.pushes...)
}

// accepted returns the jtis of the pushes answered 2xx, given answer.
func (rc *receiver) accepted() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for i, p := range rc.pushes {
		status := http.StatusAccepted
		if rc.answer != nil {
			status, _ = rc.answer(i)
		}
		if status/100 == 2 {
			out = append(out, p.jti)
		}
	}
	return out
}

func newReceiver(t *testing.T, answer func(n int) (int, string)) (*receiver, string) {
	rc := &receiver{t: t, answer: answer}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv.URL + "/events"
}

func newPusher(s scim.Store, url string, logger *slog.Logger) *events.Pusher {
	return &events.Pusher{Name: "receiver:mirror", Store: s, URL: url, Logger: logger,
		Header:     http.Header{"Authorization": {"Bearer to-the-receiver"}},
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		Publisher: &events.Publisher{Issuer: "https://app.example.com/scim/v2", Audience: []string{"https://mirror.example.com"}}}
}

// runPusher runs p until done reports true or 10 s pass, then stops it;
// it returns Run's error.
func runPusher(t *testing.T, p *events.Pusher, done func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !done() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	require.True(t, done(), "the pusher must deliver within 10 s")
}

// kept returns the position the ledger keeps for consumer, without
// taking its lease.
func kept(t *testing.T, s scim.Store, consumer string) string {
	t.Helper()
	pos, _, err := s.(scim.ConsumerLedger).Acquire(context.Background(), consumer, "test: read only", 0)
	require.NoError(t, err)
	return pos
}

// TestPushDelivers: each SET is POSTed once, in feed order, as RFC 8935
// §2.1 says (Content-Type application/secevent+jwt, Accept
// application/json), with the host's headers; a restarted pusher goes on
// after what the receiver accepted.
func TestPushDelivers(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := newStore(t, scim.Retention{})
			d := newDirectory(t, s)
			ids := []string{d.user("a", ""), d.user("b", ""), d.user("c", "")}
			rc, url := newReceiver(t, nil)
			p := newPusher(s, url, quiet)
			last := d.last().Position
			runPusher(t, p, func() bool { return len(rc.got()) == 3 && kept(t, s, "receiver:mirror") == last })
			got := rc.got()
			for i, g := range got {
				assert.Equal(t, "application/secevent+jwt", g.contentType)
				assert.Equal(t, "application/json", g.accept)
				assert.Equal(t, "Bearer to-the-receiver", g.auth)
				assert.Equal(t, "/Users/"+ids[i], g.uri, "in feed order")
				assert.Contains(t, g.events, events.EventCreateNotice)
			}

			ids = append(ids, d.user("d", ""))
			runPusher(t, newPusher(s, url, quiet), func() bool { return len(rc.got()) == 4 })
			time.Sleep(50 * time.Millisecond)
			got = rc.got()
			require.Len(t, got, 4, "nothing pushed twice")
			assert.Equal(t, "/Users/"+ids[3], got[3].uri)
		})
	}
}

// TestPushRetries: an answer 503 or 429, or a receiver that is down, is
// passing: the SET is sent again, with the same jti, until accepted, and
// the next follows.
func TestPushRetries(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := newStore(t, scim.Retention{})
			d := newDirectory(t, s)
			d.user("a", "")
			d.user("b", "")
			rc, url := newReceiver(t, func(n int) (int, string) {
				switch n {
				case 0:
					return http.StatusServiceUnavailable, ""
				case 1:
					return http.StatusTooManyRequests, ""
				}
				return http.StatusAccepted, ""
			})
			var logs syncBuffer
			p := newPusher(s, url, slog.New(slog.NewTextHandler(&logs, nil)))
			last := d.last().Position
			runPusher(t, p, func() bool { return len(rc.accepted()) == 2 && kept(t, s, "receiver:mirror") == last })
			got := rc.got()
			require.Len(t, got, 4)
			assert.Equal(t, got[0].jti, got[1].jti, "a retry carries the same jti")
			assert.Equal(t, got[0].jti, got[2].jti)
			assert.NotEqual(t, got[2].jti, got[3].jti)
			assert.Contains(t, logs.String(), "503 Service Unavailable")

			// A receiver that does not answer at all.
			d.user("c", "")
			dead := httptest.NewServer(http.NotFoundHandler())
			deadURL := dead.URL
			dead.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			assert.ErrorIs(t, newPusher(s, deadURL, quiet).Run(ctx), context.DeadlineExceeded, "retried until stopped")
			runPusher(t, newPusher(s, url, quiet), func() bool { return len(rc.accepted()) == 3 })
		})
	}
}

// TestPushStopsOnRefusal: a 400 with RFC 8935 §2.3's error stops the
// pusher: Run returns a *ReceiverError with the receiver's err and
// description, and logs them; the position stays before the refused SET,
// which a new Run sends first, with the jti it had.
func TestPushStopsOnRefusal(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := newStore(t, scim.Retention{})
			d := newDirectory(t, s)
			d.user("a", "")
			d.user("b", "")
			refuse := true
			var mu sync.Mutex
			rc, url := newReceiver(t, func(n int) (int, string) {
				mu.Lock()
				defer mu.Unlock()
				if n == 1 && refuse {
					return http.StatusBadRequest, `{"err":"invalid_audience","description":"The audience value was incorrect."}`
				}
				return http.StatusAccepted, ""
			})
			var logs syncBuffer
			p := newPusher(s, url, slog.New(slog.NewTextHandler(&logs, nil)))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := p.Run(ctx)
			var refused *events.ReceiverError
			require.True(t, errors.As(err, &refused), "Run returns the refusal: %v", err)
			assert.Equal(t, http.StatusBadRequest, refused.Status)
			assert.Equal(t, "invalid_audience", refused.Code)
			assert.Equal(t, "The audience value was incorrect.", refused.Description)
			assert.Equal(t, url, refused.URL)
			got := rc.got()
			require.Len(t, got, 2, "the first accepted, the second refused, and no retry")
			assert.Equal(t, got[1].jti, refused.JTI)
			assert.Contains(t, err.Error(), "invalid_audience")
			assert.Contains(t, logs.String(), "level=ERROR")
			assert.Contains(t, logs.String(), "invalid_audience")

			mu.Lock()
			refuse = false // the host fixed the audience
			mu.Unlock()
			runPusher(t, newPusher(s, url, quiet), func() bool { return len(rc.got()) >= 3 })
			time.Sleep(50 * time.Millisecond)
			got = rc.got()
			assert.Equal(t, refused.JTI, got[2].jti, "the refused SET first, with the same jti")
			assert.Len(t, got, 3, "and nothing else again: the accepted SET was kept before the pusher stopped")
		})
	}
}

// TestPushRefusals: other 4xx answers and redirects stop it too; a bad
// configuration is an error at once.
func TestPushRefusals(t *testing.T) {
	s := stores(t)["memstore"](t, scim.Retention{})
	d := newDirectory(t, s)
	d.user("a", "")
	for _, status := range []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			_, url := newReceiver(t, func(int) (int, string) { return status, "" })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var refused *events.ReceiverError
			require.ErrorAs(t, newPusher(s, url, quiet).Run(ctx), &refused)
			assert.Equal(t, status, refused.Status)
		})
	}
	for name, p := range map[string]*events.Pusher{
		"no URL":       {Name: "x", Store: s, Publisher: &events.Publisher{Issuer: "i"}},
		"no Name":      {Store: s, URL: "https://r.example.com", Publisher: &events.Publisher{Issuer: "i"}},
		"no Publisher": {Name: "x", Store: s, URL: "https://r.example.com"},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Error(t, p.Run(context.Background()))
		})
	}
}
