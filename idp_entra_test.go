package scim_test

// Replays of the request sequences Microsoft Entra ID sends to a SCIM
// service provider, written from Microsoft's public documentation of its
// provisioning service (the request/response examples of "Develop and plan
// provisioning for a SCIM endpoint", the aadOptscim062020 flag of "Known
// issues with SCIM 2.0 protocol compliance") and from requests Entra ID is
// publicly reported to send. Values are our own.

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
)

// The helpers below are shared by the identity-provider, host and strict
// mode tests.

// patchBody is a PatchOp request with the given operations.
func patchBody(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, o := range ops {
		list[i] = o
	}
	return map[string]any{"schemas": []string{scim.PatchOpSchema}, "Operations": list}
}

// operation is one PATCH operation; an empty path is left out, and so is
// the value when none is given.
func operation(op, path string, value ...any) map[string]any {
	o := map[string]any{"op": op}
	if path != "" {
		o["path"] = path
	}
	if len(value) > 0 {
		o["value"] = value[0]
	}
	return o
}

// memberRefs lists member values as Entra ID sends them: a null $ref and
// the member's id.
func memberRefs(ids ...string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = map[string]any{"$ref": nil, "value": id}
	}
	return out
}

// randomGUID is what Entra ID's Test Connection looks up: a user that
// cannot exist.
func randomGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	s := hex.EncodeToString(b[:])
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// requireList checks a ListResponse with total matches before paging and
// returns its resources.
func requireList(t *testing.T, resp response, total int) []map[string]any {
	t.Helper()
	require.Equal(t, http.StatusOK, resp.status, resp.raw)
	require.Equal(t, "application/scim+json", resp.header.Get("Content-Type"))
	require.Equal(t, []any{scim.ListResponseSchema}, resp.body["schemas"], resp.raw)
	require.IsType(t, float64(0), resp.body["totalResults"], "totalResults is a JSON number")
	require.EqualValues(t, total, resp.body["totalResults"], resp.raw)
	require.IsType(t, float64(0), resp.body["startIndex"], "startIndex is a JSON number")
	require.IsType(t, float64(0), resp.body["itemsPerPage"], "itemsPerPage is a JSON number")
	list, ok := resp.body["Resources"].([]any)
	require.True(t, ok, "Resources is an array, never null or absent: %s", resp.raw)
	require.EqualValues(t, len(list), resp.body["itemsPerPage"])
	out := make([]map[string]any, len(list))
	for i, r := range list {
		out[i] = r.(map[string]any)
	}
	return out
}

// requireEmptyList is the answer to a query that matches nothing: 200, a
// ListResponse with totalResults 0 and "Resources": [].
func requireEmptyList(t *testing.T, resp response) {
	t.Helper()
	require.Empty(t, requireList(t, resp, 0))
	require.Contains(t, resp.raw, `"Resources":[]`)
	require.EqualValues(t, 1, resp.body["startIndex"])
}

// get reads a resource, failing the test on anything but 200.
func (s *server) get(path string) map[string]any {
	s.t.Helper()
	resp := s.do(http.MethodGet, path, nil)
	require.Equal(s.t, http.StatusOK, resp.status, resp.raw)
	return resp.body
}

// patchNoContent sends a PATCH and requires 204 No Content with an ETag.
func (s *server) patchNoContent(path string, body any) {
	s.t.Helper()
	resp := s.do(http.MethodPatch, path, body)
	require.Equal(s.t, http.StatusNoContent, resp.status, resp.raw)
	require.Empty(s.t, resp.raw)
	require.NotEmpty(s.t, resp.header.Get("ETag"))
}

func enterprise(res map[string]any) map[string]any {
	ext, _ := res[scim.EnterpriseUserSchema].(map[string]any)
	return ext
}

