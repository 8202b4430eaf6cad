package scim_test

import (
	"fmt"
	"net/http"
	"sort"
	"testing"

	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
)

const acmeSchema = "urn:example:params:scim:schemas:extension:acme-corp:2.0:User"

// acmeUsers is the User type with a custom extension holding one attribute
// of each SCIM type, and characteristics to test against.
func acmeUsers() scim.ResourceType {
	rt := scim.UserResourceType()
	rt.Extensions = append(rt.Extensions, scim.SchemaExtension{Schema: schema.Schema{
		ID:   acmeSchema,
		Name: optional.NewString("Acme"),
		Attributes: []schema.CoreAttribute{
			schema.SimpleCoreAttribute(schema.SimpleNumberParams(schema.NumberParams{Name: "level", Type: schema.AttributeTypeInteger()})),
			schema.SimpleCoreAttribute(schema.SimpleNumberParams(schema.NumberParams{Name: "score", Type: schema.AttributeTypeDecimal()})),
			schema.SimpleCoreAttribute(schema.SimpleDateTimeParams(schema.DateTimeParams{Name: "hired"})),
			schema.SimpleCoreAttribute(schema.SimpleBinaryParams(schema.BinaryParams{Name: "badge"})),
			schema.SimpleCoreAttribute(schema.SimpleBooleanParams(schema.BooleanParams{Name: "remote"})),
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "code", CaseExact: true})),
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "onRequest", Returned: schema.AttributeReturnedRequest()})),
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "badgeNumber", Mutability: schema.AttributeMutabilityImmutable()})),
			schema.SimpleCoreAttribute(schema.SimpleReferenceParams(schema.ReferenceParams{Name: "homepage", ReferenceTypes: []schema.AttributeReferenceType{schema.AttributeReferenceTypeExternal}})),
		},
	}})
	return rt
}

// population creates users covering every attribute type and returns their
// ids by userName.
func population(t *testing.T, s *server) map[string]string {
	t.Helper()
	people := []map[string]any{
		user("alice", map[string]any{
			"displayName": "Alice Adams", "active": true, "externalId": "E-1", "title": "Engineer",
			"name":                    map[string]any{"givenName": "Alice", "familyName": "Adams"},
			"emails":                  []any{map[string]any{"value": "alice@work.example", "type": "work", "primary": true}, map[string]any{"value": "alice@home.example", "type": "home"}},
			acmeSchema:                map[string]any{"level": 3, "score": 7.5, "hired": "2020-01-15T09:00:00Z", "badge": "QUJD", "remote": true, "code": "Ax", "homepage": "https://a.example"},
			scim.EnterpriseUserSchema: map[string]any{"department": "R&D", "manager": map[string]any{"value": "m-1"}},
		}),
		user("bob", map[string]any{
			"displayName": "Bob Brown", "active": false, "externalId": "e-1", "title": "engineer",
			"name":       map[string]any{"givenName": "Bob", "familyName": "Brown"},
			"emails":     []any{map[string]any{"value": "bob@home.example", "type": "home"}},
			acmeSchema:   map[string]any{"level": 10, "score": 7.25, "hired": "2021-06-01T12:00:00+02:00", "badge": "REVG", "remote": false, "code": "ax"},
			"nickName":   "",
			"userType":   "Contractor",
			"locale":     "en-US",
			"timezone":   "Europe/Paris",
			"profileUrl": "https://b.example/profile",
		}),
		user("Carol", map[string]any{
			"active": true, "title": "Manager",
			"emails":                  []any{map[string]any{"value": "carol@work.example", "type": "work"}},
			acmeSchema:                map[string]any{"level": -2, "score": 100, "hired": "2019-12-31T23:59:59.5Z"},
			scim.EnterpriseUserSchema: map[string]any{"department": "Sales"},
		}),
	}
	out := map[string]string{}
	for _, p := range people {
		out[p["userName"].(string)] = s.create("/Users", p)
	}
	return out
}

