package scim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// fuzzFixture is a handler on a memory store holding one user ("u1", also
// "u2") and one group of both, the ids fuzzed requests address.
func fuzzFixture(tb testing.TB, opts ...scim.Option) (*scim.Handler, scim.Store) {
	tb.Helper()
	store := memstore.New()
	ctx := context.Background()
	for _, id := range []string{"u1", "u2"} {
		_, err := store.Create(ctx, &scim.Resource{Type: "User", ID: id,
			Attributes: map[string]any{"userName": "user-" + id, "emails": []any{map[string]any{"value": id + "@example.com", "type": "work"}}},
			Unique:     []scim.UniqueKey{{Attribute: "userName", Value: "user-" + id}}})
		if err != nil {
			tb.Fatal(err)
		}
	}
	_, err := store.Create(ctx, &scim.Resource{Type: "Group", ID: "g1",
		Attributes: map[string]any{"displayName": "Group 1", "members": []any{map[string]any{"value": "u1"}, map[string]any{"value": "u2"}}}})
	if err != nil {
		tb.Fatal(err)
	}
	auth := scim.NewBearerTokens(
		scim.Token{Secret: "rw", Principal: scim.Principal{ID: "writer"}},
		scim.Token{Secret: "ro", Principal: scim.Principal{ID: "reader", ReadOnly: true}},
	)
	h, err := scim.New(store, auth, append([]scim.Option{scim.WithLogger(discardLogger())}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	return h, store
}

// FuzzHandler sends any request to the handler: method, path below the
// mount point, query, token, Content-Type, If-Match and body. The answer is
// never a panic or a 5xx (but 501 for /Me), an error or a
// resource is SCIM JSON, and the store's invariants hold afterwards.
func FuzzHandler(f *testing.F) {
	const patchOp = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":`
	seeds := []struct{ method, path, query, token, ctype, ifMatch, body string }{
		{"GET", "ServiceProviderConfig", "", "rw", "", "", ""},
		{"GET", "Schemas/urn:ietf:params:scim:schemas:core:2.0:User", "", "ro", "", "", ""},
		{"GET", "ResourceTypes/User", "", "rw", "", "", ""},
		{"GET", "Users", `filter=userName eq "user-u1"`, "rw", "", "", ""},
		{"GET", "Users", `filter=userName eq "9f6c6ef8-4b1a-4b1b-8f3b-1e2a3b4c5d6e"`, "rw", "", "", ""},
		{"GET", "Users", `filter=emails[type eq "work" and value co "@example.com"]&attributes=userName,emails&sortBy=userName&sortOrder=descending&startIndex=1&count=1`, "rw", "", "", ""},
		{"GET", "Users", `excludedAttributes=emails&count=-1`, "ro", "", "", ""},
		{"GET", "Groups", `filter=displayName eq "Group 1"&excludedAttributes=members`, "rw", "", "", ""},
		{"GET", "Users/u1", "attributes=emails.value", "rw", "", "", ""},
		{"GET", "Users/u1", "", "rw", "", "", ""},
		{"POST", "Users", "", "rw", "application/scim+json", "", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen","name":{"givenName":"Barbara","familyName":"Jensen"},"emails":[{"value":"bjensen@example.com","type":"work","primary":true}],"active":true}`},
		{"POST", "Users", "", "rw", "application/json", "", `{"UserName":"UserName123","Active":"True","schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"emails":[{"Primary":true,"type":"work","value":"t@bob.com"}]}`},
		{"POST", "Groups", "", "rw", "application/scim+json", "", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Tour Guides","members":[{"value":"u1"}]}`},
		{"POST", "Users/.search", "", "ro", "application/scim+json", "", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"attributes":["displayName","userName"],"filter":"displayName sw \"smith\"","startIndex":1,"count":10}`},
		{"POST", ".search", "", "rw", "application/scim+json", "", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"meta.resourceType eq \"User\"","sortBy":"meta.created"}`},
		{"PUT", "Users/u1", "", "rw", "application/scim+json", `W/"1"`, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"user-u1","active":false}`},
		{"PATCH", "Users/u1", "", "rw", "application/scim+json", "", patchOp + `[{"op":"Replace","path":"active","value":"False"}]}`},
		{"PATCH", "Users/u1", "", "rw", "application/scim+json", "", patchOp + `[{"op":"add","path":"emails","value":[{"value":"x@example.com","type":"home"}]},{"op":"replace","path":"emails[type eq \"work\"].value","value":"y@example.com"}]}`},
		{"PATCH", "Groups/g1", "", "rw", "application/scim+json", "*", patchOp + `[{"op":"remove","path":"members[value eq \"u2\"]"}]}`},
		{"PATCH", "Groups/g1", "attributes=members", "rw", "application/scim+json", "", patchOp + `[{"op":"add","path":"members","value":"u2"},{"op":"replace","path":"members[value eq \"u1\"]","value":{"value":"u2"}}]}`},
		{"PATCH", "Groups/g1", "", "rw", "application/scim+json", "", patchOp + `[{"op":"replace","value":{"id":"g1","displayName":"Renamed"}}]}`},
		{"DELETE", "Users/u2", "", "rw", "", "", ""},
		{"DELETE", "Groups/g1", "", "rw", "", `W/"0"`, ""},
		{"POST", "Bulk", "", "rw", "application/scim+json", "", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[]}`},
		{"GET", "Users/..%2F..%2Fetc%2Fpasswd", "", "rw", "", "", ""},
		{"POST", "Users", "", "rw", "text/plain", "", `userName=x`},
		{"PUT", "Users", "", "rw", "application/scim+json", "", `{}`},
		{"GET", "Users", "filter=%ff", "", "", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.query, s.token, s.ctype, s.ifMatch, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, method, path, query, token, ctype, ifMatch string, body []byte) {
		h, store := fuzzFixture(t)
		r := &http.Request{
			Method:     method,
			URL:        &url.URL{Path: "/scim/v2/" + path, RawQuery: query},
			Proto:      "HTTP/1.1",
			ProtoMajor: 1, ProtoMinor: 1,
			Header:     http.Header{},
			Body:       io.NopCloser(bytes.NewReader(body)),
			Host:       "example.com",
			RemoteAddr: "192.0.2.1:1234",
		}
		r = r.WithContext(context.Background())
		r.ContentLength = int64(len(body))
		r.Header.Set("Authorization", "Bearer "+token)
		r.Header.Set("Content-Type", ctype)
		if ifMatch != "" {
			r.Header.Set("If-Match", ifMatch)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		lower := strings.ToLower(path)
		unsupported := strings.HasPrefix(lower, "me")
		if w.Code >= 500 && !(w.Code == http.StatusNotImplemented && unsupported) {
			t.Fatalf("%s %s?%s: %d %s", method, path, query, w.Code, w.Body)
		}
		if w.Body.Len() > 0 {
			var resp map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Fatalf("body is not a JSON object: %v: %s", err, w.Body)
			}
			if _, ok := resp["schemas"].([]any); !ok {
				t.Fatalf("body has no schemas: %s", w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/scim+json" {
				t.Fatalf("Content-Type %q", ct)
			}
		}
		if w.Code >= 400 {
			var resp map[string]any
			_ = json.Unmarshal(w.Body.Bytes(), &resp)
			if resp["status"] == nil || !strings.Contains(w.Body.String(), scim.ErrorSchema) {
				t.Fatalf("error without the Error schema: %s", w.Body)
			}
		}
		if v := storeViolations(t, store); len(v) > 0 {
			t.Fatalf("%s %s: store invariants broken: %v", method, path, v)
		}
	})
}
