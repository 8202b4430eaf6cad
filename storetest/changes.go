package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scimkit/scim"
)

// needsFeed detects the optional scim.ChangeFeed capability.
func needsFeed(s scim.Store) (bool, string) {
	if _, ok := s.(scim.ChangeFeed); ok {
		return true, ""
	}
	return false, fmt.Sprintf("%T does not implement the optional scim.ChangeFeed; nothing records its writes", s)
}

var changeChecks = []check{
	{group: "Changes", name: "EveryWriteKind", needs: needsFeed, run: checkChangesEveryKind},
	{group: "Changes", name: "DescribedAsTheWriterSaid", needs: needsFeed, run: checkChangesDescribed},
	{group: "Changes", name: "FailedWritesRecordNothing", needs: needsFeed, run: checkChangesFailedWrites},
	{group: "Changes", name: "CascadesRecorded", needs: needsFeed, run: checkChangesCascade},
	{group: "Changes", name: "TenantsApart", needs: needsFeed, run: checkChangesTenants},
	{group: "Changes", name: "NeverWithoutItsWrite", needs: needsFeed, run: checkChangesWithWrite},
	{group: "Changes", name: "NoSkipUnderConcurrentWriters", needs: needsFeed, run: checkChangesNoSkip},
	{group: "Changes", name: "WaitWakesOnWrite", needs: needsFeed, run: checkChangesWait},
	{group: "Changes", name: "Positions", needs: needsFeed, run: checkChangesPositions},
	{group: "Changes", name: "Retention", needs: needsFeed, retained: checkChangesRetention},
}

// feedTimeout bounds how long a check waits for a committed change to
// become readable: a store may hold a change back until every write that
// could precede it has ended (see scim.ChangeFeed).
const feedTimeout = 10 * time.Second

// readChanges reads the changes after after until want of them have come
// or feedTimeout has passed, and returns them.
func readChanges(t testing.TB, f scim.ChangeFeed, ctx context.Context, q scim.ChangeQuery, want int) []scim.Change {
	t.Helper()
	var out []scim.Change
	deadline := time.Now().Add(feedTimeout)
	for len(out) < want && time.Now().Before(deadline) {
		page, err := f.Changes(ctx, q)
		if err != nil {
			t.Fatalf("Changes after %q must succeed; the store returned %s", q.After, errText(err))
		}
		out = append(out, page...)
		if len(page) > 0 {
			q.After = page[len(page)-1].Position
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		err = f.WaitChanges(wctx, q)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WaitChanges after %q must succeed or end with its context; the store returned %s", q.After, errText(err))
		}
	}
	return out
}

// head returns the feed's newest position.
func head(t testing.TB, f scim.ChangeFeed, ctx context.Context) string {
	t.Helper()
	p, err := f.Head(ctx)
	if err != nil {
		t.Fatalf("Head must succeed; the store returned %s", errText(err))
	}
	return p
}

// describeChange names a change in a failure message.
func describeChange(c scim.Change) string {
	s := fmt.Sprintf("%s %s %q at %q", c.Op, c.Type, c.ID, c.Position)
	if c.Cascade {
		s += " (cascade)"
	}
	return s
}

func describeChanges(cs []scim.Change) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = describeChange(c)
	}
	return out
}

// expectChange fails unless got is a change of op to typ id at version.
func expectChange(t testing.TB, got scim.Change, op scim.ChangeOp, typ, id, version, why string) {
	t.Helper()
	if got.Op != op || got.Type != typ || got.ID != id || got.Version != version {
		t.Errorf("after %s the feed must record %s of %s %q at version %q; it recorded %s at version %q",
			why, op, typ, id, version, describeChange(got), got.Version)
	}
	if got.Tenant != tenantA {
		t.Errorf("a change records its tenant; %s says %q, not %q", describeChange(got), got.Tenant, tenantA)
	}
	if got.Time.IsZero() {
		t.Errorf("a change records its time; %s has none", describeChange(got))
	}
}

