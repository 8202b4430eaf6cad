package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
)

// refusedConnectError is what pgx returns when nothing listens where the
// DSN points: a real *pgconn.ConnectError, made by connecting to a port
// that refuses.
func refusedConnectError(t *testing.T) error {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().(*net.TCPAddr)
	require.NoError(t, l.Close()) // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = pgconn.Connect(ctx, fmt.Sprintf("postgres://u@127.0.0.1:%d/db?sslmode=disable&connect_timeout=2", addr.Port))
	require.Error(t, err)
	var ce *pgconn.ConnectError
	require.ErrorAs(t, err, &ce)
	return err
}

// TestWrapUnavailable checks which errors wrap makes scim.ErrUnavailable
// (a 503 with Retry-After) and which it leaves as they were: a 500, or the
// sentinel the handler maps to its own status.
func TestWrapUnavailable(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	live := context.Background()

	pg := func(code string) error {
		return &pgconn.PgError{Severity: "FATAL", Code: code, Message: "server says " + code}
	}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}

	for _, c := range []struct {
		name        string
		ctx         context.Context
		err         error
		unavailable bool
		is          error // another sentinel the result must match, if any
	}{
		// The server says it cannot serve.
		{name: "08006 connection failure", ctx: live, err: pg("08006"), unavailable: true},
		{name: "08001 cannot establish", ctx: live, err: pg("08001"), unavailable: true},
		{name: "08P01 protocol violation", ctx: live, err: pg("08P01"), unavailable: true},
		{name: "57P01 admin shutdown (terminated backend)", ctx: live, err: pg("57P01"), unavailable: true},
		{name: "57P02 crash shutdown", ctx: live, err: pg("57P02"), unavailable: true},
		{name: "57P03 cannot connect now (starting up)", ctx: live, err: pg("57P03"), unavailable: true},
		{name: "53300 too many connections", ctx: live, err: pg("53300"), unavailable: true},
		{name: "57P01 while connecting", ctx: live, err: fmt.Errorf("failed to connect: %w", pg("57P01")), unavailable: true},
		// No connection.
		{name: "connection refused (ConnectError)", ctx: live, err: refusedConnectError(t), unavailable: true},
		{name: "connection reset", ctx: live, err: reset, unavailable: true},
		{name: "ECONNRESET bare", ctx: live, err: fmt.Errorf("tls: %w", syscall.ECONNRESET), unavailable: true},
		{name: "broken pipe", ctx: live, err: fmt.Errorf("write: %w", syscall.EPIPE), unavailable: true},
		{name: "unexpected EOF", ctx: live, err: fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), unavailable: true},
		{name: "EOF", ctx: live, err: io.EOF, unavailable: true},
		{name: "net timeout", ctx: live, err: &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}, unavailable: true},
		// No answer in time: the pool had no connection, or the server was slow.
		{name: "deadline while acquiring", ctx: expired, err: context.DeadlineExceeded, unavailable: true, is: context.DeadlineExceeded},
		{name: "deadline, server answered the cancel with 57014", ctx: expired, err: pg("57014"), unavailable: true, is: context.DeadlineExceeded},
		// The client hung up: not an outage, whatever pgx made of it.
		{name: "cancelled", ctx: cancelled, err: context.Canceled, is: context.Canceled},
		{name: "cancelled, read interrupted", ctx: cancelled, err: reset, is: context.Canceled},
		{name: "cancelled, 57014", ctx: cancelled, err: pg("57014"), is: context.Canceled},
		// Answers, bugs and the unknown stay what they were.
		{name: "unique violation", ctx: live, err: pg(codeUniqueViolation), is: scim.ErrUniqueness},
		{name: "foreign key violation", ctx: live, err: pg(codeForeignKeyViolation), is: scim.ErrMemberNotFound},
		{name: "serialization failure", ctx: live, err: pg(codeSerializationFailure)},
		{name: "statement timeout 57014", ctx: live, err: pg("57014")},
		{name: "undefined table (a bug)", ctx: live, err: pg("42P01")},
		{name: "syntax error (a bug)", ctx: live, err: pg("42601")},
		{name: "wrong password in the DSN", ctx: live, err: fmt.Errorf("failed to connect: %w", pg("28P01"))},
		{name: "no such database in the DSN", ctx: live, err: fmt.Errorf("failed to connect: %w", pg("3D000"))},
		{name: "disk full", ctx: live, err: pg("53100")},
		{name: "no rows", ctx: live, err: pgx.ErrNoRows},
		{name: "tx closed", ctx: live, err: pgx.ErrTxClosed},
		{name: "unknown", ctx: live, err: errors.New("something else")},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := wrap(c.ctx, "op", c.err)
			require.Error(t, got)
			assert.Equal(t, c.unavailable, errors.Is(got, scim.ErrUnavailable), "errors.Is(%v, scim.ErrUnavailable)", got)
			assert.ErrorIs(t, got, c.err, "the cause stays in the chain")
			if c.is != nil {
				assert.ErrorIs(t, got, c.is)
			}
			if c.unavailable {
				again := wrap(c.ctx, "outer", got)
				assert.Equal(t, 1, strings.Count(again.Error(), scim.ErrUnavailable.Error()), "wrapping twice marks once: %v", again)
			}
		})
	}
}
