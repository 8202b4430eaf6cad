package scim_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// captured is one log record a recordingHandler kept.
type captured struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// recordingHandler is a slog.Handler that keeps every record.
type recordingHandler struct {
	mu   sync.Mutex
	recs []captured
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler            { return h }

func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	c := captured{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		c.attrs[a.Key] = a.Value.Resolve().String()
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, c)
	return nil
}

// with returns the records of msg whose attributes include all of match.
func (h *recordingHandler) with(msg string, match map[string]string) []captured {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []captured
next:
	for _, r := range h.recs {
		if r.msg != msg {
			continue
		}
		for k, v := range match {
			if r.attrs[k] != v {
				continue next
			}
		}
		out = append(out, r)
	}
	return out
}

// TestAfterHookFailureIsLogged: an after hook's error is logged with the
// request id, method, resource type, id and tenant of the write, on every
// write path, and the write's own line says outcome=ok_after_hook_failed
// with the hooks that failed (the client still gets its success).
func TestAfterHookFailureIsLogged(t *testing.T) {
	for _, native := range []bool{true, false} {
		t.Run(fmt.Sprintf("native=%v", native), func(t *testing.T) {
			var store scim.Store = memstore.New()
			if !native {
				store = plainStore{store}
			}
			var failing atomic.Bool
			fail := func(hook string) error {
				if failing.Load() {
					return errors.New("host down in " + hook)
				}
				return nil
			}
			logs := &recordingHandler{}
			auth := scim.NewBearerTokens(scim.Token{Secret: "rw", Principal: scim.Principal{ID: "entra", Tenant: "acme"}})
			s := newServerWithAuth(t, store, auth, scim.WithLogger(slog.New(logs)), scim.WithHooks(scim.Hooks{
				AfterCreate:  func(context.Context, *scim.Resource) error { return fail("AfterCreate") },
				AfterUpdate:  func(context.Context, *scim.Update) error { return fail("AfterUpdate") },
				AfterDelete:  func(context.Context, *scim.Resource) error { return fail("AfterDelete") },
				AfterMembers: func(context.Context, *scim.Membership) error { return fail("AfterMembers") },
			}))
			u1, u2 := s.create("/Users", user("u1")), s.create("/Users", user("u2"))
			g := s.create("/Groups", group("staff", u1))
			patch := func(ops ...string) string {
				return `{"schemas":["` + scim.PatchOpSchema + `"],"Operations":[` + strings.Join(ops, ",") + `]}`
			}
			type logged struct{ hook, resourceType, id string }
			for _, tc := range []struct {
				name         string
				method, path string
				body         string
				want         []logged // "" id: the one the response names
			}{
				{"create", http.MethodPost, "/Users", `{"schemas":["` + scim.UserSchema + `"],"userName":"u3"}`, []logged{{"AfterCreate", "User", ""}}},
				{"create Group", http.MethodPost, "/Groups", `{"schemas":["` + scim.GroupSchema + `"],"displayName":"g2","members":[{"value":"` + u1 + `"}]}`,
					[]logged{{"AfterCreate", "Group", ""}, {"AfterMembers", "Group", ""}}},
				{"PUT", http.MethodPut, "/Users/" + u2, `{"schemas":["` + scim.UserSchema + `"],"userName":"u2","title":"t"}`, []logged{{"AfterUpdate", "User", u2}}},
				{"PATCH", http.MethodPatch, "/Users/" + u2, patch(`{"op":"replace","path":"title","value":"x"}`), []logged{{"AfterUpdate", "User", u2}}},
				{"PATCH members", http.MethodPatch, "/Groups/" + g, patch(`{"op":"add","path":"members","value":[{"value":"` + u2 + `"}]}`), []logged{{"AfterMembers", "Group", g}}},
				{"DELETE with cascade", http.MethodDelete, "/Users/" + u2, "", []logged{{"AfterDelete", "User", u2}, {"AfterMembers", "Group", g}}},
				{"Bulk", http.MethodPost, "/Bulk", `{"schemas":["` + scim.BulkRequestSchema + `"],"Operations":[{"method":"POST","path":"/Users","bulkId":"b","data":{"schemas":["` + scim.UserSchema + `"],"userName":"u4"}}]}`,
					[]logged{{"AfterCreate", "User", ""}}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					failing.Store(true)
					defer failing.Store(false)
					rid := "req-" + strings.ReplaceAll(tc.name, " ", "-")
					var body any
					if tc.body != "" {
						body = tc.body
					}
					resp := s.do(tc.method, tc.path, body, "X-Request-Id", rid)
					require.Less(t, resp.status, 300, "the client gets its success: %s", resp.raw)
					created := ""
					if loc := resp.header.Get("Location"); loc != "" {
						created = loc[strings.LastIndexByte(loc, '/')+1:]
					}
					if ops, ok := resp.body["Operations"].([]any); ok {
						loc := ops[0].(map[string]any)["location"].(string)
						created = loc[strings.LastIndexByte(loc, '/')+1:]
					}
					var names []string
					for _, w := range tc.want {
						id := w.id
						if id == "" {
							id = created
						}
						recs := logs.with("scim: after hook failed; the write stands", map[string]string{"request_id": rid, "hook": w.hook})
						require.Len(t, recs, 1, "one record of %s's error", w.hook)
						assert.Equal(t, slog.LevelError, recs[0].level)
						assert.Equal(t, map[string]string{"method": tc.method, "resourceType": w.resourceType, "id": id, "tenant": "acme", "principal": "entra"},
							pickString(recs[0].attrs, "method", "resourceType", "id", "tenant", "principal"))
						assert.Equal(t, "host down in "+w.hook, recs[0].attrs["err"])
						names = append(names, w.hook)
					}
					line := logs.with("scim: write", map[string]string{"request_id": rid, "resourceType": tc.want[0].resourceType})
					require.Len(t, line, 1)
					assert.Equal(t, "ok_after_hook_failed", line[0].attrs["outcome"], "the write's line does not say ok alone")
					assert.Equal(t, strings.Join(names, ","), line[0].attrs["failed_hooks"])
					assert.Equal(t, slog.LevelWarn, line[0].level)
				})
			}
			// Hooks that succeed: outcome=ok, no failed_hooks.
			s.do(http.MethodPost, "/Users", user("u5"), "X-Request-Id", "req-fine")
			line := logs.with("scim: write", map[string]string{"request_id": "req-fine"})
			require.Len(t, line, 1)
			assert.Equal(t, "ok", line[0].attrs["outcome"])
			assert.NotContains(t, line[0].attrs, "failed_hooks")
		})
	}
}

func pickString(m map[string]string, keys ...string) map[string]string {
	out := map[string]string{}
	for _, k := range keys {
		out[k] = m[k]
	}
	return out
}
