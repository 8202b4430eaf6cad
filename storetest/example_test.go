package storetest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/storetest"
)

// The store below is the README's example ("Writing your own Store"),
// verbatim: TestConformance runs the kit against it, and
// TestREADMEExample checks that the README still shows this code.

// Store keeps every tenant's resources in one map under one lock. It
// evaluates filters and sorts with the library's reference functions.
type Store struct {
	mu      sync.RWMutex
	data    map[key]*scim.Resource
	version int
}

type key struct{ tenant, typ, id string }

// New returns an empty Store.
func New() *Store { return &Store{data: map[key]*scim.Resource{}} }

// Create stores a copy of res with a new version.
func (s *Store) Create(ctx context.Context, res *scim.Resource) (*scim.Resource, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key{scim.TenantFrom(ctx), res.Type, res.ID}
	if s.data[k] != nil || s.taken(k, res.Unique) {
		return nil, scim.ErrUniqueness
	}
	if err := s.checkMembers(k.tenant, res); err != nil {
		return nil, err
	}
	return s.put(k, res.Clone()), nil
}

// Get returns a copy of a resource.
func (s *Store) Get(ctx context.Context, typ, id string) (*scim.Resource, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.data[key{scim.TenantFrom(ctx), typ, id}]
	if r == nil {
		return nil, scim.ErrNotFound
	}
	return withGroups(r, s.groups(scim.TenantFrom(ctx))).Clone(), nil
}

// Replace overwrites a resource if it is at version ("" for any).
func (s *Store) Replace(ctx context.Context, res *scim.Resource, version string) (*scim.Resource, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key{scim.TenantFrom(ctx), res.Type, res.ID}
	old := s.data[k]
	switch {
	case old == nil:
		return nil, scim.ErrNotFound
	case version != "" && version != old.Meta.Version:
		return nil, scim.ErrVersionMismatch
	case s.taken(k, res.Unique):
		return nil, scim.ErrUniqueness
	}
	if err := s.checkMembers(k.tenant, res); err != nil {
		return nil, err
	}
	r := res.Clone()
	r.Meta.Created = old.Meta.Created
	return s.put(k, r), nil
}

// Delete removes a resource if it is at version ("" for any).
func (s *Store) Delete(ctx context.Context, typ, id, version string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key{scim.TenantFrom(ctx), typ, id}
	if old := s.data[k]; old == nil {
		return scim.ErrNotFound
	} else if version != "" && version != old.Meta.Version {
		return scim.ErrVersionMismatch
	}
	delete(s.data, k)
	for gk, g := range s.data { // a deleted User or Group leaves its Groups
		if typ != "User" && typ != "Group" || gk.tenant != k.tenant || gk.typ != "Group" {
			continue
		}
		members, _ := g.Attributes["members"].([]any)
		kept := slices.DeleteFunc(slices.Clone(members), func(m any) bool { return memberID(m) == id })
		if len(kept) < len(members) {
			g.Attributes["members"] = kept
			s.version++
			g.Meta.Version = strconv.Itoa(s.version)
			g.Meta.LastModified = time.Now().UTC()
		}
	}
	return nil
}

// Query returns one page of the matches of q.
func (s *Store) Query(ctx context.Context, typ string, q scim.Query) (*scim.Page, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	tenant := scim.TenantFrom(ctx)
	groups := s.groups(tenant)
	var found []*scim.Resource
	for k, r := range s.data {
		if k.tenant != tenant || k.typ != typ {
			continue
		}
		if r = withGroups(r, groups); scim.Matches(q.Filter, r) {
			found = append(found, r)
		}
	}
	// Sorting by id first makes the order stable, also among ties.
	slices.SortFunc(found, func(a, b *scim.Resource) int { return strings.Compare(a.ID, b.ID) })
	if q.SortBy != nil {
		scim.SortResources(found, *q.SortBy, q.Descending)
	}
	page := &scim.Page{TotalResults: len(found), Resources: []*scim.Resource{}}
	start := min(max(q.StartIndex, 1)-1, len(found))
	if q.Keyset { // cursor paging: start after the position, not at an index
		after, err := parsePosition(q.After)
		if err != nil {
			return nil, err
		}
		start = sort.Search(len(found), func(i int) bool { return after.before(found[i], q) })
	}
	end := start + min(max(q.Count, 0), len(found)-start) // start+count may overflow
	for _, r := range found[start:end] {
		page.Resources = append(page.Resources, r.Clone())
	}
	if q.Keyset && end > start && end < len(found) {
		page.Next = positionOf(found[end-1], q)
	}
	return page, nil
}

// position is a place in a query's order: after the resource with this
// sort value and id (the order's tiebreak). Creates and deletes do not
// move it.
type position struct {
	Value any    `json:"v"`
	ID    string `json:"id"`
}

