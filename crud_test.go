package scim_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

func TestCreateUser(t *testing.T) {
	s := newServer(t)
	resp := s.do(http.MethodPost, "/Users", user("bjensen", map[string]any{
		"name":   map[string]any{"givenName": "Barbara", "familyName": "Jensen"},
		"emails": []any{map[string]any{"value": "bjensen@example.com", "type": "work", "primary": true}},
		"active": true,
		"id":     "client-chosen", // ignored: the server assigns ids
		"meta":   map[string]any{"version": "bogus"},
		scim.EnterpriseUserSchema: map[string]any{
			"employeeNumber": "701984",
			"manager":        map[string]any{"value": "m-1", "displayName": "read-only, dropped"},
		},
	}))
	require.Equal(t, http.StatusCreated, resp.status, resp.raw)
	assert.Equal(t, "application/scim+json", resp.header.Get("Content-Type"))
	id := resp.body["id"].(string)
	assert.NotEqual(t, "client-chosen", id)
	assert.Len(t, id, 36)
	assert.Equal(t, s.url+"/Users/"+id, resp.header.Get("Location"))
	meta := resp.body["meta"].(map[string]any)
	assert.Equal(t, "User", meta["resourceType"])
	assert.Equal(t, s.url+"/Users/"+id, meta["location"])
	assert.Equal(t, resp.header.Get("ETag"), meta["version"])
	assert.True(t, strings.HasPrefix(meta["version"].(string), `W/"`))
	_, err := time.Parse(time.RFC3339, meta["created"].(string))
	assert.NoError(t, err)
	assert.Equal(t, meta["created"], meta["lastModified"])
	assert.Equal(t, []any{scim.UserSchema, scim.EnterpriseUserSchema}, resp.body["schemas"])
	ext := resp.body[scim.EnterpriseUserSchema].(map[string]any)
	assert.Equal(t, map[string]any{"value": "m-1", "$ref": s.url + "/Users/m-1"}, ext["manager"])

	got := s.do(http.MethodGet, "/Users/"+id, nil)
	require.Equal(t, http.StatusOK, got.status)
	assert.Equal(t, resp.body, got.body)
	assert.Equal(t, resp.header.Get("ETag"), got.header.Get("ETag"))
}

func TestCreateAcceptsJSONMediaTypes(t *testing.T) {
	s := newServer(t)
	for i, ct := range []string{"application/scim+json", "application/json", "application/json; charset=utf-8", "application/scim+json;charset=UTF-8"} {
		resp := s.do(http.MethodPost, "/Users", user("u"+string(rune('a'+i))), "Content-Type", ct)
		assert.Equal(t, http.StatusCreated, resp.status, ct)
	}
	resp := s.do(http.MethodPost, "/Users", user("x"), "Content-Type", "text/plain")
	requireError(t, resp, http.StatusUnsupportedMediaType, "")
}

func TestCreateErrors(t *testing.T) {
	s := newServer(t)
	s.create("/Users", user("taken"))
	tests := []struct {
		name     string
		body     any
		status   int
		scimType string
	}{
		{"malformed JSON", `{"userName": tre}`, 400, "invalidSyntax"},
		{"not an object", `["a"]`, 400, "invalidSyntax"},
		{"two JSON values", `{"userName":"a"} {}`, 400, "invalidSyntax"},
		{"missing required userName", map[string]any{"schemas": []string{scim.UserSchema}, "displayName": "x"}, 400, "invalidValue"},
		{"wrong type for a string", user("a", map[string]any{"displayName": 12}), 400, "invalidValue"},
		{"wrong type for a boolean", user("a", map[string]any{"active": "maybe"}), 400, "invalidValue"},
		{"complex given a number", user("a", map[string]any{"name": 3}), 400, "invalidValue"},
		{"bad dateTime", map[string]any{"schemas": []string{scim.UserSchema}, "userName": "a", "x509Certificates": []any{map[string]any{"value": "not base64!"}}}, 400, "invalidValue"},
		{"schemas not an array", map[string]any{"schemas": "x", "userName": "a"}, 400, "invalidValue"},
		{"duplicate userName, other case", user("TAKEN"), 409, "uniqueness"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireError(t, s.do(http.MethodPost, "/Users", tt.body), tt.status, tt.scimType)
		})
	}
}

