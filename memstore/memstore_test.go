package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

var (
	t0 = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	t1 = t0.Add(time.Hour)
	t2 = t0.Add(2 * time.Hour)
)

func tenantCtx(name string) context.Context {
	return scim.WithPrincipal(context.Background(), scim.Principal{ID: "test", Tenant: name})
}

// newUser returns a User as the handler would hand it to the store: the
// userName unique key lowercased.
func newUser(id, userName string) *scim.Resource {
	return &scim.Resource{
		Type: "User",
		ID:   id,
		Attributes: map[string]any{
			"userName": userName,
			"active":   true,
			"name":     map[string]any{"givenName": "Barbara", "familyName": "Jensen"},
			"emails":   []any{map[string]any{"value": userName + "@example.com", "type": "work"}},
		},
		Meta:   scim.Meta{Created: t0, LastModified: t0},
		Unique: []scim.UniqueKey{{Attribute: "userName", Value: strings.ToLower(userName)}},
	}
}

func newGroup(id, displayName string, members ...string) *scim.Resource {
	ms := make([]any, 0, len(members))
	for _, m := range members {
		ms = append(ms, map[string]any{"value": m, "type": "User"})
	}
	return &scim.Resource{
		Type:       "Group",
		ID:         id,
		Attributes: map[string]any{"displayName": displayName, "members": ms},
		Meta:       scim.Meta{Created: t0, LastModified: t0},
	}
}

func path(name, sub string, caseExact bool) scim.AttrPath {
	return scim.AttrPath{Name: name, Sub: sub, Type: scim.TypeString, CaseExact: caseExact}
}

func eq(p scim.AttrPath, v any) *scim.CompareExpr {
	return &scim.CompareExpr{Path: p, Op: scim.OpEqual, Value: v}
}

var (
	idPath          = path("id", "", true)
	userNamePath    = path("userName", "", false)
	externalIDPath  = path("externalId", "", true)
	displayNamePath = path("displayName", "", false)
	membersPath     = scim.AttrPath{Name: "members", Type: scim.TypeComplex, MultiValued: true}
	memberValuePath = scim.AttrPath{Name: "members", Sub: "value", Type: scim.TypeString, MultiValued: true}
	memberTypePath  = scim.AttrPath{Name: "members", Sub: "type", Type: scim.TypeString, MultiValued: true}
	groupValuePath  = scim.AttrPath{Name: "groups", Sub: "value", Type: scim.TypeString, MultiValued: true}
	activePath      = scim.AttrPath{Name: "active", Type: scim.TypeBoolean}
	titlePath       = path("title", "", false)
)

func mustCreate(t testing.TB, s *memstore.Store, ctx context.Context, r *scim.Resource) *scim.Resource {
	t.Helper()
	got, err := s.Create(ctx, r)
	require.NoError(t, err)
	return got
}

func mustGet(t testing.TB, s *memstore.Store, ctx context.Context, typ, id string) *scim.Resource {
	t.Helper()
	got, err := s.Get(ctx, typ, id)
	require.NoError(t, err)
	return got
}

func queryAll(t testing.TB, s *memstore.Store, ctx context.Context, typ string, q scim.Query) *scim.Page {
	t.Helper()
	if q.StartIndex == 0 {
		q.StartIndex = 1
	}
	if q.Count == 0 {
		q.Count = 1 << 30
	}
	p, err := s.Query(ctx, typ, q)
	require.NoError(t, err)
	require.NotNil(t, p.Resources)
	return p
}

func ids(rs []*scim.Resource) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func groupIDs(r *scim.Resource) []string {
	gs, _ := r.Attributes["groups"].([]any)
	var out []string
	for _, g := range gs {
		out = append(out, g.(map[string]any)["value"].(string))
	}
	return out
}

