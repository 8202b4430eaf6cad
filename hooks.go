package scim

import (
	"context"
	"log/slog"
	"maps"
	"slices"
)

// Hooks are where a host's own logic meets every write: send an invite
// when a User is created, free a licence when one is deactivated, refuse
// to deactivate the last owner, mirror Group membership. Register them
// with WithHooks; any field may be nil.
//
// A before hook runs ahead of the store write. Returning an error refuses
// the request and writes nothing: a *Error reaches the client exactly as
// it is (status, scimType, detail), any other error is a logged 500. A
// before hook may change the resource it is handed (defaults, derived
// attributes); the handler recomputes its unique keys, and trusts the hook
// to keep it valid. Writes without If-Match are read → change →
// compare-and-swap, retried when another writer got there first, so a
// before hook may run more than once for one request: it must not have
// side effects.
//
// An after hook runs at most once for each successful write, in the
// process that wrote, with what the store holds, and never for a failed
// one. It runs after the store has committed the write, so a process that
// crashes or is killed before or while it runs never runs it, and nothing
// runs it later: the identity provider's retry of the request finds the
// write done (a 409 for a create) and runs no hook either. Its error
// cannot undo the write: it is logged ("scim: after hook failed; the
// write stands", with the hook, the write's request id, method, resource
// type, id, tenant and principal), the write's own log line says
// outcome=ok_after_hook_failed with failed_hooks naming it, and the
// client still gets its success.
//
// So an after hook suits effects a host can afford to lose or repairs by
// itself (a cache, a notification). An effect that must not be lost reads
// the store's change feed instead (ChangeFeed; events.Consumer receives
// every committed write at least once, across crashes, restarts and
// replicas, and exactly once when it is Transactional on PostgreSQL); a
// write to the host's own tables that must commit with the directory's
// runs inside the write's transaction (postgres.WithTxHook: atomic).
//
// Every write path runs them: POST, PUT, PATCH (the generic path and a
// store's MembershipPatcher), DELETE, the membership changes a delete
// causes in the Groups that held the deleted resource, and each operation
// of a /Bulk request.
//
// Hooks run in the request's goroutine, in this order: the before hooks,
// the store write, the after hooks, and then the response. The client
// gets its answer only once the after hooks have returned, so a slow one
// delays it (and an identity provider that gives up waiting retries a
// write that is done); work that takes long belongs to a consumer of the
// change feed.
//
// Contexts: a before hook gets the request's context, which net/http
// cancels when the client hangs up (once the request's body has been
// read) and which ends at the request's deadline, if the server sets one;
// a hook that waits on something should honour it, and the write is
// abandoned then. An after hook gets a context with the request's values
// (RequestIDFrom, PrincipalFrom, TenantFrom) that is never cancelled and
// has no deadline: the write has committed, and a client that hangs up
// does not cut its effects short. A host that must bound an after hook
// sets its own timeout.
type Hooks struct {
	// BeforeCreate sees a new resource before it is stored. Its ID is
	// already set to the id it will be stored under, the one the
	// response, its Location and the after hooks carry, so that a host may
	// key its own records by it. The hook may change Attributes; ID, Type
	// and Meta are the handler's.
	BeforeCreate func(ctx context.Context, res *Resource) error
	// AfterCreate sees the stored resource.
	AfterCreate func(ctx context.Context, res *Resource) error

	// BeforeUpdate sees a PUT or PATCH: the stored resource and the one
	// about to replace it, which it may change. A PATCH that only adds or
	// removes Group members runs the membership hooks alone, on every
	// store, since with a MembershipPatcher the Group's members are never
	// read.
	BeforeUpdate func(ctx context.Context, u *Update) error
	// AfterUpdate sees the resource before and as stored after.
	AfterUpdate func(ctx context.Context, u *Update) error

	// BeforeDelete sees the resource about to be deleted.
	BeforeDelete func(ctx context.Context, res *Resource) error
	// AfterDelete sees the resource as it was before it was deleted.
	AfterDelete func(ctx context.Context, res *Resource) error

	// BeforeMembers sees a change of a Group's members before it is
	// written: on create, PUT, PATCH, the Group's delete, and a member's
	// delete (Cascade). It may refuse it, not change it. On a store's
	// MembershipPatcher it sees the ids the request names, some of which
	// may be members already (or not members), since the Group's members
	// are not read; registering it costs that path one read of the Group
	// without its members, for Membership.DisplayName.
	BeforeMembers func(ctx context.Context, m *Membership) error
	// AfterMembers sees a change of a Group's members once it is written,
	// with exactly the ids added and removed and the Group's displayName
	// as the write left it.
	AfterMembers func(ctx context.Context, m *Membership) error
}

// WithHooks registers the host's lifecycle hooks.
func WithHooks(hooks Hooks) Option {
	return func(h *Handler) { h.hooks = hooks }
}

// Update is a PUT or PATCH of one resource, as hooks see it.
type Update struct {
	// Old is the resource as stored before the write.
	Old *Resource
	// New is the resource about to be written; in an after hook, as stored.
	New *Resource
}

