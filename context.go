package scim

import (
	"context"
	"sync/atomic"
)

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

// tenantKey carries the tenant of the principal alone: TenantFrom, which
// every store call makes, then costs no copy of the whole Principal.
type tenantKey struct{}

// txnKey carries the transaction id of a write request (Change.Txn): one
// per request, "txn:index" for an operation of a /Bulk request.
type txnKey struct{}

// txnFrom returns the transaction id of the write ctx belongs to.
func txnFrom(ctx context.Context) string {
	t, _ := ctx.Value(txnKey{}).(string)
	return t
}

// WithPrincipal returns a context carrying p. The handler calls it with what
// the Authenticator returned; tests and hosts calling a Store directly may
// call it themselves.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return &principalContext{Context: ctx, p: p}
}

// principalContext is a context carrying a principal and its tenant.
type principalContext struct {
	context.Context
	p Principal
}

// Value implements context.Context.
func (c *principalContext) Value(key any) any {
	switch key.(type) {
	case principalKey:
		return c.p
	case tenantKey:
		return c.p.Tenant
	}
	return c.Context.Value(key)
}

// PrincipalFrom returns the caller in ctx, if any.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// TenantFrom returns the tenant of the caller in ctx; "" when there is none.
// Stores partition their data by it.
func TenantFrom(ctx context.Context) string {
	t, _ := ctx.Value(tenantKey{}).(string)
	return t
}

// requestContext is a request's context below the handler: it carries the
// request's id from the start and its principal once the Authenticator
// has named it, so that the request is copied once for both.
type requestContext struct {
	context.Context
	id            string
	idHeader      [1]string   // the response header's value: id
	txn           string      // the write transaction's id; "" for reads
	principal     Principal   // valid once authenticated is set
	authenticated atomic.Bool // set after principal, which it publishes
}

// authenticate records the principal the Authenticator named.
func (c *requestContext) authenticate(p Principal) {
	c.principal = p
	c.authenticated.Store(true)
}

// Value implements context.Context.
func (c *requestContext) Value(key any) any {
	switch key.(type) {
	case requestIDKey:
		return c.id
	case txnKey:
		return c.txn
	case principalKey:
		if c.authenticated.Load() {
			return c.principal
		}
	case tenantKey:
		if c.authenticated.Load() {
			return c.principal.Tenant
		}
	}
	return c.Context.Value(key)
}
