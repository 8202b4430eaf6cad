package storetest

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimkit/scim"
)

var crudChecks = []check{
	{group: "CRUD", name: "RoundTripEveryType", run: checkRoundTrip},
	{group: "CRUD", name: "ReturnedValuesAreCopies", run: checkCopies},
	{group: "CRUD", name: "NoAliasingAnywhere", run: checkNoAliasing},
	{group: "CRUD", name: "VersionAndTimes", run: checkVersionAndTimes},
	{group: "CRUD", name: "IdenticalReplaceNewVersion", run: checkIdenticalReplace},
	{group: "CRUD", name: "ReplaceOverwrites", run: checkReplaceOverwrites},
	{group: "CRUD", name: "ReplaceVersionMismatch", run: checkReplaceVersionMismatch},
	{group: "CRUD", name: "DeleteVersionMismatch", run: checkDeleteVersionMismatch},
	{group: "CRUD", name: "Delete", run: checkDelete},
	{group: "CRUD", name: "NotFound", run: checkNotFound},
	{group: "CRUD", name: "TypesAreSeparate", run: checkTypesAreSeparate},
}

// everyTypeUser is a User with a value of every attribute type: strings
// with Unicode and characters that need escaping in SQL and JSON, booleans,
// integers (beyond 2^53), decimals, dateTimes in several zones, binary,
// references, complex and multi-valued attributes, and extension
// attributes.
func everyTypeUser(id string) *scim.Resource {
	return newUser(id, "Zoë.Ångström+😀@例え.jp", t0, map[string]any{
		"externalId":        "Ext-ÆØÅ-1",
		"displayName":       "Zoë \"Zee\" Ångström",
		"nickName":          "",
		"title":             "Chief 'Quote' Officer \\ 100% _under_ \n\ttabbed",
		"active":            true,
		"profileUrl":        "https://example.com/~zo%C3%AB?q=1&r=2",
		"preferredLanguage": "de-CH",
		"timezone":          "Europe/Zurich",
		"name": map[string]any{
			"givenName":       "Zoë",
			"familyName":      "Ångström",
			"honorificSuffix": "Ph.D.",
		},
		"emails": []any{
			map[string]any{"value": "zoe@example.com", "type": "work", "primary": true},
			map[string]any{"value": "Zoë@Home.Example", "type": "home", "primary": false},
		},
		"phoneNumbers": []any{map[string]any{"value": "+41 44 668 18 00", "type": "work"}},
		"x509Certificates": []any{
			map[string]any{"value": "MIIDQTCCAimgAwIBAgITBmyfz5m/jAo54vB4ikPmljZbyjANBgkqhkiG9w0BAQsF"},
		},
		"photos": []any{map[string]any{"value": "https://photos.example.com/Zoe.JPG", "type": "photo"}},
		"roles":  []any{map[string]any{"value": "admin", "primary": true}, map[string]any{"value": "Ünïcode-Röle"}},
		entURN: map[string]any{
			"employeeNumber": "00042",
			"department":     "R&D",
			"manager":        map[string]any{"value": "Mgr-7", "$ref": "https://example.com/Users/Mgr-7"},
		},
		extURN: map[string]any{
			"level":    int64(9007199254740993), // 2^53+1: lost by a round trip through float64
			"score":    3.25,
			"hiredAt":  "2023-11-05T01:30:00.5-04:00",
			"vip":      false,
			"badge":    "AAEC/w==",
			"homepage": "HTTPS://Example.COM/Zoë",
			"tags":     []any{"alpha", "Beta", "ε", ""},
			"code":     "X-aB",
			"history":  []any{int64(0), int64(-7), int64(math.MaxInt64), int64(math.MinInt64)},
			"ratios":   []any{0.5, -1e-9, 1e300, -2.75},
			"windows": []any{
				"2024-01-01T00:00:00Z",
				"2024-06-30T23:59:59.999999999+14:00",
				"1969-07-20T20:17:40-00:00",
			},
			"nested": map[string]any{"deep": map[string]any{"list": []any{map[string]any{"ok": true}}}},
		},
	})
}

