package scim

import "context"

// Principal is the caller an Authenticator recognised.
type Principal struct {
	// ID names the caller in logs, for example a token's name.
	ID string
	// Tenant is the directory the caller reads and writes; "" for a
	// single-tenant host.
	Tenant string
	// ReadOnly callers may read but not write.
	ReadOnly bool
	// UserID, when set, is the id of the User the caller is: /Me serves
	// that User (RFC 7644 §3.11).
	UserID string
}

type principalKey struct{}

// WithPrincipal returns a context carrying p. The handler calls it with what
// the Authenticator returned; tests and hosts calling a Store directly may
// call it themselves.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller in ctx, if any.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// TenantFrom returns the tenant of the caller in ctx; "" when there is none.
// Stores partition their data by it.
func TenantFrom(ctx context.Context) string {
	p, _ := PrincipalFrom(ctx)
	return p.Tenant
}
