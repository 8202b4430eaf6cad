package scim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

func bulkBody(failOnErrors int, ops ...string) string {
	f := ""
	if failOnErrors > 0 {
		f = fmt.Sprintf(`"failOnErrors":%d,`, failOnErrors)
	}
	return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],` + f + `"Operations":[` + strings.Join(ops, ",") + `]}`
}

func bulkUser(bulkID, userName string) string {
	return `{"method":"POST","path":"/Users","bulkId":"` + bulkID + `","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + userName + `"}}`
}

func bulkGroup(bulkID, name string, members ...string) string {
	ms := make([]string, len(members))
	for i, m := range members {
		ms[i] = `{"value":"` + m + `"}`
	}
	return `{"method":"POST","path":"/Groups","bulkId":"` + bulkID + `","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"` + name + `","members":[` + strings.Join(ms, ",") + `]}}`
}

// bulkResults returns the operations of a bulk response.
func bulkResults(t *testing.T, resp response) []map[string]any {
	t.Helper()
	require.Equal(t, http.StatusOK, resp.status, resp.raw)
	assert.Equal(t, []any{scim.BulkResponseSchema}, resp.body["schemas"])
	var out []map[string]any
	for _, o := range resp.body["Operations"].([]any) {
		out = append(out, o.(map[string]any))
	}
	return out
}

func TestBulkReferencesInAnyOrder(t *testing.T) {
	var created atomic.Int64
	s := newServer(t, scim.WithHooks(scim.Hooks{AfterCreate: func(context.Context, *scim.Resource) error { created.Add(1); return nil }}))
	resp := s.do(http.MethodPost, "/Bulk", bulkBody(0,
		// The group comes first and names a user created after it.
		bulkGroup("g", "Tour Guides", "bulkId:alice", "bulkId:bob"),
		bulkUser("alice", "alice"),
		bulkUser("bob", "bob"),
		`{"method":"PATCH","path":"/Users/bulkId:bob","data":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"Guide"}]}}`,
	))
	ops := bulkResults(t, resp)
	require.Len(t, ops, 4)
	for i, want := range []string{"201", "201", "201", "204"} {
		assert.Equal(t, want, ops[i]["status"], "operation %d: %v", i, ops[i])
		assert.NotEmpty(t, ops[i]["version"], "operation %d", i)
	}
	assert.Equal(t, "g", ops[0]["bulkId"])
	loc := ops[0]["location"].(string)
	require.True(t, strings.HasPrefix(loc, s.url+"/Groups/"), loc)
	group := s.do(http.MethodGet, strings.TrimPrefix(loc, s.url), nil)
	aliceID := strings.TrimPrefix(ops[1]["location"].(string), s.url+"/Users/")
	bobID := strings.TrimPrefix(ops[2]["location"].(string), s.url+"/Users/")
	assert.ElementsMatch(t, []string{aliceID, bobID}, memberValues(group.body))
	assert.Equal(t, "Guide", s.do(http.MethodGet, "/Users/"+bobID, nil).body["title"])
	assert.EqualValues(t, 3, created.Load(), "each operation ran the hooks of its single request")
}

func memberValues(group map[string]any) []string {
	var out []string
	list, _ := group["members"].([]any)
	for _, m := range list {
		out = append(out, m.(map[string]any)["value"].(string))
	}
	return out
}

func TestBulkCycle(t *testing.T) {
	s := newServer(t)
	ops := bulkResults(t, s.do(http.MethodPost, "/Bulk", bulkBody(0,
		bulkGroup("a", "A", "bulkId:b"),
		bulkGroup("b", "B", "bulkId:a"),
		bulkGroup("c", "C", "bulkId:a"), // waits on the cycle
		bulkUser("u", "unrelated"),
	)))
	require.Len(t, ops, 4)
	for i := 0; i < 3; i++ {
		assert.Equal(t, "409", ops[i]["status"], "operation %d", i)
		assert.Contains(t, ops[i]["response"].(map[string]any)["detail"], "cycle")
	}
	assert.Equal(t, "201", ops[3]["status"])
	assert.EqualValues(t, 0, s.do(http.MethodGet, "/Groups", nil).body["totalResults"], "nothing of the cycle was created")
}

func TestBulkFailOnErrors(t *testing.T) {
	s := newServer(t)
	ops := bulkResults(t, s.do(http.MethodPost, "/Bulk", bulkBody(1,
		bulkUser("ok", "first"),
		`{"method":"POST","path":"/Users","bulkId":"bad","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}}`,
		bulkUser("never", "never"),
	)))
	require.Len(t, ops, 2, "processing stops at the first error")
	assert.Equal(t, "201", ops[0]["status"])
	assert.Equal(t, "400", ops[1]["status"])
	assert.Equal(t, "bad", ops[1]["bulkId"])
	assert.Equal(t, []any{scim.ErrorSchema}, ops[1]["response"].(map[string]any)["schemas"])
	assert.EqualValues(t, 1, s.do(http.MethodGet, "/Users", nil).body["totalResults"])

	// Without failOnErrors every operation runs; one that needs a failed
	// one's bulkId is 409.
	ops = bulkResults(t, s.do(http.MethodPost, "/Bulk", bulkBody(0,
		bulkUser("dup", "FIRST"), // userName taken: 409
		bulkGroup("g", "G", "bulkId:dup"),
		bulkUser("fine", "second"),
	)))
	require.Len(t, ops, 3)
	assert.Equal(t, []any{"409", "409", "201"}, []any{ops[0]["status"], ops[1]["status"], ops[2]["status"]})
	assert.Contains(t, ops[1]["response"].(map[string]any)["detail"], `"dup"`)
}