func checkRoundTrip(t testing.TB, s scim.Store) {
	ctx := ctxA()
	in := everyTypeUser("RoundTrip-1")
	created := mustCreate(t, s, ctx, in)
	expectSame(t, "Create", in, created)
	got := mustGet(t, s, ctx, userType, in.ID, "it was just created")
	expectSame(t, "Get", in, got)
	if got.Meta.Version != created.Meta.Version {
		t.Errorf("Get must return the version Create assigned (%q); the store returned %q", created.Meta.Version, got.Meta.Version)
	}
	page := queryAll(t, s, ctx, userType, &scim.CompareExpr{Path: pID, Op: scim.OpEqual, Value: in.ID})
	if len(page.Resources) != 1 {
		t.Fatalf("Query id eq %q must return the one resource; the store returned %d: %s", in.ID, len(page.Resources), listIDs(ids(page.Resources)))
	}
	expectSame(t, "Query", in, page.Resources[0])

	// A Group and a resource of a host-defined type keep theirs too.
	mustCreate(t, s, ctx, newGroup("Other-Group", "Other"))
	g := newGroup("RoundTrip-G", "Ünïcode Group ✓", in.ID)
	g.Attributes["externalId"] = "g-Ext"
	g.Attributes["members"] = append(g.Attributes["members"].([]any), map[string]any{"value": "Other-Group", "type": "Group", "display": "Other", "$ref": "https://example.com/Groups/Other-Group"})
	expectSame(t, "Create", g, mustCreate(t, s, ctx, g))
	expectSame(t, "Get", g, mustGet(t, s, ctx, groupType, g.ID, "it was just created"))
	d := device("RoundTrip-D")
	expectSame(t, "Create", d, mustCreate(t, s, ctx, d))
	expectSame(t, "Get", d, mustGet(t, s, ctx, deviceType, d.ID, "it was just created"))
}

// device is a resource of a type a host defines.
func device(id string) *scim.Resource {
	return &scim.Resource{
		Type: deviceType,
		ID:   id,
		Attributes: map[string]any{
			"serialNumber": "SN-" + id,
			"ports":        int64(4),
			"load":         0.75,
			"online":       true,
			"seenAt":       "2024-02-29T12:00:00+01:00",
			"owners":       []any{map[string]any{"value": "u1", "primary": true}},
		},
		Meta: scim.Meta{Created: t0, LastModified: t0.Add(time.Second)},
	}
}

// expectSame fails when a resource a store returned from op differs from
// the one the kit stored, but for the version the store assigns.
func expectSame(t testing.TB, op string, want, got *scim.Resource) {
	t.Helper()
	if got == nil {
		t.Errorf("%s must return %s %q; the store returned nil", op, want.Type, want.ID)
		return
	}
	if got.Type != want.Type || got.ID != want.ID {
		t.Errorf("%s must return the resource's Type and ID as stored (%s %q); the store returned %s %q", op, want.Type, want.ID, got.Type, got.ID)
	}
	if diffs := diffAttributes(want.Attributes, got.Attributes); len(diffs) > 0 {
		t.Errorf("%s of %s %q must return every attribute as stored, with its value and JSON kind; it differs:\n\t%s",
			op, want.Type, want.ID, strings.Join(diffs, "\n\t"))
	}
	if !got.Meta.Created.Equal(want.Meta.Created) {
		t.Errorf("%s of %s %q must return Meta.Created as the handler set it (%s); the store returned %s", op, want.Type, want.ID, want.Meta.Created.Format(time.RFC3339Nano), got.Meta.Created.Format(time.RFC3339Nano))
	}
	if !got.Meta.LastModified.Equal(want.Meta.LastModified) {
		t.Errorf("%s of %s %q must return Meta.LastModified as the handler set it (%s); the store returned %s", op, want.Type, want.ID, want.Meta.LastModified.Format(time.RFC3339Nano), got.Meta.LastModified.Format(time.RFC3339Nano))
	}
	if got.Meta.Version == "" {
		t.Errorf("%s of %s %q must return its Meta.Version; the store returned an empty one", op, want.Type, want.ID)
	}
}

