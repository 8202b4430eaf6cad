package scim_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
)

// TestSecurityEventsDiscovery: /ServiceProviderConfig advertises RFC
// 9967's "securityEvents" (§4) only when the host says it serves events
// (WithSecurityEvents), with the URIs it was given, each once, and
// "asyncRequest": "none" (the handler never answers asynchronously).
func TestSecurityEventsDiscovery(t *testing.T) {
	const (
		create = "urn:ietf:params:scim:event:prov:create:notice"
		del    = "urn:ietf:params:scim:event:prov:delete"
	)
	tests := []struct {
		name string
		opts []scim.Option
		want any // spc["securityEvents"]; nil: absent
	}{
		{"default: absent", nil, nil},
		{"WithSecurityEvents", []scim.Option{scim.WithSecurityEvents(create, del, create)},
			map[string]any{"asyncRequest": "none", "eventUris": []any{create, del}}},
		{"no URIs: absent", []scim.Option{scim.WithSecurityEvents()}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.opts...)
			resp := s.do(http.MethodGet, "/ServiceProviderConfig", nil)
			require.Equal(t, http.StatusOK, resp.status, resp.raw)
			got, has := resp.body["securityEvents"]
			if tt.want == nil {
				assert.False(t, has, "securityEvents: %v", got)
				return
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
