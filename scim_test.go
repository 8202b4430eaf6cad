package scim_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

func TestDiscovery(t *testing.T) {
	s := newServer(t, scim.WithMaxResults(50))

	spc := s.do(http.MethodGet, "/ServiceProviderConfig", nil)
	require.Equal(t, http.StatusOK, spc.status)
	assert.Equal(t, []any{scim.ServiceProviderConfigSchema}, spc.body["schemas"])
	assert.Equal(t, true, spc.body["patch"].(map[string]any)["supported"])
	assert.Equal(t, true, spc.body["bulk"].(map[string]any)["supported"])
	assert.Equal(t, map[string]any{"supported": true, "maxResults": float64(50)}, spc.body["filter"])
	assert.Equal(t, true, spc.body["sort"].(map[string]any)["supported"])
	assert.Equal(t, true, spc.body["etag"].(map[string]any)["supported"])
	assert.Equal(t, "oauthbearertoken", spc.body["authenticationSchemes"].([]any)[0].(map[string]any)["type"])
	assert.Equal(t, s.url+"/ServiceProviderConfig", spc.body["meta"].(map[string]any)["location"])

	rts := s.do(http.MethodGet, "/ResourceTypes", nil)
	require.Equal(t, http.StatusOK, rts.status)
	assert.EqualValues(t, 2, rts.body["totalResults"])
	users := rts.body["Resources"].([]any)[0].(map[string]any)
	assert.Equal(t, "/Users", users["endpoint"])
	assert.Equal(t, scim.UserSchema, users["schema"])
	assert.Equal(t, []any{map[string]any{"schema": scim.EnterpriseUserSchema, "required": false}}, users["schemaExtensions"])
	one := s.do(http.MethodGet, "/ResourceTypes/Group", nil)
	assert.Equal(t, "/Groups", one.body["endpoint"])
	requireError(t, s.do(http.MethodGet, "/ResourceTypes/Nope", nil), 404, "")

	schemas := s.do(http.MethodGet, "/Schemas", nil)
	require.Equal(t, http.StatusOK, schemas.status)
	var urns []string
	for _, r := range schemas.body["Resources"].([]any) {
		urns = append(urns, r.(map[string]any)["id"].(string))
	}
	assert.Equal(t, []string{scim.UserSchema, scim.EnterpriseUserSchema, scim.GroupSchema}, urns)
	assert.Contains(t, schemas.raw, "User Account")
	user := s.do(http.MethodGet, "/Schemas/"+scim.UserSchema, nil)
	require.Equal(t, http.StatusOK, user.status)
	assert.Equal(t, "User", user.body["name"])
	assert.NotEmpty(t, user.body["attributes"])
	requireError(t, s.do(http.MethodGet, "/Schemas/urn:nope", nil), 404, "")

	requireError(t, s.do(http.MethodPost, "/ServiceProviderConfig", map[string]any{}), 405, "")
	requireError(t, s.do(http.MethodPost, "/Bulk", map[string]any{}), 400, "invalidValue")
	requireError(t, s.do(http.MethodGet, "/Me", nil), 501, "")

	// A custom extension is described where clients look for it.
	custom := newServer(t, scim.WithResourceTypes(acmeUsers()))
	assert.Contains(t, custom.do(http.MethodGet, "/Schemas", nil).raw, acmeSchema)
	assert.Contains(t, custom.do(http.MethodGet, "/ResourceTypes/User", nil).raw, acmeSchema)
	requireError(t, custom.do(http.MethodGet, "/Groups", nil), 404, "")
}

func TestRoutingErrors(t *testing.T) {
	s := newServer(t)
	requireError(t, s.do(http.MethodGet, "/Nope", nil), 404, "")
	requireError(t, s.do(http.MethodGet, "/Users/missing", nil), 404, "")
	requireError(t, s.do(http.MethodDelete, "/Users", nil), 405, "")
	resp := s.do(http.MethodPost, "/Users/123", map[string]any{})
	requireError(t, resp, 405, "")
	assert.Equal(t, "GET, PUT, PATCH, DELETE", resp.header.Get("Allow"))
	// Endpoints match case-insensitively, with or without a trailing slash.
	assert.Equal(t, http.StatusOK, s.do(http.MethodGet, "/users", nil).status)
	assert.Equal(t, http.StatusOK, s.do(http.MethodGet, "/Users/", nil).status)
}

func TestBodyLimit(t *testing.T) {
	s := newServer(t, scim.WithMaxBodyBytes(64))
	resp := s.do(http.MethodPost, "/Users", user("a", map[string]any{"displayName": strings.Repeat("x", 100)}))
	requireError(t, resp, http.StatusRequestEntityTooLarge, "tooMany")
}