// expectIncreasing fails unless positions increase along cs.
func expectIncreasing(t testing.TB, after string, cs []scim.Change) {
	t.Helper()
	for _, c := range cs {
		if c.Position <= after {
			t.Errorf("positions increase along the feed (they compare as strings); %s follows %q", describeChange(c), after)
		}
		after = c.Position
	}
}

func checkChangesEveryKind(t testing.TB, s scim.Store) {
	ctx := ctxA()
	f := s.(scim.ChangeFeed)
	start := head(t, f, ctx)
	u := mustCreate(t, s, ctx, newUser("C-u1", "c1", t0, map[string]any{"externalId": "ext-c1"}))
	u2 := mustCreate(t, s, ctx, simpleUser("C-u2", "c2"))
	g := mustCreate(t, s, ctx, newGroup("C-g", "Staff", "C-u1"))
	repl := u.Clone()
	repl.Attributes["displayName"] = "Changed"
	repl.Meta.LastModified = t0.Add(time.Minute)
	r := mustReplace(t, s, ctx, repl, u.Meta.Version, "the version is current")
	want := []struct {
		op      scim.ChangeOp
		typ, id string
		version string
		why     string
	}{
		{scim.ChangeCreate, userType, "C-u1", u.Meta.Version, "Create of User C-u1"},
		{scim.ChangeCreate, userType, "C-u2", u2.Meta.Version, "Create of User C-u2"},
		{scim.ChangeCreate, groupType, "C-g", g.Meta.Version, "Create of Group C-g"},
		{scim.ChangeReplace, userType, "C-u1", r.Meta.Version, "Replace of User C-u1"},
	}
	patched := ""
	if p, ok := s.(scim.MembershipPatcher); ok {
		res, err := p.PatchMembers(ctx, groupType, "C-g", scim.MembershipChange{
			Add: []map[string]any{{"value": "C-u2", "type": "User"}}, LastModified: t0.Add(2 * time.Minute)}, "")
		if err != nil {
			t.Fatalf("PatchMembers adding a User must succeed; the store returned %s", errText(err))
		}
		patched = res.Meta.Version
		want = append(want, struct {
			op      scim.ChangeOp
			typ, id string
			version string
			why     string
		}{scim.ChangePatch, groupType, "C-g", patched, "PatchMembers of Group C-g"})
	}
	if err := s.Delete(ctx, userType, "C-u2", ""); err != nil {
		t.Fatalf("Delete of User C-u2 must succeed; the store returned %s", errText(err))
	}
	got := readChanges(t, f, ctx, scim.ChangeQuery{After: start}, len(want)+2)
	if len(got) != len(want)+2 {
		t.Fatalf("every committed write is recorded once, in order: after %d writes (the last a delete of a member of one Group) the feed must hold %d changes; it holds %q",
			len(want)+1, len(want)+2, describeChanges(got))
	}
	expectIncreasing(t, start, got)
	for i, w := range want {
		expectChange(t, got[i], w.op, w.typ, w.id, w.version, w.why)
	}
	if got[0].ExternalID != "ext-c1" {
		t.Errorf("a change records the resource's externalId; the create of C-u1 (externalId %q) says %q", "ext-c1", got[0].ExternalID)
	}
	if p := got[len(want)-1]; patched != "" && !slices.Equal(p.Added, []string{"C-u2"}) {
		t.Errorf("a membership change records the members it really added; the PatchMembers of C-g adding C-u2 says added %q", p.Added)
	}
	del := got[len(want)]
	if del.Op != scim.ChangeDelete || del.Type != userType || del.ID != "C-u2" || del.Version != "" {
		t.Errorf("a Delete is recorded as a delete of the resource with no version; the feed recorded %s at version %q", describeChange(del), del.Version)
	}
	if c := got[len(want)+1]; !c.Cascade || c.ID != "C-g" {
		t.Errorf("deleting a member records the change of the Group that held it after the delete; the feed recorded %s", describeChange(c))
	}
}