// scribble changes r in every place a store could share with its own data:
// top-level, nested and extension attributes, list elements, meta and
// unique keys.
func scribble(r *scim.Resource) {
	if r == nil {
		return
	}
	r.Attributes["userName"] = "scribbled"
	r.Attributes["added"] = "scribbled"
	if m, ok := r.Attributes["name"].(map[string]any); ok {
		m["givenName"] = "scribbled"
	}
	if l, ok := r.Attributes["emails"].([]any); ok && len(l) > 0 {
		if m, ok := l[0].(map[string]any); ok {
			m["value"] = "scribbled"
		}
		l[len(l)-1] = map[string]any{"value": "scribbled"}
	}
	if m, ok := r.Attributes[extURN].(map[string]any); ok {
		m["level"] = int64(-1)
		if tags, ok := m["tags"].([]any); ok && len(tags) > 0 {
			tags[0] = "scribbled"
		}
	}
	r.Meta.Version = "scribbled"
	r.Meta.LastModified = time.Time{}
	for i := range r.Unique {
		r.Unique[i].Value = "scribbled"
	}
}

func checkCopies(t testing.TB, s scim.Store) {
	ctx := ctxA()
	orig := everyTypeUser("Copies-1")
	// want is what the store returned before any caller changed anything:
	// whether that is what it was given is RoundTripEveryType's business.
	var want *scim.Resource
	snapshot := func() {
		t.Helper()
		want = mustGet(t, s, ctx, userType, orig.ID, "it was created").Clone()
	}
	stillStored := func(after string) {
		t.Helper()
		got := mustGet(t, s, ctx, userType, orig.ID, "it was created")
		if diffs := diffAttributes(want.Attributes, got.Attributes); len(diffs) > 0 {
			t.Fatalf("a store must keep its data apart from its callers (the Store contract: it must not retain or modify the *Resource values passed in or handed out); after %s, Get returns changed attributes:\n\t%s",
				after, strings.Join(diffs, "\n\t"))
		}
		if got.Meta.Version != want.Meta.Version || !got.Meta.Created.Equal(want.Meta.Created) || !got.Meta.LastModified.Equal(want.Meta.LastModified) {
			t.Fatalf("a store must keep its data apart from its callers; after %s, Get returns Meta %+v, not %+v", after, got.Meta, want.Meta)
		}
	}

	in := orig.Clone()
	created, err := s.Create(ctx, in)
	if err != nil || created == nil {
		t.Fatalf("Create of a valid new User must succeed; the store returned %s", errText(err))
	}
	snapshot()
	scribble(in)
	stillStored("the caller changed the resource it passed to Create")
	if _, err := s.Create(ctx, newUser("Copies-2", orig.Attributes["userName"].(string), t0, nil)); !errors.Is(err, scim.ErrUniqueness) {
		t.Errorf("after the caller changed the Unique keys of the resource it passed to Create, the store must still hold the keys it was given: a second User with the same userName must fail with scim.ErrUniqueness; the store returned %s", errText(err))
	}
	scribble(created)
	stillStored("the caller changed the resource Create returned")

	got := mustGet(t, s, ctx, userType, orig.ID, "it was created")
	scribble(got)
	stillStored("the caller changed the resource Get returned")

	page := queryAll(t, s, ctx, userType, nil)
	for _, r := range page.Resources {
		scribble(r)
	}
	stillStored("the caller changed the resources Query returned")

	cur := mustGet(t, s, ctx, userType, orig.ID, "it was created")
	repl := orig.Clone()
	repl.Meta.LastModified = t0.Add(time.Hour)
	replIn := repl.Clone()
	replaced, err := s.Replace(ctx, replIn, cur.Meta.Version)
	if err != nil || replaced == nil {
		t.Fatalf("Replace at the current version must succeed; the store returned %s", errText(err))
	}
	snapshot()
	scribble(replIn)
	stillStored("the caller changed the resource it passed to Replace")
	scribble(replaced)
	stillStored("the caller changed the resource Replace returned")
}