func TestAuthentication(t *testing.T) {
	s := newServer(t)
	for _, token := range []string{"", "wrong", "rw-but-longer"} {
		resp := s.doAs(token, http.MethodGet, "/Users", nil)
		requireError(t, resp, 401, "")
		assert.Contains(t, resp.header.Get("WWW-Authenticate"), "Bearer")
	}
	// Other schemes are not bearer tokens.
	req, _ := http.NewRequest(http.MethodGet, s.url+"/Users", nil)
	req.SetBasicAuth("rw", "rw")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 401, resp.StatusCode)

	// A read-only token reads but does not write.
	assert.Equal(t, http.StatusOK, s.doAs("ro", http.MethodGet, "/Users", nil).status)
	requireError(t, s.doAs("ro", http.MethodPost, "/Users", user("a")), 403, "")
	id := s.create("/Users", user("a"))
	requireError(t, s.doAs("ro", http.MethodPut, "/Users/"+id, user("a")), 403, "")
	requireError(t, s.doAs("ro", http.MethodPatch, "/Users/"+id, map[string]any{}), 403, "")
	requireError(t, s.doAs("ro", http.MethodDelete, "/Users/"+id, nil), 403, "")
}

func TestBearerTokensRotateRevokeExpire(t *testing.T) {
	auth := scim.NewBearerTokens(
		scim.Token{Secret: "old", Principal: scim.Principal{ID: "idp"}},
		scim.Token{Secret: "expired", ExpiresAt: time.Now().Add(-time.Minute)},
		scim.Token{Secret: "later", ExpiresAt: time.Now().Add(time.Hour)},
	)
	authn := func(secret string) (scim.Principal, error) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+secret)
		return auth.Authenticate(r)
	}
	p, err := authn("old")
	require.NoError(t, err)
	assert.Equal(t, "idp", p.ID)
	_, err = authn("expired")
	assert.ErrorIs(t, err, scim.ErrTokenExpired)
	_, err = authn("later")
	assert.NoError(t, err)

	auth.Add(scim.Token{Secret: "new", Principal: scim.Principal{ID: "idp"}})
	auth.Revoke("old")
	_, err = authn("old")
	assert.ErrorIs(t, err, scim.ErrUnauthenticated)
	_, err = authn("new")
	assert.NoError(t, err)

	h, err := scim.New(memstore.New(), auth)
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/Users", nil)
	r.Header.Set("Authorization", "Bearer expired")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, 401, w.Code)
	assert.Contains(t, w.Body.String(), "token expired")
}

// TestMountedPerTenant mounts one handler under a tenant path with the Go
// 1.22 ServeMux; the Authenticator maps each token to its tenant.
func TestMountedPerTenant(t *testing.T) {
	tokens := map[string]string{"token-a": "acme", "token-b": "globex"}
	auth := scim.AuthenticatorFunc(func(r *http.Request) (scim.Principal, error) {
		secret := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		tenant, ok := tokens[secret]
		if !ok || tenant != r.PathValue("tenant") {
			return scim.Principal{}, scim.ErrUnauthenticated
		}
		return scim.Principal{ID: secret, Tenant: tenant}, nil
	})
	h, err := scim.New(memstore.New(), auth)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/t/{tenant}/scim/v2/", h)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	a := &server{t: t, srv: srv, url: srv.URL + "/t/acme/scim/v2"}
	b := &server{t: t, srv: srv, url: srv.URL + "/t/globex/scim/v2"}
	resp := a.doAs("token-a", http.MethodPost, "/Users", user("same"))
	require.Equal(t, http.StatusCreated, resp.status, resp.raw)
	assert.Equal(t, srv.URL+"/t/acme/scim/v2/Users/"+resp.body["id"].(string), resp.header.Get("Location"))
	// The same userName in another tenant is no conflict, and neither sees the other.
	require.Equal(t, http.StatusCreated, b.doAs("token-b", http.MethodPost, "/Users", user("same")).status)
	assert.EqualValues(t, 1, a.doAs("token-a", http.MethodGet, "/Users", nil).body["totalResults"])
	requireError(t, b.doAs("token-b", http.MethodGet, "/Users/"+resp.body["id"].(string), nil), 404, "")
	// A token is only good for its own tenant.
	requireError(t, b.doAs("token-a", http.MethodGet, "/Users", nil), 401, "")
}

func TestBaseURL(t *testing.T) {
	s := newServer(t, scim.WithBaseURL("https://app.example.com/scim/v2/"))
	resp := s.do(http.MethodPost, "/Users", user("a"))
	assert.Equal(t, "https://app.example.com/scim/v2/Users/"+resp.body["id"].(string), resp.header.Get("Location"))
}

func TestNewValidates(t *testing.T) {
	auth := scim.NewBearerTokens()
	_, err := scim.New(nil, auth)
	assert.Error(t, err)
	_, err = scim.New(memstore.New(), auth, scim.WithMaxResults(0))
	assert.Error(t, err)
	_, err = scim.New(memstore.New(), auth, scim.WithResourceTypes(scim.UserResourceType(), scim.UserResourceType()))
	assert.Error(t, err)
	for _, endpoint := range []string{"Users", "/a/b", "/Schemas", "/"} {
		bad := scim.UserResourceType()
		bad.Endpoint = endpoint
		_, err = scim.New(memstore.New(), auth, scim.WithResourceTypes(bad))
		assert.Error(t, err, endpoint)
	}
	_, err = scim.New(memstore.New(), auth, scim.WithLogger(nil))
	assert.Error(t, err)
}