func checkChangesDescribed(t testing.TB, s scim.Store) {
	ctx := ctxA()
	f := s.(scim.ChangeFeed)
	u := mustCreate(t, s, ctx, simpleUser("D-u1", "d1"))
	start := head(t, f, ctx)
	described := scim.WithChange(ctx, scim.Change{
		Op: scim.ChangePatch, Attributes: []string{"active"}, Deactivated: true,
		Principal: "the-idp", RequestID: "req-42", Txn: "txn-42",
	})
	repl := u.Clone()
	repl.Attributes["active"] = false
	r := mustReplace(t, s, described, repl, u.Meta.Version, "the version is current")
	got := readChanges(t, f, ctx, scim.ChangeQuery{After: start}, 1)
	if len(got) != 1 {
		t.Fatalf("a Replace is recorded once; the feed holds %q", describeChanges(got))
	}
	c := got[0]
	want := scim.Change{
		Position: c.Position, Tenant: tenantA, Type: userType, ID: "D-u1", Op: scim.ChangePatch,
		Deactivated: true, Attributes: []string{"active"}, Version: r.Meta.Version,
		Principal: "the-idp", RequestID: "req-42", Txn: "txn-42", Time: c.Time,
	}
	if fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("a store records a write as scim.ChangeFor describes it from the context (scim.WithChange); it must record\n%+v\nit recorded\n%+v", want, c)
	}
}

func checkChangesFailedWrites(t testing.TB, s scim.Store) {
	ctx := ctxA()
	f := s.(scim.ChangeFeed)
	u := mustCreate(t, s, ctx, simpleUser("F-u1", "f1"))
	g := mustCreate(t, s, ctx, newGroup("F-g", "Staff", "F-u1"))
	start := head(t, f, ctx)
	failures := []struct {
		what string
		do   func() error
	}{
		{"a Create of an id taken", func() error { _, err := s.Create(ctx, simpleUser("F-u1", "other")); return err }},
		{"a Create of a userName taken", func() error { _, err := s.Create(ctx, simpleUser("F-u2", "F1")); return err }},
		{"a Create of a Group with a missing member", func() error { _, err := s.Create(ctx, newGroup("F-g2", "X", "nobody")); return err }},
		{"a Replace at a stale version", func() error { _, err := s.Replace(ctx, u.Clone(), "stale"); return err }},
		{"a Replace of a missing resource", func() error { _, err := s.Replace(ctx, simpleUser("F-none", "none"), ""); return err }},
		{"a Delete at a stale version", func() error { return s.Delete(ctx, userType, "F-u1", "stale") }},
		{"a Delete of a missing resource", func() error { return s.Delete(ctx, userType, "F-none", "") }},
	}
	if p, ok := s.(scim.MembershipPatcher); ok {
		failures = append(failures,
			struct {
				what string
				do   func() error
			}{"a PatchMembers at a stale version", func() error {
				_, err := p.PatchMembers(ctx, groupType, "F-g", scim.MembershipChange{Remove: []string{"F-u1"}, LastModified: t0}, "stale")
				return err
			}},
			struct {
				what string
				do   func() error
			}{"a PatchMembers adding a missing member", func() error {
				_, err := p.PatchMembers(ctx, groupType, "F-g", scim.MembershipChange{Add: []map[string]any{{"value": "nobody"}}, LastModified: t0}, "")
				return err
			}})
	}
	for _, fl := range failures {
		if err := fl.do(); err == nil {
			t.Fatalf("%s must fail", fl.what)
		}
	}
	if p, ok := s.(scim.MembershipPatcher); ok {
		// Changes nothing: a member already present.
		if _, err := p.PatchMembers(ctx, groupType, "F-g", scim.MembershipChange{Add: []map[string]any{{"value": "F-u1"}}, LastModified: t0}, g.Meta.Version); err != nil {
			t.Fatalf("PatchMembers adding a member already present must succeed; the store returned %s", errText(err))
		}
	}
	mustCreate(t, s, ctx, simpleUser("F-marker", "marker"))
	got := readChanges(t, f, ctx, scim.ChangeQuery{After: start}, 1)
	for len(got) > 0 && got[len(got)-1].ID != "F-marker" {
		got = append(got, readChanges(t, f, ctx, scim.ChangeQuery{After: got[len(got)-1].Position}, 1)...)
	}
	if len(got) != 1 || got[0].ID != "F-marker" {
		t.Errorf("a write that fails or changes nothing records nothing; after failed writes and one create, the feed holds %q", describeChanges(got))
	}
}

