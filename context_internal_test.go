package scim

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TenantFrom and PrincipalFrom answer from the nearest principal: the one
// a request authenticated, or one a hook or host set on top of it.
func TestTenantFromNearestPrincipal(t *testing.T) {
	authenticated := func(p Principal) context.Context {
		rc := &requestContext{Context: context.Background(), id: "r1"}
		rc.authenticate(p)
		return rc
	}
	unauthenticated := &requestContext{Context: WithPrincipal(context.Background(), Principal{ID: "outer", Tenant: "outer"}), id: "r2"}
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		tenant string
		id     string
		ok     bool
	}{
		{"none", context.Background(), "", "", false},
		{"set by a host", WithPrincipal(context.Background(), Principal{ID: "job", Tenant: "acme"}), "acme", "job", true},
		{"set twice: the later wins", WithPrincipal(WithPrincipal(context.Background(), Principal{Tenant: "a"}), Principal{ID: "b", Tenant: "b"}), "b", "b", true},
		{"a request's", authenticated(Principal{ID: "entra", Tenant: "t1"}), "t1", "entra", true},
		{"a request's, single tenant", authenticated(Principal{ID: "okta"}), "", "okta", true},
		{"set on top of a request's", WithPrincipal(authenticated(Principal{ID: "entra", Tenant: "t1"}), Principal{ID: "hook", Tenant: "t2"}), "t2", "hook", true},
		{"under a request not yet authenticated", unauthenticated, "outer", "outer", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.tenant, TenantFrom(tc.ctx))
			p, ok := PrincipalFrom(tc.ctx)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.id, p.ID)
			assert.Equal(t, tc.tenant, p.Tenant)
		})
	}
}