func checkVersionAndTimes(t testing.TB, s scim.Store) {
	ctx := ctxA()
	u := simpleUser("Version-1", "version.one")
	c := mustCreate(t, s, ctx, u)
	v1 := c.Meta.Version

	// A replacement carries another Created: the store keeps its own.
	r1 := withAttrs(u, map[string]any{"userName": "version.one", "title": "first"}, t0.Add(time.Minute))
	r1.Meta.Created = t0.Add(99 * time.Hour)
	got1 := mustReplace(t, s, ctx, r1, v1, "v1 is the current version")
	v2 := got1.Meta.Version
	if v2 == "" || v2 == v1 {
		t.Errorf("Replace must assign a new Meta.Version (the version changes on every write); the store returned %q after %q", v2, v1)
	}
	if !got1.Meta.Created.Equal(t0) {
		t.Errorf("Replace must keep the stored Meta.Created (%s); the store returned %s, the replacement's", t0.Format(time.RFC3339Nano), got1.Meta.Created.Format(time.RFC3339Nano))
	}
	if !got1.Meta.LastModified.Equal(r1.Meta.LastModified) {
		t.Errorf("Replace must store the replacement's Meta.LastModified (%s); the store returned %s", r1.Meta.LastModified.Format(time.RFC3339Nano), got1.Meta.LastModified.Format(time.RFC3339Nano))
	}

	// Writing the same attributes again is still a write.
	r2 := withAttrs(u, map[string]any{"userName": "version.one", "title": "first"}, t0.Add(2*time.Minute))
	got2 := mustReplace(t, s, ctx, r2, v2, "v2 is the current version")
	v3 := got2.Meta.Version
	if v3 == "" || v3 == v2 || v3 == v1 {
		t.Errorf("every Replace must assign a Meta.Version the resource has not had before, even when the attributes are unchanged; the store went %q → %q → %q", v1, v2, v3)
	}
	g := mustGet(t, s, ctx, userType, u.ID, "it was created")
	if g.Meta.Version != v3 {
		t.Errorf("Get must return the version of the last write (%q); the store returned %q", v3, g.Meta.Version)
	}
	if !g.Meta.Created.Equal(t0) || !g.Meta.LastModified.Equal(r2.Meta.LastModified) {
		t.Errorf("Get must return the stored times (created %s, lastModified %s); the store returned %s and %s",
			t0.Format(time.RFC3339Nano), r2.Meta.LastModified.Format(time.RFC3339Nano),
			g.Meta.Created.Format(time.RFC3339Nano), g.Meta.LastModified.Format(time.RFC3339Nano))
	}

	// Versions of different resources are the store's business, but two
	// resources created alike must each have one.
	other := mustCreate(t, s, ctx, simpleUser("Version-2", "version.two"))
	if other.Meta.Version == "" {
		t.Errorf("Create must assign a Meta.Version to every resource")
	}
}

