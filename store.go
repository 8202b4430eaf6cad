package scim

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scimkit/scim/internal/compact"
)

// Sentinel errors a Store returns. The handler maps them to SCIM errors;
// stores may wrap them with %w to add detail.
var (
	// ErrNotFound: no resource of that type and id in the tenant.
	ErrNotFound = errors.New("scim: resource not found")
	// ErrVersionMismatch: the stored version is not the one the caller expected.
	ErrVersionMismatch = errors.New("scim: resource version mismatch")
	// ErrUniqueness: another resource of the type already holds one of the
	// resource's unique keys.
	ErrUniqueness = errors.New("scim: uniqueness violation")
	// ErrNoTarget: a MembershipChange with MustBeMembers removes an id that
	// is not a member.
	ErrNoTarget = errors.New("scim: no such member")
	// ErrInvalidCursor: a Keyset query's After is no position the store
	// handed out.
	ErrInvalidCursor = errors.New("scim: invalid cursor")
	// ErrMemberNotFound: a Group write names a member id that is not a User
	// or Group of the tenant. Stores return it as a *MemberNotFoundError,
	// which names the id.
	ErrMemberNotFound = errors.New("scim: member not found")
)

// MemberNotFoundError is the error a store returns when a Group write
// (Create, Replace or PatchMembers) names a member id that is not a User or
// Group of the tenant. It matches ErrMemberNotFound with errors.Is, and the
// handler tells the client which id it was.
type MemberNotFoundError struct {
	// ID is the member value that names no User or Group.
	ID string
}

// Error implements error.
func (e *MemberNotFoundError) Error() string {
	return fmt.Sprintf("scim: member %q is not a User or Group of the tenant", e.ID)
}

// Is makes errors.Is(err, ErrMemberNotFound) true.
func (e *MemberNotFoundError) Is(target error) bool { return target == ErrMemberNotFound }

// Store keeps resources. It knows nothing of SCIM beyond what the types in
// this file hand it: the Handler parses, validates, patches and projects;
// the Store persists, enforces compare-and-swap and uniqueness, and answers
// queries.
//
// Every method reads the tenant from the context (see TenantFrom) and works
// only inside it. Implementations must be safe for concurrent use and must
// not retain or modify the *Resource values passed in or handed out.
// Run storetest.Run against an implementation to check it.
//
// Group membership is the one relation a store keeps: resources of type
// "Group" list their members in the "members" attribute (values with the
// member's id as "value"); resources of type "User" come back with a
// computed "groups" attribute, and deleting a User or Group removes it from
// every Group's members. These names are RFC 7643's; hosts that rename the
// resource types lose only that relation.
//
// Members refer to existing resources: a Group write (Create, Replace,
// PatchMembers) whose members name an id that is not, when the write
// commits, a User or Group of the same tenant writes nothing and returns a
// *MemberNotFoundError. The check is atomic with the write (under the same
// lock, in the same transaction, or by a foreign key), so that no Delete
// running at the same time can leave a Group with a member that does not
// exist. It comes after the version check: a write at a stale version fails
// with ErrVersionMismatch whatever its members, so that the handler reads
// again instead of blaming the client for a member deleted meanwhile.
type Store interface {
	// Create stores a new resource. The handler has set ID, Meta.Created and
	// Meta.LastModified; the store sets Meta.Version and returns the stored
	// resource. A clash on any of res.Unique is ErrUniqueness.
	Create(ctx context.Context, res *Resource) (*Resource, error)

	// Get returns the resource, or ErrNotFound.
	Get(ctx context.Context, resourceType, id string) (*Resource, error)

	// Replace overwrites the resource's attributes and Meta.LastModified if
	// its stored version equals expectedVersion ("" matches any version),
	// else ErrVersionMismatch. It assigns a new Meta.Version, keeps
	// Meta.Created, and returns the stored resource.
	Replace(ctx context.Context, res *Resource, expectedVersion string) (*Resource, error)

	// Delete removes the resource if its version equals expectedVersion (""
	// matches any), else ErrVersionMismatch. Deleting a User or Group also
	// removes it from every Group's members, and each Group so changed gets
	// a new Meta.Version (so a write based on an earlier read cannot bring
	// the member back) and Meta.LastModified.
	Delete(ctx context.Context, resourceType, id, expectedVersion string) error

	// Query returns one page of the resources of a type that match q.Filter,
	// in q's order, with the number of matches before paging.
	Query(ctx context.Context, resourceType string, q Query) (*Page, error)
}