func TestListFilters(t *testing.T) {
	s := newServer(t, scim.WithResourceTypes(acmeUsers(), scim.GroupResourceType()))
	who := population(t, s)
	tests := []struct {
		filter string
		want   []string
	}{
		// strings, case-insensitive (userName, displayName, title) and case-exact (externalId, id, acme code)
		{`userName eq "ALICE"`, []string{"alice"}},
		{`userName ne "alice"`, []string{"bob", "Carol"}},
		{`userName co "O"`, []string{"bob", "Carol"}},
		{`userName sw "c"`, []string{"Carol"}},
		{`userName ew "E"`, []string{"alice"}},
		{`userName gt "bob"`, []string{"Carol"}},
		{`userName ge "bob"`, []string{"bob", "Carol"}},
		{`userName lt "bob"`, []string{"alice"}},
		{`userName le "bob"`, []string{"alice", "bob"}},
		{`title eq "engineer"`, []string{"alice", "bob"}},
		{`externalId eq "E-1"`, []string{"alice"}},
		{`externalId eq "e-1"`, []string{"bob"}},
		{`externalId pr`, []string{"alice", "bob"}},
		{fmt.Sprintf(`id eq "%s"`, who["bob"]), []string{"bob"}},
		{acmeSchema + `:code eq "ax"`, []string{"bob"}},
		{acmeSchema + `:code co "A"`, []string{"alice"}},
		// boolean
		{`active eq true`, []string{"alice", "Carol"}},
		{`active eq false`, []string{"bob"}},
		{`active ne true`, []string{"bob"}},
		{acmeSchema + `:remote pr`, []string{"alice", "bob"}},
		// integer
		{acmeSchema + `:level eq 10`, []string{"bob"}},
		{acmeSchema + `:level gt 3`, []string{"bob"}},
		{acmeSchema + `:level ge 3`, []string{"alice", "bob"}},
		{acmeSchema + `:level lt 0`, []string{"Carol"}},
		{acmeSchema + `:level le 3`, []string{"alice", "Carol"}},
		{acmeSchema + `:level ne 3`, []string{"bob", "Carol"}},
		// decimal
		{acmeSchema + `:score gt 7.3`, []string{"alice", "Carol"}},
		{acmeSchema + `:score le 7.25`, []string{"bob"}},
		{acmeSchema + `:score eq 100`, []string{"Carol"}},
		// dateTime, compared as instants across zones
		{acmeSchema + `:hired gt "2020-01-01T00:00:00Z"`, []string{"alice", "bob"}},
		{acmeSchema + `:hired lt "2021-06-01T10:00:01Z"`, []string{"alice", "bob", "Carol"}},
		{acmeSchema + `:hired eq "2021-06-01T10:00:00Z"`, []string{"bob"}},
		{acmeSchema + `:hired ge "2019-12-31T23:59:59.5Z"`, []string{"alice", "bob", "Carol"}},
		// binary (case-exact, eq only in practice)
		{acmeSchema + `:badge eq "QUJD"`, []string{"alice"}},
		// reference
		{acmeSchema + `:homepage sw "https://a."`, []string{"alice"}},
		{`profileUrl pr`, []string{"bob"}},
		// pr on empty strings and missing values
		{`nickName pr`, []string{}},
		{`not (nickName pr)`, []string{"alice", "bob", "Carol"}},
		// sub-attributes, multi-valued, value paths
		{`name.givenName eq "bob"`, []string{"bob"}},
		{`emails.value ew "work.example"`, []string{"alice", "Carol"}},
		{`emails co "home"`, []string{"alice", "bob"}},
		{`emails[type eq "work" and value co "alice"]`, []string{"alice"}},
		{`emails[type eq "home"] and active eq true`, []string{"alice"}},
		{`emails[type eq "work" or value sw "bob"]`, []string{"alice", "bob", "Carol"}},
		// logic and precedence
		{`userName eq "alice" or userName eq "bob" and active eq true`, []string{"alice"}},
		{`(userName eq "alice" or userName eq "bob") and active eq false`, []string{"bob"}},
		{`not (active eq true) or userName eq "Carol"`, []string{"bob", "Carol"}},
		{`not (userName eq "alice" or userName eq "bob")`, []string{"Carol"}},
		// extension attributes and meta
		{scim.EnterpriseUserSchema + `:department eq "sales"`, []string{"Carol"}},
		{scim.EnterpriseUserSchema + `:manager.value eq "m-1"`, []string{"alice"}},
		{`meta.created gt "2000-01-01T00:00:00Z"`, []string{"alice", "bob", "Carol"}},
		{`meta.lastModified lt "2000-01-01T00:00:00Z"`, []string{}},
		{`meta.resourceType eq "User"`, []string{"alice", "bob", "Carol"}},
		// case-insensitive names and operators
		{`USERNAME EQ "alice"`, []string{"alice"}},
		{`Emails[Type eq "work"] AND Active Eq True`, []string{"alice", "Carol"}},
		{"urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"bob\"", []string{"bob"}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			resp := s.do(http.MethodGet, "/Users?filter="+tt.filter, nil)
			require.Equal(t, http.StatusOK, resp.status, resp.raw)
			want := []string{}
			for _, n := range tt.want {
				want = append(want, who[n])
			}
			got := ids(resp)
			sort.Strings(want)
			sort.Strings(got)
			assert.Equal(t, want, got)
			assert.EqualValues(t, len(want), resp.body["totalResults"])
		})
	}
}

