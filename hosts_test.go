package scim_test

// One scenario per host application whose customer documentation is in
// ../shared/seeds/: what each document promises its customers, played
// against a handler mounted the way that host would mount it.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// rawDo sends a request as an identity provider configured with a tenant
// URL does: target is the path and query exactly as they go on the wire,
// host the Host header ("" for the test server's own).
func rawDo(t *testing.T, srv *httptest.Server, host, token, method, target string, body any) response {
	t.Helper()
	var r io.Reader
	if body != nil {
		enc, err := json.Marshal(body)
		require.NoError(t, err)
		r = strings.NewReader(string(enc))
	}
	req, err := http.NewRequest(method, srv.URL+target, r)
	require.NoError(t, err)
	if host != "" {
		req.Host = host
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out.body), "body: %s", raw)
	}
	return out
}

// tenantStore records the tenant (scim.TenantFrom) each resource was
// created in, as a host's own store partitions by it.
type tenantStore struct {
	scim.Store
	mu      sync.Mutex
	tenants map[string]string // id → tenant
}

func newTenantStore() *tenantStore {
	return &tenantStore{Store: memstore.New(), tenants: map[string]string{}}
}

func (s *tenantStore) Create(ctx context.Context, res *scim.Resource) (*scim.Resource, error) {
	out, err := s.Store.Create(ctx, res)
	if err == nil {
		s.mu.Lock()
		s.tenants[out.ID] = scim.TenantFrom(ctx)
		s.mu.Unlock()
	}
	return out, err
}

func (s *tenantStore) tenantOf(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tenants[id]
}

