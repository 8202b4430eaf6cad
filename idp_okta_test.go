package scim_test

// Replays of the request sequences Okta sends to a SCIM 2.0 service
// provider, written from Okta's public SCIM 2.0 protocol reference (user
// and group operations, import paging) and its SCIM 1.1 reference (the
// connection check). Values are our own.

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
)

// oktaUser is a user as Okta's default app profile creates it: a work
// email, a display name and locale, Okta's user id as externalId, an empty
// groups list and a password.
func oktaUser(userName string) map[string]any {
	return map[string]any{
		"schemas":     []any{scim.UserSchema},
		"userName":    userName,
		"name":        map[string]any{"givenName": "Kim", "familyName": "Akers"},
		"emails":      []any{map[string]any{"primary": true, "value": userName, "type": "work"}},
		"displayName": "Kim Akers",
		"locale":      "en-US",
		"externalId":  "00u1ab2cd3EF4gh5i6j7",
		"groups":      []any{},
		"password":    "t3mp-Pa55",
		"active":      true,
	}
}

// TestOktaConnection: saving the integration lists users and groups with
// constant paging parameters; both must answer a ListResponse.
func TestOktaConnection(t *testing.T) {
	s := newServer(t)
	requireList(t, s.do(http.MethodGet, "/Users?startIndex=1&count=2", nil), 0)
	requireList(t, s.do(http.MethodGet, "/Groups?startIndex=1&count=100", nil), 0)
	requireError(t, s.doAs("", http.MethodGet, "/Users?startIndex=1&count=2", nil), http.StatusUnauthorized, "")
}

// TestOktaUserLifecycle replays assignment (existence check, create),
// profile updates by PUT, deactivation and reactivation by path-less
// PATCH (OIN integrations) and by PUT (App Integration Wizard ones), and
// password sync. Okta never deletes users.
func TestOktaUserLifecycle(t *testing.T) {
	s := newServer(t)
	const userName = "kim.akers@okta.example"
	existence := `/Users?filter=userName eq "` + userName + `"&startIndex=1&count=100`
	var id string
	var created map[string]any

	t.Run("existence check finds nobody", func(t *testing.T) {
		resp := s.do(http.MethodGet, existence, nil)
		requireEmptyList(t, resp)
		assert.EqualValues(t, 0, resp.body["itemsPerPage"])
	})
	t.Run("create with password and empty groups", func(t *testing.T) {
		resp := s.do(http.MethodPost, "/Users", oktaUser(userName))
		require.Equal(t, http.StatusCreated, resp.status, resp.raw)
		created = resp.body
		id = resp.body["id"].(string)
		assert.NotEmpty(t, id)
		assert.Equal(t, userName, resp.body["userName"])
		assert.Equal(t, "00u1ab2cd3EF4gh5i6j7", resp.body["externalId"])
		assert.Equal(t, "en-US", resp.body["locale"])
		assert.Equal(t, true, resp.body["active"])
		assert.NotContains(t, resp.body, "password", "a password is never returned")
		assert.NotContains(t, resp.body, "groups", "groups is read-only: the empty list is ignored")
		assert.Equal(t, "User", resp.body["meta"].(map[string]any)["resourceType"])
	})
	t.Run("existence check finds the user", func(t *testing.T) {
		list := requireList(t, s.do(http.MethodGet, existence, nil), 1)
		assert.Equal(t, id, list[0]["id"])
	})
	t.Run("creating it again is a conflict", func(t *testing.T) {
		requireError(t, s.do(http.MethodPost, "/Users", oktaUser(userName)), http.StatusConflict, "uniqueness")
	})
	t.Run("retrieve", func(t *testing.T) {
		u := s.get("/Users/" + id)
		assert.Equal(t, created, u)
	})
	t.Run("update by PUT, echoing id, meta and groups", func(t *testing.T) {
		// Okta GETs the user, changes what changed, and PUTs it all back.
		body := s.get("/Users/" + id)
		body["name"].(map[string]any)["middleName"] = "Excited"
		body["emails"].([]any)[0].(map[string]any)["display"] = userName
		body["groups"] = []any{}
		resp := s.do(http.MethodPut, "/Users/"+id, body)
		require.Equal(t, http.StatusOK, resp.status, resp.raw)
		assert.Equal(t, id, resp.body["id"])
		assert.Equal(t, map[string]any{"givenName": "Kim", "middleName": "Excited", "familyName": "Akers"}, resp.body["name"])
		assert.Equal(t, userName, workEmail(t, resp.body)["display"])
		assert.Equal(t, created["meta"].(map[string]any)["created"], resp.body["meta"].(map[string]any)["created"])
		assert.NotEqual(t, created["meta"].(map[string]any)["version"], resp.body["meta"].(map[string]any)["version"])
		assert.Equal(t, resp.body, s.get("/Users/"+id))
	})
	t.Run("the same PUT again changes nothing", func(t *testing.T) {
		before := s.get("/Users/" + id)
		resp := s.do(http.MethodPut, "/Users/"+id, before)
		require.Equal(t, http.StatusOK, resp.status, resp.raw)
		assert.Equal(t, before["meta"], resp.body["meta"])
	})
	t.Run("deactivate by path-less PATCH", func(t *testing.T) {
		s.patchNoContent("/Users/"+id, patchBody(operation("replace", "", map[string]any{"active": false})))
		u := s.get("/Users/" + id)
		assert.Equal(t, false, u["active"])
		assert.Equal(t, "Excited", u["name"].(map[string]any)["middleName"], "deactivation keeps the profile")
		list := requireList(t, s.do(http.MethodGet, existence, nil), 1)
		assert.Equal(t, false, list[0]["active"])
	})
	t.Run("reactivate by path-less PATCH", func(t *testing.T) {
		s.patchNoContent("/Users/"+id, patchBody(operation("replace", "", map[string]any{"active": true})))
		assert.Equal(t, true, s.get("/Users/" + id)["active"])
	})
	t.Run("sync the password", func(t *testing.T) {
		before := s.get("/Users/" + id)["meta"].(map[string]any)["version"]
		s.patchNoContent("/Users/"+id, patchBody(operation("replace", "", map[string]any{"password": "n3w-Pa55"})))
		u := s.get("/Users/" + id)
		assert.NotContains(t, u, "password")
		assert.NotEqual(t, before, u["meta"].(map[string]any)["version"], "the password was written")
	})
	t.Run("deactivate by PUT", func(t *testing.T) {
		body := s.get("/Users/" + id)
		body["active"] = false
		resp := s.do(http.MethodPut, "/Users/"+id, body)
		require.Equal(t, http.StatusOK, resp.status, resp.raw)
		assert.Equal(t, false, resp.body["active"])
		assert.Equal(t, userName, s.get("/Users/" + id)["userName"])
	})
	t.Run("reactivate by PUT", func(t *testing.T) {
		body := s.get("/Users/" + id)
		body["active"] = true
		resp := s.do(http.MethodPut, "/Users/"+id, body)
		require.Equal(t, http.StatusOK, resp.status, resp.raw)
		assert.Equal(t, true, resp.body["active"])
	})
	t.Run("a PUT without the password keeps it", func(t *testing.T) {
		// writeOnly: the client cannot read it back, so leaving it out is
		// not removing it. Seen through the version: a PUT of what GET
		// returned writes nothing.
		before := s.get("/Users/" + id)
		resp := s.do(http.MethodPut, "/Users/"+id, before)
		require.Equal(t, http.StatusOK, resp.status, resp.raw)
		assert.Equal(t, before["meta"].(map[string]any)["version"], resp.body["meta"].(map[string]any)["version"])
	})
}

