package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/scimkit/scim"
)

var uniquenessChecks = []check{
	{group: "Uniqueness", name: "UserNameCaseInsensitive", run: checkUserNameCaseInsensitive},
	{group: "Uniqueness", name: "ReplaceClash", run: checkReplaceClash},
	{group: "Uniqueness", name: "KeysFreedByDeleteAndReplace", run: checkKeysFreed},
	{group: "Uniqueness", name: "EveryKeyPerType", run: checkEveryKeyPerType},
	{group: "Uniqueness", name: "OnlyTheGivenKeys", run: checkOnlyGivenKeys},
	{group: "Uniqueness", name: "KeysCompareExactly", run: checkKeysCompareExactly},
	{group: "Uniqueness", name: "ReplaceWithoutAKeyFreesIt", run: checkDroppedKeyFreed},
}

// expectClash creates res and fails unless the store refuses it with
// ErrUniqueness and stores nothing.
func expectClash(t testing.TB, s scim.Store, res *scim.Resource, why string) {
	t.Helper()
	ctx := ctxA()
	got, err := s.Create(ctx, res.Clone())
	if !errors.Is(err, scim.ErrUniqueness) {
		t.Errorf("Create must fail with scim.ErrUniqueness when %s (unique keys %v); the store returned %s and stored %s",
			why, res.Unique, errText(err), describeResource(got))
		return
	}
	if r, err := s.Get(ctx, res.Type, res.ID); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("a Create refused with scim.ErrUniqueness must store nothing; Get %s %q returns %s, error %s", res.Type, res.ID, describeResource(r), errText(err))
	}
}

func checkUserNameCaseInsensitive(t testing.TB, s scim.Store) {
	ctx := ctxA()
	for i, pair := range [][2]string{
		{"BJensen", "bjensen"},
		{"ZOË.Ångström", "zoë.åNGSTRÖM"},
		{"Дмитрий", "дмитрий"},
		// Letters whose cases do not round-trip: the handler folds each
		// rune to the lower case of its upper case (scim.FoldCase), so
		// dotless ı, long ſ, final ς and the Kelvin sign join ASCII i, s,
		// σ and k. SQL's lower() and Go's strings.ToLower do not.
		{"ıdris.ſmith", "IDRIS.SMITH"},
		{"ΟΔΟΣ.οδος", "οδοσ.ΟΔΟΣ"},
		{"\u212Aelvin", "kelvin"},
		{"İlker", "ilker"},
	} {
		first := simpleUser("Uniq-"+string(rune('a'+i))+"1", pair[0])
		mustCreate(t, s, ctx, first)
		expectClash(t, s, simpleUser("Uniq-"+string(rune('a'+i))+"2", pair[1]),
			"another User holds the same userName in another case ("+pair[0]+" and "+pair[1]+"; userName is unique case-insensitively, and the handler hands both the same folded key)")
		page := queryAll(t, s, ctx, userType, &scim.CompareExpr{Path: pUserName, Op: scim.OpEqual, Value: pair[1]})
		if got := ids(page.Resources); len(got) != 1 || got[0] != first.ID {
			t.Errorf("after the duplicate was refused, userName eq %q must find the first User only (%q); the store returned %s", pair[1], first.ID, listIDs(got))
		}
	}
}

