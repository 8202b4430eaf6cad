package memstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/internal/compact"
)

var _ scim.MembershipPatcher = (*Store)(nil)

// memberIndex gives the position of each member in a Group's stored member
// list, so that adding or removing one member costs the same whatever the
// group's size. It is built on the first membership change and dropped
// when the group is replaced.
type memberIndex map[string]int

// memberPositions returns e's member index, building it if needed. A
// member listed twice is kept once.
func (e *entry) memberPositions() memberIndex {
	if e.members != nil {
		return e.members
	}
	list, _ := e.res.Attributes[membersAttr].([]any)
	pos := make(memberIndex, len(list))
	kept := list[:0]
	for _, m := range list {
		id := memberValue(m)
		if _, dup := pos[id]; dup && id != "" {
			continue
		}
		pos[id] = len(kept)
		kept = append(kept, m)
	}
	for i := len(kept); i < len(list); i++ {
		list[i] = nil
	}
	e.setMembers(kept)
	e.members = pos
	return pos
}

func memberValue(m any) string {
	mm, _ := m.(map[string]any)
	id, _ := mm["value"].(string)
	return id
}

func (e *entry) setMembers(list []any) {
	if len(list) == 0 {
		delete(e.res.Attributes, membersAttr)
		return
	}
	if e.res.Attributes == nil {
		e.res.Attributes = map[string]any{}
	}
	e.res.Attributes[membersAttr] = list
}

// addMember appends a member unless one with its value is present.
func (e *entry) addMember(m map[string]any) bool {
	id := memberValue(m)
	pos := e.memberPositions()
	if _, ok := pos[id]; ok || id == "" {
		return false
	}
	list, _ := e.res.Attributes[membersAttr].([]any)
	pos[id] = len(list)
	e.setMembers(append(list, m))
	return true
}

// removeMember removes the member with value id, moving the last member
// into its place (member order carries no meaning in SCIM).
func (e *entry) removeMember(id string) bool {
	pos := e.memberPositions()
	i, ok := pos[id]
	if !ok {
		return false
	}
	list, _ := e.res.Attributes[membersAttr].([]any)
	last := len(list) - 1
	if i != last {
		list[i] = list[last]
		pos[memberValue(list[i])] = i
	}
	list[last] = nil
	delete(pos, id)
	e.setMembers(list[:last])
	return true
}

// PatchMembers implements scim.MembershipPatcher: it adds and removes
// members of a Group in time independent of the group's size.
func (s *Store) PatchMembers(ctx context.Context, resourceType, id string, change scim.MembershipChange, expectedVersion string) (scim.MembershipResult, error) {
	if err := ctx.Err(); err != nil {
		return scim.MembershipResult{}, err
	}
	t := s.tenant(ctx, false)
	if t == nil {
		return scim.MembershipResult{}, notFound(resourceType, id)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	tb := t.table(resourceType, false)
	if tb == nil || tb.byID[id] == nil {
		return scim.MembershipResult{}, notFound(resourceType, id)
	}
	e := tb.byID[id]
	if err := checkVersion(e, expectedVersion); err != nil {
		return scim.MembershipResult{}, err
	}
	if change.MustBeMembers {
		pos := e.memberPositions()
		for _, mid := range change.Remove {
			if _, ok := pos[mid]; !ok {
				return scim.MembershipResult{}, fmt.Errorf("memstore: %s %q has no member %q: %w", resourceType, id, mid, scim.ErrNoTarget)
			}
		}
	}
	for _, m := range change.Add {
		if mid := memberValue(m); !t.exists(mid) {
			return scim.MembershipResult{}, fmt.Errorf("memstore: %s %q: %w", resourceType, id, &scim.MemberNotFoundError{ID: mid})
		}
	}
	var res scim.MembershipResult
	for _, c := range s.intern.cloneMembers(change.Add) {
		if e.addMember(c) {
			tb.indexMember(memberValue(c), e, true)
			res.Added = append(res.Added, memberValue(c))
		}
	}
	for _, mid := range change.Remove {
		if e.removeMember(mid) {
			tb.indexMember(mid, e, false)
			res.Removed = append(res.Removed, mid)
		}
	}
	if res.Added != nil || res.Removed != nil {
		e.res.Meta.Version = t.nextVersion()
		e.res.Meta.LastModified = change.LastModified
		c := scim.ChangeFor(ctx, scim.ChangePatch, e.res)
		c.Added, c.Removed, c.Attributes = slices.Clone(res.Added), slices.Clone(res.Removed), []string{membersAttr}
		s.feed.record(s.now(), c)
	}
	res.Meta = e.res.Meta
	res.DisplayName, _ = e.res.Attributes[displayName].(string)
	return res, nil
}

// indexMember records in the members.value index that e now holds, or no
// longer holds, member id. Tables of types without members have no index.
func (t *table) indexMember(id string, e *entry, add bool) {
	switch {
	case t.members == nil:
	case add:
		t.members.add(id, e)
	default:
		t.members.remove(id, e)
	}
}

// cloneMember returns a deep copy of a member for the store to keep, with
// its repeated strings (its "type") shared. The caller holds in.mu.
func (in *interner) cloneMember(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = compact.Of(in.share(membersAttr, k, v)) // a deep copy: sub-attributes are strings, but a client may send more
	}
	return c
}

// cloneMembers returns deep copies of members for the store to keep.
func (in *interner) cloneMembers(members []map[string]any) []map[string]any {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]map[string]any, len(members))
	for i, m := range members {
		out[i] = in.cloneMember(m)
	}
	return out
}

// ownMembers returns a deep copy of a Group's members for the store to
// keep: its values stay maps, which membership changes edit in place. The
// caller holds in.mu.
func (in *interner) ownMembers(v any) any {
	list, ok := v.([]any)
	if !ok {
		return compact.Of(in.share("", membersAttr, v))
	}
	c := make([]any, len(list))
	for i, m := range list {
		if mm, ok := m.(map[string]any); ok {
			c[i] = in.cloneMember(mm)
		} else {
			c[i] = compact.Of(in.share("", membersAttr, m))
		}
	}
	return c
}