// checkIdenticalReplace holds a store to a new version on a Replace that
// carries exactly what is stored: the same attributes, the same Created and
// LastModified, the same unique keys. The handler skips unchanged PUTs and
// PATCHes itself; when it does call Replace it means to write (a before
// hook may have undone the change, a password is set again, the clock has
// not moved), and every write assigns a new version, so that a client
// holding the old one cannot write over the new state unseen.
func checkIdenticalReplace(t testing.TB, s scim.Store) {
	ctx := ctxA()
	u := everyTypeUser("Same-U")
	for _, in := range []*scim.Resource{u, newGroup("Same-G", "Same Group", u.ID), device("Same-D")} {
		what := in.Type + " " + strconv.Quote(in.ID)
		v1 := mustCreate(t, s, ctx, in).Meta.Version
		got := mustReplace(t, s, ctx, in, v1, "v1 is the current version")
		v2 := got.Meta.Version
		if v2 == "" || v2 == v1 {
			t.Errorf("Replace must assign a new Meta.Version on every write, also when the replacement carries exactly the stored attributes and Meta.LastModified: the version changes on every write; Replace of %s at %q returned version %q",
				what, v1, v2)
		}
		expectSame(t, "Replace with the stored attributes and LastModified", in, got)
		after := mustGet(t, s, ctx, in.Type, in.ID, "it was replaced")
		if after.Meta.Version != v2 {
			t.Errorf("Get must return the version the last Replace returned (%q): a Replace with unchanged attributes and LastModified is still a write the store keeps; Get of %s returned version %q (Create had assigned %q)",
				v2, what, after.Meta.Version, v1)
		}
		expectSame(t, "Get after a Replace with the stored attributes and LastModified", in, after)

		// The version before the identical write is stale now.
		if r, err := s.Replace(ctx, in.Clone(), v1); !errors.Is(err, scim.ErrVersionMismatch) {
			t.Errorf("a Replace of %s expecting %q, its version before a Replace with unchanged attributes and LastModified (which returned %q), must fail with scim.ErrVersionMismatch (compare-and-swap): a client that read the old version must not write over the new one; the store returned %s and %s",
				what, v1, v2, errText(err), describeResource(r))
		}
		if err := s.Delete(ctx, in.Type, in.ID, v1); !errors.Is(err, scim.ErrVersionMismatch) {
			t.Fatalf("a Delete of %s expecting %q, its version before a Replace with unchanged attributes and LastModified (which returned %q), must fail with scim.ErrVersionMismatch (compare-and-swap); the store returned %s",
				what, v1, v2, errText(err))
		}
		if g := mustGet(t, s, ctx, in.Type, in.ID, "the writes at a stale version must have failed"); g.Meta.Version != after.Meta.Version {
			t.Errorf("a Replace or Delete at a stale version must change nothing; %s went from version %q to %q", what, after.Meta.Version, g.Meta.Version)
		}

		// Unconditionally, and once more: still a version of its own.
		v3 := mustReplace(t, s, ctx, in, "", `"" matches any version`).Meta.Version
		if v3 == "" || v3 == v2 || v3 == v1 {
			t.Errorf("every Replace must assign a Meta.Version the resource has not had before, also an unconditional one (expectedVersion \"\") with unchanged attributes and LastModified; %s went %q → %q → %q",
				what, v1, v2, v3)
		}
		if g := mustGet(t, s, ctx, in.Type, in.ID, "it was replaced"); g.Meta.Version != v3 {
			t.Errorf("Get must return the version the last Replace returned (%q); Get of %s returned %q", v3, what, g.Meta.Version)
		}
		if err := s.Delete(ctx, in.Type, in.ID, v2); !errors.Is(err, scim.ErrVersionMismatch) {
			t.Fatalf("a Delete of %s expecting %q, the version before the last identical Replace (now %q), must fail with scim.ErrVersionMismatch; the store returned %s",
				what, v2, v3, errText(err))
		}
	}
}

func checkReplaceOverwrites(t testing.TB, s scim.Store) {
	ctx := ctxA()
	u := everyTypeUser("Overwrite-1")
	c := mustCreate(t, s, ctx, u)
	attrs := map[string]any{
		"userName": u.Attributes["userName"],
		"title":    "only this",
		"name":     map[string]any{"familyName": "Ångström"},
	}
	want := withAttrs(u, attrs, t0.Add(time.Hour))
	got := mustReplace(t, s, ctx, want, c.Meta.Version, "it is the current version")
	expectSame(t, "Replace", want, got)
	expectSame(t, "Get after Replace", want, mustGet(t, s, ctx, userType, u.ID, "it was replaced"))
	if t.Failed() {
		t.Errorf("Replace overwrites the resource's attributes: attributes the replacement leaves out (here emails, name.givenName and both extensions) must be gone, not merged")
	}
}

