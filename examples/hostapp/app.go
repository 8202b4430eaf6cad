package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/scimkit/scim"
)

// member is one row of the host application's own users table: what the
// app knows of a person, apart from SCIM.
type member struct {
	UserName string `json:"userName"`
	Email    string `json:"email"`
	Owner    bool   `json:"owner"`
	Active   bool   `json:"active"`
	Licensed bool   `json:"licensed"`
}

// app is an existing application with its own routes, users and licence
// seats, into which identity providers provision through SCIM. Its hooks
// keep the users table in step: an invite on create, a seat freed on
// deactivation and taken again on reactivation, and the company's only
// owner protected from deactivation.
type app struct {
	logger *slog.Logger
	tokens *scim.Tokens
	admin  string // the admin routes' bearer token

	mu    sync.Mutex
	users map[string]*member // by SCIM id
	seats int                // licences not in use
}

// newApp returns the app's routes: /scim/v2/ for identity providers,
// /admin/tokens for the app's administrators, /users for everyone.
func newApp(ctx context.Context, store scim.Store, tokens scim.TokenStore, adminToken string, seats int, logger *slog.Logger) (http.Handler, error) {
	a := &app{logger: logger, tokens: scim.NewTokens(tokens), admin: adminToken, users: map[string]*member{}, seats: seats}
	if err := a.load(ctx, store); err != nil {
		return nil, err
	}
	h, err := scim.New(store, a.tokens, scim.WithLogger(logger), scim.WithHooks(a.hooks()))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", h)
	mux.HandleFunc("GET /users", a.listUsers)
	mux.HandleFunc("POST /admin/tokens", a.adminOnly(a.issueToken))
	mux.HandleFunc("GET /admin/tokens", a.adminOnly(a.listTokens))
	mux.HandleFunc("DELETE /admin/tokens/{id}", a.adminOnly(a.revokeToken))
	return mux, nil
}

// load fills the app's table from the users the directory already holds
// (after a restart on PostgreSQL), oldest first: the oldest owns the
// company, and seats go in that order.
func (a *app) load(ctx context.Context, store scim.Store) error {
	byCreated := scim.AttrPath{Name: "meta", Sub: "created", Type: scim.TypeDateTime}
	q := scim.Query{SortBy: &byCreated, Keyset: true, Count: 500}
	for {
		page, err := store.Query(ctx, "User", q)
		if err != nil {
			return fmt.Errorf("hostapp: loading the directory: %w", err)
		}
		for _, res := range page.Resources {
			a.add(scim.UserFromResource(res))
		}
		if page.Next == "" {
			return nil
		}
		q.After = page.Next
	}
}

// add puts a user in the table. The caller holds a.mu or is alone.
func (a *app) add(u *scim.User) *member {
	m := &member{UserName: u.UserName, Email: u.PrimaryEmail(), Active: u.IsActive()}
	m.Owner = len(a.users) == 0 // the company's first user owns it
	if m.Active && a.seats > 0 {
		m.Licensed, a.seats = true, a.seats-1
	}
	a.users[u.ID] = m
	return m
}

func (a *app) hooks() scim.Hooks {
	return scim.Hooks{
		AfterCreate: func(ctx context.Context, res *scim.Resource) error {
			if res.Type != "User" {
				return nil
			}
			a.mu.Lock()
			defer a.mu.Unlock()
			m := a.add(scim.UserFromResource(res))
			a.logger.InfoContext(ctx, "invite sent", "userName", m.UserName, "email", m.Email, "licensed", m.Licensed)
			return nil
		},
		BeforeUpdate: func(ctx context.Context, u *scim.Update) error {
			if !u.Deactivated() {
				return nil
			}
			a.mu.Lock()
			defer a.mu.Unlock()
			if m := a.users[u.Old.ID]; m != nil && m.Owner && a.activeOwners() == 1 {
				return &scim.Error{Status: http.StatusConflict, Detail: m.UserName + " is the company's only owner and cannot be deactivated; make someone else owner first"}
			}
			return nil
		},
		AfterUpdate: func(ctx context.Context, u *scim.Update) error {
			a.mu.Lock()
			defer a.mu.Unlock()
			m := a.users[u.New.ID]
			if m == nil {
				return fmt.Errorf("hostapp: no local user for %s", u.New.ID)
			}
			switch {
			case u.Deactivated():
				m.Active = false
				if m.Licensed {
					m.Licensed, a.seats = false, a.seats+1
					a.logger.InfoContext(ctx, "licence freed", "userName", m.UserName, "free seats", a.seats)
				}
			case u.Reactivated():
				m.Active = true
				if a.seats > 0 {
					m.Licensed, a.seats = true, a.seats-1
				}
			}
			m.UserName = scim.UserFromResource(u.New).UserName
			return nil
		},
		BeforeDelete: func(ctx context.Context, res *scim.Resource) error {
			a.mu.Lock()
			defer a.mu.Unlock()
			if m := a.users[res.ID]; m != nil && m.Owner && m.Active && a.activeOwners() == 1 {
				return &scim.Error{Status: http.StatusConflict, Detail: m.UserName + " is the company's only owner and cannot be deleted"}
			}
			return nil
		},
		AfterDelete: func(ctx context.Context, res *scim.Resource) error {
			a.mu.Lock()
			defer a.mu.Unlock()
			if m := a.users[res.ID]; m != nil && m.Licensed {
				a.seats++
			}
			delete(a.users, res.ID)
			return nil
		},
	}
}

// activeOwners counts the active owners. The caller holds a.mu.
func (a *app) activeOwners() int {
	n := 0
	for _, m := range a.users {
		if m.Owner && m.Active {
			n++
		}
	}
	return n
}

func (a *app) listUsers(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]any{"freeSeats": a.seats, "users": a.users}
	writeJSON(w, http.StatusOK, out)
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
	if err := a.tokens.Revoke(r.Context(), r.PathValue("id")); err != nil {
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
