package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scimkit/scim"
)

// naiveStore is a plain, correct scim.Store and scim.MembershipPatcher:
// one map, one lock, the reference evaluator for queries. Each field of
// its bugs adds one mistake a real store makes, so that the self-tests can
// show the kit catches it; memstore, being correct, cannot host them.
type naiveStore struct {
	bugs bugs

	mu      sync.Mutex
	data    map[naiveKey]*naiveEntry
	seq     int
	version int
	groups  map[naiveKey][]any // a User's groups as first read, with bugs.staleGroups
}

// bugs are the mistakes a naiveStore can make; the zero value makes none.
type bugs struct {
	shallowCopyIn            bool // Create and Replace keep the caller's nested values
	shallowCopyOut           bool // Get and Query hand out the store's nested values
	keepsAddedMembers        bool // PatchMembers keeps the caller's member values
	skipsSameReplace         bool // Replace with unchanged attributes keeps the version
	skipsIdenticalReplace    bool // Replace with unchanged attributes and LastModified keeps the version
	identicalReplaceUnstored bool // Replace with unchanged attributes and LastModified hands out a new version but writes nothing
	versionFromLastModified  bool // the version is the LastModified time, as an HTTP server's Last-Modified ETag
	metaTimesToSeconds       bool // meta.created and meta.lastModified filters compare whole seconds
	attrTimesToSeconds       bool // filters on dateTime attributes compare whole seconds
	timesToMillis            bool // every dateTime filter compares whole milliseconds
	cascadeKeepsVersion      bool // groups a Delete changes keep their version
	cascadeKeepsLastModified bool // groups a Delete changes keep their LastModified
	cascadeUsersOnly         bool // deleting a Group leaves it in its parents
	cascadeFoldsCase         bool // a Delete removes members whose id differs in case
	cascadeAllTenants        bool // a Delete removes the id from other tenants' groups
	staleGroups              bool // a User's groups are cached until the User is written
	groupsAllTenants         bool // a User's groups include other tenants' groups
	hintsDropGroups          bool // any projection hint leaves groups out
	noMemberCheck            bool // members need not exist
	memberAnyType            bool // a member may be a resource of any type
	memberAllTenants         bool // a member may exist in another tenant
	memberFoldsCase          bool // a member id matches an id that differs in case
	memberCheckRacy          bool // members are checked, then written after the lock was let go
	membersBeforeVersion     bool // members are checked before the version
	idsAllTenants            bool // Create refuses an id another tenant holds
	replaceUniqueAllTenants  bool // Replace checks unique keys across tenants
	trimsKeys                bool // unique keys compare without trailing spaces
	lowerKeys                bool // userName keys are strings.ToLower of the userName, not the given keys
	keepsDroppedKeys         bool // Replace keeps keys of attributes the new keys leave out
	keysetAsOffset           bool // keyset positions are offsets, which creates and deletes shift
	keysetByIDOnly           bool // keyset positions ignore the sort value
	pageEndOverflows         bool // a page ends at start+count, which overflows
}

type naiveKey struct{ tenant, typ, id string }

type naiveEntry struct {
	seq  int
	res  *scim.Resource
	keys []scim.UniqueKey // uniqueKeys(res)
}

func newNaive(b bugs) *naiveStore {
	return &naiveStore{bugs: b, data: map[naiveKey]*naiveEntry{}, groups: map[naiveKey][]any{}}
}

var (
	_ scim.Store             = (*naiveStore)(nil)
	_ scim.MembershipPatcher = (*naiveStore)(nil)
)

// nextVersion returns the version of a write that sets lastModified.
func (s *naiveStore) nextVersion(lastModified time.Time) string {
	if s.bugs.versionFromLastModified {
		return lastModified.UTC().Format(time.RFC3339Nano)
	}
	s.version++
	return strconv.Itoa(s.version)
}

// copyIn is the store's own copy of a resource a caller passes in.
func (s *naiveStore) copyIn(res *scim.Resource) *scim.Resource {
	var c *scim.Resource
	if s.bugs.shallowCopyIn {
		v := *res
		v.Attributes = maps.Clone(res.Attributes)
		v.Unique = slices.Clone(res.Unique)
		c = &v
	} else {
		c = res.Clone()
	}
	if c.Attributes == nil {
		c.Attributes = map[string]any{}
	}
	delete(c.Attributes, "groups")
	return c
}

