package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/scimkit/scim"
)

// SQLSTATE codes the store reacts to.
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

// maxAttempts bounds how often a write transaction is retried after the
// database aborted it to break a deadlock or a serialization conflict.
const maxAttempts = 8

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// retryable reports whether a transaction failed only because the database
// chose it to break a deadlock or a serialization conflict; running it
// again is safe, since nothing of it was committed.
func retryable(err error) bool {
	switch sqlState(err) {
	case codeSerializationFailure, codeDeadlockDetected:
		return true
	}
	return false
}

// wrap describes an error of the operation op. The context's error, when
// the context is done, is part of the chain, so that errors.Is(err,
// ctx.Err()) holds whatever pgx made of the interruption; unique and
// foreign key violations become the scim sentinels.
func wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("postgres: %s: %w: %w", op, cerr, err)
	}
	switch sqlState(err) {
	case codeUniqueViolation:
		if !errors.Is(err, scim.ErrUniqueness) {
			return fmt.Errorf("postgres: %s: %w: %w", op, scim.ErrUniqueness, err)
		}
	case codeForeignKeyViolation:
		if !errors.Is(err, scim.ErrMemberNotFound) {
			return fmt.Errorf("postgres: %s: %w: %w", op, scim.ErrMemberNotFound, err)
		}
	}
	var mnf *scim.MemberNotFoundError
	if errors.As(err, &mnf) {
		return err
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// notFound is the error of a missing resource.
func notFound(typ, id string) error {
	return fmt.Errorf("postgres: %s %q: %w", typ, id, scim.ErrNotFound)
}

// versionMismatch is the error of a failed compare-and-swap.
func versionMismatch(typ, id, stored, expected string) error {
	return fmt.Errorf("postgres: %s %q is at version %q, not %q: %w", typ, id, stored, expected, scim.ErrVersionMismatch)
}

// isNoRows reports whether a query returned no row.
func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
