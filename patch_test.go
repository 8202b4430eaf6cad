package scim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

const (
	coreUserURN  = "urn:ietf:params:scim:schemas:core:2.0:User"
	entUserURN   = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	coreGroupURN = "urn:ietf:params:scim:schemas:core:2.0:Group"
	badgeExtURN  = "urn:example:params:scim:schemas:extension:badge:2.0:User"

	// Member ids of RFC 7644's examples.
	babs  = "2819c223-7f76-453a-919d-413861904646"
	james = "08e1d05d-121c-4561-8b96-473d93df9210"
)

// startUser is a POST body for a User "bjensen" with the given extra attributes.
func startUser(extra string) string {
	s := `{"schemas":["` + coreUserURN + `","` + entUserURN + `"],"userName":"bjensen"`
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

// startGroup is a POST body for a Group "Tour Guides" with the given extra attributes.
func startGroup(extra string) string {
	s := `{"schemas":["` + coreGroupURN + `"],"displayName":"Tour Guides"`
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

// patchJSON is a PatchOp request body holding ops.
func patchJSON(ops ...string) string {
	return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + strings.Join(ops, ",") + `]}`
}

// rfcMember is a Group member value as RFC 7644's examples write it.
func rfcMember(id, display string) string {
	return `{"display":"` + display + `","$ref":"https://example.com/v2/Users/` + id + `","value":"` + id + `"}`
}

// patchClock is a clock that moves one second on every reading, so that a
// write's lastModified always differs from the one before it.
type patchClock struct {
	mu sync.Mutex
	t  time.Time
}

func newPatchClock() *patchClock {
	return &patchClock{t: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *patchClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// testMembershipStore is a memstore with the MembershipPatcher capability,
// built on Get and Replace, so that every PATCH test also runs through the
// handler's native membership path. It counts the calls it serves.
type testMembershipStore struct {
	*memstore.Store
	calls atomic.Int64
	mu    sync.Mutex // one PatchMembers at a time, as a store would lock the group
}

func (s *testMembershipStore) PatchMembers(ctx context.Context, typ, id string, change scim.MembershipChange, expected string) (scim.MembershipResult, error) {
	s.calls.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	remove := map[string]bool{}
	for _, r := range change.Remove {
		remove[r] = true
	}
	for {
		res, err := s.Get(ctx, typ, id)
		if err != nil {
			return scim.MembershipResult{}, err
		}
		if expected != "" && res.Meta.Version != expected {
			return scim.MembershipResult{}, fmt.Errorf("test store: %w", scim.ErrVersionMismatch)
		}
		old, _ := res.Attributes["members"].([]any)
		if change.MustBeMembers {
			present := map[string]bool{}
			for _, m := range old {
				v, _ := m.(map[string]any)["value"].(string)
				present[v] = true
			}
			for _, r := range change.Remove {
				if !present[r] {
					return scim.MembershipResult{}, fmt.Errorf("test store: %w", scim.ErrNoTarget)
				}
			}
		}
		members := make([]any, 0, len(old)+len(change.Add))
		have := map[string]bool{}
		var out scim.MembershipResult
		for _, m := range old {
			v, _ := m.(map[string]any)["value"].(string)
			if remove[v] {
				out.Removed = append(out.Removed, v)
				continue
			}
			have[v] = true
			members = append(members, m)
		}
		for _, a := range change.Add {
			v, _ := a["value"].(string)
			if have[v] {
				continue
			}
			have[v] = true
			out.Added = append(out.Added, v)
			m := map[string]any{}
			for k, x := range a {
				m[k] = x
			}
			members = append(members, m)
		}
		if out.Added == nil && out.Removed == nil {
			out.Meta = res.Meta
			return out, nil
		}
		if len(members) == 0 {
			delete(res.Attributes, "members")
		} else {
			res.Attributes["members"] = members
		}
		res.Meta.LastModified = change.LastModified
		stored, err := s.Replace(ctx, res, res.Meta.Version)
		if errors.Is(err, scim.ErrVersionMismatch) && expected == "" {
			continue
		}
		if err != nil {
			return scim.MembershipResult{}, err
		}
		out.Meta = stored.Meta
		return out, nil
	}
}

var _ scim.MembershipPatcher = (*testMembershipStore)(nil)

// casOnlyStore hides any MembershipPatcher of the store it wraps, so the
// handler takes its generic read → apply → conditional write path.
type casOnlyStore struct{ scim.Store }

// patchStores are the stores every PATCH case runs against: the memory
// store through the generic path, the memory store as it is (with its own
// native membership changes, if it has them), and the test
// MembershipPatcher above.
var patchStores = []struct {
	name string
	new  func() scim.Store
}{
	{"cas", func() scim.Store { return casOnlyStore{memstore.New()} }},
	{"memstore", func() scim.Store { return memstore.New() }},
	{"native", func() scim.Store { return &testMembershipStore{Store: memstore.New()} }},
}

// patchEnv is a handler over a fresh store, driven through httptest.
type patchEnv struct {
	t *testing.T
	h *scim.Handler
}

func newPatchEnv(t *testing.T, store scim.Store, opts ...scim.Option) *patchEnv {
	t.Helper()
	seedUsers(t, store, patchMemberIDs...)
	h, err := scim.New(store, scim.NewBearerTokens(scim.Token{Secret: "t"}), opts...)
	require.NoError(t, err)
	return &patchEnv{t: t, h: h}
}

// patchMemberIDs are the ids the PATCH cases name as Group members: those
// of RFC 7644's examples and a few short ones. Every patchEnv's store holds
// a User with each, since members must exist.
var patchMemberIDs = []string{babs, james, "a", "b", "c", "u4", "old-1", "old-2", "string id 1", "x"}

// do sends one request; header holds name, value pairs.
func (e *patchEnv) do(method, target, body string, header ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := httptest.NewRequest(method, "http://example.com/scim/v2"+target, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/scim+json")
	}
	r.Header.Set("Authorization", "Bearer t")
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// create POSTs body to endpoint and returns the new resource's id.
func (e *patchEnv) create(endpoint, body string) string {
	e.t.Helper()
	w := e.do(http.MethodPost, endpoint, body)
	require.Equal(e.t, http.StatusCreated, w.Code, "POST %s: %s", endpoint, w.Body)
	id, _ := patchDecode(e.t, w)["id"].(string)
	require.NotEmpty(e.t, id)
	return id
}

// get returns the resource as GET serves it.
func (e *patchEnv) get(endpoint, id string) map[string]any {
	e.t.Helper()
	w := e.do(http.MethodGet, endpoint+"/"+id, "")
	require.Equal(e.t, http.StatusOK, w.Code, "GET: %s", w.Body)
	return patchDecode(e.t, w)
}

func (e *patchEnv) patch(endpoint, id, body string, header ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do(http.MethodPatch, endpoint+"/"+id, body, header...)
}

func patchDecode(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &m), "body: %s", w.Body)
	return m
}

func metaOf(res map[string]any) map[string]any {
	m, _ := res["meta"].(map[string]any)
	return m
}

// assertFragment checks that actual holds what fragment (a JSON text)
// holds: objects by their keys, a null meaning "absent"; arrays of the same
// length, in any order (stores need not keep the order of multi-valued
// attributes); other values equal.
func assertFragment(t *testing.T, fragment string, actual map[string]any) {
	t.Helper()
	var want any
	require.NoError(t, json.Unmarshal([]byte(fragment), &want), "fragment %s", fragment)
	if !fragmentMatches(want, actual) {
		got, _ := json.MarshalIndent(actual, "", "  ")
		t.Errorf("resource does not match\nwant: %s\ngot:  %s", fragment, got)
	}
}

func fragmentMatches(want, got any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			gv, has := g[k]
			if wv == nil && has || wv != nil && (!has || !fragmentMatches(wv, gv)) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		used := make([]bool, len(g))
	next:
		for _, we := range w {
			for i, ge := range g {
				if !used[i] && fragmentMatches(we, ge) {
					used[i] = true
					continue next
				}
			}
			return false
		}
		return true
	default:
		return assert.ObjectsAreEqual(want, got)
	}
}

// patchWant is the expected outcome of one PATCH.
type patchWant struct {
	status   int
	scimType string
	// result is a JSON fragment the resource matches after the PATCH
	// (see assertFragment).
	result string
	// unchanged: the resource, meta.version and lastModified included, is
	// exactly as before. Implied for errors.
	unchanged bool
}

// patchCase is one PATCH: a resource to start from, the request, and the
// outcome in lenient (default) and strict mode.
type patchCase struct {
	name     string
	endpoint string // "/Users" or "/Groups"
	start    string // POST body
	body     string // PATCH body; "{{id}}" stands for the resource's id
	lenient  patchWant
	strict   *patchWant // nil: as lenient
}

func patchOK(result string) patchWant {
	return patchWant{status: http.StatusNoContent, result: result}
}

func patchNoop() patchWant { return patchWant{status: http.StatusNoContent, unchanged: true} }

func patchFail(scimType string) patchWant {
	return patchWant{status: http.StatusBadRequest, scimType: scimType}
}

func strictPatchFail(scimType string) *patchWant {
	w := patchFail(scimType)
	return &w
}

// runPatchCases runs every case in both modes against every store in
// patchStores; opts configure the handler.
func runPatchCases(t *testing.T, cases []patchCase, opts ...scim.Option) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, mode := range []string{"lenient", "strict"} {
				w := c.lenient
				o := append([]scim.Option{scim.WithClock(newPatchClock().now)}, opts...)
				if mode == "strict" {
					o = append(o, scim.WithStrict())
					if c.strict != nil {
						w = *c.strict
					}
				}
				for _, st := range patchStores {
					t.Run(mode+"/"+st.name, func(t *testing.T) {
						runPatchCase(t, newPatchEnv(t, st.new(), o...), c, w)
					})
				}
			}
		})
	}
}

