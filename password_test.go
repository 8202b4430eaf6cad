package scim_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// storedPassword reads what the store holds as a User's password.
func storedPassword(t *testing.T, store scim.Store, id string) any {
	t.Helper()
	res, err := store.Get(context.Background(), "User", id)
	require.NoError(t, err)
	return res.Attributes["password"]
}

func TestPasswordsAreHashed(t *testing.T) {
	store := memstore.New()
	var seen []any
	s := newServerWithStore(t, store, scim.WithHooks(scim.Hooks{
		BeforeCreate: func(_ context.Context, r *scim.Resource) error {
			seen = append(seen, r.Attributes["password"])
			return nil
		},
	}))
	resp := s.do(http.MethodPost, "/Users", user("a", map[string]any{"password": "hunter2"}))
	require.Equal(t, http.StatusCreated, resp.status, resp.raw)
	assert.NotContains(t, resp.body, "password", "never returned")
	id := resp.body["id"].(string)

	hash, ok := storedPassword(t, store, id).(string)
	require.True(t, ok)
	assert.True(t, strings.HasPrefix(hash, "$argon2id$v=19$"), hash)
	assert.NotContains(t, hash, "hunter2")
	assert.Equal(t, []any{hash}, seen, "hooks see the hash, never the plaintext")
	ok, err := scim.VerifyPassword(hash, "hunter2")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = scim.VerifyPassword(hash, "hunter3")
	require.NoError(t, err)
	assert.False(t, ok)

	// A PATCH of something else keeps the stored hash as it is.
	require.Equal(t, http.StatusNoContent, s.do(http.MethodPatch, "/Users/"+id, patchJSON(`{"op":"replace","path":"title","value":"x"}`)).status)
	assert.Equal(t, hash, storedPassword(t, store, id))
	// A PATCH or PUT that sets a password hashes the new one.
	for _, write := range []func(pw string) response{
		func(pw string) response {
			return s.do(http.MethodPatch, "/Users/"+id, patchJSON(`{"op":"replace","path":"password","value":"`+pw+`"}`))
		},
		func(pw string) response {
			return s.do(http.MethodPatch, "/Users/"+id, patchJSON(`{"op":"replace","value":{"password":"`+pw+`"}}`))
		},
		func(pw string) response {
			return s.do(http.MethodPut, "/Users/"+id, user("a", map[string]any{"password": pw}))
		},
	} {
		resp := write("correct horse")
		require.Less(t, resp.status, 300, resp.raw)
		newHash := storedPassword(t, store, id).(string)
		assert.NotEqual(t, hash, newHash)
		ok, err := scim.VerifyPassword(newHash, "correct horse")
		require.NoError(t, err)
		assert.True(t, ok)
		hash = newHash
	}

	_, err = scim.VerifyPassword("hunter2", "hunter2")
	assert.ErrorIs(t, err, scim.ErrPasswordHash)
	_, err = scim.VerifyPassword("$argon2id$v=19$m=99999999,t=1,p=1$c2FsdA$a2V5", "x")
	assert.ErrorIs(t, err, scim.ErrPasswordHash, "a hash asking for more memory than allowed")
}

func TestPasswordOptions(t *testing.T) {
	t.Run("WithoutPasswords", func(t *testing.T) {
		store := memstore.New()
		s := newServerWithStore(t, store, scim.WithoutPasswords())
		id := s.create("/Users", user("a", map[string]any{"password": "hunter2"}))
		assert.Nil(t, storedPassword(t, store, id))
		spc := s.do(http.MethodGet, "/ServiceProviderConfig", nil).body
		assert.Equal(t, map[string]any{"supported": false}, spc["changePassword"])
	})
	t.Run("own hasher", func(t *testing.T) {
		store := memstore.New()
		s := newServerWithStore(t, store, scim.WithPasswordHasher(scim.PasswordHasherFunc(func(p string) (string, error) {
			return "host:" + strings.ToUpper(p), nil
		})))
		id := s.create("/Users", user("a", map[string]any{"password": "hunter2"}))
		assert.Equal(t, "host:HUNTER2", storedPassword(t, store, id))
		spc := s.do(http.MethodGet, "/ServiceProviderConfig", nil).body
		assert.Equal(t, map[string]any{"supported": true}, spc["changePassword"])
	})
	t.Run("nil hasher", func(t *testing.T) {
		_, err := scim.New(memstore.New(), scim.NewBearerTokens(), scim.WithPasswordHasher(nil))
		assert.Error(t, err)
	})
}
