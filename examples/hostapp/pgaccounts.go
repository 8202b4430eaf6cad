package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/postgres"
)

// pgAccounts is the app's table and seat count in PostgreSQL, next to the
// directory, written by an in-transaction hook: an account and its seat
// commit with the SCIM write or not at all, on any number of replicas. The
// change feed is the invite outbox: the invite sender, a transactional
// consumer, records each invite in the same transaction as its progress.
type pgAccounts struct {
	pool   *pgxpool.Pool
	schema string
	logger *slog.Logger
}

// t is the qualified name of the app's table name.
func (a *pgAccounts) t(name string) string { return pgx.Identifier{a.schema, name}.Sanitize() }

// migrate creates the app's tables, with seats free seats the first time.
func (a *pgAccounts) migrate(ctx context.Context, seats int) error {
	_, err := a.pool.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{a.schema}.Sanitize()+`;
		CREATE TABLE IF NOT EXISTS `+a.t("app_accounts")+` (
			scim_id text PRIMARY KEY, user_name text NOT NULL, email text NOT NULL,
			owner boolean NOT NULL, active boolean NOT NULL, licensed boolean NOT NULL,
			created timestamptz NOT NULL DEFAULT now());
		CREATE TABLE IF NOT EXISTS `+a.t("app_seats")+` (one boolean PRIMARY KEY CHECK (one), free integer NOT NULL);
		CREATE TABLE IF NOT EXISTS `+a.t("app_invites")+` (scim_id text PRIMARY KEY, email text NOT NULL, sent timestamptz NOT NULL DEFAULT now())`)
	if err != nil {
		return fmt.Errorf("hostapp: creating the app's tables: %w", err)
	}
	_, err = a.pool.Exec(ctx, `INSERT INTO `+a.t("app_seats")+` VALUES (true, $1) ON CONFLICT DO NOTHING`, seats)
	return err
}

// txHook keeps the accounts and seats in step with every write of a User,
// in the write's transaction. The seat row is locked first by every write,
// so that writes of users take their locks in one order.
func (a *pgAccounts) txHook(ctx context.Context, tx pgx.Tx, w postgres.TxWrite) error {
	c := w.Change
	if c.Type != "User" {
		return nil
	}
	var free int
	if err := tx.QueryRow(ctx, `SELECT free FROM `+a.t("app_seats")+` FOR UPDATE`).Scan(&free); err != nil {
		return err
	}
	if c.Op == scim.ChangeReplace || c.Op == scim.ChangePatch {
		// A user the directory held before the app came: its account
		// starts now, as on a create.
		m, err := a.account(ctx, tx, c.ID)
		if err != nil {
			return err
		}
		if m == nil {
			c.Op = scim.ChangeCreate
		}
	}
	switch c.Op {
	case scim.ChangeCreate:
		u := scim.UserFromResource(w.After)
		licensed := u.IsActive() && free > 0
		_, err := tx.Exec(ctx, `INSERT INTO `+a.t("app_accounts")+` (scim_id, user_name, email, owner, active, licensed)
			VALUES ($1, $2, $3, NOT EXISTS (SELECT 1 FROM `+a.t("app_accounts")+`), $4, $5)`,
			u.ID, u.UserName, u.PrimaryEmail(), u.IsActive(), licensed)
		if err == nil && licensed {
			err = a.seats(ctx, tx, -1)
		}
		return err
	case scim.ChangeReplace, scim.ChangePatch:
		m, err := a.account(ctx, tx, c.ID)
		if err != nil {
			return err
		}
		u := scim.UserFromResource(w.After)
		switch {
		case c.Deactivated:
			if err := a.mustNotBeOnlyOwner(ctx, tx, m, "deactivated"); err != nil {
				return err
			}
			if m.Licensed {
				m.Licensed = false
				if err := a.seats(ctx, tx, +1); err != nil {
					return err
				}
				a.logger.InfoContext(ctx, "licence freed", "userName", m.UserName, "free seats", free+1)
			}
		case c.Activated && free > 0 && !m.Licensed:
			m.Licensed = true
			if err := a.seats(ctx, tx, -1); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `UPDATE `+a.t("app_accounts")+` SET user_name = $2, email = $3, active = $4, licensed = $5 WHERE scim_id = $1`,
			c.ID, u.UserName, u.PrimaryEmail(), u.IsActive(), m.Licensed)
		return err
	case scim.ChangeDelete:
		m, err := a.account(ctx, tx, c.ID)
		if err != nil || m == nil {
			return err
		}
		if m.Active {
			if err := a.mustNotBeOnlyOwner(ctx, tx, m, "deleted"); err != nil {
				return err
			}
		}
		if m.Licensed {
			if err := a.seats(ctx, tx, +1); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `DELETE FROM `+a.t("app_accounts")+` WHERE scim_id = $1`, c.ID)
		return err
	}
	return nil
}

