package storetest

import (
	"context"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// feedBugs are the mistakes a feedStore can make; the zero value makes
// none.
type feedBugs struct {
	recordsFailed   bool // a Create is recorded before it is tried, and stays when it fails
	skipsPatch      bool // PatchMembers records nothing
	noCascade       bool // a Delete records no change of the Groups it changed
	ownDescription  bool // changes say op, type, id and version, not what ChangeFor says
	mixesTenants    bool // Changes ignores the tenant
	beforeWrite     bool // a change is readable before its write is
	positionEarly   bool // positions are handed out before the write, and changes appended when it ends
	noWake          bool // WaitChanges waits for its context only
	waitAnyTenant   bool // WaitChanges wakes for any tenant's change
	expiresSilently bool // a position retention dropped reads from the oldest kept
	keepsTooFew     bool // retention keeps half of MaxCount
	anyPosition     bool // a position it cannot read reads from the start
}

// feedStore records the changes of a store without a feed (memstore
// WithoutChangeFeed) in a log of its own; correct when it has no bugs: a
// lock held across each write and its record makes both one step.
type feedStore struct {
	scim.Store
	bugs      feedBugs
	retention int // the largest number of changes kept; 0 keeps all

	mu    sync.Mutex // held across a write and its record
	logMu sync.Mutex // the log's own
	log   []scim.Change
	first uint64 // the number of log[0]
	next  uint64 // the number of the next change
	wake  chan struct{}
}

func newFeedStore(b feedBugs, retention int) *feedStore {
	return &feedStore{Store: memstore.New(memstore.WithoutChangeFeed()), bugs: b, retention: retention, first: 1, next: 1, wake: make(chan struct{})}
}

var (
	_ scim.ChangeFeed        = (*feedStore)(nil)
	_ scim.MembershipPatcher = (*feedStore)(nil)
)

// change is what the store records for a write.
func (s *feedStore) change(ctx context.Context, op scim.ChangeOp, res *scim.Resource) scim.Change {
	if s.bugs.ownDescription {
		c := scim.Change{Tenant: scim.TenantFrom(ctx), Op: op, Type: res.Type, ID: res.ID, Version: res.Meta.Version}
		if op == scim.ChangeDelete {
			c.Version = ""
		}
		return c
	}
	return scim.ChangeFor(ctx, op, res)
}

// append adds changes to the log, numbered from n when n > 0 (in number
// order), else next.
func (s *feedStore) append(n uint64, cs ...scim.Change) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	for _, c := range cs {
		c.Time = time.Now()
		if n == 0 {
			c.Position = scim.FormatPosition(s.next)
			s.next++
		} else {
			c.Position = scim.FormatPosition(n)
			n++
		}
		i := sort.Search(len(s.log), func(i int) bool { return s.log[i].Position > c.Position })
		s.log = slices.Insert(s.log, i, c)
	}
	if keep := s.kept(); keep > 0 && len(s.log) > keep {
		drop := len(s.log) - keep
		s.log = s.log[drop:]
		s.first += uint64(drop)
	}
	close(s.wake)
	s.wake = make(chan struct{})
}

// kept is the number of changes retention keeps; 0 keeps all.
func (s *feedStore) kept() int {
	if s.bugs.keepsTooFew {
		return s.retention / 2
	}
	return s.retention
}