// memberIDs lists the member ids of a group.
func memberIDs(group map[string]any) []string {
	out := []string{}
	list, _ := group["members"].([]any)
	for _, m := range list {
		out = append(out, m.(map[string]any)["value"].(string))
	}
	return out
}

// workEmail returns the value of a user's email of type "work".
func workEmail(t *testing.T, u map[string]any) map[string]any {
	t.Helper()
	var found []map[string]any
	list, _ := u["emails"].([]any)
	for _, e := range list {
		if m := e.(map[string]any); m["type"] == "work" {
			found = append(found, m)
		}
	}
	require.Len(t, found, 1, "exactly one work email: %v", u["emails"])
	return found[0]
}

const enterpriseManager = scim.EnterpriseUserSchema + ":manager"

// entraUser is a user as Entra ID's default attribute mappings create it:
// both schemas, externalId (the object id), a work email, a formatted name,
// the enterprise department, nulls for what the source leaves empty, an
// empty roles list and meta.resourceType.
func entraUser(userName, externalID, email string) map[string]any {
	return map[string]any{
		"schemas":     []any{scim.UserSchema, scim.EnterpriseUserSchema},
		"externalId":  externalID,
		"userName":    userName,
		"active":      true,
		"displayName": "Adele Vance",
		"emails":      []any{map[string]any{"primary": true, "type": "work", "value": email}},
		"meta":        map[string]any{"resourceType": "User"},
		"name": map[string]any{
			"formatted":  "Adele Vance",
			"familyName": "Vance",
			"givenName":  "Adele",
		},
		"title":             nil,
		"preferredLanguage": nil,
		"phoneNumbers":      nil,
		"addresses":         nil,
		"roles":             []any{},
		scim.EnterpriseUserSchema: map[string]any{
			"department": "Retail",
			"manager":    nil,
		},
	}
}

// TestEntraTestConnection: Test Connection looks up a user that does not
// exist, by the matching attribute and a random GUID, and expects 200 with
// an empty ListResponse; a wrong Secret Token fails it.
func TestEntraTestConnection(t *testing.T) {
	s := newServer(t)
	s.create("/Users", user("someone@contoso.example"))
	s.create("/Groups", group("Someone's group"))
	for _, q := range []string{
		`/Users?filter=userName eq "` + randomGUID() + `"`,
		`/Users?filter=externalId eq "` + randomGUID() + `"`,
		`/Groups?excludedAttributes=members&filter=displayName eq "` + randomGUID() + `"`,
	} {
		t.Run(q, func(t *testing.T) {
			requireEmptyList(t, s.do(http.MethodGet, q, nil))
		})
	}
	t.Run("by work email", func(t *testing.T) {
		requireEmptyList(t, s.do(http.MethodGet, `/Users?filter=emails[type eq "work"].value eq "`+randomGUID()+`"`, nil))
	})
	t.Run("wrong secret token", func(t *testing.T) {
		resp := s.doAs("not-the-token", http.MethodGet, `/Users?filter=userName eq "`+randomGUID()+`"`, nil)
		requireError(t, resp, http.StatusUnauthorized, "")
	})
}