func positionOf(r *scim.Resource, q scim.Query) string {
	p := position{ID: r.ID}
	if q.SortBy != nil {
		p.Value = scim.SortValue(r, *q.SortBy)
	}
	b, _ := json.Marshal(p)
	return base64.RawURLEncoding.EncodeToString(b)
}

func parsePosition(s string) (*position, error) {
	if s == "" {
		return nil, nil // the start
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	var p position
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		err = dec.Decode(&p)
	}
	if err != nil || p.ID == "" {
		return nil, scim.ErrInvalidCursor
	}
	return &p, nil
}

// before reports whether r comes after the position in q's order (nil is
// the start, before everything).
func (p *position) before(r *scim.Resource, q scim.Query) bool {
	if p == nil {
		return true
	}
	if q.SortBy != nil {
		c := scim.CompareSortValues(scim.SortValue(r, *q.SortBy), p.Value, *q.SortBy)
		if q.Descending {
			c = -c
		}
		if c != 0 {
			return c > 0
		}
	}
	return r.ID > p.ID
}

// put stores r, which the store now owns, with a new version; it returns
// a copy for the caller.
func (s *Store) put(k key, r *scim.Resource) *scim.Resource {
	s.version++
	r.Meta.Version = strconv.Itoa(s.version)
	delete(r.Attributes, "groups") // computed, never stored
	s.data[k] = r
	return withGroups(r, s.groups(k.tenant)).Clone()
}

// taken reports whether another resource of k's type and tenant holds one
// of keys.
func (s *Store) taken(k key, keys []scim.UniqueKey) bool {
	for other, r := range s.data {
		if other.tenant == k.tenant && other.typ == k.typ && other != k &&
			slices.ContainsFunc(r.Unique, func(u scim.UniqueKey) bool { return slices.Contains(keys, u) }) {
			return true
		}
	}
	return false
}

// checkMembers returns a *scim.MemberNotFoundError for the first member of
// a Group that is no User or Group of the tenant.
func (s *Store) checkMembers(tenant string, res *scim.Resource) error {
	if res.Type != "Group" {
		return nil
	}
	members, _ := res.Attributes["members"].([]any)
	for _, m := range members {
		id := memberID(m)
		if s.data[key{tenant, "User", id}] == nil && s.data[key{tenant, "Group", id}] == nil {
			return &scim.MemberNotFoundError{ID: id}
		}
	}
	return nil
}

// groups maps the ids of the tenant's Group members to their "groups"
// values.
func (s *Store) groups(tenant string) map[string][]any {
	out := map[string][]any{}
	for k, g := range s.data {
		if k.tenant != tenant || k.typ != "Group" {
			continue
		}
		members, _ := g.Attributes["members"].([]any)
		for _, m := range members {
			v := map[string]any{"value": g.ID, "type": "direct"}
			if name, ok := g.Attributes["displayName"].(string); ok {
				v["display"] = name
			}
			out[memberID(m)] = append(out[memberID(m)], v)
		}
	}
	return out
}

// withGroups returns r, or for a User in groups a shallow copy of r with
// its "groups".
func withGroups(r *scim.Resource, groups map[string][]any) *scim.Resource {
	if r.Type != "User" || groups[r.ID] == nil {
		return r
	}
	v := *r
	v.Attributes = maps.Clone(r.Attributes)
	v.Attributes["groups"] = groups[r.ID]
	return &v
}

func memberID(m any) string {
	member, _ := m.(map[string]any)
	id, _ := member["value"].(string)
	return id
}

// mapstore stands for the README's package of that name, so that the test
// below is the README's own, word for word.
var mapstore = struct{ New func() *Store }{New: New}

// TestConformance runs the conformance kit against the README's store, as
// the README shows.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) scim.Store {
		return mapstore.New() // a fresh, empty store for each check; register cleanup with t.Cleanup
	})
}

// TestREADMEExample checks that the README's section on custom stores
// shows the store above, verbatim, and how to run the kit.
func TestREADMEExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Writing your own Store\n")
	if !ok {
		t.Fatal(`README.md has no "## Writing your own Store" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	_, code, ok := strings.Cut(section, "```go\n")
	code, _, ok2 := strings.Cut(code, "```")
	if !ok || !ok2 {
		t.Fatal("the README's section on custom stores has no Go code block")
	}
	// The block is a whole file: compare what follows its imports.
	_, body, ok := strings.Cut(code, "\n)\n")
	if !ok {
		t.Fatal("the README's example has no import block")
	}
	if !strings.Contains(string(self), strings.TrimSpace(body)) {
		t.Error("the README's example store differs from the one in storetest/example_test.go, which the kit checks; copy it over")
	}
	if !strings.Contains(section, "storetest.Run(t, func(t *testing.T) scim.Store") {
		t.Error("the README's section on custom stores must show how to run storetest.Run")
	}
}
