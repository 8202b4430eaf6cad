package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/scimkit/scim"
)

var (
	_ scim.ConsumerLedger = (*Store)(nil)
	_ scim.TxLedger       = (*Store)(nil)
)

// Leases are timed by the database's clock, which every replica shares.

// Acquire implements scim.ConsumerLedger: one statement takes or renews
// the lease unless another owner's has not expired.
func (s *Store) Acquire(ctx context.Context, consumer, owner string, ttl time.Duration) (string, bool, error) {
	tenant := scim.TenantFrom(ctx)
	var position string
	err := s.pool.QueryRow(ctx, `INSERT INTO `+s.t("consumers")+` AS c (tenant, name, owner, lease_until)
		VALUES ($1, $2, $3, clock_timestamp() + $4 * interval '1 microsecond')
		ON CONFLICT (tenant, name) DO UPDATE SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until
		WHERE c.owner = EXCLUDED.owner OR c.lease_until < clock_timestamp()
		RETURNING c.position`, tenant, consumer, owner, ttl.Microseconds()).Scan(&position)
	if isNoRows(err) {
		err = s.pool.QueryRow(ctx, `SELECT position FROM `+s.t("consumers")+` WHERE tenant = $1 AND name = $2`,
			tenant, consumer).Scan(&position)
		return position, false, wrap(ctx, "acquire consumer "+consumer, err)
	}
	if err != nil {
		return "", false, wrap(ctx, "acquire consumer "+consumer, err)
	}
	return position, true, nil
}

// advanceSQL keeps a position for its owner while the lease holds.
func (s *Store) advanceSQL() string {
	return `UPDATE ` + s.t("consumers") + ` SET position = $4
		WHERE tenant = $1 AND name = $2 AND owner = $3 AND lease_until > clock_timestamp()`
}

// Advance implements scim.ConsumerLedger.
func (s *Store) Advance(ctx context.Context, consumer, owner, position string) error {
	tag, err := s.pool.Exec(ctx, s.advanceSQL(), scim.TenantFrom(ctx), consumer, owner, position)
	if err != nil {
		return wrap(ctx, "advance consumer "+consumer, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: consumer %q: %w", consumer, scim.ErrLeaseLost)
	}
	return nil
}

// Release implements scim.ConsumerLedger.
func (s *Store) Release(ctx context.Context, consumer, owner string) error {
	_, err := s.pool.Exec(ctx, `UPDATE `+s.t("consumers")+` SET owner = '', lease_until = '-infinity'
		WHERE tenant = $1 AND name = $2 AND owner = $3`, scim.TenantFrom(ctx), consumer, owner)
	return wrap(ctx, "release consumer "+consumer, err)
}

type txKey struct{}

// TxFrom returns the transaction a Transactional consumer's Handle runs
// in (see AdvanceTx), for the host's own writes that must commit with
// the consumer's progress.
func TxFrom(ctx context.Context) (pgx.Tx, bool) {
	tx, ok := ctx.Value(txKey{}).(pgx.Tx)
	return tx, ok
}

// AdvanceTx implements scim.TxLedger: it locks the consumer's row while
// owner holds the lease (so that no other replica takes it meanwhile),
// runs fn with the transaction in its context (TxFrom), and keeps
// position, all in one transaction. A serialization failure or deadlock
// runs it all again in a new transaction, fn included; nothing of the
// failed attempt is kept.
func (s *Store) AdvanceTx(ctx context.Context, consumer, owner, position string, fn func(ctx context.Context) error) error {
	tenant := scim.TenantFrom(ctx)
	err := s.inTx(ctx, "advance consumer", func(tx pgx.Tx) error {
		var held bool
		err := tx.QueryRow(ctx, `SELECT true FROM `+s.t("consumers")+`
			WHERE tenant = $1 AND name = $2 AND owner = $3 AND lease_until > clock_timestamp() FOR UPDATE`,
			tenant, consumer, owner).Scan(&held)
		if isNoRows(err) {
			return fmt.Errorf("postgres: consumer %q: %w", consumer, scim.ErrLeaseLost)
		}
		if err != nil {
			return err
		}
		if err := fn(context.WithValue(ctx, txKey{}, tx)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, s.advanceSQL(), tenant, consumer, owner, position)
		if err == nil && tag.RowsAffected() == 0 { // the lease ran out while fn ran
			return fmt.Errorf("postgres: consumer %q: %w", consumer, scim.ErrLeaseLost)
		}
		return err
	})
	return wrap(ctx, "advance consumer "+consumer, err)
}
