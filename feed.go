package scim

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"
)

// Errors of a ChangeFeed.
var (
	// ErrPositionExpired: the position a reader asked to read after is older
	// than the feed keeps (its retention). The changes since it are gone in
	// part, so the reader must resynchronise by listing the resources, then
	// go on from ChangeFeed.Head. Compare Kubernetes' 410 Gone for a watch.
	ErrPositionExpired = errors.New("scim: change feed position is older than the feed's retention")
	// ErrInvalidPosition: the position is no position the feed handed out.
	ErrInvalidPosition = errors.New("scim: invalid change feed position")
)

// ChangeOp is what a change did to its resource.
type ChangeOp string

// The kinds of change. A PUT is a replace, a PATCH a patch (on either
// write path), and the membership removals a delete causes in the Groups
// that held the deleted resource are patches of those Groups with Cascade
// set.
const (
	ChangeCreate  ChangeOp = "create"
	ChangeReplace ChangeOp = "replace"
	ChangePatch   ChangeOp = "patch"
	ChangeDelete  ChangeOp = "delete"
)

// Change is one committed write, as a store's change feed records it:
// atomically with the write, never for a failed or refused one, and never
// for a write that changed nothing.
type Change struct {
	// Position orders the feed: positions compare as strings in the order
	// the changes are read, and are otherwise opaque. Readers pass the last
	// one they handled as ChangeQuery.After.
	Position string
	// Tenant is the tenant of the resource ("" for a single-tenant host).
	Tenant string
	// Type and ID name the resource; ExternalID is its externalId when it
	// has one (as it was before a delete).
	Type, ID, ExternalID string
	// Op is what happened.
	Op ChangeOp
	// Activated and Deactivated report that the write flipped "active"
	// (unset counts as active): what a host takes or frees a licence on.
	Activated, Deactivated bool
	// Added and Removed are the member ids a write of a Group really added
	// and removed.
	Added, Removed []string
	// Attributes lists the attributes the write changed, by canonical
	// name: top-level names, and "urn:…:name" for an extension's. A create
	// lists those the resource has; a delete none.
	Attributes []string
	// Version is the resource's Meta.Version after the write; "" after a
	// delete.
	Version string
	// Principal is the ID of the caller that wrote, RequestID the id of its
	// request, Txn one id per request (per operation of a /Bulk request,
	// as "txn:index") shared by the changes it caused.
	Principal, RequestID, Txn string
	// Cascade is set on the membership removals a delete causes.
	Cascade bool
	// Time is when the store recorded the change.
	Time time.Time
}

// ChangeQuery asks a ChangeFeed for the changes after a position.
type ChangeQuery struct {
	// After is the position of the last change the reader handled; ""
	// reads from the oldest change the feed keeps.
	After string
	// Limit is the largest number of changes to return; 0 or less means
	// the feed's own page size.
	Limit int
	// AllTenants reads every tenant's changes; without it only those of
	// the context's tenant (TenantFrom).
	AllTenants bool
}

// ChangeFeed is an optional Store capability: the store records every
// committed write as a Change, atomically with it (under the same lock,
// in the same transaction), and lets readers read them in order.
//
// The order is total and stable: a reader that has read up to a position
// never later finds a change before it, however many writers commit
// concurrently. Changes of one resource come in the order they were
// committed. Run storetest's Changes group against an implementation.
type ChangeFeed interface {
	// Changes returns the changes after q.After in feed order, at most
	// q.Limit of them (fewer, perhaps none, when no more are ready). A
	// position older than the feed keeps is ErrPositionExpired; one the feed
	// never handed out is ErrInvalidPosition.
	Changes(ctx context.Context, q ChangeQuery) ([]Change, error)
	// WaitChanges returns once Changes(ctx, q) may have changes to
	// return (changes after q.After, of the context's tenant or with
	// q.AllTenants of all), or with the context's error, without polling
	// the store in a busy loop; other tenants' writes do not wake a
	// tenant's reader. It may return early: callers read, then wait again.
	WaitChanges(ctx context.Context, q ChangeQuery) error
	// Head returns the position of the newest change, "" when there is
	// none: where a reader that has just listed every resource starts.
	Head(ctx context.Context) (string, error)
}

