// Package memstore is the embedded default scim.Store: it keeps resources in
// memory, for a single process, and loses them when the process ends.
//
// It is meant for development, tests, demos and hosts whose directory is
// small enough to be provisioned again after a restart. It guarantees what
// the scim.Store contract asks for:
//
//   - Safe for concurrent use. Each tenant has its own lock; reads share it.
//   - Data is kept apart from callers: resources are deep-copied on the way
//     in and on the way out, so mutating a passed or returned resource never
//     changes what is stored. View (scim.Viewer) is the one exception: it
//     lends the stored resources to a callback, under the read lock, for
//     the handler's reads, which only render them.
//   - Tenants (scim.TenantFrom) are fully partitioned: they never see each
//     other's resources, and the same unique value may exist in two tenants.
//   - Every write assigns a fresh Meta.Version, a decimal counter of the
//     tenant's writes (so one tenant cannot watch another's activity), and
//     Replace and Delete compare it with the caller's expected version
//     atomically (compare-and-swap).
//   - The unique keys of a resource (scim.Resource.Unique) are enforced
//     atomically within its type and tenant.
//   - Users come back with a computed "groups" attribute listing the Groups
//     whose "members" hold them; deleting a User or a Group removes it from
//     every Group's members. A Group's members must be Users or Groups of
//     the tenant when it is written, checked under the tenant's lock.
//   - Queries answer with the same results as scim.Matches and
//     scim.SortResources applied to every resource. An equality filter on
//     id, userName, externalId, a Group's displayName or a Group's
//     members.value (alone, as one side of an "and", or as both sides of an
//     "or") is answered from an index instead of a scan; Get is one map
//     lookup. Without a sort order, resources come in insertion order (a
//     Replace keeps a resource's place), so paging sees each one exactly once.
//   - Every write is recorded in a change feed (scim.ChangeFeed), under the
//     lock of the write, in memory and bounded (WithChangeRetention): a
//     restart loses it with the resources. Durable consumers' positions
//     (scim.ConsumerLedger) live in memory too.
package memstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/internal/compact"
)

// The resource types and attributes the store treats specially.
const (
	userType     = "User"
	groupType    = "Group"
	groupsAttr   = "groups"
	membersAttr  = "members"
	displayName  = "displayName"
	compactAfter = 64 // deleted entries tolerated before a table's order is compacted
)

// Store is an in-memory scim.Store, partitioned by tenant. The zero value is
// not usable; call New.
type Store struct {
	mu      sync.RWMutex
	tenants map[string]*tenant
	now     func() time.Time
	feed    feed
	intern  *interner // shared strings, for all tenants
}

