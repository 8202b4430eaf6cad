package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scimkit/scim"
)

var contextChecks = []check{
	{group: "Context", name: "Cancelled", run: func(t testing.TB, s scim.Store) {
		ctx, cancel := context.WithCancel(ctxA())
		cancel()
		checkDeadContext(t, s, ctx, context.Canceled)
	}},
	{group: "Context", name: "DeadlineExceeded", run: func(t testing.TB, s scim.Store) {
		ctx, cancel := context.WithDeadline(ctxA(), time.Now().Add(-time.Second))
		defer cancel()
		checkDeadContext(t, s, ctx, context.DeadlineExceeded)
	}},
}

// prompt is how long a call with a dead context may take.
const prompt = 2 * time.Second

// within runs call and waits for it at most prompt (and a little longer
// before giving up on it); it reports whether call returned in time.
func within(call func()) (returned bool, took time.Duration) {
	done := make(chan struct{})
	begin := time.Now()
	go func() {
		defer close(done)
		call()
	}()
	select {
	case <-done:
		return true, time.Since(begin)
	case <-time.After(prompt + 3*time.Second):
		return false, time.Since(begin)
	}
}

// checkDeadContext calls every method with ctx, which is done, and
// expects each to return want promptly, without writing.
func checkDeadContext(t testing.TB, s scim.Store, ctx context.Context, want error) {
	live := ctxA()
	u := simpleUser("Ctx-1", "ctx.one")
	cu := mustCreate(t, s, live, u)
	g := mustCreate(t, s, live, newGroup("Ctx-G", "Ctx", u.ID))

	expect := func(method string, call func() error) {
		t.Helper()
		var err error
		ok, took := within(func() { err = call() })
		switch {
		case !ok:
			t.Errorf("%s with a context that is already done (%v) must return promptly with the context's error; it had not returned after %s", method, want, took.Round(time.Second))
		case !errors.Is(err, want):
			t.Errorf("%s with a context that is already done must return the context's error (errors.Is(err, %v)); the store returned %s", method, want, errText(err))
		case took > prompt:
			t.Errorf("%s with a context that is already done must return promptly; it took %s", method, took)
		}
	}
	expect("Create", func() error { _, err := s.Create(ctx, simpleUser("Ctx-2", "ctx.two")); return err })
	expect("Get", func() error { _, err := s.Get(ctx, userType, u.ID); return err })
	expect("Replace", func() error {
		_, err := s.Replace(ctx, withAttrs(u, map[string]any{"userName": "ctx.one", "title": "written"}, t0.Add(time.Minute)), "")
		return err
	})
	expect("Delete", func() error { return s.Delete(ctx, userType, u.ID, "") })
	expect("Query", func() error { _, err := s.Query(ctx, userType, scim.Query{StartIndex: 1, Count: 10}); return err })
	if p, ok := s.(scim.MembershipPatcher); ok {
		expect("PatchMembers", func() error {
			_, err := p.PatchMembers(ctx, groupType, g.ID, scim.MembershipChange{Remove: []string{u.ID}, LastModified: t0.Add(time.Minute)}, "")
			return err
		})
	}

	// What failed with the context's error must not have happened.
	expectNotFound(t, s, live, userType, "Ctx-2", "the Create that returned the context's error must not have stored it")
	after := mustGet(t, s, live, userType, u.ID, "the Delete that returned the context's error must not have deleted it")
	if after.Meta.Version != cu.Meta.Version || after.Attributes["title"] != nil {
		t.Errorf("the Replace that returned the context's error must not have written; the User is at version %q (was %q) with title %s", after.Meta.Version, cu.Meta.Version, showValue(after.Attributes["title"]))
	}
	if ga := expectMembers(t, s, live, g.ID, []string{u.ID}, "calls with a done context"); ga != nil && ga.Meta.Version != g.Meta.Version {
		t.Errorf("calls that returned the context's error must not have written; Group %q is at version %q (was %q)", g.ID, ga.Meta.Version, g.Meta.Version)
	}
}