func runPatchCase(t *testing.T, e *patchEnv, c patchCase, w patchWant) {
	id := e.create(c.endpoint, c.start)
	before := e.get(c.endpoint, id)
	resp := e.patch(c.endpoint, id, strings.ReplaceAll(c.body, "{{id}}", id))
	require.Equal(t, w.status, resp.Code, "PATCH answered %s", resp.Body)
	after := e.get(c.endpoint, id)
	if resp.Code >= 400 {
		body := patchDecode(t, resp)
		assert.Equal(t, w.scimType, body["scimType"], "error %s", resp.Body)
		assert.Equal(t, fmt.Sprint(w.status), body["status"])
		assert.Equal(t, before, after, "a failed PATCH changed the resource")
		return
	}
	if resp.Code == http.StatusNoContent {
		assert.Empty(t, resp.Body.String())
	}
	assert.Equal(t, metaOf(after)["version"], resp.Header().Get("ETag"), "ETag of the PATCH answer")
	if w.unchanged {
		assert.Equal(t, before, after, "a PATCH that changes nothing changed the resource")
	} else {
		assert.NotEqual(t, metaOf(before)["version"], metaOf(after)["version"], "version after a change")
		assert.NotEqual(t, metaOf(before)["lastModified"], metaOf(after)["lastModified"], "lastModified after a change")
	}
	if w.result != "" {
		assertFragment(t, w.result, after)
	}
}

// TestPatchRFCExamples applies the examples of RFC 7644 §3.5.2.
func TestPatchRFCExamples(t *testing.T) {
	runPatchCases(t, []patchCase{
		{
			name:     "3.5.2.1 add a member",
			endpoint: "/Groups",
			start:    startGroup(""),
			body:     patchJSON(`{"op":"add","path":"members","value":[` + rfcMember(babs, "Babs Jensen") + `]}`),
			lenient:  patchOK(`{"members":[{"value":"` + babs + `","display":"Babs Jensen","$ref":"https://example.com/v2/Users/` + babs + `"}]}`),
		},
		{
			name:     "3.5.2.1 add without a path",
			endpoint: "/Users",
			start:    startUser(`"emails":[{"value":"bjensen@example.com","type":"work"}]`),
			body:     patchJSON(`{"op":"add","value":{"emails":[{"value":"babs@jensen.org","type":"home"}],"nickname":"Babs"}}`),
			lenient: patchOK(`{"nickName":"Babs","emails":[
				{"value":"bjensen@example.com","type":"work"},
				{"value":"babs@jensen.org","type":"home"}]}`),
		},
		{
			name:     "3.5.2 path name.familyName",
			endpoint: "/Users",
			start:    startUser(`"name":{"givenName":"Barbara","familyName":"J"}`),
			body:     patchJSON(`{"op":"add","path":"name.familyName","value":"Jensen"}`),
			lenient:  patchOK(`{"name":{"givenName":"Barbara","familyName":"Jensen"}}`),
		},
		{
			// members has "display", not "displayName": lenient mode reads
			// it as "display", as it does in values.
			name:     "3.5.2 path members[value eq].displayName",
			endpoint: "/Groups",
			start:    startGroup(`"members":[{"value":"` + babs + `"}]`),
			body:     patchJSON(`{"op":"replace","path":"members[value eq \"` + babs + `\"].displayName","value":"Babs Jensen"}`),
			lenient:  patchOK(`{"members":[{"value":"` + babs + `","display":"Babs Jensen"}]}`),
			strict:   strictPatchFail("invalidPath"),
		},
		{
			name:     "3.5.2.2 remove a single member",
			endpoint: "/Groups",
			start:    startGroup(`"members":[` + rfcMember(babs, "Babs Jensen") + `,` + rfcMember(james, "James Smith") + `]`),
			body:     patchJSON(`{"op":"remove","path":"members[value eq \"` + babs + `\"]"}`),
			lenient:  patchOK(`{"members":[{"value":"` + james + `","display":"James Smith"}]}`),
		},
		{
			name:     "3.5.2.2 remove all members",
			endpoint: "/Groups",
			start:    startGroup(`"members":[` + rfcMember(babs, "Babs Jensen") + `,` + rfcMember(james, "James Smith") + `]`),
			body:     patchJSON(`{"op":"remove","path":"members"}`),
			lenient:  patchOK(`{"members":null,"displayName":"Tour Guides"}`),
		},
		{
			name:     "3.5.2.2 remove the values a filter selects",
			endpoint: "/Users",
			start: startUser(`"emails":[
				{"value":"bjensen@example.com","type":"work"},
				{"value":"babs@other.org","type":"work"},
				{"value":"babs@example.com","type":"home"}]`),
			body: patchJSON(`{"op":"remove","path":"emails[type eq \"work\" and value ew \"example.com\"]"}`),
			lenient: patchOK(`{"emails":[
				{"value":"babs@other.org","type":"work"},
				{"value":"babs@example.com","type":"home"}]}`),
		},
		{
			name:     "3.5.2.2 remove all members, then add",
			endpoint: "/Groups",
			start:    startGroup(`"members":[{"value":"old-1"},{"value":"old-2"}]`),
			body: patchJSON(`{"op":"remove","path":"members"}`,
				`{"op":"add","path":"members","value":[`+rfcMember(babs, "Babs Jensen")+`,`+rfcMember(james, "James Smith")+`]}`),
			lenient: patchOK(`{"members":[{"value":"` + babs + `","display":"Babs Jensen"},{"value":"` + james + `","display":"James Smith"}]}`),
		},
		{
			name:     "3.5.2.3 replace all members",
			endpoint: "/Groups",
			start:    startGroup(`"members":[{"value":"old-1"}]`),
			body:     patchJSON(`{"op":"replace","path":"members","value":[` + rfcMember(babs, "Babs Jensen") + `,` + rfcMember(james, "James Smith") + `]}`),
			lenient:  patchOK(`{"members":[{"value":"` + babs + `"},{"value":"` + james + `"}]}`),
		},
		{
			name:     "3.5.2.3 replace the work address",
			endpoint: "/Users",
			start: startUser(`"addresses":[
				{"type":"work","streetAddress":"100 Universal City Plaza","locality":"Hollywood","region":"CA","postalCode":"91608","country":"US","formatted":"old"},
				{"type":"home","streetAddress":"456 Hollywood Blvd","locality":"Hollywood"}]`),
			body: patchJSON(`{"op":"replace","path":"addresses[type eq \"work\"]","value":{
				"type":"work","streetAddress":"911 Universal City Plaza","locality":"Hollywood","region":"CA",
				"postalCode":"91608","country":"US","formatted":"911 Universal City Plaza\nHollywood, CA 91608 US","primary":true}}`),
			lenient: patchOK(`{"addresses":[
				{"type":"work","streetAddress":"911 Universal City Plaza","formatted":"911 Universal City Plaza\nHollywood, CA 91608 US","primary":true},
				{"type":"home","streetAddress":"456 Hollywood Blvd"}]}`),
		},
		{
			name:     "3.5.2.3 replace the work street address",
			endpoint: "/Users",
			start: startUser(`"addresses":[
				{"type":"work","streetAddress":"911 Universal City Plaza","locality":"Hollywood"},
				{"type":"home","streetAddress":"456 Hollywood Blvd"}]`),
			body: patchJSON(`{"op":"replace","path":"addresses[type eq \"work\"].streetAddress","value":"1010 Broadway Ave"}`),
			lenient: patchOK(`{"addresses":[
				{"type":"work","streetAddress":"1010 Broadway Ave","locality":"Hollywood"},
				{"type":"home","streetAddress":"456 Hollywood Blvd"}]}`),
		},
		{
			name:     "3.5.2.3 replace without a path",
			endpoint: "/Users",
			start:    startUser(`"nickName":"Barbie","emails":[{"value":"old@example.com","type":"work"}]`),
			body: patchJSON(`{"op":"replace","value":{"emails":[
				{"value":"bjensen@example.com","type":"work","primary":true},
				{"value":"babs@jensen.org","type":"home"}],"nickname":"Babs"}}`),
			lenient: patchOK(`{"nickName":"Babs","emails":[
				{"value":"bjensen@example.com","type":"work","primary":true},
				{"value":"babs@jensen.org","type":"home","primary":null}]}`),
		},
	})
}