// TestEntraUserLifecycle replays the user sequence with Entra ID's default
// (non-flagged) PATCH shapes: capitalised ops and "True"/"False" strings.
func TestEntraUserLifecycle(t *testing.T) {
	s := newServer(t)
	const (
		userName = "adele.vance@contoso.example"
		objectID = "5f0e2c3a-7b1d-4e8a-9c6f-2d4b8a1e3f70"
		email    = "adele.vance@contoso.example"
	)
	var id, managerID, manager2ID string

	t.Run("match by userName finds nobody", func(t *testing.T) {
		requireEmptyList(t, s.do(http.MethodGet, `/Users?filter=userName eq "`+userName+`"`, nil))
	})
	t.Run("match by externalId, the next matching precedence, finds nobody", func(t *testing.T) {
		requireEmptyList(t, s.do(http.MethodGet, `/Users?filter=externalId eq "`+objectID+`"`, nil))
	})
	t.Run("create", func(t *testing.T) {
		resp := s.do(http.MethodPost, "/Users", entraUser(userName, objectID, email))
		require.Equal(t, http.StatusCreated, resp.status, resp.raw)
		id = resp.body["id"].(string)
		assert.Equal(t, s.url+"/Users/"+id, resp.header.Get("Location"))
		assert.Equal(t, userName, resp.body["userName"])
		assert.Equal(t, objectID, resp.body["externalId"])
		assert.Equal(t, true, resp.body["active"])
		assert.Equal(t, map[string]any{"primary": true, "type": "work", "value": email}, workEmail(t, resp.body))
		assert.Equal(t, map[string]any{"department": "Retail"}, enterprise(resp.body))
		for _, absent := range []string{"title", "preferredLanguage", "phoneNumbers", "addresses", "roles", "groups"} {
			assert.NotContains(t, resp.body, absent, "null and empty values are unassigned")
		}
	})
	t.Run("match by userName, any case", func(t *testing.T) {
		list := requireList(t, s.do(http.MethodGet, `/Users?filter=userName eq "`+strings.ToUpper(userName)+`"`, nil), 1)
		assert.Equal(t, id, list[0]["id"])
	})
	t.Run("match by externalId", func(t *testing.T) {
		list := requireList(t, s.do(http.MethodGet, `/Users?filter=externalId eq "`+objectID+`"`, nil), 1)
		assert.Equal(t, id, list[0]["id"])
	})
	t.Run("match by externalId, unquoted as in Microsoft's older example", func(t *testing.T) {
		list := requireList(t, s.do(http.MethodGet, `/Users?filter=externalId eq `+objectID, nil), 1)
		assert.Equal(t, id, list[0]["id"])
	})
	t.Run("match by work email", func(t *testing.T) {
		list := requireList(t, s.do(http.MethodGet, `/Users?filter=emails[type eq "work"].value eq "`+email+`"`, nil), 1)
		assert.Equal(t, id, list[0]["id"])
	})
	t.Run("get", func(t *testing.T) {
		u := s.get("/Users/" + id)
		assert.Equal(t, userName, u["userName"])
	})
	t.Run("update work email and family name", func(t *testing.T) {
		s.patchNoContent("/Users/"+id, patchBody(
			operation("Replace", `emails[type eq "work"].value`, "adele.v@contoso.example"),
			operation("Replace", "name.familyName", "Vance-Smith"),
		))
		u := s.get("/Users/" + id)
		assert.Equal(t, map[string]any{"primary": true, "type": "work", "value": "adele.v@contoso.example"}, workEmail(t, u))
		assert.Len(t, u["emails"], 1, "the work email is replaced, not added")
		assert.Equal(t, map[string]any{"formatted": "Adele Vance", "familyName": "Vance-Smith", "givenName": "Adele"}, u["name"])
	})
	t.Run("update userName", func(t *testing.T) {
		s.patchNoContent("/Users/"+id, patchBody(operation("Replace", "userName", "adele@contoso.example")))
		list := requireList(t, s.do(http.MethodGet, `/Users?filter=userName eq "adele@contoso.example"`, nil), 1)
		assert.Equal(t, id, list[0]["id"])
		requireEmptyList(t, s.do(http.MethodGet, `/Users?filter=userName eq "`+userName+`"`, nil))
	})
	t.Run("add a single-valued string", func(t *testing.T) {
		s.patchNoContent("/Users/"+id, patchBody(operation("Add", "nickName", "Addy")))
		assert.Equal(t, "Addy", s.get("/Users/" + id)["nickName"])
	})
	t.Run("replace several attributes, one operation each", func(t *testing.T) {
		s.patchNoContent("/Users/"+id, patchBody(
			operation("Replace", "displayName", "Adele V."),
			operation("Replace", `emails[type eq "work"].value`, "av@contoso.example"),
			operation("Replace", "name.givenName", "Adela"),
			operation("Replace", "name.familyName", "Vance"),
			operation("Replace", "externalId", "0c9d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f"),
			operation("Replace", scim.EnterpriseUserSchema+":employeeNumber", "E-1042"),
		))
		u := s.get("/Users/" + id)
		assert.Equal(t, "Adele V.", u["displayName"])
		assert.Equal(t, "av@contoso.example", workEmail(t, u)["value"])
		assert.Equal(t, "Adela", u["name"].(map[string]any)["givenName"])
		assert.Equal(t, "Vance", u["name"].(map[string]any)["familyName"])
		assert.Equal(t, "0c9d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f", u["externalId"])
		assert.Equal(t, map[string]any{"department": "Retail", "employeeNumber": "E-1042"}, enterprise(u))
	})
	t.Run("disable with the string False", func(t *testing.T) {
		s.patchNoContent("/Users/"+id, patchBody(operation("Replace", "active", "False")))
		u := s.get("/Users/" + id)
		assert.Equal(t, false, u["active"], "a boolean, whatever the client sent")
		assert.Equal(t, "adele@contoso.example", u["userName"], "disabling keeps the user")
		list := requireList(t, s.do(http.MethodGet, `/Users?filter=userName eq "adele@contoso.example"`, nil), 1)
		assert.Equal(t, false, list[0]["active"], "a disabled user is still found, with active false")
	})
	t.Run("re-enable with the string True", func(t *testing.T) {
		s.patchNoContent("/Users/"+id, patchBody(operation("Replace", "active", "True")))
		assert.Equal(t, true, s.get("/Users/" + id)["active"])
	})
	t.Run("provision the managers", func(t *testing.T) {
		managerID = s.create("/Users", entraUser("megan.bowen@contoso.example", randomGUID(), "megan.bowen@contoso.example"))
		manager2ID = s.create("/Users", entraUser("nestor.wilke@contoso.example", randomGUID(), "nestor.wilke@contoso.example"))
	})
	managerQuery := func() string {
		return `/Users?attributes=id&filter=id eq "` + id + `" and manager eq "` + managerID + `"`
	}
	t.Run("check the manager before setting it", func(t *testing.T) {
		requireEmptyList(t, s.do(http.MethodGet, managerQuery(), nil))
	})
	t.Run("set the manager", func(t *testing.T) {
		// Microsoft's example: path "manager" without its URN, the value an
		// array of one reference.
		s.patchNoContent("/Users/"+id, patchBody(operation("Add", "manager", []any{
			map[string]any{"$ref": s.url + "/Users/" + managerID, "value": managerID},
		})))
		assert.Equal(t, map[string]any{"value": managerID, "$ref": s.url + "/Users/" + managerID}, enterprise(s.get("/Users/" + id))["manager"])
		list := requireList(t, s.do(http.MethodGet, managerQuery(), nil), 1)
		assert.Equal(t, map[string]any{"id": id, "schemas": []any{scim.UserSchema}}, list[0])
	})
	t.Run("change the manager", func(t *testing.T) {
		// Also seen: the URN-qualified path and the manager's id as a plain string.
		s.patchNoContent("/Users/"+id, patchBody(operation("Replace", enterpriseManager, manager2ID)))
		assert.Equal(t, manager2ID, enterprise(s.get("/Users/" + id))["manager"].(map[string]any)["value"])
	})
	t.Run("remove the manager by value filter", func(t *testing.T) {
		s.patchNoContent("/Users/"+id, patchBody(operation("Remove", `manager[value eq "`+manager2ID+`"]`)))
		ext := enterprise(s.get("/Users/" + id))
		assert.NotContains(t, ext, "manager")
		assert.Equal(t, "Retail", ext["department"], "the rest of the extension stays")
	})
	t.Run("set and remove the manager by path", func(t *testing.T) {
		s.patchNoContent("/Users/"+id, patchBody(operation("Add", enterpriseManager, managerID)))
		require.Contains(t, enterprise(s.get("/Users/"+id)), "manager")
		s.patchNoContent("/Users/"+id, patchBody(operation("Remove", enterpriseManager)))
		assert.NotContains(t, enterprise(s.get("/Users/"+id)), "manager")
	})
	t.Run("delete", func(t *testing.T) {
		resp := s.do(http.MethodDelete, "/Users/"+id, nil)
		require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
		assert.Empty(t, resp.raw)
		requireError(t, s.do(http.MethodGet, "/Users/"+id, nil), http.StatusNotFound, "")
		requireEmptyList(t, s.do(http.MethodGet, `/Users?filter=userName eq "adele@contoso.example"`, nil))
		assert.Len(t, ids(s.do(http.MethodGet, "/Users", nil)), 2, "the managers stay")
	})
}