// copyOut is a caller's copy of a stored resource, with a User's groups.
func (s *naiveStore) copyOut(tenant string, r *scim.Resource, withGroups bool) *scim.Resource {
	var c *scim.Resource
	if s.bugs.shallowCopyOut {
		v := *r
		v.Attributes = maps.Clone(r.Attributes)
		c = &v
	} else {
		c = r.Clone()
	}
	if withGroups && c.Type == userType {
		if gs := s.groupsOf(tenant, c.ID); len(gs) > 0 {
			c.Attributes["groups"] = gs
		}
	}
	return c
}

// groupsOf computes the groups of the User id. The caller holds the lock.
func (s *naiveStore) groupsOf(tenant, id string) []any {
	k := naiveKey{tenant, userType, id}
	if s.bugs.staleGroups {
		if gs, ok := s.groups[k]; ok {
			return gs
		}
	}
	var out []any
	for gk, e := range s.data { // in any order: groups are a set
		if gk.typ != groupType || gk.tenant != tenant && !s.bugs.groupsAllTenants {
			continue
		}
		g := e.res
		if slices.Contains(memberIDs(g), id) {
			v := map[string]any{"value": g.ID, "type": "direct"}
			if dn, ok := g.Attributes["displayName"].(string); ok {
				v["display"] = dn
			}
			out = append(out, v)
		}
	}
	if s.bugs.staleGroups {
		s.groups[k] = out
	}
	return out
}

// keys lists the stored keys in insertion order.
func (s *naiveStore) keys() []naiveKey {
	ks := slices.Collect(maps.Keys(s.data))
	slices.SortFunc(ks, func(a, b naiveKey) int { return s.data[a].seq - s.data[b].seq })
	return ks
}

// taken reports whether a resource other than k holds one of keys.
func (s *naiveStore) taken(k naiveKey, res *scim.Resource, allTenants bool) bool {
	if len(res.Unique) == 0 {
		return false
	}
	keys := s.uniqueKeys(res)
	for ok, e := range s.data {
		if ok == k || ok.typ != k.typ || ok.tenant != k.tenant && !allTenants {
			continue
		}
		for _, u := range e.keys {
			if slices.Contains(keys, u) {
				return true
			}
		}
	}
	return false
}

// uniqueKeys are the keys the store compares for res.
func (s *naiveStore) uniqueKeys(res *scim.Resource) []scim.UniqueKey {
	out := slices.Clone(res.Unique)
	for i, u := range out {
		if s.bugs.trimsKeys {
			out[i].Value = strings.TrimRight(u.Value, " ")
		}
		if un, ok := res.Attributes["userName"].(string); ok && s.bugs.lowerKeys && u.Attribute == "userName" {
			out[i].Value = strings.ToLower(un)
		}
	}
	return out
}

// memberExists reports whether id may be a member in tenant.
func (s *naiveStore) memberExists(tenant, id string) bool {
	switch {
	case s.bugs.noMemberCheck:
		return true
	case !s.bugs.memberFoldsCase && !s.bugs.memberAllTenants && !s.bugs.memberAnyType:
		return s.data[naiveKey{tenant, userType, id}] != nil || s.data[naiveKey{tenant, groupType, id}] != nil
	}
	for k := range s.data {
		sameID := k.id == id || s.bugs.memberFoldsCase && strings.EqualFold(k.id, id)
		sameTenant := k.tenant == tenant || s.bugs.memberAllTenants
		rightType := k.typ == userType || k.typ == groupType || s.bugs.memberAnyType
		if sameID && sameTenant && rightType {
			return true
		}
	}
	return false
}

// checkMembers checks ids, then, with bugs.memberCheckRacy, lets go of the
// lock for a moment. The caller holds the lock.
func (s *naiveStore) checkMembers(tenant string, ids []string) error {
	for _, id := range ids {
		if !s.memberExists(tenant, id) {
			return &scim.MemberNotFoundError{ID: id}
		}
	}
	if s.bugs.memberCheckRacy && len(ids) > 0 {
		s.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
		s.mu.Lock()
	}
	return nil
}

