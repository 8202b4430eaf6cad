// Command server runs a SCIM 2.0 service provider on the in-memory store:
//
//	go run ./examples/server
//
// It serves http://127.0.0.1:8080/scim/v2 and accepts one bearer token:
// $SCIM_TOKEN, or the contents of the file -token-file names, else a random
// one it prints at start. -token still works but warns: a command line is
// visible to every user of the machine. Slow or idle clients are cut off by
// read, write and idle timeouts.
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

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	token := flag.String("token", "", "bearer token clients must send; visible in the process list, prefer $SCIM_TOKEN or -token-file")
	tokenFile := flag.String("token-file", "", "file holding the bearer token (default $SCIM_TOKEN, else random)")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	tok, err := resolveToken(*token, *tokenFile, logger)
	if err == nil {
		err = run(*addr, tok, logger)
	}
	if err != nil {
		logger.Error("server stopped", "err", err)
		os.Exit(1)
	}
}

func run(addr, token string, logger *slog.Logger) error {
	if token == "" {
		token = os.Getenv("SCIM_TOKEN")
	}
	if token == "" {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		token = hex.EncodeToString(b)
		fmt.Printf("bearer token: %s\n", token)
	}
	h, err := scim.New(memstore.New(),
		scim.NewBearerTokens(scim.Token{Secret: token, Principal: scim.Principal{ID: "example"}}),
		scim.WithLogger(logger))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", h)
	srv := &http.Server{
		Addr:              addr,
		Handler:           logRequests(logger, mux),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second, // a 1 MiB body at 35 KB/s
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	logger.Info("serving SCIM", "url", "http://"+addr+"/scim/v2")
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// logRequests logs one line per request: never headers, so never the token.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		logger.Info("request", "method", r.Method, "path", r.URL.Path, "status", sw.status,
			"duration", time.Since(start).Round(time.Microsecond))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
