package scim_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
)

// leniency is one thing identity providers send beyond RFC 7643/7644 that
// the handler accepts by default and WithStrict rejects.
type leniency struct {
	name   string
	method string
	// path and body may hold {user}, {member} and {group}: the ids of the
	// fixture's resources.
	path string
	body any
	// lenient is the status the default handler answers.
	lenient int
	// scimType is the error type of the strict handler's 400.
	scimType string
}

// strictFixture creates, on s, a user "bjensen" (a work email, a name, a
// department and a manager), a user "member", and a group "team" holding
// member. The User type carries the acme extension (an integer "level").
func strictFixture(t *testing.T, s *server) map[string]string {
	t.Helper()
	member := s.create("/Users", user("member"))
	u := s.create("/Users", user("bjensen", map[string]any{
		"active": true,
		"name":   map[string]any{"givenName": "Barbara", "familyName": "Jensen"},
		"emails": []any{map[string]any{"value": "bjensen@example.com", "type": "work", "primary": true}},
		scim.EnterpriseUserSchema: map[string]any{
			"department": "Tour Operations",
			"manager":    map[string]any{"value": member},
		},
		acmeSchema: map[string]any{"level": 3},
	}))
	g := s.create("/Groups", group("team", member))
	return map[string]string{"{user}": u, "{member}": member, "{group}": g}
}

func fillIDs(s string, ids map[string]string) string {
	for k, v := range ids {
		s = strings.ReplaceAll(s, k, v)
	}
	return s
}

