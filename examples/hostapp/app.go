package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/events"
	"github.com/scimkit/scim/memstore"
	"github.com/scimkit/scim/postgres"
)

// member is one row of the host application's own users table: what the
// app knows of a person, apart from SCIM.
type member struct {
	UserName string `json:"userName"`
	Email    string `json:"email"`
	Owner    bool   `json:"owner"`
	Active   bool   `json:"active"`
	Licensed bool   `json:"licensed"`
	Invited  bool   `json:"invited"`
}

// config is how the app runs.
type config struct {
	admin  string // the admin routes' bearer token
	seats  int    // licence seats
	logger *slog.Logger
	// pool, when set, keeps the directory, the tokens and the app's own
	// tables in PostgreSQL, in schema; else everything is in memory.
	pool   *pgxpool.Pool
	schema string
	// lease is how long the invite sender holds its name; another
	// replica takes over that long after its holder died.
	lease time.Duration
	// inviteDelay holds the invite sender back after start (tests).
	inviteDelay time.Duration
}

// accounts is the app's own users table and seat count, kept in step with
// the directory: in memory by hooks, on PostgreSQL by in-transaction
// hooks.
type accounts interface {
	// list returns the users by SCIM id, and the free seats.
	list(ctx context.Context) (map[string]*member, int, error)
}

// app is an existing application with its own routes, users and licence
// seats, into which identity providers provision through SCIM: an invite
// for each new user, sent by a durable consumer of the change feed; a
// seat taken for each active user and freed on deactivation; the
// company's only owner (its first user) protected from deactivation.
type app struct {
	logger   *slog.Logger
	tokens   *scim.Tokens
	admin    string
	accounts accounts
}

// newApp returns the app's routes: /scim/v2/ for identity providers,
// /admin/tokens for the app's administrators, /users for everyone. Its
// invite sender runs until ctx ends.
func newApp(ctx context.Context, cfg config) (http.Handler, error) {
	var (
		store   scim.Store
		tokens  scim.TokenStore
		hooks   scim.Hooks
		acc     accounts
		invites func(context.Context, scim.Change) error
		txSend  bool
	)
	if cfg.pool == nil {
		mem := memstore.New()
		m := newMemAccounts(cfg.seats, cfg.logger)
		store, tokens, hooks, acc = mem, memstore.NewTokenStore(), m.hooks(), m
		invites = m.invite(mem)
	} else {
		pa := &pgAccounts{pool: cfg.pool, schema: cfg.schema, logger: cfg.logger}
		if err := pa.migrate(ctx, cfg.seats); err != nil {
			return nil, err
		}
		pg, err := postgres.New(ctx, cfg.pool, postgres.WithSchema(cfg.schema), postgres.WithTxHook(pa.txHook))
		if err != nil {
			return nil, fmt.Errorf("hostapp: opening the PostgreSQL store: %w", err)
		}
		store, tokens, acc, invites, txSend = pg, pg, pa, pa.invite, true
		go func() { <-ctx.Done(); pg.Close() }() // ends its listening connection, which the pool's Close would wait for
	}
	a := &app{logger: cfg.logger, tokens: scim.NewTokens(tokens), admin: cfg.admin, accounts: acc}
	h, err := scim.New(store, a.tokens, scim.WithLogger(cfg.logger), scim.WithHooks(hooks))
	if err != nil {
		return nil, err
	}
	sender := &events.Consumer{Name: "invite-sender", Store: store, Handle: invites, Transactional: txSend,
		Lease: cfg.lease, Logger: cfg.logger}
	go func() {
		if cfg.inviteDelay > 0 && sleep(ctx, cfg.inviteDelay) != nil {
			return
		}
		if err := sender.Run(ctx); err != nil && ctx.Err() == nil {
			cfg.logger.ErrorContext(ctx, "hostapp: the invite sender stopped", "err", err)
		}
	}()
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", h)
	mux.HandleFunc("GET /users", a.listUsers)
	mux.HandleFunc("POST /admin/tokens", a.adminOnly(a.issueToken))
	mux.HandleFunc("GET /admin/tokens", a.adminOnly(a.listTokens))
	mux.HandleFunc("DELETE /admin/tokens/{id}", a.adminOnly(a.revokeToken))
	return mux, nil
}

// ownerOnly is the refusal of deactivating or deleting the only owner.
func ownerOnly(userName, what string) *scim.Error {
	return &scim.Error{Status: http.StatusConflict, Detail: userName + " is the company's only owner and cannot be " + what + "; make someone else owner first"}
}

func (a *app) listUsers(w http.ResponseWriter, r *http.Request) {
	users, free, err := a.accounts.list(r.Context())
	if err != nil {
		a.logger.ErrorContext(r.Context(), "listing users", "err", err)
		http.Error(w, "cannot list users now", http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"freeSeats": free, "users": users})
}

// adminOnly lets through requests that carry the admin token.
func (a *app) adminOnly(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		want := "Bearer " + a.admin
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(want)) != 1 {
			http.Error(w, "admin token required", http.StatusUnauthorized)
			return
		}
		next(w, r)
	}
}

// issueToken issues a SCIM token for an identity provider: ?name=…,
// &readonly=true for a read-only one, &days=N to expire.
func (a *app) issueToken(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	days, _ := strconv.Atoi(q.Get("days"))
	readOnly, _ := strconv.ParseBool(q.Get("readonly"))
	secret, info, err := a.tokens.Issue(r.Context(), scim.Principal{ID: q.Get("name"), ReadOnly: readOnly}, time.Duration(days)*24*time.Hour)
	if err != nil {
		a.logger.ErrorContext(r.Context(), "issuing a token", "err", err)
		http.Error(w, "cannot issue a token now", http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": info.ID, "token": secret, "expiresAt": info.ExpiresAt, "note": "shown once: copy it now"})
}

func (a *app) listTokens(w http.ResponseWriter, r *http.Request) {
	list, err := a.tokens.List(r.Context(), "")
	if err != nil {
		http.Error(w, "cannot list tokens now", http.StatusServiceUnavailable)
		return
	}
	out := make([]map[string]any, len(list))
	for i, t := range list {
		out[i] = map[string]any{"id": t.ID, "name": t.Principal.ID, "readOnly": t.Principal.ReadOnly, "createdAt": t.CreatedAt, "expiresAt": t.ExpiresAt}
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *app) revokeToken(w http.ResponseWriter, r *http.Request) {
	if err := a.tokens.Revoke(r.Context(), "", r.PathValue("id")); err != nil { // the app is one tenant, ""
		http.Error(w, "no such token", http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