// TestOktaGroupPush replays Group Push: create with an empty member list,
// rename by a path-less replace that carries the group's own id, member
// additions and removals in one PATCH, a full member replace, the PUT that
// App Integration Wizard integrations send, and unlinking with delete.
func TestOktaGroupPush(t *testing.T) {
	s := newServer(t)
	var gid string
	u := make([]string, 3)
	for i := range u {
		u[i] = s.create("/Users", oktaUser(fmt.Sprintf("user%d@okta.example", i)))
	}
	member := func(id string, i int) map[string]any {
		return map[string]any{"value": id, "display": fmt.Sprintf("user%d@okta.example", i)}
	}

	t.Run("push creates the group", func(t *testing.T) {
		resp := s.do(http.MethodPost, "/Groups", map[string]any{
			"schemas":     []any{scim.GroupSchema},
			"displayName": "Engineering",
			"members":     []any{},
		})
		require.Equal(t, http.StatusCreated, resp.status, resp.raw)
		gid = resp.body["id"].(string)
		assert.Equal(t, "Engineering", resp.body["displayName"])
		assert.Equal(t, "Group", resp.body["meta"].(map[string]any)["resourceType"])
	})
	t.Run("retrieve", func(t *testing.T) {
		g := s.get("/Groups/" + gid)
		assert.Equal(t, "Engineering", g["displayName"])
		assert.Empty(t, memberIDs(g))
	})
	t.Run("rename by path-less replace with id", func(t *testing.T) {
		s.patchNoContent("/Groups/"+gid, patchBody(operation("replace", "", map[string]any{
			"id": gid, "displayName": "Engineering EMEA",
		})))
		g := s.get("/Groups/" + gid)
		assert.Equal(t, "Engineering EMEA", g["displayName"])
		assert.Equal(t, gid, g["id"])
	})
	t.Run("a path-less replace with another id is refused", func(t *testing.T) {
		resp := s.do(http.MethodPatch, "/Groups/"+gid, patchBody(operation("replace", "", map[string]any{
			"id": randomGUID(), "displayName": "Hijack",
		})))
		requireError(t, resp, http.StatusBadRequest, "mutability")
		assert.Equal(t, "Engineering EMEA", s.get("/Groups/" + gid)["displayName"])
	})
	t.Run("add members", func(t *testing.T) {
		s.patchNoContent("/Groups/"+gid, patchBody(operation("add", "members", []any{member(u[0], 0), member(u[1], 1)})))
		g := s.get("/Groups/" + gid)
		assert.ElementsMatch(t, []string{u[0], u[1]}, memberIDs(g))
		for _, m := range g["members"].([]any) {
			assert.Contains(t, m.(map[string]any)["display"], "@okta.example")
		}
	})
	t.Run("the rename sent with each membership update changes nothing", func(t *testing.T) {
		before := s.get("/Groups/" + gid)["meta"].(map[string]any)["version"]
		s.patchNoContent("/Groups/"+gid, patchBody(operation("replace", "", map[string]any{
			"id": gid, "displayName": "Engineering EMEA",
		})))
		assert.Equal(t, before, s.get("/Groups/" + gid)["meta"].(map[string]any)["version"])
	})
	t.Run("remove one member and add another in one PATCH", func(t *testing.T) {
		s.patchNoContent("/Groups/"+gid, patchBody(
			operation("remove", `members[value eq "`+u[1]+`"]`),
			operation("add", "members", []any{member(u[2], 2)}),
		))
		assert.ElementsMatch(t, []string{u[0], u[2]}, memberIDs(s.get("/Groups/"+gid)))
		assert.NotContains(t, s.get("/Users/"+u[1]), "groups")
		assert.Equal(t, gid, s.get("/Users/" + u[2])["groups"].([]any)[0].(map[string]any)["value"])
	})
	t.Run("replace all members", func(t *testing.T) {
		s.patchNoContent("/Groups/"+gid, patchBody(operation("replace", "members", []any{member(u[1], 1), member(u[2], 2)})))
		assert.ElementsMatch(t, []string{u[1], u[2]}, memberIDs(s.get("/Groups/"+gid)))
	})
	t.Run("update by PUT", func(t *testing.T) {
		resp := s.do(http.MethodPut, "/Groups/"+gid, map[string]any{
			"schemas":     []any{scim.GroupSchema},
			"id":          gid,
			"displayName": "Engineering",
			"members":     []any{member(u[0], 0)},
		})
		require.Equal(t, http.StatusOK, resp.status, resp.raw)
		assert.Equal(t, "Engineering", resp.body["displayName"])
		assert.Equal(t, []string{u[0]}, memberIDs(resp.body))
	})
	t.Run("import lists groups", func(t *testing.T) {
		list := requireList(t, s.do(http.MethodGet, "/Groups?startIndex=1&count=100", nil), 1)
		assert.Equal(t, gid, list[0]["id"])
	})
	t.Run("unlink and delete", func(t *testing.T) {
		resp := s.do(http.MethodDelete, "/Groups/"+gid, nil)
		require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
		requireError(t, s.do(http.MethodGet, "/Groups/"+gid, nil), http.StatusNotFound, "")
		assert.Equal(t, http.StatusOK, s.do(http.MethodGet, "/Users/"+u[0], nil).status, "the members stay")
	})
}