func (s *feedStore) Create(ctx context.Context, res *scim.Resource) (*scim.Resource, error) {
	if s.bugs.recordsFailed {
		s.append(0, s.change(ctx, scim.ChangeCreate, res))
	}
	if s.bugs.beforeWrite {
		c := s.change(ctx, scim.ChangeCreate, res)
		s.append(0, c)
		time.Sleep(time.Millisecond)
		return s.Store.Create(ctx, res)
	}
	if s.bugs.positionEarly {
		s.logMu.Lock()
		n := s.next
		s.next++
		s.logMu.Unlock()
		time.Sleep(time.Duration(rand.N(500)) * time.Microsecond)
		out, err := s.Store.Create(ctx, res)
		if err == nil {
			s.append(n, s.change(ctx, scim.ChangeCreate, out))
		}
		return out, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out, err := s.Store.Create(ctx, res)
	if err == nil && !s.bugs.recordsFailed {
		s.append(0, s.change(ctx, scim.ChangeCreate, out))
	}
	return out, err
}

func (s *feedStore) Replace(ctx context.Context, res *scim.Resource, expected string) (*scim.Resource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out, err := s.Store.Replace(ctx, res, expected)
	if err == nil {
		s.append(0, s.change(ctx, scim.ChangeReplace, out))
	}
	return out, err
}

func (s *feedStore) Delete(ctx context.Context, typ, id, expected string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, err := s.Store.Get(ctx, typ, id)
	if err != nil {
		return err
	}
	holders, err := s.Store.Query(ctx, groupType, scim.Query{Filter: &scim.CompareExpr{
		Path: scim.AttrPath{Name: "members", Sub: "value", Type: scim.TypeString, CaseExact: true, MultiValued: true},
		Op:   scim.OpEqual, Value: id}, StartIndex: 1, Count: allCount})
	if err != nil {
		return err
	}
	if err := s.Store.Delete(ctx, typ, id, expected); err != nil {
		return err
	}
	cs := []scim.Change{s.change(ctx, scim.ChangeDelete, old)}
	for _, g := range holders.Resources {
		if s.bugs.noCascade {
			break
		}
		after, err := s.Store.Get(ctx, groupType, g.ID)
		if err != nil {
			return err
		}
		cs = append(cs, scim.CascadeChange(ctx, after, id))
	}
	s.append(0, cs...)
	return nil
}

func (s *feedStore) PatchMembers(ctx context.Context, typ, id string, change scim.MembershipChange, expected string) (scim.MembershipResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.Store.(scim.MembershipPatcher).PatchMembers(ctx, typ, id, change, expected)
	if err == nil && (res.Added != nil || res.Removed != nil) && !s.bugs.skipsPatch {
		c := s.change(ctx, scim.ChangePatch, &scim.Resource{Type: typ, ID: id, Meta: res.Meta})
		c.Added, c.Removed = res.Added, res.Removed
		s.append(0, c)
	}
	return res, err
}

func (s *feedStore) Changes(ctx context.Context, q scim.ChangeQuery) ([]scim.Change, error) {
	after, err := scim.ParsePosition(q.After)
	if err != nil && !s.bugs.anyPosition {
		return nil, err
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	switch {
	case after >= s.next && !s.bugs.anyPosition:
		return nil, scim.ErrInvalidPosition
	case after != 0 && after+1 < s.first && !s.bugs.expiresSilently:
		return nil, scim.ErrPositionExpired
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 1000
	}
	var out []scim.Change
	for _, c := range s.log {
		if n, _ := scim.ParsePosition(c.Position); n > after && len(out) < limit &&
			(q.AllTenants || s.bugs.mixesTenants || c.Tenant == scim.TenantFrom(ctx)) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *feedStore) WaitChanges(ctx context.Context, q scim.ChangeQuery) error {
	n, err := scim.ParsePosition(q.After)
	if err != nil {
		return err
	}
	if s.bugs.noWake {
		<-ctx.Done()
		return ctx.Err()
	}
	for {
		s.logMu.Lock()
		ready, wake := false, s.wake
		for _, c := range s.log {
			if p, _ := scim.ParsePosition(c.Position); p > n && (q.AllTenants || s.bugs.waitAnyTenant || c.Tenant == scim.TenantFrom(ctx)) {
				ready = true
			}
		}
		s.logMu.Unlock()
		if ready {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *feedStore) Head(ctx context.Context) (string, error) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if s.next == 1 {
		return "", nil
	}
	return scim.FormatPosition(s.next - 1), nil
}

// runChangeChecks runs the Changes group against stores with bugs b and
// returns the ids of the checks that failed.
func runChangeChecks(t *testing.T, b feedBugs) []string {
	var failed []string
	for _, c := range changeChecks {
		r := runRecordedWith(t, c, newFeedStore(b, 0), func(r scim.Retention) scim.Store { return newFeedStore(b, r.MaxCount) })
		if r.skipped {
			t.Errorf("%s skipped a store with a feed: %q", c.id(), r.msgs)
		}
		if r.failed {
			failed = append(failed, c.id())
			t.Logf("%s says: %s", c.id(), firstLine(r.msgs[0]))
		}
	}
	return failed
}

func TestChangesOfACorrectFeed(t *testing.T) {
	t.Parallel()
	if failed := runChangeChecks(t, feedBugs{}); len(failed) > 0 {
		t.Errorf("a correct feed must pass every Changes check; it failed %q", failed)
	}
}

func TestChangesCatchBrokenFeeds(t *testing.T) {
	for _, b := range []struct {
		name string
		bugs feedBugs
		want []string
	}{
		{"RecordsFailedWrites", feedBugs{recordsFailed: true}, []string{"Changes/FailedWritesRecordNothing"}},
		{"SkipsPatchMembers", feedBugs{skipsPatch: true}, []string{"Changes/EveryWriteKind"}},
		{"NoCascade", feedBugs{noCascade: true}, []string{"Changes/EveryWriteKind", "Changes/CascadesRecorded"}},
		{"OwnDescription", feedBugs{ownDescription: true}, []string{"Changes/DescribedAsTheWriterSaid", "Changes/EveryWriteKind"}},
		{"MixesTenants", feedBugs{mixesTenants: true}, []string{"Changes/TenantsApart"}},
		{"ChangeBeforeWrite", feedBugs{beforeWrite: true}, []string{"Changes/NeverWithoutItsWrite"}},
		{"PositionsBeforeCommit", feedBugs{positionEarly: true}, []string{"Changes/NoSkipUnderConcurrentWriters"}},
		{"WaitNeverWakes", feedBugs{noWake: true}, []string{"Changes/WaitWakesOnWrite"}},
		{"WaitWakesForAnyTenant", feedBugs{waitAnyTenant: true}, []string{"Changes/WaitWakesOnWrite"}},
		{"ExpiresSilently", feedBugs{expiresSilently: true}, []string{"Changes/Retention"}},
		{"KeepsTooFew", feedBugs{keepsTooFew: true}, []string{"Changes/Retention"}},
		{"AnyPosition", feedBugs{anyPosition: true}, []string{"Changes/Positions"}},
	} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			failed := runChangeChecks(t, b.bugs)
			for _, id := range b.want {
				if !slices.Contains(failed, id) {
					t.Errorf("the kit must catch a feed whose bug is %s with %s; it failed %q", b.name, id, failed)
				}
			}
		})
	}
}