// current returns the entry of k if it is at version ("" for any) and the
// members it is to hold exist. The caller holds the lock.
func (s *naiveStore) current(k naiveKey, version string, members []string) (*naiveEntry, error) {
	if s.bugs.membersBeforeVersion && s.data[k] != nil {
		if err := s.checkMembers(k.tenant, members); err != nil {
			return nil, err
		}
	}
	for checked := false; ; checked = true {
		e := s.data[k]
		switch {
		case e == nil:
			return nil, scim.ErrNotFound
		case version != "" && version != e.res.Meta.Version:
			return nil, scim.ErrVersionMismatch
		case checked:
			return e, nil
		}
		// With bugs.memberCheckRacy this lets go of the lock, so look again.
		if err := s.checkMembers(k.tenant, members); err != nil {
			return nil, err
		}
	}
}

func naiveMemberID(m any) string {
	mm, _ := m.(map[string]any)
	id, _ := mm["value"].(string)
	return id
}

func groupMembers(res *scim.Resource) []string {
	if res.Type != groupType {
		return nil
	}
	return memberIDs(res)
}

func (s *naiveStore) Create(ctx context.Context, res *scim.Resource) (*scim.Resource, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tenant := scim.TenantFrom(ctx)
	k := naiveKey{tenant, res.Type, res.ID}
	if err := s.checkMembers(tenant, groupMembers(res)); err != nil {
		return nil, err
	}
	for ok := range s.data {
		if ok == k || s.bugs.idsAllTenants && ok.typ == k.typ && ok.id == k.id {
			return nil, scim.ErrUniqueness
		}
	}
	if s.taken(k, res, false) {
		return nil, scim.ErrUniqueness
	}
	c := s.copyIn(res)
	c.Meta.Version = s.nextVersion(c.Meta.LastModified)
	s.seq++
	s.data[k] = &naiveEntry{seq: s.seq, res: c, keys: s.uniqueKeys(c)}
	delete(s.groups, k)
	return s.copyOut(tenant, c, true), nil
}

func (s *naiveStore) Get(ctx context.Context, typ, id string) (*scim.Resource, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tenant := scim.TenantFrom(ctx)
	e := s.data[naiveKey{tenant, typ, id}]
	if e == nil {
		return nil, scim.ErrNotFound
	}
	return s.copyOut(tenant, e.res, true), nil
}

func (s *naiveStore) Replace(ctx context.Context, res *scim.Resource, version string) (*scim.Resource, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tenant := scim.TenantFrom(ctx)
	k := naiveKey{tenant, res.Type, res.ID}
	e, err := s.current(k, version, groupMembers(res))
	if err != nil {
		return nil, err
	}
	c := s.copyIn(res)
	if s.bugs.keepsDroppedKeys {
		for _, old := range e.res.Unique {
			if !slices.ContainsFunc(c.Unique, func(u scim.UniqueKey) bool { return u.Attribute == old.Attribute }) {
				c.Unique = append(c.Unique, old)
			}
		}
	}
	if s.taken(k, c, s.bugs.replaceUniqueAllTenants) {
		return nil, scim.ErrUniqueness
	}
	c.Meta.Created = e.res.Meta.Created
	c.Meta.Version = s.nextVersion(c.Meta.LastModified)
	if s.bugs.skipsSameReplace && equalAttrs(c.Attributes, e.res.Attributes) {
		c.Meta.Version = e.res.Meta.Version
	}
	identical := equalAttrs(c.Attributes, e.res.Attributes) && c.Meta.LastModified.Equal(e.res.Meta.LastModified)
	if s.bugs.skipsIdenticalReplace && identical {
		c.Meta.Version = e.res.Meta.Version
	}
	if s.bugs.identicalReplaceUnstored && identical {
		return s.copyOut(tenant, c, true), nil // nothing to write, but a version to hand out
	}
	e.res, e.keys = c, s.uniqueKeys(c)
	delete(s.groups, k)
	return s.copyOut(tenant, c, true), nil
}

func equalAttrs(a, b map[string]any) bool { return len(diffAttributes(a, b)) == 0 }