// TestStrictRejectsEachLeniency plays each leniency against a default
// handler, which accepts it, and a WithStrict one, which answers 400 with
// the scimType the RFC gives. The POST leniencies of
// TestCreateStrictRejectsWhatLenientAccepts are not repeated here.
func TestStrictRejectsEachLeniency(t *testing.T) {
	const (
		dept    = scim.EnterpriseUserSchema + ":department"
		manager = scim.EnterpriseUserSchema + ":manager"
	)
	get := func(name, filter string) leniency {
		return leniency{name: "filter: " + name, method: http.MethodGet, path: "/Users?filter=" + filter, lenient: http.StatusOK, scimType: "invalidFilter"}
	}
	patchUser := func(name, scimType string, ops ...map[string]any) leniency {
		return leniency{name: "patch: " + name, method: http.MethodPatch, path: "/Users/{user}", body: patchBody(ops...), lenient: http.StatusNoContent, scimType: scimType}
	}
	patchGroup := func(name, scimType string, ops ...map[string]any) leniency {
		return leniency{name: "patch: " + name, method: http.MethodPatch, path: "/Groups/{group}", body: patchBody(ops...), lenient: http.StatusNoContent, scimType: scimType}
	}
	tests := []leniency{
		// Filters (Entra ID, Microsoft's SCIM validator).
		get("unquoted string", `userName eq bjensen`),
		get("unquoted value with a dot", `emails.value co example.com`),
		get("string for a boolean", `active eq "true"`),
		get("capitalised literal", `active eq True`),
		get("number for a string", `userName eq 12`),
		get("string for an integer", acmeSchema+`:level eq "3"`),
		get("unquoted dateTime", `meta.created gt 2000-01-01T00:00:00Z`),
		get("dateTime without a zone", `meta.lastModified gt "2000-01-01T00:00:00"`),
		get("extension attribute without its URN", `department eq "Tour Operations"`),
		get("sub-attribute after a value filter (Entra's match on a work email)", `emails[type eq "work"].value eq "bjensen@example.com"`),

		// Creating and replacing.
		{name: "create: string for an integer", method: http.MethodPost, path: "/Users",
			body: user("a", map[string]any{acmeSchema: map[string]any{"level": "4"}}), lenient: http.StatusCreated, scimType: "invalidValue"},
		{name: "create: unknown sub-attribute", method: http.MethodPost, path: "/Users",
			body: user("a", map[string]any{"name": map[string]any{"givenName": "A", "nickname": "x"}}), lenient: http.StatusCreated, scimType: "invalidValue"},
		{name: "create: member displayName for display", method: http.MethodPost, path: "/Groups",
			body:    map[string]any{"schemas": []any{scim.GroupSchema}, "displayName": "g", "members": []any{map[string]any{"value": "{member}", "displayName": "Member"}}},
			lenient: http.StatusCreated, scimType: "invalidValue"},
		{name: "create: member as a bare id", method: http.MethodPost, path: "/Groups",
			body:    map[string]any{"schemas": []any{scim.GroupSchema}, "displayName": "g", "members": []any{"{member}"}},
			lenient: http.StatusCreated, scimType: "invalidValue"},
		{name: "create: Entra ID's group schema beside the core one", method: http.MethodPost, path: "/Groups",
			body:    map[string]any{"schemas": []any{scim.GroupSchema, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"}, "displayName": "g"},
			lenient: http.StatusCreated, scimType: "invalidValue"},
		{name: "replace: unknown attribute", method: http.MethodPut, path: "/Users/{user}",
			body: user("bjensen", map[string]any{"mailNickname": "bj"}), lenient: http.StatusOK, scimType: "invalidValue"},
		{name: "replace: missing schemas", method: http.MethodPut, path: "/Users/{user}",
			body: map[string]any{"userName": "bjensen"}, lenient: http.StatusOK, scimType: "invalidValue"},
		{name: "replace: string boolean", method: http.MethodPut, path: "/Users/{user}",
			body: user("bjensen", map[string]any{"active": "False"}), lenient: http.StatusOK, scimType: "invalidValue"},

		// Searching.
		{name: "search: no SearchRequest schema", method: http.MethodPost, path: "/Users/.search",
			body: map[string]any{"filter": `userName eq "bjensen"`}, lenient: http.StatusOK, scimType: "invalidValue"},
		{name: "search: attributes as one comma-separated string", method: http.MethodPost, path: "/Users/.search",
			body:    map[string]any{"schemas": []any{scim.SearchRequestSchema}, "attributes": "userName,emails"},
			lenient: http.StatusOK, scimType: "invalidValue"},

		// PATCH: the request.
		patchUser("capitalised op (Entra ID)", "invalidSyntax", operation("Replace", "displayName", "Babs")),
		{name: "patch: lowercase operations key", method: http.MethodPatch, path: "/Users/{user}",
			body:    map[string]any{"schemas": []any{scim.PatchOpSchema}, "operations": []any{operation("replace", "displayName", "Babs")}},
			lenient: http.StatusNoContent, scimType: "invalidValue"},
		{name: "patch: no PatchOp schema", method: http.MethodPatch, path: "/Users/{user}",
			body:    map[string]any{"Operations": []any{operation("replace", "displayName", "Babs")}},
			lenient: http.StatusNoContent, scimType: "invalidValue"},

		// PATCH: values.
		patchUser("string boolean (Entra ID)", "invalidValue", operation("replace", "active", "False")),
		patchUser("string boolean in a path-less value", "invalidValue", operation("replace", "", map[string]any{"active": "false"})),
		patchUser("single value for a multi-valued attribute", "invalidValue", operation("add", "emails", map[string]any{"value": "b@example.com", "type": "home"})),
		patchUser("manager as an array (Entra ID)", "invalidValue", operation("add", manager, []any{map[string]any{"value": "{member}"}})),
		patchUser("manager as a plain id (Entra ID)", "invalidValue", operation("replace", manager, "{member}")),
		patchUser("extension attribute path without its URN (Entra ID's manager)", "invalidPath", operation("add", "manager", map[string]any{"value": "{member}"})),
		patchUser("unquoted value in a path filter", "invalidPath", operation("replace", `emails[type eq work].value`, "b@example.com")),

		// PATCH: path-less values whose keys are paths (aadOptscim062020).
		patchUser("path-less replace with a dotted key", "invalidPath", operation("replace", "", map[string]any{"name.givenName": "Babs"})),
		patchUser("path-less replace with a URN-qualified key", "invalidPath", operation("replace", "", map[string]any{dept: "Sales"})),
		patchUser("path-less replace with a value-filter key", "invalidPath", operation("replace", "", map[string]any{`emails[type eq "work"].value`: "b@example.com"})),
		patchUser("path-less replace with an unknown attribute", "invalidPath", operation("replace", "", map[string]any{"mailNickname": "bj", "displayName": "Babs"})),
		patchUser("path-less replace with a read-only attribute", "mutability", operation("replace", "", map[string]any{"groups": []any{}, "displayName": "Babs"})),
		patchUser("path-less replace carrying meta", "mutability", operation("replace", "", map[string]any{"meta": map[string]any{"resourceType": "User"}, "displayName": "Babs"})),
		patchGroup("path-less replace carrying the group's own id (Okta)", "mutability", operation("replace", "", map[string]any{"id": "{group}", "displayName": "Team"})),

		// PATCH: group members (Entra ID, Microsoft's validator).
		patchGroup("remove members with a value list (Entra ID)", "invalidValue", operation("remove", "members", []any{map[string]any{"value": "{member}"}})),
		patchGroup("member as a bare id", "invalidValue", operation("add", "members", "{user}")),
		patchGroup("members as bare ids", "invalidValue", operation("add", "members", []any{"{user}"})),
		patchGroup("member displayName for display", "invalidValue", operation("add", "members", []any{map[string]any{"value": "{user}", "displayName": "Barbara"}})),

		// PATCH: value filters that match nothing.
		patchUser("replace through a filter that matches nothing", "noTarget", operation("replace", `emails[type eq "home"]`, map[string]any{"value": "h@example.com"})),
		patchUser("replace of a sub-attribute through a filter that matches nothing (Entra ID)", "noTarget", operation("replace", `emails[type eq "home"].value`, "h@example.com")),
		patchGroup("remove through a filter that matches nothing", "noTarget", operation("remove", `members[value eq "not-a-member"]`)),
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, strict := range []bool{false, true} {
				opts := []scim.Option{scim.WithResourceTypes(acmeUsers(), scim.GroupResourceType())}
				if strict {
					opts = append(opts, scim.WithStrict())
				}
				s := newServer(t, opts...)
				ids := strictFixture(t, s)
				var body any
				if tt.body != nil {
					enc, err := json.Marshal(tt.body)
					require.NoError(t, err)
					body = fillIDs(string(enc), ids)
				}
				before := s.get("/Users/" + ids["{user}"])
				resp := s.do(tt.method, fillIDs(tt.path, ids), body)
				if !strict {
					assert.Equal(t, tt.lenient, resp.status, "lenient: %s", resp.raw)
					continue
				}
				requireError(t, resp, http.StatusBadRequest, tt.scimType)
				assert.Equal(t, before, s.get("/Users/"+ids["{user}"]), "a rejected request changes nothing")
			}
		})
	}
}