// Deactivated reports whether the update turns "active" from true (or
// unset, which means active) to false: what a host frees a licence on.
func (u *Update) Deactivated() bool { return isActive(u.Old) && !isActive(u.New) }

// Reactivated reports whether the update turns "active" from false to true
// (or unset).
func (u *Update) Reactivated() bool { return !isActive(u.Old) && isActive(u.New) }

func isActive(r *Resource) bool {
	if r == nil {
		return false
	}
	b, ok := r.Attributes["active"].(bool)
	return !ok || b
}

// Membership is a change of one Group's members, as hooks see it.
type Membership struct {
	// Group is the Group's id.
	Group string
	// DisplayName is the Group's displayName, so that a host that maps
	// Groups to roles by name need not read the Group: in AfterMembers as
	// the write stored it; in BeforeMembers as it is about to be written
	// (on a store's MembershipPatcher, which is handed no displayName, as
	// the handler read it just before the write); for the changes a delete
	// causes, as the Group had it.
	DisplayName string
	// OldDisplayName is the Group's displayName before the write when the
	// same write renamed it (a PUT, or a PATCH that replaces displayName
	// and changes members); "" otherwise. A rename that changes no member
	// runs the update hooks alone, whose Update has both versions.
	OldDisplayName string
	// Added and Removed are the ids of the members added and removed.
	Added, Removed []string
	// Cascade is set when the change follows the delete of a member (the
	// deleted resource is the one in Removed) or of the Group itself.
	Cascade bool
}

// displayNameOf returns the "displayName" of a resource's attributes.
func displayNameOf(attrs map[string]any) string {
	s, _ := attrs["displayName"].(string)
	return s
}

// renamedFrom returns old's displayName if new renames it, else "".
func renamedFrom(old, new map[string]any) string {
	if before := displayNameOf(old); before != displayNameOf(new) {
		return before
	}
	return ""
}

// hasMemberHooks reports whether a membership hook is registered.
func (h *Handler) hasMemberHooks() bool {
	return h.hooks.BeforeMembers != nil || h.hooks.AfterMembers != nil
}

// afterContext returns the context after hooks run with: ctx's values,
// without its cancellation and deadline, since the write has committed.
func afterContext(ctx context.Context) context.Context {
	if ctx.Done() == nil {
		return ctx // never cancelled already
	}
	return context.WithoutCancel(ctx)
}

// runAfter runs the after hook named hook of the write req made to the
// resource typ/id, with afterContext. Its error is logged with the write's
// request id, method, resource type, id, tenant and principal, and noted
// in req for the write's own log line: the write stands.
func (h *Handler) runAfter(req *request, hook, typ, id string, run func(ctx context.Context) error) {
	ctx := afterContext(req.r.Context())
	err := run(ctx)
	if err == nil {
		return
	}
	req.afterFailed = append(req.afterFailed, hook)
	p, _ := PrincipalFrom(ctx)
	h.logger.LogAttrs(ctx, slog.LevelError, "scim: after hook failed; the write stands", slog.String("hook", hook),
		slog.String("method", req.r.Method), slog.String("resourceType", typ), slog.String("id", id),
		slog.String("tenant", p.Tenant), slog.String("principal", p.ID), slog.String("request_id", RequestIDFrom(ctx)),
		slog.Any("err", err))
}