func (s *naiveStore) Delete(ctx context.Context, typ, id, version string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tenant := scim.TenantFrom(ctx)
	k := naiveKey{tenant, typ, id}
	e := s.data[k]
	switch {
	case e == nil:
		return scim.ErrNotFound
	case version != "" && version != e.res.Meta.Version:
		return scim.ErrVersionMismatch
	}
	delete(s.data, k)
	delete(s.groups, k)
	if typ != userType && (typ != groupType || s.bugs.cascadeUsersOnly) {
		return nil
	}
	for gk, g := range s.data {
		if gk.typ != groupType || gk.tenant != tenant && !s.bugs.cascadeAllTenants {
			continue
		}
		list, _ := g.res.Attributes["members"].([]any)
		kept := slices.DeleteFunc(slices.Clone(list), func(m any) bool {
			mid := naiveMemberID(m)
			return mid == id || s.bugs.cascadeFoldsCase && strings.EqualFold(mid, id)
		})
		if len(kept) == len(list) {
			continue
		}
		g.res.Attributes["members"] = kept
		if !s.bugs.cascadeKeepsLastModified {
			g.res.Meta.LastModified = time.Now().UTC()
		}
		if !s.bugs.cascadeKeepsVersion {
			g.res.Meta.Version = s.nextVersion(g.res.Meta.LastModified)
		}
	}
	return nil
}

func (s *naiveStore) Query(ctx context.Context, typ string, q scim.Query) (*scim.Page, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tenant := scim.TenantFrom(ctx)
	type found struct {
		res *scim.Resource
		seq int
	}
	var all []found
	f := q.Filter
	if s.bugs.metaTimesToSeconds || s.bugs.attrTimesToSeconds || s.bugs.timesToMillis {
		f = s.coarseTimes(f)
	}
	for _, k := range s.keys() {
		if k.tenant != tenant || k.typ != typ {
			continue
		}
		r := s.data[k].res
		if typ == userType { // a shallow view with the groups, for Matches
			v := *r
			v.Attributes = maps.Clone(r.Attributes)
			if gs := s.groupsOf(tenant, r.ID); len(gs) > 0 {
				v.Attributes["groups"] = gs
			}
			r = &v
		}
		if scim.Matches(f, r) {
			all = append(all, found{r, s.data[k].seq})
		}
	}
	if q.SortBy != nil {
		slices.SortStableFunc(all, func(a, b found) int {
			if q.Descending {
				return scim.Compare(b.res, a.res, *q.SortBy)
			}
			return scim.Compare(a.res, b.res, *q.SortBy)
		})
	}
	page := &scim.Page{TotalResults: len(all), Resources: []*scim.Resource{}}
	start := min(max(q.StartIndex, 1)-1, len(all))
	// A keyset position is "seq value": the last resource's place in
	// insertion order and its sort value, as JSON.
	position := func(f found) string {
		if s.bugs.keysetAsOffset {
			return strconv.Itoa(start + max(q.Count, 0))
		}
		v, _ := json.Marshal(nil)
		if q.SortBy != nil && !s.bugs.keysetByIDOnly {
			v, _ = json.Marshal(scim.SortValue(f.res, *q.SortBy))
		}
		return strconv.Itoa(f.seq) + " " + string(v)
	}
	if q.Keyset {
		start = 0
		if q.After != "" {
			seqText, valueText, _ := strings.Cut(q.After, " ")
			seq, err := strconv.Atoi(seqText)
			var value any
			if err == nil && valueText != "" {
				dec := json.NewDecoder(strings.NewReader(valueText))
				dec.UseNumber()
				err = dec.Decode(&value)
			}
			if err != nil || valueText == "" && !s.bugs.keysetAsOffset {
				return nil, scim.ErrInvalidCursor
			}
			start = sort.Search(len(all), func(i int) bool {
				if s.bugs.keysetAsOffset {
					return i >= seq
				}
				if q.SortBy != nil && !s.bugs.keysetByIDOnly {
					c := scim.CompareSortValues(scim.SortValue(all[i].res, *q.SortBy), value, *q.SortBy)
					if q.Descending {
						c = -c
					}
					if c != 0 {
						return c > 0
					}
				}
				return all[i].seq > seq
			})
		}
	}
	end := start + min(max(q.Count, 0), len(all)-start) // start+count may overflow
	if s.bugs.pageEndOverflows {
		end = min(start+max(q.Count, 0), len(all))
	}
	for _, f := range all[start:end] {
		r := s.copyOut(tenant, f.res, false)
		if s.bugs.hintsDropGroups && (len(q.Attributes) > 0 || len(q.ExcludedAttributes) > 0) {
			delete(r.Attributes, "groups")
		}
		page.Resources = append(page.Resources, r)
	}
	if q.Keyset && end < len(all) && end > start {
		page.Next = position(all[end-1])
	}
	return page, nil
}

