// Command hostapp is an existing application — its own routes, users
// table and licence seats — that mounts the SCIM handler at /scim/v2 and
// reacts to provisioning through hooks:
//
//	go run ./examples/hostapp
//
// It prints an admin token. Issue an identity provider's SCIM token with
//
//	curl -sS -X POST -H "Authorization: Bearer $ADMIN" 'http://127.0.0.1:8082/admin/tokens?name=entra'
//
// then provision users at http://127.0.0.1:8082/scim/v2 and watch
// http://127.0.0.1:8082/users: an invite is logged on create, a licence
// seat is freed on deactivation, and the company's only owner (its first
// user) cannot be deactivated. With -postgres DSN (or $SCIM_POSTGRES_DSN)
// the directory and the tokens live in PostgreSQL and survive a restart;
// the app rebuilds its own table from the directory when it starts.
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
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
	"github.com/scimkit/scim/postgres"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8082", "address to listen on")
	seats := flag.Int("seats", 10, "licence seats")
	dsn := flag.String("postgres", os.Getenv("SCIM_POSTGRES_DSN"), "PostgreSQL DSN for the directory and the tokens (default $SCIM_POSTGRES_DSN; none: in memory)")
	schema := flag.String("postgres-schema", "hostapp", "PostgreSQL schema of the store's tables")
	flag.Parse()
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	admin := os.Getenv("HOSTAPP_ADMIN_TOKEN")
	if admin == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			logger.Error("admin token", "err", err)
			os.Exit(1)
		}
		admin = hex.EncodeToString(b)
		fmt.Printf("admin token: %s\n", admin)
	}
	var store scim.Store = memstore.New()
	var tokens scim.TokenStore = memstore.NewTokenStore()
	if *dsn != "" {
		pool, err := pgxpool.New(ctx, *dsn)
		if err != nil {
			logger.Error("connecting to PostgreSQL", "err", err)
			os.Exit(1)
		}
		defer pool.Close()
		pg, err := postgres.New(ctx, pool, postgres.WithSchema(*schema))
		if err != nil {
			logger.Error("opening the PostgreSQL store", "err", err)
			os.Exit(1)
		}
		store, tokens = pg, pg
	}
	h, err := newApp(ctx, store, tokens, admin, *seats, logger)
	if err != nil {
		logger.Error("setup", "err", err)
		os.Exit(1)
	}
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	logger.Info("serving", "app", "http://"+*addr+"/users", "scim", "http://"+*addr+"/scim/v2")
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		logger.Error("server stopped", "err", err)
		os.Exit(1)
	}
}