func TestCreateGetRoundTrip(t *testing.T) {
	s := memstore.New()
	ctx := tenantCtx("")
	in := newUser("u1", "bjensen")
	in.Attributes["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] = map[string]any{"employeeNumber": "701984"}

	created := mustCreate(t, s, ctx, in)
	assert.Equal(t, "User", created.Type)
	assert.Equal(t, "u1", created.ID)
	assert.NotEmpty(t, created.Meta.Version)
	assert.Equal(t, t0, created.Meta.Created)
	assert.Equal(t, t0, created.Meta.LastModified)
	assert.Empty(t, in.Meta.Version, "the passed resource must not be changed")

	got := mustGet(t, s, ctx, "User", "u1")
	assert.Equal(t, created, got)
	assert.Equal(t, in.Attributes, got.Attributes)

	// Mutating the passed value, the returned values, deep inside, never
	// reaches the store.
	in.Attributes["userName"] = "changed"
	in.Attributes["name"].(map[string]any)["givenName"] = "changed"
	in.Attributes["emails"].([]any)[0].(map[string]any)["value"] = "changed"
	created.Attributes["active"] = false
	created.Attributes["emails"].([]any)[0] = "changed"
	got.Attributes["name"].(map[string]any)["familyName"] = "changed"
	got.Meta.Version = "changed"
	got.Unique[0].Value = "changed"

	again := mustGet(t, s, ctx, "User", "u1")
	assert.Equal(t, "bjensen", again.Attributes["userName"])
	assert.Equal(t, true, again.Attributes["active"])
	assert.Equal(t, map[string]any{"givenName": "Barbara", "familyName": "Jensen"}, again.Attributes["name"])
	assert.Equal(t, []any{map[string]any{"value": "bjensen@example.com", "type": "work"}}, again.Attributes["emails"])
	assert.Equal(t, created.Meta.Version, again.Meta.Version)

	// The same holds for Query results and Replace arguments and results.
	page := queryAll(t, s, ctx, "User", scim.Query{})
	require.Len(t, page.Resources, 1)
	page.Resources[0].Attributes["userName"] = "changed"
	repl := newUser("u1", "bjensen")
	replaced, err := s.Replace(ctx, repl, "")
	require.NoError(t, err)
	repl.Attributes["name"].(map[string]any)["givenName"] = "changed"
	replaced.Attributes["name"].(map[string]any)["familyName"] = "changed"
	again = mustGet(t, s, ctx, "User", "u1")
	assert.Equal(t, "bjensen", again.Attributes["userName"])
	assert.Equal(t, map[string]any{"givenName": "Barbara", "familyName": "Jensen"}, again.Attributes["name"])
}

func TestCreateRejects(t *testing.T) {
	s := memstore.New()
	ctx := tenantCtx("")
	mustCreate(t, s, ctx, newUser("u1", "bjensen"))

	noType := newUser("u2", "x")
	noType.Type = ""
	tests := []struct {
		name       string
		res        *scim.Resource
		uniqueness bool
	}{
		{"nil resource", nil, false},
		{"no type", noType, false},
		{"no id", newUser("", "someone"), false},
		{"duplicate id", newUser("u1", "someone-else"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Create(ctx, tt.res)
			require.Error(t, err)
			assert.Equal(t, tt.uniqueness, errors.Is(err, scim.ErrUniqueness), err)
		})
	}
	assert.Equal(t, 1, queryAll(t, s, ctx, "User", scim.Query{}).TotalResults)
}

func TestNotFound(t *testing.T) {
	s := memstore.New()
	ctx := tenantCtx("acme")
	mustCreate(t, s, ctx, newUser("u1", "bjensen"))

	for _, c := range []struct {
		name     string
		ctx      context.Context
		typ, id  string
		contains string
	}{
		{"unknown id", ctx, "User", "nope", `User "nope"`},
		{"unknown type", ctx, "Device", "u1", `Device "u1"`},
		{"unknown tenant", tenantCtx("other"), "User", "u1", `User "u1"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Get(c.ctx, c.typ, c.id)
			assert.ErrorIs(t, err, scim.ErrNotFound)
			assert.ErrorContains(t, err, c.contains)

			r := newUser(c.id, "fresh")
			r.Type = c.typ
			_, err = s.Replace(c.ctx, r, "")
			assert.ErrorIs(t, err, scim.ErrNotFound)

			assert.ErrorIs(t, s.Delete(c.ctx, c.typ, c.id, ""), scim.ErrNotFound)
		})
	}

	require.NoError(t, s.Delete(ctx, "User", "u1", ""))
	_, err := s.Get(ctx, "User", "u1")
	assert.ErrorIs(t, err, scim.ErrNotFound)
	assert.ErrorIs(t, s.Delete(ctx, "User", "u1", ""), scim.ErrNotFound)
}

func TestReplace(t *testing.T) {
	s := memstore.New()
	ctx := tenantCtx("")
	created := mustCreate(t, s, ctx, newUser("u1", "bjensen"))

	r := newUser("u1", "bjensen")
	r.Attributes["title"] = "Tour Guide"
	delete(r.Attributes, "emails")
	r.Meta = scim.Meta{Created: t2, LastModified: t1, Version: "ignored"}
	replaced, err := s.Replace(ctx, r, created.Meta.Version)
	require.NoError(t, err)

	assert.Equal(t, t0, replaced.Meta.Created, "Created is kept from the stored resource")
	assert.Equal(t, t1, replaced.Meta.LastModified)
	assert.NotEqual(t, created.Meta.Version, replaced.Meta.Version)
	assert.NotEqual(t, "ignored", replaced.Meta.Version)
	assert.Equal(t, "Tour Guide", replaced.Attributes["title"])
	assert.NotContains(t, replaced.Attributes, "emails")
	assert.Equal(t, replaced, mustGet(t, s, ctx, "User", "u1"))
}

func TestVersionsAreFresh(t *testing.T) {
	s := memstore.New()
	ctx := tenantCtx("")
	seen := map[string]bool{}
	note := func(v string) {
		t.Helper()
		require.NotEmpty(t, v)
		require.False(t, seen[v], "version %q seen twice", v)
		seen[v] = true
	}
	note(mustCreate(t, s, ctx, newUser("u1", "a")).Meta.Version)
	note(mustCreate(t, s, ctx, newUser("u2", "b")).Meta.Version)
	for i := 0; i < 3; i++ {
		r, err := s.Replace(ctx, newUser("u1", "a"), "")
		require.NoError(t, err)
		note(r.Meta.Version)
	}
	g := mustCreate(t, s, ctx, newGroup("g1", "G", "u1"))
	note(g.Meta.Version)
	require.NoError(t, s.Delete(ctx, "User", "u1", ""))
	note(mustGet(t, s, ctx, "Group", "g1").Meta.Version)
}

func TestCompareAndSwap(t *testing.T) {
	tests := []struct {
		name     string
		expected func(current string) string
		wantErr  error
	}{
		{"any version", func(string) string { return "" }, nil},
		{"current version", func(cur string) string { return cur }, nil},
		{"stale version", func(cur string) string { return cur + "0" }, scim.ErrVersionMismatch},
		{"made-up version", func(string) string { return `W/"1"` }, scim.ErrVersionMismatch},
	}
	for _, tt := range tests {
		t.Run("replace/"+tt.name, func(t *testing.T) {
			s := memstore.New()
			ctx := tenantCtx("")
			cur := mustCreate(t, s, ctx, newUser("u1", "bjensen"))
			r := newUser("u1", "bjensen")
			r.Attributes["title"] = "new"
			_, err := s.Replace(ctx, r, tt.expected(cur.Meta.Version))
			got := mustGet(t, s, ctx, "User", "u1")
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				assert.Equal(t, cur, got, "a failed replace changes nothing")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "new", got.Attributes["title"])
		})
		t.Run("delete/"+tt.name, func(t *testing.T) {
			s := memstore.New()
			ctx := tenantCtx("")
			cur := mustCreate(t, s, ctx, newUser("u1", "bjensen"))
			err := s.Delete(ctx, "User", "u1", tt.expected(cur.Meta.Version))
			_, getErr := s.Get(ctx, "User", "u1")
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				assert.NoError(t, getErr, "a failed delete removes nothing")
				return
			}
			require.NoError(t, err)
			assert.ErrorIs(t, getErr, scim.ErrNotFound)
		})
	}

	t.Run("version of an earlier write", func(t *testing.T) {
		s := memstore.New()
		ctx := tenantCtx("")
		v1 := mustCreate(t, s, ctx, newUser("u1", "bjensen")).Meta.Version
		v2, err := s.Replace(ctx, newUser("u1", "bjensen"), v1)
		require.NoError(t, err)
		_, err = s.Replace(ctx, newUser("u1", "bjensen"), v1)
		assert.ErrorIs(t, err, scim.ErrVersionMismatch)
		assert.ErrorIs(t, s.Delete(ctx, "User", "u1", v1), scim.ErrVersionMismatch)
		assert.NoError(t, s.Delete(ctx, "User", "u1", v2.Meta.Version))
	})
}

func TestUniqueness(t *testing.T) {
	s := memstore.New()
	ctx := tenantCtx("")
	mustCreate(t, s, ctx, newUser("u1", "bjensen"))
	mustCreate(t, s, ctx, newUser("u2", "jsmith"))

	// The handler lowercases the key of a case-insensitive attribute, so
	// "BJensen" arrives as "bjensen".
	_, err := s.Create(ctx, newUser("u3", "BJensen"))
	require.ErrorIs(t, err, scim.ErrUniqueness)
	assert.ErrorContains(t, err, "userName")
	_, err = s.Get(ctx, "User", "u3")
	assert.ErrorIs(t, err, scim.ErrNotFound, "a rejected create stores nothing")

	// The same key in another type is no clash.
	other := newUser("d1", "bjensen")
	other.Type = "Device"
	mustCreate(t, s, ctx, other)

	// Replace checks against others, not itself.
	_, err = s.Replace(ctx, newUser("u1", "BJENSEN"), "")
	require.NoError(t, err)
	_, err = s.Replace(ctx, newUser("u2", "bjensen"), "")
	require.ErrorIs(t, err, scim.ErrUniqueness)
	assert.Equal(t, "jsmith", mustGet(t, s, ctx, "User", "u2").Attributes["userName"], "a rejected replace changes nothing")

	// Released when the holder changes its value...
	_, err = s.Replace(ctx, newUser("u1", "barbara"), "")
	require.NoError(t, err)
	mustCreate(t, s, ctx, newUser("u3", "bjensen"))
	_, err = s.Create(ctx, newUser("u4", "Barbara"))
	require.ErrorIs(t, err, scim.ErrUniqueness)

	// ...and when it is deleted.
	require.NoError(t, s.Delete(ctx, "User", "u1", ""))
	mustCreate(t, s, ctx, newUser("u4", "Barbara"))

	// Every key is enforced, whatever its attribute.
	a := newUser("u5", "five")
	a.Unique = append(a.Unique, scim.UniqueKey{Attribute: "externalId", Value: "X-1"})
	mustCreate(t, s, ctx, a)
	b := newUser("u6", "six")
	b.Unique = append(b.Unique, scim.UniqueKey{Attribute: "externalId", Value: "X-1"})
	_, err = s.Create(ctx, b)
	require.ErrorIs(t, err, scim.ErrUniqueness)
	assert.ErrorContains(t, err, "externalId")
	b.Unique[1].Value = "x-1" // a case-exact key differs by case
	mustCreate(t, s, ctx, b)
}

func TestTenantsAreIsolated(t *testing.T) {
	s := memstore.New()
	acme, globex := tenantCtx("acme"), tenantCtx("globex")
	mustCreate(t, s, acme, newUser("u1", "bjensen"))
	_, err := s.Get(globex, "User", "u1")
	assert.ErrorIs(t, err, scim.ErrNotFound)
	_, err = s.Get(context.Background(), "User", "u1")
	assert.ErrorIs(t, err, scim.ErrNotFound, "no principal is the default tenant, another one")

	// Same userName, and even the same id, in another tenant.
	g := mustCreate(t, s, globex, newUser("u1", "bjensen"))
	mustCreate(t, s, globex, newUser("u2", "jsmith"))
	assert.Equal(t, 1, queryAll(t, s, acme, "User", scim.Query{}).TotalResults)
	assert.Equal(t, 2, queryAll(t, s, globex, "User", scim.Query{}).TotalResults)
	assert.Equal(t, 0, queryAll(t, s, context.Background(), "User", scim.Query{}).TotalResults)

	p := queryAll(t, s, globex, "User", scim.Query{Filter: eq(userNamePath, "bjensen")})
	assert.Equal(t, []string{"u1"}, ids(p.Resources))

	// Memberships stay within their tenant.
	mustCreate(t, s, acme, newGroup("g1", "Admins", "u1"))
	assert.Equal(t, []string{"g1"}, groupIDs(mustGet(t, s, acme, "User", "u1")))
	assert.Empty(t, groupIDs(mustGet(t, s, globex, "User", "u1")))

	// Writes in one tenant leave the other's versions alone: each tenant
	// counts its own writes.
	require.NoError(t, s.Delete(acme, "User", "u1", ""))
	assert.Equal(t, g.Meta.Version, mustGet(t, s, globex, "User", "u1").Meta.Version)
	assert.Empty(t, mustGet(t, s, acme, "Group", "g1").Attributes["members"])
}

func TestComputedGroups(t *testing.T) {
	s := memstore.New()
	ctx := tenantCtx("")
	u := newUser("u1", "bjensen")
	u.Attributes["groups"] = []any{map[string]any{"value": "forged"}}
	created := mustCreate(t, s, ctx, u)
	assert.NotContains(t, created.Attributes, "groups", "groups are computed, never stored")
	mustCreate(t, s, ctx, newUser("u2", "jsmith"))

	mustCreate(t, s, ctx, newGroup("g1", "Admins", "u1", "u2"))
	mustCreate(t, s, ctx, newGroup("g2", "Tour Guides", "u1"))
	mustCreate(t, s, ctx, newGroup("g3", "Empty"))

	got := mustGet(t, s, ctx, "User", "u1")
	assert.Equal(t, []any{
		map[string]any{"value": "g1", "display": "Admins", "type": "direct"},
		map[string]any{"value": "g2", "display": "Tour Guides", "type": "direct"},
	}, got.Attributes["groups"])
	assert.Equal(t, []string{"g1"}, groupIDs(mustGet(t, s, ctx, "User", "u2")))
	assert.NotContains(t, mustGet(t, s, ctx, "Group", "g1").Attributes, "groups")

	// Writing a User with groups does not store them either.
	_, err := s.Replace(ctx, got, "")
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, "Group", "g2", ""))
	assert.Equal(t, []string{"g1"}, groupIDs(mustGet(t, s, ctx, "User", "u1")))

	// A renamed group shows its new name.
	_, err = s.Replace(ctx, newGroup("g1", "Administrators", "u1", "u2"), "")
	require.NoError(t, err)
	got = mustGet(t, s, ctx, "User", "u1")
	assert.Equal(t, []any{map[string]any{"value": "g1", "display": "Administrators", "type": "direct"}}, got.Attributes["groups"])

	// Query results carry groups too.
	p := queryAll(t, s, ctx, "User", scim.Query{})
	require.Len(t, p.Resources, 2)
	assert.Equal(t, got.Attributes["groups"], p.Resources[0].Attributes["groups"])

	// A removed member loses the group; a user with none has no attribute.
	_, err = s.Replace(ctx, newGroup("g1", "Administrators", "u2"), "")
	require.NoError(t, err)
	assert.NotContains(t, mustGet(t, s, ctx, "User", "u1").Attributes, "groups")
	assert.Equal(t, []string{"g1"}, groupIDs(mustGet(t, s, ctx, "User", "u2")))

	// Projection hints that leave groups out may drop them.
	p = queryAll(t, s, ctx, "User", scim.Query{ExcludedAttributes: []scim.AttrPath{{Name: "groups", Type: scim.TypeComplex, MultiValued: true}}})
	for _, r := range p.Resources {
		assert.NotContains(t, r.Attributes, "groups")
	}
}

func TestDeleteRemovesMembership(t *testing.T) {
	s := memstore.New(memstore.WithClock(func() time.Time { return t2 }))
	ctx := tenantCtx("")
	mustCreate(t, s, ctx, newUser("u1", "bjensen"))
	mustCreate(t, s, ctx, newUser("u2", "jsmith"))
	g1 := mustCreate(t, s, ctx, newGroup("g1", "Admins", "u1", "u2"))
	g2 := mustCreate(t, s, ctx, newGroup("g2", "Staff", "u2", "g1"))
	g3 := mustCreate(t, s, ctx, newGroup("g3", "Other", "u2"))

	require.NoError(t, s.Delete(ctx, "User", "u1", ""))
	got := mustGet(t, s, ctx, "Group", "g1")
	assert.Equal(t, []any{map[string]any{"value": "u2", "type": "User"}}, got.Attributes["members"])
	assert.NotEqual(t, g1.Meta.Version, got.Meta.Version)
	assert.Equal(t, t2, got.Meta.LastModified)
	assert.Equal(t, t0, got.Meta.Created)
	_, err := s.Replace(ctx, newGroup("g1", "Admins"), g1.Meta.Version)
	assert.ErrorIs(t, err, scim.ErrVersionMismatch, "the cascade is a write: the old version is stale")
	assert.Equal(t, g2.Meta.Version, mustGet(t, s, ctx, "Group", "g2").Meta.Version, "untouched groups keep their version")

	p := queryAll(t, s, ctx, "Group", scim.Query{Filter: eq(memberValuePath, "u1")})
	assert.Empty(t, p.Resources)

	// Deleting a group drops it from its members' groups and from the groups
	// that held it.
	require.NoError(t, s.Delete(ctx, "Group", "g1", ""))
	assert.Equal(t, []string{"g2", "g3"}, groupIDs(mustGet(t, s, ctx, "User", "u2")))
	got = mustGet(t, s, ctx, "Group", "g2")
	assert.Equal(t, []any{map[string]any{"value": "u2", "type": "User"}}, got.Attributes["members"])

	// The last membership goes with the user.
	require.NoError(t, s.Delete(ctx, "User", "u2", ""))
	assert.Empty(t, mustGet(t, s, ctx, "Group", "g3").Attributes["members"])
	assert.NotEqual(t, g3.Meta.Version, mustGet(t, s, ctx, "Group", "g3").Meta.Version)
}

// fixture fills a store with users and groups whose values exercise the
// indexes: case variants, shared externalIds, members in many groups.
func fixture(t testing.TB) (*memstore.Store, context.Context) {
	s := memstore.New()
	ctx := tenantCtx("t")
	names := []string{"bjensen", "BJensen2", "jsmith", "JSmith3", "ſtraße", "Kelvin", "alice", "Bob"}
	for i := 0; i < 40; i++ {
		name := fmt.Sprintf("%s-%d", names[i%len(names)], i)
		u := newUser(fmt.Sprintf("u%02d", i), name)
		u.Attributes["externalId"] = []string{"ext-A", "EXT-a", "ext-b", "ext-" + fmt.Sprint(i)}[i%4]
		u.Attributes["title"] = []string{"Boss", "boss", "Worker"}[i%3]
		u.Attributes["active"] = i%5 != 0
		mustCreate(t, s, ctx, u)
	}
	// Case variants of the same userName can exist when the handler does not
	// send a unique key for it.
	for i, n := range []string{"Alice", "ALICE", "alice", "\u212Aelvin"} {
		u := newUser(fmt.Sprintf("v%d", i), n)
		u.Unique = nil
		mustCreate(t, s, ctx, u)
	}
	// A value the schema would not allow is still found as a scan finds it.
	odd := newUser("w0", "")
	odd.Attributes["userName"] = []any{"Listed", "other"}
	odd.Unique = nil
	mustCreate(t, s, ctx, odd)
	// A User whose id differs from u01's only in case, for the groups below.
	mustCreate(t, s, ctx, newUser("U01", "upper.u01"))
	for i := 0; i < 12; i++ {
		var members []string
		for j := i; j < 40; j += i + 1 {
			members = append(members, fmt.Sprintf("u%02d", j))
		}
		if i%3 == 0 {
			members = append(members, "U01") // not u01: a case variant
		}
		g := newGroup(fmt.Sprintf("g%02d", i), []string{"Admins", "admins", "ADMINS", "Staff", "Straße"}[i%5], members...)
		g.Attributes["externalId"] = fmt.Sprintf("gext-%d", i%3)
		mustCreate(t, s, ctx, g)
	}
	// Deletes leave holes in the insertion order.
	require.NoError(t, s.Delete(ctx, "User", "u07", ""))
	require.NoError(t, s.Delete(ctx, "Group", "g05", ""))
	return s, ctx
}

// reference answers q the slow way: every resource of the type, filtered by
// scim.Matches and sorted by scim.SortResources.
func reference(t testing.TB, s *memstore.Store, ctx context.Context, typ string, q scim.Query) []string {
	t.Helper()
	all := queryAll(t, s, ctx, typ, scim.Query{})
	var out []*scim.Resource
	for _, r := range all.Resources {
		if scim.Matches(q.Filter, r) {
			out = append(out, r)
		}
	}
	if q.SortBy != nil {
		scim.SortResources(out, *q.SortBy, q.Descending)
	}
	return ids(out)
}

func TestQueryMatchesReference(t *testing.T) {
	s, ctx := fixture(t)
	and := func(l, r scim.Filter) scim.Filter { return &scim.LogicalExpr{Op: scim.And, Left: l, Right: r} }
	or := func(l, r scim.Filter) scim.Filter { return &scim.LogicalExpr{Op: scim.Or, Left: l, Right: r} }
	not := func(f scim.Filter) scim.Filter { return &scim.NotExpr{X: f} }
	members := func(f scim.Filter) scim.Filter { return &scim.ValuePathExpr{Path: membersPath, Filter: f} }
	active := &scim.CompareExpr{Path: activePath, Op: scim.OpEqual, Value: true}

	tests := []struct {
		name   string
		typ    string
		filter scim.Filter
		want   int // expected matches, to know the case is not vacuous; -1 to skip
	}{
		{"all users", "User", nil, 45},
		{"userName eq in a list", "User", eq(userNamePath, "listed"), 1},
		{"id eq", "User", eq(idPath, "u03"), 1},
		{"id eq deleted", "User", eq(idPath, "u07"), 0},
		{"id eq wrong case", "User", eq(idPath, "U03"), 0},
		{"id eq group id on users", "User", eq(idPath, "g01"), 0},
		{"userName eq", "User", eq(userNamePath, "jsmith-2"), 1},
		{"userName eq other case", "User", eq(userNamePath, "JSMITH-2"), 1},
		{"userName eq variants", "User", eq(userNamePath, "alice"), 3},
		{"userName eq kelvin sign", "User", eq(userNamePath, "kelvin"), 1},
		{"userName eq sharp s", "User", eq(userNamePath, "STRASSE-4"), 0},
		{"userName eq long s", "User", eq(userNamePath, "Straße-4"), 1},
		{"userName eq case-exact path", "User", eq(path("userName", "", true), "Alice"), 1},
		{"userName eq missing", "User", eq(userNamePath, "nobody"), 0},
		{"userName eq non-string", "User", eq(userNamePath, nil), -1},
		{"externalId eq", "User", eq(externalIDPath, "ext-A"), 10},
		{"externalId eq case-exact", "User", eq(externalIDPath, "EXT-a"), 10},
		{"externalId eq case-insensitive path", "User", eq(path("externalId", "", false), "ext-a"), 20},
		{"externalId eq deleted holder", "User", eq(externalIDPath, "ext-7"), 0},
		{"userName eq and active", "User", and(eq(userNamePath, "alice"), active), 3},
		{"active and externalId eq", "User", and(active, eq(externalIDPath, "ext-b")), 8},
		{"and of two indexes", "User", and(eq(externalIDPath, "ext-A"), eq(userNamePath, "bjensen-0")), 1},
		{"or of two indexes", "User", or(eq(externalIDPath, "ext-b"), eq(userNamePath, "alice")), 13},
		{"or with a scan", "User", or(eq(externalIDPath, "ext-b"), active), -1},
		{"not eq", "User", not(eq(userNamePath, "alice")), 42},
		{"title eq scan", "User", eq(titlePath, "boss"), -1},
		{"groups.value eq", "User", eq(groupValuePath, "g02"), -1},
		{"all groups", "Group", nil, 11},
		{"group id eq", "Group", eq(idPath, "g03"), 1},
		{"displayName eq", "Group", eq(displayNamePath, "admins"), 7},
		{"displayName eq sharp s", "Group", eq(displayNamePath, "STRAßE"), 2},
		{"members.value eq", "Group", eq(memberValuePath, "u06"), -1},
		{"members.value eq case variant", "Group", eq(memberValuePath, "u01"), -1},
		{"members.value eq case-exact", "Group", eq(scim.AttrPath{Name: "members", Sub: "value", Type: scim.TypeString, CaseExact: true, MultiValued: true}, "U01"), 4},
		{"members.value eq deleted user", "Group", eq(memberValuePath, "u07"), 0},
		{"members[value eq]", "Group", members(eq(memberValuePath, "u12")), -1},
		{"members[value eq and type eq]", "Group", members(and(eq(memberTypePath, "User"), eq(memberValuePath, "u12"))), -1},
		{"members[value eq or value eq]", "Group", members(or(eq(memberValuePath, "u12"), eq(memberValuePath, "u13"))), -1},
		{"displayName eq and members.value eq", "Group", and(eq(displayNamePath, "Admins"), eq(memberValuePath, "u00")), -1},
		{"group externalId eq", "Group", eq(externalIDPath, "gext-1"), 4},
		{"userName index absent on groups", "Group", eq(userNamePath, "x"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := scim.Query{Filter: tt.filter}
			want := reference(t, s, ctx, tt.typ, q)
			got := queryAll(t, s, ctx, tt.typ, q)
			assert.Equal(t, want, ids(got.Resources))
			assert.Equal(t, len(want), got.TotalResults)
			if tt.want >= 0 {
				assert.Len(t, want, tt.want, "fixture drifted: %v", want)
			}
			for _, r := range got.Resources {
				assert.Equal(t, mustGet(t, s, ctx, tt.typ, r.ID), r, "a query returns what Get returns")
			}
		})
	}
}

func TestPaging(t *testing.T) {
	s, ctx := fixture(t)
	all := ids(queryAll(t, s, ctx, "User", scim.Query{}).Resources)
	require.Len(t, all, 45)
	require.Equal(t, "u00", all[0])
	require.Equal(t, "U01", all[44], "unsorted results come in insertion order")

	for _, size := range []int{1, 5, 7, 44, 100} {
		t.Run(fmt.Sprint("pages of ", size), func(t *testing.T) {
			var seen []string
			for start := 1; start <= len(all); start += size {
				p, err := s.Query(ctx, "User", scim.Query{StartIndex: start, Count: size})
				require.NoError(t, err)
				assert.Equal(t, 45, p.TotalResults)
				assert.LessOrEqual(t, len(p.Resources), size)
				seen = append(seen, ids(p.Resources)...)
			}
			assert.Equal(t, all, seen, "every resource exactly once, in the same order")
		})
	}

	filter := eq(titlePath, "boss")
	matching := reference(t, s, ctx, "User", scim.Query{Filter: filter})
	tests := []struct {
		name      string
		q         scim.Query
		wantIDs   []string
		wantTotal int
	}{
		{"count 0", scim.Query{StartIndex: 1, Count: 0}, []string{}, 45},
		{"count 0 filtered", scim.Query{StartIndex: 1, Count: 0, Filter: filter}, []string{}, len(matching)},
		{"negative count", scim.Query{StartIndex: 1, Count: -1}, []string{}, 45},
		{"start 0 is 1", scim.Query{StartIndex: 0, Count: 2}, all[:2], 45},
		{"negative start is 1", scim.Query{StartIndex: -4, Count: 2}, all[:2], 45},
		{"middle", scim.Query{StartIndex: 10, Count: 3}, all[9:12], 45},
		{"last", scim.Query{StartIndex: 45, Count: 10}, all[44:], 45},
		{"start past end", scim.Query{StartIndex: 46, Count: 10}, []string{}, 45},
		{"start far past end", scim.Query{StartIndex: 1 << 40, Count: 1 << 40}, []string{}, 45},
		{"huge count", scim.Query{StartIndex: 2, Count: int(^uint(0) >> 1)}, all[1:], 45},
		{"filtered page", scim.Query{StartIndex: 2, Count: 3, Filter: filter}, matching[1:4], len(matching)},
		{"filtered past end", scim.Query{StartIndex: 100, Count: 3, Filter: filter}, []string{}, len(matching)},
		{"indexed past end", scim.Query{StartIndex: 2, Count: 3, Filter: eq(idPath, "u01")}, []string{}, 1},
		{"sorted past end", scim.Query{StartIndex: 50, Count: 3, SortBy: &userNamePath}, []string{}, 45},
		{"sorted count 0", scim.Query{StartIndex: 1, Count: 0, SortBy: &userNamePath}, []string{}, 45},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := s.Query(ctx, "User", tt.q)
			require.NoError(t, err)
			require.NotNil(t, p.Resources, "Resources is never nil")
			assert.Equal(t, tt.wantIDs, ids(p.Resources))
			assert.Equal(t, tt.wantTotal, p.TotalResults)
		})
	}

	t.Run("unknown type or tenant", func(t *testing.T) {
		for _, c := range []struct {
			ctx context.Context
			typ string
		}{{ctx, "Device"}, {tenantCtx("nobody"), "User"}} {
			p, err := s.Query(c.ctx, c.typ, scim.Query{StartIndex: 1, Count: 10})
			require.NoError(t, err)
			assert.NotNil(t, p.Resources)
			assert.Empty(t, p.Resources)
			assert.Zero(t, p.TotalResults)
		}
	})
}

func TestPagingAfterManyDeletes(t *testing.T) {
	s := memstore.New()
	ctx := tenantCtx("")
	var want []string
	for i := 0; i < 500; i++ {
		mustCreate(t, s, ctx, newUser(fmt.Sprintf("u%03d", i), fmt.Sprintf("user%d", i)))
	}
	for i := 0; i < 500; i++ {
		if i%7 == 3 {
			want = append(want, fmt.Sprintf("u%03d", i))
			continue
		}
		require.NoError(t, s.Delete(ctx, "User", fmt.Sprintf("u%03d", i), ""))
	}
	mustCreate(t, s, ctx, newUser("new", "new"))
	want = append(want, "new")

	var seen []string
	for start := 1; ; start += 9 {
		p, err := s.Query(ctx, "User", scim.Query{StartIndex: start, Count: 9})
		require.NoError(t, err)
		require.Equal(t, len(want), p.TotalResults)
		if len(p.Resources) == 0 {
			break
		}
		seen = append(seen, ids(p.Resources)...)
	}
	assert.Equal(t, want, seen)
}

func TestSorting(t *testing.T) {
	s, ctx := fixture(t)
	emailPath := scim.AttrPath{Name: "emails", Sub: "value", Type: scim.TypeString, MultiValued: true}
	for _, tt := range []struct {
		name string
		by   scim.AttrPath
		desc bool
		typ  string
	}{
		{"userName", userNamePath, false, "User"},
		{"userName descending", userNamePath, true, "User"},
		{"title (ties keep insertion order)", titlePath, false, "User"},
		{"emails.value descending", emailPath, true, "User"},
		{"externalId case-exact", externalIDPath, false, "User"},
		{"displayName", displayNamePath, false, "Group"},
		{"groups.value", groupValuePath, false, "User"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			by := tt.by
			q := scim.Query{SortBy: &by, Descending: tt.desc}
			want := reference(t, s, ctx, tt.typ, q)
			assert.Equal(t, want, ids(queryAll(t, s, ctx, tt.typ, q).Resources))

			q.Filter = eq(titlePath, "boss")
			want = reference(t, s, ctx, tt.typ, q)
			q.StartIndex, q.Count = 3, 4
			p, err := s.Query(ctx, tt.typ, q)
			require.NoError(t, err)
			assert.Equal(t, len(want), p.TotalResults)
			if len(want) > 2 {
				assert.Equal(t, want[2:min(6, len(want))], ids(p.Resources))
			}
		})
	}
}

func TestCancelledContext(t *testing.T) {
	s := memstore.New()
	ctx := tenantCtx("")
	mustCreate(t, s, ctx, newUser("u1", "bjensen"))
	cctx, cancel := context.WithCancel(ctx)
	cancel()

	_, err := s.Create(cctx, newUser("u2", "jsmith"))
	assert.ErrorIs(t, err, context.Canceled)
	_, err = s.Get(cctx, "User", "u1")
	assert.ErrorIs(t, err, context.Canceled)
	_, err = s.Replace(cctx, newUser("u1", "changed"), "")
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, s.Delete(cctx, "User", "u1", ""), context.Canceled)
	_, err = s.Query(cctx, "User", scim.Query{StartIndex: 1, Count: 10})
	assert.ErrorIs(t, err, context.Canceled)

	// Nothing happened.
	assert.Equal(t, "bjensen", mustGet(t, s, ctx, "User", "u1").Attributes["userName"])
	assert.Equal(t, 1, queryAll(t, s, ctx, "User", scim.Query{}).TotalResults)
}

func TestCancelledDuringScan(t *testing.T) {
	s := memstore.New()
	ctx := tenantCtx("")
	for i := 0; i < 5000; i++ { // more than the store scans between two checks
		mustCreate(t, s, ctx, &scim.Resource{Type: "User", ID: fmt.Sprint(i)})
	}
	// The context is cancelled right after the check at the start of the
	// call, so only the checks during the scan can see it.
	cctx := &cancelAfter{Context: ctx, checks: 1}
	_, err := s.Query(cctx, "User", scim.Query{Filter: eq(titlePath, "x"), StartIndex: 1, Count: 10})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Greater(t, cctx.calls, 1)
}

// cancelAfter is a context that reports itself cancelled after a number of
// calls to Err.
type cancelAfter struct {
	context.Context
	checks, calls int
}

func (c *cancelAfter) Err() error {
	c.calls++
	if c.calls > c.checks {
		return context.Canceled
	}
	return nil
}

// Concurrent creates of one userName are checked by the conformance kit
// (TestConformance: Concurrency/CreateSameUserNameOneWins).

func TestConcurrentReadModifyWrite(t *testing.T) {
	s := memstore.New()
	ctx := tenantCtx("")
	mustCreate(t, s, ctx, newGroup("g1", "Counters"))
	const workers, each = 8, 25
	for w := 0; w < workers; w++ {
		for i := 0; i < each; i++ {
			mustCreate(t, s, ctx, newUser(fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("worker.%d.%d", w, i)))
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				for {
					cur, err := s.Get(ctx, "Group", "g1")
					if !assert.NoError(t, err) {
						return
					}
					members, _ := cur.Attributes["members"].([]any)
					cur.Attributes["members"] = append(members, map[string]any{"value": fmt.Sprintf("w%d-%d", w, i)})
					_, err = s.Replace(ctx, cur, cur.Meta.Version)
					if errors.Is(err, scim.ErrVersionMismatch) {
						continue
					}
					if !assert.NoError(t, err) {
						return
					}
					break
				}
			}
		}(w)
	}
	// Readers and other tenants run alongside.
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			other := tenantCtx(fmt.Sprint("other", r))
			for i := 0; i < 50; i++ {
				_, err := s.Query(ctx, "Group", scim.Query{Filter: eq(memberValuePath, "w0-0"), StartIndex: 1, Count: 10})
				assert.NoError(t, err)
				_, err = s.Create(other, newUser(fmt.Sprint(i), fmt.Sprint("user", i)))
				assert.NoError(t, err)
			}
		}(r)
	}
	wg.Wait()

	got := mustGet(t, s, ctx, "Group", "g1")
	members := got.Attributes["members"].([]any)
	assert.Len(t, members, workers*each, "no update is lost")
	seen := map[string]bool{}
	for _, m := range members {
		seen[m.(map[string]any)["value"].(string)] = true
	}
	assert.Len(t, seen, workers*each)
	p := queryAll(t, s, ctx, "Group", scim.Query{Filter: eq(memberValuePath, fmt.Sprintf("w%d-%d", workers-1, each-1))})
	assert.Equal(t, []string{"g1"}, ids(p.Resources))
}

// benchStore fills a store with n users.
func benchStore(b *testing.B, n int) (*memstore.Store, context.Context) {
	b.Helper()
	s := memstore.New()
	ctx := tenantCtx("bench")
	for i := 0; i < n; i++ {
		u := newUser(fmt.Sprintf("id-%06d", i), fmt.Sprintf("user%06d", i))
		u.Attributes["title"] = fmt.Sprintf("title %d", i%100)
		if _, err := s.Create(ctx, u); err != nil {
			b.Fatal(err)
		}
	}
	return s, ctx
}

func BenchmarkQueryUserNameEq(b *testing.B) {
	const n = 100000
	s, ctx := benchStore(b, n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := scim.Query{Filter: eq(userNamePath, fmt.Sprintf("USER%06d", i%n)), StartIndex: 1, Count: 100}
		p, err := s.Query(ctx, "User", q)
		if err != nil || p.TotalResults != 1 {
			b.Fatal(err, p)
		}
	}
}

func BenchmarkQueryScan(b *testing.B) {
	const n = 100000
	s, ctx := benchStore(b, n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := scim.Query{Filter: eq(titlePath, fmt.Sprintf("Title %d", i%100)), StartIndex: 1, Count: 100}
		p, err := s.Query(ctx, "User", q)
		if err != nil || p.TotalResults != n/100 {
			b.Fatal(err, p)
		}
	}
}

// A page far past the end, up to the largest int, is empty, never a panic.
func TestQueryPastTheEnd(t *testing.T) {
	s := memstore.New()
	ctx := context.Background()
	for i := range 3 {
		_, err := s.Create(ctx, &scim.Resource{Type: "User", ID: fmt.Sprint(i), Attributes: map[string]any{"userName": fmt.Sprint("u", i)}})
		require.NoError(t, err)
	}
	for _, q := range []scim.Query{
		{StartIndex: 2, Count: math.MaxInt},
		{StartIndex: math.MaxInt, Count: 10},
		{StartIndex: math.MaxInt, Count: math.MaxInt},
	} {
		p, err := s.Query(ctx, "User", q)
		require.NoError(t, err)
		assert.Equal(t, 3, p.TotalResults)
		assert.Len(t, p.Resources, max(0, min(3-(q.StartIndex-1), 3)), "%+v", q)
	}
	require.NoError(t, s.Delete(ctx, "User", "0", "")) // a dead entry: the other path
	p, err := s.Query(ctx, "User", scim.Query{StartIndex: 2, Count: math.MaxInt})
	require.NoError(t, err)
	assert.Len(t, p.Resources, 1)
}