// TestPatchPaths covers the path forms: attr, attr.sub, attr[filter],
// attr[filter].sub, URN-qualified, and invalid ones.
func TestPatchPaths(t *testing.T) {
	ent := entUserURN
	runPatchCases(t, []patchCase{
		{
			name: "replace attr", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"replace","path":"userName","value":"babs"}`),
			lenient: patchOK(`{"userName":"babs"}`),
		},
		{
			name: "replace attr.sub keeps the other sub-attributes", endpoint: "/Users",
			start:   startUser(`"name":{"givenName":"Barbara","familyName":"Jensen"}`),
			body:    patchJSON(`{"op":"replace","path":"name.givenName","value":"Babs"}`),
			lenient: patchOK(`{"name":{"givenName":"Babs","familyName":"Jensen"}}`),
		},
		{
			name: "replace complex attr merges sub-attributes", endpoint: "/Users",
			start:   startUser(`"name":{"givenName":"Barbara","familyName":"Jensen"}`),
			body:    patchJSON(`{"op":"replace","path":"name","value":{"givenName":"Babs"}}`),
			lenient: patchOK(`{"name":{"givenName":"Babs","familyName":"Jensen"}}`),
		},
		{
			name: "names are case-insensitive", endpoint: "/Users",
			start:   startUser(`"name":{"givenName":"Barbara"}`),
			body:    patchJSON(`{"op":"replace","path":"NAME.GIVENNAME","value":"Babs"}`),
			lenient: patchOK(`{"name":{"givenName":"Babs"}}`),
		},
		{
			name: "remove attr.sub", endpoint: "/Users",
			start:   startUser(`"name":{"givenName":"Barbara","familyName":"Jensen"}`),
			body:    patchJSON(`{"op":"remove","path":"name.givenName"}`),
			lenient: patchOK(`{"name":{"givenName":null,"familyName":"Jensen"}}`),
		},
		{
			name: "core URN-qualified attr", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"replace","path":"` + coreUserURN + `:displayName","value":"Babs"}`),
			lenient: patchOK(`{"displayName":"Babs"}`),
		},
		{
			name: "extension attr", endpoint: "/Users", start: startUser(`"` + ent + `":{"employeeNumber":"701984"}`),
			body:    patchJSON(`{"op":"replace","path":"` + ent + `:department","value":"Tour Operations"}`),
			lenient: patchOK(`{"` + ent + `":{"department":"Tour Operations","employeeNumber":"701984"}}`),
		},
		{
			name: "extension attr on a user without the extension", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"add","path":"` + ent + `:department","value":"Tour Operations"}`),
			lenient: patchOK(`{"schemas":["` + coreUserURN + `","` + ent + `"],"` + ent + `":{"department":"Tour Operations"}}`),
		},
		{
			name: "extension attr.sub", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"add","path":"` + ent + `:manager.value","value":"26118915-6090-4610-87e4-49d8ca9f808d"}`),
			lenient: patchOK(`{"` + ent + `":{"manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d"}}}`),
		},
		{
			name: "remove extension attr", endpoint: "/Users",
			start:   startUser(`"` + ent + `":{"employeeNumber":"701984","department":"Tour Operations"}`),
			body:    patchJSON(`{"op":"remove","path":"` + ent + `:department"}`),
			lenient: patchOK(`{"` + ent + `":{"department":null,"employeeNumber":"701984"}}`),
		},
		{
			name: "remove the last extension attr drops the extension", endpoint: "/Users",
			start:   startUser(`"` + ent + `":{"department":"Tour Operations"}`),
			body:    patchJSON(`{"op":"remove","path":"` + ent + `:department"}`),
			lenient: patchOK(`{"` + ent + `":null,"schemas":["` + coreUserURN + `"]}`),
		},
		{
			name: "whole extension", endpoint: "/Users",
			start:   startUser(`"` + ent + `":{"employeeNumber":"701984"}`),
			body:    patchJSON(`{"op":"replace","path":"` + ent + `","value":{"department":"Tour Operations"}}`),
			lenient: patchOK(`{"` + ent + `":{"department":"Tour Operations","employeeNumber":"701984"}}`),
		},
		{
			name: "remove whole extension", endpoint: "/Users",
			start:   startUser(`"` + ent + `":{"employeeNumber":"701984"}`),
			body:    patchJSON(`{"op":"remove","path":"` + ent + `"}`),
			lenient: patchOK(`{"` + ent + `":null,"schemas":["` + coreUserURN + `"]}`),
		},
		{
			name: "filter on a single-valued complex attr", endpoint: "/Users",
			start:   startUser(`"name":{"givenName":"Barbara","familyName":"Jensen"}`),
			body:    patchJSON(`{"op":"replace","path":"name[givenName eq \"Barbara\"].familyName","value":"Smith"}`),
			lenient: patchOK(`{"name":{"givenName":"Barbara","familyName":"Smith"}}`),
		},
		{
			name: "unmatched filter on a single-valued complex attr", endpoint: "/Users",
			start:   startUser(`"name":{"givenName":"Barbara","familyName":"Jensen"}`),
			body:    patchJSON(`{"op":"replace","path":"name[givenName eq \"Nobody\"].familyName","value":"Smith"}`),
			lenient: patchFail("noTarget"),
		},
		{
			name: "filter on an unassigned single-valued complex attr", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"add","path":"name[givenName eq \"Barbara\"].familyName","value":"Jensen"}`),
			lenient: patchOK(`{"name":{"givenName":"Barbara","familyName":"Jensen"}}`),
		},
		{
			name: "unknown attribute", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"replace","path":"nosuch","value":"x"}`),
			lenient: patchFail("invalidPath"),
		},
		{
			name: "unknown extension attribute", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"replace","path":"` + ent + `:nosuch","value":"x"}`),
			lenient: patchFail("invalidPath"),
		},
		{
			name: "unknown sub-attribute", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"replace","path":"name.nosuch","value":"x"}`),
			lenient: patchFail("invalidPath"),
		},
		{
			name: "unknown sub-attribute after a filter", endpoint: "/Users",
			start:   startUser(`"emails":[{"value":"a@example.com","type":"work"}]`),
			body:    patchJSON(`{"op":"replace","path":"emails[type eq \"work\"].nosuch","value":"x"}`),
			lenient: patchFail("invalidPath"),
		},
		{
			name: "bad filter", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"remove","path":"emails[type eq]"}`),
			lenient: patchFail("invalidPath"),
		},
		{
			name: "unbalanced brackets", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"remove","path":"emails[type eq \"work\""}`),
			lenient: patchFail("invalidPath"),
		},
		{
			name: "filter on a simple attribute", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"remove","path":"userName[value eq \"x\"]"}`),
			lenient: patchFail("invalidPath"),
		},
		{
			name: "path not a string", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"remove","path":42}`),
			lenient: patchFail("invalidPath"),
		},
		{
			name: "remove without a path", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"remove"}`),
			lenient: patchFail("noTarget"),
		},
		{
			name: "add without a value", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"add","path":"nickName"}`),
			lenient: patchFail("invalidValue"),
		},
		{
			name: "unknown op", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"move","path":"nickName","value":"x"}`),
			lenient: patchFail("invalidSyntax"),
		},
		{
			name: "operation not an object", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`"add"`),
			lenient: patchFail("invalidSyntax"),
		},
		{
			name: "path-less value not an object", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"add","value":"x"}`),
			lenient: patchFail("invalidValue"),
		},
		{
			name: "value of the wrong type", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"replace","path":"active","value":"maybe"}`),
			lenient: patchFail("invalidValue"),
		},
		{
			name: "body not JSON", endpoint: "/Users", start: startUser(""),
			body:    `{"Operations":[`,
			lenient: patchFail("invalidSyntax"),
		},
		{
			name: "Operations not an array", endpoint: "/Users", start: startUser(""),
			body:    `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":{"op":"add"}}`,
			lenient: patchFail("invalidValue"),
		},
	})
}

