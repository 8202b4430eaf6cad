// Command server runs a SCIM 2.0 service provider, on the in-memory store:
//
//	go run ./examples/server
//
// or, for production and for several replicas sharing one directory, on
// PostgreSQL (the DSN also from $SCIM_POSTGRES_DSN), which keeps the data
// across restarts:
//
//	go run ./examples/server -postgres 'postgres://user@db:5432/app?sslmode=require'
//
// It serves http://127.0.0.1:8080/scim/v2 and accepts one bearer token:
// $SCIM_TOKEN, or the contents of the file -token-file names, else a random
// one it prints at start. -token still works but warns: a command line is
// visible to every user of the machine. Slow or idle clients are cut off by
// read, write and idle timeouts.
//
// It logs one line per request to stderr (method, path, status, bytes,
// duration, request id; never a header, so never a token), buffered and
// written every 100 ms; -access-log=false turns it off. On SIGINT or
// SIGTERM it stops taking requests, gives those in flight 5 seconds,
// and writes every line before it exits.
//
// -strict serves the handler's strict mode (scim.WithStrict), for pointing
// a conformance checker at the letter of RFC 7643/7644 (a replace whose
// filter matches nothing is 400 noTarget, RFC 7644 §3.5.2.3) instead of
// what identity providers send. -no-pagination-discovery leaves RFC 9865's
// "pagination" out of /ServiceProviderConfig
// (scim.WithoutPaginationDiscovery), for clients that refuse attributes
// RFC 7643 does not define; cursor paging is still answered.
//
// Both stores keep a change feed. With -events-token T (or
// $SCIM_EVENTS_TOKEN) the server also serves it to one receiver as RFC
// 9967 Security Event Tokens by RFC 8936 poll at /events, beside
// /scim/v2/, for requests that carry that bearer token, and advertises
// the events in /ServiceProviderConfig.
//
// -pprof ADDR serves net/http/pprof's profiles on a listener of its own,
// unauthenticated, so ADDR belongs on loopback: cmd/scimload takes the
// example server's CPU profile through it.
package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/events"
	"github.com/scimkit/scim/memstore"
	"github.com/scimkit/scim/postgres"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	token := flag.String("token", "", "bearer token clients must send; visible in the process list, prefer $SCIM_TOKEN or -token-file")
	tokenFile := flag.String("token-file", "", "file holding the bearer token (default $SCIM_TOKEN, else random)")
	dsn := flag.String("postgres", os.Getenv("SCIM_POSTGRES_DSN"), "PostgreSQL DSN to keep the directory in (default $SCIM_POSTGRES_DSN; none: in memory)")
	schema := flag.String("postgres-schema", postgres.DefaultSchema, "PostgreSQL schema of the store's tables")
	strict := flag.Bool("strict", false, "reject what identity providers send beyond RFC 7643/7644, as conformance checkers expect (scim.WithStrict)")
	noPagination := flag.Bool("no-pagination-discovery", false, "leave RFC 9865's \"pagination\" out of /ServiceProviderConfig, for clients that refuse attributes RFC 7643 does not define; cursor paging is still answered (scim.WithoutPaginationDiscovery)")
	eventsToken := flag.String("events-token", os.Getenv("SCIM_EVENTS_TOKEN"), "bearer token of the receiver that polls /events for RFC 9967 events (default $SCIM_EVENTS_TOKEN; none: no /events)")
	accessLogOn := flag.Bool("access-log", true, "log one line per request to stderr (buffered, written every 100 ms and at shutdown)")
	pprofAddr := flag.String("pprof", "", "serve net/http/pprof's profiles, unauthenticated, on this address (e.g. 127.0.0.1:6060; none: off)")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var opts []scim.Option
	if *strict {
		logger.Info("strict mode: requests beyond RFC 7643/7644 are refused (-strict)")
		opts = append(opts, scim.WithStrict())
	}
	if *noPagination {
		logger.Info("/ServiceProviderConfig leaves out RFC 9865's pagination (-no-pagination-discovery)")
		opts = append(opts, scim.WithoutPaginationDiscovery())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tok, err := resolveToken(*token, *tokenFile, logger)
	if err == nil {
		var store scim.Store
		var closeStore func()
		if store, closeStore, err = openStore(ctx, *dsn, *schema, logger); err == nil {
			defer closeStore()
			err = run(ctx, config{addr: *addr, token: tok, eventsToken: *eventsToken, accessLog: *accessLogOn, pprofAddr: *pprofAddr}, store, logger, opts...)
		}
	}
	if err != nil {
		logger.Error("server stopped", "err", err)
		os.Exit(1)
	}
}