func checkChangesCascade(t testing.TB, s scim.Store) {
	ctx := ctxA()
	f := s.(scim.ChangeFeed)
	mustCreate(t, s, ctx, simpleUser("K-u1", "k1"))
	mustCreate(t, s, ctx, newGroup("K-g1", "One", "K-u1"))
	mustCreate(t, s, ctx, newGroup("K-g2", "Two", "K-u1"))
	mustCreate(t, s, ctx, newGroup("K-g3", "Three"))
	start := head(t, f, ctx)
	described := scim.WithChange(ctx, scim.Change{Op: scim.ChangeDelete, Txn: "txn-k"})
	if err := s.Delete(described, userType, "K-u1", ""); err != nil {
		t.Fatalf("Delete of User K-u1 must succeed; the store returned %s", errText(err))
	}
	got := readChanges(t, f, ctx, scim.ChangeQuery{After: start}, 3)
	if len(got) != 3 {
		t.Fatalf("deleting a member of two Groups records the delete and a change of each Group; the feed holds %q", describeChanges(got))
	}
	if got[0].Op != scim.ChangeDelete || got[0].ID != "K-u1" {
		t.Errorf("the delete comes first, then the changes it caused; the feed holds %q", describeChanges(got))
	}
	groups := map[string]bool{}
	for _, c := range got[1:] {
		g := mustGet(t, s, ctx, groupType, c.ID, "it lost a member")
		switch {
		case c.Op != scim.ChangePatch || !c.Cascade || c.Type != groupType:
			t.Errorf("a Group that loses a member to a delete is recorded as a patch with Cascade set; the feed recorded %s", describeChange(c))
		case !slices.Equal(c.Removed, []string{"K-u1"}) || len(c.Added) != 0:
			t.Errorf("the cascade change of %s says what it removed: [K-u1]; it says removed %q, added %q", c.ID, c.Removed, c.Added)
		case c.Version != g.Meta.Version:
			t.Errorf("the cascade change of %s records the Group's version after it (%q); it says %q", c.ID, g.Meta.Version, c.Version)
		case c.Txn != "txn-k":
			t.Errorf("the changes a delete causes share its transaction id (%q); %s says %q", "txn-k", describeChange(c), c.Txn)
		}
		groups[c.ID] = true
	}
	if !groups["K-g1"] || !groups["K-g2"] {
		t.Errorf("both Groups that held K-u1 are recorded; the feed holds %q", describeChanges(got))
	}
}