// TestEntraUserLifecycleSCIMCompliant replays the shapes Entra ID sends
// with the aadOptscim062020 flag in the Tenant URL: lowercase ops, real
// booleans, several attributes in one path-less replace whose keys are
// paths, and member removal by value filter.
func TestEntraUserLifecycleSCIMCompliant(t *testing.T) {
	s := newServer(t)
	const userName = "lee.gu@contoso.example"
	var id string

	t.Run("match finds nobody", func(t *testing.T) {
		requireEmptyList(t, s.do(http.MethodGet, `/Users?filter=userName eq "`+userName+`"`, nil))
	})
	t.Run("the flag, should it reach the handler in a query, is ignored", func(t *testing.T) {
		requireEmptyList(t, s.do(http.MethodGet, `/Users?aadOptscim062020&filter=userName eq "`+userName+`"`, nil))
	})
	t.Run("create", func(t *testing.T) {
		id = s.create("/Users", entraUser(userName, randomGUID(), userName))
	})
	t.Run("add a single-valued string", func(t *testing.T) {
		s.patchNoContent("/Users/"+id, patchBody(operation("add", "nickName", "Lee")))
		assert.Equal(t, "Lee", s.get("/Users/" + id)["nickName"])
	})
	t.Run("replace several attributes", func(t *testing.T) {
		s.patchNoContent("/Users/"+id, patchBody(
			operation("replace", `emails[type eq "work"].value`, "lgu@contoso.example"),
			operation("replace", "", map[string]any{
				"displayName":     "Lee Gu",
				"name.givenName":  "Li",
				"name.familyName": "Gu-Chen",
				scim.EnterpriseUserSchema + ":employeeNumber": "E-7",
				scim.EnterpriseUserSchema + ":department":     "Sales",
			}),
		))
		u := s.get("/Users/" + id)
		assert.Equal(t, "Lee Gu", u["displayName"])
		assert.Equal(t, "lgu@contoso.example", workEmail(t, u)["value"])
		assert.Equal(t, map[string]any{"formatted": "Adele Vance", "givenName": "Li", "familyName": "Gu-Chen"}, u["name"],
			"dotted keys set sub-attributes and leave the others")
		assert.Equal(t, map[string]any{"department": "Sales", "employeeNumber": "E-7"}, enterprise(u))
		assert.Equal(t, "Lee", u["nickName"], "attributes not named stay")
	})
	t.Run("replace a work email through a path-less key", func(t *testing.T) {
		s.patchNoContent("/Users/"+id, patchBody(operation("replace", "", map[string]any{
			`emails[type eq "work"].value`: "lee@contoso.example",
		})))
		assert.Equal(t, "lee@contoso.example", workEmail(t, s.get("/Users/"+id))["value"])
	})
	t.Run("disable with a boolean", func(t *testing.T) {
		s.patchNoContent("/Users/"+id, patchBody(operation("replace", "active", false)))
		assert.Equal(t, false, s.get("/Users/" + id)["active"])
		list := requireList(t, s.do(http.MethodGet, `/Users?filter=active eq false`, nil), 1)
		assert.Equal(t, id, list[0]["id"])
	})
	t.Run("re-enable with a boolean", func(t *testing.T) {
		s.patchNoContent("/Users/"+id, patchBody(operation("replace", "active", true)))
		assert.Equal(t, true, s.get("/Users/" + id)["active"])
	})
	t.Run("an update that changes nothing keeps the version", func(t *testing.T) {
		before := s.get("/Users/" + id)["meta"].(map[string]any)["version"]
		s.patchNoContent("/Users/"+id, patchBody(operation("replace", "active", true)))
		assert.Equal(t, before, s.get("/Users/" + id)["meta"].(map[string]any)["version"])
	})
	t.Run("delete", func(t *testing.T) {
		require.Equal(t, http.StatusNoContent, s.do(http.MethodDelete, "/Users/"+id, nil).status)
		requireError(t, s.do(http.MethodGet, "/Users/"+id, nil), http.StatusNotFound, "")
	})
}