// memberDiff returns the member ids in new but not in old, and in old but
// not in new, of a Group's attributes; nil, nil for other types.
func memberDiff(rt *resourceType, old, new map[string]any) (added, removed []string) {
	if rt.Name != "Group" {
		return nil, nil
	}
	before, after := memberSet(old), memberSet(new)
	for id := range after {
		if !before[id] {
			added = append(added, id)
		}
	}
	for id := range before {
		if !after[id] {
			removed = append(removed, id)
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	return added, removed
}

func memberSet(attrs map[string]any) map[string]bool {
	list, _ := attrs["members"].([]any)
	set := make(map[string]bool, len(list))
	for _, m := range list {
		if mm, ok := m.(map[string]any); ok {
			if id, ok := mm["value"].(string); ok {
				set[id] = true
			}
		}
	}
	return set
}

// beforeMembers runs BeforeMembers for a change that changes something.
func (h *Handler) beforeMembers(ctx context.Context, m *Membership) error {
	if h.hooks.BeforeMembers == nil || len(m.Added) == 0 && len(m.Removed) == 0 {
		return nil
	}
	return h.hooks.BeforeMembers(ctx, m)
}

// afterMembers runs AfterMembers for a change of the members of typ/m.Group
// that changed something.
func (h *Handler) afterMembers(req *request, typ string, m *Membership) {
	if h.hooks.AfterMembers == nil || len(m.Added) == 0 && len(m.Removed) == 0 {
		return
	}
	h.runAfter(req, "AfterMembers", typ, m.Group, func(ctx context.Context) error { return h.hooks.AfterMembers(ctx, m) })
}

// pendingUpdate is what an update's after hooks need once the write is
// done.
type pendingUpdate struct {
	typ     string // the resource type's name
	old     *Resource
	update  bool // the update hooks run (not a members-only change)
	members *Membership
}

// beforeUpdate runs the before hooks of a PUT or PATCH whose result is res
// (which BeforeUpdate may change).
func (h *Handler) beforeUpdate(ctx context.Context, rt *resourceType, old, res *Resource) (pendingUpdate, error) {
	p := pendingUpdate{typ: rt.Name, old: old}
	if h.hooks.BeforeUpdate == nil && h.hooks.AfterUpdate == nil && !h.hasMemberHooks() {
		return p, nil
	}
	p.update = !onlyMembersDiffer(rt, rt.stored(old.Attributes), res.Attributes)
	if p.update && h.hooks.BeforeUpdate != nil {
		if err := h.hooks.BeforeUpdate(ctx, &Update{Old: old, New: res}); err != nil {
			return p, err
		}
	}
	added, removed := memberDiff(rt, old.Attributes, res.Attributes)
	p.members = &Membership{Group: old.ID, Added: added, Removed: removed,
		DisplayName: displayNameOf(res.Attributes), OldDisplayName: renamedFrom(old.Attributes, res.Attributes)}
	return p, h.beforeMembers(ctx, p.members)
}

// afterUpdate runs the after hooks of a successful update.
func (h *Handler) afterUpdate(req *request, p pendingUpdate, stored *Resource) {
	if p.update && h.hooks.AfterUpdate != nil {
		h.runAfter(req, "AfterUpdate", p.typ, stored.ID, func(ctx context.Context) error {
			return h.hooks.AfterUpdate(ctx, &Update{Old: p.old, New: stored.Clone()})
		})
	}
	if p.members != nil {
		p.members.DisplayName = displayNameOf(stored.Attributes)
		h.afterMembers(req, p.typ, p.members)
	}
}

// onlyMembersDiffer reports whether two versions of a Group's attributes
// differ in their members alone.
func onlyMembersDiffer(rt *resourceType, old, new map[string]any) bool {
	if rt.Name != "Group" {
		return false
	}
	a, b := maps.Clone(old), maps.Clone(new)
	delete(a, "members")
	delete(b, "members")
	return equalValues(a, b)
}

// beforeDelete runs the before hooks of deleting old: BeforeDelete, and
// BeforeMembers for the Group's own members and for every Group that
// holds old. It returns the membership changes the delete causes.
func (h *Handler) beforeDelete(ctx context.Context, rt *resourceType, old *Resource) ([]*Membership, error) {
	if h.hooks.BeforeDelete != nil {
		if err := h.hooks.BeforeDelete(ctx, old); err != nil {
			return nil, err
		}
	}
	if !h.hasMemberHooks() || rt.Name != "User" && rt.Name != "Group" {
		return nil, nil
	}
	var changes []*Membership
	if _, removed := memberDiff(rt, old.Attributes, nil); len(removed) > 0 {
		changes = append(changes, &Membership{Group: old.ID, DisplayName: displayNameOf(old.Attributes), Removed: removed, Cascade: true})
	}
	holders, err := h.groupsHolding(ctx, old.ID)
	if err != nil {
		return nil, err
	}
	for _, g := range holders {
		changes = append(changes, &Membership{Group: g.ID, DisplayName: displayNameOf(g.Attributes), Removed: []string{old.ID}, Cascade: true})
	}
	for _, m := range changes {
		if err := h.beforeMembers(ctx, m); err != nil {
			return nil, err
		}
	}
	return changes, nil
}

// afterDelete runs the after hooks of a successful delete.
func (h *Handler) afterDelete(req *request, typ string, old *Resource, cascade []*Membership) {
	if h.hooks.AfterDelete != nil {
		h.runAfter(req, "AfterDelete", typ, old.ID, func(ctx context.Context) error { return h.hooks.AfterDelete(ctx, old) })
	}
	for _, m := range cascade {
		h.afterMembers(req, "Group", m)
	}
}

// groupsHolding returns the Groups whose members hold id, without their
// members, by the store's members.value query (indexed in the stores this
// module ships).
func (h *Handler) groupsHolding(ctx context.Context, id string) ([]*Resource, error) {
	const page = 1000
	q := Query{
		Filter:             &CompareExpr{Path: AttrPath{Name: "members", Sub: "value", Type: TypeString, CaseExact: true, MultiValued: true}, Op: OpEqual, Value: id},
		ExcludedAttributes: []AttrPath{{Name: "members", Type: TypeComplex, MultiValued: true}},
		Count:              page,
	}
	var out []*Resource
	for q.StartIndex = 1; ; q.StartIndex += page {
		p, err := h.store.Query(ctx, "Group", q)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Resources...)
		if len(p.Resources) < page || q.StartIndex+page > p.TotalResults {
			return out, nil
		}
	}
}