// TestPatchMultiValued covers merging, primary, filtered replace and
// remove, and values created from a filter.
func TestPatchMultiValued(t *testing.T) {
	twoEmails := startUser(`"emails":[{"value":"a@example.com","type":"work","primary":true},{"value":"b@example.com","type":"home"}]`)
	runPatchCases(t, []patchCase{
		{
			name: "add merges without duplicating equal values", endpoint: "/Users", start: twoEmails,
			body: patchJSON(`{"op":"add","path":"emails","value":[
				{"value":"b@example.com","type":"home"},{"value":"c@example.com","type":"other"}]}`),
			lenient: patchOK(`{"emails":[
				{"value":"a@example.com","type":"work","primary":true},
				{"value":"b@example.com","type":"home"},
				{"value":"c@example.com","type":"other"}]}`),
		},
		{
			name: "add of values all present is a no-op", endpoint: "/Users", start: twoEmails,
			body:    patchJSON(`{"op":"add","path":"emails","value":[{"value":"b@example.com","type":"home"}]}`),
			lenient: patchNoop(),
		},
		{
			name: "add of a present value marked primary moves primary to it", endpoint: "/Users", start: twoEmails,
			body: patchJSON(`{"op":"add","path":"emails","value":[{"value":"b@example.com","type":"home","primary":true}]}`),
			lenient: patchOK(`{"emails":[
				{"value":"a@example.com","type":"work","primary":null},
				{"value":"b@example.com","type":"home","primary":true}]}`),
		},
		{
			name: "add primary clears it on the others", endpoint: "/Users", start: twoEmails,
			body: patchJSON(`{"op":"add","path":"emails","value":[{"value":"c@example.com","type":"other","primary":true}]}`),
			lenient: patchOK(`{"emails":[
				{"value":"a@example.com","type":"work","primary":null},
				{"value":"b@example.com","type":"home"},
				{"value":"c@example.com","type":"other","primary":true}]}`),
		},
		{
			name: "primary set through a filtered sub-attribute clears the others", endpoint: "/Users", start: twoEmails,
			body: patchJSON(`{"op":"replace","path":"emails[type eq \"home\"].primary","value":true}`),
			lenient: patchOK(`{"emails":[
				{"value":"a@example.com","type":"work","primary":null},
				{"value":"b@example.com","type":"home","primary":true}]}`),
		},
		{
			name: "primary set by a filtered replace clears the others", endpoint: "/Users", start: twoEmails,
			body: patchJSON(`{"op":"replace","path":"emails[type eq \"home\"]","value":{"value":"b@example.com","type":"home","primary":true}}`),
			lenient: patchOK(`{"emails":[
				{"value":"a@example.com","type":"work","primary":null},
				{"value":"b@example.com","type":"home","primary":true}]}`),
		},
		{
			name: "two primary values in one add", endpoint: "/Users", start: startUser(""),
			body: patchJSON(`{"op":"add","path":"emails","value":[
				{"value":"a@example.com","primary":true},{"value":"b@example.com","primary":true}]}`),
			lenient: patchOK(`{"emails":[{"value":"a@example.com","primary":true},{"value":"b@example.com","primary":null}]}`),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "replace of a filtered value replaces only the matches", endpoint: "/Users",
			start: startUser(`"emails":[{"value":"a@example.com","type":"work","display":"A"},{"value":"b@example.com","type":"home"}]`),
			body:  patchJSON(`{"op":"replace","path":"emails[type eq \"work\"]","value":{"value":"c@example.com","type":"work"}}`),
			lenient: patchOK(`{"emails":[
				{"value":"c@example.com","type":"work","display":null},
				{"value":"b@example.com","type":"home"}]}`),
		},
		{
			name: "replace of a filtered sub-attribute changes every match", endpoint: "/Users",
			start: startUser(`"phoneNumbers":[{"value":"1","type":"work"},{"value":"2","type":"home"},{"value":"3","type":"work"}]`),
			body:  patchJSON(`{"op":"replace","path":"phoneNumbers[type eq \"work\"].display","value":"Office"}`),
			lenient: patchOK(`{"phoneNumbers":[
				{"value":"1","type":"work","display":"Office"},
				{"value":"2","type":"home","display":null},
				{"value":"3","type":"work","display":"Office"}]}`),
		},
		{
			name: "add with a filter merges into the match", endpoint: "/Users", start: twoEmails,
			body: patchJSON(`{"op":"add","path":"emails[type eq \"home\"]","value":{"display":"Home"}}`),
			lenient: patchOK(`{"emails":[
				{"value":"a@example.com","type":"work","primary":true},
				{"value":"b@example.com","type":"home","display":"Home"}]}`),
		},
		{
			name: "remove with a filter removes only the matches", endpoint: "/Users", start: twoEmails,
			body:    patchJSON(`{"op":"remove","path":"emails[type eq \"home\"]"}`),
			lenient: patchOK(`{"emails":[{"value":"a@example.com","type":"work","primary":true}]}`),
		},
		{
			name: "remove of the last match unassigns the attribute", endpoint: "/Users",
			start:   startUser(`"emails":[{"value":"a@example.com","type":"work"}]`),
			body:    patchJSON(`{"op":"remove","path":"emails[type eq \"work\"]"}`),
			lenient: patchOK(`{"emails":null}`),
		},
		{
			name: "remove a filtered sub-attribute", endpoint: "/Users",
			start: startUser(`"emails":[{"value":"a@example.com","type":"work","display":"A"},{"value":"b@example.com","type":"home","display":"B"}]`),
			body:  patchJSON(`{"op":"remove","path":"emails[type eq \"work\"].display"}`),
			lenient: patchOK(`{"emails":[
				{"value":"a@example.com","type":"work","display":null},
				{"value":"b@example.com","type":"home","display":"B"}]}`),
		},
		{
			name: "remove members selected by or", endpoint: "/Groups",
			start:   startGroup(`"members":[{"value":"a"},{"value":"b"},{"value":"c"}]`),
			body:    patchJSON(`{"op":"remove","path":"members[value eq \"a\" or value eq \"c\"]"}`),
			lenient: patchOK(`{"members":[{"value":"b"}]}`),
		},
		{
			name: "add to a filtered sub-attribute creates the value", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"add","path":"emails[type eq \"work\"].value","value":"bjensen@example.com"}`),
			lenient: patchOK(`{"emails":[{"value":"bjensen@example.com","type":"work"}]}`),
		},
		{
			name: "replace of a filtered sub-attribute creates the value (lenient; RFC 7644 §3.5.2.3 noTarget when strict)", endpoint: "/Users",
			start: startUser(`"emails":[{"value":"b@example.com","type":"home"}]`),
			body:  patchJSON(`{"op":"replace","path":"emails[type eq \"work\"].value","value":"bjensen@example.com"}`),
			lenient: patchOK(`{"emails":[
				{"value":"b@example.com","type":"home"},
				{"value":"bjensen@example.com","type":"work"}]}`),
			strict: strictPatchFail("noTarget"),
		},
		{
			name: "replace of an unmatched filter", endpoint: "/Users",
			start: startUser(`"emails":[{"value":"b@example.com","type":"home"}]`),
			body:  patchJSON(`{"op":"replace","path":"emails[type eq \"work\"]","value":{"value":"a@example.com"}}`),
			lenient: patchOK(`{"emails":[
				{"value":"b@example.com","type":"home"},
				{"value":"a@example.com","type":"work"}]}`),
			strict: strictPatchFail("noTarget"),
		},
		{
			name: "replace of an unmatched filter that describes no value", endpoint: "/Users",
			start:   startUser(`"emails":[{"value":"b@example.com","type":"home"}]`),
			body:    patchJSON(`{"op":"replace","path":"emails[value ew \"example.org\"].display","value":"x"}`),
			lenient: patchFail("noTarget"),
		},
		{
			name: "remove of an unmatched filter", endpoint: "/Users", start: twoEmails,
			body:    patchJSON(`{"op":"remove","path":"emails[type eq \"other\"]"}`),
			lenient: patchNoop(),
			strict:  strictPatchFail("noTarget"),
		},
		{
			name: "remove of an unmatched member", endpoint: "/Groups",
			start:   startGroup(`"members":[{"value":"a"}]`),
			body:    patchJSON(`{"op":"remove","path":"members[value eq \"b\"]"}`),
			lenient: patchNoop(),
			strict:  strictPatchFail("noTarget"),
		},
		{
			name: "remove of an absent attribute", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"remove","path":"nickName"}`),
			lenient: patchNoop(),
		},
		{
			name: "replace all values", endpoint: "/Users", start: twoEmails,
			body:    patchJSON(`{"op":"replace","path":"emails","value":[{"value":"c@example.com","type":"work"}]}`),
			lenient: patchOK(`{"emails":[{"value":"c@example.com","type":"work"}]}`),
		},
		{
			name: "replace with an empty array unassigns", endpoint: "/Users", start: twoEmails,
			body:    patchJSON(`{"op":"replace","path":"emails","value":[]}`),
			lenient: patchOK(`{"emails":null}`),
		},
		{
			name: "add of null to a multi-valued attribute adds nothing", endpoint: "/Users", start: twoEmails,
			body:    patchJSON(`{"op":"add","path":"emails","value":null}`),
			lenient: patchNoop(),
		},
		{
			name: "add of null to a single-valued attribute unassigns it", endpoint: "/Users", start: startUser(`"nickName":"Babs"`),
			body:    patchJSON(`{"op":"add","path":"nickName","value":null}`),
			lenient: patchOK(`{"nickName":null}`),
		},
		{
			name: "add to an unassigned attribute", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"add","path":"phoneNumbers","value":[{"value":"555-555-5555","type":"work"}]}`),
			lenient: patchOK(`{"phoneNumbers":[{"value":"555-555-5555","type":"work"}]}`),
		},
	})
}

// TestPatchMutability covers readOnly, required and immutable attributes.
func TestPatchMutability(t *testing.T) {
	ent := entUserURN
	runPatchCases(t, []patchCase{
		{
			name: "replace id", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"replace","path":"id","value":"other"}`),
			lenient: patchFail("mutability"),
		},
		{
			name: "remove id", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"remove","path":"id"}`),
			lenient: patchFail("mutability"),
		},
		{
			name: "replace meta.lastModified", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"replace","path":"meta.lastModified","value":"2011-05-13T04:42:34Z"}`),
			lenient: patchFail("mutability"),
		},
		{
			name: "add groups", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"add","path":"groups","value":[{"value":"g1"}]}`),
			lenient: patchFail("mutability"),
		},
		{
			name: "replace a read-only sub-attribute", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"replace","path":"` + ent + `:manager.displayName","value":"Boss"}`),
			lenient: patchFail("mutability"),
		},
		{
			name: "path-less read-only attributes", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"replace","value":{"displayName":"Babs","groups":[{"value":"g1"}],"meta":{"version":"W/\"1\""}}}`),
			lenient: patchOK(`{"displayName":"Babs","groups":null}`),
			strict:  strictPatchFail("mutability"),
		},
		{
			name: "remove a required attribute", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"remove","path":"userName"}`),
			lenient: patchFail("mutability"),
		},
		{
			name: "replace a required attribute with null", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"replace","path":"userName","value":null}`),
			lenient: patchFail("mutability"),
		},
		{
			name: "remove a group's displayName", endpoint: "/Groups", start: startGroup(""),
			body:    patchJSON(`{"op":"remove","path":"displayName"}`),
			lenient: patchFail("mutability"),
		},
		{
			name: "set an immutable sub-attribute once", endpoint: "/Groups",
			start:   startGroup(`"members":[{"value":"a"}]`),
			body:    patchJSON(`{"op":"add","path":"members[value eq \"a\"].display","value":"Alice"}`),
			lenient: patchOK(`{"members":[{"value":"a","display":"Alice"}]}`),
		},
		{
			name: "change an immutable sub-attribute", endpoint: "/Groups",
			start:   startGroup(`"members":[{"value":"a","display":"Alice"}]`),
			body:    patchJSON(`{"op":"replace","path":"members[value eq \"a\"].display","value":"Bob"}`),
			lenient: patchFail("mutability"),
		},
	})
}

// badgeUserType is the User type with an extension holding an immutable
// attribute.
func badgeUserType() scim.ResourceType {
	rt := scim.UserResourceType()
	rt.Extensions = append(rt.Extensions, scim.SchemaExtension{Schema: schema.Schema{
		ID:   badgeExtURN,
		Name: optional.NewString("Badge"),
		Attributes: []schema.CoreAttribute{
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
				Name:       "badge",
				Mutability: schema.AttributeMutabilityImmutable(),
			})),
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
				Name: "floor",
			})),
		},
	}})
	return rt
}

// TestPatchImmutable: an immutable attribute may be set once, and then
// neither changed nor removed.
func TestPatchImmutable(t *testing.T) {
	b := badgeExtURN
	withBadge := startUser(`"` + b + `":{"badge":"B-1","floor":"3"}`)
	runPatchCases(t, []patchCase{
		{
			name: "set once", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"add","path":"` + b + `:badge","value":"B-1"}`),
			lenient: patchOK(`{"` + b + `":{"badge":"B-1"}}`),
		},
		{
			name: "set once without a path", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"add","value":{"` + b + `":{"badge":"B-1"}}}`),
			lenient: patchOK(`{"` + b + `":{"badge":"B-1"}}`),
		},
		{
			name: "same value again", endpoint: "/Users", start: withBadge,
			body:    patchJSON(`{"op":"replace","path":"` + b + `:badge","value":"B-1"}`),
			lenient: patchNoop(),
		},
		{
			name: "change", endpoint: "/Users", start: withBadge,
			body:    patchJSON(`{"op":"replace","path":"` + b + `:badge","value":"B-2"}`),
			lenient: patchFail("mutability"),
		},
		{
			name: "change through the extension", endpoint: "/Users", start: withBadge,
			body:    patchJSON(`{"op":"replace","path":"` + b + `","value":{"badge":"B-2"}}`),
			lenient: patchFail("mutability"),
		},
		{
			name: "remove", endpoint: "/Users", start: withBadge,
			body:    patchJSON(`{"op":"remove","path":"` + b + `:badge"}`),
			lenient: patchFail("mutability"),
		},
		{
			name: "remove the extension", endpoint: "/Users", start: withBadge,
			body:    patchJSON(`{"op":"remove","path":"` + b + `"}`),
			lenient: patchFail("mutability"),
		},
		{
			name: "other attributes stay writable", endpoint: "/Users", start: withBadge,
			body:    patchJSON(`{"op":"replace","path":"` + b + `:floor","value":"4"}`),
			lenient: patchOK(`{"` + b + `":{"badge":"B-1","floor":"4"}}`),
		},
	}, scim.WithResourceTypes(badgeUserType(), scim.GroupResourceType()))
}

// TestPatchAtomic: one failing operation leaves the resource untouched.
func TestPatchAtomic(t *testing.T) {
	runPatchCases(t, []patchCase{
		{
			name: "read-only attribute last", endpoint: "/Groups", start: startGroup(`"members":[{"value":"a"}]`),
			body: patchJSON(`{"op":"replace","path":"displayName","value":"Guides"}`,
				`{"op":"add","path":"members","value":[{"value":"b"}]}`,
				`{"op":"replace","path":"id","value":"other"}`),
			lenient: patchFail("mutability"),
		},
		{
			name: "members first, bad path last", endpoint: "/Groups", start: startGroup(`"members":[{"value":"a"}]`),
			body: patchJSON(`{"op":"add","path":"members","value":[{"value":"b"}]}`,
				`{"op":"remove","path":"members[value eq \"a\"]"}`,
				`{"op":"remove","path":"nosuch"}`),
			lenient: patchFail("invalidPath"),
		},
		{
			name: "invalid value last", endpoint: "/Users", start: startUser(""),
			body: patchJSON(`{"op":"add","path":"emails","value":[{"value":"a@example.com"}]}`,
				`{"op":"replace","path":"active","value":"perhaps"}`),
			lenient: patchFail("invalidValue"),
		},
		{
			name: "unmatched filter last", endpoint: "/Users", start: startUser(""),
			body: patchJSON(`{"op":"replace","path":"userName","value":"babs"}`,
				`{"op":"remove","path":"emails[type eq \"work\"]"}`),
			lenient: patchOK(`{"userName":"babs"}`),
			strict:  strictPatchFail("noTarget"),
		},
		{
			name: "required attribute removed, then added back", endpoint: "/Users", start: startUser(""),
			body: patchJSON(`{"op":"replace","path":"userName","value":null}`,
				`{"op":"add","path":"userName","value":"babs"}`),
			lenient: patchOK(`{"userName":"babs"}`),
		},
		{
			name: "operations apply in order", endpoint: "/Users", start: startUser(""),
			body: patchJSON(`{"op":"add","path":"nickName","value":"Babs"}`,
				`{"op":"replace","path":"nickName","value":"Barbara"}`,
				`{"op":"add","path":"title","value":"Tour Guide"}`,
				`{"op":"remove","path":"title"}`),
			lenient: patchOK(`{"nickName":"Barbara","title":null}`),
		},
	})
}

// TestPatchQuirks covers what identity providers send beyond RFC 7644:
// accepted by default, rejected in strict mode.
func TestPatchQuirks(t *testing.T) {
	ent := entUserURN
	threeMembers := startGroup(`"members":[{"value":"` + babs + `"},{"value":"` + james + `"},{"value":"c"}]`)
	runPatchCases(t, []patchCase{
		{
			name: "capitalised op", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"Replace","path":"displayName","value":"Babs"}`),
			lenient: patchOK(`{"displayName":"Babs"}`),
			strict:  strictPatchFail("invalidSyntax"),
		},
		{
			name: "capitalised Add and Remove", endpoint: "/Groups", start: startGroup(`"members":[{"value":"` + babs + `"}]`),
			body: patchJSON(`{"op":"Add","path":"members","value":[{"value":"`+james+`"}]}`,
				`{"op":"Remove","path":"members[value eq \"`+babs+`\"]"}`),
			lenient: patchOK(`{"members":[{"value":"` + james + `"}]}`),
			strict:  strictPatchFail("invalidSyntax"),
		},
		{
			name: "upper-case op", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"ADD","path":"nickName","value":"Babs"}`),
			lenient: patchOK(`{"nickName":"Babs"}`),
			strict:  strictPatchFail("invalidSyntax"),
		},
		{
			name: "boolean as a string", endpoint: "/Users", start: startUser(`"active":true`),
			body:    patchJSON(`{"op":"replace","path":"active","value":"False"}`),
			lenient: patchOK(`{"active":false}`),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "boolean as a string without a path", endpoint: "/Users", start: startUser(`"active":false`),
			body:    patchJSON(`{"op":"replace","value":{"active":"True"}}`),
			lenient: patchOK(`{"active":true}`),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "Entra's remove of members by value", endpoint: "/Groups", start: threeMembers,
			body:    patchJSON(`{"op":"Remove","path":"members","value":[{"value":"` + babs + `"}]}`),
			lenient: patchOK(`{"members":[{"value":"` + james + `"},{"value":"c"}]}`),
			strict:  strictPatchFail("invalidSyntax"),
		},
		{
			name: "remove of members by value", endpoint: "/Groups", start: threeMembers,
			body:    patchJSON(`{"op":"remove","path":"members","value":[{"value":"` + babs + `"},{"value":"c"}]}`),
			lenient: patchOK(`{"members":[{"value":"` + james + `"}]}`),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "remove of an absent member by value", endpoint: "/Groups", start: threeMembers,
			body:    patchJSON(`{"op":"remove","path":"members","value":[{"value":"nobody"}]}`),
			lenient: patchNoop(),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "remove of emails by value", endpoint: "/Users",
			start:   startUser(`"emails":[{"value":"a@example.com","type":"work","primary":true},{"value":"b@example.com","type":"home"}]`),
			body:    patchJSON(`{"op":"remove","path":"emails","value":[{"value":"a@example.com","type":"work"}]}`),
			lenient: patchOK(`{"emails":[{"value":"b@example.com","type":"home"}]}`),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "path-less replace with dotted keys", endpoint: "/Users",
			start:   startUser(`"name":{"givenName":"B","familyName":"Jensen","middleName":"Jane"}`),
			body:    patchJSON(`{"op":"replace","value":{"name.givenName":"Barbara","name.familyName":"Jensen-Smith","displayName":"Babs"}}`),
			lenient: patchOK(`{"displayName":"Babs","name":{"givenName":"Barbara","familyName":"Jensen-Smith","middleName":"Jane"}}`),
			strict:  strictPatchFail("invalidPath"),
		},
		{
			name: "path-less replace with URN-qualified keys", endpoint: "/Users", start: startUser(""),
			body: patchJSON(`{"op":"replace","value":{"` + ent + `:department":"Sales","` + ent + `:manager.value":"m1","` +
				coreUserURN + `:title":"Guide"}}`),
			lenient: patchOK(`{"title":"Guide","` + ent + `":{"department":"Sales","manager":{"value":"m1"}}}`),
			strict:  strictPatchFail("invalidPath"),
		},
		{
			name: "path-less replace with an extension object", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"replace","value":{"` + ent + `":{"department":"Sales"}}}`),
			lenient: patchOK(`{"` + ent + `":{"department":"Sales"}}`),
		},
		{
			name: "Okta's path-less active false", endpoint: "/Users", start: startUser(`"active":true`),
			body:    patchJSON(`{"op":"replace","value":{"active":false}}`),
			lenient: patchOK(`{"active":false}`),
		},
		{
			name: "Okta's path-less id and displayName", endpoint: "/Groups", start: startGroup(""),
			body:    patchJSON(`{"op":"replace","value":{"id":"{{id}}","displayName":"Guides"}}`),
			lenient: patchOK(`{"displayName":"Guides"}`),
			strict:  strictPatchFail("mutability"),
		},
		{
			name: "path-less id of another resource", endpoint: "/Groups", start: startGroup(""),
			body:    patchJSON(`{"op":"replace","value":{"id":"other","displayName":"Guides"}}`),
			lenient: patchFail("mutability"),
		},
		{
			name: "path-less unknown attribute", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"replace","value":{"nosuch":"x","nickName":"Babs"}}`),
			lenient: patchOK(`{"nickName":"Babs"}`),
			strict:  strictPatchFail("invalidPath"),
		},
		{
			name: "Entra's manager as a one-element array", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"add","path":"` + ent + `:manager","value":[{"value":"m1"}]}`),
			lenient: patchOK(`{"` + ent + `":{"manager":{"value":"m1"}}}`),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "manager as a plain string", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"replace","path":"` + ent + `:manager","value":"m1"}`),
			lenient: patchOK(`{"` + ent + `":{"manager":{"value":"m1"}}}`),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "$ref null in a member value", endpoint: "/Groups", start: startGroup(""),
			body:    patchJSON(`{"op":"add","path":"members","value":[{"value":"` + babs + `","$ref":null}]}`),
			lenient: patchOK(`{"members":[{"value":"` + babs + `","$ref":"http://example.com/scim/v2/Users/` + babs + `"}]}`),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "member as a bare string id", endpoint: "/Groups", start: startGroup(""),
			body:    patchJSON(`{"op":"add","path":"members","value":"string id 1"}`),
			lenient: patchOK(`{"members":[{"value":"string id 1"}]}`),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "members as an array of bare string ids", endpoint: "/Groups", start: startGroup(""),
			body:    patchJSON(`{"op":"add","path":"members","value":["a","b"]}`),
			lenient: patchOK(`{"members":[{"value":"a"},{"value":"b"}]}`),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "member with displayName", endpoint: "/Groups", start: startGroup(""),
			body:    patchJSON(`{"op":"add","path":"members","value":[{"displayName":"new User","value":"u4"}]}`),
			lenient: patchOK(`{"members":[{"value":"u4","display":"new User"}]}`),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "add of a member already present", endpoint: "/Groups", start: startGroup(`"members":[{"value":"` + babs + `","display":"Babs"}]`),
			body:    patchJSON(`{"op":"add","path":"members","value":[{"value":"` + babs + `"}]}`),
			lenient: patchNoop(),
		},
		{
			name: "add of a value already present", endpoint: "/Users", start: startUser(`"nickName":"Babs"`),
			body:    patchJSON(`{"op":"add","path":"nickName","value":"Babs"}`),
			lenient: patchNoop(),
		},
		{
			name: "empty Operations", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(),
			lenient: patchFail("invalidValue"),
		},
		{
			name: "no schemas", endpoint: "/Users", start: startUser(""),
			body:    `{"Operations":[{"op":"add","path":"nickName","value":"Babs"}]}`,
			lenient: patchOK(`{"nickName":"Babs"}`),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "operations in lower case", endpoint: "/Users", start: startUser(""),
			body:    `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"operations":[{"op":"add","path":"nickName","value":"Babs"}]}`,
			lenient: patchOK(`{"nickName":"Babs"}`),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "path null", endpoint: "/Users", start: startUser(""),
			body:    patchJSON(`{"op":"replace","path":null,"value":{"nickName":"Babs"}}`),
			lenient: patchOK(`{"nickName":"Babs"}`),
		},
	})
}

