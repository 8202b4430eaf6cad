// Command hostapp is an existing application — its own routes, users
// table and licence seats — that mounts the SCIM handler at /scim/v2 and
// follows provisioning:
//
//	go run ./examples/hostapp
//
// It prints an admin token. Issue an identity provider's SCIM token with
//
//	curl -sS -X POST -H "Authorization: Bearer $ADMIN" 'http://127.0.0.1:8082/admin/tokens?name=entra'
//
// then provision users at http://127.0.0.1:8082/scim/v2 and watch
// http://127.0.0.1:8082/users: each new user gets an invite, a licence
// seat is freed on deactivation, and the company's only owner (its first
// user) cannot be deactivated.
//
// In memory (the default) the app's table follows the directory through
// the handler's hooks, and invites are sent by a durable consumer of the
// change feed; a restart loses the directory, the feed and the table
// alike. With -postgres DSN (or $SCIM_POSTGRES_DSN) the directory, the
// tokens and the app's own tables live in PostgreSQL: accounts and seats
// are written by in-transaction hooks, so they commit with each SCIM write
// on any number of replicas, and invites are sent by a transactional
// consumer, exactly once, even when a process dies between the write and
// the invite.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8082", "address to listen on")
	cfg := config{logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	flag.IntVar(&cfg.seats, "seats", 10, "licence seats")
	dsn := flag.String("postgres", os.Getenv("SCIM_POSTGRES_DSN"), "PostgreSQL DSN for the directory, the tokens and the app's tables (default $SCIM_POSTGRES_DSN; none: in memory)")
	flag.StringVar(&cfg.schema, "postgres-schema", "hostapp", "PostgreSQL schema of the tables")
	flag.DurationVar(&cfg.lease, "lease", 30*time.Second, "how long the invite sender holds its lease (another replica takes over that long after its holder dies)")
	flag.DurationVar(&cfg.inviteDelay, "invite-delay", 0, "hold the invite sender back this long after start (for tests)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg.admin = os.Getenv("HOSTAPP_ADMIN_TOKEN")
	if cfg.admin == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			cfg.logger.Error("admin token", "err", err)
			os.Exit(1)
		}
		cfg.admin = hex.EncodeToString(b)
		fmt.Printf("admin token: %s\n", cfg.admin)
	}
	if *dsn != "" {
		pool, err := pgxpool.New(ctx, *dsn)
		if err != nil {
			cfg.logger.Error("connecting to PostgreSQL", "err", err)
			os.Exit(1)
		}
		defer pool.Close()
		cfg.pool = pool
	}
	h, err := newApp(ctx, cfg)
	if err != nil {
		cfg.logger.Error("setup", "err", err)
		os.Exit(1)
	}
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	cfg.logger.Info("serving", "app", "http://"+*addr+"/users", "scim", "http://"+*addr+"/scim/v2")
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		cfg.logger.Error("server stopped", "err", err)
		os.Exit(1)
	}
}
