package scim

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Authenticator decides who is calling. The handler calls it first on
// every request; an error answers 401. The Principal it returns travels in
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
// of tokens that can change while serving (issue, rotate, revoke). Secrets
// are kept as SHA-256 digests and compared in constant time.
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

// Authenticate implements Authenticator.
func (b *BearerTokens) Authenticate(r *http.Request) (Principal, error) {
	scheme, secret, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
		return Principal{}, ErrUnauthenticated
	}
	digest := sha256.Sum256([]byte(strings.TrimSpace(secret)))
	b.mu.RLock()
	defer b.mu.RUnlock()
	var found Token
	match := 0
	// Compare with every token, without stopping early, so the time taken
	// does not tell which token came close.
	for d, t := range b.tokens {
		if subtle.ConstantTimeCompare(d[:], digest[:]) == 1 {
			found, match = t, 1
		}
	}
	if match == 0 {
		return Principal{}, ErrUnauthenticated
	}
	if !found.ExpiresAt.IsZero() && !b.now().Before(found.ExpiresAt) {
		return Principal{}, ErrTokenExpired
	}
	return found.Principal, nil
}
