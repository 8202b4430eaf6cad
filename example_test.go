package scim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// ExampleNew mounts a handler on the in-memory store beside a host's own
// routes and provisions a user through it.
func ExampleNew() {
	tokens := scim.NewBearerTokens(scim.Token{Secret: "s3cret", Principal: scim.Principal{ID: "entra"}})
	h, err := scim.New(memstore.New(), tokens)
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/scim/v2/Users", strings.NewReader(
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen","active":true}`))
	req.Header.Set("Authorization", "Bearer s3cret")
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status, resp.Header.Get("Content-Type"))
	// Output: 201 Created application/scim+json
}

// ExampleNewBearerTokens issues a read-write and a read-only token and
// rotates the first.
func ExampleNewBearerTokens() {
	tokens := scim.NewBearerTokens(
		scim.Token{Secret: "rw-2026", Principal: scim.Principal{ID: "okta", Tenant: "acme"}},
		scim.Token{Secret: "audit", Principal: scim.Principal{ID: "auditor", Tenant: "acme", ReadOnly: true}},
	)
	tokens.Add(scim.Token{Secret: "rw-2027", Principal: scim.Principal{ID: "okta", Tenant: "acme"}})
	tokens.Revoke("rw-2026")

	r := httptest.NewRequest(http.MethodGet, "/scim/v2/Users", nil)
	r.Header.Set("Authorization", "Bearer rw-2027")
	p, err := tokens.Authenticate(r)
	fmt.Println(p.ID, p.Tenant, err)
	// Output: okta acme <nil>
}

// A host reads a User through its typed view rather than through maps,
// and writes one back the same way.
func ExampleUserFromResource() {
	res := &scim.Resource{Type: "User", ID: "2819c223", Attributes: map[string]any{
		"userName": "bjensen",
		"active":   false,
		"emails":   []any{map[string]any{"value": "bjensen@example.com", "type": "work", "primary": true}},
		scim.EnterpriseUserSchema: map[string]any{
			"department": "Tour Operations",
			"manager":    map[string]any{"value": "26118915", "displayName": "John Smith"},
		},
	}}
	u := scim.UserFromResource(res)
	fmt.Println(u.UserName, u.IsActive(), u.PrimaryEmail())
	fmt.Println(u.Enterprise.Department, "managed by", u.Enterprise.Manager.DisplayName)

	u.Title = "Tour Guide"
	fmt.Println(u.Resource().Attributes["title"])
	// Output:
	// bjensen false bjensen@example.com
	// Tour Operations managed by John Smith
	// Tour Guide
}

// Hooks hold the host's own logic: here an invite on create, a licence
// freed on deactivation, and a refusal to deactivate the last owner, which
// the identity provider sees as the 409 the hook chose.
func ExampleWithHooks() {
	hooks := scim.Hooks{
		AfterCreate: func(ctx context.Context, res *scim.Resource) error {
			if res.Type == "User" {
				fmt.Println("invite", scim.UserFromResource(res).UserName)
			}
			return nil
		},
		BeforeUpdate: func(ctx context.Context, u *scim.Update) error {
			if u.Deactivated() && u.Old.Attributes["userName"] == "owner" {
				return &scim.Error{Status: http.StatusConflict, Detail: "the only owner cannot be deactivated"}
			}
			return nil
		},
		AfterUpdate: func(ctx context.Context, u *scim.Update) error {
			if u.Deactivated() {
				fmt.Println("free the licence of", u.New.Attributes["userName"])
			}
			return nil
		},
	}
	h, _ := scim.New(memstore.New(), scim.NewBearerTokens(scim.Token{Secret: "s3cret"}), scim.WithHooks(hooks))

	send := func(method, path, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/scim/v2"+path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer s3cret")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	deactivate := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`
	for _, name := range []string{"owner", "bjensen"} {
		w := send(http.MethodPost, "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+name+`"}`)
		var created struct{ ID string }
		_ = json.Unmarshal(w.Body.Bytes(), &created)
		w = send(http.MethodPatch, "/Users/"+created.ID, deactivate)
		fmt.Println(name, w.Code)
	}
	// Output:
	// invite owner
	// owner 409
	// invite bjensen
	// free the licence of bjensen
	// bjensen 204
}
