package scim_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInputRules pins down what issue #11 requires refused, with the status
// and scimType each gets.
func TestInputRules(t *testing.T) {
	tests := []struct {
		name, method, path string
		body               string
		status             int
		scimType           string
	}{
		{"invalid UTF-8 in a body", "POST", "/Users", userWith(`"displayName":"` + "\xff" + `"`), 400, "invalidSyntax"},
		{"invalid UTF-8 in a filter", "GET", "/Users?filter=userName%20eq%20%22%FF%22", "", 400, "invalidValue"},
		{"invalid UTF-8 in a search filter", "POST", "/Users/.search", `{"filter":"userName eq \"` + "\xff" + `\""}`, 400, "invalidSyntax"},
		{"control character in a search filter", "POST", "/Users/.search", `{"filter":"userName eq \"\u0001\""}`, 400, "invalidValue"},
		{"invalid UTF-8 in a path", "GET", "/Users/%FF", "", 400, "invalidSyntax"},
		{"NUL in a string", "POST", "/Users", `{"schemas":["` + userURN + `"],"userName":"a\u0000"}`, 400, "invalidValue"},
		{"escape in a string", "POST", "/Users", userWith(`"displayName":"\u001b[31mred"`), 400, "invalidValue"},
		{"DEL in a string", "POST", "/Users", userWith(`"displayName":"a\u007f"`), 400, "invalidValue"},
		{"C1 control in a string", "POST", "/Users", userWith(`"displayName":"a\u0085"`), 400, "invalidValue"},
		{"empty userName", "POST", "/Users", `{"schemas":["` + userURN + `"],"userName":""}`, 400, "invalidValue"},
		{"blank userName", "POST", "/Users", `{"schemas":["` + userURN + `"],"userName":"  "}`, 400, "invalidValue"},
		{"empty group displayName", "POST", "/Groups", `{"schemas":["` + groupURN + `"],"displayName":""}`, 400, "invalidValue"},
		{"emails as a bare string", "POST", "/Users", userWith(`"emails":"x@example.com"`), 400, "invalidValue"},
		{"members as a bare string", "POST", "/Groups", `{"schemas":["` + groupURN + `"],"displayName":"G","members":"x"}`, 400, "invalidValue"},
		{"emails as a bare string in PATCH", "PATCH", "/Users/{u1}", patchOps(`{"op":"add","path":"emails","value":"x@example.com"}`), 400, "invalidValue"},
		{"emails as bare strings in an array", "POST", "/Users", userWith(`"emails":["x@example.com"]`), 400, "invalidValue"},
		{"case-duplicate keys", "POST", "/Users", `{"schemas":["` + userURN + `"],"userName":"a","USERNAME":"b"}`, 400, "invalidSyntax"},
		{"duplicate keys in a sub-object", "POST", "/Users", userWith(`"name":{"givenName":"a","givenname":"b"}`), 400, "invalidSyntax"},
		{"data after the value", "POST", "/Users", `{"schemas":["` + userURN + `"],"userName":"a"}]`, 400, "invalidSyntax"},
		{"a second value", "POST", "/Users", `{"schemas":["` + userURN + `"],"userName":"a"} {}`, 400, "invalidSyntax"},
		{"sortBy on a complex attribute without value", "GET", "/Users?sortBy=name", "", 400, "invalidValue"},
		{"sortBy on meta", "GET", "/Users?sortBy=meta", "", 400, "invalidValue"},
		{"sortBy on meta.location", "GET", "/Users?sortBy=meta.location", "", 400, "invalidValue"},
		{"filter on meta.location", "GET", "/Users?filter=" + url.QueryEscape(`meta.location co "Users"`), "", 400, "invalidFilter"},
		{"filter on members.$ref", "GET", "/Groups?filter=" + url.QueryEscape(`members.$ref pr`), "", 400, "invalidFilter"},
		{"filter on $ref in a value path", "GET", "/Groups?filter=" + url.QueryEscape(`members[$ref co "Users"]`), "", 400, "invalidFilter"},
		{"filter on groups.$ref", "GET", "/Users?filter=" + url.QueryEscape(`groups.$ref pr`), "", 400, "invalidFilter"},
		{"filtered replace of a member's value", "PATCH", "/Groups/{g}", patchOps(`{"op":"replace","path":"members[value eq \"{u1}\"]","value":{"value":"{u2}"}}`), 400, "mutability"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			ids := map[string]string{"{u1}": s.create("/Users", user("u1")), "{u2}": s.create("/Users", user("u2"))}
			ids["{g}"] = s.create("/Groups", group("g", ids["{u1}"]))
			fill := func(s string) string {
				for k, v := range ids {
					s = replaceAll(s, k, v)
				}
				return s
			}
			var body any
			if tt.body != "" {
				body = fill(tt.body)
			}
			resp := s.do(tt.method, fill(tt.path), body)
			requireError(t, resp, tt.status, tt.scimType)
		})
	}
}

// TestInputRulesAllowed: what the rules let through.
func TestInputRulesAllowed(t *testing.T) {
	s := newServer(t)
	// Tab, line feed and carriage return are text (addresses.formatted).
	id := s.create("/Users", user("multi", map[string]any{
		"addresses":   []any{map[string]any{"formatted": "100 Universal City Plaza\r\nHollywood,\tCA 91608"}},
		"displayName": "Ünïcödé 😀",
	}))
	got := s.get("/Users/" + id)
	assert.Equal(t, "100 Universal City Plaza\r\nHollywood,\tCA 91608", got["addresses"].([]any)[0].(map[string]any)["formatted"])
	// A single email object where an array is due is wrapped (documented leniency).
	resp := s.do(http.MethodPost, "/Users", user("single", map[string]any{"emails": map[string]any{"value": "s@example.com"}}))
	require.Equal(t, http.StatusCreated, resp.status, resp.raw)
	// Microsoft's validator adds a member as a bare id in PATCH.
	g := s.create("/Groups", group("g"))
	s.patchNoContent("/Groups/"+g, patchBody(operation("add", "members", id)))
	assert.Len(t, s.get("/Groups/" + g)["members"], 1)
	// A filter with a quoted string holding quotes and brackets is fine.
	requireEmptyList(t, s.do(http.MethodGet, `/Users?filter=userName eq "a\"]) or (1"`, nil))
}