func checkChangesTenants(t testing.TB, s scim.Store) {
	a, b := ctxA(), tenantCtx(tenantB)
	f := s.(scim.ChangeFeed)
	start := head(t, f, a)
	mustCreate(t, s, a, simpleUser("T-a1", "a1"))
	mustCreate(t, s, b, simpleUser("T-b1", "b1"))
	mustCreate(t, s, a, simpleUser("T-a2", "a2"))
	all := readChanges(t, f, a, scim.ChangeQuery{After: start, AllTenants: true}, 3)
	if len(all) != 3 || all[0].ID != "T-a1" || all[1].ID != "T-b1" || all[2].ID != "T-a2" {
		t.Fatalf("AllTenants reads every tenant's changes in order; after creates in A, B, A it holds %q", describeChanges(all))
	}
	if all[1].Tenant != tenantB {
		t.Errorf("a change records its tenant; the create in %q says %q", tenantB, all[1].Tenant)
	}
	onlyA, err := f.Changes(a, scim.ChangeQuery{After: start})
	if err != nil {
		t.Fatalf("Changes must succeed; the store returned %s", errText(err))
	}
	if len(onlyA) != 2 || onlyA[0].ID != "T-a1" || onlyA[1].ID != "T-a2" {
		t.Errorf("without AllTenants a reader sees only its tenant's changes; tenant A read %q", describeChanges(onlyA))
	}
	onlyB, err := f.Changes(b, scim.ChangeQuery{After: start})
	if err != nil {
		t.Fatalf("Changes must succeed; the store returned %s", errText(err))
	}
	if len(onlyB) != 1 || onlyB[0].ID != "T-b1" {
		t.Errorf("without AllTenants a reader sees only its tenant's changes; tenant B read %q", describeChanges(onlyB))
	}
}

// tail reads every tenant's changes from after, limit at a time, calling
// seen for each page, until done reports true after the last page or
// feedTimeout passes after stop is closed; it returns the first error.
func tail(ctx context.Context, f scim.ChangeFeed, after string, limit int, stop <-chan struct{}, done func() bool, seen func([]scim.Change) error) error {
	var deadline <-chan time.Time
	for {
		page, err := f.Changes(ctx, scim.ChangeQuery{After: after, Limit: limit, AllTenants: true})
		if err != nil {
			return err
		}
		if len(page) > 0 {
			if err := seen(page); err != nil {
				return err
			}
			after = page[len(page)-1].Position
			continue
		}
		select {
		case <-stop:
			if done() {
				return nil
			}
			if deadline == nil {
				deadline = time.After(feedTimeout)
			}
		default:
		}
		select {
		case <-deadline:
			return nil
		default:
		}
		wctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		_ = f.WaitChanges(wctx, scim.ChangeQuery{After: after, AllTenants: true})
		cancel()
	}
}

