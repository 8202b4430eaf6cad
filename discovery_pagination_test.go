package scim_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
)

// TestPaginationDiscovery: /ServiceProviderConfig advertises RFC 9865's
// "pagination" by default, and leaves it out with
// WithoutPaginationDiscovery (clients whose models refuse unknown
// attributes cannot read it); cursor paging is answered either way.
func TestPaginationDiscovery(t *testing.T) {
	tests := []struct {
		name string
		opts []scim.Option
		want any // spc["pagination"]; nil: absent
	}{
		{"default", nil, map[string]any{"cursor": true, "index": true, "defaultPaginationMethod": "index",
			"defaultPageSize": float64(50), "maxPageSize": float64(50)}},
		{"WithoutPaginationDiscovery", []scim.Option{scim.WithoutPaginationDiscovery()}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, append([]scim.Option{scim.WithMaxResults(50)}, tt.opts...)...)
			resp := s.do(http.MethodGet, "/ServiceProviderConfig", nil)
			require.Equal(t, http.StatusOK, resp.status, resp.raw)
			got, has := resp.body["pagination"]
			if tt.want == nil {
				assert.False(t, has, "pagination: %v", got)
			} else {
				assert.Equal(t, tt.want, got)
			}
			for _, k := range []string{"patch", "bulk", "filter", "changePassword", "sort", "etag", "authenticationSchemes", "meta"} {
				assert.Contains(t, resp.body, k)
			}

			var created []string
			for i := 0; i < 3; i++ {
				created = append(created, s.create("/Users", user(fmt.Sprintf("u%d", i))))
			}
			first := s.do(http.MethodGet, "/Users?cursor=&count=2", nil)
			require.Equal(t, http.StatusOK, first.status, first.raw)
			assert.Equal(t, created[:2], ids(first))
			next, _ := first.body["nextCursor"].(string)
			require.NotEmpty(t, next, "cursor paging is answered")
			last := s.do(http.MethodGet, "/Users?count=2&cursor="+url.QueryEscape(next), nil)
			require.Equal(t, http.StatusOK, last.status, last.raw)
			assert.Equal(t, created[2:], ids(last))
		})
	}
}
