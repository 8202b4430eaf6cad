package scim_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// hookLog records every hook call as one line.
type hookLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *hookLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, fmt.Sprintf(format, args...))
}

// take returns the calls so far whose prefix is one of prefixes, and
// forgets all calls.
func (l *hookLog) take(prefixes ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, c := range l.calls {
		for _, p := range prefixes {
			if strings.HasPrefix(c, p) {
				out = append(out, c)
				break
			}
		}
	}
	l.calls = nil
	return out
}

func (l *hookLog) hooks() scim.Hooks {
	return scim.Hooks{
		BeforeCreate: func(_ context.Context, r *scim.Resource) error { l.add("BeforeCreate %s", r.Type); return nil },
		AfterCreate:  func(_ context.Context, r *scim.Resource) error { l.add("AfterCreate %s %s", r.Type, r.ID); return nil },
		BeforeUpdate: func(_ context.Context, u *scim.Update) error { l.add("BeforeUpdate %s", u.Old.ID); return nil },
		AfterUpdate: func(_ context.Context, u *scim.Update) error {
			l.add("AfterUpdate %s deactivated=%v reactivated=%v", u.New.ID, u.Deactivated(), u.Reactivated())
			return nil
		},
		BeforeDelete:  func(_ context.Context, r *scim.Resource) error { l.add("BeforeDelete %s", r.ID); return nil },
		AfterDelete:   func(_ context.Context, r *scim.Resource) error { l.add("AfterDelete %s", r.ID); return nil },
		BeforeMembers: func(_ context.Context, m *scim.Membership) error { l.add("BeforeMembers %s", m.Group); return nil },
		AfterMembers: func(_ context.Context, m *scim.Membership) error {
			l.add("AfterMembers %s +%v -%v cascade=%v", m.Group, m.Added, m.Removed, m.Cascade)
			return nil
		},
	}
}

// TestAfterHooksOncePerWrite: after hooks run once for each
// successful write, on every path, and never for a failed one.
func TestAfterHooksOncePerWrite(t *testing.T) {
	for _, native := range []bool{true, false} {
		t.Run(fmt.Sprintf("native=%v", native), func(t *testing.T) {
			var store scim.Store = memstore.New()
			if !native {
				store = plainStore{store}
			}
			var log hookLog
			s := newServerWithStore(t, store, scim.WithHooks(log.hooks()))
			after := func() []string { return log.take("After") }

			u1 := s.create("/Users", user("u1"))
			assert.Equal(t, []string{"AfterCreate User " + u1}, after())
			u2 := s.create("/Users", user("u2"))
			after()
			requireError(t, s.do(http.MethodPost, "/Users", user("U1")), 409, "uniqueness")
			assert.Empty(t, after(), "a failed create runs no after hook")

			g := s.create("/Groups", group("g", u1))
			assert.Equal(t, []string{"AfterCreate Group " + g, fmt.Sprintf("AfterMembers %s +[%s] -[] cascade=false", g, u1)}, after())

			// PATCH of a User: deactivation, then reactivation.
			resp := s.do(http.MethodPatch, "/Users/"+u1, patchJSON(`{"op":"replace","path":"active","value":false}`))
			require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
			assert.Equal(t, []string{"AfterUpdate " + u1 + " deactivated=true reactivated=false"}, after())
			s.do(http.MethodPatch, "/Users/"+u1, patchJSON(`{"op":"replace","path":"active","value":true}`))
			assert.Equal(t, []string{"AfterUpdate " + u1 + " deactivated=false reactivated=true"}, after())
			// A PATCH that changes nothing writes nothing.
			s.do(http.MethodPatch, "/Users/"+u1, patchJSON(`{"op":"replace","path":"active","value":true}`))
			assert.Empty(t, after(), "no write, no after hook")
			// A stale If-Match fails.
			requireError(t, s.do(http.MethodPatch, "/Users/"+u1, patchJSON(`{"op":"replace","path":"title","value":"x"}`), "If-Match", `W/"stale"`), 412, "")
			assert.Empty(t, after(), "a failed update runs no after hook")

			// PUT.
			resp = s.do(http.MethodPut, "/Users/"+u2, user("u2", map[string]any{"title": "Boss"}))
			require.Equal(t, http.StatusOK, resp.status, resp.raw)
			assert.Equal(t, []string{"AfterUpdate " + u2 + " deactivated=false reactivated=false"}, after())

			// Members through PATCH: the native path or the generic one, the
			// same hooks; a members-only change runs no update hook.
			resp = s.do(http.MethodPatch, "/Groups/"+g, patchJSON(`{"op":"add","path":"members","value":[{"value":"`+u2+`"},{"value":"`+u1+`"}]}`))
			require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
			assert.Equal(t, []string{fmt.Sprintf("AfterMembers %s +[%s] -[] cascade=false", g, u2)}, after(), "exactly the ids added")
			s.do(http.MethodPatch, "/Groups/"+g, patchJSON(`{"op":"add","path":"members","value":[{"value":"`+u2+`"}]}`))
			assert.Empty(t, after(), "adding a member already present changes nothing")
			requireError(t, s.do(http.MethodPatch, "/Groups/"+g, patchJSON(`{"op":"add","path":"members","value":[{"value":"ghost"}]}`)), 400, "invalidValue")
			assert.Empty(t, after(), "a refused member change runs no after hook")
			// A PATCH that renames and changes members runs both.
			s.do(http.MethodPatch, "/Groups/"+g, patchJSON(`{"op":"replace","path":"displayName","value":"G"}`, `{"op":"remove","path":"members[value eq \"`+u1+`\"]"}`))
			assert.ElementsMatch(t, []string{"AfterUpdate " + g + " deactivated=false reactivated=false", fmt.Sprintf("AfterMembers %s +[] -[%s] cascade=false", g, u1)}, after())

			// DELETE of a member: its own hook and the cascade.
			require.Equal(t, http.StatusNoContent, s.do(http.MethodDelete, "/Users/"+u2, nil).status)
			assert.Equal(t, []string{"AfterDelete " + u2, fmt.Sprintf("AfterMembers %s +[] -[%s] cascade=true", g, u2)}, after())
			requireError(t, s.do(http.MethodDelete, "/Users/"+u2, nil), 404, "")
			assert.Empty(t, after())

			// DELETE of a Group with members.
			g2 := s.create("/Groups", group("g2", u1))
			after()
			require.Equal(t, http.StatusNoContent, s.do(http.MethodDelete, "/Groups/"+g2, nil).status)
			assert.Equal(t, []string{"AfterDelete " + g2, fmt.Sprintf("AfterMembers %s +[] -[%s] cascade=true", g2, u1)}, after())
		})
	}
}

