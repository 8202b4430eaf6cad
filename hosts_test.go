package scim_test

// One scenario per host application whose customer documentation is in
// ../shared/seeds/: what each document promises its customers, played
// against a handler mounted the way that host would mount it. The
// identity providers' cycles go through the kit (idptest) with the host's
// attribute mapping; the host's own promises (tokens, tenants, refusals,
// invites) are checked here, in the kit's callbacks or beside the cycles.

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
	"github.com/scimkit/scim/idptest"
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

func newTenantStore(store scim.Store) *tenantStore {
	return &tenantStore{Store: store, tenants: map[string]string{}}
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

// idpCycle is one identity provider's cycle, as a host test plays it.
type idpCycle struct {
	name string
	play func(t testing.TB, h http.Handler, opts idptest.Options) *idptest.Report
}

func bothIdPs() []idpCycle {
	return []idpCycle{{"Entra ID", idptest.Entra}, {"Okta", idptest.Okta}}
}

// TestHostIGrafxProcess360 follows iGrafx Process360 Live's guide for a
// custom SCIM client: a SCIM directory with its own tenant URL and a secret
// token that can be regenerated; an IdP configured with that URL, a bearer
// token and userName as the unique identifier; the mapping Username,
// Enabled, email, First Name, Last Name (extra mappings are ignored);
// groups optional; usernames unique, a duplicate skipped; disabled users
// kept but not active, and not counted against the licence.
func TestHostIGrafxProcess360(t *testing.T) {
	mapping := []idptest.Attribute{idptest.UserName, idptest.Active, idptest.Emails, idptest.GivenName, idptest.FamilyName, idptest.Groups}
	idpStores(t, func(t *testing.T, newStore func(t *testing.T) scim.Store) {
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
		h, err := scim.New(newStore(t), auth)
		require.NoError(t, err)
		srv := mount(t, "/process-design/directories/{directory}/scim/v2/", h)
		tenantURL := func(dir string) *server {
			return &server{t: t, srv: srv, url: srv.URL + "/process-design/directories/" + dir + "/scim/v2"}
		}
		dir := tenantURL("dir-7")
		secret := "igx-secret-1"
		tokens.Add(scim.Token{Secret: secret, Principal: scim.Principal{ID: "dir-7 token", Tenant: "dir-7"}})

		for _, idp := range bothIdPs() {
			t.Run(idp.name+" with the documented mapping", func(t *testing.T) {
				idp.play(t, srv.Config.Handler, idptest.Options{Token: secret, TenantURL: dir.url, Attributes: mapping,
					AfterStep: func(ctx context.Context, step *idptest.Step) error {
						exactAnswers(t, dir.url, step)
						if step.Action == idptest.Deactivate {
							// The licence counts active users only.
							for _, u := range step.Users {
								f := `/Users?count=0&filter=active eq true and userName eq "` + u.UserName + `"`
								requireList(t, dir.doAs(secret, http.MethodGet, f, nil), 0)
								assert.Equal(t, false, dir.doAs(secret, http.MethodGet, "/Users/"+u.ID, nil).body["active"], "disabled, the user stays")
							}
						}
						return nil
					}})
			})
		}
		t.Run("Enabled as an expression, extra default mappings", func(t *testing.T) {
			// Enabled is an expression in the IdP, which yields "True"/"False";
			// the IdP's extra default mappings are ignored.
			resp := dir.doAs(secret, http.MethodPost, "/Users", map[string]any{
				"schemas":  []any{scim.UserSchema},
				"userName": "j.doe@customer.example",
				"active":   "True",
				"emails":   []any{map[string]any{"type": "work", "value": "j.doe@customer.example", "primary": true}},
				"name":     map[string]any{"givenName": "Jane", "familyName": "Doe"},
				"urn:ietf:params:scim:schemas:extension:fabrikam:2.0:User": map[string]any{"costCode": "CC-1"},
				"mailNickname": "jdoe",
			})
			require.Equal(t, http.StatusCreated, resp.status, resp.raw)
			assert.Equal(t, true, resp.body["active"])
			assert.NotContains(t, resp.raw, "costCode")
			assert.NotContains(t, resp.raw, "mailNickname")
		})
		t.Run("errors are SCIM errors the provisioning logs can show", func(t *testing.T) {
			resp := dir.doAs(secret, http.MethodPost, "/Users", `{"schemas": ["`+scim.UserSchema+`"], "userName": `)
			requireError(t, resp, http.StatusBadRequest, "invalidSyntax")
		})
		t.Run("a skipped user is provisioned once the local one is deleted", func(t *testing.T) {
			local := dir.doAs(secret, http.MethodGet, `/Users?filter=userName eq "j.doe@customer.example"`, nil)
			id := requireList(t, local, 1)[0]["id"].(string)
			requireError(t, dir.doAs(secret, http.MethodPost, "/Users", user("J.DOE@customer.example")), http.StatusConflict, "uniqueness")
			require.Equal(t, http.StatusNoContent, dir.doAs(secret, http.MethodDelete, "/Users/"+id, nil).status)
			resp := dir.doAs(secret, http.MethodPost, "/Users", user("J.DOE@customer.example"))
			require.Equal(t, http.StatusCreated, resp.status, resp.raw)
		})
		t.Run("generate a new token", func(t *testing.T) {
			tokens.Add(scim.Token{Secret: "igx-secret-2", Principal: scim.Principal{ID: "dir-7 token 2", Tenant: "dir-7"}})
			tokens.Revoke(secret)
			requireError(t, dir.doAs(secret, http.MethodGet, "/Users", nil), http.StatusUnauthorized, "")
			requireList(t, dir.doAs("igx-secret-2", http.MethodGet, "/Users", nil), 1) // the directory's users survive the new token
		})
		t.Run("another directory is another tenant", func(t *testing.T) {
			other := tenantURL("dir-8")
			tokens.Add(scim.Token{Secret: "igx-other", Principal: scim.Principal{ID: "dir-8 token", Tenant: "dir-8"}})
			requireList(t, other.doAs("igx-other", http.MethodGet, "/Users", nil), 0)
			created := other.doAs("igx-other", http.MethodPost, "/Users", user("j.doe@customer.example"))
			require.Equal(t, http.StatusCreated, created.status, created.raw)
			requireError(t, other.doAs("igx-secret-2", http.MethodGet, "/Users", nil), http.StatusUnauthorized, "")
			requireError(t, dir.doAs("igx-other", http.MethodGet, "/Users", nil), http.StatusUnauthorized, "")
			requireError(t, dir.doAs("igx-secret-2", http.MethodGet, "/Users/"+created.body["id"].(string), nil), http.StatusNotFound, "")
		})
	})
}

// TestHostIGrafxPlatform follows the iGrafx Platform cloud page: each
// customer gets a SCIM tenant URL of its own; one handler serves them all,
// and a customer's users and groups live in that customer's tenant.
func TestHostIGrafxPlatform(t *testing.T) {
	idpStores(t, func(t *testing.T, newStore func(t *testing.T) scim.Store) {
		customers := map[string]string{"token-acme": "acme", "token-globex": "globex"}
		store := newTenantStore(newStore(t))
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
		inTenant := func(tenant string) func(ctx context.Context, step *idptest.Step) error {
			return func(ctx context.Context, step *idptest.Step) error {
				if step.Action == idptest.Create || step.Action == idptest.CreateGroup {
					for _, u := range step.Users {
						assert.Equal(t, tenant, store.tenantOf(u.ID), u.UserName)
					}
					for _, g := range step.Groups {
						assert.Equal(t, tenant, store.tenantOf(g.ID), g.DisplayName)
					}
				}
				return nil
			}
		}

		// Acme's directory keeps what Entra ID provisioned; Globex's Okta
		// cycle runs beside it.
		idptest.Entra(t, srv.Config.Handler, idptest.Options{Token: "token-acme", TenantURL: acme.url, Keep: true, Attributes: withoutPassword(), AfterStep: inTenant("acme")})
		kept := requireList(t, acme.doAs("token-acme", http.MethodGet, "/Users", nil), 1) // the app's own user: Entra ID deleted the rest
		idptest.Okta(t, srv.Config.Handler, idptest.Options{Token: "token-globex", TenantURL: globex.url, Attributes: withoutPassword(),
			AfterStep: func(ctx context.Context, step *idptest.Step) error {
				require.NoError(t, inTenant("globex")(ctx, step))
				assert.Equal(t, ids(response{body: map[string]any{"Resources": toAny(kept)}}), ids(acme.doAs("token-acme", http.MethodGet, "/Users", nil)), "acme sees its own users only")
				for _, u := range step.Users {
					requireError(t, acme.doAs("token-acme", http.MethodGet, "/Users/"+u.ID, nil), http.StatusNotFound, "")
				}
				return nil
			}})
		requireList(t, globex.doAs("token-globex", http.MethodGet, "/Users", nil), 0)

		a := acme.doAs("token-acme", http.MethodPost, "/Users", user("pat@shared.example"))
		require.Equal(t, http.StatusCreated, a.status, a.raw)
		g := globex.doAs("token-globex", http.MethodPost, "/Users", user("pat@shared.example"))
		require.Equal(t, http.StatusCreated, g.status, "the same userName in another customer is no conflict: %s", g.raw)
		requireError(t, acme.doAs("token-globex", http.MethodGet, "/Users", nil), http.StatusUnauthorized, "")
	})
}

func toAny(list []map[string]any) []any {
	out := make([]any, len(list))
	for i, m := range list {
		out[i] = m
	}
	return out
}

// withoutPassword is every attribute but the password, for hosts whose
// documents do not sync passwords.
func withoutPassword() []idptest.Attribute {
	var out []idptest.Attribute
	for _, a := range idptest.AllAttributes() {
		if a != idptest.Password {
			out = append(out, a)
		}
	}
	return out
}

// TestHostProcedureFlow follows ProcedureFlow's generic-IdP guide: personal
// access tokens with a "Read and write SCIM" permission and an expiry (or
// none); the SCIM base URL under the host's API path; the connection test
// `GET /Users?filter=userName eq "…"` answering 200 with an empty list;
// users and groups provisioned (groups are then mapped to entry points);
// newly added users get an email invite.
func TestHostProcedureFlow(t *testing.T) {
	idpStores(t, func(t *testing.T, newStore func(t *testing.T) scim.Store) {
		tokens := scim.NewBearerTokens(
			scim.Token{Secret: "2:pfpat_rw", Principal: scim.Principal{ID: "pat rw"}, ExpiresAt: time.Now().AddDate(1, 0, 0)},
			scim.Token{Secret: "2:pfpat_forever", Principal: scim.Principal{ID: "pat no expiry"}},
			scim.Token{Secret: "2:pfpat_read", Principal: scim.Principal{ID: "pat read", ReadOnly: true}, ExpiresAt: time.Now().AddDate(0, 1, 0)},
			scim.Token{Secret: "2:pfpat_old", Principal: scim.Principal{ID: "pat expired"}, ExpiresAt: time.Now().Add(-time.Hour)},
		)
		var mu sync.Mutex
		invited := map[string]bool{}
		h, err := scim.New(newStore(t), tokens, scim.WithHooks(scim.Hooks{AfterCreate: func(ctx context.Context, res *scim.Resource) error {
			if res.Type == "User" {
				mu.Lock()
				invited[strings.ToLower(scim.UserFromResource(res).PrimaryEmail())] = true
				mu.Unlock()
			}
			return nil
		}}))
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
		for _, idp := range bothIdPs() {
			t.Run(idp.name+": a read and write token provisions users and groups, and each new user is invited", func(t *testing.T) {
				idp.play(t, srv.Config.Handler, idptest.Options{Token: "2:pfpat_rw", TenantURL: pf.url, Attributes: withoutPassword(),
					AfterStep: func(ctx context.Context, step *idptest.Step) error {
						exactAnswers(t, pf.url, step)
						if step.Action == idptest.Create {
							mu.Lock()
							defer mu.Unlock()
							for _, u := range step.Users {
								assert.True(t, invited[u.UserName], "no invite for %s", u.UserName)
							}
						}
						return nil
					}})
			})
		}
		var uid, gid string
		t.Run("a token without write permission reads but cannot write", func(t *testing.T) {
			created := pf.doAs("2:pfpat_rw", http.MethodPost, "/Users", user("user@example.com", map[string]any{"active": true}))
			require.Equal(t, http.StatusCreated, created.status, created.raw)
			uid = created.body["id"].(string)
			gid = pf.doAs("2:pfpat_forever", http.MethodPost, "/Groups", group("Support Tier 1", uid)).body["id"].(string)
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
	})
}

// TestHostProcessMaker follows ProcessMaker's Entra ID guide: Tenant URL
// and Secret Token (case-sensitive), Test Connection, and the attributes
// Entra ID maps for users (userName, name, displayName, work email and
// phone, active, externalId, title, department, preferredLanguage, groups)
// and groups (displayName, members, externalId); name changes and
// deactivations in Entra ID show up in the host.
func TestHostProcessMaker(t *testing.T) {
	const base = "https://yourdomain.processmaker.example/scim/v2"
	mapping := []idptest.Attribute{idptest.UserName, idptest.Active, idptest.DisplayName, idptest.Emails, idptest.GivenName, idptest.FamilyName,
		idptest.Title, idptest.Department, idptest.Phone, idptest.PreferredLanguage, idptest.ExternalID, idptest.Groups}
	idpStores(t, func(t *testing.T, newStore func(t *testing.T) scim.Store) {
		const token = "PmToken-AbC123"
		tokens := scim.NewBearerTokens(scim.Token{Secret: token, Principal: scim.Principal{ID: "entra"}})
		h, err := scim.New(newStore(t), tokens, scim.WithBaseURL(base))
		require.NoError(t, err)
		srv := mount(t, "/scim/v2/", h)
		pm := &server{t: t, srv: srv, url: srv.URL + "/scim/v2"}

		t.Run("the secret token is case-sensitive", func(t *testing.T) {
			requireError(t, pm.doAs(strings.ToLower(token), http.MethodGet, "/Users", nil), http.StatusUnauthorized, "")
		})
		var gid string
		r := idptest.Entra(t, srv.Config.Handler, idptest.Options{Token: token, TenantURL: base, Attributes: mapping, Groups: 1,
			AfterStep: func(ctx context.Context, step *idptest.Step) error {
				exactAnswers(t, base, step) // Location and $ref under the base URL
				switch step.Name {
				case "Initial cycle: users":
					uid := step.Users[0].ID
					u := pm.doAs(token, http.MethodGet, "/Users/"+uid, nil).body
					name := u["name"].(map[string]any)
					for _, f := range []string{
						`userName eq "` + u["userName"].(string) + `"`,
						`name.givenName eq "` + name["givenName"].(string) + `" and name.familyName eq "` + name["familyName"].(string) + `"`,
						`displayName eq "` + u["displayName"].(string) + `"`,
						`emails[type eq "work" and value eq "` + u["userName"].(string) + `"]`,
						`active eq true and userName eq "` + u["userName"].(string) + `"`,
						`externalId eq "` + u["externalId"].(string) + `"`,
						`title eq "` + u["title"].(string) + `" and userName eq "` + u["userName"].(string) + `"`,
						scim.EnterpriseUserSchema + `:department eq "Operations" and userName eq "` + u["userName"].(string) + `"`,
						`phoneNumbers[type eq "work" and value eq "` + u["phoneNumbers"].([]any)[0].(map[string]any)["value"].(string) + `"]`,
						`preferredLanguage eq "en-US" and userName eq "` + u["userName"].(string) + `"`,
					} {
						list := requireList(t, pm.doAs(token, http.MethodGet, "/Users?filter="+f, nil), 1)
						assert.Equal(t, uid, list[0]["id"], "every mapped attribute is filterable: %s", f)
					}
				case "Initial cycle: group members":
					gid = step.Groups[0].ID
				case "Disable users":
					for _, u := range step.Users {
						groups := pm.doAs(token, http.MethodGet, "/Users/"+u.ID, nil).body["groups"].([]any)
						assert.Equal(t, []any{map[string]any{"value": gid, "display": groups[0].(map[string]any)["display"], "type": "direct", "$ref": base + "/Groups/" + gid}}, groups,
							"a deactivated user keeps its groups, which come from group membership")
					}
				}
				return nil
			}})
		requireSteps(t, r, "Initial cycle: users", "Initial cycle: group members", "Disable users")
	})
}

// ownerGuard is a host's own rule in its store: the only company owner
// cannot be disabled. It answers with a SCIM error of its choosing.
type ownerGuard struct {
	*tenantStore
	mu    sync.Mutex
	owner string // id of the only company owner; "" when there are several
}

func (g *ownerGuard) setOwner(id string) {
	g.mu.Lock()
	g.owner = id
	g.mu.Unlock()
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
	idpStores(t, func(t *testing.T, newStore func(t *testing.T) scim.Store) {
		subscriptions := map[string]string{"bz-token-contoso": "contoso", "bz-token-fabrikam": "fabrikam"}
		store := &ownerGuard{tenantStore: newTenantStore(newStore(t))}
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
		tenantURL := "http://" + host + "/scim/v2"
		do := func(method, target string, body any) response {
			t.Helper()
			return rawDo(t, srv, host, token, method, "/scim/v2"+escapeQuery(target), body)
		}

		t.Run("a token works only at its subscription's URL", func(t *testing.T) {
			requireError(t, rawDo(t, srv, "users-fabrikam.bizagi.example", token, http.MethodGet, "/scim/v2/Users", nil), http.StatusUnauthorized, "")
			requireList(t, rawDo(t, srv, "users-fabrikam.bizagi.example", "bz-token-fabrikam", http.MethodGet, "/scim/v2/Users", nil), 0)
		})
		t.Run("a user with incomplete data is not synchronized", func(t *testing.T) {
			resp := do(http.MethodPost, "/Users", map[string]any{"schemas": []any{scim.UserSchema}, "displayName": "No Username"})
			requireError(t, resp, http.StatusBadRequest, "invalidValue")
		})
		t.Run("Entra ID: the only company owner cannot be disabled", func(t *testing.T) {
			r := idptest.Entra(t, srv.Config.Handler, idptest.Options{Token: token, TenantURL: tenantURL,
				Refusals: []idptest.Refusal{{Action: idptest.Deactivate, User: 0, Status: http.StatusBadRequest, SCIMType: "mutability", Detail: "company owner"}},
				AfterStep: func(ctx context.Context, step *idptest.Step) error {
					exactAnswers(t, tenantURL, step) // URLs name the subscription's host
					switch step.Name {
					case "Initial cycle: users":
						for _, u := range step.Users {
							assert.Equal(t, "contoso", store.tenantOf(u.ID))
						}
						store.setOwner(step.Users[0].ID)
					case "Soft delete users":
						// Once another company owner is assigned, it can.
						store.setOwner("")
						owner := step.Users[0].ID
						resp := do(http.MethodPatch, "/Users/"+owner, patchBody(operation("Replace", "active", "False")))
						require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
						assert.Equal(t, false, do(http.MethodGet, "/Users/"+owner, nil).body["active"])
					}
					return nil
				}})
			requireSteps(t, r, "Initial cycle: users", "Soft delete users")
			refused := 0
			for _, s := range r.Steps {
				refused += len(s.Refused)
			}
			assert.Equal(t, 2, refused, "the owner's disable and soft delete were refused")
		})
		t.Run("the other subscription saw none of it", func(t *testing.T) {
			requireList(t, rawDo(t, srv, "users-fabrikam.bizagi.example", "bz-token-fabrikam", http.MethodGet, "/scim/v2/Users", nil), 0)
			requireList(t, do(http.MethodGet, "/Users", nil), 0)
		})
	})
}