func TestListInvalidFilter(t *testing.T) {
	s := newServer(t)
	for _, f := range []string{
		`userName eq`,
		`userName xx "a"`,
		`nosuch eq "a"`,
		`userName eq "a" and`,
		`(userName eq "a"`,
		`active gt true`,
		`emails[type eq "work"`,
		`userName eq "unterminated`,
		`name eq "x"`,
		`password eq "secret"`, // never returned: no guessing by filter
		`password pr`,
	} {
		t.Run(f, func(t *testing.T) {
			requireError(t, s.do(http.MethodGet, "/Users?filter="+f, nil), 400, "invalidFilter")
			requireError(t, s.do(http.MethodPost, "/Users/.search", map[string]any{"filter": f}), 400, "invalidFilter")
		})
	}
}

func TestListPagingAndSorting(t *testing.T) {
	s := newServer(t, scim.WithMaxResults(4))
	var created []string
	for i := 0; i < 7; i++ {
		created = append(created, s.create("/Users", user(fmt.Sprintf("user%d", 6-i), map[string]any{"nickName": fmt.Sprint(i % 3)})))
	}
	page := func(q string) response {
		resp := s.do(http.MethodGet, "/Users?"+q, nil)
		require.Equal(t, http.StatusOK, resp.status, resp.raw)
		return resp
	}

	// Unsorted paging sees every resource exactly once, in a stable order.
	var seen []string
	for start := 1; start <= 7; start += 3 {
		resp := page(fmt.Sprintf("startIndex=%d&count=3", start))
		assert.EqualValues(t, 7, resp.body["totalResults"])
		assert.EqualValues(t, start, resp.body["startIndex"])
		assert.EqualValues(t, len(ids(resp)), resp.body["itemsPerPage"])
		seen = append(seen, ids(resp)...)
	}
	assert.Equal(t, created, seen)

	// count above the maximum is clamped; no count means the maximum.
	assert.Len(t, ids(page("count=100")), 4)
	assert.Len(t, ids(page("")), 4)
	// count=0 returns only the total; Resources is an empty array, not null.
	zero := page("count=0")
	assert.EqualValues(t, 7, zero.body["totalResults"])
	assert.Equal(t, []any{}, zero.body["Resources"])
	assert.EqualValues(t, 0, zero.body["itemsPerPage"])
	// startIndex below 1 is 1; past the end gives an empty page.
	assert.EqualValues(t, 1, page("startIndex=-5&count=1").body["startIndex"])
	assert.Equal(t, created[:1], ids(page("startIndex=0&count=1")))
	past := page("startIndex=50")
	assert.Equal(t, []any{}, past.body["Resources"])
	assert.EqualValues(t, 7, past.body["totalResults"])
	// a negative count is treated as 0.
	assert.Equal(t, []string{}, ids(page("count=-1")))

	// Sorting, ascending by default, descending on request.
	asc := ids(page("sortBy=userName&count=4"))
	assert.Equal(t, []string{created[6], created[5], created[4], created[3]}, asc)
	desc := ids(page("sortBy=userName&sortOrder=descending&count=2&startIndex=2"))
	assert.Equal(t, []string{created[1], created[2]}, desc)
	// sort on a value some resources share, ties in stable order
	byNick := ids(page("sortBy=nickName&count=3"))
	assert.Equal(t, []string{created[0], created[3], created[6]}, byNick)

	requireError(t, s.do(http.MethodGet, "/Users?sortBy=nosuch", nil), 400, "invalidValue")
	requireError(t, s.do(http.MethodGet, "/Users?sortBy=password", nil), 400, "invalidValue")
	requireError(t, s.do(http.MethodGet, "/Users?sortOrder=sideways&sortBy=userName", nil), 400, "invalidValue")
	requireError(t, s.do(http.MethodGet, "/Users?count=ten", nil), 400, "invalidValue")
	requireError(t, s.do(http.MethodGet, "/Users?startIndex=x", nil), 400, "invalidValue")
}

