package scim_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// The hot paths of a request, through the handler in-process (no network):
// go test -run '^$' -bench . -benchmem

// benchUser is a user as Entra ID provisions one.
const benchUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
"userName":"%s","active":true,"displayName":"Barbara Jensen","name":{"givenName":"Barbara","familyName":"Jensen"},
"emails":[{"value":"%[1]s","type":"work","primary":true},{"value":"home-%[1]s","type":"home"}],
"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Tour Operations"}}`

// benchHandler returns a handler over a memory store holding n users, and
// their ids.
func benchHandler(b *testing.B, n int) (http.Handler, []string) {
	b.Helper()
	h, err := scim.New(memstore.New(), scim.NewBearerTokens(scim.Token{Secret: "t"}), scim.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(b, err)
	ids := make([]string, n)
	for i := range ids {
		w := serve(h, http.MethodPost, "/scim/v2/Users", fmt.Sprintf(benchUser, fmt.Sprintf("user%06d@example.com", i)))
		require.Equal(b, http.StatusCreated, w.Code, w.Body.String())
		loc := w.Header().Get("Location")
		ids[i] = loc[strings.LastIndexByte(loc, '/')+1:]
	}
	return h, ids
}

func BenchmarkGetUser(b *testing.B) {
	h, ids := benchHandler(b, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if w := serve(h, http.MethodGet, "/scim/v2/Users/"+ids[i%len(ids)], ""); w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkHandlerOnly counts what the handler itself allocates for the
// reads: requests are made once and responses discarded, so no httptest
// allocation is counted.
func BenchmarkHandlerOnly(b *testing.B) {
	h, ids := benchHandler(b, 1000)
	for _, bc := range []struct {
		name string
		path func(i int) string
	}{
		{"GetUser", func(i int) string { return "/scim/v2/Users/" + ids[i] }},
		{"FilterUserNameEq", func(i int) string {
			return fmt.Sprintf("/scim/v2/Users?filter=userName%%20eq%%20%%22user%06d@example.com%%22", i)
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			reqs := make([]*http.Request, len(ids))
			for i := range reqs {
				reqs[i] = httptest.NewRequest(http.MethodGet, bc.path(i), nil)
				reqs[i].Header.Set("Authorization", "Bearer t")
			}
			w := &discardWriter{header: http.Header{}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				clear(w.header)
				h.ServeHTTP(w, reqs[i%len(reqs)])
				if w.status != http.StatusOK {
					b.Fatal(w.status)
				}
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps the status and drops the
// body.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }

func BenchmarkFilterUserNameEq(b *testing.B) {
	h, _ := benchHandler(b, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		path := fmt.Sprintf("/scim/v2/Users?filter=userName%%20eq%%20%%22user%06d@example.com%%22", i%1000)
		if w := serve(h, http.MethodGet, path, ""); w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}

func BenchmarkCreateUser(b *testing.B) {
	h, _ := benchHandler(b, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if w := serve(h, http.MethodPost, "/scim/v2/Users", fmt.Sprintf(benchUser, fmt.Sprintf("new%08d@example.com", i))); w.Code != http.StatusCreated {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}

func BenchmarkPatchUser(b *testing.B) {
	h, ids := benchHandler(b, 100)
	body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"%s"},{"op":"replace","path":"emails[type eq \"work\"].value","value":"w%d@example.com"}]}`
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		active := []string{"False", "True"}[i%2]
		if w := serve(h, http.MethodPatch, "/scim/v2/Users/"+ids[i%len(ids)], fmt.Sprintf(body, active, i)); w.Code != http.StatusNoContent {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}

func BenchmarkListPage(b *testing.B) {
	h, _ := benchHandler(b, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if w := serve(h, http.MethodGet, fmt.Sprintf("/scim/v2/Users?startIndex=%d&count=100", 1+i%900), ""); w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkFilterMatch evaluates a parsed filter with the reference
// evaluator.
func BenchmarkFilterMatch(b *testing.B) {
	path := func(name, sub string, typ scim.AttrType, multi bool) scim.AttrPath {
		return scim.AttrPath{Name: name, Sub: sub, Type: typ, MultiValued: multi}
	}
	f := &scim.LogicalExpr{Op: scim.And,
		Left:  &scim.CompareExpr{Path: path("userName", "", scim.TypeString, false), Op: scim.OpStartsWith, Value: "BJ"},
		Right: &scim.ValuePathExpr{Path: path("emails", "", scim.TypeComplex, true), Filter: &scim.CompareExpr{Path: path("emails", "type", scim.TypeString, true), Op: scim.OpEqual, Value: "work"}},
	}
	r := &scim.Resource{Type: "User", ID: "1", Meta: scim.Meta{Created: time.Now()}, Attributes: map[string]any{
		"userName": "bjensen", "emails": []any{map[string]any{"value": "a@example.com", "type": "home"}, map[string]any{"value": "b@example.com", "type": "Work"}},
	}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if !scim.Matches(f, r) {
			b.Fatal("no match")
		}
	}
}

// BenchmarkMemstoreGet is the store's share of a GET: one deep copy.
func BenchmarkMemstoreGet(b *testing.B) {
	store := memstore.New()
	ctx := context.Background()
	now := time.Now()
	_, err := store.Create(ctx, &scim.Resource{Type: "User", ID: "u1", Meta: scim.Meta{Created: now, LastModified: now}, Attributes: map[string]any{
		"userName": "bjensen", "active": true, "displayName": "Barbara Jensen",
		"name":                    map[string]any{"givenName": "Barbara", "familyName": "Jensen"},
		"emails":                  []any{map[string]any{"value": "a@example.com", "type": "work", "primary": true}, map[string]any{"value": "b@example.com", "type": "home"}},
		scim.EnterpriseUserSchema: map[string]any{"department": "Tour Operations"},
	}})
	require.NoError(b, err)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := store.Get(ctx, "User", "u1"); err != nil {
			b.Fatal(err)
		}
	}
}