// TestStrictStillAcceptsTheRFC: what RFC 7643/7644 allow, and clients send,
// is not a leniency; strict mode takes it.
func TestStrictStillAcceptsTheRFC(t *testing.T) {
	s := newServer(t, scim.WithStrict(), scim.WithResourceTypes(acmeUsers(), scim.GroupResourceType()))
	fixture := strictFixture(t, s)
	uid, gid, member := fixture["{user}"], fixture["{group}"], fixture["{member}"]

	// Attribute names are case-insensitive (RFC 7643 §2.1).
	resp := s.do(http.MethodPost, "/Users", map[string]any{"schemas": []any{scim.UserSchema}, "UserName": "caps", "Active": true})
	require.Equal(t, http.StatusCreated, resp.status, resp.raw)
	// Read-only attributes sent back are ignored (RFC 7644 §3.5.1).
	u := s.get("/Users/" + uid)
	resp = s.do(http.MethodPut, "/Users/"+uid, u)
	require.Equal(t, http.StatusOK, resp.status, resp.raw)
	// Operators and keywords are case-insensitive (RFC 7644 §3.4.2.2).
	list := s.do(http.MethodGet, `/Users?filter=userName EQ "bjensen" AND active Eq true`, nil)
	require.Equal(t, http.StatusOK, list.status, list.raw)
	assert.Equal(t, []string{uid}, ids(list))
	// A path-less replace of plain attributes; a whole extension by its URN.
	s.patchNoContent("/Users/"+uid, patchBody(operation("replace", "", map[string]any{
		"displayName":             "Babs",
		"name":                    map[string]any{"givenName": "Barb"},
		scim.EnterpriseUserSchema: map[string]any{"department": "Sales"},
	})))
	got := s.get("/Users/" + uid)
	assert.Equal(t, "Babs", got["displayName"])
	assert.Equal(t, map[string]any{"givenName": "Barb", "familyName": "Jensen"}, got["name"])
	assert.Equal(t, "Sales", enterprise(got)["department"])
	// Members added with an array of objects, removed by a value filter.
	s.patchNoContent("/Groups/"+gid, patchBody(operation("add", "members", []any{map[string]any{"value": uid}})))
	s.patchNoContent("/Groups/"+gid, patchBody(operation("remove", `members[value eq "`+member+`"]`)))
	assert.Equal(t, []string{uid}, memberIDs(s.get("/Groups/"+gid)))
}