func TestBulkVersionIsIfMatch(t *testing.T) {
	s := newServer(t)
	id := s.create("/Users", user("alice"))
	etag := s.do(http.MethodGet, "/Users/"+id, nil).header.Get("ETag")
	put := func(version string) string {
		return `{"method":"PUT","path":"/Users/` + id + `","version":` + fmt.Sprintf("%q", version) + `,"data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice","title":"x"}}`
	}
	ops := bulkResults(t, s.do(http.MethodPost, "/Bulk", bulkBody(0, put(`W/"stale"`), put(etag),
		`{"method":"DELETE","path":"/Users/missing"}`)))
	assert.Equal(t, "412", ops[0]["status"])
	assert.Equal(t, "200", ops[1]["status"])
	assert.Equal(t, "404", ops[2]["status"])
	assert.Equal(t, s.url+"/Users/"+id, ops[1]["location"])
}

func TestBulkLimitsAndScope(t *testing.T) {
	s := newServer(t, scim.WithBulk(3, 2048))
	spc := s.do(http.MethodGet, "/ServiceProviderConfig", nil).body
	assert.Equal(t, map[string]any{"supported": true, "maxOperations": float64(3), "maxPayloadSize": float64(2048)}, spc["bulk"])

	requireError(t, s.do(http.MethodPost, "/Bulk", bulkBody(0, bulkUser("a", "a"), bulkUser("b", "b"), bulkUser("c", "c"), bulkUser("d", "d"))), 413, "")
	requireError(t, s.do(http.MethodPost, "/Bulk", bulkBody(0, bulkUser("a", strings.Repeat("x", 3000)))), 413, "")
	requireError(t, s.doAs("ro", http.MethodPost, "/Bulk", bulkBody(0, bulkUser("a", "a"))), 403, "")
	requireError(t, s.do(http.MethodGet, "/Bulk", nil), 405, "")
	requireError(t, s.do(http.MethodPost, "/Bulk", bulkBody(0, `{"method":"GET","path":"/Users"}`)), 400, "invalidValue")
	requireError(t, s.do(http.MethodPost, "/Bulk", bulkBody(0, bulkUser("a", "a"), bulkUser("a", "b"))), 400, "invalidValue")
	assert.EqualValues(t, 0, s.do(http.MethodGet, "/Users", nil).body["totalResults"], "refused requests ran nothing")

	off := newServer(t, scim.WithBulk(0, 1))
	requireError(t, off.do(http.MethodPost, "/Bulk", bulkBody(0, bulkUser("a", "a"))), 501, "")
	assert.Equal(t, false, off.do(http.MethodGet, "/ServiceProviderConfig", nil).body["bulk"].(map[string]any)["supported"])
}

// bulkThousand is a bulk request of 1,000 operations: 500 users and 500
// groups, each group naming a user by bulkId, groups first.
func bulkThousand() string {
	var ops []string
	for i := 0; i < 500; i++ {
		ops = append(ops, bulkGroup(fmt.Sprintf("g%d", i), fmt.Sprintf("group %d", i), fmt.Sprintf("bulkId:u%d", i)))
	}
	for i := 0; i < 500; i++ {
		ops = append(ops, bulkUser(fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i)))
	}
	return bulkBody(0, ops...)
}

func TestBulkThousandOperations(t *testing.T) {
	s := newServerWithStore(t, memstore.New(), scim.WithBulk(1000, 1<<20))
	ops := bulkResults(t, s.do(http.MethodPost, "/Bulk", bulkThousand()))
	require.Len(t, ops, 1000)
	for _, op := range ops {
		require.Equal(t, "201", op["status"], "%v", op)
	}
	resp := s.do(http.MethodGet, `/Groups?filter=displayName eq "group 499"`, nil)
	require.EqualValues(t, 1, resp.body["totalResults"])
	members := resp.body["Resources"].([]any)[0].(map[string]any)["members"].([]any)
	userID := members[0].(map[string]any)["value"].(string)
	assert.Equal(t, "user499", s.do(http.MethodGet, "/Users/"+userID, nil).body["userName"])
}

// BenchmarkBulk runs bulk requests of 10, 100 and 1,000 operations with
// references, to show the time grows with the request's size alone.
func BenchmarkBulk(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("ops=%d", n), func(b *testing.B) {
			h, err := scim.New(memstore.New(), scim.NewBearerTokens(scim.Token{Secret: "t"}), scim.WithBulk(1000, 4<<20))
			require.NoError(b, err)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var ops []string
				for j := 0; j < n/2; j++ {
					ops = append(ops, bulkGroup(fmt.Sprintf("g%d", j), fmt.Sprintf("g-%d-%d", i, j), fmt.Sprintf("bulkId:u%d", j)),
						bulkUser(fmt.Sprintf("u%d", j), fmt.Sprintf("u-%d-%d", i, j)))
				}
				w := serve(h, http.MethodPost, "/scim/v2/Bulk", bulkBody(0, ops...))
				if w.Code != http.StatusOK {
					b.Fatal(w.Code, w.Body.String())
				}
				var body map[string]any
				_ = json.Unmarshal(w.Body.Bytes(), &body)
				if len(body["Operations"].([]any)) != n {
					b.Fatal("missing operations")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/operation")
		})
	}
}

// serve sends one request to h with the token "t".
func serve(h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer t")
	r.Header.Set("Content-Type", "application/scim+json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