// bearer returns the token of an Authorization header.
func bearer(r *http.Request) string {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// TestHostIGrafxProcess360 follows iGrafx Process360 Live's guide for a
// custom SCIM client: a SCIM directory with its own tenant URL and a secret
// token that can be regenerated; an IdP configured with that URL, a bearer
// token and userName as the unique identifier; the mapping Username,
// Enabled, email, First Name, Last Name (extra mappings are ignored);
// groups optional, starting with an empty one; usernames unique, a
// duplicate skipped; disabled users kept but not active.
func TestHostIGrafxProcess360(t *testing.T) {
	// Each directory is a tenant; its token is only good at its own URL.
	tokens := scim.NewBearerTokens()
	auth := scim.AuthenticatorFunc(func(r *http.Request) (scim.Principal, error) {
		p, err := tokens.Authenticate(r)
		if err != nil {
			return p, err
		}
		if p.Tenant != r.PathValue("directory") {
			return scim.Principal{}, scim.ErrUnauthenticated
		}
		return p, nil
	})
	h, err := scim.New(memstore.New(), auth)
	require.NoError(t, err)
	srv := mount(t, "/process-design/directories/{directory}/scim/v2/", h)
	tenantURL := func(dir string) *server {
		return &server{t: t, srv: srv, url: srv.URL + "/process-design/directories/" + dir + "/scim/v2"}
	}
	dir := tenantURL("dir-7")
	secret := "igx-secret-1"
	var userID, groupID string

	t.Run("create the SCIM directory and its secret token", func(t *testing.T) {
		tokens.Add(scim.Token{Secret: secret, Principal: scim.Principal{ID: "dir-7 token", Tenant: "dir-7"}})
		requireList(t, dir.doAs(secret, http.MethodGet, "/Users?startIndex=1&count=1", nil), 0)
	})
	t.Run("start with an empty group", func(t *testing.T) {
		resp := dir.doAs(secret, http.MethodPost, "/Groups", map[string]any{
			"schemas": []any{scim.GroupSchema}, "displayName": "Process Owners", "members": []any{},
		})
		require.Equal(t, http.StatusCreated, resp.status, resp.raw)
		groupID = resp.body["id"].(string)
		assert.True(t, strings.HasPrefix(resp.header.Get("Location"), dir.url+"/Groups/"))
	})
	t.Run("a single user with the documented mapping", func(t *testing.T) {
		// Enabled is an expression in the IdP, which yields "True"/"False".
		resp := dir.doAs(secret, http.MethodPost, "/Users", map[string]any{
			"schemas":  []any{scim.UserSchema},
			"userName": "j.doe@customer.example",
			"active":   "True",
			"emails":   []any{map[string]any{"type": "work", "value": "j.doe@customer.example", "primary": true}},
			"name":     map[string]any{"givenName": "Jane", "familyName": "Doe"},
			// Extra default mappings of the IdP: ignored.
			"urn:ietf:params:scim:schemas:extension:fabrikam:2.0:User": map[string]any{"costCode": "CC-1"},
			"mailNickname": "jdoe",
		})
		require.Equal(t, http.StatusCreated, resp.status, resp.raw)
		userID = resp.body["id"].(string)
		assert.Equal(t, "j.doe@customer.example", resp.body["userName"])
		assert.Equal(t, true, resp.body["active"])
		assert.Equal(t, "j.doe@customer.example", workEmail(t, resp.body)["value"])
		assert.Equal(t, map[string]any{"givenName": "Jane", "familyName": "Doe"}, resp.body["name"])
		assert.NotContains(t, resp.raw, "costCode")
		assert.NotContains(t, resp.raw, "mailNickname")
	})
	t.Run("the IdP finds users by userName", func(t *testing.T) {
		list := requireList(t, dir.doAs(secret, http.MethodGet, `/Users?filter=userName eq "J.Doe@customer.example"`, nil), 1)
		assert.Equal(t, userID, list[0]["id"])
	})
	t.Run("a duplicate username is refused, so the IdP skips it", func(t *testing.T) {
		resp := dir.doAs(secret, http.MethodPost, "/Users", user("J.DOE@customer.example", map[string]any{
			"name": map[string]any{"givenName": "Other"},
		}))
		requireError(t, resp, http.StatusConflict, "uniqueness")
		assert.Equal(t, "Jane", dir.doAs(secret, http.MethodGet, "/Users/"+userID, nil).body["name"].(map[string]any)["givenName"],
			"the existing user is untouched")
	})
	t.Run("update", func(t *testing.T) {
		resp := dir.doAs(secret, http.MethodPatch, "/Users/"+userID, patchBody(operation("Replace", "name.familyName", "Doe-Smith")))
		require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
		assert.Equal(t, "Doe-Smith", dir.doAs(secret, http.MethodGet, "/Users/"+userID, nil).body["name"].(map[string]any)["familyName"])
	})
	t.Run("group membership", func(t *testing.T) {
		resp := dir.doAs(secret, http.MethodPatch, "/Groups/"+groupID, patchBody(operation("add", "members", []any{map[string]any{"value": userID}})))
		require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
		assert.Equal(t, []string{userID}, memberIDs(dir.doAs(secret, http.MethodGet, "/Groups/"+groupID, nil).body))
	})
	t.Run("disable: the user stays, not active", func(t *testing.T) {
		resp := dir.doAs(secret, http.MethodPatch, "/Users/"+userID, patchBody(operation("Replace", "active", "False")))
		require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
		got := dir.doAs(secret, http.MethodGet, "/Users/"+userID, nil)
		require.Equal(t, http.StatusOK, got.status)
		assert.Equal(t, false, got.body["active"])
		// Disabled users do not consume a license: the host counts active ones.
		requireList(t, dir.doAs(secret, http.MethodGet, "/Users?filter=active eq true&count=0", nil), 0)
		requireList(t, dir.doAs(secret, http.MethodGet, "/Users?count=0", nil), 1)
	})
	t.Run("errors are SCIM errors the provisioning logs can show", func(t *testing.T) {
		resp := dir.doAs(secret, http.MethodPost, "/Users", `{"schemas": ["`+scim.UserSchema+`"], "userName": `)
		requireError(t, resp, http.StatusBadRequest, "invalidSyntax")
	})
	t.Run("a skipped user is provisioned once the local one is deleted", func(t *testing.T) {
		require.Equal(t, http.StatusNoContent, dir.doAs(secret, http.MethodDelete, "/Users/"+userID, nil).status)
		resp := dir.doAs(secret, http.MethodPost, "/Users", user("J.DOE@customer.example"))
		require.Equal(t, http.StatusCreated, resp.status, resp.raw)
		userID = resp.body["id"].(string)
	})
	t.Run("generate a new token", func(t *testing.T) {
		tokens.Add(scim.Token{Secret: "igx-secret-2", Principal: scim.Principal{ID: "dir-7 token 2", Tenant: "dir-7"}})
		tokens.Revoke(secret)
		requireError(t, dir.doAs(secret, http.MethodGet, "/Users", nil), http.StatusUnauthorized, "")
		secret = "igx-secret-2"
		list := requireList(t, dir.doAs(secret, http.MethodGet, "/Users", nil), 1)
		assert.Equal(t, userID, list[0]["id"], "the directory's users survive the new token")
	})
	t.Run("another directory is another tenant", func(t *testing.T) {
		other := tenantURL("dir-8")
		tokens.Add(scim.Token{Secret: "igx-other", Principal: scim.Principal{ID: "dir-8 token", Tenant: "dir-8"}})
		requireList(t, other.doAs("igx-other", http.MethodGet, "/Users", nil), 0)
		require.Equal(t, http.StatusCreated, other.doAs("igx-other", http.MethodPost, "/Users", user("j.doe@customer.example")).status)
		requireError(t, other.doAs(secret, http.MethodGet, "/Users", nil), http.StatusUnauthorized, "")
		requireError(t, dir.doAs("igx-other", http.MethodGet, "/Users", nil), http.StatusUnauthorized, "")
		requireError(t, other.doAs("igx-other", http.MethodGet, "/Users/"+userID, nil), http.StatusNotFound, "")
	})
}

// TestHostIGrafxPlatform follows the iGrafx Platform cloud page: each
// customer gets a SCIM tenant URL of its own; one handler serves them all,
// and a customer's users and groups live in that customer's tenant.
func TestHostIGrafxPlatform(t *testing.T) {
	customers := map[string]string{"token-acme": "acme", "token-globex": "globex"}
	store := newTenantStore()
	h, err := scim.New(store, scim.AuthenticatorFunc(func(r *http.Request) (scim.Principal, error) {
		tenant, ok := customers[bearer(r)]
		if !ok || tenant != r.PathValue("customer") {
			return scim.Principal{}, scim.ErrUnauthenticated
		}
		return scim.Principal{ID: "scim@" + tenant, Tenant: tenant}, nil
	}))
	require.NoError(t, err)
	srv := mount(t, "/{customer}/scim/v2/", h)
	acme := &server{t: t, srv: srv, url: srv.URL + "/acme/scim/v2"}
	globex := &server{t: t, srv: srv, url: srv.URL + "/globex/scim/v2"}

	a := acme.doAs("token-acme", http.MethodPost, "/Users", user("pat@shared.example"))
	require.Equal(t, http.StatusCreated, a.status, a.raw)
	assert.Equal(t, acme.url+"/Users/"+a.body["id"].(string), a.header.Get("Location"))
	g := globex.doAs("token-globex", http.MethodPost, "/Users", user("pat@shared.example"))
	require.Equal(t, http.StatusCreated, g.status, "the same userName in another customer is no conflict: %s", g.raw)
	grp := globex.doAs("token-globex", http.MethodPost, "/Groups", group("Analysts", g.body["id"].(string)))
	require.Equal(t, http.StatusCreated, grp.status, grp.raw)

	assert.Equal(t, "acme", store.tenantOf(a.body["id"].(string)))
	assert.Equal(t, "globex", store.tenantOf(g.body["id"].(string)))
	assert.Equal(t, "globex", store.tenantOf(grp.body["id"].(string)))
	assert.Equal(t, []string{a.body["id"].(string)}, ids(acme.doAs("token-acme", http.MethodGet, "/Users", nil)))
	requireList(t, acme.doAs("token-acme", http.MethodGet, "/Groups", nil), 0)
	requireError(t, acme.doAs("token-acme", http.MethodGet, "/Users/"+g.body["id"].(string), nil), http.StatusNotFound, "")
	requireError(t, acme.doAs("token-globex", http.MethodGet, "/Users", nil), http.StatusUnauthorized, "")
}

// TestHostProcedureFlow follows ProcedureFlow's generic-IdP guide: personal
// access tokens with a "Read and write SCIM" permission and an expiry (or
// none); the SCIM base URL under the host's API path; the connection test
// `GET /Users?filter=userName eq "…"` answering 200 with an empty list;
// users and groups provisioned (groups are then mapped to entry points).
func TestHostProcedureFlow(t *testing.T) {
	tokens := scim.NewBearerTokens(
		scim.Token{Secret: "2:pfpat_rw", Principal: scim.Principal{ID: "pat rw"}, ExpiresAt: time.Now().AddDate(1, 0, 0)},
		scim.Token{Secret: "2:pfpat_forever", Principal: scim.Principal{ID: "pat no expiry"}},
		scim.Token{Secret: "2:pfpat_read", Principal: scim.Principal{ID: "pat read", ReadOnly: true}, ExpiresAt: time.Now().AddDate(0, 1, 0)},
		scim.Token{Secret: "2:pfpat_old", Principal: scim.Principal{ID: "pat expired"}, ExpiresAt: time.Now().Add(-time.Hour)},
	)
	h, err := scim.New(memstore.New(), tokens)
	require.NoError(t, err)
	srv := mount(t, "/v1/scim/v2/", h)
	pf := &server{t: t, srv: srv, url: srv.URL + "/v1/scim/v2"}
	const connectionTest = `/v1/scim/v2/Users?filter=userName+eq+%22user@example.com%22`

	t.Run("the connection test answers 200 with an empty list", func(t *testing.T) {
		for _, token := range []string{"2:pfpat_rw", "2:pfpat_forever", "2:pfpat_read"} {
			resp := rawDo(t, srv, "", token, http.MethodGet, connectionTest, nil)
			requireEmptyList(t, resp)
			assert.EqualValues(t, 0, resp.body["itemsPerPage"])
		}
	})
	t.Run("an expired token fails the integration", func(t *testing.T) {
		resp := rawDo(t, srv, "", "2:pfpat_old", http.MethodGet, connectionTest, nil)
		requireError(t, resp, http.StatusUnauthorized, "")
		assert.Contains(t, resp.body["detail"], "expired")
		assert.Contains(t, resp.header.Get("WWW-Authenticate"), "Bearer")
	})
	t.Run("until a new token is generated and configured", func(t *testing.T) {
		tokens.Add(scim.Token{Secret: "2:pfpat_new", Principal: scim.Principal{ID: "pat new"}, ExpiresAt: time.Now().AddDate(2, 0, 0)})
		requireEmptyList(t, rawDo(t, srv, "", "2:pfpat_new", http.MethodGet, connectionTest, nil))
	})
	var uid, gid string
	t.Run("a read and write token provisions users", func(t *testing.T) {
		resp := pf.doAs("2:pfpat_rw", http.MethodPost, "/Users", user("user@example.com", map[string]any{
			"name":   map[string]any{"givenName": "Uma", "familyName": "Ser"},
			"emails": []any{map[string]any{"value": "user@example.com", "primary": true}},
			"active": true,
		}))
		require.Equal(t, http.StatusCreated, resp.status, resp.raw)
		uid = resp.body["id"].(string)
		assert.Equal(t, pf.url+"/Users/"+uid, resp.header.Get("Location"), "under the host's own API path")
		list := requireList(t, rawDo(t, srv, "", "2:pfpat_rw", http.MethodGet, connectionTest, nil), 1)
		assert.Equal(t, uid, list[0]["id"])
	})
	t.Run("and groups with members", func(t *testing.T) {
		gid = pf.doAs("2:pfpat_forever", http.MethodPost, "/Groups", group("Support Tier 1", uid)).body["id"].(string)
		list := requireList(t, pf.doAs("2:pfpat_rw", http.MethodGet, `/Groups?filter=displayName eq "Support Tier 1"`, nil), 1)
		assert.Equal(t, []string{uid}, memberIDs(list[0]))
	})
	t.Run("a token without write permission reads but cannot write", func(t *testing.T) {
		assert.Equal(t, http.StatusOK, pf.doAs("2:pfpat_read", http.MethodGet, "/Users/"+uid, nil).status)
		assert.Equal(t, http.StatusOK, pf.doAs("2:pfpat_read", http.MethodPost, "/Users/.search", map[string]any{
			"schemas": []any{scim.SearchRequestSchema}, "filter": `userName eq "user@example.com"`,
		}).status)
		requireError(t, pf.doAs("2:pfpat_read", http.MethodPost, "/Users", user("another@example.com")), http.StatusForbidden, "")
		requireError(t, pf.doAs("2:pfpat_read", http.MethodPatch, "/Users/"+uid, patchBody(operation("replace", "active", false))), http.StatusForbidden, "")
		requireError(t, pf.doAs("2:pfpat_read", http.MethodPatch, "/Groups/"+gid, patchBody(operation("remove", "members"))), http.StatusForbidden, "")
		requireError(t, pf.doAs("2:pfpat_read", http.MethodDelete, "/Users/"+uid, nil), http.StatusForbidden, "")
		assert.Equal(t, true, pf.doAs("2:pfpat_rw", http.MethodGet, "/Users/"+uid, nil).body["active"])
	})
	t.Run("a revoked token stops working at once", func(t *testing.T) {
		tokens.Revoke("2:pfpat_rw")
		requireError(t, rawDo(t, srv, "", "2:pfpat_rw", http.MethodGet, connectionTest, nil), http.StatusUnauthorized, "")
		assert.Equal(t, http.StatusOK, rawDo(t, srv, "", "2:pfpat_new", http.MethodGet, connectionTest, nil).status)
	})
}

// TestHostProcessMaker follows ProcessMaker's Entra ID guide: Tenant URL
// and Secret Token (case-sensitive), Test Connection, and the attributes
// Entra ID maps for users (userName, name, displayName, work email, active,
// externalId, title, department, work phone, preferredLanguage, groups) and
// groups (displayName, members, externalId); name changes and deactivations
// in Entra ID show up in the host.
func TestHostProcessMaker(t *testing.T) {
	tokens := scim.NewBearerTokens(scim.Token{Secret: "PmToken-AbC123", Principal: scim.Principal{ID: "entra"}})
	h, err := scim.New(memstore.New(), tokens, scim.WithBaseURL("https://yourdomain.processmaker.example/scim/v2"))
	require.NoError(t, err)
	srv := mount(t, "/scim/v2/", h)
	pm := &server{t: t, srv: srv, url: srv.URL + "/scim/v2"}
	const token = "PmToken-AbC123"
	const dept = scim.EnterpriseUserSchema + ":department"
	var uid, gid string

	t.Run("Test Connection", func(t *testing.T) {
		requireEmptyList(t, pm.doAs(token, http.MethodGet, `/Users?filter=userName eq "`+randomGUID()+`"`, nil))
	})
	t.Run("the secret token is case-sensitive", func(t *testing.T) {
		requireError(t, pm.doAs(strings.ToLower(token), http.MethodGet, "/Users", nil), http.StatusUnauthorized, "")
	})
	t.Run("create a user with every mapped attribute", func(t *testing.T) {
		resp := pm.doAs(token, http.MethodPost, "/Users", map[string]any{
			"schemas":                 []any{scim.UserSchema, scim.EnterpriseUserSchema},
			"userName":                "diego.s@tenant.example",
			"name":                    map[string]any{"givenName": "Diego", "familyName": "Siciliani"},
			"displayName":             "Diego Siciliani",
			"emails":                  []any{map[string]any{"type": "work", "value": "diego.s@tenant.example", "primary": true}},
			"active":                  true,
			"externalId":              "d1e2f3a4-0000-4000-8000-000000000001",
			"title":                   "HR Manager",
			"phoneNumbers":            []any{map[string]any{"type": "work", "value": "+1 425 555 0109"}},
			"preferredLanguage":       "en-US",
			scim.EnterpriseUserSchema: map[string]any{"department": "HR"},
		})
		require.Equal(t, http.StatusCreated, resp.status, resp.raw)
		uid = resp.body["id"].(string)
		assert.Equal(t, "https://yourdomain.processmaker.example/scim/v2/Users/"+uid, resp.header.Get("Location"))
	})
	t.Run("every mapped attribute reads back", func(t *testing.T) {
		u := pm.doAs(token, http.MethodGet, "/Users/"+uid, nil).body
		assert.Equal(t, "diego.s@tenant.example", u["userName"])
		assert.Equal(t, map[string]any{"givenName": "Diego", "familyName": "Siciliani"}, u["name"])
		assert.Equal(t, "Diego Siciliani", u["displayName"])
		assert.Equal(t, "diego.s@tenant.example", workEmail(t, u)["value"])
		assert.Equal(t, true, u["active"])
		assert.Equal(t, "d1e2f3a4-0000-4000-8000-000000000001", u["externalId"])
		assert.Equal(t, "HR Manager", u["title"])
		assert.Equal(t, map[string]any{"department": "HR"}, enterprise(u))
		assert.Equal(t, []any{map[string]any{"type": "work", "value": "+1 425 555 0109"}}, u["phoneNumbers"])
		assert.Equal(t, "en-US", u["preferredLanguage"])
	})
	t.Run("every mapped attribute is filterable", func(t *testing.T) {
		for _, f := range []string{
			`userName eq "diego.s@tenant.example"`,
			`name.givenName eq "Diego" and name.familyName eq "Siciliani"`,
			`displayName eq "Diego Siciliani"`,
			`emails[type eq "work" and value eq "diego.s@tenant.example"]`,
			`active eq true`,
			`externalId eq "d1e2f3a4-0000-4000-8000-000000000001"`,
			`title eq "HR Manager"`,
			dept + ` eq "HR"`,
			`phoneNumbers[type eq "work" and value eq "+1 425 555 0109"]`,
			`preferredLanguage eq "en-US"`,
		} {
			list := requireList(t, pm.doAs(token, http.MethodGet, "/Users?filter="+f, nil), 1)
			assert.Equal(t, uid, list[0]["id"], f)
		}
	})
	t.Run("Entra ID updates each mapped attribute", func(t *testing.T) {
		resp := pm.doAs(token, http.MethodPatch, "/Users/"+uid, patchBody(
			operation("Replace", "name.givenName", "Diego A."),
			operation("Replace", "displayName", "Diego A. Siciliani"),
			operation("Replace", `emails[type eq "work"].value`, "dsiciliani@tenant.example"),
			operation("Replace", `phoneNumbers[type eq "work"].value`, "+1 425 555 0110"),
			operation("Replace", "title", "HR Director"),
			operation("Replace", dept, "People"),
			operation("Replace", "preferredLanguage", "de-DE"),
			operation("Replace", "externalId", "d1e2f3a4-0000-4000-8000-000000000002"),
		))
		require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
		u := pm.doAs(token, http.MethodGet, "/Users/"+uid, nil).body
		assert.Equal(t, "Diego A.", u["name"].(map[string]any)["givenName"])
		assert.Equal(t, "Diego A. Siciliani", u["displayName"])
		assert.Equal(t, "dsiciliani@tenant.example", workEmail(t, u)["value"])
		assert.Equal(t, []any{map[string]any{"type": "work", "value": "+1 425 555 0110"}}, u["phoneNumbers"])
		assert.Equal(t, "HR Director", u["title"])
		assert.Equal(t, "People", enterprise(u)["department"])
		assert.Equal(t, "de-DE", u["preferredLanguage"])
		assert.Equal(t, "d1e2f3a4-0000-4000-8000-000000000002", u["externalId"])
	})
	t.Run("a work phone added to a user without one", func(t *testing.T) {
		other := pm.doAs(token, http.MethodPost, "/Users", user("no.phone@tenant.example")).body["id"].(string)
		resp := pm.doAs(token, http.MethodPatch, "/Users/"+other, patchBody(operation("Add", `phoneNumbers[type eq "work"].value`, "+1 425 555 0111")))
		require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
		assert.Equal(t, []any{map[string]any{"type": "work", "value": "+1 425 555 0111"}},
			pm.doAs(token, http.MethodGet, "/Users/"+other, nil).body["phoneNumbers"])
	})
	t.Run("groups with displayName, externalId and members", func(t *testing.T) {
		resp := pm.doAs(token, http.MethodPost, "/Groups", map[string]any{
			"schemas": []any{scim.GroupSchema}, "displayName": "HR", "externalId": "g-0001",
		})
		require.Equal(t, http.StatusCreated, resp.status, resp.raw)
		gid = resp.body["id"].(string)
		r := pm.doAs(token, http.MethodPatch, "/Groups/"+gid, patchBody(operation("Add", "members", memberRefs(uid))))
		require.Equal(t, http.StatusNoContent, r.status, r.raw)
		g := pm.doAs(token, http.MethodGet, "/Groups/"+gid, nil).body
		assert.Equal(t, "HR", g["displayName"])
		assert.Equal(t, "g-0001", g["externalId"])
		assert.Equal(t, []string{uid}, memberIDs(g))
	})
	t.Run("a user's groups come from group membership", func(t *testing.T) {
		u := pm.doAs(token, http.MethodGet, "/Users/"+uid, nil).body
		assert.Equal(t, []any{map[string]any{
			"value": gid, "display": "HR", "type": "direct",
			"$ref": "https://yourdomain.processmaker.example/scim/v2/Groups/" + gid,
		}}, u["groups"])
	})
	t.Run("a deactivation in Entra ID shows up in the host", func(t *testing.T) {
		resp := pm.doAs(token, http.MethodPatch, "/Users/"+uid, patchBody(operation("Replace", "active", "False")))
		require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
		u := pm.doAs(token, http.MethodGet, "/Users/"+uid, nil).body
		assert.Equal(t, false, u["active"])
		assert.Equal(t, "HR", u["groups"].([]any)[0].(map[string]any)["display"], "a deactivated user keeps its groups")
	})
}

// ownerGuard is a host's own rule in its store: the only company owner
// cannot be disabled. It answers with a SCIM error of its choosing.
type ownerGuard struct {
	*tenantStore
	mu    sync.Mutex
	owner string // id of the only company owner; "" when there are several
}

func (g *ownerGuard) Replace(ctx context.Context, res *scim.Resource, expected string) (*scim.Resource, error) {
	g.mu.Lock()
	owner := g.owner
	g.mu.Unlock()
	if res.ID == owner && res.Attributes["active"] == false {
		return nil, &scim.Error{Status: http.StatusBadRequest, SCIMType: scim.SCIMTypeMutability,
			Detail: "the only company owner cannot be disabled; assign another company owner first"}
	}
	return g.tenantStore.Replace(ctx, res, expected)
}

// TestHostBizagiCustomerPortal follows Bizagi's Entra ID guide for the
// customer portal: a Tenant URL per subscription
// (users-<subscription>.<domain>/scim/v2) with the API token generated
// for it, Test Connection, provision on demand, create, update, disable
// (the user stays; the only company owner cannot be disabled) and delete.
func TestHostBizagiCustomerPortal(t *testing.T) {
	subscriptions := map[string]string{"bz-token-contoso": "contoso", "bz-token-fabrikam": "fabrikam"}
	store := &ownerGuard{tenantStore: newTenantStore()}
	h, err := scim.New(store, scim.AuthenticatorFunc(func(r *http.Request) (scim.Principal, error) {
		host, _, _ := strings.Cut(r.Host, ".")
		sub, ok := strings.CutPrefix(host, "users-")
		if !ok || subscriptions[bearer(r)] != sub {
			return scim.Principal{}, scim.ErrUnauthenticated
		}
		return scim.Principal{ID: "entra@" + sub, Tenant: sub}, nil
	}))
	require.NoError(t, err)
	srv := mount(t, "/scim/v2/", h)
	const host, token = "users-contoso.bizagi.example", "bz-token-contoso"
	do := func(method, target string, body any) response {
		t.Helper()
		return rawDo(t, srv, host, token, method, "/scim/v2"+escapeQuery(target), body)
	}
	var uid, ownerID string

	t.Run("Test Connection", func(t *testing.T) {
		requireEmptyList(t, do(http.MethodGet, `/Users?filter=userName eq "`+randomGUID()+`"`, nil))
	})
	t.Run("a token works only at its subscription's URL", func(t *testing.T) {
		requireError(t, rawDo(t, srv, "users-fabrikam.bizagi.example", token, http.MethodGet, "/scim/v2/Users", nil), http.StatusUnauthorized, "")
		requireList(t, rawDo(t, srv, "users-fabrikam.bizagi.example", "bz-token-fabrikam", http.MethodGet, "/scim/v2/Users", nil), 0)
	})
	t.Run("provision on demand: match, then create", func(t *testing.T) {
		requireEmptyList(t, do(http.MethodGet, `/Users?filter=userName eq "alex.w@contoso.example"`, nil))
		resp := do(http.MethodPost, "/Users", entraUser("alex.w@contoso.example", randomGUID(), "alex.w@contoso.example"))
		require.Equal(t, http.StatusCreated, resp.status, resp.raw)
		uid = resp.body["id"].(string)
		assert.Equal(t, "http://"+host+"/scim/v2/Users/"+uid, resp.header.Get("Location"), "URLs name the subscription's host")
		assert.Equal(t, "contoso", store.tenantOf(uid))
	})
	t.Run("a user with incomplete data is not synchronized", func(t *testing.T) {
		resp := do(http.MethodPost, "/Users", map[string]any{"schemas": []any{scim.UserSchema}, "displayName": "No Username"})
		requireError(t, resp, http.StatusBadRequest, "invalidValue")
		requireList(t, do(http.MethodGet, "/Users?count=0", nil), 1)
	})
	t.Run("update the user's information", func(t *testing.T) {
		resp := do(http.MethodPatch, "/Users/"+uid, patchBody(
			operation("Replace", "displayName", "Alex Wilber"),
			operation("Replace", "name.givenName", "Alex"),
		))
		require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
		u := do(http.MethodGet, "/Users/"+uid, nil).body
		assert.Equal(t, "Alex Wilber", u["displayName"])
		assert.Equal(t, "Alex", u["name"].(map[string]any)["givenName"])
	})
	t.Run("disable: the user stays, with active false", func(t *testing.T) {
		resp := do(http.MethodPatch, "/Users/"+uid, patchBody(operation("Replace", "active", "False")))
		require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
		u := do(http.MethodGet, "/Users/"+uid, nil)
		require.Equal(t, http.StatusOK, u.status)
		assert.Equal(t, false, u.body["active"])
	})
	t.Run("the only company owner cannot be disabled", func(t *testing.T) {
		ownerID = do(http.MethodPost, "/Users", entraUser("owner@contoso.example", randomGUID(), "owner@contoso.example")).body["id"].(string)
		store.mu.Lock()
		store.owner = ownerID
		store.mu.Unlock()
		resp := do(http.MethodPatch, "/Users/"+ownerID, patchBody(operation("Replace", "active", "False")))
		requireError(t, resp, http.StatusBadRequest, "mutability")
		assert.Contains(t, resp.body["detail"], "company owner")
		assert.Equal(t, true, do(http.MethodGet, "/Users/"+ownerID, nil).body["active"])
	})
	t.Run("once another company owner is assigned, it can", func(t *testing.T) {
		store.mu.Lock()
		store.owner = ""
		store.mu.Unlock()
		resp := do(http.MethodPatch, "/Users/"+ownerID, patchBody(operation("Replace", "active", "False")))
		require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
		assert.Equal(t, false, do(http.MethodGet, "/Users/"+ownerID, nil).body["active"])
	})
	t.Run("delete", func(t *testing.T) {
		require.Equal(t, http.StatusNoContent, do(http.MethodDelete, "/Users/"+uid, nil).status)
		requireError(t, do(http.MethodGet, "/Users/"+uid, nil), http.StatusNotFound, "")
		requireEmptyList(t, do(http.MethodGet, `/Users?filter=userName eq "alex.w@contoso.example"`, nil))
	})
	t.Run("the other subscription saw none of it", func(t *testing.T) {
		requireList(t, rawDo(t, srv, "users-fabrikam.bizagi.example", "bz-token-fabrikam", http.MethodGet, "/scim/v2/Users", nil), 0)
	})
}