func checkReplaceClash(t testing.TB, s scim.Store) {
	ctx := ctxA()
	a := simpleUser("Clash-A", "alice")
	b := simpleUser("Clash-B", "bob")
	mustCreate(t, s, ctx, a)
	vb := mustCreate(t, s, ctx, b).Meta.Version
	repl := withAttrs(b, map[string]any{"userName": "ALICE", "title": "renamed"}, t0.Add(time.Minute))
	got, err := s.Replace(ctx, repl.Clone(), vb)
	if !errors.Is(err, scim.ErrUniqueness) {
		t.Errorf("Replace must fail with scim.ErrUniqueness when another User holds the new userName (case-insensitively: ALICE and alice); the store returned %s and %s", errText(err), describeResource(got))
	}
	after := mustGet(t, s, ctx, userType, b.ID, "it exists")
	if after.Attributes["userName"] != "bob" || after.Meta.Version != vb {
		t.Errorf("a Replace refused with scim.ErrUniqueness must change nothing; the store now holds userName %v at version %q", showValue(after.Attributes["userName"]), after.Meta.Version)
	}
	// A resource may keep its own key, in another case.
	va := mustGet(t, s, ctx, userType, a.ID, "it exists").Meta.Version
	mustReplace(t, s, ctx, withAttrs(a, map[string]any{"userName": "Alice"}, t0.Add(time.Minute)), va,
		"a resource's own unique key is no clash, even spelled in another case")
}

func checkKeysFreed(t testing.TB, s scim.Store) {
	ctx := ctxA()
	a := simpleUser("Free-A", "alice")
	b := simpleUser("Free-B", "bob")
	mustCreate(t, s, ctx, a)
	vb := mustCreate(t, s, ctx, b).Meta.Version
	if err := s.Delete(ctx, userType, a.ID, ""); err != nil {
		t.Fatalf("Delete of an existing User must succeed; the store returned %s", errText(err))
	}
	if _, err := s.Create(ctx, simpleUser("Free-A2", "Alice")); err != nil {
		t.Errorf("a deleted User's userName must be free again: Create of another User named Alice must succeed; the store returned %s", errText(err))
	}
	mustReplace(t, s, ctx, withAttrs(b, map[string]any{"userName": "robert"}, t0.Add(time.Minute)), vb, "the new userName is free")
	if _, err := s.Create(ctx, simpleUser("Free-B2", "BOB")); err != nil {
		t.Errorf("a userName a Replace gave up must be free again: Create of another User named BOB must succeed; the store returned %s", errText(err))
	}
	expectClash(t, s, simpleUser("Free-B3", "Robert"), "another User took the userName by Replace (robert)")
}

func checkEveryKeyPerType(t testing.TB, s scim.Store) {
	ctx := ctxA()
	// Group displayNames are unique when the host asks (WithUniqueGroupDisplayName).
	g1 := newGroup("Key-G1", "Admins")
	g1.Unique = []scim.UniqueKey{{Attribute: "displayName", Value: "admins"}}
	mustCreate(t, s, ctx, g1)
	g2 := newGroup("Key-G2", "ADMINS")
	g2.Unique = []scim.UniqueKey{{Attribute: "displayName", Value: "admins"}}
	expectClash(t, s, g2, "another Group holds the same unique key")

	// A clash on any one of several keys is a clash; an extension attribute
	// may be unique.
	d1 := device("Key-D1")
	d1.Unique = []scim.UniqueKey{{Attribute: "serialNumber", Value: "SN-1"}, {Attribute: extURN + ":code", Value: "C-1"}}
	mustCreate(t, s, ctx, d1)
	d2 := device("Key-D2")
	d2.Unique = []scim.UniqueKey{{Attribute: "serialNumber", Value: "SN-2"}, {Attribute: extURN + ":code", Value: "C-1"}}
	expectClash(t, s, d2, "another Device holds the second of its unique keys")
	// Keys are per attribute: the same value under another attribute is no clash.
	d3 := device("Key-D3")
	d3.Unique = []scim.UniqueKey{{Attribute: "serialNumber", Value: "C-1"}}
	if _, err := s.Create(ctx, d3.Clone()); err != nil {
		t.Errorf("unique keys are per attribute: a Device whose serialNumber key equals another's code key must be stored; the store returned %s", errText(err))
	}
	// Keys are per type: the same key on a User and a Group is no clash.
	u := simpleUser("Key-U1", "admins")
	u.Unique = append(u.Unique, scim.UniqueKey{Attribute: "displayName", Value: "admins"})
	if _, err := s.Create(ctx, u.Clone()); err != nil {
		t.Errorf("unique keys hold within a resource type: a User with the same key as a Group (displayName admins) must be stored; the store returned %s", errText(err))
	}
	// Case-exact keys come unfolded: they differ.
	d4 := device("Key-D4")
	d4.Unique = []scim.UniqueKey{{Attribute: "serialNumber", Value: "sn-1"}}
	if _, err := s.Create(ctx, d4.Clone()); err != nil {
		t.Errorf("unique key values are compared as the handler hands them (it folds the case of keys that are not case-exact): SN-1 and sn-1 differ; the store returned %s", errText(err))
	}
}