func TestCreateStrictRejectsWhatLenientAccepts(t *testing.T) {
	tests := []struct {
		name string
		body map[string]any
	}{
		{"string boolean", user("a", map[string]any{"active": "True"})},
		{"unknown attribute", user("a", map[string]any{"adreses": "x"})},
		{"missing schemas", map[string]any{"userName": "a"}},
		{"unknown schema", map[string]any{"schemas": []string{scim.UserSchema, "urn:x"}, "userName": "a"}},
		{"single value for multi-valued", user("a", map[string]any{"emails": map[string]any{"value": "a@x"}})},
		{"single-valued complex as array", user("a", map[string]any{scim.EnterpriseUserSchema: map[string]any{"manager": []any{map[string]any{"value": "m"}}}})},
		{"two primary values", user("a", map[string]any{"emails": []any{map[string]any{"value": "a@x", "primary": true}, map[string]any{"value": "b@x", "primary": true}}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lenient := newServer(t).do(http.MethodPost, "/Users", tt.body)
			assert.Equal(t, http.StatusCreated, lenient.status, lenient.raw)
			requireError(t, newServer(t, scim.WithStrict()).do(http.MethodPost, "/Users", tt.body), 400, "invalidValue")
		})
	}
}

func TestCreateLenientNormalises(t *testing.T) {
	s := newServer(t)
	resp := s.do(http.MethodPost, "/Users", map[string]any{
		"UserName":                "Mixed",
		"Active":                  "False",
		"Emails":                  []any{map[string]any{"Value": "a@x", "Primary": "true"}, map[string]any{"value": "b@x", "primary": true}},
		scim.EnterpriseUserSchema: map[string]any{"Manager": []any{map[string]any{"value": "m"}}},
		"groups":                  []any{map[string]any{"value": "g"}}, // read-only: ignored
	})
	require.Equal(t, http.StatusCreated, resp.status, resp.raw)
	assert.Equal(t, "Mixed", resp.body["userName"])
	assert.Equal(t, false, resp.body["active"])
	assert.Equal(t, []any{map[string]any{"value": "a@x", "primary": true}, map[string]any{"value": "b@x"}}, resp.body["emails"])
	assert.Equal(t, "m", resp.body[scim.EnterpriseUserSchema].(map[string]any)["manager"].(map[string]any)["value"])
	assert.NotContains(t, resp.body, "groups")
}

func TestReplaceUser(t *testing.T) {
	s := newServer(t)
	id := s.create("/Users", user("bjensen", map[string]any{
		"externalId": "ext-1", "displayName": "Babs", "password": "secret",
		"nickName": "B",
	}))
	before := s.do(http.MethodGet, "/Users/"+id, nil)

	resp := s.do(http.MethodPut, "/Users/"+id, user("bjensen", map[string]any{
		"id":          "ignored",
		"meta":        map[string]any{"created": "2000-01-01T00:00:00Z"},
		"externalId":  "ext-1",
		"displayName": "Barbara",
		"active":      false,
		"groups":      []any{map[string]any{"value": "ignored"}},
	}))
	require.Equal(t, http.StatusOK, resp.status, resp.raw)
	assert.Equal(t, id, resp.body["id"])
	assert.Equal(t, "Barbara", resp.body["displayName"])
	assert.Equal(t, false, resp.body["active"])
	assert.NotContains(t, resp.body, "nickName", "PUT replaces: attributes left out are cleared")
	assert.NotContains(t, resp.body, "password", "password is never returned")
	meta := resp.body["meta"].(map[string]any)
	bmeta := before.body["meta"].(map[string]any)
	assert.Equal(t, bmeta["created"], meta["created"])
	assert.NotEqual(t, bmeta["version"], meta["version"])

	// Deactivated users stay retrievable and listable.
	assert.Equal(t, http.StatusOK, s.do(http.MethodGet, "/Users/"+id, nil).status)
	list := s.do(http.MethodGet, `/Users?filter=active eq false`, nil)
	assert.Equal(t, []string{id}, ids(list))

	// The same body again changes nothing: same version.
	again := s.do(http.MethodPut, "/Users/"+id, user("bjensen", map[string]any{"externalId": "ext-1", "displayName": "Barbara", "active": false}))
	require.Equal(t, http.StatusOK, again.status)
	assert.Equal(t, meta["version"], again.body["meta"].(map[string]any)["version"])
	assert.Equal(t, meta["lastModified"], again.body["meta"].(map[string]any)["lastModified"])
}

func TestReplaceErrors(t *testing.T) {
	s := newServer(t)
	id := s.create("/Users", user("a"))
	s.create("/Users", user("b"))
	requireError(t, s.do(http.MethodPut, "/Users/missing", user("c")), 404, "")
	requireError(t, s.do(http.MethodPut, "/Users/"+id, map[string]any{"schemas": []string{scim.UserSchema}}), 400, "invalidValue")
	requireError(t, s.do(http.MethodPut, "/Users/"+id, user("B")), 409, "uniqueness")
	requireError(t, s.do(http.MethodPut, "/Users/"+id, `{`), 400, "invalidSyntax")
}

func TestReplaceChecksImmutable(t *testing.T) {
	s := newServer(t, scim.WithResourceTypes(acmeUsers(), scim.GroupResourceType()))
	badge := func(v string) map[string]any {
		return user("a", map[string]any{acmeSchema: map[string]any{"badgeNumber": v, "level": 1}})
	}
	id := s.create("/Users", user("a"))
	// An immutable attribute may be set once...
	resp := s.do(http.MethodPut, "/Users/"+id, badge("B-1"))
	require.Equal(t, http.StatusOK, resp.status, resp.raw)
	// ...sent again unchanged, or left out (it is kept)...
	require.Equal(t, http.StatusOK, s.do(http.MethodPut, "/Users/"+id, badge("B-1")).status)
	resp = s.do(http.MethodPut, "/Users/"+id, user("a"))
	require.Equal(t, http.StatusOK, resp.status, resp.raw)
	assert.Equal(t, map[string]any{"badgeNumber": "B-1"}, resp.body[acmeSchema])
	// ...but not changed.
	requireError(t, s.do(http.MethodPut, "/Users/"+id, badge("B-2")), 400, "mutability")
	assert.Equal(t, "B-1", s.do(http.MethodGet, "/Users/"+id, nil).body[acmeSchema].(map[string]any)["badgeNumber"])

	// A group's member list may be replaced (members.value is immutable
	// within one value, not across the list).
	g := s.create("/Groups", group("g"))
	resp = s.do(http.MethodPut, "/Groups/"+g, group("g", s.create("/Users", user("u1")), s.create("/Users", user("u2"))))
	require.Equal(t, http.StatusOK, resp.status, resp.raw)
	assert.Len(t, resp.body["members"], 2)
}

func TestDelete(t *testing.T) {
	s := newServer(t)
	id := s.create("/Users", user("a"))
	resp := s.do(http.MethodDelete, "/Users/"+id, nil)
	assert.Equal(t, http.StatusNoContent, resp.status)
	assert.Empty(t, resp.raw)
	requireError(t, s.do(http.MethodGet, "/Users/"+id, nil), 404, "")
	requireError(t, s.do(http.MethodDelete, "/Users/"+id, nil), 404, "")
}

func TestDeleteUserLeavesGroups(t *testing.T) {
	s := newServer(t)
	u1 := s.create("/Users", user("a"))
	u2 := s.create("/Users", user("b"))
	g := s.create("/Groups", group("team", u1, u2))

	got := s.do(http.MethodGet, "/Users/"+u1, nil)
	assert.Equal(t, []any{map[string]any{"value": g, "display": "team", "type": "direct", "$ref": s.url + "/Groups/" + g}}, got.body["groups"])

	require.Equal(t, http.StatusNoContent, s.do(http.MethodDelete, "/Users/"+u1, nil).status)
	members := s.do(http.MethodGet, "/Groups/"+g, nil).body["members"].([]any)
	require.Len(t, members, 1)
	assert.Equal(t, u2, members[0].(map[string]any)["value"])
	assert.Equal(t, s.url+"/Users/"+u2, members[0].(map[string]any)["$ref"])
}

func TestConditionalRequests(t *testing.T) {
	s := newServer(t)
	id := s.create("/Users", user("a"))
	etag := s.do(http.MethodGet, "/Users/"+id, nil).header.Get("ETag")
	require.NotEmpty(t, etag)

	notModified := s.do(http.MethodGet, "/Users/"+id, nil, "If-None-Match", etag)
	assert.Equal(t, http.StatusNotModified, notModified.status)

	requireError(t, s.do(http.MethodPut, "/Users/"+id, user("a", map[string]any{"nickName": "x"}), "If-Match", `W/"stale"`), 412, "")
	ok := s.do(http.MethodPut, "/Users/"+id, user("a", map[string]any{"nickName": "x"}), "If-Match", etag)
	require.Equal(t, http.StatusOK, ok.status, ok.raw)
	requireError(t, s.do(http.MethodDelete, "/Users/"+id, nil, "If-Match", etag), 412, "")
	assert.Equal(t, http.StatusNoContent, s.do(http.MethodDelete, "/Users/"+id, nil, "If-Match", ok.header.Get("ETag")).status)
}

func TestNumericStringsMustBeJSONNumbers(t *testing.T) {
	s := newServer(t, scim.WithResourceTypes(acmeUsers(), scim.GroupResourceType()))
	for _, v := range []string{"NaN", "Inf", "-Infinity", "0x1p3", "1_000"} {
		resp := s.do(http.MethodPost, "/Users", user("u-"+v, map[string]any{acmeSchema: map[string]any{"score": v}}))
		requireError(t, resp, 400, "invalidValue")
	}
	resp := s.do(http.MethodPost, "/Users", user("ok", map[string]any{acmeSchema: map[string]any{"score": " 2.5 ", "level": "7"}}))
	require.Equal(t, http.StatusCreated, resp.status, resp.raw)
	assert.Equal(t, map[string]any{"score": 2.5, "level": float64(7)}, resp.body[acmeSchema])
	assert.Equal(t, http.StatusOK, s.do(http.MethodGet, "/Users", nil).status)
}

// TestVersionDoesNotRevealPasswords: assigning a password always writes, so
// an unchanged version cannot confirm a guess.
func TestVersionDoesNotRevealPasswords(t *testing.T) {
	s := newServer(t)
	id := s.create("/Users", user("a", map[string]any{"password": "hunter2"}))
	v0 := s.do(http.MethodGet, "/Users/"+id, nil).header.Get("ETag")
	for _, body := range []map[string]any{
		{"schemas": []string{scim.PatchOpSchema}, "Operations": []any{map[string]any{"op": "replace", "path": "password", "value": "hunter2"}}},
		{"schemas": []string{scim.PatchOpSchema}, "Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"password": "hunter2"}}}},
	} {
		resp := s.do(http.MethodPatch, "/Users/"+id, body)
		require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
		assert.NotEqual(t, v0, resp.header.Get("ETag"))
		v0 = resp.header.Get("ETag")
	}
	resp := s.do(http.MethodPut, "/Users/"+id, user("a", map[string]any{"password": "hunter2"}))
	assert.NotEqual(t, v0, resp.header.Get("ETag"))
	// Without a password, a no-op keeps the version.
	same := s.do(http.MethodPut, "/Users/"+id, user("a"))
	again := s.do(http.MethodPut, "/Users/"+id, user("a"))
	assert.Equal(t, same.header.Get("ETag"), again.header.Get("ETag"))
}

// TestPutKeepsOrClearsPassword: a PUT that leaves the password out keeps it
// (clients cannot read it back to echo it); one that sends null clears it.
func TestPutKeepsOrClearsPassword(t *testing.T) {
	store := memstore.New()
	s := newServerWithStore(t, store)
	id := s.create("/Users", user("a", map[string]any{"password": "hunter2"}))
	password := func() any {
		res, err := store.Get(context.Background(), "User", id)
		require.NoError(t, err)
		return res.Attributes["password"]
	}
	hashed := password()
	require.Equal(t, http.StatusOK, s.do(http.MethodPut, "/Users/"+id, user("a", map[string]any{"nickName": "x"})).status)
	assert.Equal(t, hashed, password(), "kept as stored, not hashed again")
	require.Equal(t, http.StatusOK, s.do(http.MethodPut, "/Users/"+id, user("a", map[string]any{"password": nil})).status)
	assert.Nil(t, password())
}