// TestPatchResponse: 204 by default; 200 with the projected resource when
// the client asks for attributes, or with WithPatchResponse.
func TestPatchResponse(t *testing.T) {
	body := patchJSON(`{"op":"add","path":"members","value":[{"value":"` + babs + `"}]}`)
	for _, st := range patchStores {
		t.Run(st.name, func(t *testing.T) {
			e := newPatchEnv(t, st.new())
			id := e.create("/Groups", startGroup(""))

			w := e.patch("/Groups", id, body)
			require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
			assert.Empty(t, w.Body.String())
			got := e.get("/Groups", id)
			assert.Equal(t, metaOf(got)["version"], w.Header().Get("ETag"))

			w = e.patch("/Groups", id+"?attributes=displayName", patchJSON(`{"op":"add","path":"members","value":[{"value":"`+james+`"}]}`))
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			assert.Equal(t, "application/scim+json", w.Header().Get("Content-Type"))
			res := patchDecode(t, w)
			assert.Equal(t, id, res["id"])
			assert.Equal(t, "Tour Guides", res["displayName"])
			assert.NotContains(t, res, "members")
			assert.Equal(t, metaOf(e.get("/Groups", id))["version"], w.Header().Get("ETag"))

			w = e.patch("/Groups", id+"?excludedAttributes=members", patchJSON(`{"op":"replace","path":"displayName","value":"Guides"}`))
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			res = patchDecode(t, w)
			assert.Equal(t, "Guides", res["displayName"])
			assert.NotContains(t, res, "members")

			// A no-op asked for attributes still answers with the resource.
			w = e.patch("/Groups", id+"?attributes=members", body)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			res = patchDecode(t, w)
			assert.Len(t, res["members"], 2)
			assert.NotContains(t, res, "displayName")
		})
		t.Run(st.name+"/WithPatchResponse", func(t *testing.T) {
			e := newPatchEnv(t, st.new(), scim.WithPatchResponse())
			id := e.create("/Groups", startGroup(""))
			w := e.patch("/Groups", id, body)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			res := patchDecode(t, w)
			assert.Equal(t, "Tour Guides", res["displayName"])
			assertFragment(t, `{"members":[{"value":"`+babs+`"}]}`, res)
			assert.Equal(t, e.get("/Groups", id), res)

			w = e.patch("/Groups", id+"?excludedAttributes=members", body)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			assert.NotContains(t, patchDecode(t, w), "members")
		})
	}
}

