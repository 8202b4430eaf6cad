package scim

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Errors of token stores and Tokens.
var (
	// ErrTokenNotFound: a TokenStore has no token with that digest or id.
	ErrTokenNotFound = errors.New("scim: token not found")
	// ErrAuthUnavailable: an Authenticator cannot tell who is calling right
	// now (its token store is down). The handler answers 503 with
	// Retry-After, not 401, which an identity provider would take for a
	// broken connection.
	ErrAuthUnavailable = errors.New("scim: authentication unavailable")
)

// TokenInfo is what a TokenStore keeps of an issued token: everything but
// the secret, of which it keeps the SHA-256 digest.
type TokenInfo struct {
	// ID names the token in lists and revocations; it is not a secret.
	ID string
	// Digest is the SHA-256 of the secret.
	Digest [sha256.Size]byte
	// Principal is who the token stands for: a name (ID), the Tenant, and
	// whether it is ReadOnly.
	Principal Principal
	CreatedAt time.Time
	// ExpiresAt is when the token stops working; zero for never.
	ExpiresAt time.Time
}

// TokenStore keeps issued tokens so that they survive a restart. It is
// safe for concurrent use. memstore.TokenStore keeps them in memory,
// postgres.Store in a table.
type TokenStore interface {
	// SaveToken stores a new token.
	SaveToken(ctx context.Context, t TokenInfo) error
	// TokenByDigest returns the token with that digest, in time that does
	// not grow with the number of tokens, or ErrTokenNotFound.
	TokenByDigest(ctx context.Context, digest [sha256.Size]byte) (TokenInfo, error)
	// ListTokens returns the tenant's tokens, oldest first.
	ListTokens(ctx context.Context, tenant string) ([]TokenInfo, error)
	// DeleteToken removes the token with that id, or returns
	// ErrTokenNotFound.
	DeleteToken(ctx context.Context, id string) error
}

// Tokens issues, lists and revokes bearer tokens kept in a TokenStore, and
// authenticates requests by them. Several live tokens per tenant allow
// rotation: issue the new one, move the identity provider to it, revoke
// the old one.
type Tokens struct {
	store TokenStore
	now   func() time.Time
}

// NewTokens returns Tokens over store.
func NewTokens(store TokenStore) *Tokens {
	return &Tokens{store: store, now: time.Now}
}

// tokenPrefix marks secrets so that secret scanners can find leaked ones.
const tokenPrefix = "scim_"

// Issue creates a token for p that expires after ttl (0 for never). It
// returns the secret, which is shown this once and kept nowhere, and what
// the store keeps.
func (t *Tokens) Issue(ctx context.Context, p Principal, ttl time.Duration) (secret string, info TokenInfo, err error) {
	raw := make([]byte, 32)
	id := make([]byte, 8)
	if _, err := rand.Read(raw); err != nil {
		return "", TokenInfo{}, fmt.Errorf("scim: issuing a token: %w", err)
	}
	if _, err := rand.Read(id); err != nil {
		return "", TokenInfo{}, fmt.Errorf("scim: issuing a token: %w", err)
	}
	secret = tokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	now := t.now().UTC()
	info = TokenInfo{ID: hex.EncodeToString(id), Digest: sha256.Sum256([]byte(secret)), Principal: p, CreatedAt: now}
	if ttl > 0 {
		info.ExpiresAt = now.Add(ttl)
	}
	if err := t.store.SaveToken(ctx, info); err != nil {
		return "", TokenInfo{}, fmt.Errorf("scim: issuing a token: %w", err)
	}
	return secret, info, nil
}

// List returns the tenant's tokens, without secrets.
func (t *Tokens) List(ctx context.Context, tenant string) ([]TokenInfo, error) {
	return t.store.ListTokens(ctx, tenant)
}

// Revoke withdraws the token with that id at once.
func (t *Tokens) Revoke(ctx context.Context, id string) error {
	return t.store.DeleteToken(ctx, id)
}

// Authenticate implements Authenticator: it looks the bearer token up by
// its digest. An unknown token is ErrUnauthenticated, an expired one
// ErrTokenExpired, and a store that fails ErrAuthUnavailable.
func (t *Tokens) Authenticate(r *http.Request) (Principal, error) {
	secret, ok := bearerSecret(r)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	digest := sha256.Sum256([]byte(secret))
	info, err := t.store.TokenByDigest(r.Context(), digest)
	switch {
	case errors.Is(err, ErrTokenNotFound):
		return Principal{}, ErrUnauthenticated
	case err != nil:
		return Principal{}, fmt.Errorf("%w: %w", ErrAuthUnavailable, err)
	case subtle.ConstantTimeCompare(info.Digest[:], digest[:]) != 1:
		return Principal{}, ErrUnauthenticated // a store that answered for another digest
	case !info.ExpiresAt.IsZero() && !t.now().Before(info.ExpiresAt):
		return Principal{}, ErrTokenExpired
	}
	return info.Principal, nil
}

// bearerSecret returns the token of an `Authorization: Bearer` header.
func bearerSecret(r *http.Request) (string, bool) {
	scheme, secret, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	secret = strings.TrimSpace(secret)
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return "", false
	}
	return secret, true
}
