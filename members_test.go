package scim_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// plainStore hides the memory store's MembershipPatcher, so the handler
// takes its generic read → patch → replace path.
type plainStore struct{ scim.Store }

// groupWith stores a Group with n members straight into store, with a
// User for each and one more, "newcomer", that is not a member.
func groupWith(tb testing.TB, store scim.Store, n int) string {
	tb.Helper()
	seedUsers(tb, store, "newcomer")
	members := make([]any, n)
	for i := range members {
		id := fmt.Sprintf("user-%d", i)
		seedUsers(tb, store, id)
		members[i] = map[string]any{"value": id, "type": "User"}
	}
	now := time.Now()
	_, err := store.Create(context.Background(), &scim.Resource{
		Type: "Group", ID: "big", Meta: scim.Meta{Created: now, LastModified: now},
		Attributes: map[string]any{"displayName": "big", "members": members},
	})
	require.NoError(tb, err)
	return "big"
}

func patchRequest(id, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPatch, "/scim/v2/Groups/"+id, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer rw")
	r.Header.Set("Content-Type", "application/scim+json")
	return r
}

const (
	addMember    = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"newcomer"}]}]}`
	removeMember = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"newcomer\"]"}]}`
)

// BenchmarkGroupMemberPatch adds and removes one member of a group of 10,
// 1,000 and 100,000 members through the handler: natively with the memory
// store's MembershipPatcher, and through the generic path for comparison.
func BenchmarkGroupMemberPatch(b *testing.B) {
	for _, path := range []string{"native", "generic"} {
		for _, n := range []int{10, 1000, 100000} {
			b.Run(fmt.Sprintf("%s/members=%d", path, n), func(b *testing.B) {
				var store scim.Store = memstore.New()
				if path == "generic" {
					store = plainStore{store}
				}
				id := groupWith(b, store, n)
				h, err := scim.New(store, scim.NewBearerTokens(scim.Token{Secret: "rw"}))
				require.NoError(b, err)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					body := addMember
					if i%2 == 1 {
						body = removeMember
					}
					w := httptest.NewRecorder()
					h.ServeHTTP(w, patchRequest(id, body))
					if w.Code != http.StatusNoContent {
						b.Fatalf("PATCH: %d %s", w.Code, w.Body)
					}
				}
			})
		}
	}
}

// TestGroupMemberPatchPaths checks that the native and generic paths leave
// the same members and that a change bumps the version while a no-op does not.
func TestGroupMemberPatchPaths(t *testing.T) {
	for _, native := range []bool{true, false} {
		t.Run(fmt.Sprintf("native=%v", native), func(t *testing.T) {
			var store scim.Store = memstore.New()
			if !native {
				store = plainStore{store}
			}
			seedUsers(t, store, "keep")
			s := newServerWithStore(t, store)
			u := s.create("/Users", user("member"))
			g := s.create("/Groups", group("g", "keep"))
			v0 := s.do(http.MethodGet, "/Groups/"+g, nil).header.Get("ETag")

			add := map[string]any{"schemas": []string{scim.PatchOpSchema}, "Operations": []any{
				map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": u, "display": "Member"}}},
			}}
			resp := s.do(http.MethodPatch, "/Groups/"+g, add)
			require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
			v1 := resp.header.Get("ETag")
			require.NotEqual(t, v0, v1)
			require.Equal(t, []any{map[string]any{"value": g, "display": "g", "type": "direct", "$ref": s.url + "/Groups/" + g}},
				s.do(http.MethodGet, "/Users/"+u, nil).body["groups"])

			// Adding again changes nothing, not even the version.
			again := s.do(http.MethodPatch, "/Groups/"+g, add)
			require.Equal(t, http.StatusNoContent, again.status)
			require.Equal(t, v1, again.header.Get("ETag"))

			// If-Match with a stale version is 412.
			requireError(t, s.do(http.MethodPatch, "/Groups/"+g, add, "If-Match", v0), 412, "")

			remove := map[string]any{"schemas": []string{scim.PatchOpSchema}, "Operations": []any{
				map[string]any{"op": "remove", "path": `members[value eq "` + u + `"]`},
			}}
			require.Equal(t, http.StatusNoContent, s.do(http.MethodPatch, "/Groups/"+g, remove, "If-Match", v1).status)
			got := s.do(http.MethodGet, "/Groups/"+g, nil)
			require.Len(t, got.body["members"], 1)
			require.NotContains(t, s.do(http.MethodGet, "/Users/"+u, nil).body, "groups")

			// With attributes the answer is the resource.
			withAttrs := s.do(http.MethodPatch, "/Groups/"+g+"?attributes=members", add)
			require.Equal(t, http.StatusOK, withAttrs.status, withAttrs.raw)
			require.Len(t, withAttrs.body["members"], 2)
			requireError(t, s.do(http.MethodPatch, "/Groups/missing", add), 404, "")
		})
	}
}

// TestMembersMustExist: a Group write naming a member id that is no User or
// Group of the tenant is refused with 400 invalidValue naming the id, and
// writes nothing, on every write path.
func TestMembersMustExist(t *testing.T) {
	for _, native := range []bool{true, false} {
		t.Run(fmt.Sprintf("native=%v", native), func(t *testing.T) {
			var store scim.Store = memstore.New()
			if !native {
				store = plainStore{store}
			}
			s := newServerWithStore(t, store)
			u := s.create("/Users", user("member"))
			g := s.create("/Groups", group("g", u))
			nested := s.create("/Groups", group("nested", g, u))
			before := s.do(http.MethodGet, "/Groups/"+nested, nil)

			refused := func(resp response, id string) {
				t.Helper()
				requireError(t, resp, http.StatusBadRequest, scim.SCIMTypeInvalidValue)
				require.Contains(t, resp.body["detail"], `"`+id+`"`, "the detail names the member")
				after := s.do(http.MethodGet, "/Groups/"+nested, nil)
				require.Equal(t, before.body, after.body, "a refused write changes nothing")
			}
			deleted := s.create("/Users", user("gone"))
			require.Equal(t, http.StatusNoContent, s.do(http.MethodDelete, "/Users/"+deleted, nil).status)

			for _, ghost := range []string{"does-not-exist", deleted, strings.ToUpper(u)} {
				resp := s.do(http.MethodPost, "/Groups", group("new", u, ghost))
				refused(resp, ghost)
				require.Equal(t, 0, int(s.do(http.MethodGet, `/Groups?filter=displayName eq "new"`, nil).body["totalResults"].(float64)), "POST stored nothing")

				refused(s.do(http.MethodPut, "/Groups/"+nested, group("nested", g, ghost)), ghost)

				add := map[string]any{"schemas": []string{scim.PatchOpSchema}, "Operations": []any{
					map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": ghost}}},
				}}
				refused(s.do(http.MethodPatch, "/Groups/"+nested, add), ghost)
				replace := map[string]any{"schemas": []string{scim.PatchOpSchema}, "Operations": []any{
					map[string]any{"op": "replace", "path": "members", "value": []any{map[string]any{"value": u}, map[string]any{"value": ghost}}},
				}}
				refused(s.do(http.MethodPatch, "/Groups/"+nested, replace), ghost)
			}
		})
	}
}
