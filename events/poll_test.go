package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/events"
)

// polled is a poll's answer.
type polled struct {
	status int
	sets   map[string]string // jti → SET
	more   bool
	raw    string
}

// subjects returns the sub_id uris of the SETs, sorted.
func (p polled) subjects(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, tok := range p.sets {
		_, claims := decode(t, tok)
		out = append(out, claims["sub_id"].(map[string]any)["uri"].(string))
	}
	slices.Sort(out)
	return out
}

func (p polled) jtis() []string {
	var out []string
	for jti := range p.sets {
		out = append(out, jti)
	}
	slices.Sort(out)
	return out
}

// poll POSTs body to h as tenant's receiver.
func poll(t *testing.T, h http.Handler, tenant, body string) polled {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/events", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r = r.WithContext(scim.WithPrincipal(r.Context(), scim.Principal{ID: "siem", Tenant: tenant}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	out := polled{status: w.Code, raw: w.Body.String()}
	if w.Code == http.StatusOK {
		assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
		var resp struct {
			Sets          map[string]string `json:"sets"`
			MoreAvailable *bool             `json:"moreAvailable"`
		}
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &resp), w.Body.String())
		require.NotNil(t, resp.Sets, "sets is an object, never null: %s", w.Body.String())
		out.sets, out.more = resp.Sets, resp.MoreAvailable != nil && *resp.MoreAvailable
	}
	return out
}

// ack returns a poll body acknowledging jtis.
func ack(extra string, jtis ...string) string {
	b, _ := json.Marshal(jtis)
	if jtis == nil {
		b = []byte("[]")
	}
	return `{"ack":` + string(b) + extra + `}`
}

func usersURI(ids ...string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = "/Users/" + id
	}
	slices.Sort(out)
	return out
}

func newPollHandler(s scim.Store, logger *slog.Logger) *events.PollHandler {
	return &events.PollHandler{Name: "receiver:siem", Store: s, Logger: logger,
		Publisher: &events.Publisher{Issuer: "https://app.example.com/scim/v2", Audience: []string{"siem"}}}
}

// position returns the receiver's kept position.
func position(t *testing.T, s scim.Store, tenant string) string {
	t.Helper()
	ctx := scim.WithPrincipal(context.Background(), scim.Principal{Tenant: tenant})
	pos, ok, err := s.(scim.ConsumerLedger).Acquire(ctx, "receiver:siem", events.DefaultPollOwner, time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	return pos
}

// TestPollAcknowledgements: a poll delivers what was written; SETs
// acknowledged are gone from the next poll, SETs not acknowledged come
// again with the same jti, and the kept position is the last change up
// to which everything was acknowledged.
func TestPollAcknowledgements(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := newStore(t, scim.Retention{})
			d := newDirectory(t, s)
			a, b, c := d.user("a", ""), d.user("b", ""), d.user("c", "")
			cs := d.changes()
			h := newPollHandler(s, quiet)
			pub := h.Publisher

			first := poll(t, h, "", `{"returnImmediately":true}`)
			require.Equal(t, http.StatusOK, first.status, first.raw)
			assert.Equal(t, usersURI(a, b, c), first.subjects(t))
			assert.False(t, first.more)
			for _, ch := range cs {
				require.Contains(t, first.sets, pub.JTI(ch), "each SET under its jti")
			}

			// Acknowledge a and c, not b.
			second := poll(t, h, "", ack(`,"returnImmediately":true`, pub.JTI(cs[0]), pub.JTI(cs[2])))
			require.Equal(t, http.StatusOK, second.status, second.raw)
			assert.Equal(t, usersURI(b), second.subjects(t), "the unacknowledged SET again, the acknowledged ones not")
			assert.Equal(t, first.sets[pub.JTI(cs[1])], second.sets[pub.JTI(cs[1])], "the same SET, same jti")
			assert.Equal(t, cs[0].Position, position(t, s, ""), "kept up to the first unacknowledged")

			third := poll(t, h, "", ack(`,"returnImmediately":true`, pub.JTI(cs[1])))
			assert.Empty(t, third.sets)
			assert.Equal(t, cs[2].Position, position(t, s, ""), "all acknowledged")

			// An acknowledgement of a SET acknowledged before is ignored.
			again := poll(t, h, "", ack(`,"returnImmediately":true`, pub.JTI(cs[0]), "no-such-jti"))
			assert.Equal(t, http.StatusOK, again.status)
			assert.Empty(t, again.sets)
		})
	}
}