// writeConcurrently creates Users from writers goroutines, perWriter
// each, while a reader tails the feed, limit changes a page, calling
// onPage; it returns the ids created. The reader goes on until it has
// seen a change of each of them, or gives up after feedTimeout.
func writeConcurrently(t testing.TB, s scim.Store, prefix string, writers, perWriter, limit int, onPage func([]scim.Change)) []string {
	t.Helper()
	ctx := ctxA()
	f := s.(scim.ChangeFeed)
	start := head(t, f, ctx)
	stop := make(chan struct{})
	tailErr := make(chan error, 1)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created = map[string]bool{}
		seen    = map[string]bool{}
		failed  error
	)
	go func() {
		tailErr <- tail(ctx, f, start, limit, stop, func() bool {
			mu.Lock()
			defer mu.Unlock()
			for id := range created {
				if !seen[id] {
					return false
				}
			}
			return true
		}, func(page []scim.Change) error {
			mu.Lock()
			for _, c := range page {
				seen[c.ID] = true
			}
			mu.Unlock()
			onPage(page)
			return nil
		})
	}()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				id := fmt.Sprintf("%s-%d-%d", prefix, w, i)
				_, err := s.Create(ctx, simpleUser(id, id))
				mu.Lock()
				if err != nil {
					failed = err
				} else {
					created[id] = true
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	if err := <-tailErr; err != nil {
		t.Fatalf("reading the feed while writers write must succeed: %s", errText(err))
	}
	if failed != nil {
		t.Fatalf("concurrent Creates of distinct Users must succeed; the store returned %s", errText(failed))
	}
	out := make([]string, 0, len(created))
	for id := range created {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func checkChangesNoSkip(t testing.TB, s scim.Store) {
	seen := map[string]int{}
	last := ""
	var order []string
	created := writeConcurrently(t, s, "N", 64, 8, 7, func(page []scim.Change) {
		for _, c := range page {
			if c.Position <= last {
				order = append(order, fmt.Sprintf("%s after %q", describeChange(c), last))
			}
			last = c.Position
			seen[c.ID]++
		}
	})
	var missing, twice []string
	for _, id := range created {
		switch seen[id] {
		case 0:
			missing = append(missing, id)
		case 1:
		default:
			twice = append(twice, id)
		}
	}
	if len(order) > 0 {
		t.Errorf("a reader never finds a change before one it has read: positions must increase; %d did not, e.g. %q", len(order), order[:min(3, len(order))])
	}
	if len(missing) > 0 || len(twice) > 0 {
		t.Errorf("a reader tailing the feed while 64 writers commit sees every change once (a change that commits after the reader read a later position must not be skipped); of %d creates it missed %d (e.g. %q) and saw %d twice (e.g. %q)",
			len(created), len(missing), missing[:min(3, len(missing))], len(twice), twice[:min(3, len(twice))])
	}
}

func checkChangesWithWrite(t testing.TB, s scim.Store) {
	ctx := ctxA()
	var orphans []string
	writeConcurrently(t, s, "W", 8, 25, 100, func(page []scim.Change) {
		for _, c := range page {
			if c.Op != scim.ChangeCreate {
				continue
			}
			if _, err := s.Get(ctx, c.Type, c.ID); err != nil {
				orphans = append(orphans, fmt.Sprintf("%s: Get says %s", describeChange(c), errText(err)))
			}
		}
	})
	if len(orphans) > 0 {
		t.Errorf("a change is readable only once its write is: a reader that reads a create finds the resource; %d were not found, e.g. %q", len(orphans), orphans[:min(3, len(orphans))])
	}
}

func checkChangesWait(t testing.TB, s scim.Store) {
	ctx := ctxA()
	f := s.(scim.ChangeFeed)
	start := head(t, f, ctx)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := f.WaitChanges(cancelled, scim.ChangeQuery{After: start}); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitChanges with nothing new and a cancelled context returns the context's error; the store returned %s", errText(err))
	}
	woke := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, feedTimeout)
		defer cancel()
		woke <- f.WaitChanges(wctx, scim.ChangeQuery{After: start})
	}()
	time.Sleep(20 * time.Millisecond)
	mustCreate(t, s, tenantCtx(tenantB), simpleUser("X-b1", "b1"))
	select {
	case err := <-woke:
		t.Fatalf("another tenant's write does not wake a tenant's reader (it would poll in a busy loop); WaitChanges returned %s after a create in %s", errText(err), tenantB)
	case <-time.After(300 * time.Millisecond):
	}
	mustCreate(t, s, ctx, simpleUser("X-u1", "x1"))
	select {
	case err := <-woke:
		if err != nil {
			t.Errorf("WaitChanges returns nil once a change follows its position; the store returned %s", errText(err))
		}
	case <-time.After(feedTimeout + time.Second):
		t.Errorf("WaitChanges must return once a change follows its position; it still waits %s after a Create", feedTimeout)
	}
}

