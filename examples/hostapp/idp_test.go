package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim/idptest"
)

// TestHostAppUnderIdentityProviders plays Entra ID's and Okta's
// provisioning cycles against the app, with its hooks, on memory and on
// PostgreSQL, and checks the app's own state after every step: an account
// for each user the identity provider holds and none for those it deleted,
// an invite for each, seats that add up and go only to active users, and
// the company's owner never deactivated or deleted — the refusal declared
// to the kit, which checks that the identity provider shows the app's
// detail.
func TestHostAppUnderIdentityProviders(t *testing.T) {
	const seats, users = 4, 5
	backends := []struct {
		name string
		cfg  func(t *testing.T) config
	}{
		{"memory", func(t *testing.T) config { return config{} }},
		{"postgres", func(t *testing.T) config {
			pool, _, schema := pgSchema(t)
			return config{pool: pool, schema: schema, lease: time.Second}
		}},
	}
	cycles := []struct {
		cycle idptest.Cycle
		play  func(t testing.TB, h http.Handler, opts idptest.Options) *idptest.Report
		// owner is the user the app makes its owner, the first it sees:
		// Entra ID's first provisioned user; in Okta's cycle, the app's
		// own admin, who signed up before Okta was connected.
		owner int
	}{
		{idptest.CycleEntra, idptest.Entra, 0},
		{idptest.CycleOkta, idptest.Okta, -1},
	}
	for _, b := range backends {
		for _, c := range cycles {
			t.Run(b.name+"/"+string(c.cycle), func(t *testing.T) {
				cfg := b.cfg(t)
				cfg.admin, cfg.seats, cfg.logger = "admin-secret", seats, slog.New(slog.NewTextHandler(io.Discard, nil))
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				h, err := newApp(ctx, cfg)
				require.NoError(t, err)
				token := issueToken(t, h)

				check := &accountsCheck{h: h, seats: seats, owner: c.owner, known: map[string]idptest.User{}}
				ownerRefusal := func(a idptest.Action, what string) idptest.Refusal {
					return idptest.Refusal{Action: a, User: c.owner, Status: http.StatusConflict, Detail: "only owner and cannot be " + what}
				}
				r := c.play(t, h, idptest.Options{Token: token, Users: users,
					Refusals:  []idptest.Refusal{ownerRefusal(idptest.Deactivate, "deactivated"), ownerRefusal(idptest.Delete, "deleted")},
					AfterStep: check.step})
				if r.Err() != nil {
					return // the kit has told t
				}
				if c.cycle == idptest.CycleEntra {
					refused := 0
					for _, s := range r.Steps {
						refused += len(s.Refused)
					}
					assert.Equal(t, 3, refused, "Entra ID disables, soft-deletes and deletes the owner: each refused")
				}

				// The kit's cleanup deleted everything but the owner, whose
				// deletion the app refuses.
				require.Len(t, r.Cleanup.Left, 1, "%v", r.Cleanup.Left)
				assert.Contains(t, r.Cleanup.Left[0], "refused, as declared")
				accounts, free, err := check.table()
				require.NoError(t, err)
				require.Len(t, accounts, 1, "only the owner's account is left")
				for _, m := range accounts {
					assert.True(t, m.Owner && m.Active && m.Licensed && m.Invited, "%+v", m)
				}
				assert.Equal(t, seats-1, free, "every seat but the owner's is free again")
			})
		}
	}
}

// issueToken issues an identity provider's token through the admin route.
func issueToken(t *testing.T, h http.Handler) string {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/admin/tokens?name=idp", nil)
	r.Header.Set("Authorization", "Bearer admin-secret")
	h.ServeHTTP(w, r)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	var issued struct{ Token string }
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &issued))
	return issued.Token
}

// accountsCheck compares the app's table with what the identity provider
// believes after each step of a cycle.
type accountsCheck struct {
	h       http.Handler
	seats   int
	owner   int                     // the index of the user the app makes owner
	ownerID string                  // its SCIM id, once created
	known   map[string]idptest.User // by id: every user the identity provider has provisioned
}

// table reads the app's own /users route: the accounts by SCIM id, and
// the free seats.
func (c *accountsCheck) table() (map[string]*member, int, error) {
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/users", nil))
	var out struct {
		FreeSeats int                `json:"freeSeats"`
		Users     map[string]*member `json:"users"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || w.Code != http.StatusOK {
		return nil, 0, fmt.Errorf("GET /users: %d %s", w.Code, w.Body)
	}
	return out.Users, out.FreeSeats, nil
}

// step is the kit's AfterStep: its error fails the step, named as the
// identity provider's log would name it.
func (c *accountsCheck) step(_ context.Context, s *idptest.Step) error {
	for _, u := range s.Users {
		c.known[u.ID] = u
		if u.Index == c.owner && c.ownerID == "" {
			c.ownerID = u.ID
		}
	}
	// Invites are sent by a consumer of the change feed, shortly after the
	// write; everything else commits with it.
	var problems []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		problems = c.problems()
		if len(problems) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("the app's own table does not follow the directory: %s", strings.Join(problems, "; "))
	}
	return nil
}

func (c *accountsCheck) problems() []string {
	var out []string
	accounts, free, err := c.table()
	if err != nil {
		return []string{err.Error()}
	}
	for id, u := range c.known {
		m := accounts[id]
		switch {
		case u.Deleted && m != nil:
			out = append(out, fmt.Sprintf("%s was deleted and still has an account", u.UserName))
		case u.Deleted:
		case m == nil:
			out = append(out, fmt.Sprintf("%s has no account", u.UserName))
		case !strings.EqualFold(m.UserName, u.UserName):
			out = append(out, fmt.Sprintf("%s's account has userName %q", u.UserName, m.UserName))
		case m.Active != u.Active:
			out = append(out, fmt.Sprintf("%s is active=%v in the directory and %v in the app", u.UserName, u.Active, m.Active))
		case !m.Invited:
			out = append(out, fmt.Sprintf("%s was not invited", u.UserName))
		}
	}
	licensed := 0
	for id, m := range accounts {
		if _, ok := c.known[id]; !ok {
			out = append(out, fmt.Sprintf("%s has an account the identity provider never provisioned", m.UserName))
		}
		if m.Licensed {
			licensed++
			if !m.Active {
				out = append(out, fmt.Sprintf("%s holds a seat while deactivated", m.UserName))
			}
		}
		if m.Owner != (id == c.ownerID) {
			out = append(out, fmt.Sprintf("%s is owner=%v", m.UserName, m.Owner))
		}
	}
	if licensed+free != c.seats {
		out = append(out, fmt.Sprintf("%d seats in use and %d free of %d", licensed, free, c.seats))
	}
	if o := accounts[c.ownerID]; c.ownerID != "" && (o == nil || !o.Active) {
		out = append(out, "the owner is no longer an active user")
	}
	return out
}
