package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimkit/scim"
)

var concurrencyChecks = []check{
	{group: "Concurrency", name: "ReadModifyWriteLosesNoUpdate", run: checkReadModifyWrite},
	{group: "Concurrency", name: "CreateSameUserNameOneWins", run: checkCreateRace},
	{group: "Concurrency", name: "CreateRenameDeleteKeepIndexConsistent", run: checkChurn},
	{group: "Concurrency", name: "MembershipsUnderConcurrentDeletes", run: checkMembershipChurn},
	{group: "Concurrency", name: "MemberAddRacesDelete", run: checkMemberAddRacesDelete},
}

// errorList collects failures of goroutines, to report from the check's.
type errorList struct {
	mu   sync.Mutex
	msgs []string
}

func (e *errorList) add(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.msgs = append(e.msgs, fmt.Sprintf(format, args...))
}

func (e *errorList) report(t testing.TB) {
	t.Helper()
	for i, m := range e.msgs {
		if i == maxReported {
			t.Errorf("… and %d more", len(e.msgs)-i)
			break
		}
		t.Errorf("%s", m)
	}
}

// maxRetries bounds a compare-and-swap loop, so that a store that always
// reports a mismatch fails the check instead of hanging it.
const maxRetries = 5000

// levelOf reads the kit extension's level of a User.
func levelOf(r *scim.Resource) (int64, bool) {
	ext, _ := r.Attributes[extURN].(map[string]any)
	n, ok := ext["level"].(int64)
	return n, ok
}