func checkChangesPositions(t testing.TB, s scim.Store) {
	ctx := ctxA()
	f := s.(scim.ChangeFeed)
	start := head(t, f, ctx)
	mustCreate(t, s, ctx, simpleUser("P-u1", "p1"))
	got := readChanges(t, f, ctx, scim.ChangeQuery{After: start}, 1)
	if len(got) != 1 {
		t.Fatalf("a Create is recorded; the feed holds %q", describeChanges(got))
	}
	if h := head(t, f, ctx); h != got[0].Position {
		t.Errorf("Head is the newest change's position (%q); the store returned %q", got[0].Position, h)
	}
	if rest, err := f.Changes(ctx, scim.ChangeQuery{After: got[0].Position}); err != nil || len(rest) != 0 {
		t.Errorf("nothing follows the newest change; Changes after it returned %q, %s", describeChanges(rest), errText(err))
	}
	for _, bad := range []string{"not a position", got[0].Position + "0"} {
		if _, err := f.Changes(ctx, scim.ChangeQuery{After: bad}); !errors.Is(err, scim.ErrInvalidPosition) {
			t.Errorf("a position the feed never handed out (%q) is scim.ErrInvalidPosition; the store returned %s", bad, errText(err))
		}
	}
	mustCreate(t, s, ctx, simpleUser("P-u2", "p2"))
	mustCreate(t, s, ctx, simpleUser("P-u3", "p3"))
	two := readChanges(t, f, ctx, scim.ChangeQuery{After: start, Limit: 2}, 3)
	if len(two) != 3 {
		t.Fatalf("three creates are recorded; the feed holds %q", describeChanges(two))
	}
	page, err := f.Changes(ctx, scim.ChangeQuery{After: start, Limit: 2})
	if err != nil || len(page) > 2 {
		t.Errorf("Changes returns at most Limit changes; with Limit 2 it returned %q, %s", describeChanges(page), errText(err))
	}
}

// retentionCount is the MaxCount the Retention check asks for.
const retentionCount = 20

func checkChangesRetention(t testing.TB, newStore func(scim.Retention) scim.Store) {
	s := newStore(scim.Retention{MaxCount: retentionCount})
	f, ok := s.(scim.ChangeFeed)
	if !ok {
		t.Fatalf("the store WithRetention made is no scim.ChangeFeed")
	}
	ctx := ctxA()
	mustCreate(t, s, ctx, simpleUser("R-0", "r0"))
	first := readChanges(t, f, ctx, scim.ChangeQuery{}, 1)
	if len(first) != 1 {
		t.Fatalf("a Create is recorded; the feed holds %q", describeChanges(first))
	}
	for i := 1; i <= 3*retentionCount; i++ {
		id := fmt.Sprintf("R-%d", i)
		mustCreate(t, s, ctx, simpleUser(id, id))
	}
	deadline := time.Now().Add(feedTimeout)
	var err error
	for time.Now().Before(deadline) {
		if _, err = f.Changes(ctx, scim.ChangeQuery{After: first[0].Position}); errors.Is(err, scim.ErrPositionExpired) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !errors.Is(err, scim.ErrPositionExpired) {
		t.Fatalf("a position whose successors retention dropped is scim.ErrPositionExpired; %d changes later (MaxCount %d) the store returned %s", 3*retentionCount, retentionCount, errText(err))
	}
	// Pruning may run in the background after the writes: wait until the
	// feed holds the newest change and about MaxCount (all but the newest
	// MaxCount go, so no fewer).
	deadline = time.Now().Add(feedTimeout)
	last := fmt.Sprintf("R-%d", 3*retentionCount)
	settled := func(kept []scim.Change) bool {
		return len(kept) >= retentionCount && len(kept) <= 2*retentionCount && kept[len(kept)-1].ID == last
	}
	for {
		kept := readChanges(t, f, ctx, scim.ChangeQuery{Limit: 10 * retentionCount}, 1)
		if settled(kept) {
			// A prune still running may drop the oldest kept change between
			// the two reads; then both are read again.
			_, err := f.Changes(ctx, scim.ChangeQuery{After: kept[0].Position})
			if err == nil {
				return
			}
			if !errors.Is(err, scim.ErrPositionExpired) || !time.Now().Before(deadline) {
				t.Fatalf("the oldest position kept can be read after; the store returned %s", errText(err))
			}
		} else if !time.Now().Before(deadline) {
			t.Fatalf("a feed keeps about MaxCount (%d) changes, the newest; it holds %d, the last %q", retentionCount, len(kept), describeChanges(kept[max(0, len(kept)-1):]))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