func checkReplaceVersionMismatch(t testing.TB, s scim.Store) {
	ctx := ctxA()
	u := simpleUser("CAS-1", "cas.one")
	v1 := mustCreate(t, s, ctx, u).Meta.Version
	first := withAttrs(u, map[string]any{"userName": "cas.one", "title": "first writer"}, t0.Add(time.Minute))
	v2 := mustReplace(t, s, ctx, first, v1, "v1 is current").Meta.Version

	second := withAttrs(u, map[string]any{"userName": "cas.one", "title": "second writer"}, t0.Add(2*time.Minute))
	got, err := s.Replace(ctx, second.Clone(), v1)
	if !errors.Is(err, scim.ErrVersionMismatch) {
		t.Errorf("Replace with a stale expectedVersion (%q; the stored one is %q) must fail with scim.ErrVersionMismatch (compare-and-swap); the store returned %s and %s",
			v1, v2, errText(err), describeResource(got))
	}
	after := mustGet(t, s, ctx, userType, u.ID, "it exists")
	if after.Attributes["title"] != "first writer" || after.Meta.Version != v2 {
		t.Errorf("a Replace that fails the compare-and-swap must change nothing; the store now holds title %v at version %q (want %q at %q)",
			showValue(after.Attributes["title"]), after.Meta.Version, "first writer", v2)
	}
	if _, err := s.Replace(ctx, second.Clone(), "no-such-version"); !errors.Is(err, scim.ErrVersionMismatch) {
		t.Errorf("Replace with an expectedVersion the resource never had must fail with scim.ErrVersionMismatch; the store returned %s", errText(err))
	}
	v3 := mustReplace(t, s, ctx, second, v2, "v2 is the current version").Meta.Version
	third := withAttrs(u, map[string]any{"userName": "cas.one", "title": "unconditional"}, t0.Add(3*time.Minute))
	got = mustReplace(t, s, ctx, third, "", `"" matches any version`)
	if got.Meta.Version == v3 {
		t.Errorf("Replace with expectedVersion \"\" must write and assign a new version; the store kept %q", v3)
	}
	if g := mustGet(t, s, ctx, userType, u.ID, "it exists"); g.Attributes["title"] != "unconditional" {
		t.Errorf("Replace with expectedVersion \"\" matches any version and must write; Get returns title %v", showValue(g.Attributes["title"]))
	}
}

func checkDeleteVersionMismatch(t testing.TB, s scim.Store) {
	ctx := ctxA()
	u := simpleUser("DelCAS-1", "delcas.one")
	v1 := mustCreate(t, s, ctx, u).Meta.Version
	v2 := mustReplace(t, s, ctx, withAttrs(u, map[string]any{"userName": "delcas.one"}, t0.Add(time.Minute)), v1, "v1 is current").Meta.Version
	if err := s.Delete(ctx, userType, u.ID, v1); !errors.Is(err, scim.ErrVersionMismatch) {
		t.Errorf("Delete with a stale expectedVersion (%q; the stored one is %q) must fail with scim.ErrVersionMismatch (compare-and-swap); the store returned %s", v1, v2, errText(err))
	}
	if g, err := s.Get(ctx, userType, u.ID); err != nil || g == nil || g.Meta.Version != v2 {
		t.Fatalf("a Delete that fails the compare-and-swap must leave the resource as it was (version %q); Get returns %s, error %s", v2, describeResource(g), errText(err))
	}
	if err := s.Delete(ctx, userType, u.ID, v2); err != nil {
		t.Errorf("Delete at the current version (%q) must succeed; the store returned %s", v2, errText(err))
	}
	expectNotFound(t, s, ctx, userType, u.ID, "it was deleted")

	w := simpleUser("DelCAS-2", "delcas.two")
	mustCreate(t, s, ctx, w)
	if err := s.Delete(ctx, userType, w.ID, ""); err != nil {
		t.Errorf("Delete with expectedVersion \"\" matches any version and must succeed; the store returned %s", errText(err))
	}
	expectNotFound(t, s, ctx, userType, w.ID, "it was deleted")
}