// panicStore fails every call with a panic or an error.
type panicStore struct{ scim.Store }

func (panicStore) Get(context.Context, string, string) (*scim.Resource, error) {
	panic("boom")
}

func (panicStore) Query(context.Context, string, scim.Query) (*scim.Page, error) {
	return nil, errors.New("database on fire: secret detail")
}

func TestServerErrorsAreSCIMErrors(t *testing.T) {
	var logs strings.Builder
	s := newServerWithStore(t, panicStore{memstore.New()}, scim.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	requireError(t, s.do(http.MethodGet, "/Users/x", nil), 500, "")
	resp := s.do(http.MethodGet, "/Users", nil)
	requireError(t, resp, 500, "")
	assert.NotContains(t, resp.raw, "secret detail", "causes are logged, not sent")
	assert.Contains(t, logs.String(), "boom")
	assert.Contains(t, logs.String(), "secret detail")
}

func TestUniqueGroupDisplayName(t *testing.T) {
	s := newServer(t, scim.WithUniqueGroupDisplayName())
	s.create("/Groups", group("Admins"))
	requireError(t, s.do(http.MethodPost, "/Groups", group("admins")), 409, "uniqueness")
	plain := newServer(t)
	plain.create("/Groups", group("Admins"))
	plain.create("/Groups", group("admins"))
}

func TestRoutingBelowTheMountPoint(t *testing.T) {
	s := newServer(t)
	id := s.create("/Users", user("a"))
	s.create("/Groups", group("g"))
	for _, path := range []string{
		"/Users/" + id + "/Groups", // not a SCIM path, though it ends like one
		"/evil/x/Users/" + id,
		"/ServiceProviderConfig/x",
		"/Schemas/a/b",
		"/Users//x",
	} {
		requireError(t, s.do(http.MethodGet, path, nil), 404, "")
	}
	assert.Equal(t, http.StatusOK, s.do(http.MethodGet, "/Users/"+id+"/", nil).status)

	// Routers that set no ServeMux pattern, and http.StripPrefix, still work.
	h, err := scim.New(memstore.New(), scim.NewBearerTokens(scim.Token{Secret: "rw"}))
	require.NoError(t, err)
	for name, handler := range map[string]http.Handler{
		"no pattern":   h,
		"strip prefix": http.StripPrefix("/api", h),
	} {
		r := httptest.NewRequest(http.MethodGet, "/api/scim/v2/Users", nil)
		r.Header.Set("Authorization", "Bearer rw")
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		assert.Equal(t, http.StatusOK, w.Code, name)
	}
	// With a base URL its path is the mount point.
	based, err := scim.New(memstore.New(), scim.NewBearerTokens(scim.Token{Secret: "rw"}), scim.WithBaseURL("https://x.example/scim/v2"))
	require.NoError(t, err)
	for path, want := range map[string]int{"/scim/v2/Users": 200, "/scim/v2/x/Users": 404} {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("Authorization", "Bearer rw")
		w := httptest.NewRecorder()
		based.ServeHTTP(w, r)
		assert.Equal(t, want, w.Code, path)
	}
}

// TestSchemasDescribeWhatIsEnforced: /Schemas shows the characteristics the
// handler applies, not just the source schema's.
func TestSchemasDescribeWhatIsEnforced(t *testing.T) {
	s := newServer(t, scim.WithUniqueGroupDisplayName())
	attr := func(schemaID, name string) map[string]any {
		for _, a := range s.do(http.MethodGet, "/Schemas/"+schemaID, nil).body["attributes"].([]any) {
			if a.(map[string]any)["name"] == name {
				return a.(map[string]any)
			}
		}
		t.Fatalf("no attribute %s in %s", name, schemaID)
		return nil
	}
	assert.Equal(t, "server", attr(scim.GroupSchema, "displayName")["uniqueness"])
	members := attr(scim.GroupSchema, "members")
	for _, sub := range members["subAttributes"].([]any) {
		if sub.(map[string]any)["name"] == "value" {
			assert.Equal(t, true, sub.(map[string]any)["caseExact"], "member ids compare exactly")
		}
	}
	userName := attr(scim.UserSchema, "userName")
	assert.Equal(t, "server", userName["uniqueness"])
	assert.Equal(t, false, userName["caseExact"])
	assert.Equal(t, "never", attr(scim.UserSchema, "password")["returned"])
	assert.Equal(t, []any{"work", "home", "other"}, attr(scim.UserSchema, "emails")["subAttributes"].([]any)[2].(map[string]any)["canonicalValues"])
}
