package scim_test

// Okta's provisioning cycle against the handler, through the kit hosts use
// (idptest): its request sequences and shapes are written once, there,
// from Okta's public SCIM 2.0 protocol reference (user and group
// operations, import paging) and its SCIM 1.1 reference (the connection
// check). The callbacks here check what the kit cannot know: this
// library's exact answers, its versions, and requests beyond the cycle.

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/idptest"
)

// TestOkta plays Okta's cycle on each store.
func TestOkta(t *testing.T) {
	idpStores(t, func(t *testing.T, newStore func(t *testing.T) scim.Store) {
		s := newServerWithStore(t, newStore(t))
		r := idptest.Okta(t, s.srv.Config.Handler, idptest.Options{Token: "rw", TenantURL: s.url, AfterStep: oktaInternals(t, s)})
		requireSteps(t, r, "Test API Credentials", "Push new users", "Push profile updates", "Reactivate users", "Sync passwords",
			"Reactivate users (PUT)", "Push groups", "Rename pushed groups", "Push group memberships", "Update group memberships",
			"Unlink pushed groups (delete in the app)")
		requireList(t, s.do(http.MethodGet, "/Users", nil), 0)
		requireList(t, s.do(http.MethodGet, "/Groups", nil), 0)
	})
}

// oktaInternals checks, after each step of Okta's cycle, what this library
// answers beyond what the kit checks.
func oktaInternals(t *testing.T, s *server) func(ctx context.Context, step *idptest.Step) error {
	var passwordVersion any // of user 0 before the password sync
	var user0, gid string
	return func(ctx context.Context, step *idptest.Step) error {
		exactAnswers(t, s.url, step)
		switch step.Name {
		case "Test API Credentials":
			requireError(t, s.doAs("", http.MethodGet, "/Users?startIndex=1&count=2", nil), http.StatusUnauthorized, "")

		case "Push new users":
			_, existence := findExchange(t, step, "existence check", sends(http.MethodGet, "count=100", ""))
			assert.EqualValues(t, 0, exchange(t, existence).body["itemsPerPage"])
			u := step.Users[0].ID
			user0 = u
			_, post := findExchange(t, step, "create", func(ex idptest.Exchange) bool {
				return ex.Method == http.MethodPost && exchange(t, ex).body["id"] == u
			})
			created := exchange(t, post).body
			assert.NotContains(t, created, "groups", "groups is read-only: the empty list is ignored")
			assert.Equal(t, "User", created["meta"].(map[string]any)["resourceType"])
			assert.Equal(t, created, s.get("/Users/"+u), "a GET returns what the create answered")

		case "Push profile updates":
			i, put := findExchange(t, step, "PUT", sends(http.MethodPut, "/Users/", ""))
			before, after := exchange(t, step.Exchanges[i-1]).body, exchange(t, put).body
			assert.Equal(t, before["meta"].(map[string]any)["created"], after["meta"].(map[string]any)["created"])
			assert.NotEqual(t, version(before), version(after))
			assert.Equal(t, after, exchange(t, step.Exchanges[i+1]).body, "the PUT answers what a GET then reads")
			// The same PUT again changes nothing.
			again := s.do(http.MethodPut, "/Users/"+step.Users[0].ID, after)
			require.Equal(t, http.StatusOK, again.status, again.raw)
			assert.Equal(t, after["meta"], again.body["meta"])

		case "Reactivate users":
			passwordVersion = version(s.get("/Users/" + step.Users[0].ID))

		case "Sync passwords":
			assert.NotEqual(t, passwordVersion, version(s.get("/Users/"+step.Users[0].ID)), "the password was written")

		case "Reactivate users (PUT)":
			// writeOnly: a client cannot read the password back, so a PUT
			// that leaves it out keeps it, and a PUT of what GET returned
			// writes nothing.
			u := s.get("/Users/" + step.Users[0].ID)
			resp := s.do(http.MethodPut, "/Users/"+step.Users[0].ID, u)
			require.Equal(t, http.StatusOK, resp.status, resp.raw)
			assert.Equal(t, version(u), version(resp.body))

		case "Push groups":
			gid = step.Groups[0].ID
			assert.Equal(t, "Group", s.get("/Groups/" + gid)["meta"].(map[string]any)["resourceType"])

		case "Rename pushed groups":
			name := s.get("/Groups/" + gid)["displayName"]
			resp := s.do(http.MethodPatch, "/Groups/"+gid, patchBody(operation("replace", "", map[string]any{"id": randomGUID(), "displayName": "Hijack"})))
			requireError(t, resp, http.StatusBadRequest, "mutability")
			assert.Equal(t, name, s.get("/Groups/" + gid)["displayName"], "a path-less replace with another id is refused")

		case "Push group memberships":
			g := s.get("/Groups/" + gid)
			for _, m := range g["members"].([]any) {
				assert.Contains(t, m.(map[string]any)["display"], "@", "the display Okta sends is kept")
			}
			s.patchNoContent("/Groups/"+gid, patchBody(operation("replace", "", map[string]any{"id": gid, "displayName": g["displayName"]})))
			assert.Equal(t, version(g), version(s.get("/Groups/"+gid)), "the name Okta sends along changes nothing")

		case "Update group memberships":
			i, _ := findExchange(t, step, "remove and add", sends(http.MethodPatch, "/Groups/", `"op":"remove"`))
			after := exchange(t, step.Exchanges[i+1]).body
			assert.NotContains(t, memberIDs(after), user0, "the member removed by value filter")
			for _, id := range memberIDs(s.get("/Groups/" + gid)) { // after the replace of all members
				require.Contains(t, s.get("/Users/"+id), "groups", "members carry their groups")
				assert.Equal(t, gid, s.get("/Users/" + id)["groups"].([]any)[0].(map[string]any)["value"])
			}

		case "Unlink pushed groups (delete in the app)":
			for _, u := range step.Groups {
				requireError(t, s.do(http.MethodGet, "/Groups/"+u.ID, nil), http.StatusNotFound, "")
			}
			assert.NotContains(t, s.get("/Users/"+memberOf(t, s)), "groups", "the members stay, outside the group")
		}
		return nil
	}
}