// TestPatchSemanticsOfIssue11 covers RFC 7644 §3.5.2.3 and RFC 7643 §2.4 as
// issue #11 states them.
func TestPatchSemanticsOfIssue11(t *testing.T) {
	t.Run("replace with {} leaves a complex attribute unchanged", func(t *testing.T) {
		s := newServer(t)
		id := s.create("/Users", user("b", map[string]any{"name": map[string]any{"givenName": "Barbara"}}))
		etag := s.do(http.MethodGet, "/Users/"+id, nil).header.Get("ETag")
		for _, op := range []map[string]any{
			operation("replace", "name", map[string]any{}),
			operation("replace", "", map[string]any{"name": map[string]any{}}),
		} {
			resp := s.do(http.MethodPatch, "/Users/"+id, patchBody(op))
			require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
			assert.Equal(t, etag, resp.header.Get("ETag"), "nothing changed, not even the version")
		}
		assert.Equal(t, map[string]any{"givenName": "Barbara"}, s.get("/Users/" + id)["name"])
		// null still unassigns it.
		s.patchNoContent("/Users/"+id, patchBody(operation("replace", "name", nil)))
		assert.NotContains(t, s.get("/Users/"+id), "name")
	})
	t.Run("a filtered replace of members never changes a value nor leaves a duplicate", func(t *testing.T) {
		s := newServer(t)
		a, b := s.create("/Users", user("a")), s.create("/Users", user("b"))
		g := s.create("/Groups", group("g", a, b))
		requireError(t, s.do(http.MethodPatch, "/Groups/"+g, patchBody(operation("replace", `members[value eq "`+a+`"]`, map[string]any{"value": b}))), 400, "mutability")
		requireError(t, s.do(http.MethodPatch, "/Groups/"+g, patchBody(operation("replace", `members[value eq "`+a+`"].value`, b))), 400, "mutability")
		// Replacing a member with itself and a type keeps one value.
		s.patchNoContent("/Groups/"+g, patchBody(operation("replace", `members[value eq "`+a+`"]`, map[string]any{"value": a, "type": "User"})))
		members := s.get("/Groups/" + g)["members"].([]any)
		require.Len(t, members, 2)
	})
	t.Run("multi-valued attributes never hold the same (type, value) twice", func(t *testing.T) {
		s := newServer(t)
		id := s.create("/Users", user("d", map[string]any{"emails": []any{
			map[string]any{"value": "a@example.com", "type": "work"},
			map[string]any{"value": "A@example.com", "type": "work", "display": "A"}, // emails.value is not caseExact
			map[string]any{"value": "a@example.com", "type": "home"},
		}}))
		assert.Len(t, s.get("/Users/" + id)["emails"], 2, "POST")
		s.patchNoContent("/Users/"+id, patchBody(operation("add", "emails", []any{map[string]any{"value": "a@example.com", "type": "home", "display": "Home"}})))
		emails := s.get("/Users/" + id)["emails"].([]any)
		require.Len(t, emails, 2, "PATCH add of a value present")
		assert.Equal(t, "Home", emails[1].(map[string]any)["display"], "its sub-attributes are taken")
		// A filtered replace that makes two values the same merges them.
		s.patchNoContent("/Users/"+id, patchBody(operation("replace", `emails[type eq "home"].type`, "work")))
		assert.Len(t, s.get("/Users/" + id)["emails"], 1)
		// PUT too.
		resp := s.do(http.MethodPut, "/Users/"+id, user("d", map[string]any{"phoneNumbers": []any{
			map[string]any{"value": "1", "type": "work"}, map[string]any{"value": "1", "type": "work", "primary": true}}}))
		require.Equal(t, http.StatusOK, resp.status, resp.raw)
		assert.Equal(t, []any{map[string]any{"value": "1", "type": "work", "primary": true}}, resp.body["phoneNumbers"])
		// Members given twice are one member.
		g := s.create("/Groups", group("g", id, id))
		assert.Len(t, s.get("/Groups/" + g)["members"], 1)
	})
}

func replaceAll(s, old, new string) string { return strings.ReplaceAll(s, old, new) }

// TestDotSegmentsRefused: a router that does not clean paths (Go's
// ServeMux and HTTP client do) must not let /Users/../Groups/g1 reach a
// Group through the Users endpoint.
func TestDotSegmentsRefused(t *testing.T) {
	for _, target := range []string{"/scim/v2/Users/../Groups/g1", "/scim/v2/Users/..%2FGroups%2Fg1", "/scim/v2/Users/./u1"} {
		h, store := fuzzFixture(t)
		before := dumpStore(t, store)
		r := httptest.NewRequest(http.MethodDelete, "/", nil)
		u, err := url.ParseRequestURI(target)
		require.NoError(t, err)
		r.URL = u
		r.Header.Set("Authorization", "Bearer rw")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		assert.Equal(t, http.StatusBadRequest, w.Code, target)
		assert.Equal(t, before, dumpStore(t, store), target)
	}
}
