package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

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
	codeTooManyConnections   = "53300"
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
// ctx.Err()) holds whatever pgx made of the interruption; an error of a
// database that cannot be reached right now wraps scim.ErrUnavailable (see
// unavailable); unique and foreign key violations become the scim
// sentinels.
func wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	cerr := ctx.Err()
	if cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w: %w", cerr, err)
	}
	if unavailable(err) && !errors.Is(err, scim.ErrUnavailable) {
		return fmt.Errorf("postgres: %s: %w: %w", op, scim.ErrUnavailable, err)
	}
	if cerr != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
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

// unavailable reports whether err means that the database cannot answer
// right now, for a reason that passes by itself, so that the same request
// may succeed if it is sent again later:
//
//   - the server said so: SQLSTATE class 08 (connection exception), 57P01
//     to 57P05 (shutting down, crashed, starting up, database dropped,
//     idle session timeout), 53300 (too many connections), also when pgx
//     got it while connecting. Any other server error is an answer, not an
//     outage: a constraint violation, a bug in a statement, a wrong password
//     or database name in the DSN.
//   - no connection: a failed connection attempt (*pgconn.ConnectError:
//     refused, unreachable, timed out), a connection that broke (a
//     net.Error, io.EOF or io.ErrUnexpectedEOF, ECONNRESET, EPIPE), a pgx
//     connection already closed (pgconn.SafeToRetry: nothing was sent).
//   - no answer in time: the deadline passed while waiting for the pool or
//     the server (context.DeadlineExceeded, pgconn.Timeout).
//
// A cancelled context is never unavailability: the client hung up, and its
// request failing is no news.
func unavailable(err error) bool {
	switch {
	case errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return true // even when the server answered the cancel pgx sent with 57014
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "57P0"), pe.Code == codeTooManyConnections:
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE):
		return true
	}
	// pgconn's errors from before anything was sent: a closed connection,
	// or a lock on one in use ("conn busy"), which is a bug.
	return pgconn.SafeToRetry(err) && !strings.Contains(err.Error(), "conn busy")
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