// TestBeforeHooksRefuse: a before hook's *scim.Error reaches the client as
// it is, and nothing is written.
func TestBeforeHooksRefuse(t *testing.T) {
	lastOwner := &scim.Error{Status: http.StatusConflict, SCIMType: "mutability", Detail: "the company's only owner cannot be deactivated"}
	store := memstore.New()
	var afterCalls hookLog
	s := newServerWithStore(t, store, scim.WithHooks(scim.Hooks{
		BeforeCreate: func(_ context.Context, r *scim.Resource) error {
			if name, _ := r.Attributes["userName"].(string); strings.HasSuffix(name, "@blocked.example") {
				return &scim.Error{Status: http.StatusBadRequest, SCIMType: scim.SCIMTypeInvalidValue, Detail: "this domain may not sign in"}
			}
			if r.Type == "User" {
				r.Attributes["title"] = "Newcomer" // a default
			}
			return nil
		},
		BeforeUpdate: func(_ context.Context, u *scim.Update) error {
			if u.Deactivated() && u.Old.Attributes["userName"] == "owner" {
				return lastOwner
			}
			return nil
		},
		BeforeDelete: func(_ context.Context, r *scim.Resource) error {
			if r.Attributes["userName"] == "owner" {
				return &scim.Error{Status: http.StatusForbidden, Detail: "owners are not deleted by provisioning"}
			}
			return nil
		},
		BeforeMembers: func(_ context.Context, m *scim.Membership) error {
			for _, id := range m.Added {
				if strings.HasPrefix(id, "x") {
					return &scim.Error{Status: http.StatusBadRequest, SCIMType: scim.SCIMTypeInvalidValue, Detail: "not in this group"}
				}
			}
			return nil
		},
		AfterCreate: func(_ context.Context, r *scim.Resource) error { afterCalls.add("AfterCreate"); return nil },
		AfterUpdate: func(_ context.Context, u *scim.Update) error { afterCalls.add("AfterUpdate"); return nil },
		AfterDelete: func(_ context.Context, r *scim.Resource) error { afterCalls.add("AfterDelete"); return nil },
	}))

	resp := s.do(http.MethodPost, "/Users", user("eve@blocked.example"))
	requireError(t, resp, 400, "invalidValue")
	assert.Equal(t, "this domain may not sign in", resp.body["detail"])
	assert.EqualValues(t, 0, s.do(http.MethodGet, "/Users", nil).body["totalResults"], "nothing was written")

	owner := s.create("/Users", user("owner"))
	assert.Equal(t, "Newcomer", s.do(http.MethodGet, "/Users/"+owner, nil).body["title"], "a before hook may set defaults")
	before := s.do(http.MethodGet, "/Users/"+owner, nil)

	for name, resp := range map[string]response{
		"PATCH": s.do(http.MethodPatch, "/Users/"+owner, patchJSON(`{"op":"replace","path":"active","value":false}`)),
		"PUT":   s.do(http.MethodPut, "/Users/"+owner, user("owner", map[string]any{"active": false})),
	} {
		requireError(t, resp, 409, "mutability")
		assert.Equal(t, lastOwner.Detail, resp.body["detail"], name)
	}
	resp = s.do(http.MethodDelete, "/Users/"+owner, nil)
	requireError(t, resp, 403, "")
	assert.Equal(t, "owners are not deleted by provisioning", resp.body["detail"])
	assert.Equal(t, before.body, s.do(http.MethodGet, "/Users/"+owner, nil).body, "refused writes changed nothing")
	assert.Equal(t, []string{"AfterCreate"}, afterCalls.take("After"), "refused writes run no after hook")

	// Membership refusal, on the native path.
	seedUsers(t, store, "x-outsider")
	g := s.create("/Groups", group("g", owner))
	gBefore := s.do(http.MethodGet, "/Groups/"+g, nil)
	resp = s.do(http.MethodPatch, "/Groups/"+g, patchJSON(`{"op":"add","path":"members","value":[{"value":"x-outsider"}]}`))
	requireError(t, resp, 400, "invalidValue")
	assert.Equal(t, "not in this group", resp.body["detail"])
	assert.Equal(t, gBefore.body, s.do(http.MethodGet, "/Groups/"+g, nil).body)
}