// openStore opens the PostgreSQL store when dsn is set, else a memory
// store; close releases it.
func openStore(ctx context.Context, dsn, schema string, logger *slog.Logger) (store scim.Store, close func(), err error) {
	if dsn == "" {
		logger.Info("keeping the directory in memory: it is lost when the server stops (-postgres DSN keeps it)")
		return memstore.New(), func() {}, nil
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	pg, err := postgres.New(ctx, pool, postgres.WithSchema(schema), postgres.WithLogger(logger))
	if err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("opening the PostgreSQL store: %w", err)
	}
	logger.Info("keeping the directory in PostgreSQL", "schema", schema)
	return pg, pool.Close, nil
}

// config is what run serves.
type config struct {
	addr        string // to listen on
	token       string // the clients' bearer token; "" takes $SCIM_TOKEN, else a random one
	eventsToken string // the receiver's bearer token for /events; "" serves no /events
	accessLog   bool   // log one line per request to stderr
	pprofAddr   string // to serve net/http/pprof on; "" serves none
}

// shutdownTimeout is how long the requests in flight at SIGINT or
// SIGTERM have to finish.
const shutdownTimeout = 5 * time.Second

// run serves the handler on cfg.addr until ctx ends, and /events for the
// receiver whose token is cfg.eventsToken if it is set; opts configure
// the handler beyond its token and logger. When ctx ends it stops
// taking requests, waits up to shutdownTimeout for those in flight
// (then closes their connections), and writes the rest of the access
// log.
func run(ctx context.Context, cfg config, store scim.Store, logger *slog.Logger, opts ...scim.Option) (err error) {
	addr, token, eventsToken := cfg.addr, cfg.token, cfg.eventsToken
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
	mux := http.NewServeMux()
	opts = append([]scim.Option{scim.WithLogger(logger)}, opts...)
	if eventsToken != "" {
		pub := &events.Publisher{Issuer: "http://" + addr + "/scim/v2", Audience: []string{"http://" + addr + "/events"}}
		poll := &events.PollHandler{Name: "receiver", Store: store, Publisher: pub, Logger: logger}
		mux.Handle("POST /events", bearer(eventsToken, poll))
		opts = append(opts, scim.WithSecurityEvents(pub.EventURIs()...))
		logger.Info("serving RFC 9967 events by poll (RFC 8936)", "url", "http://"+addr+"/events")
	}
	h, err := scim.New(store,
		scim.NewBearerTokens(scim.Token{Secret: token, Principal: scim.Principal{ID: "example"}}), opts...)
	if err != nil {
		return err
	}
	mux.Handle("/scim/v2/", h)
	var root http.Handler = mux
	if cfg.accessLog {
		alog := newAccessLog(os.Stderr, accessLogFlushEvery, accessLogMaxBuffered)
		defer func() {
			if cerr := alog.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}()
		root = alog.Handler(mux)
	}
	srv := &http.Server{
		Addr:              addr,
		Handler:           root,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second, // a 1 MiB body at 35 KB/s
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	if cfg.pprofAddr != "" {
		if err := servePprof(ctx, cfg.pprofAddr, logger); err != nil {
			l.Close()
			return err
		}
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(l) }()
	logger.Info("serving SCIM", "url", "http://"+addr+"/scim/v2")
	select {
	case err := <-serveErr: // Serve returns only on an error before Shutdown
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing the requests in flight", "timeout", shutdownTimeout)
	shutdown, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		// A long poll of /events waits up to 30 s: it is cut off, and
		// what it did not deliver comes in the receiver's next poll.
		logger.Warn("shutting down: closing the connections still busy", "err", err)
		_ = srv.Close()
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

// bearer lets through the requests that carry token.
func bearer(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="events"`)
			http.Error(w, "receiver token required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