// memberOf returns the id of any user.
func memberOf(t *testing.T, s *server) string {
	t.Helper()
	list := ids(s.do(http.MethodGet, "/Users?count=1", nil))
	require.NotEmpty(t, list)
	return list[0]
}

// TestOktaImportPaging: Okta's import of 205 users, 100 at a time, sees
// each once; past the end is an empty page with the total; the same
// pages twice are the same.
func TestOktaImportPaging(t *testing.T) {
	attrs := []idptest.Attribute{}
	for _, a := range idptest.AllAttributes() {
		if a != idptest.Password { // 205 Argon2id hashes would make it slow
			attrs = append(attrs, a)
		}
	}
	idpStores(t, func(t *testing.T, newStore func(t *testing.T) scim.Store) {
		s := newServerWithStore(t, newStore(t))
		const n = 205
		r := idptest.Okta(t, s.srv.Config.Handler, idptest.Options{Token: "rw", TenantURL: s.url, Users: n, Groups: 1, GroupMembers: 3, Attributes: attrs,
			AfterStep: func(ctx context.Context, step *idptest.Step) error {
				exactAnswers(t, s.url, step)
				if step.Name != "Import users and groups" {
					return nil
				}
				total := n + 1 // and the app's own user
				assert.GreaterOrEqual(t, step.Requests, 3, "three pages")
				resp := s.do(http.MethodGet, fmt.Sprintf("/Users?startIndex=%d&count=100", total+1), nil)
				assert.Empty(t, requireList(t, resp, total), "past the end: an empty page, the total still counted")
				a := ids(s.do(http.MethodGet, "/Users?startIndex=101&count=100", nil))
				b := ids(s.do(http.MethodGet, "/Users?startIndex=101&count=100", nil))
				assert.Equal(t, a, b, "the same pages twice are the same")
				return nil
			}})
		requireSteps(t, r, "Import users and groups")
	})
}