// coarseTimes rewrites the dateTime comparisons of f into the ones a store
// answers that compares dateTimes at a coarser grain than it keeps them,
// as if it cut both the stored value and the operand to the grain (a
// column of whole seconds beside the exact value, a truncating index):
// x gt v becomes x ge cut(v)+grain, x eq v becomes cut(v) <= x <
// cut(v)+grain, and so on.
func (s *naiveStore) coarseTimes(f scim.Filter) scim.Filter {
	switch f := f.(type) {
	case *scim.CompareExpr:
		v, ok := f.Value.(time.Time)
		meta := f.Path.URN == "" && f.Path.Name == "meta"
		var grain time.Duration
		switch {
		case !ok || f.Path.Type != scim.TypeDateTime:
		case s.bugs.timesToMillis:
			grain = time.Millisecond
		case meta && s.bugs.metaTimesToSeconds, !meta && s.bugs.attrTimesToSeconds:
			grain = time.Second
		}
		if grain == 0 {
			return f
		}
		lo := v.Truncate(grain)
		hi := lo.Add(grain)
		within := and(cmp(f.Path, scim.OpGreaterOrEqual, lo), cmp(f.Path, scim.OpLess, hi))
		switch f.Op {
		case scim.OpEqual:
			return within
		case scim.OpNotEqual:
			return not(within)
		case scim.OpGreater:
			return cmp(f.Path, scim.OpGreaterOrEqual, hi)
		case scim.OpGreaterOrEqual:
			return cmp(f.Path, scim.OpGreaterOrEqual, lo)
		case scim.OpLess:
			return cmp(f.Path, scim.OpLess, lo)
		case scim.OpLessOrEqual:
			return cmp(f.Path, scim.OpLess, hi)
		}
	case *scim.LogicalExpr:
		return &scim.LogicalExpr{Op: f.Op, Left: s.coarseTimes(f.Left), Right: s.coarseTimes(f.Right)}
	case *scim.NotExpr:
		return &scim.NotExpr{X: s.coarseTimes(f.X)}
	case *scim.ValuePathExpr:
		return &scim.ValuePathExpr{Path: f.Path, Filter: s.coarseTimes(f.Filter)}
	}
	return f
}

func (s *naiveStore) PatchMembers(ctx context.Context, typ, id string, c scim.MembershipChange, version string) (scim.MembershipResult, error) {
	if err := ctx.Err(); err != nil {
		return scim.MembershipResult{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tenant := scim.TenantFrom(ctx)
	var adds []string
	for _, m := range c.Add {
		v, _ := m["value"].(string)
		adds = append(adds, v)
	}
	e, err := s.current(naiveKey{tenant, typ, id}, version, adds)
	if err != nil {
		return scim.MembershipResult{}, err
	}
	present := memberIDs(e.res)
	if c.MustBeMembers {
		for _, r := range c.Remove {
			if !slices.Contains(present, r) {
				return scim.MembershipResult{}, fmt.Errorf("naive: %w", scim.ErrNoTarget)
			}
		}
	}
	list, _ := e.res.Attributes["members"].([]any)
	var res scim.MembershipResult
	for i, m := range c.Add {
		if slices.Contains(present, adds[i]) {
			continue
		}
		if s.bugs.keepsAddedMembers {
			list = append(list, m)
		} else {
			list = append(list, maps.Clone(m))
		}
		present = append(present, adds[i])
		res.Added = append(res.Added, adds[i])
	}
	for _, r := range c.Remove {
		if slices.Contains(present, r) {
			res.Removed = append(res.Removed, r)
		}
	}
	list = slices.DeleteFunc(list, func(m any) bool { return slices.Contains(c.Remove, naiveMemberID(m)) })
	if res.Added != nil || res.Removed != nil {
		e.res.Attributes["members"] = list
		e.res.Meta.Version = s.nextVersion(c.LastModified)
		e.res.Meta.LastModified = c.LastModified
	}
	res.Meta = e.res.Meta
	res.DisplayName, _ = e.res.Attributes["displayName"].(string)
	return res, nil
}

// View lends nothing: it calls fn with the page Query returns.
func (s *naiveStore) View(ctx context.Context, typ string, q scim.Query, fn func(*scim.Page) error) error {
	page, err := s.Query(ctx, typ, q)
	if err != nil {
		return err
	}
	return fn(page)
}