// Resource is one stored resource: a User, a Group or any other type the
// handler serves.
type Resource struct {
	// Type is the resource type's name, for example "User".
	Type string
	// ID is the server-assigned identifier.
	ID string
	// Attributes holds every attribute but id, schemas and meta, by canonical
	// name: core attributes at the top level, extension attributes in a map
	// under the extension's schema URN. Values are the JSON kinds: string
	// (also for dateTime, reference and binary), bool, int64, float64,
	// map[string]any and []any.
	//
	// A store returning a User fills "groups" from the Groups whose
	// "members" hold its id (value, display and type "direct"); the handler
	// never stores it.
	Attributes map[string]any
	// Meta carries the times and version of the resource.
	Meta Meta
	// Unique lists the values no other resource of the same type in the
	// tenant may hold. The handler fills it on Create and Replace; a store
	// enforces it atomically with the write and need not persist it.
	Unique []UniqueKey
}

// Meta is the part of a resource's meta attribute a store keeps.
type Meta struct {
	Created      time.Time
	LastModified time.Time
	// Version is an opaque token that changes on every write. The handler
	// serves it as a weak ETag.
	Version string
}

// UniqueKey is one attribute value that must be unique within a resource
// type and tenant. Value is already normalised: case-folded (lower case of
// upper case) for attributes that are not case-exact.
type UniqueKey struct {
	Attribute string
	Value     string
}

// Query asks a store for one page of resources.
type Query struct {
	// Filter selects resources; nil selects all. Attribute paths in it are
	// canonical and carry their type and case rules, so Matches evaluates it
	// without a schema.
	Filter Filter
	// SortBy orders the matches; nil leaves the store's own stable order
	// (the same on every call, so paging sees each resource once).
	SortBy *AttrPath
	// Descending reverses SortBy.
	Descending bool
	// StartIndex is the 1-based index of the first match to return (>= 1).
	StartIndex int
	// Count is the largest number of resources to return (>= 0); with 0 the
	// page carries only TotalResults.
	Count int
	// Attributes and ExcludedAttributes are the client's projection, as
	// hints: a store may leave out what is not asked for, never more.
	Attributes         []AttrPath
	ExcludedAttributes []AttrPath
	// Keyset asks for cursor paging (RFC 9865) instead of StartIndex: the
	// Count matches that follow the position After names, in the query's
	// order (the first Count when After is ""), and in Page.Next the
	// position after the page's last resource. The order is total and the
	// same on every call, so that paging through while resources are
	// created and deleted returns each resource that exists throughout
	// exactly once.
	Keyset bool
	// After is a position the store's Page.Next named for the same filter
	// and order; one it cannot read is ErrInvalidCursor.
	After string
}

// Page is a store's answer to a Query.
type Page struct {
	// Resources is the page, at most Query.Count long.
	Resources []*Resource
	// TotalResults is the number of matches before paging.
	TotalResults int
	// Next, for a Keyset query, is the position after the page's last
	// resource, for Query.After; "" when no match follows.
	Next string
}

// Clone returns a deep copy of r; stores use it to keep their data apart
// from their callers'. Complex values a store keeps in its compact form
// (see Viewer) come out as map[string]any.
func (r *Resource) Clone() *Resource {
	if r == nil {
		return nil
	}
	c := *r
	c.Attributes = cloneMap(r.Attributes)
	c.Unique = append([]UniqueKey(nil), r.Unique...)
	return &c
}

// CloneOmitting returns a deep copy of r without the top-level attributes
// for which omit reports true; stores use it to honour projection hints
// without copying what the client left out.
func (r *Resource) CloneOmitting(omit func(name string) bool) *Resource {
	if r == nil {
		return nil
	}
	c := *r
	c.Unique = append([]UniqueKey(nil), r.Unique...)
	if r.Attributes != nil {
		c.Attributes = make(map[string]any, len(r.Attributes))
		for k, v := range r.Attributes {
			if !omit(k) {
				c.Attributes[k] = cloneValue(v)
			}
		}
	}
	return &c
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = cloneValue(v)
	}
	return c
}

