package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFlags starts the example server as a process with each flag and
// without: -strict answers a replace whose filter matches nothing with 400
// noTarget (RFC 7644 §3.5.2.3), where the default creates the value the
// filter describes, as Entra ID expects; -no-pagination-discovery leaves
// "pagination" out of /ServiceProviderConfig and still answers cursors.
func TestFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the tests that start server processes")
	}
	tests := []struct {
		name        string
		args        []string
		patchStatus int
		scimType    string
		pagination  bool
	}{
		{name: "default", patchStatus: http.StatusNoContent, pagination: true},
		{name: "-strict", args: []string{"-strict"}, patchStatus: http.StatusBadRequest, scimType: "noTarget", pagination: true},
		{name: "-no-pagination-discovery", args: []string{"-no-pagination-discovery"}, patchStatus: http.StatusNoContent},
		{name: "both", args: []string{"-strict", "-no-pagination-discovery"}, patchStatus: http.StatusBadRequest, scimType: "noTarget"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token := "flags-token"
			// On the memory store, whatever $SCIM_POSTGRES_DSN says: each
			// server starts empty.
			p := startProcess(t, token, append([]string{"-postgres="}, tt.args...)...)
			c := client{token: token, http: &http.Client{Timeout: 10 * time.Second}}

			status, body, err := c.send(http.MethodPost, p.url+"/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen",`+
				`"emails":[{"value":"b@example.com","type":"home"}]}`)
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, status, "%v", body)
			id := body["id"].(string)

			status, body, err = c.send(http.MethodPatch, p.url+"/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],`+
				`"Operations":[{"op":"replace","path":"emails[type eq \"work\"].value","value":"w@example.com"}]}`)
			require.NoError(t, err)
			require.Equal(t, tt.patchStatus, status, "%v", body)
			_, user, err := c.send(http.MethodGet, p.url+"/Users/"+id, "")
			require.NoError(t, err)
			emails, _ := user["emails"].([]any)
			if tt.scimType != "" {
				assert.Equal(t, tt.scimType, body["scimType"])
				assert.Len(t, emails, 1, "a refused PATCH changes nothing")
			} else {
				assert.Len(t, emails, 2, "the lenient replace creates the work email")
			}

			status, spc, err := c.send(http.MethodGet, p.url+"/ServiceProviderConfig", "")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, tt.pagination, spc["pagination"] != nil, "pagination: %v", spc["pagination"])

			status, body, err = c.send(http.MethodPost, p.url+"/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"second"}`)
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, status, "%v", body)
			status, page, err := c.send(http.MethodGet, p.url+"/Users?cursor=&count=1", "")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, status, "%v", page)
			assert.NotEmpty(t, page["nextCursor"], "cursor paging is answered")
		})
	}
}