// TestPatchIfMatch: a matching If-Match applies, a stale one is 412 and
// changes nothing.
func TestPatchIfMatch(t *testing.T) {
	bodies := map[string]string{
		"members":     patchJSON(`{"op":"add","path":"members","value":[{"value":"` + babs + `"}]}`),
		"displayName": patchJSON(`{"op":"replace","path":"displayName","value":"Guides"}`),
	}
	for _, st := range patchStores {
		for name, body := range bodies {
			t.Run(st.name+"/"+name, func(t *testing.T) {
				e := newPatchEnv(t, st.new())
				id := e.create("/Groups", startGroup(""))
				before := e.get("/Groups", id)
				version := metaOf(before)["version"].(string)

				w := e.patch("/Groups", id, body, "If-Match", `W/"stale"`)
				require.Equal(t, http.StatusPreconditionFailed, w.Code, w.Body.String())
				assert.Equal(t, "412", patchDecode(t, w)["status"])
				assert.Equal(t, before, e.get("/Groups", id))

				w = e.patch("/Groups", id, body, "If-Match", version)
				require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
				after := e.get("/Groups", id)
				assert.NotEqual(t, version, metaOf(after)["version"])

				// The version the client holds is now stale.
				w = e.patch("/Groups", id, patchJSON(`{"op":"replace","path":"displayName","value":"Other"}`), "If-Match", version)
				require.Equal(t, http.StatusPreconditionFailed, w.Code, w.Body.String())
				assert.Equal(t, after, e.get("/Groups", id))

				w = e.patch("/Groups", id, patchJSON(`{"op":"replace","path":"externalId","value":"x"}`), "If-Match", "*")
				require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())

				// A list of versions matches if one of them does.
				current := metaOf(e.get("/Groups", id))["version"].(string)
				w = e.patch("/Groups", id, patchJSON(`{"op":"add","path":"members","value":[{"value":"`+james+`"}]}`),
					"If-Match", `W/"stale", `+current)
				require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
				members, _ := e.get("/Groups", id)["members"].([]any)
				assert.Contains(t, members, map[string]any{"value": james, "$ref": "http://example.com/scim/v2/Users/" + james})
			})
		}
	}
}

