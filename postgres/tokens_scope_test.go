package postgres_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/scimkit/scim"
	"github.com/scimkit/scim/postgres"
)

// TestTokensScopedNamedAndTouched: scim.Tokens over the PostgreSQL store:
// a revocation by another tenant is ErrTokenNotFound and the token keeps
// working, the name survives, and authenticating records the last use
// (to the microsecond) at most once a minute.
func TestTokensScopedNamedAndTouched(t *testing.T) {
	pool := testPool(t)
	s := newStore(t, pool)
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC)
	tokens := scim.NewTokens(s, scim.WithTokenClock(func() time.Time { return now }))
	secret, info, err := tokens.Issue(ctx, scim.Principal{ID: "entra", Tenant: "acme"}, 0, scim.TokenName("Entra ID, production"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tokens.Revoke(ctx, "globex", info.ID); !errors.Is(err, scim.ErrTokenNotFound) {
		t.Errorf("Revoke by another tenant must be scim.ErrTokenNotFound; got %v", err)
	}
	r := httptest.NewRequest("GET", "/Users", nil)
	r.Header.Set("Authorization", "Bearer "+secret)
	if _, err := tokens.Authenticate(r); err != nil {
		t.Fatalf("the token must still authenticate: %v", err)
	}
	got, err := s.TokenByDigest(ctx, info.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Entra ID, production" || !got.LastUsedAt.Equal(now.Truncate(time.Microsecond)) || got.LastUsedAt.Location() != time.UTC {
		t.Errorf("the stored token must keep its name and its last use (%v, UTC); got %q, %v", now.Truncate(time.Microsecond), got.Name, got.LastUsedAt)
	}
	if err := tokens.Revoke(ctx, "acme", info.ID); err != nil {
		t.Errorf("Revoke by the token's tenant: %v", err)
	}
}

// TestMigrateTokensFromVersion3: a schema at version 3 with a token gets
// step 4, and the token reads back without a name or a last use.
func TestMigrateTokensFromVersion3(t *testing.T) {
	pool := testPool(t)
	schema := freshSchema(t, pool)
	ctx := context.Background()
	s, err := postgres.New(ctx, pool, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("old-secret"))
	if err := s.SaveToken(ctx, scim.TokenInfo{ID: "old", Digest: digest, Principal: scim.Principal{ID: "idp", Tenant: "acme"}, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	q := pgx.Identifier{schema}.Sanitize()
	if _, err := pool.Exec(ctx, "ALTER TABLE "+q+".tokens DROP COLUMN display_name, DROP COLUMN last_used_at; DELETE FROM "+q+".schema_migrations WHERE version > 3"); err != nil {
		t.Fatal(err)
	}
	s, err = postgres.New(ctx, pool, postgres.WithSchema(schema))
	if err != nil {
		t.Fatalf("New on a schema at version 3: %v", err)
	}
	got, err := s.TokenByDigest(ctx, digest)
	if err != nil || got.ID != "old" || got.Name != "" || !got.LastUsedAt.IsZero() {
		t.Errorf("a token of version 3 reads back without a name or last use; got %+v, %v", got, err)
	}
	if err := s.TouchToken(ctx, "acme", "old", time.Now()); err != nil {
		t.Errorf("TouchToken after the upgrade: %v", err)
	}
}
