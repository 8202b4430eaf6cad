package scim_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// namedChange is what a membership hook saw of the Group.
type namedChange struct {
	Hook, Group, DisplayName, OldDisplayName string
	Cascade                                  bool
}

// noDisplayName is a MembershipPatcher that does not report the Group's
// displayName, as a store written before MembershipResult.DisplayName.
type noDisplayName struct{ *memstore.Store }

func (s noDisplayName) PatchMembers(ctx context.Context, typ, id string, c scim.MembershipChange, v string) (scim.MembershipResult, error) {
	res, err := s.Store.PatchMembers(ctx, typ, id, c, v)
	res.DisplayName = ""
	return res, err
}

// TestMembershipHooksNameTheGroup: BeforeMembers and AfterMembers carry
// the Group's displayName as stored, and the old one when the write renamed
// it, on every path: create, PUT, PATCH on the generic path and on the
// store's MembershipPatcher, the Group's delete and a member's delete.
func TestMembershipHooksNameTheGroup(t *testing.T) {
	for name, newStore := range map[string]func() scim.Store{
		"native":            func() scim.Store { return memstore.New() },
		"generic":           func() scim.Store { return plainStore{memstore.New()} },
		"native, unnamed":   func() scim.Store { return noDisplayName{memstore.New()} },
		"native, afterOnly": func() scim.Store { return memstore.New() },
	} {
		t.Run(name, func(t *testing.T) {
			var (
				mu  sync.Mutex
				got []namedChange
			)
			rec := func(hook string) func(context.Context, *scim.Membership) error {
				return func(_ context.Context, m *scim.Membership) error {
					mu.Lock()
					defer mu.Unlock()
					got = append(got, namedChange{hook, m.Group, m.DisplayName, m.OldDisplayName, m.Cascade})
					return nil
				}
			}
			take := func() []namedChange {
				mu.Lock()
				defer mu.Unlock()
				out := got
				got = nil
				return out
			}
			hooks := scim.Hooks{BeforeMembers: rec("Before"), AfterMembers: rec("After")}
			afterOnly := name == "native, afterOnly"
			if afterOnly {
				hooks.BeforeMembers = nil // the native path then reads nothing before the write
			}
			s := newServerWithStore(t, newStore(), scim.WithHooks(hooks))
			both := func(c namedChange) []namedChange {
				b, a := c, c
				b.Hook, a.Hook = "Before", "After"
				if afterOnly {
					return []namedChange{a}
				}
				return []namedChange{b, a}
			}
			u1, u2, u3 := s.create("/Users", user("u1")), s.create("/Users", user("u2")), s.create("/Users", user("u3"))

			// create
			g := s.create("/Groups", group("Admins", u1))
			assert.Equal(t, both(namedChange{Group: g, DisplayName: "Admins"}), take(), "create")

			// PUT that renames and changes members
			resp := s.do(http.MethodPut, "/Groups/"+g, group("Owners", u1, u2))
			require.Equal(t, http.StatusOK, resp.status, resp.raw)
			assert.Equal(t, both(namedChange{Group: g, DisplayName: "Owners", OldDisplayName: "Admins"}), take(), "PUT renaming")

			// PATCH on the generic path, renaming
			resp = s.do(http.MethodPatch, "/Groups/"+g, patchJSON(`{"op":"replace","path":"displayName","value":"Editors"}`,
				`{"op":"remove","path":"members[value eq \"`+u2+`\"]"}`))
			require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
			assert.Equal(t, both(namedChange{Group: g, DisplayName: "Editors", OldDisplayName: "Owners"}), take(), "PATCH renaming")

			// A rename alone changes no member.
			resp = s.do(http.MethodPatch, "/Groups/"+g, patchJSON(`{"op":"replace","path":"displayName","value":"Viewers"}`))
			require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
			assert.Empty(t, take(), "a rename alone runs no membership hook")

			// PATCH that only adds: the MembershipPatcher where there is one,
			// which must name the Group as renamed just before.
			resp = s.do(http.MethodPatch, "/Groups/"+g, patchJSON(`{"op":"add","path":"members","value":[{"value":"`+u3+`"}]}`))
			require.Equal(t, http.StatusNoContent, resp.status, resp.raw)
			assert.Equal(t, both(namedChange{Group: g, DisplayName: "Viewers"}), take(), "PATCH adding")

			// A member's delete, from every Group that held it.
			g2 := s.create("/Groups", group("Auditors", u3))
			take()
			require.Equal(t, http.StatusNoContent, s.do(http.MethodDelete, "/Users/"+u3, nil).status)
			assert.ElementsMatch(t, append(both(namedChange{Group: g, DisplayName: "Viewers", Cascade: true}),
				both(namedChange{Group: g2, DisplayName: "Auditors", Cascade: true})...), take(), "a member's delete")

			// The Group's delete.
			require.Equal(t, http.StatusNoContent, s.do(http.MethodDelete, "/Groups/"+g, nil).status)
			assert.Equal(t, both(namedChange{Group: g, DisplayName: "Viewers", Cascade: true}), take(), "the Group's delete")
		})
	}
}