// TestAfterHookErrorIsLogged: an after hook's error is logged with the
// request's context and the client still gets its success.
func TestAfterHookErrorIsLogged(t *testing.T) {
	var logs bytes.Buffer
	s := newServer(t, scim.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), scim.WithHooks(scim.Hooks{
		AfterCreate: func(context.Context, *scim.Resource) error { return errors.New("mail server down") },
	}))
	s.create("/Users", user("alice"))
	assert.Contains(t, logs.String(), "mail server down")
	assert.Contains(t, logs.String(), "AfterCreate")
}

// TestBeforeHookUnderContention: without If-Match, concurrent PATCHes
// retry their compare-and-swap, so BeforeUpdate may run more often than
// there are requests; AfterUpdate runs once per request.
func TestBeforeHookUnderContention(t *testing.T) {
	var mu sync.Mutex
	before, after := 0, 0
	s := newServer(t, scim.WithHooks(scim.Hooks{
		BeforeUpdate: func(context.Context, *scim.Update) error { mu.Lock(); before++; mu.Unlock(); return nil },
		AfterUpdate:  func(context.Context, *scim.Update) error { mu.Lock(); after++; mu.Unlock(); return nil },
	}))
	id := s.create("/Users", user("busy"))
	const clients = 16
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp := s.do(http.MethodPatch, "/Users/"+id, patchJSON(fmt.Sprintf(`{"op":"add","path":"emails","value":[{"value":"e%d@example.com"}]}`, i)))
			assert.Equal(t, http.StatusNoContent, resp.status, resp.raw)
		}(i)
	}
	wg.Wait()
	assert.Equal(t, clients, after, "one after hook per request")
	assert.GreaterOrEqual(t, before, clients)
	emails := s.do(http.MethodGet, "/Users/"+id, nil).body["emails"].([]any)
	assert.Len(t, emails, clients, "no update lost")
	got := make([]string, 0, len(emails))
	for _, e := range emails {
		got = append(got, e.(map[string]any)["value"].(string))
	}
	sort.Strings(got)
	assert.Equal(t, "e0@example.com", got[0])
}
