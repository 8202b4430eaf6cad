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
// user) cannot be deactivated.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/scimkit/scim/memstore"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8082", "address to listen on")
	seats := flag.Int("seats", 10, "licence seats")
	flag.Parse()
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
	h, err := newApp(memstore.New(), memstore.NewTokenStore(), admin, *seats, logger)
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
