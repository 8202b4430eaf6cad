package scim_test

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestProjection(t *testing.T) {
	s := newServer(t, scim.WithResourceTypes(acmeUsers(), scim.GroupResourceType()))
	id := s.create("/Users", user("alice", map[string]any{
		"displayName": "Alice", "password": "secret", "externalId": "x",
		"name":                    map[string]any{"givenName": "Alice", "familyName": "Adams"},
		"emails":                  []any{map[string]any{"value": "a@work", "type": "work"}, map[string]any{"value": "a@home", "type": "home"}},
		acmeSchema:                map[string]any{"level": 1, "onRequest": "only when asked"},
		scim.EnterpriseUserSchema: map[string]any{"department": "R&D"},
	}))
	tests := []struct {
		query string
		want  []string // top-level keys of the resource
		check func(t *testing.T, body map[string]any)
	}{
		{"", []string{"displayName", "emails", "externalId", "id", "meta", "name", "schemas", "userName", scim.EnterpriseUserSchema, acmeSchema}, func(t *testing.T, b map[string]any) {
			assert.NotContains(t, b[acmeSchema], "onRequest", "returned=request is not returned by default")
		}},
		{"attributes=userName", []string{"id", "schemas", "userName"}, nil},
		{"attributes=USERNAME,name.givenName", []string{"id", "name", "schemas", "userName"}, func(t *testing.T, b map[string]any) {
			assert.Equal(t, map[string]any{"givenName": "Alice"}, b["name"])
		}},
		{"attributes=emails.value", []string{"emails", "id", "schemas"}, func(t *testing.T, b map[string]any) {
			assert.Equal(t, []any{map[string]any{"value": "a@work"}, map[string]any{"value": "a@home"}}, b["emails"])
		}},
		{"attributes=password", []string{"id", "schemas"}, nil},
		{"attributes=emails.display,name.middleName", []string{"id", "schemas"}, nil}, // values left empty are not written
		{"attributes=" + acmeSchema + ":onRequest,emails.display", []string{"id", "schemas", acmeSchema}, nil},
		{"attributes=" + acmeSchema + ":onRequest", []string{"id", "schemas", acmeSchema}, func(t *testing.T, b map[string]any) {
			assert.Equal(t, map[string]any{"onRequest": "only when asked"}, b[acmeSchema])
			assert.Equal(t, []any{scim.UserSchema, acmeSchema}, b["schemas"])
		}},
		{"attributes=" + scim.EnterpriseUserSchema, []string{"id", "schemas", scim.EnterpriseUserSchema}, nil},
		{"attributes=meta.created", []string{"id", "meta", "schemas"}, func(t *testing.T, b map[string]any) {
			assert.Equal(t, []string{"created"}, keys(b["meta"].(map[string]any)))
		}},
		{"attributes=nosuch,userName", []string{"id", "schemas", "userName"}, nil},
		{"excludedAttributes=emails,name.familyName,meta,id,schemas", []string{"displayName", "externalId", "id", "name", "schemas", "userName", scim.EnterpriseUserSchema, acmeSchema}, func(t *testing.T, b map[string]any) {
			assert.Equal(t, map[string]any{"givenName": "Alice"}, b["name"])
		}},
		{"attributes=userName&excludedAttributes=userName", []string{"id", "schemas", "userName"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			for _, resp := range []response{
				s.do(http.MethodGet, "/Users/"+id+"?"+tt.query, nil),
				s.do(http.MethodGet, "/Users?"+tt.query, nil),
			} {
				require.Equal(t, http.StatusOK, resp.status, resp.raw)
				assert.True(t, strings.HasPrefix(resp.raw, `{"schemas":[`), "schemas come first, as in RFC 7643's examples")
				body := resp.body
				if list, ok := body["Resources"].([]any); ok {
					require.Len(t, list, 1)
					body = list[0].(map[string]any)
				}
				assert.ElementsMatch(t, tt.want, keys(body))
				if tt.check != nil {
					tt.check(t, body)
				}
			}
		})
	}

	// POST and PUT answers are projected too.
	resp := s.do(http.MethodPost, "/Users?attributes=userName", user("bob"))
	require.Equal(t, http.StatusCreated, resp.status)
	assert.Equal(t, []string{"id", "schemas", "userName"}, keys(resp.body))

	// /.search takes the lists as arrays.
	resp = s.do(http.MethodPost, "/Users/.search", map[string]any{"excludedAttributes": []string{"meta", "name"}, "filter": `userName eq "alice"`})
	assert.ElementsMatch(t, []string{"displayName", "emails", "externalId", "id", "schemas", "userName", scim.EnterpriseUserSchema, acmeSchema},
		keys(resp.body["Resources"].([]any)[0].(map[string]any)))

	resp = s.do(http.MethodPut, "/Users/"+id+"?excludedAttributes=emails", user("alice", map[string]any{"emails": []any{map[string]any{"value": "a@x"}}}))
	require.Equal(t, http.StatusOK, resp.status)
	assert.NotContains(t, resp.body, "emails")
}

func TestProjectionOfGroupMembers(t *testing.T) {
	s := newServer(t)
	u := s.create("/Users", user("a"))
	g := s.create("/Groups", group("g", u))
	resp := s.do(http.MethodGet, "/Groups/"+g+"?excludedAttributes=members", nil)
	assert.Equal(t, []string{"displayName", "id", "meta", "schemas"}, keys(resp.body))
	resp = s.do(http.MethodGet, "/Groups/"+g+"?attributes=members.value", nil)
	assert.Equal(t, []any{map[string]any{"value": u}}, resp.body["members"])
	// A value filter in attributes (Microsoft's tests send one) selects the attribute.
	resp = s.do(http.MethodGet, `/Groups?attributes=members[value eq "`+u+`"]`, nil)
	require.Equal(t, http.StatusOK, resp.status, resp.raw)
	assert.Contains(t, resp.raw, u)
}

func TestRefsFollowServedEndpoints(t *testing.T) {
	accounts := scim.UserResourceType()
	accounts.Endpoint = "/Accounts"
	store := memstore.New()
	seedUsers(t, store, "d1")
	s := newServerWithStore(t, store, scim.WithResourceTypes(accounts, scim.GroupResourceType()))
	u := s.create("/Accounts", user("a"))
	g := s.create("/Groups", group("g", u))
	resp := s.do(http.MethodGet, "/Groups/"+g, nil)
	assert.Equal(t, s.url+"/Accounts/"+u, resp.body["members"].([]any)[0].(map[string]any)["$ref"])
	assert.Equal(t, s.url+"/Groups/"+g, s.do(http.MethodGet, "/Accounts/"+u, nil).body["groups"].([]any)[0].(map[string]any)["$ref"])
	// A member whose type names no served endpoint gets no $ref.
	g2 := s.create("/Groups", map[string]any{"schemas": []string{scim.GroupSchema}, "displayName": "g2",
		"members": []any{map[string]any{"value": "d1", "type": "Device"}}})
	assert.NotContains(t, s.do(http.MethodGet, "/Groups/"+g2, nil).body["members"].([]any)[0], "$ref")
}
