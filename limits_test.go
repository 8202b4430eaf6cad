package scim_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// TestLimitsAnswerWithSCIMErrors exceeds each limit by one and stays at it:
// beyond is a SCIM error naming the limit, at it is served.
func TestLimitsAnswerWithSCIMErrors(t *testing.T) {
	l := scim.Limits{BodyBytes: 4096, JSONDepth: 5, StringBytes: 64, PatchOperations: 3, Values: 4,
		FilterBytes: 100, FilterDepth: 3, FilterTerms: 4, AttributeNames: 3}
	emails := func(n int) string {
		list := make([]string, n)
		for i := range list {
			list[i] = fmt.Sprintf(`{"value":"e%d@example.com"}`, i)
		}
		return "[" + strings.Join(list, ",") + "]"
	}
	adds := func(n int) string {
		ops := make([]string, n)
		for i := range ops {
			ops[i] = `{"op":"add","path":"nickName","value":"n"}`
		}
		return patchOps(ops...)
	}
	terms := func(n int) string { return strings.TrimSuffix(strings.Repeat(`userName pr or `, n), " or ") }
	tests := []struct {
		name, method, path string
		ok, over           string // bodies at the limit and beyond it (or paths, for GETs)
		status             int
		scimType           string
	}{
		{"body size", "POST", "/Users", userWith(`"nickName":"` + strings.Repeat("a", 60) + `"`), userWith(`"x":"` + strings.Repeat("a", 4096) + `"`), 413, "tooMany"},
		{"JSON depth", "POST", "/Users", userWith(`"name":{"givenName":"a"}`), userWith(`"name":{"givenName":[[[["a"]]]]}`), 400, "invalidSyntax"},
		{"string length", "POST", "/Users", userWith(`"nickName":"` + strings.Repeat("a", 64) + `"`), userWith(`"nickName":"` + strings.Repeat("a", 65) + `"`), 400, "invalidValue"},
		{"PATCH operations", "PATCH", "/Users/{id}", adds(3), adds(4), 400, "tooMany"},
		{"values in a body", "POST", "/Users", userWith(`"emails":` + emails(4)), userWith(`"emails":` + emails(5)), 400, "tooMany"},
		{"values after a PATCH", "PATCH", "/Users/{id}", patchOps(`{"op":"add","path":"emails","value":` + emails(4) + `}`),
			patchOps(`{"op":"add","path":"emails","value":`+emails(3)+`}`, `{"op":"add","path":"emails","value":[{"value":"x@example.com"},{"value":"y@example.com"}]}`), 400, "tooMany"},
		{"filter length", "GET", "/Users?filter=userName eq \"" + strings.Repeat("a", 86) + `"`, "", "/Users?filter=userName eq \"" + strings.Repeat("a", 87) + `"`, 400, "invalidFilter"},
		{"filter depth", "GET", "/Users?filter=(((userName pr)))", "", "/Users?filter=((((userName pr))))", 400, "invalidFilter"},
		{"filter terms", "GET", "/Users?filter=" + terms(4), "", "/Users?filter=" + terms(5), 400, "invalidFilter"},
		{"attributes", "GET", "/Users?attributes=userName,emails,name", "", "/Users?attributes=userName,emails,name,title", 400, "tooMany"},
		{"excludedAttributes", "GET", "/Users/{id}?excludedAttributes=emails,name,title", "", "/Users/{id}?excludedAttributes=emails,name,title,nickName", 400, "tooMany"},
		{"search attributes", "POST", "/.search", `{"attributes":["userName","emails","name"]}`, `{"attributes":["userName","emails","name","title"]}`, 400, "tooMany"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, scim.WithLimits(l))
			id := s.create("/Users", user("limited"))
			send := func(v string) response {
				if tt.method == http.MethodGet {
					return s.do(tt.method, strings.ReplaceAll(v, "{id}", id), nil)
				}
				return s.do(tt.method, strings.ReplaceAll(tt.path, "{id}", id), v)
			}
			okReq, overReq := tt.ok, tt.over
			if tt.method == http.MethodGet {
				okReq = tt.path
			}
			resp := send(okReq)
			require.Less(t, resp.status, 300, "at the limit: %s", resp.raw)
			requireError(t, send(overReq), tt.status, tt.scimType)
		})
	}
}

