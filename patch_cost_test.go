package scim_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// userWithEmails stores a user holding n emails directly in the store, past
// the body limit a client would meet, and returns its id.
func userWithEmails(tb testing.TB, store scim.Store, n int) string {
	tb.Helper()
	emails := make([]any, n)
	for i := range emails {
		emails[i] = map[string]any{"value": fmt.Sprintf("held%d@example.com", i), "type": "work"}
	}
	res, err := store.Create(context.Background(), &scim.Resource{
		Type: "User", ID: "holder",
		Attributes: map[string]any{"userName": "holder", "emails": emails},
		Unique:     []scim.UniqueKey{{Attribute: "userName", Value: "holder"}},
	})
	require.NoError(tb, err)
	return res.ID
}

// emailAdds is a PATCH body of n add operations on emails, each adding a
// new address (prefix keeps the addresses of two bodies apart).
func emailAdds(n int, prefix string) string {
	var b strings.Builder
	b.WriteString(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"op":"add","path":"emails","value":[{"value":"%s%d@example.com","type":"home"}]}`, prefix, i)
	}
	b.WriteString(`]}`)
	return b.String()
}

// BenchmarkPatchManyOpsLargeAttribute is the request of issue #11: 1,000
// add operations on the emails of a user holding 30,000 of them (a 62 KB
// body). Before per-request indexes it took about 22 s of CPU.
func BenchmarkPatchManyOpsLargeAttribute(b *testing.B) {
	store := memstore.New()
	id := userWithEmails(b, store, 30000)
	h, err := scim.New(store, scim.NewBearerTokens(scim.Token{Secret: "rw"}))
	require.NoError(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, patchUserRequest(id, emailAdds(1000, fmt.Sprintf("n%d-", i))))
		if w.Code != http.StatusNoContent {
			b.Fatalf("PATCH: %d %s", w.Code, w.Body)
		}
	}
}

func patchUserRequest(id, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPatch, "/Users/"+id, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer rw")
	r.Header.Set("Content-Type", "application/scim+json")
	return r
}
