package scim_test

// Microsoft Entra ID's provisioning cycle against the handler, through the
// kit hosts use (idptest): its request sequences and shapes are written
// once, there, from Microsoft's public documentation of its provisioning
// service (the request/response examples of "Develop and plan
// provisioning for a SCIM endpoint", the aadOptscim062020 flag of "Known
// issues with SCIM 2.0 protocol compliance") and from requests Entra ID is
// publicly reported to send. The callbacks here check what the kit cannot
// know and a host need not care about: this library's exact answers, its
// versions and references, and leniencies beyond what the cycle sends.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/idptest"
	"github.com/scimkit/scim/memstore"
	"github.com/scimkit/scim/postgres"
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

// randomGUID is a value no resource has.
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

// version is a resource's meta.version.
func version(res map[string]any) any {
	meta, _ := res["meta"].(map[string]any)
	return meta["version"]
}

// idpStores runs fn on each store the identity-provider and host tests
// play on: memstore, and PostgreSQL when SCIM_POSTGRES_DSN names a
// database (each store fresh, in its own schema).
func idpStores(t *testing.T, fn func(t *testing.T, newStore func(t *testing.T) scim.Store)) {
	t.Helper()
	t.Run("memstore", func(t *testing.T) {
		fn(t, func(*testing.T) scim.Store { return memstore.New() })
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := os.Getenv("SCIM_POSTGRES_DSN")
		if dsn == "" {
			t.Skip("SCIM_POSTGRES_DSN is not set: the identity providers' cycles run on memstore only (set it to a database the test may create schemas in, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
		}
		pool, err := pgxpool.New(context.Background(), dsn)
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		fn(t, func(t *testing.T) scim.Store {
			schema := "idp_" + strings.ReplaceAll(randomGUID()[:13], "-", "")
			t.Cleanup(func() {
				_, _ = pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			})
			store, err := postgres.New(context.Background(), pool, postgres.WithSchema(schema))
			require.NoError(t, err)
			t.Cleanup(store.Close)
			return store
		})
	})
}

// exchange is a response the kit got, as the tests here read responses.
func exchange(t *testing.T, ex idptest.Exchange) response {
	t.Helper()
	out := response{status: ex.Status, header: ex.ResponseHeader, raw: string(ex.ResponseBody)}
	if len(ex.ResponseBody) > 0 {
		require.NoError(t, json.Unmarshal(ex.ResponseBody, &out.body), "%s %s: %s", ex.Method, ex.URL, ex.ResponseBody)
	}
	return out
}

// exactAnswers checks every answer of a step to the letter this library
// writes it: Content-Type, 201 with Location and ETag, 204 without a body
// for PATCH and DELETE, ListResponses with numbers and "Resources"
// always an array, errors with the Error schema and the status as a
// string, a Bearer challenge on 401, never a password. base is the URL
// the handler writes its locations under.
func exactAnswers(t *testing.T, base string, step *idptest.Step) {
	t.Helper()
	for _, ex := range step.Exchanges {
		if ex.Err != nil {
			continue
		}
		what := ex.Method + " " + ex.URL
		resp := exchange(t, ex)
		require.NotContains(t, resp.raw, `"password"`, what)
		if len(ex.ResponseBody) > 0 {
			require.Equal(t, "application/scim+json", resp.header.Get("Content-Type"), what)
		}
		path, query, _ := strings.Cut(strings.TrimPrefix(ex.URL, base), "?")
		switch {
		case ex.Status >= 400:
			requireError(t, resp, ex.Status, "")
			if ex.Status == http.StatusUnauthorized {
				require.Contains(t, resp.header.Get("WWW-Authenticate"), "Bearer", what)
			}
		case ex.Method == http.MethodPost:
			require.Equal(t, http.StatusCreated, ex.Status, what)
			id, _ := resp.body["id"].(string)
			require.Equal(t, base+path+"/"+id, resp.header.Get("Location"), what)
			require.Equal(t, resp.header.Get("Location"), resp.body["meta"].(map[string]any)["location"], what)
			require.Equal(t, resp.header.Get("ETag"), version(resp.body), what)
		case ex.Method == http.MethodPatch || ex.Method == http.MethodDelete:
			require.Equal(t, http.StatusNoContent, ex.Status, what)
			require.Empty(t, resp.raw, what)
			if ex.Method == http.MethodPatch {
				require.NotEmpty(t, resp.header.Get("ETag"), what)
			}
		case ex.Method == http.MethodPut:
			require.Equal(t, http.StatusOK, ex.Status, what)
			require.Equal(t, resp.header.Get("ETag"), version(resp.body), what)
		case ex.Method == http.MethodGet && query != "" && !strings.Contains(path[1:], "/"):
			total, _ := resp.body["totalResults"].(float64)
			requireList(t, resp, int(total))
		case ex.Method == http.MethodGet && ex.Status == http.StatusOK:
			require.Equal(t, resp.header.Get("ETag"), version(resp.body), what)
		}
	}
}

// findExchange returns the first exchange of a step that match accepts.
func findExchange(t *testing.T, step *idptest.Step, what string, match func(ex idptest.Exchange) bool) (int, idptest.Exchange) {
	t.Helper()
	for i, ex := range step.Exchanges {
		if match(ex) {
			return i, ex
		}
	}
	require.Failf(t, "no such request", "step %q sent no %s", step.Name, what)
	return 0, idptest.Exchange{}
}

// sends reports whether an exchange is method to a URL containing part,
// with a body containing body.
func sends(method, part, body string) func(ex idptest.Exchange) bool {
	return func(ex idptest.Exchange) bool {
		return ex.Method == method && strings.Contains(ex.URL, part) && strings.Contains(string(ex.RequestBody), body)
	}
}

// requireSteps checks that each step a callback has checks for is a step
// of the cycle and passed, so that a renamed step cannot skip them.
func requireSteps(t *testing.T, r *idptest.Report, names ...string) {
	t.Helper()
	passed := map[string]bool{}
	for _, s := range r.Steps {
		passed[s.Name] = s.Status == idptest.Passed
	}
	for _, n := range names {
		assert.True(t, passed[n], "step %q did not pass, or is not a step of %s: its checks did not run", n, r.Cycle)
	}
}

// TestEntra plays Entra ID's cycle, in both PATCH shapes, on each store.
func TestEntra(t *testing.T) {
	idpStores(t, func(t *testing.T, newStore func(t *testing.T) scim.Store) {
		for _, flagged := range []bool{false, true} {
			name := "default shapes"
			if flagged {
				name = "aadOptscim062020"
			}
			t.Run(name, func(t *testing.T) {
				s := newServerWithStore(t, newStore(t))
				r := idptest.Entra(t, s.srv.Config.Handler, idptest.Options{Token: "rw", TenantURL: s.url, AADOptSCIM062020: flagged,
					Users: 5, AfterStep: entraInternals(t, s, flagged)})
				requireSteps(t, r, "Test Connection", "Initial cycle: users", "Update user attributes", "Set, change and remove the manager",
					"Disable users", "Enable users", "Provision on demand: a new user", "Initial cycle: groups", "Initial cycle: group members",
					"Rename groups", "Remove group members", "Delete groups")
				requireList(t, s.do(http.MethodGet, "/Users", nil), 0)
				requireList(t, s.do(http.MethodGet, "/Groups", nil), 0)
			})
		}
	})
}

// entraInternals checks, after each step of Entra ID's cycle, what this
// library answers beyond what the kit checks.
func entraInternals(t *testing.T, s *server, flagged bool) func(ctx context.Context, step *idptest.Step) error {
	op := func(name string) string {
		if flagged {
			return strings.ToLower(name)
		}
		return name
	}
	var user0, gid string // the first user and the first group
	return func(ctx context.Context, step *idptest.Step) error {
		exactAnswers(t, s.url, step)
		switch step.Name {
		case "Test Connection":
			// Lookups by the other matching attributes, and the flag should
			// it reach the handler in the query.
			requireEmptyList(t, s.do(http.MethodGet, `/Users?filter=externalId eq "`+randomGUID()+`"`, nil))
			requireEmptyList(t, s.do(http.MethodGet, `/Users?filter=emails[type eq "work"].value eq "`+randomGUID()+`"`, nil))
			requireEmptyList(t, s.do(http.MethodGet, `/Users?aadOptscim062020&filter=userName eq "`+randomGUID()+`"`, nil))
			requireError(t, s.doAs("ro", http.MethodPost, "/Users", user("reader@contoso.example")), http.StatusForbidden, "")

		case "Initial cycle: users":
			_, post := findExchange(t, step, "create", sends(http.MethodPost, "/Users", `"manager":null`))
			created := exchange(t, post).body
			assert.Equal(t, map[string]any{"department": "Operations"}, enterprise(created), "a null manager is unassigned")
			assert.NotContains(t, created, "groups")
			u := step.Users[0].ID
			user0 = u
			ext := s.get("/Users/" + u)["externalId"].(string)
			list := requireList(t, s.do(http.MethodGet, `/Users?filter=externalId eq `+ext, nil), 1)
			assert.Equal(t, u, list[0]["id"], "an unquoted value, as in Microsoft's older example")
			// Attributes the cycle does not map must survive its updates.
			s.patchNoContent("/Users/"+u, patchBody(operation(op("Add"), "nickName", "Addy"), operation(op("Add"), "name.formatted", "Formatted Name")))

		case "Update user attributes":
			u := s.get("/Users/" + step.Users[0].ID)
			assert.Len(t, u["emails"], 1, "the work email is replaced, not added")
			assert.Equal(t, "Addy", u["nickName"], "attributes not named stay")
			assert.Equal(t, "Formatted Name", u["name"].(map[string]any)["formatted"], "a dotted key sets its sub-attribute and leaves the others")
			s.patchNoContent("/Users/"+step.Users[0].ID, patchBody(operation(op("Replace"), scim.EnterpriseUserSchema+":employeeNumber", "E-1042")))
			ext := enterprise(s.get("/Users/" + step.Users[0].ID))
			assert.Equal(t, "E-1042", ext["employeeNumber"])
			assert.Contains(t, ext, "department", "the rest of the extension stays")

		case "Set, change and remove the manager":
			i, _ := findExchange(t, step, "PATCH of manager", sends(http.MethodPatch, "/Users/", `"path":"manager"`))
			readBack := exchange(t, step.Exchanges[i+1]).body
			m := enterprise(readBack)["manager"].(map[string]any)
			assert.Equal(t, s.url+"/Users/"+m["value"].(string), m["$ref"], "the handler writes the manager's $ref")
			_, check := findExchange(t, step, "manager check that finds it", func(ex idptest.Exchange) bool {
				return strings.Contains(ex.URL, "attributes=id") && strings.Contains(string(ex.ResponseBody), `"totalResults":1`)
			})
			list := requireList(t, exchange(t, check), 1)
			assert.Equal(t, map[string]any{"id": step.Users[0].ID, "schemas": []any{scim.UserSchema}}, list[0], "attributes=id returns the id and schemas alone")
			// Set and removed by the URN-qualified path.
			u := "/Users/" + step.Users[0].ID
			s.patchNoContent(u, patchBody(operation(op("Add"), scim.EnterpriseUserSchema+":manager", m["value"])))
			require.Contains(t, enterprise(s.get(u)), "manager")
			s.patchNoContent(u, patchBody(operation(op("Remove"), scim.EnterpriseUserSchema+":manager")))
			assert.NotContains(t, enterprise(s.get(u)), "manager")

		case "Disable users":
			filter := `/Users?filter=active eq "False"`
			if flagged {
				filter = `/Users?filter=active eq false`
			}
			found := ids(s.do(http.MethodGet, filter, nil))
			for _, u := range step.Users {
				assert.Contains(t, found, u.ID, "a disabled user is found by active")
			}

		case "Enable users":
			u := step.Users[0].ID
			before := version(s.get("/Users/" + u))
			value := any("True")
			if flagged {
				value = true
			}
			s.patchNoContent("/Users/"+u, patchBody(operation(op("Replace"), "active", value)))
			assert.Equal(t, before, version(s.get("/Users/"+u)), "an update that changes nothing keeps the version")

		case "Provision on demand: a new user":
			_, post := findExchange(t, step, "create", sends(http.MethodPost, "/Users", `"title":null`))
			created := exchange(t, post).body
			assert.NotContains(t, created, "title", "null is unassigned")
			assert.NotContains(t, created, "phoneNumbers", "null is unassigned")

		case "Initial cycle: groups":
			_, post := findExchange(t, step, "create", sends(http.MethodPost, "/Groups", "ADSCIM"))
			created := exchange(t, post).body
			assert.Equal(t, []any{scim.GroupSchema}, created["schemas"], "Entra ID's own group schema is not served")
			assert.NotEmpty(t, created["externalId"])
			gid = created["id"].(string)

		case "Initial cycle: group members":
			_, check := findExchange(t, step, "membership check", sends(http.MethodGet, "members+eq", ""))
			for _, g := range requireList(t, exchange(t, check), 1) {
				assert.NotContains(t, g, "members", "excludedAttributes=members")
			}
			before := s.get("/Groups/" + gid)
			s.patchNoContent("/Groups/"+gid, patchBody(operation(op("Add"), "members", []any{map[string]any{"value": user0}})))
			assert.Equal(t, version(before), version(s.get("/Groups/"+gid)), "adding a member again changes nothing")
			g := s.get("/Groups/" + gid + "?excludedAttributes=members")
			assert.NotContains(t, g, "members")
			assert.Equal(t, gid, g["id"])
			for _, m := range before["members"].([]any) {
				v := m.(map[string]any)
				assert.Equal(t, s.url+"/Users/"+v["value"].(string), v["$ref"])
			}
			groups := s.get("/Users/" + user0)["groups"].([]any)
			assert.Contains(t, groups, map[string]any{"value": gid, "display": before["displayName"], "type": "direct", "$ref": s.url + "/Groups/" + gid})

		case "Rename groups":
			g := s.get("/Groups/" + gid)
			for _, u := range memberIDs(g) {
				for _, e := range s.get("/Users/" + u)["groups"].([]any) {
					if e.(map[string]any)["value"] == gid {
						assert.Equal(t, g["displayName"], e.(map[string]any)["display"], "a user's groups carry the new name")
					}
				}
			}

		case "Remove group members":
			for _, id := range ids(s.do(http.MethodGet, "/Users", nil)) {
				assert.NotContains(t, s.get("/Users/"+id), "groups", "the members left every group")
			}

		case "Delete groups":
			list := requireList(t, s.do(http.MethodGet, "/Users?count=0", nil), 3)
			assert.Empty(t, list)
		}
		return nil
	}
}

// TestEntraMatching: Entra ID matching users by externalId or by their
// work email.
func TestEntraMatching(t *testing.T) {
	for _, m := range []idptest.Attribute{idptest.ExternalID, idptest.Emails} {
		t.Run(string(m), func(t *testing.T) {
			s := newServer(t)
			idptest.Entra(t, s.srv.Config.Handler, idptest.Options{Token: "rw", TenantURL: s.url, Matching: m,
				AfterStep: func(ctx context.Context, step *idptest.Step) error {
					exactAnswers(t, s.url, step)
					return nil
				}})
		})
	}
}
