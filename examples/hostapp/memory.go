package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"

	"github.com/scimkit/scim"
)

// memAccounts is the app's table in memory, kept in step by the handler's
// hooks, in the process that writes: the simple form, for one process
// whose directory is in memory too (a restart loses both, and the feed
// with them, so there is nothing to recover).
type memAccounts struct {
	logger *slog.Logger

	mu    sync.Mutex
	users map[string]*member // by SCIM id
	seats int                // licences not in use
}

func newMemAccounts(seats int, logger *slog.Logger) *memAccounts {
	return &memAccounts{logger: logger, users: map[string]*member{}, seats: seats}
}

func (a *memAccounts) list(context.Context) (map[string]*member, int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]*member, len(a.users))
	for id, m := range maps.All(a.users) {
		c := *m
		out[id] = &c
	}
	return out, a.seats, nil
}

// add puts a user in the table, unless it is there. The caller holds a.mu.
func (a *memAccounts) add(u *scim.User) *member {
	if m := a.users[u.ID]; m != nil {
		return m
	}
	m := &member{UserName: u.UserName, Email: u.PrimaryEmail(), Active: u.IsActive()}
	m.Owner = len(a.users) == 0 // the company's first user owns it
	if m.Active && a.seats > 0 {
		m.Licensed, a.seats = true, a.seats-1
	}
	a.users[u.ID] = m
	return m
}

// activeOwners counts the active owners. The caller holds a.mu.
func (a *memAccounts) activeOwners() int {
	n := 0
	for _, m := range a.users {
		if m.Owner && m.Active {
			n++
		}
	}
	return n
}

func (a *memAccounts) hooks() scim.Hooks {
	return scim.Hooks{
		AfterCreate: func(ctx context.Context, res *scim.Resource) error {
			if res.Type != "User" {
				return nil
			}
			a.mu.Lock()
			defer a.mu.Unlock()
			a.add(scim.UserFromResource(res))
			return nil
		},
		BeforeUpdate: func(ctx context.Context, u *scim.Update) error {
			if !u.Deactivated() {
				return nil
			}
			a.mu.Lock()
			defer a.mu.Unlock()
			if m := a.users[u.Old.ID]; m != nil && m.Owner && a.activeOwners() == 1 {
				return ownerOnly(m.UserName, "deactivated")
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
				return ownerOnly(m.UserName, "deleted")
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

// invite returns the invite sender's Handle: an invite for each User
// created, once.
func (a *memAccounts) invite(store scim.Store) func(context.Context, scim.Change) error {
	return func(ctx context.Context, c scim.Change) error {
		if c.Op != scim.ChangeCreate || c.Type != "User" {
			return nil
		}
		res, err := store.Get(ctx, c.Type, c.ID)
		if errors.Is(err, scim.ErrNotFound) {
			return nil // deleted since
		}
		if err != nil {
			return err
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		// The feed may come before AfterCreate, which runs after the
		// store's commit: whichever comes first adds the account.
		m := a.add(scim.UserFromResource(res))
		if m.Invited {
			return nil
		}
		m.Invited = true
		a.logger.InfoContext(ctx, "invite sent", "userName", m.UserName, "email", m.Email, "licensed", m.Licensed)
		return nil
	}
}