func checkReadModifyWrite(t testing.TB, s scim.Store) {
	ctx := ctxA()
	u := simpleUser("RMW-1", "rmw.one")
	u.Attributes[extURN] = map[string]any{"level": int64(0)}
	mustCreate(t, s, ctx, u)
	const workers, each = 8, 25
	var errs errorList
	var mu sync.Mutex
	versions := map[string]bool{}
	dupVersion := ""
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; i < each; i++ {
				for try := 0; ; try++ {
					if try == maxRetries {
						errs.add("an increment lost the compare-and-swap %d times in a row; a store must let one of the concurrent writers win", maxRetries)
						return
					}
					cur, err := s.Get(ctx, userType, u.ID)
					if err != nil || cur == nil {
						errs.add("Get during concurrent writes must succeed; the store returned %s", errText(err))
						return
					}
					n, ok := levelOf(cur)
					if !ok {
						errs.add("the counter must stay an int64; Get returned %s", showValue(cur.Attributes[extURN]))
						return
					}
					attrs := cur.Clone().Attributes
					delete(attrs, "groups")
					attrs[extURN] = map[string]any{"level": n + 1}
					got, err := s.Replace(ctx, withAttrs(cur, attrs, t0.Add(time.Second)), cur.Meta.Version)
					if errors.Is(err, scim.ErrVersionMismatch) {
						continue
					}
					if err != nil || got == nil {
						errs.add("Replace at the version just read must succeed or fail with scim.ErrVersionMismatch; the store returned %s", errText(err))
						return
					}
					mu.Lock()
					if versions[got.Meta.Version] {
						dupVersion = got.Meta.Version
					}
					versions[got.Meta.Version] = true
					mu.Unlock()
					break
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	errs.report(t)
	final := mustGet(t, s, ctx, userType, u.ID, "it exists")
	if n, _ := levelOf(final); n != workers*each {
		t.Errorf("%d goroutines each made %d read-modify-write increments with Replace at the version they read, retrying on scim.ErrVersionMismatch: the counter must be %d; the store ends at %d, so Replace accepted writes based on stale reads (compare-and-swap must be atomic)",
			workers, each, workers*each, n)
	}
	if dupVersion != "" {
		t.Errorf("every write must assign a version the resource has not had before; two concurrent Replaces both returned %q", dupVersion)
	}
}

func checkCreateRace(t testing.TB, s scim.Store) {
	ctx := ctxA()
	const rounds, racers = 6, 12
	for r := 0; r < rounds; r++ {
		base := fmt.Sprintf("race.%d.zoë", r)
		var wg sync.WaitGroup
		start := make(chan struct{})
		results := make([]error, racers)
		for i := 0; i < racers; i++ {
			name := base
			switch i % 3 {
			case 1:
				name = strings.ToUpper(base)
			case 2:
				name = fmt.Sprintf("RaCe.%d.ZoË", r)
			}
			wg.Add(1)
			go func(i int, name string) {
				defer wg.Done()
				<-start
				_, results[i] = s.Create(ctx, simpleUser(fmt.Sprintf("Race-%d-%d", r, i), name))
			}(i, name)
		}
		close(start)
		wg.Wait()
		var winners []string
		for i, err := range results {
			switch {
			case err == nil:
				winners = append(winners, fmt.Sprintf("Race-%d-%d", r, i))
			case !errors.Is(err, scim.ErrUniqueness):
				t.Errorf("a Create that loses a race for a userName must fail with scim.ErrUniqueness; the store returned %s", errText(err))
			}
		}
		if len(winners) != 1 {
			t.Errorf("%d concurrent Creates of Users whose userNames differ only in case (%q): exactly one must win and the others fail with scim.ErrUniqueness; %d won: %q",
				racers, base, len(winners), winners)
		}
		page := queryAll(t, s, ctx, userType, cmp(pUserName, scim.OpEqual, base))
		if len(page.Resources) != 1 {
			t.Errorf("after the race for %q, exactly one User must hold it; userName eq finds %s", base, listIDs(ids(page.Resources)))
		}
	}
}

func checkChurn(t testing.TB, s scim.Store) {
	ctx := ctxA()
	const workers, each, shared = 8, 15, 4
	var errs errorList
	type outcome struct {
		live    map[string]string // id → final userName
		freed   []string          // userNames given up by Delete or Replace
		sharers []string          // ids that won a shared name
	}
	outs := make([]outcome, workers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			<-start
			o := outcome{live: map[string]string{}}
			for i := 0; i < each; i++ {
				id, name := fmt.Sprintf("Churn-%d-%d", w, i), fmt.Sprintf("Churn.%d.%d", w, i)
				created, err := s.Create(ctx, simpleUser(id, name))
				if err != nil || created == nil {
					errs.add("Create of a User with a userName of its own must succeed while other goroutines write; the store returned %s", errText(err))
					continue
				}
				switch i % 3 {
				case 0:
					if err := s.Delete(ctx, userType, id, created.Meta.Version); err != nil {
						errs.add("Delete at the version Create returned must succeed; the store returned %s", errText(err))
						o.live[id] = name
						continue
					}
					o.freed = append(o.freed, name)
				case 1:
					renamed := name + ".Renamed"
					if _, err := s.Replace(ctx, withAttrs(created, map[string]any{"userName": renamed}, t0.Add(time.Second)), created.Meta.Version); err != nil {
						errs.add("Replace of a User nobody else writes, at its version, must succeed; the store returned %s", errText(err))
						o.live[id] = name
						continue
					}
					o.live[id] = renamed
					o.freed = append(o.freed, name)
				default:
					o.live[id] = name
				}
				if i < shared {
					sid := fmt.Sprintf("Shared-%d-%d", w, i)
					if _, err := s.Create(ctx, simpleUser(sid, fmt.Sprintf("SHARED.%d", i))); err == nil {
						o.sharers = append(o.sharers, sid)
						o.live[sid] = fmt.Sprintf("shared.%d", i)
					} else if !errors.Is(err, scim.ErrUniqueness) {
						errs.add("a Create that loses a race for a userName must fail with scim.ErrUniqueness; the store returned %s", errText(err))
					}
				}
			}
			outs[w] = o
		}(w)
	}
	close(start)
	wg.Wait()
	errs.report(t)

	live := map[string]string{}
	var freed []string
	winners := 0
	for _, o := range outs {
		for id, n := range o.live {
			live[id] = n
		}
		freed = append(freed, o.freed...)
		winners += len(o.sharers)
	}
	if winners != shared {
		t.Errorf("concurrent Creates of %d userNames, each tried by %d goroutines: each must have exactly one winner; there were %d winners", shared, workers, winners)
	}
	page := queryAll(t, s, ctx, userType, nil)
	var want []string
	for id := range live {
		want = append(want, id)
	}
	if missing, extra, dups := setDiff(want, ids(page.Resources)); len(missing)+len(extra)+len(dups) > 0 || page.TotalResults != len(want) {
		t.Errorf("after concurrent creates, renames and deletes, Query must return exactly the %d Users that exist; missing %s, deleted but returned %s, repeated %s, totalResults %d",
			len(want), listIDs(missing), listIDs(extra), listIDs(dups), page.TotalResults)
	}
	for id, name := range live {
		page := queryAll(t, s, ctx, userType, cmp(pUserName, scim.OpEqual, name))
		if got := ids(page.Resources); len(got) != 1 || got[0] != id {
			t.Errorf("after concurrent writes, userName eq %q must find exactly %q; the store returned %s", name, id, listIDs(got))
		}
		if _, err := s.Create(ctx, simpleUser("Dup-"+id, strings.ToUpper(name))); !errors.Is(err, scim.ErrUniqueness) {
			t.Errorf("after concurrent writes, userName %q is still held by %q: a new User with it must fail with scim.ErrUniqueness; the store returned %s", name, id, errText(err))
		}
	}
	for i, name := range freed {
		if _, err := s.Create(ctx, simpleUser(fmt.Sprintf("Reuse-%d", i), name)); err != nil {
			t.Errorf("after concurrent writes, userName %q was given up by a Delete or a Replace: a new User with it must be stored; the store returned %s", name, errText(err))
		}
	}
}

func checkMembershipChurn(t testing.TB, s scim.Store) {
	ctx := ctxA()
	const members, extras, writers = 40, 16, 4
	var memberIDs []string
	for i := 0; i < members; i++ {
		id := fmt.Sprintf("MC-%02d", i)
		mustCreate(t, s, ctx, simpleUser(id, "mc."+id))
		memberIDs = append(memberIDs, id)
	}
	for i := 0; i < extras; i++ {
		mustCreate(t, s, ctx, simpleUser(fmt.Sprintf("MX-%02d", i), fmt.Sprintf("mx.%02d", i)))
	}
	mustCreate(t, s, ctx, newGroup("MC-group", "Churning", memberIDs...))
	var errs errorList
	var wg sync.WaitGroup
	start := make(chan struct{})
	// Deleters remove every other member.
	for d := 0; d < 2; d++ {
		wg.Add(1)
		go func(d int) {
			defer wg.Done()
			<-start
			for i := d * 2; i < members; i += 4 {
				if err := s.Delete(ctx, userType, memberIDs[i], ""); err != nil {
					errs.add("Delete of an existing User must succeed while its Group is written; the store returned %s", errText(err))
				}
			}
		}(d)
	}
	// Writers add the extra Users by read-modify-write on the Group.
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			<-start
			for i := w; i < extras; i += writers {
				add := fmt.Sprintf("MX-%02d", i)
				for try := 0; ; try++ {
					if try == maxRetries {
						errs.add("adding a member lost the compare-and-swap %d times in a row", maxRetries)
						return
					}
					g, err := s.Get(ctx, groupType, "MC-group")
					if err != nil || g == nil {
						errs.add("Get of the Group must succeed; the store returned %s", errText(err))
						return
					}
					attrs := g.Clone().Attributes
					list, _ := attrs["members"].([]any)
					attrs["members"] = append(list, member(add))
					_, err = s.Replace(ctx, withAttrs(g, attrs, t0.Add(time.Second)), g.Meta.Version)
					if errors.Is(err, scim.ErrVersionMismatch) {
						continue
					}
					if err != nil {
						errs.add("Replace of the Group at the version just read must succeed or fail with scim.ErrVersionMismatch; the store returned %s", errText(err))
						return
					}
					break
				}
			}
		}(w)
	}
	close(start)
	wg.Wait()
	errs.report(t)
	var want []string
	for i, id := range memberIDs {
		if i%2 == 1 {
			want = append(want, id)
		}
	}
	for i := 0; i < extras; i++ {
		want = append(want, fmt.Sprintf("MX-%02d", i))
	}
	expectMembers(t, s, ctx, "MC-group", want,
		"concurrent Deletes of half its members and read-modify-write Replaces adding others (a Delete must remove the member and change the Group's version, so that a Replace based on an earlier read fails its compare-and-swap instead of putting the deleted member back)")
}