func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return cloneMap(v)
	case *compact.Object: // a store's compact form: copied out as a map
		return v.Map(cloneValue)
	case []any:
		c := make([]any, len(v))
		for i, e := range v {
			c[i] = cloneValue(e)
		}
		return c
	default:
		return v
	}
}

// Viewer is an optional Store capability: lending the handler the
// resources a query returns instead of copying them out, for the reads
// that only render them (lists, searches, and GET of one resource, which
// then asks View for an equality on id instead of calling Get). A store
// that keeps resources in memory saves a deep copy per resource; stores
// without it are read through Query and Get.
//
// A type that wraps a Viewer by embedding it, to change what Get or Query
// answer, must override View too (or hide it): the handler would read
// through the embedded View otherwise. The same holds for
// MembershipPatcher.
type Viewer interface {
	// View calls fn once with the page Query(ctx, resourceType, q) would
	// return, except that its resources may be the store's own. fn only
	// reads them, keeps no part of them once it returns, and does not
	// call the store: the store may hold a lock while fn runs, so fn
	// should be quick. The Page itself is the caller's. View returns fn's
	// error, or the error Query would have returned without calling fn.
	//
	// A lent resource may hold complex values in a form of this module's
	// own stores (memstore keeps them compactly) rather than as
	// map[string]any: Matches, SortValue and the handler read both, and
	// Resource.Clone turns them into maps.
	View(ctx context.Context, resourceType string, q Query, fn func(*Page) error) error
}

// MembershipPatcher is an optional Store capability: changing the members
// of a group without reading or rewriting its whole member list, so that
// adding one member to a group of 100,000 costs what it costs for a group
// of ten. The handler uses it for PATCH requests that only add or remove
// members; stores without it get the same result through Get and Replace.
type MembershipPatcher interface {
	// PatchMembers applies change to the "members" of the resource if its
	// version equals expectedVersion ("" matches any), else
	// ErrVersionMismatch. Adding a member already present and removing one
	// that is absent change nothing. If the members changed it sets
	// Meta.LastModified to change.LastModified and a new Meta.Version. It
	// returns the resource's Meta after the change, the ids it really
	// added and removed, and the resource's displayName, which the handler
	// hands to its membership hooks.
	PatchMembers(ctx context.Context, resourceType, id string, change MembershipChange, expectedVersion string) (MembershipResult, error)
}

// MembershipResult is what one PatchMembers call did.
type MembershipResult struct {
	// Meta is the resource's Meta after the call.
	Meta Meta
	// Added holds the ids of change.Add that were not members before;
	// Removed those of change.Remove that were. Both nil when nothing
	// changed.
	Added, Removed []string
	// DisplayName is the resource's "displayName" as stored when the call
	// changed its members (read under the same lock or in the same
	// transaction, so a concurrent rename is either before or after it),
	// for the handler's membership hooks (Membership.DisplayName); "" when
	// it has none. A store that leaves it "" for a Group that has one (a
	// store written before this field) still works: the handler then reads
	// the Group, without its members, when an AfterMembers hook is
	// registered; storetest's MembershipPatcher/ReportsDisplayName fails it.
	DisplayName string
}

// MembershipChange is a set of member additions and removals. No id is in
// both lists.
type MembershipChange struct {
	// Add holds member values: "value" (the member's id) and optionally
	// "display", "type" and "$ref".
	Add []map[string]any
	// Remove holds the ids of members to remove.
	Remove []string
	// MustBeMembers makes removing an id that is not a member an error: the
	// store changes nothing and returns ErrNoTarget (strict mode's answer
	// to a remove whose filter matches nothing, RFC 7644 §3.5.2.2).
	MustBeMembers bool
	// LastModified is the time to record if the members change.
	LastModified time.Time
}

// equalValues reports whether two attribute values (the JSON kinds of
// Resource.Attributes) are deeply equal.
func equalValues(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, av := range a {
			bv, ok := b[k]
			if !ok || !equalValues(av, bv) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equalValues(a[i], b[i]) {
				return false
			}
		}
		return true
	case int64, float64, int:
		// A store may hand a whole decimal back as int64: compare numbers by value.
		na, ok1 := toNumber(a)
		nb, ok2 := toNumber(b)
		return ok1 && ok2 && na.compare(nb) == 0
	case string, bool, nil:
		return a == b
	default:
		return false
	}
}