func checkDelete(t testing.TB, s scim.Store) {
	ctx := ctxA()
	keep := simpleUser("Del-Keep", "del.keep")
	gone := simpleUser("Del-Gone", "del.gone")
	mustCreate(t, s, ctx, keep)
	c := mustCreate(t, s, ctx, gone)
	if err := s.Delete(ctx, userType, gone.ID, c.Meta.Version); err != nil {
		t.Fatalf("Delete of an existing User at its version must succeed; the store returned %s", errText(err))
	}
	expectNotFound(t, s, ctx, userType, gone.ID, "it was deleted")
	page := queryAll(t, s, ctx, userType, nil)
	if got := ids(page.Resources); len(got) != 1 || got[0] != keep.ID || page.TotalResults != 1 {
		t.Errorf("after a Delete, Query must no longer return the resource: want only %q (totalResults 1); the store returned %s (totalResults %d)", keep.ID, listIDs(got), page.TotalResults)
	}
	if err := s.Delete(ctx, userType, gone.ID, ""); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("Delete of a resource already deleted must fail with scim.ErrNotFound; the store returned %s", errText(err))
	}
	if r, err := s.Replace(ctx, gone.Clone(), ""); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("Replace of a deleted resource must fail with scim.ErrNotFound, not bring it back; the store returned %s and %s", errText(err), describeResource(r))
	}
	expectNotFound(t, s, ctx, userType, gone.ID, "it was deleted and Replace must not recreate it")
	mustGet(t, s, ctx, userType, keep.ID, "deleting another User must not touch it")
}

func checkNotFound(t testing.TB, s scim.Store) {
	ctx := ctxA()
	expectNotFound(t, s, ctx, userType, "no-such-id", "the store is empty")
	mustCreate(t, s, ctx, simpleUser("NF-1", "nf.one"))
	expectNotFound(t, s, ctx, userType, "no-such-id", "no resource has that id")
	if r, err := s.Replace(ctx, simpleUser("no-such-id", "nf.two"), ""); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("Replace of a resource that does not exist must fail with scim.ErrNotFound (it is no create); the store returned %s and %s", errText(err), describeResource(r))
	}
	expectNotFound(t, s, ctx, userType, "no-such-id", "Replace must not have created it")
	if err := s.Delete(ctx, userType, "no-such-id", ""); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("Delete of a resource that does not exist must fail with scim.ErrNotFound; the store returned %s", errText(err))
	}
	if err := s.Delete(ctx, userType, "no-such-id", "1"); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("Delete of a resource that does not exist must fail with scim.ErrNotFound whatever the expected version; the store returned %s", errText(err))
	}
	page := queryAll(t, s, ctx, groupType, nil)
	if page.TotalResults != 0 || len(page.Resources) != 0 {
		t.Errorf("Query of a type with no resources must return none and totalResults 0; the store returned %d, totalResults %d", len(page.Resources), page.TotalResults)
	}
}

func checkTypesAreSeparate(t testing.TB, s scim.Store) {
	ctx := ctxA()
	u := simpleUser("Types-U", "types.user")
	g := newGroup("Types-G", "Types Group", u.ID)
	d := device("Types-D")
	mustCreate(t, s, ctx, u)
	mustCreate(t, s, ctx, g)
	mustCreate(t, s, ctx, d)
	expectNotFound(t, s, ctx, groupType, u.ID, "a User's id names no Group")
	expectNotFound(t, s, ctx, userType, g.ID, "a Group's id names no User")
	expectNotFound(t, s, ctx, deviceType, u.ID, "a User's id names no Device")
	for typ, want := range map[string]string{userType: u.ID, groupType: g.ID, deviceType: d.ID} {
		page := queryAll(t, s, ctx, typ, nil)
		if got := ids(page.Resources); len(got) != 1 || got[0] != want || page.TotalResults != 1 {
			t.Errorf("Query %s must return the resources of that type only (%q); the store returned %s (totalResults %d)", typ, want, listIDs(got), page.TotalResults)
		}
	}
	if err := s.Delete(ctx, groupType, u.ID, ""); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("Delete of a Group with a User's id must fail with scim.ErrNotFound; the store returned %s", errText(err))
	}
	mustGet(t, s, ctx, userType, u.ID, "a Delete of another type must not touch it")
	wrong := u.Clone()
	wrong.Type = deviceType
	if r, err := s.Replace(ctx, wrong, ""); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("Replace of a Device with a User's id must fail with scim.ErrNotFound; the store returned %s and %s", errText(err), describeResource(r))
	}
}