func TestLimitsDefaultsAndValidation(t *testing.T) {
	d := scim.DefaultLimits()
	assert.Equal(t, scim.Limits{BodyBytes: 1 << 20, JSONDepth: 32, StringBytes: 64 << 10, PatchOperations: 1000, Values: 1000000,
		FilterBytes: 8192, FilterDepth: 64, FilterTerms: 100, AttributeNames: 100, WriteRetries: 32}, d)
	auth := scim.NewBearerTokens()
	for _, l := range []scim.Limits{{BodyBytes: -1}, {JSONDepth: -1}, {Values: -5}, {WriteRetries: -1}, {FilterTerms: -1}} {
		_, err := scim.New(memstore.New(), auth, scim.WithLimits(l))
		assert.Error(t, err, "%+v", l)
	}
	_, err := scim.New(memstore.New(), auth, scim.WithMaxBodyBytes(0))
	assert.Error(t, err)
	// Zero fields keep the defaults, and the older options still work.
	s := newServer(t, scim.WithMaxPatchOperations(1), scim.WithLimits(scim.Limits{Values: 10}))
	id := s.create("/Users", user("x"))
	requireError(t, s.do(http.MethodPatch, "/Users/"+id, patchOps(`{"op":"add","path":"nickName","value":"a"}`, `{"op":"add","path":"title","value":"b"}`)), 400, "tooMany")
}

// TestServiceProviderConfigAdvertisesLimits: the limits RFC 7643 §5 defines
// are advertised: filter.maxResults, bulk.maxOperations and
// bulk.maxPayloadSize.
func TestServiceProviderConfigAdvertisesLimits(t *testing.T) {
	s := newServer(t, scim.WithMaxResults(50), scim.WithBulk(5, 4096))
	body := s.get("/ServiceProviderConfig")
	assert.EqualValues(t, 50, body["filter"].(map[string]any)["maxResults"])
	assert.Equal(t, map[string]any{"supported": true, "maxOperations": 5.0, "maxPayloadSize": 4096.0}, body["bulk"])
}

// contendedStore loses every compare-and-swap, as if other writers always
// got there first, and counts the attempts.
type contendedStore struct {
	scim.Store
	replaces atomic.Int32
}

func (s *contendedStore) Replace(ctx context.Context, res *scim.Resource, version string) (*scim.Resource, error) {
	s.replaces.Add(1)
	return nil, scim.ErrVersionMismatch
}

// TestWriteRetriesBounded: a write without If-Match that keeps losing is
// tried Limits.WriteRetries times in all, then answered 503; with If-Match
// once, then 412.
func TestWriteRetriesBounded(t *testing.T) {
	store := &contendedStore{Store: plainStore{memstore.New()}}
	s := newServerWithStore(t, store, scim.WithLimits(scim.Limits{WriteRetries: 5}))
	id := s.create("/Users", user("contended"))
	requireError(t, s.do(http.MethodPatch, "/Users/"+id, patchOps(`{"op":"replace","path":"nickName","value":"n"}`)), 503, "")
	assert.EqualValues(t, 5, store.replaces.Load())
	store.replaces.Store(0)
	requireError(t, s.do(http.MethodPut, "/Users/"+id, user("contended", map[string]any{"title": "t"})), 503, "")
	assert.EqualValues(t, 5, store.replaces.Load())
	store.replaces.Store(0)
	etag := s.do(http.MethodGet, "/Users/"+id, nil).header.Get("ETag")
	requireError(t, s.do(http.MethodPatch, "/Users/"+id, patchOps(`{"op":"replace","path":"nickName","value":"n"}`), "If-Match", etag), 412, "")
	assert.EqualValues(t, 1, store.replaces.Load())
}

// TestLargeAttributePatchIsCheap is the request of issue #11 at a tenth of
// its size, as a test: 1,000 add operations on a user holding 3,000 emails
// are applied once each, whatever the values held (see
// BenchmarkPatchManyOpsLargeAttribute for the timing).
func TestLargeAttributePatchIsCheap(t *testing.T) {
	store := memstore.New()
	id := userWithEmails(t, store, 3000)
	s := newServerWithStore(t, store)
	resp := s.do(http.MethodPatch, "/Users/"+id, emailAdds(1000, "n-"))
	require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
	got, err := store.Get(context.Background(), "User", id)
	require.NoError(t, err)
	assert.Len(t, got.Attributes["emails"], 4000)
	// Adding the same again changes nothing.
	again := s.do(http.MethodPatch, "/Users/"+id, emailAdds(1000, "n-"))
	require.Equal(t, http.StatusNoContent, again.status)
	assert.Equal(t, resp.header.Get("ETag"), again.header.Get("ETag"))
}