var (
	_ scim.Store      = (*Store)(nil)
	_ scim.ChangeFeed = (*Store)(nil)
)

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock the store reads when it changes a resource on its
// own: the Meta.LastModified of a Group that loses a member because the
// member was deleted. The default is time.Now in UTC.
func WithClock(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// New returns an empty Store.
func New(opts ...Option) *Store {
	s := &Store{
		tenants: map[string]*tenant{},
		now:     func() time.Time { return time.Now().UTC() },
		feed:    newFeed(),
		intern:  newInterner(),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// tenant holds one tenant's resources, by type, under one lock.
type tenant struct {
	mu      sync.RWMutex
	tables  map[string]*table
	version uint64 // the last Meta.Version assigned
}

// table holds the resources of one type in one tenant, with their indexes.
type table struct {
	byID    map[string]*entry
	order   []*entry // insertion order; deleted entries stay until compaction
	dead    int      // deleted entries still in order
	nextSeq uint64
	unique  map[string]map[string]*entry // attribute → value → holder: a slot of a string, not of a UniqueKey, per value
	indexes []*attrIndex
	members *attrIndex // members.value, for Groups; also in indexes
}

// entry is one stored resource. res is owned by the store: it is handed
// out only as a copy, or lent by View under the tenant's read lock, and it
// is replaced or changed only under the tenant's write lock.
type entry struct {
	seq     uint64
	res     *scim.Resource
	dead    bool
	members memberIndex // positions in a Group's members; nil until needed
}

func newTable(typ string) *table {
	t := &table{
		byID:   map[string]*entry{},
		unique: map[string]map[string]*entry{},
		indexes: []*attrIndex{
			newAttrIndex("userName", ""),
			newAttrIndex("externalId", ""),
		},
	}
	if typ == groupType {
		t.members = newAttrIndex(membersAttr, "value")
		t.indexes = append(t.indexes, newAttrIndex(displayName, ""), t.members)
	}
	return t
}

// index returns the index of the attribute name (and sub-attribute sub), or nil.
func (t *table) index(name, sub string) *attrIndex {
	for _, x := range t.indexes {
		if x.name == name && x.sub == sub {
			return x
		}
	}
	return nil
}

// insert adds a new entry for res, which the table now owns.
func (t *table) insert(res *scim.Resource) *entry {
	t.nextSeq++
	e := &entry{seq: t.nextSeq, res: res}
	t.byID[res.ID] = e
	t.order = append(t.order, e)
	t.holdUnique(res.Unique, e)
	for _, x := range t.indexes {
		x.reindex(e, nil, res)
	}
	return e
}

// update replaces the resource of e with res, which the table now owns.
func (t *table) update(e *entry, res *scim.Resource) {
	t.dropUnique(e.res.Unique, e)
	t.holdUnique(res.Unique, e)
	for _, x := range t.indexes {
		x.reindex(e, e.res, res)
	}
	e.res = res
	e.members = nil
}

// remove deletes e from the table and its indexes.
func (t *table) remove(e *entry) {
	delete(t.byID, e.res.ID)
	t.dropUnique(e.res.Unique, e)
	for _, x := range t.indexes {
		x.reindex(e, e.res, nil)
	}
	e.dead = true
	t.dead++
	if t.dead >= compactAfter && 2*t.dead >= len(t.order) {
		live := make([]*entry, 0, len(t.order)-t.dead)
		for _, x := range t.order {
			if !x.dead {
				live = append(live, x)
			}
		}
		t.order, t.dead = live, 0
	}
}

// holdUnique records that e holds keys.
func (t *table) holdUnique(keys []scim.UniqueKey, e *entry) {
	for _, k := range keys {
		m := t.unique[k.Attribute]
		if m == nil {
			m = map[string]*entry{}
			t.unique[k.Attribute] = m
		}
		m[k.Value] = e
	}
}

// dropUnique forgets those of keys that e holds.
func (t *table) dropUnique(keys []scim.UniqueKey, e *entry) {
	for _, k := range keys {
		if m := t.unique[k.Attribute]; m[k.Value] == e {
			delete(m, k.Value)
			if len(m) == 0 {
				delete(t.unique, k.Attribute)
			}
		}
	}
}

// checkUnique returns an error wrapping scim.ErrUniqueness when another
// entry than self holds one of keys.
func (t *table) checkUnique(typ string, keys []scim.UniqueKey, self *entry) error {
	for _, k := range keys {
		if owner, ok := t.unique[k.Attribute][k.Value]; ok && owner != self {
			return fmt.Errorf("memstore: %s attribute %q: value already in use: %w", typ, k.Attribute, scim.ErrUniqueness)
		}
	}
	return nil
}

// tenant returns the tenant of ctx, creating it if create is set; nil if it
// does not exist and create is not set.
func (s *Store) tenant(ctx context.Context, create bool) *tenant {
	name := scim.TenantFrom(ctx)
	s.mu.RLock()
	t := s.tenants[name]
	s.mu.RUnlock()
	if t != nil || !create {
		return t
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t = s.tenants[name]; t == nil {
		t = &tenant{tables: map[string]*table{}}
		s.tenants[name] = t
	}
	return t
}

// table returns the table of typ, creating it if create is set; nil if it
// does not exist and create is not set. The caller holds the tenant's lock
// (the write lock to create).
func (t *tenant) table(typ string, create bool) *table {
	tb := t.tables[typ]
	if tb == nil && create {
		tb = newTable(typ)
		t.tables[typ] = tb
	}
	return tb
}

// nextVersion returns a version no write in the tenant has had before. The
// caller holds the tenant's write lock.
func (t *tenant) nextVersion() string {
	t.version++
	return strconv.FormatUint(t.version, 10)
}

// own returns a copy of res for the store to keep: a deep copy, without
// the computed "groups" of a User, whose complex values are held compactly
// (compact.Object, a third of a map's size), whose repeated strings are
// shared (interner) and whose other strings are packed into one (packer). A Group's members stay maps: membership changes edit
// them in place.
func (s *Store) own(res *scim.Resource) *scim.Resource {
	c := *res
	in := s.intern
	in.mu.Lock()
	defer in.mu.Unlock()
	var p packer
	var top map[string]any // shared copies, packed, before compact.Of copies them once more
	if res.Attributes != nil {
		top = make(map[string]any, len(res.Attributes))
		for k, v := range res.Attributes {
			switch {
			case k == groupsAttr && res.Type == userType:
			case k == membersAttr && res.Type == groupType:
				// Members stay maps, edited in place: not packed.
			default:
				top[in.name(k)] = in.share("", k, v)
			}
		}
		p.collect(in, top)
	}
	var same func(string) string
	c.ID, same = p.pack(res.ID)
	c.Unique = slices.Clone(res.Unique)
	for i := range c.Unique {
		c.Unique[i].Attribute = in.name(c.Unique[i].Attribute)
		c.Unique[i].Value = same(c.Unique[i].Value) // a userName already folded shares its bytes
	}
	if res.Attributes == nil {
		return &c
	}
	c.Attributes = make(map[string]any, len(res.Attributes))
	for k, v := range top {
		c.Attributes[k] = compact.Of(v)
	}
	if m, ok := res.Attributes[membersAttr]; ok && res.Type == groupType {
		c.Attributes[membersAttr] = in.ownMembers(m)
	}
	return &c
}

// groupsOf returns the computed "groups" of the user id: one value per Group
// whose members hold id, in the Groups' insertion order; nil when none.
// The caller holds the tenant's lock.
func (t *tenant) groupsOf(id string) []any {
	gt := t.tables[groupType]
	if gt == nil {
		return nil
	}
	gs := bySeq(gt.members.holders(nil, id))
	if len(gs) == 0 {
		return nil
	}
	out := make([]any, 0, len(gs))
	for _, g := range gs {
		v := map[string]any{"value": g.res.ID, "type": "direct"}
		if dn, ok := g.res.Attributes[displayName].(string); ok {
			v["display"] = dn
		}
		out = append(out, v)
	}
	return out
}

// export returns a copy of res for a caller, with the computed "groups" of
// a User. The caller holds the tenant's lock.
func (t *tenant) export(res *scim.Resource) *scim.Resource {
	if res.Type == userType {
		res = t.withGroups(res)
	}
	return res.Clone()
}

// exists reports whether id is a User or a Group of the tenant. The caller
// holds the tenant's lock.
func (t *tenant) exists(id string) bool {
	for _, typ := range [...]string{userType, groupType} {
		if tb := t.tables[typ]; tb != nil && tb.byID[id] != nil {
			return true
		}
	}
	return false
}

// checkMembers returns a *scim.MemberNotFoundError for the first member of
// a Group that names no User or Group of the tenant. Checking under the
// tenant's write lock makes it atomic with the write. The caller holds the
// tenant's lock.
func (t *tenant) checkMembers(res *scim.Resource) error {
	if res.Type != groupType {
		return nil
	}
	list, _ := res.Attributes[membersAttr].([]any)
	for _, m := range list {
		if id := memberValue(m); !t.exists(id) {
			return fmt.Errorf("memstore: %s %q: %w", res.Type, res.ID, &scim.MemberNotFoundError{ID: id})
		}
	}
	return nil
}

func checkResource(op string, res *scim.Resource) error {
	switch {
	case res == nil:
		return fmt.Errorf("memstore: %s: nil resource", op)
	case res.Type == "":
		return fmt.Errorf("memstore: %s: resource has no type", op)
	case res.ID == "":
		return fmt.Errorf("memstore: %s %s: resource has no id", op, res.Type)
	}
	return nil
}

func notFound(typ, id string) error {
	return fmt.Errorf("memstore: %s %q: %w", typ, id, scim.ErrNotFound)
}

func checkVersion(e *entry, expected string) error {
	if expected != "" && expected != e.res.Meta.Version {
		return fmt.Errorf("memstore: %s %q is at version %q, not %q: %w",
			e.res.Type, e.res.ID, e.res.Meta.Version, expected, scim.ErrVersionMismatch)
	}
	return nil
}

// Create stores a copy of res, which must have a Type and an ID, with a new
// Meta.Version, and returns a copy of what it stored. An ID already taken in
// the type and tenant, or one of res.Unique held by another resource of the
// type, is an error wrapping scim.ErrUniqueness. A "groups" attribute on a
// User is not stored: it is computed.
func (s *Store) Create(ctx context.Context, res *scim.Resource) (*scim.Resource, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkResource("create", res); err != nil {
		return nil, err
	}
	t := s.tenant(ctx, true)
	t.mu.Lock()
	defer t.mu.Unlock()
	tb := t.table(res.Type, true)
	if _, ok := tb.byID[res.ID]; ok {
		return nil, fmt.Errorf("memstore: %s %q already exists: %w", res.Type, res.ID, scim.ErrUniqueness)
	}
	if err := tb.checkUnique(res.Type, res.Unique, nil); err != nil {
		return nil, err
	}
	if err := t.checkMembers(res); err != nil {
		return nil, err
	}
	stored := s.own(res)
	stored.Meta.Version = t.nextVersion()
	e := tb.insert(stored)
	s.feed.record(s.now(), scim.ChangeFor(ctx, scim.ChangeCreate, e.res))
	return t.export(e.res), nil
}

// Get returns a copy of the resource, or an error wrapping scim.ErrNotFound.
func (s *Store) Get(ctx context.Context, resourceType, id string) (*scim.Resource, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t := s.tenant(ctx, false)
	if t == nil {
		return nil, notFound(resourceType, id)
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	tb := t.table(resourceType, false)
	if tb == nil {
		return nil, notFound(resourceType, id)
	}
	e := tb.byID[id]
	if e == nil {
		return nil, notFound(resourceType, id)
	}
	return t.export(e.res), nil
}

// Replace overwrites the stored resource of res.Type and res.ID with a copy
// of res if the stored version equals expectedVersion ("" matches any),
// else it returns an error wrapping scim.ErrVersionMismatch. It keeps the
// stored Meta.Created, assigns a new Meta.Version and returns a copy of what
// it stored. A missing resource is scim.ErrNotFound; one of res.Unique held
// by another resource is scim.ErrUniqueness.
func (s *Store) Replace(ctx context.Context, res *scim.Resource, expectedVersion string) (*scim.Resource, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkResource("replace", res); err != nil {
		return nil, err
	}
	t := s.tenant(ctx, false)
	if t == nil {
		return nil, notFound(res.Type, res.ID)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	tb := t.table(res.Type, false)
	if tb == nil {
		return nil, notFound(res.Type, res.ID)
	}
	e := tb.byID[res.ID]
	if e == nil {
		return nil, notFound(res.Type, res.ID)
	}
	if err := checkVersion(e, expectedVersion); err != nil {
		return nil, err
	}
	if err := tb.checkUnique(res.Type, res.Unique, e); err != nil {
		return nil, err
	}
	if err := t.checkMembers(res); err != nil {
		return nil, err
	}
	stored := s.own(res)
	stored.Meta.Created = e.res.Meta.Created
	stored.Meta.Version = t.nextVersion()
	tb.update(e, stored)
	s.feed.record(s.now(), scim.ChangeFor(ctx, scim.ChangeReplace, e.res))
	return t.export(e.res), nil
}

// Delete removes the resource if its stored version equals expectedVersion
// ("" matches any), else it returns an error wrapping
// scim.ErrVersionMismatch; a missing resource is scim.ErrNotFound. Deleting
// a User or a Group also removes it from the members of every Group that
// holds it; each such Group gets a new version and LastModified.
func (s *Store) Delete(ctx context.Context, resourceType, id, expectedVersion string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t := s.tenant(ctx, false)
	if t == nil {
		return notFound(resourceType, id)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	tb := t.table(resourceType, false)
	if tb == nil {
		return notFound(resourceType, id)
	}
	e := tb.byID[id]
	if e == nil {
		return notFound(resourceType, id)
	}
	if err := checkVersion(e, expectedVersion); err != nil {
		return err
	}
	tb.remove(e)
	changes := []scim.Change{scim.ChangeFor(ctx, scim.ChangeDelete, e.res)}
	if resourceType == userType || resourceType == groupType {
		changes = s.dropMember(ctx, t, id, changes)
	}
	s.feed.record(s.now(), changes...)
	return nil
}

// dropMember removes every member with value id from the tenant's Groups,
// and appends the change of each Group to changes. The caller holds the
// tenant's write lock.
func (s *Store) dropMember(ctx context.Context, t *tenant, id string, changes []scim.Change) []scim.Change {
	gt := t.tables[groupType]
	if gt == nil {
		return changes
	}
	holders := bySeq(gt.members.holders(nil, id))
	if len(holders) == 0 {
		return changes
	}
	now := s.now()
	for _, g := range holders {
		// The stored resource is the store's own and no reader holds it
		// (readers copy or borrow it under the read lock, which this write
		// lock excludes), so it is changed in place.
		g.removeMember(id) // the member index keeps each member once
		g.res.Meta.Version = t.nextVersion()
		g.res.Meta.LastModified = now
		gt.members.remove(id, g)
		changes = append(changes, scim.CascadeChange(ctx, g.res, id))
	}
	return changes
}