// account reads a user's row in tx; nil when there is none.
func (a *pgAccounts) account(ctx context.Context, tx pgx.Tx, id string) (*member, error) {
	m := &member{}
	err := tx.QueryRow(ctx, `SELECT user_name, email, owner, active, licensed FROM `+a.t("app_accounts")+` WHERE scim_id = $1`, id).
		Scan(&m.UserName, &m.Email, &m.Owner, &m.Active, &m.Licensed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return m, err
}

// mustNotBeOnlyOwner refuses to deactivate or delete the only active owner.
func (a *pgAccounts) mustNotBeOnlyOwner(ctx context.Context, tx pgx.Tx, m *member, what string) error {
	if !m.Owner {
		return nil
	}
	var owners int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+a.t("app_accounts")+` WHERE owner AND active`).Scan(&owners); err != nil {
		return err
	}
	if owners <= 1 {
		return ownerOnly(m.UserName, what)
	}
	return nil
}

// seats changes the free seats by delta, in tx.
func (a *pgAccounts) seats(ctx context.Context, tx pgx.Tx, delta int) error {
	_, err := tx.Exec(ctx, `UPDATE `+a.t("app_seats")+` SET free = free + $1`, delta)
	return err
}

// invite is the invite sender's Handle, run by a transactional consumer:
// the invite's row commits with the consumer's position, so that each
// user is invited exactly once, whichever replica sends and however often
// one dies.
func (a *pgAccounts) invite(ctx context.Context, c scim.Change) error {
	if c.Op != scim.ChangeCreate || c.Type != "User" {
		return nil
	}
	tx, ok := postgres.TxFrom(ctx)
	if !ok {
		return errors.New("hostapp: the invite sender runs without a transaction")
	}
	var userName, email string
	err := tx.QueryRow(ctx, `INSERT INTO `+a.t("app_invites")+` (scim_id, email)
		SELECT scim_id, email FROM `+a.t("app_accounts")+` WHERE scim_id = $1
		ON CONFLICT DO NOTHING RETURNING (SELECT user_name FROM `+a.t("app_accounts")+` WHERE scim_id = $1), email`, c.ID).Scan(&userName, &email)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // deleted since, or invited already
	}
	if err != nil {
		return err
	}
	// A real app would queue the e-mail here, in tx, or send it and accept
	// that a crash before the commit sends it again.
	a.logger.InfoContext(ctx, "invite sent", "userName", userName, "email", email)
	return nil
}

func (a *pgAccounts) list(ctx context.Context) (map[string]*member, int, error) {
	var free int
	if err := a.pool.QueryRow(ctx, `SELECT free FROM `+a.t("app_seats")).Scan(&free); err != nil {
		return nil, 0, err
	}
	rows, err := a.pool.Query(ctx, `SELECT a.scim_id, a.user_name, a.email, a.owner, a.active, a.licensed, i.scim_id IS NOT NULL
		FROM `+a.t("app_accounts")+` a LEFT JOIN `+a.t("app_invites")+` i ON i.scim_id = a.scim_id`)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := map[string]*member{}
	for rows.Next() {
		var id string
		m := &member{}
		if err := rows.Scan(&id, &m.UserName, &m.Email, &m.Owner, &m.Active, &m.Licensed, &m.Invited); err != nil {
			return nil, 0, err
		}
		out[id] = m
	}
	return out, free, rows.Err()
}