// TestPatchMeta: meta.lastModified and meta.version change when, and only
// when, the resource changes.
func TestPatchMeta(t *testing.T) {
	for _, st := range patchStores {
		t.Run(st.name, func(t *testing.T) {
			clock := newPatchClock()
			e := newPatchEnv(t, st.new(), scim.WithClock(clock.now))
			id := e.create("/Groups", startGroup(`"members":[{"value":"`+babs+`"}]`))
			before := e.get("/Groups", id)
			meta := metaOf(before)

			for _, body := range []string{
				patchJSON(`{"op":"add","path":"members","value":[{"value":"` + babs + `"}]}`),
				patchJSON(`{"op":"replace","path":"displayName","value":"Tour Guides"}`),
				patchJSON(`{"op":"remove","path":"members[value eq \"nobody\"]"}`),
				patchJSON(`{"op":"remove","path":"externalId"}`),
				patchJSON(`{"op":"add","path":"members","value":[{"value":"`+james+`"}]}`,
					`{"op":"remove","path":"members[value eq \"`+james+`\"]"}`),
			} {
				w := e.patch("/Groups", id, body)
				require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
				assert.Equal(t, meta["version"], w.Header().Get("ETag"), body)
				assert.Equal(t, before, e.get("/Groups", id), body)
			}

			w := e.patch("/Groups", id, patchJSON(`{"op":"add","path":"members","value":[{"value":"`+james+`"}]}`))
			require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
			after := metaOf(e.get("/Groups", id))
			assert.NotEqual(t, meta["version"], after["version"])
			assert.Equal(t, after["version"], w.Header().Get("ETag"))
			assert.Equal(t, meta["created"], after["created"])
			was, err := time.Parse(time.RFC3339Nano, meta["lastModified"].(string))
			require.NoError(t, err)
			is, err := time.Parse(time.RFC3339Nano, after["lastModified"].(string))
			require.NoError(t, err)
			assert.True(t, is.After(was), "lastModified %s is not after %s", is, was)
		})
	}
}