// TestPollMaxEvents: maxEvents bounds an answer, moreAvailable says
// more wait, and maxEvents 0 only acknowledges, at once.
func TestPollMaxEvents(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := newStore(t, scim.Retention{})
			d := newDirectory(t, s)
			var ids []string
			for _, n := range []string{"u1", "u2", "u3", "u4", "u5"} {
				ids = append(ids, d.user(n, ""))
			}
			h := newPollHandler(s, quiet)
			h.MaxEvents = 3
			steps := []struct {
				body func(prev polled) string
				want []string
				more bool
			}{
				{func(polled) string { return `{"maxEvents":2,"returnImmediately":true}` }, ids[0:2], true},
				{func(p polled) string { return ack(`,"maxEvents":2,"returnImmediately":true`, p.jtis()...) }, ids[2:4], true},
				{func(p polled) string { return ack(`,"maxEvents":10,"returnImmediately":true`, p.jtis()...) }, ids[4:5], false},
			}
			var prev polled
			for i, st := range steps {
				got := poll(t, h, "", st.body(prev))
				require.Equal(t, http.StatusOK, got.status, got.raw)
				assert.Equal(t, usersURI(st.want...), got.subjects(t), "step %d", i)
				assert.Equal(t, st.more, got.more, "step %d: moreAvailable", i)
				prev = got
			}

			// No request maxEvents: MaxEvents bounds it.
			d.user("u6", "")
			d.user("u7", "")
			d.user("u8", "")
			capped := poll(t, h, "", `{"returnImmediately":true}`)
			assert.Len(t, capped.sets, 3)
			assert.True(t, capped.more)

			// Acknowledge only: no SET, and no wait without returnImmediately.
			start := time.Now()
			only := poll(t, h, "", ack(`,"maxEvents":0`, append(prev.jtis(), capped.jtis()...)...))
			require.Equal(t, http.StatusOK, only.status, only.raw)
			assert.Empty(t, only.sets)
			assert.True(t, only.more, "u8 is left")
			assert.Less(t, time.Since(start), 2*time.Second)
			rest := poll(t, h, "", `{"returnImmediately":true}`)
			assert.Len(t, rest.sets, 1, "u6, u7 acknowledged; u8 left")
		})
	}
}

// TestPollLongPoll: without returnImmediately, a poll that finds nothing
// waits, answers as soon as a write commits, and answers empty after
// MaxWait.
func TestPollLongPoll(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := newStore(t, scim.Retention{})
			d := newDirectory(t, s)
			h := newPollHandler(s, quiet)
			h.MaxWait = 300 * time.Millisecond
			start := time.Now()
			empty := poll(t, h, "", `{}`)
			require.Equal(t, http.StatusOK, empty.status, empty.raw)
			assert.Empty(t, empty.sets)
			assert.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond, "it waited")

			h.MaxWait = 20 * time.Second
			done := make(chan polled, 1)
			go func() { done <- poll(t, h, "", `{"returnImmediately":false}`) }()
			time.Sleep(200 * time.Millisecond)
			select {
			case p := <-done:
				t.Fatalf("the poll answered before any write: %s", p.raw)
			default:
			}
			start = time.Now()
			id := d.user("late", "")
			select {
			case p := <-done:
				assert.Equal(t, usersURI(id), p.subjects(t), "the write that woke it")
				assert.Less(t, time.Since(start), 5*time.Second)
			case <-time.After(15 * time.Second):
				t.Fatal("the poll did not wake on the write")
			}
		})
	}
}

// TestPollLongPollIgnoresOtherTenants: a receiver of one tenant neither
// sees another tenant's changes nor answers early for them.
func TestPollLongPollIgnoresOtherTenants(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := newStore(t, scim.Retention{})
			d := newDirectory(t, s)
			d.user("other-tenant", "") // tenant ""
			h := newPollHandler(s, quiet)
			h.MaxWait = 400 * time.Millisecond
			start := time.Now()
			p := poll(t, h, "acme", `{}`)
			require.Equal(t, http.StatusOK, p.status, p.raw)
			assert.Empty(t, p.sets)
			assert.GreaterOrEqual(t, time.Since(start), 350*time.Millisecond)

			status, body := d.as("idp-acme", http.MethodPost, "/Users", `{"schemas":["`+userSchema+`"],"userName":"mine"}`)
			require.Equal(t, http.StatusCreated, status)
			p = poll(t, h, "acme", `{"returnImmediately":true}`)
			assert.Equal(t, usersURI(body["id"].(string)), p.subjects(t))
		})
	}
}

