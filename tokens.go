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
	"unicode"
	"unicode/utf8"
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
	// ErrInvalidTokenName: Issue was given a TokenName longer than
	// MaxTokenNameLength or holding a control character.
	ErrInvalidTokenName = errors.New("scim: invalid token name")
)

// MaxTokenNameLength is the longest TokenName, in bytes.
const MaxTokenNameLength = 200

// LastUsedResolution is how stale TokenInfo.LastUsedAt may be: Tokens
// writes a token's last use at most once per LastUsedResolution, so that
// authenticating stays one read of the store (plus one write a minute per
// token in use).
const LastUsedResolution = time.Minute

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
	// Name is a name for people, shown in lists ("Entra ID, production");
	// "" when the token was issued without one (see TokenName).
	Name      string
	CreatedAt time.Time
	// ExpiresAt is when the token stops working; zero for never.
	ExpiresAt time.Time
	// LastUsedAt is when the token last authenticated a request, to within
	// LastUsedResolution; zero if it never did (or WithoutLastUsed).
	LastUsedAt time.Time
}

// TokenStore keeps issued tokens so that they survive a restart. It is
// safe for concurrent use. memstore.TokenStore keeps them in memory,
// postgres.Store in a table; storetest.RunTokenStore checks one of your
// own.
//
// Every operation on a token by its id is scoped by the tenant
// (Principal.Tenant of the token): an id of another tenant's token is
// ErrTokenNotFound, as an unknown one, and that token is left alone, so
// that a host's admin route that passes an id from a request cannot reach
// another organisation's token.
type TokenStore interface {
	// SaveToken stores a new token, all of it (Name and LastUsedAt too).
	SaveToken(ctx context.Context, t TokenInfo) error
	// TokenByDigest returns the token with that digest, in time that does
	// not grow with the number of tokens, or ErrTokenNotFound.
	TokenByDigest(ctx context.Context, digest [sha256.Size]byte) (TokenInfo, error)
	// ListTokens returns the tenant's tokens, oldest first.
	ListTokens(ctx context.Context, tenant string) ([]TokenInfo, error)
	// DeleteToken removes the tenant's token with that id, or returns
	// ErrTokenNotFound.
	DeleteToken(ctx context.Context, tenant, id string) error
	// TouchToken records at as the LastUsedAt of the tenant's token with
	// that id, unless it records a later time already (two replicas may
	// race), or returns ErrTokenNotFound.
	TouchToken(ctx context.Context, tenant, id string, at time.Time) error
}

// Tokens issues, lists and revokes bearer tokens kept in a TokenStore, and
// authenticates requests by them. Several live tokens per tenant allow
// rotation: issue the new one, move the identity provider to it, revoke
// the old one.
type Tokens struct {
	store      TokenStore
	now        func() time.Time
	noLastUsed bool
}

// A TokensOption configures Tokens.
type TokensOption func(*Tokens)

// WithTokenClock sets the clock Tokens read: the times Issue records,
// expiry, and last use. Tests use it to step past an expiry or
// LastUsedResolution without waiting.
func WithTokenClock(now func() time.Time) TokensOption {
	return func(t *Tokens) {
		if now != nil {
			t.now = now
		}
	}
}

// WithoutLastUsed makes Authenticate only read: no token's LastUsedAt is
// written (for a store that authenticates on a read replica, say).
func WithoutLastUsed() TokensOption {
	return func(t *Tokens) { t.noLastUsed = true }
}

// NewTokens returns Tokens over store.
func NewTokens(store TokenStore, opts ...TokensOption) *Tokens {
	t := &Tokens{store: store, now: time.Now}
	for _, o := range opts {
		o(t)
	}
	return t
}

// An IssueOption sets something of a token Issue makes.
type IssueOption func(*TokenInfo)

// TokenName gives an issued token a name for people (TokenInfo.Name), up
// to MaxTokenNameLength bytes of text without control characters.
func TokenName(name string) IssueOption {
	return func(t *TokenInfo) { t.Name = name }
}

// tokenPrefix marks secrets so that secret scanners can find leaked ones.
const tokenPrefix = "scim_"

// Issue creates a token for p that expires after ttl (0 for never). It
// returns the secret, which is shown this once and kept nowhere, and what
// the store keeps. A name that TokenName cannot take is an error wrapping
// ErrInvalidTokenName.
func (t *Tokens) Issue(ctx context.Context, p Principal, ttl time.Duration, opts ...IssueOption) (secret string, info TokenInfo, err error) {
	for _, o := range opts {
		o(&info)
	}
	if err := checkTokenName(info.Name); err != nil {
		return "", TokenInfo{}, err
	}
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
	info = TokenInfo{ID: hex.EncodeToString(id), Digest: sha256.Sum256([]byte(secret)), Principal: p, Name: info.Name, CreatedAt: now}
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

// checkTokenName refuses a name longer than MaxTokenNameLength, not UTF-8
// or holding a control character.
func checkTokenName(name string) error {
	switch {
	case len(name) > MaxTokenNameLength:
		return fmt.Errorf("scim: issuing a token: the name is %d bytes long, more than %d: %w", len(name), MaxTokenNameLength, ErrInvalidTokenName)
	case !utf8.ValidString(name):
		return fmt.Errorf("scim: issuing a token: the name is not UTF-8 text: %w", ErrInvalidTokenName)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("scim: issuing a token: the name holds control character %U: %w", r, ErrInvalidTokenName)
		}
	}
	return nil
}

// Revoke withdraws the tenant's token with that id at once. An id of
// another tenant's token is ErrTokenNotFound, as an unknown one, and that
// token keeps working: pass the tenant of the caller that asks, not one
// taken from the request.
func (t *Tokens) Revoke(ctx context.Context, tenant, id string) error {
	return t.store.DeleteToken(ctx, tenant, id)
}

// Authenticate implements Authenticator: it looks the bearer token up by
// its digest. An unknown token is ErrUnauthenticated, an expired one
// ErrTokenExpired, and a store that fails ErrAuthUnavailable. It is one
// read of the store; when the token's LastUsedAt is LastUsedResolution
// old or more, it also records the request's time as its last use
// (TouchToken), and an error doing so is ignored: the request is
// authenticated all the same.
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
	}
	now := t.now()
	if !info.ExpiresAt.IsZero() && !now.Before(info.ExpiresAt) {
		return Principal{}, ErrTokenExpired
	}
	if !t.noLastUsed && now.Sub(info.LastUsedAt) >= LastUsedResolution {
		_ = t.store.TouchToken(r.Context(), info.Principal.Tenant, info.ID, now.UTC())
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