// TestPatchNativeMembership: PATCH requests that only add and remove
// members go to a MembershipPatcher; anything else takes the full path.
func TestPatchNativeMembership(t *testing.T) {
	for _, c := range []struct {
		name   string
		strict bool
		body   string
		native bool
	}{
		{"add", false, patchJSON(`{"op":"add","path":"members","value":[{"value":"a"}]}`), true},
		{"add strict", true, patchJSON(`{"op":"add","path":"members","value":[{"value":"a"}]}`), true},
		{"remove by filter", false, patchJSON(`{"op":"remove","path":"members[value eq \"a\"]"}`), true},
		{"remove by value", false, patchJSON(`{"op":"Remove","path":"members","value":[{"value":"a"}]}`), true},
		{"remove by filter strict", true, patchJSON(`{"op":"remove","path":"members[value eq \"a\"]"}`), true},
		{"remove by or filter", false, patchJSON(`{"op":"remove","path":"members[value eq \"a\" or value eq \"b\"]"}`), false},
		{"remove all", false, patchJSON(`{"op":"remove","path":"members"}`), false},
		{"replace", false, patchJSON(`{"op":"replace","path":"members","value":[{"value":"a"}]}`), false},
		{"with displayName", false, patchJSON(`{"op":"add","path":"members","value":[{"value":"a"}]}`,
			`{"op":"replace","path":"displayName","value":"x"}`), false},
		{"add then remove the same", false, patchJSON(`{"op":"add","path":"members","value":[{"value":"a"}]}`,
			`{"op":"remove","path":"members[value eq \"a\"]"}`), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			store := &testMembershipStore{Store: memstore.New()}
			var opts []scim.Option
			if c.strict {
				opts = append(opts, scim.WithStrict())
			}
			e := newPatchEnv(t, store, opts...)
			id := e.create("/Groups", startGroup(`"members":[{"value":"a"},{"value":"b"}]`))
			w := e.patch("/Groups", id, c.body)
			require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
			assert.Equal(t, c.native, store.calls.Load() > 0)
		})
	}
}

func TestPatchNotFound(t *testing.T) {
	for _, st := range patchStores {
		e := newPatchEnv(t, st.new())
		w := e.patch("/Groups", "nope", patchJSON(`{"op":"add","path":"members","value":[{"value":"a"}]}`))
		assert.Equal(t, http.StatusNotFound, w.Code, st.name)
		w = e.patch("/Users", "nope", patchJSON(`{"op":"add","path":"nickName","value":"a"}`))
		assert.Equal(t, http.StatusNotFound, w.Code, st.name)
	}
}

func TestPatchLimits(t *testing.T) {
	e := newPatchEnv(t, memstore.New(), scim.WithMaxPatchOperations(2), scim.WithMaxBodyBytes(4096))
	id := e.create("/Users", startUser(""))
	before := e.get("/Users", id)
	op := `{"op":"add","path":"nickName","value":"Babs"}`
	w := e.patch("/Users", id, patchJSON(op, op, op))
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Equal(t, "tooMany", patchDecode(t, w)["scimType"])
	w = e.patch("/Users", id, patchJSON(`{"op":"add","path":"nickName","value":"`+strings.Repeat("x", 5000)+`"}`))
	assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	assert.Equal(t, before, e.get("/Users", id))
}

// TestPatchConcurrentMembers: 64 clients each adding 100 distinct members
// to one group at the same time, without If-Match, leave exactly 6,400
// members: read → apply → conditional write, retried, loses no update —
// through the generic path ("cas") as through native membership changes.
func TestPatchConcurrentMembers(t *testing.T) {
	const perClient = 100
	for _, st := range patchStores {
		clients := 64
		t.Run(st.name, func(t *testing.T) {
			store := st.new()
			for c := 0; c < clients; c++ {
				for i := 0; i < perClient; i++ {
					seedUsers(t, store, fmt.Sprintf("user-%02d-%03d", c, i))
				}
			}
			e := newPatchEnv(t, store)
			id := e.create("/Groups", startGroup(""))
			var wg sync.WaitGroup
			errs := make(chan string, clients)
			start := make(chan struct{})
			for c := 0; c < clients; c++ {
				vals := make([]string, perClient)
				for i := range vals {
					vals[i] = fmt.Sprintf(`{"value":"user-%02d-%03d"}`, c, i)
				}
				body := patchJSON(`{"op":"add","path":"members","value":[` + strings.Join(vals, ",") + `]}`)
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					r := httptest.NewRequest(http.MethodPatch, "http://example.com/scim/v2/Groups/"+id, strings.NewReader(body))
					r.Header.Set("Authorization", "Bearer t")
					w := httptest.NewRecorder()
					e.h.ServeHTTP(w, r)
					if w.Code != http.StatusNoContent {
						errs <- fmt.Sprintf("%d %s", w.Code, w.Body)
					}
				}()
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			members, _ := e.get("/Groups", id)["members"].([]any)
			require.Len(t, members, clients*perClient)
			seen := map[string]bool{}
			for _, m := range members {
				seen[m.(map[string]any)["value"].(string)] = true
			}
			assert.Len(t, seen, clients*perClient)
		})
	}
}
