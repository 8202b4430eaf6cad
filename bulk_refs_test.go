package scim_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
)

// TestBulkUndefinedBulkID: an operation that refers to a bulkId no
// operation of the request defines fails on its own, 400 invalidValue
// naming the bulkId, and the others run (RFC 7644 §3.7.3: the service
// provider continues performing as many changes as possible); failOnErrors
// counts it. It used to make the whole request a 400.
func TestBulkUndefinedBulkID(t *testing.T) {
	patchGhost := `{"method":"PATCH","path":"/Users/bulkId:ghost","data":{"schemas":["` + scim.PatchOpSchema + `"],"Operations":[{"op":"replace","path":"title","value":"x"}]}}`
	patchG := `{"method":"PATCH","path":"/Groups/bulkId:g","data":{"schemas":["` + scim.PatchOpSchema + `"],"Operations":[{"op":"replace","path":"displayName","value":"H"}]}}`
	type want struct {
		status   string
		scimType string
		detail   string // a part of the error's detail
	}
	tests := []struct {
		name         string
		failOnErrors int
		ops          []string
		want         []want
		users        int
		groups       int
	}{
		{
			name: "in data and in a path, among operations that succeed",
			ops:  []string{bulkGroup("g", "G", "bulkId:nobody"), bulkUser("alice", "alice"), patchGhost, bulkUser("bob", "bob")},
			want: []want{
				{"400", "invalidValue", `bulkId "nobody" is not defined by any operation of the request`},
				{status: "201"},
				{"400", "invalidValue", `bulkId "ghost"`},
				{status: "201"},
			},
			users: 2,
		},
		{
			name:  "beside a reference that resolves",
			ops:   []string{bulkGroup("g", "G", "bulkId:alice", "bulkId:nobody"), bulkUser("alice", "alice")},
			want:  []want{{"400", "invalidValue", `"nobody"`}, {status: "201"}},
			users: 1,
		},
		{
			name: "an operation that needs the failed one's bulkId is 409",
			ops:  []string{bulkGroup("g", "G", "bulkId:nobody"), patchG, bulkGroup("h", "H")},
			want: []want{
				{"400", "invalidValue", `"nobody"`},
				{"409", "invalidValue", `bulkId "g" names no resource`},
				{status: "201"},
			},
			groups: 1,
		},
		{
			name:         "failOnErrors 1 stops at it",
			failOnErrors: 1,
			ops:          []string{bulkGroup("g", "G", "bulkId:nobody"), bulkUser("alice", "alice")},
			want:         []want{{"400", "invalidValue", `"nobody"`}},
		},
		{
			name:         "failOnErrors 2 counts it with another error",
			failOnErrors: 2,
			ops: []string{
				bulkUser("alice", "alice"), patchGhost,
				`{"method":"POST","path":"/Users","bulkId":"bad","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}}`,
				bulkUser("bob", "bob"),
			},
			want:  []want{{status: "201"}, {"400", "invalidValue", `"ghost"`}, {"400", "invalidValue", ""}},
			users: 1,
		},
		{
			name: "beside a cycle, which stays 409",
			ops: []string{
				bulkGroup("a", "A", "bulkId:b"), bulkGroup("b", "B", "bulkId:a"),
				bulkGroup("c", "C", "bulkId:nobody"), bulkUser("u", "unrelated"),
			},
			want: []want{
				{"409", "invalidValue", "cycle"}, {"409", "invalidValue", "cycle"},
				{"400", "invalidValue", `"nobody"`}, {status: "201"},
			},
			users: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			ops := bulkResults(t, s.do(http.MethodPost, "/Bulk", bulkBody(tt.failOnErrors, tt.ops...)))
			require.Len(t, ops, len(tt.want), "%v", ops)
			for i, w := range tt.want {
				assert.Equal(t, w.status, ops[i]["status"], "operation %d: %v", i+1, ops[i])
				if w.status < "400" {
					assert.Nil(t, ops[i]["response"], "operation %d", i+1)
					continue
				}
				resp, _ := ops[i]["response"].(map[string]any)
				require.NotNil(t, resp, "operation %d has no error response: %v", i+1, ops[i])
				assert.Equal(t, []any{scim.ErrorSchema}, resp["schemas"], "operation %d", i+1)
				assert.Equal(t, w.status, resp["status"], "operation %d", i+1)
				assert.Equal(t, w.scimType, resp["scimType"], "operation %d", i+1)
				assert.Contains(t, resp["detail"], w.detail, "operation %d", i+1)
			}
			assert.EqualValues(t, tt.users, s.do(http.MethodGet, "/Users", nil).body["totalResults"], "users")
			assert.EqualValues(t, tt.groups, s.do(http.MethodGet, "/Groups", nil).body["totalResults"], "groups")
		})
	}
}