// Retention bounds what a change feed keeps. A zero field means the
// store's default for it.
type Retention struct {
	// MaxAge is how long a change is kept.
	MaxAge time.Duration
	// MaxCount is the largest number of changes kept (over all tenants).
	MaxCount int
}

// FormatPosition returns the position of the n-th change of a feed that
// numbers its changes, in the form this module's stores use: 16 hex
// digits, so that positions compare as strings in numeric order.
func FormatPosition(n uint64) string {
	const digits = "0123456789abcdef"
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = digits[n&0xf]
		n >>= 4
	}
	return string(b[:])
}

// ParsePosition reads a position FormatPosition wrote; "" is 0. Anything
// else is ErrInvalidPosition.
func ParsePosition(p string) (uint64, error) {
	if p == "" {
		return 0, nil
	}
	if len(p) != 16 {
		return 0, ErrInvalidPosition
	}
	n, err := strconv.ParseUint(p, 16, 64)
	if err != nil || FormatPosition(n) != p { // lower-case digits only
		return 0, ErrInvalidPosition
	}
	return n, nil
}

type changeKey struct{}

// WithChange returns a context that describes the write it is passed to,
// for the change the store records: c's Op (a PATCH is a patch even where
// the store calls its write a replace), Attributes, Activated, Deactivated,
// Added, Removed, Principal, RequestID and Txn. The handler describes every
// store write it makes so; host code calling a store directly may, too.
func WithChange(ctx context.Context, c Change) context.Context {
	return context.WithValue(ctx, changeKey{}, &c)
}

// ChangeFor returns the change a store records when it commits a write of
// kind op to res (for a delete, the resource as it was; for a membership
// change, the Group with its new Meta): the write as WithChange described
// it, with res's type, id, externalId and version and the context's
// tenant. The change shares the description's slices, which neither the
// store nor a reader may change (memstore hands readers copies). A write nobody described is described by op and res, with the
// context's principal and request id. The store sets Position and Time,
// and for a MembershipPatcher write the Added and Removed it really
// applied.
func ChangeFor(ctx context.Context, op ChangeOp, res *Resource) Change {
	var c Change
	if d, ok := ctx.Value(changeKey{}).(*Change); ok {
		c = *d // its slices are the description's: a store keeps them as they are
		c.Position, c.Time, c.Cascade = "", time.Time{}, false
		if c.Op != ChangePatch || op != ChangeReplace {
			c.Op = op
		}
	} else {
		c = undescribed(ctx)
		c.Op = op
		if op == ChangeCreate {
			c.Attributes = attributeNames(res.Attributes)
		}
	}
	c.Tenant, c.Type, c.ID = TenantFrom(ctx), res.Type, res.ID
	c.ExternalID, _ = res.Attributes["externalId"].(string)
	if op != ChangeDelete {
		c.Version = res.Meta.Version
	}
	return c
}

// CascadeChange returns the change a store records for Group group
// losing the member removed because removed was deleted: a patch of the
// Group's members with its new version, caused by (and with the
// principal, request and transaction of) the delete.
func CascadeChange(ctx context.Context, group *Resource, removed string) Change {
	c := undescribed(ctx)
	if d, ok := ctx.Value(changeKey{}).(*Change); ok {
		c.Principal, c.RequestID, c.Txn = d.Principal, d.RequestID, d.Txn
	}
	c.Tenant, c.Type, c.ID, c.Op = TenantFrom(ctx), group.Type, group.ID, ChangePatch
	c.ExternalID, _ = group.Attributes["externalId"].(string)
	c.Removed, c.Attributes = []string{removed}, []string{"members"}
	c.Version, c.Cascade = group.Meta.Version, true
	return c
}

