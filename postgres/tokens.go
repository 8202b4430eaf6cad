package postgres

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/scimkit/scim"
)

// The Store is also a scim.TokenStore: bearer tokens, as digests, in the
// table tokens, so that they survive restarts and every process sharing
// the database accepts them. Times are kept to the microsecond (as
// PostgreSQL keeps them; finer digits are truncated) and read in UTC.
var _ scim.TokenStore = (*Store)(nil)

// SaveToken implements scim.TokenStore. A token whose id or digest is
// taken is an error wrapping scim.ErrUniqueness.
func (s *Store) SaveToken(ctx context.Context, t scim.TokenInfo) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if t.ID == "" {
		return fmt.Errorf("postgres: save token: the token has no id")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO `+s.t("tokens")+` (id, digest, name, tenant, read_only, user_id, created_at, expires_at, display_name, last_used_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		t.ID, t.Digest[:], t.Principal.ID, t.Principal.Tenant, t.Principal.ReadOnly, t.Principal.UserID,
		t.CreatedAt.Truncate(time.Microsecond), optionalTime(t.ExpiresAt), t.Name, optionalTime(t.LastUsedAt))
	if sqlState(err) == codeUniqueViolation {
		return fmt.Errorf("postgres: save token %q: its id or digest is taken: %w", t.ID, scim.ErrUniqueness)
	}
	return wrap(ctx, "save token", err)
}

// optionalTime is t to the microsecond, nil (NULL) when it is zero.
func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.Truncate(time.Microsecond)
	return &t
}

const tokenColumns = `id, digest, name, tenant, read_only, user_id, created_at, expires_at, display_name, last_used_at`

func scanToken(row pgx.Row) (scim.TokenInfo, error) {
	var (
		t                 scim.TokenInfo
		digest            []byte
		expires, lastUsed *time.Time
	)
	err := row.Scan(&t.ID, &digest, &t.Principal.ID, &t.Principal.Tenant, &t.Principal.ReadOnly, &t.Principal.UserID, &t.CreatedAt, &expires,
		&t.Name, &lastUsed)
	if err != nil {
		return t, err
	}
	if len(digest) != sha256.Size {
		return t, fmt.Errorf("postgres: token %q has a digest of %d bytes", t.ID, len(digest))
	}
	copy(t.Digest[:], digest)
	t.CreatedAt = t.CreatedAt.UTC()
	if expires != nil {
		t.ExpiresAt = expires.UTC()
	}
	if lastUsed != nil {
		t.LastUsedAt = lastUsed.UTC()
	}
	return t, nil
}

// TokenByDigest implements scim.TokenStore, by the unique index on digest.
func (s *Store) TokenByDigest(ctx context.Context, digest [sha256.Size]byte) (scim.TokenInfo, error) {
	if err := ctx.Err(); err != nil {
		return scim.TokenInfo{}, err
	}
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM `+s.t("tokens")+` WHERE digest = $1`, digest[:]))
	if isNoRows(err) {
		return scim.TokenInfo{}, fmt.Errorf("postgres: token by digest: %w", scim.ErrTokenNotFound)
	}
	if err != nil {
		return scim.TokenInfo{}, wrap(ctx, "token by digest", err)
	}
	return t, nil
}

// ListTokens implements scim.TokenStore: the tenant's tokens, oldest
// first (ties by id), by the index on (tenant, created_at, id).
func (s *Store) ListTokens(ctx context.Context, tenant string) ([]scim.TokenInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM `+s.t("tokens")+` WHERE tenant = $1 ORDER BY created_at, id`, tenant)
	if err != nil {
		return nil, wrap(ctx, "list tokens", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (scim.TokenInfo, error) { return scanToken(row) })
	if err != nil {
		return nil, wrap(ctx, "list tokens", err)
	}
	return out, nil
}

// DeleteToken implements scim.TokenStore: one statement, scoped by the
// tenant, so another tenant's token is not found and stays.
func (s *Store) DeleteToken(ctx context.Context, tenant, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM `+s.t("tokens")+` WHERE tenant = $1 AND id = $2`, tenant, id)
	if err != nil {
		return wrap(ctx, "delete token", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: token %q of tenant %q: %w", id, tenant, scim.ErrTokenNotFound)
	}
	return nil
}

// TouchToken implements scim.TokenStore: one statement, scoped by the
// tenant, that keeps the later of the recorded time and at (to the
// microsecond).
func (s *Store) TouchToken(ctx context.Context, tenant, id string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE `+s.t("tokens")+` SET last_used_at = GREATEST(last_used_at, $3)
		WHERE tenant = $1 AND id = $2`, tenant, id, at.Truncate(time.Microsecond))
	if err != nil {
		return wrap(ctx, "touch token", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: token %q of tenant %q: %w", id, tenant, scim.ErrTokenNotFound)
	}
	return nil
}
