package scim_test

import (
	"context"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// TestAfterHookRunsAfterCommit: an after hook runs once the write is
// committed, the change feed's record with it. A process that dies in the
// hook loses the hook's effect but not the write or its change, which a
// feed consumer still receives: after hooks are at most once, the feed is
// at least once.
func TestAfterHookRunsAfterCommit(t *testing.T) {
	store := memstore.New()
	var (
		seen    bool
		inStore error
		changes []scim.Change
	)
	s := newServerWithStore(t, store, scim.WithHooks(scim.Hooks{
		AfterCreate: func(ctx context.Context, res *scim.Resource) error {
			seen = true
			_, inStore = store.Get(ctx, res.Type, res.ID)
			changes, _ = store.Changes(ctx, scim.ChangeQuery{})
			return nil
		},
	}))
	id := s.create("/Users", user("committed"))
	require.True(t, seen, "AfterCreate ran")
	require.NoError(t, inStore, "the store holds the User when AfterCreate runs")
	require.Len(t, changes, 1, "the feed holds the create when AfterCreate runs")
	assert.Equal(t, scim.ChangeCreate, changes[0].Op)
	assert.Equal(t, id, changes[0].ID)

	// The identity provider's retry of the request runs no hook.
	seen = false
	requireError(t, s.do(http.MethodPost, "/Users", user("committed")), http.StatusConflict, "uniqueness")
	assert.False(t, seen, "a retried create that finds the User runs no after hook")
}

// TestDocsPromiseAtMostOnceAfterHooks: where the docs describe after
// hooks, they promise at most once, and no sentence promises an after hook
// exactly once (a crash between the commit and the hook runs it zero
// times).
func TestDocsPromiseAtMostOnceAfterHooks(t *testing.T) {
	sentences := regexp.MustCompile(`[.;:]\s`)
	for _, f := range []string{"README.md", "hooks.go"} {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		text := strings.Join(strings.Fields(strings.NewReplacer("//", " ", "*", "", "`", "").Replace(string(b))), " ")
		assert.Contains(t, text, "at most once", "%s says what is true of after hooks", f)
		for _, s := range sentences.Split(text, -1) {
			l := strings.ToLower(s)
			if strings.Contains(l, "exactly once") && strings.Contains(l, "after hook") {
				t.Errorf("%s promises after hooks exactly once: %q", f, s)
			}
		}
	}
}