// TestOktaImportPaging: import reads /Users 100 at a time, moving
// startIndex by 100 until totalResults are seen, and needs a stable order
// and integers, not strings, for the paging numbers.
func TestOktaImportPaging(t *testing.T) {
	s := newServer(t)
	const n = 205
	want := map[string]bool{}
	for i := 0; i < n; i++ {
		want[s.create("/Users", user(fmt.Sprintf("import%03d@okta.example", i)))] = true
	}
	seen := map[string]bool{}
	for start := 1; start <= n; start += 100 {
		resp := s.do(http.MethodGet, fmt.Sprintf("/Users?startIndex=%d&count=100", start), nil)
		list := requireList(t, resp, n)
		assert.EqualValues(t, start, resp.body["startIndex"])
		assert.Len(t, list, min(100, n-start+1))
		for _, r := range list {
			id := r["id"].(string)
			assert.False(t, seen[id], "each user is seen once")
			seen[id] = true
		}
	}
	assert.Equal(t, want, seen)

	// Past the end: an empty page, the total still counted.
	resp := s.do(http.MethodGet, fmt.Sprintf("/Users?startIndex=%d&count=100", n+1), nil)
	assert.Empty(t, requireList(t, resp, n))

	// The same pages twice are the same pages.
	a := ids(s.do(http.MethodGet, "/Users?startIndex=101&count=100", nil))
	b := ids(s.do(http.MethodGet, "/Users?startIndex=101&count=100", nil))
	assert.Equal(t, a, b)
}