// TestEntraGroupLifecycle replays the group sequence: groups are created
// without members, read with excludedAttributes=members, filled in batches
// and emptied with value lists (default) or value filters (flagged).
func TestEntraGroupLifecycle(t *testing.T) {
	s := newServer(t)
	const name = "Sales and Marketing"
	groupObjectID := randomGUID()
	var gid string
	users := make([]string, 6)

	t.Run("provision the users first", func(t *testing.T) {
		for i := range users {
			un := "member" + string(rune('a'+i)) + "@contoso.example"
			users[i] = s.create("/Users", entraUser(un, randomGUID(), un))
		}
	})
	t.Run("match by displayName finds nothing", func(t *testing.T) {
		requireEmptyList(t, s.do(http.MethodGet, `/Groups?excludedAttributes=members&filter=displayName eq "`+name+`"`, nil))
	})
	t.Run("create without members", func(t *testing.T) {
		// Entra ID lists a schema of its own beside the core one.
		resp := s.do(http.MethodPost, "/Groups", map[string]any{
			"schemas":     []any{scim.GroupSchema, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"},
			"externalId":  groupObjectID,
			"displayName": name,
			"meta":        map[string]any{"resourceType": "Group"},
		})
		require.Equal(t, http.StatusCreated, resp.status, resp.raw)
		gid = resp.body["id"].(string)
		assert.Equal(t, []any{scim.GroupSchema}, resp.body["schemas"])
		assert.Equal(t, name, resp.body["displayName"])
		assert.Equal(t, groupObjectID, resp.body["externalId"])
		assert.Equal(t, s.url+"/Groups/"+gid, resp.header.Get("Location"))
	})
	t.Run("match by displayName, members excluded", func(t *testing.T) {
		list := requireList(t, s.do(http.MethodGet, `/Groups?excludedAttributes=members&filter=displayName eq "`+name+`"`, nil), 1)
		assert.Equal(t, gid, list[0]["id"])
		assert.Equal(t, groupObjectID, list[0]["externalId"])
	})
	t.Run("add members in batches", func(t *testing.T) {
		s.patchNoContent("/Groups/"+gid, patchBody(operation("Add", "members", memberRefs(users[0], users[1]))))
		s.patchNoContent("/Groups/"+gid, patchBody(
			operation("Add", "members", memberRefs(users[2], users[3])),
			operation("Add", "members", memberRefs(users[4], users[5])),
		))
		assert.ElementsMatch(t, users, memberIDs(s.get("/Groups/"+gid)))
	})
	t.Run("adding a member again changes nothing", func(t *testing.T) {
		before := s.get("/Groups/" + gid)
		s.patchNoContent("/Groups/"+gid, patchBody(operation("Add", "members", memberRefs(users[0]))))
		after := s.get("/Groups/" + gid)
		assert.ElementsMatch(t, users, memberIDs(after))
		assert.Equal(t, before["meta"].(map[string]any)["version"], after["meta"].(map[string]any)["version"])
	})
	t.Run("read the group with members excluded", func(t *testing.T) {
		g := s.get("/Groups/" + gid + "?excludedAttributes=members")
		assert.NotContains(t, g, "members")
		assert.Equal(t, name, g["displayName"])
		assert.Equal(t, gid, g["id"])
	})
	t.Run("members reference their users, and users their group", func(t *testing.T) {
		g := s.get("/Groups/" + gid)
		for _, m := range g["members"].([]any) {
			v := m.(map[string]any)
			assert.Equal(t, s.url+"/Users/"+v["value"].(string), v["$ref"])
		}
		u := s.get("/Users/" + users[0])
		assert.Equal(t, []any{map[string]any{"value": gid, "display": name, "type": "direct", "$ref": s.url + "/Groups/" + gid}}, u["groups"])
	})
	memberQuery := func(uid string) string {
		return `/Groups?excludedAttributes=members&filter=id eq "` + gid + `" and members eq "` + uid + `"`
	}
	t.Run("check a membership", func(t *testing.T) {
		list := requireList(t, s.do(http.MethodGet, memberQuery(users[0]), nil), 1)
		assert.NotContains(t, list[0], "members")
	})
	t.Run("remove members with a value list", func(t *testing.T) {
		s.patchNoContent("/Groups/"+gid, patchBody(operation("Remove", "members", memberRefs(users[0]))))
		assert.ElementsMatch(t, users[1:], memberIDs(s.get("/Groups/"+gid)))
		requireEmptyList(t, s.do(http.MethodGet, memberQuery(users[0]), nil))
		assert.NotContains(t, s.get("/Users/"+users[0]), "groups")
	})
	t.Run("remove several members with one value list", func(t *testing.T) {
		s.patchNoContent("/Groups/"+gid, patchBody(operation("Remove", "members", memberRefs(users[1], users[2]))))
		assert.ElementsMatch(t, users[3:], memberIDs(s.get("/Groups/"+gid)))
	})
	t.Run("remove a member by value filter (aadOptscim062020)", func(t *testing.T) {
		s.patchNoContent("/Groups/"+gid, patchBody(operation("remove", `members[value eq "`+users[3]+`"]`)))
		assert.ElementsMatch(t, users[4:], memberIDs(s.get("/Groups/"+gid)))
	})
	t.Run("removing a member that is gone changes nothing", func(t *testing.T) {
		s.patchNoContent("/Groups/"+gid, patchBody(operation("Remove", "members", memberRefs(users[0]))))
		assert.ElementsMatch(t, users[4:], memberIDs(s.get("/Groups/"+gid)))
	})
	t.Run("rename", func(t *testing.T) {
		s.patchNoContent("/Groups/"+gid, patchBody(operation("Replace", "displayName", "Sales")))
		list := requireList(t, s.do(http.MethodGet, `/Groups?excludedAttributes=members&filter=displayName eq "Sales"`, nil), 1)
		assert.Equal(t, gid, list[0]["id"])
		assert.ElementsMatch(t, users[4:], memberIDs(s.get("/Groups/"+gid)), "renaming keeps the members")
		assert.Equal(t, "Sales", s.get("/Users/" + users[4])["groups"].([]any)[0].(map[string]any)["display"])
	})
	t.Run("delete", func(t *testing.T) {
		require.Equal(t, http.StatusNoContent, s.do(http.MethodDelete, "/Groups/"+gid, nil).status)
		requireError(t, s.do(http.MethodGet, "/Groups/"+gid, nil), http.StatusNotFound, "")
		u := s.get("/Users/" + users[4])
		assert.NotContains(t, u, "groups", "the members stay, outside the group")
	})
}
