// Command multitenant serves one SCIM directory per customer under
// /t/{tenant}/scim/v2, as a multi-tenant host application does: each
// customer's identity provider gets its own Tenant URL and Secret Token, and
// a token only opens its own tenant.
//
//	go run ./examples/multitenant
//
// prints a URL and token per tenant.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "address to listen on")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))

	tokens := scim.NewBearerTokens()
	for _, tenant := range []string{"acme", "globex"} {
		secret := randomToken()
		tokens.Add(scim.Token{
			Secret:    secret,
			Principal: scim.Principal{ID: tenant + "-idp", Tenant: tenant},
			ExpiresAt: time.Now().AddDate(1, 0, 0),
		})
		fmt.Printf("tenant %-7s URL http://%s/t/%s/scim/v2  token %s\n", tenant, *addr, tenant, secret)
	}

	// The token decides the tenant; the URL must name the same one.
	auth := scim.AuthenticatorFunc(func(r *http.Request) (scim.Principal, error) {
		p, err := tokens.Authenticate(r)
		if err != nil {
			return p, err
		}
		if p.Tenant != r.PathValue("tenant") {
			return scim.Principal{}, scim.ErrUnauthenticated
		}
		return p, nil
	})
	h, err := scim.New(memstore.New(), auth, scim.WithLogger(logger))
	if err != nil {
		logger.Error("setup", "err", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.Handle("/t/{tenant}/scim/v2/", h)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	logger.Info("serving", "addr", *addr)
	if err := srv.ListenAndServe(); err != nil {
		logger.Error("server stopped", "err", err)
		os.Exit(1)
	}
}

func randomToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