// syncBuffer is a log sink tests read while handlers write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPollSetErrs: a SET the receiver reports in setErrs is logged, with
// its err and description, and counts as handled.
func TestPollSetErrs(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := newStore(t, scim.Retention{})
			d := newDirectory(t, s)
			d.user("a", "")
			d.user("b", "")
			cs := d.changes()
			var logs syncBuffer
			h := newPollHandler(s, slog.New(slog.NewTextHandler(&logs, nil)))
			first := poll(t, h, "", `{"returnImmediately":true}`)
			require.Len(t, first.sets, 2)
			bad, good := h.Publisher.JTI(cs[0]), h.Publisher.JTI(cs[1])
			next := poll(t, h, "", `{"returnImmediately":true,"ack":["`+good+`"],
				"setErrs":{"`+bad+`":{"err":"invalid_key","description":"Key ID 12 has been revoked."}}}`)
			require.Equal(t, http.StatusOK, next.status, next.raw)
			assert.Empty(t, next.sets, "the SET in error is not sent again")
			assert.Equal(t, cs[1].Position, position(t, s, ""))
			out := logs.String()
			assert.Contains(t, out, "level=WARN")
			assert.Contains(t, out, "jti="+bad)
			assert.Contains(t, out, "err=invalid_key")
			assert.Contains(t, out, `description="Key ID 12 has been revoked."`)
		})
	}
}

// TestPollResumesAfterRestart: a new handler over the same store (a new
// process) goes on from the kept position: the acknowledged SETs do not
// come back, the others do.
func TestPollResumesAfterRestart(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := newStore(t, scim.Retention{})
			d := newDirectory(t, s)
			ids := []string{d.user("a", ""), d.user("b", ""), d.user("c", "")}
			cs := d.changes()
			h := newPollHandler(s, quiet)
			first := poll(t, h, "", `{"returnImmediately":true}`)
			require.Len(t, first.sets, 3)
			poll(t, h, "", ack(`,"maxEvents":0`, h.Publisher.JTI(cs[0]), h.Publisher.JTI(cs[1])))

			restarted := newPollHandler(s, quiet)
			got := poll(t, restarted, "", `{"returnImmediately":true}`)
			assert.Equal(t, usersURI(ids[2]), got.subjects(t))
			assert.Equal(t, first.sets[h.Publisher.JTI(cs[2])], got.sets[h.Publisher.JTI(cs[2])], "the same SET after the restart")

			// Acknowledged past a gap, then restarted: delivered again at
			// most once, never lost.
			d.user("d", "")
			d.user("e", "")
			cs = d.changes()
			all := poll(t, restarted, "", `{"returnImmediately":true}`)
			require.Len(t, all.sets, 3)
			poll(t, restarted, "", ack(`,"maxEvents":0`, h.Publisher.JTI(cs[4])))
			again := newPollHandler(s, quiet)
			got = poll(t, again, "", `{"returnImmediately":true}`)
			assert.Len(t, got.sets, 3, "c and d unacknowledged, e acknowledged past them: sent again after the restart")
		})
	}
}

// TestPollRefusals: what is no poll is refused, with RFC 8935's error
// object; a receiver whose name another owner consumes is 503.
func TestPollRefusals(t *testing.T) {
	s := stores(t)["memstore"](t, scim.Retention{})
	h := newPollHandler(s, quiet)
	for _, tt := range []struct {
		name, method, body string
		status             int
	}{
		{"GET", http.MethodGet, "", http.StatusMethodNotAllowed},
		{"not JSON", http.MethodPost, `ack=1`, http.StatusBadRequest},
		{"negative maxEvents", http.MethodPost, `{"maxEvents":-1}`, http.StatusBadRequest},
		{"maxEvents not a number", http.MethodPost, `{"maxEvents":"2"}`, http.StatusBadRequest},
		{"ack not strings", http.MethodPost, `{"ack":[1]}`, http.StatusBadRequest},
		{"setErrs without err", http.MethodPost, `{"setErrs":{"x":{"description":"d"}}}`, http.StatusBadRequest},
		{"two objects", http.MethodPost, `{}{}`, http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(tt.method, "/events", strings.NewReader(tt.body)))
			assert.Equal(t, tt.status, w.Code, w.Body.String())
			var e map[string]any
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e))
			assert.Equal(t, "invalid_request", e["err"])
			assert.NotEmpty(t, e["description"])
		})
	}
	t.Run("another owner", func(t *testing.T) {
		_, ok, err := s.(scim.ConsumerLedger).Acquire(context.Background(), "receiver:siem", "some consumer", time.Minute)
		require.NoError(t, err)
		require.True(t, ok)
		got := poll(t, h, "", `{"returnImmediately":true}`)
		assert.Equal(t, http.StatusServiceUnavailable, got.status, got.raw)
	})
	t.Run("misconfigured", func(t *testing.T) {
		got := poll(t, &events.PollHandler{Name: "x", Store: s, Logger: quiet}, "", `{}`)
		assert.Equal(t, http.StatusInternalServerError, got.status, got.raw)
	})
}