func checkOnlyGivenKeys(t testing.TB, s scim.Store) {
	ctx := ctxA()
	// The handler decides what is unique; without keys, equal values are fine.
	for _, r := range []*scim.Resource{
		newGroup("Only-G1", "Same Name"),
		newGroup("Only-G2", "Same Name"),
		newGroup("Only-G3", "same name"),
	} {
		if _, err := s.Create(ctx, r.Clone()); err != nil {
			t.Errorf("a store enforces the unique keys it is handed and no others: Groups with the same displayName and no keys must all be stored; the store returned %s for %q", errText(err), r.ID)
		}
	}
	u1 := simpleUser("Only-U1", "only.one")
	u2 := simpleUser("Only-U2", "only.two")
	u1.Attributes["externalId"], u2.Attributes["externalId"] = "same", "same"
	u1.Attributes["displayName"], u2.Attributes["displayName"] = "Same", "Same"
	mustCreate(t, s, ctx, u1)
	if _, err := s.Create(ctx, u2.Clone()); err != nil {
		t.Errorf("Users whose userNames differ may share externalId and displayName (neither is unique); the store returned %s", errText(err))
	}
}

func checkKeysCompareExactly(t testing.TB, s scim.Store) {
	ctx := ctxA()
	// Key values are compared exactly as handed over: white space and
	// Unicode composition count (no trimming, padding or normalising).
	for i, name := range []string{"trail", "trail ", " trail", "trail\t", "e\u0301cole", "\u00e9cole"} {
		if _, err := s.Create(ctx, simpleUser(fmt.Sprintf("Exact-%d", i), name)); err != nil {
			t.Errorf("unique keys are compared exactly as the handler hands them: userName %q differs from the ones before it (%s); the store returned %s", name, "white space and Unicode composition count", errText(err))
		}
	}
	expectClash(t, s, simpleUser("Exact-again", "TRAIL "), "another User holds the same userName, trailing space included")
}

func checkDroppedKeyFreed(t testing.TB, s scim.Store) {
	ctx := ctxA()
	d := device("Drop-1")
	d.Unique = []scim.UniqueKey{{Attribute: "serialNumber", Value: "SN-drop"}, {Attribute: extURN + ":code", Value: "C-drop"}}
	v := mustCreate(t, s, ctx, d).Meta.Version
	// The replacement keeps its serial number but has no code any more.
	r := d.Clone()
	r.Unique = []scim.UniqueKey{{Attribute: "serialNumber", Value: "SN-drop"}}
	r.Meta.LastModified = t0.Add(time.Minute)
	mustReplace(t, s, ctx, r, v, "it is the current version")
	other := device("Drop-2")
	other.Unique = []scim.UniqueKey{{Attribute: extURN + ":code", Value: "C-drop"}}
	if _, err := s.Create(ctx, other.Clone()); err != nil {
		t.Errorf("a store enforces the keys a resource has now: after a Replace whose keys no longer list %s:code, another Device may take its old value; the store returned %s", extURN, errText(err))
	}
	clash := device("Drop-3")
	clash.Unique = []scim.UniqueKey{{Attribute: "serialNumber", Value: "SN-drop"}}
	expectClash(t, s, clash, "another Device kept that serialNumber key through a Replace")
}
