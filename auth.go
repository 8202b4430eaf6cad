package scim

import (
	"crypto/sha256"
	"errors"
	"net/http"
	"sync"
	"time"
)

// Authenticator decides who is calling. The handler calls it first on
// every request; an error answers 401, but one wrapping ErrAuthUnavailable
// (the authenticator could not decide) answers 503 with Retry-After. The Principal it returns travels in
// the request's context, and its Tenant partitions the store.
type Authenticator interface {
	Authenticate(r *http.Request) (Principal, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(r *http.Request) (Principal, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(r *http.Request) (Principal, error) { return f(r) }

// Errors of BearerTokens.
var (
	ErrUnauthenticated = errors.New("scim: missing or unknown bearer token")
	ErrTokenExpired    = errors.New("scim: bearer token expired")
)

// Token is a bearer token a host issued to an identity provider.
type Token struct {
	// Secret is the token's value, as the client sends it.
	Secret string
	// Principal is who the token stands for: its ID (for logs), Tenant and
	// ReadOnly permission.
	Principal Principal
	// ExpiresAt, if not zero, is when the token stops working.
	ExpiresAt time.Time
}

// BearerTokens authenticates `Authorization: Bearer <token>` against a set
// of tokens held in memory that can change while serving (issue, rotate,
// revoke). Secrets are kept as SHA-256 digests. For tokens that survive a
// restart, use Tokens over a TokenStore.
type BearerTokens struct {
	mu     sync.RWMutex
	tokens map[[sha256.Size]byte]Token
	now    func() time.Time
}

// NewBearerTokens returns an authenticator accepting the given tokens.
func NewBearerTokens(tokens ...Token) *BearerTokens {
	b := &BearerTokens{tokens: map[[sha256.Size]byte]Token{}, now: time.Now}
	for _, t := range tokens {
		b.Add(t)
	}
	return b
}

// Add issues a token; a token with the same secret is replaced.
func (b *BearerTokens) Add(t Token) {
	digest := sha256.Sum256([]byte(t.Secret))
	t.Secret = "" // keep only the digest
	b.mu.Lock()
	b.tokens[digest] = t
	b.mu.Unlock()
}

// Revoke withdraws the token with this secret.
func (b *BearerTokens) Revoke(secret string) {
	digest := sha256.Sum256([]byte(secret))
	b.mu.Lock()
	delete(b.tokens, digest)
	b.mu.Unlock()
}

// Authenticate implements Authenticator. The lookup is by the digest of
// the secret, so its time does not depend on how close a guess came.
func (b *BearerTokens) Authenticate(r *http.Request) (Principal, error) {
	secret, ok := bearerSecret(r)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	digest := sha256.Sum256([]byte(secret))
	b.mu.RLock()
	found, ok := b.tokens[digest]
	b.mu.RUnlock()
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	if !found.ExpiresAt.IsZero() && !b.now().Before(found.ExpiresAt) {
		return Principal{}, ErrTokenExpired
	}
	return found.Principal, nil
}