func TestSearch(t *testing.T) {
	s := newServer(t)
	alice := s.create("/Users", user("alice", map[string]any{"displayName": "Team A"}))
	s.create("/Users", user("bob"))
	team := s.create("/Groups", group("Team A", alice))

	resp := s.do(http.MethodPost, "/Users/.search", map[string]any{
		"schemas":    []string{scim.SearchRequestSchema},
		"filter":     `userName eq "alice"`,
		"attributes": []string{"userName"},
		"startIndex": 1, "count": 10,
	})
	require.Equal(t, http.StatusOK, resp.status, resp.raw)
	assert.Equal(t, []string{alice}, ids(resp))
	assert.Equal(t, map[string]any{"id": alice, "userName": "alice", "schemas": []any{scim.UserSchema}}, resp.body["Resources"].([]any)[0])

	// At the root: every resource type, paged across types.
	root := s.do(http.MethodPost, "/.search", map[string]any{"filter": `displayName eq "Team A"`})
	require.Equal(t, http.StatusOK, root.status, root.raw)
	assert.Equal(t, []string{alice, team}, ids(root))
	all := s.do(http.MethodPost, "/.search", map[string]any{"startIndex": 2, "count": 2})
	assert.EqualValues(t, 3, all.body["totalResults"])
	assert.Len(t, ids(all), 2)
	// an attribute only Users have: Groups simply do not match
	assert.Equal(t, []string{alice}, ids(s.do(http.MethodPost, "/.search", map[string]any{"filter": `userName eq "alice"`})))
	requireError(t, s.do(http.MethodPost, "/.search", map[string]any{"filter": `nosuch eq "x"`}), 400, "invalidFilter")
	// sortBy on an attribute only Users have: the Groups have no value, so
	// they come first descending and last ascending (RFC 7644 §3.4.2.3).
	sortedRoot := s.do(http.MethodPost, "/.search", map[string]any{"sortBy": "userName", "sortOrder": "descending"})
	require.Equal(t, http.StatusOK, sortedRoot.status, sortedRoot.raw)
	assert.EqualValues(t, 3, sortedRoot.body["totalResults"])
	assert.Equal(t, team, ids(sortedRoot)[0])
	assert.Equal(t, team, ids(s.do(http.MethodPost, "/.search", map[string]any{"sortBy": "userName"}))[2])
	requireError(t, s.do(http.MethodPost, "/.search", map[string]any{"sortBy": "nosuch"}), 400, "invalidValue")

	// Search is a read: a read-only token may use it; GET on it is 405.
	assert.Equal(t, http.StatusOK, s.doAs("ro", http.MethodPost, "/Users/.search", map[string]any{}).status)
	requireError(t, s.do(http.MethodGet, "/Users/.search", nil), 405, "")
	strict := newServer(t, scim.WithStrict())
	requireError(t, strict.do(http.MethodPost, "/Users/.search", map[string]any{"filter": `userName pr`}), 400, "invalidValue")
}

// TestRootQueries: GET on the service root queries every resource type,
// sorted across types as one list (RFC 7644 §3.4.2.1).
func TestRootQueries(t *testing.T) {
	s := newServer(t)
	beta := s.create("/Users", user("beta.user", map[string]any{"displayName": "Beta"}))
	delta := s.create("/Users", user("delta.user", map[string]any{"displayName": "Delta"}))
	alpha := s.create("/Groups", group("Alpha"))
	charlie := s.create("/Groups", group("Charlie"))

	resp := s.do(http.MethodGet, "/?sortBy=displayName", nil)
	require.Equal(t, http.StatusOK, resp.status, resp.raw)
	assert.Equal(t, []string{alpha, beta, charlie, delta}, ids(resp), "one list across types")
	types := []any{}
	for _, r := range resp.body["Resources"].([]any) {
		types = append(types, r.(map[string]any)["meta"].(map[string]any)["resourceType"])
	}
	assert.Equal(t, []any{"Group", "User", "Group", "User"}, types)

	resp = s.do(http.MethodGet, "/?sortBy=displayName&sortOrder=descending&startIndex=2&count=2&attributes=displayName", nil)
	require.Equal(t, http.StatusOK, resp.status, resp.raw)
	assert.Equal(t, []string{charlie, beta}, ids(resp))
	assert.EqualValues(t, 4, resp.body["totalResults"])
	assert.Equal(t, map[string]any{"id": charlie, "displayName": "Charlie", "schemas": []any{scim.GroupSchema}}, resp.body["Resources"].([]any)[0])

	resp = s.do(http.MethodGet, `/?filter=displayName sw "D" or displayName eq "alpha"`, nil)
	assert.ElementsMatch(t, []string{delta, alpha}, ids(resp))
	requireError(t, s.do(http.MethodPost, "/", map[string]any{}), 405, "")
	// The same through POST /.search.
	assert.Equal(t, []string{alpha, beta, charlie, delta}, ids(s.do(http.MethodPost, "/.search", map[string]any{"sortBy": "displayName"})))
}

// TestHugeStartIndex: a startIndex up to the largest integer is an empty
// page, never a 500.
func TestHugeStartIndex(t *testing.T) {
	s := newServer(t)
	s.create("/Users", user("alice"))
	for _, q := range []string{"startIndex=9223372036854775807", "startIndex=9223372036854775800&count=10", "startIndex=2&count=9223372036854775807"} {
		resp := s.do(http.MethodGet, "/Users?"+q, nil)
		require.Equal(t, http.StatusOK, resp.status, "%s: %s", q, resp.raw)
		assert.Empty(t, resp.body["Resources"], q)
	}
}