// undescribed is the part of a change the context tells by itself.
func undescribed(ctx context.Context) Change {
	p, _ := PrincipalFrom(ctx)
	return Change{Principal: p.ID, RequestID: RequestIDFrom(ctx), Txn: txnFrom(ctx)}
}

// describe returns ctx describing the handler's write c() with the
// request's principal, id and transaction, for a store that records
// changes; for another, ctx, and c is not called (a description of a
// large Group's update compares its members).
func (h *Handler) describe(ctx context.Context, c func() Change) context.Context {
	if !h.recorded {
		return ctx
	}
	d := c()
	u := undescribed(ctx)
	d.Principal, d.RequestID, d.Txn = u.Principal, u.RequestID, u.Txn
	return WithChange(ctx, d)
}

// attributeNames returns the canonical names of the attributes in attrs:
// top-level names, and "urn:…:name" for those of an extension, sorted.
func attributeNames(attrs map[string]any) []string {
	var out []string
	for k, v := range attrs {
		if ext, ok := v.(map[string]any); ok && isURN(k) {
			for sub := range ext {
				out = append(out, k+":"+sub)
			}
			continue
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// changedAttributes returns the canonical names of the attributes whose
// values differ between old and new, sorted.
func changedAttributes(old, new map[string]any) []string {
	var out []string
	diff := func(prefix string, a, b map[string]any) {
		for k, v := range b {
			if !equalValues(a[k], v) {
				out = append(out, prefix+k)
			}
		}
		for k := range a {
			if _, ok := b[k]; !ok {
				out = append(out, prefix+k)
			}
		}
	}
	for k, v := range new {
		if ext, isExt := v.(map[string]any); isExt && isURN(k) {
			prev, _ := old[k].(map[string]any)
			diff(k+":", prev, ext)
		} else if !equalValues(old[k], v) {
			out = append(out, k)
		}
	}
	for k, v := range old {
		if _, ok := new[k]; ok {
			continue
		}
		if ext, isExt := v.(map[string]any); isExt && isURN(k) {
			diff(k+":", ext, nil)
		} else {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ErrLeaseLost: the consumer's lease is held by another owner, or has
// expired, so the position it tried to keep was not kept.
var ErrLeaseLost = errors.New("scim: consumer lease lost")

// ConsumerLedger is an optional Store capability: it keeps the positions
// of durable consumers of the change feed (events.Consumer), and a lease
// per consumer so that, with several replicas, one process at a time
// consumes under each name. Consumers are named per tenant (TenantFrom).
type ConsumerLedger interface {
	// Acquire takes consumer's lease for owner until ttl from now, or
	// renews it when owner holds it; ok is false when another owner holds
	// a lease that has not expired. It returns the consumer's position
	// ("" before its first Advance).
	Acquire(ctx context.Context, consumer, owner string, ttl time.Duration) (position string, ok bool, err error)
	// Advance keeps position as consumer's if owner holds its lease, else
	// it returns ErrLeaseLost and keeps nothing.
	Advance(ctx context.Context, consumer, owner, position string) error
	// Release gives up owner's lease of consumer, if it holds it.
	Release(ctx context.Context, consumer, owner string) error
}

// TxLedger is an optional ConsumerLedger capability: advancing a
// consumer's position in a transaction with the consumer's own writes.
// The PostgreSQL store has it: fn's context carries the transaction
// (postgres.TxFrom), so that a host's tables and the consumer's progress
// commit together, exactly once.
type TxLedger interface {
	// AdvanceTx runs fn in a transaction and, in the same transaction,
	// keeps position as consumer's if owner holds its lease (else
	// ErrLeaseLost, and nothing of fn is kept). An error of fn rolls
	// everything back and is returned.
	AdvanceTx(ctx context.Context, consumer, owner, position string, fn func(ctx context.Context) error) error
}
