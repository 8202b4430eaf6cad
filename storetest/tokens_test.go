package storetest

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// runTokenKit runs every token check against a new store from newStore
// each, recording instead of failing, and returns the names of those that
// failed with their messages.
func runTokenKit(t testing.TB, newStore func() scim.TokenStore) map[string][]string {
	failed := map[string][]string{}
	for _, c := range tokenChecks {
		r := &recorder{TB: t, name: c.name}
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer func() {
				if p := recover(); p != nil {
					r.Errorf("the check panicked: %v", p)
				}
			}()
			c.run(r, newStore())
		}()
		<-done
		for i := len(r.cleanups) - 1; i >= 0; i-- {
			r.cleanups[i]()
		}
		if r.failed {
			failed[c.name] = r.msgs
		}
	}
	return failed
}

// Broken token stores, each wrapping memstore's with one bug.
type (
	// tokenDeleteAnyTenant deletes a token whatever tenant asks.
	tokenDeleteAnyTenant struct{ *memstore.TokenStore }
	// tokenDropsName forgets the Name and LastUsedAt a token was saved with.
	tokenDropsName struct{ *memstore.TokenStore }
	// tokenTouchAnyTenant touches a token whatever tenant asks.
	tokenTouchAnyTenant struct{ *memstore.TokenStore }
	// tokenTouchMovesBack records the time it is given, even an earlier one.
	tokenTouchMovesBack struct{ *memstore.TokenStore }
	// tokenTouchIgnored records nothing.
	tokenTouchIgnored struct{ *memstore.TokenStore }
)

func (s tokenDeleteAnyTenant) DeleteToken(ctx context.Context, _, id string) error {
	ti, err := s.find(ctx, id)
	if err != nil {
		return err
	}
	return s.TokenStore.DeleteToken(ctx, ti.Principal.Tenant, id)
}

func (s tokenTouchAnyTenant) TouchToken(ctx context.Context, _, id string, at time.Time) error {
	ti, err := tokenDeleteAnyTenant(s).find(ctx, id)
	if err != nil {
		return err
	}
	return s.TokenStore.TouchToken(ctx, ti.Principal.Tenant, id, at)
}

// find looks a token up by id in every tenant the checks use.
func (s tokenDeleteAnyTenant) find(ctx context.Context, id string) (scim.TokenInfo, error) {
	for _, tenant := range []string{"", "acme", "globex"} {
		list, err := s.ListTokens(ctx, tenant)
		if err != nil {
			return scim.TokenInfo{}, err
		}
		for _, ti := range list {
			if ti.ID == id {
				return ti, nil
			}
		}
	}
	return scim.TokenInfo{}, scim.ErrTokenNotFound
}

func (s tokenDropsName) SaveToken(ctx context.Context, t scim.TokenInfo) error {
	t.Name, t.LastUsedAt = "", time.Time{}
	return s.TokenStore.SaveToken(ctx, t)
}

func (s tokenTouchMovesBack) TouchToken(ctx context.Context, tenant, id string, at time.Time) error {
	for _, ti := range must(s.ListTokens(ctx, tenant)) {
		if ti.ID == id {
			ti.LastUsedAt = at
			if err := s.TokenStore.DeleteToken(ctx, tenant, id); err != nil {
				return err
			}
			return s.TokenStore.SaveToken(ctx, ti)
		}
	}
	return scim.ErrTokenNotFound
}

func (tokenTouchIgnored) TouchToken(context.Context, string, string, time.Time) error { return nil }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestTokenKitCatchesBrokenStores: each new token check fails a store with
// the bug it is there for, and memstore's store fails none.
func TestTokenKitCatchesBrokenStores(t *testing.T) {
	for _, tc := range []struct {
		name string
		new  func(*memstore.TokenStore) scim.TokenStore
		want []string
	}{
		{"Correct", func(s *memstore.TokenStore) scim.TokenStore { return s }, nil},
		{"DeletesAnyTenantsToken", func(s *memstore.TokenStore) scim.TokenStore { return tokenDeleteAnyTenant{s} }, []string{"DeleteScopedByTenant"}},
		{"DropsNameAndLastUse", func(s *memstore.TokenStore) scim.TokenStore { return tokenDropsName{s} }, []string{"NameAndLastUseKept"}},
		{"TouchesAnyTenantsToken", func(s *memstore.TokenStore) scim.TokenStore { return tokenTouchAnyTenant{s} }, []string{"TouchScopedByTenant"}},
		{"TouchMovesBack", func(s *memstore.TokenStore) scim.TokenStore { return tokenTouchMovesBack{s} }, []string{"TouchRecordsLastUse"}},
		{"TouchRecordsNothing", func(s *memstore.TokenStore) scim.TokenStore { return tokenTouchIgnored{s} }, []string{"TouchRecordsLastUse"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failed := runTokenKit(t, func() scim.TokenStore { return tc.new(memstore.NewTokenStore()) })
			var got []string
			for name := range failed {
				got = append(got, name)
			}
			sort.Strings(got)
			for _, name := range tc.want {
				if _, ok := failed[name]; !ok {
					t.Errorf("the token kit must catch a store whose bug is %s with check %s; it passed. Checks that failed: %q", tc.name, name, got)
				} else {
					t.Logf("%s says: %s", name, firstLine(strings.Join(failed[name], "\n")))
				}
			}
			if tc.want == nil && len(got) > 0 {
				t.Errorf("memstore's TokenStore fails %q: %v", got, failed)
			}
		})
	}
}
