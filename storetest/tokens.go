package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/scimkit/scim"
)

// RunTokenStore checks a scim.TokenStore against its contract, each check
// as a subtest with a new store from newStore: tokens found by digest and
// only by theirs, listed per tenant oldest first, gone once deleted,
// a taken id refused, concurrent saves kept, a done context honoured;
// names and last-use times kept, deletes and touches scoped by tenant
// (another tenant's token id is scim.ErrTokenNotFound and that token
// stays), and a last use that never moves back.
func RunTokenStore(t *testing.T, newStore func(t *testing.T) scim.TokenStore) {
	t.Helper()
	for _, c := range tokenChecks {
		t.Run(c.name, func(t *testing.T) { c.run(t, newStore(t)) })
	}
}

var tokenChecks = []struct {
	name string
	run  func(t testing.TB, s scim.TokenStore)
}{
	{"ByDigest", checkTokenByDigest},
	{"ListPerTenant", checkTokenList},
	{"Delete", checkTokenDelete},
	{"IDTaken", checkTokenIDTaken},
	{"ConcurrentSaves", checkTokenConcurrent},
	{"Context", checkTokenContext},
	{"NameAndLastUseKept", checkTokenNameKept},
	{"DeleteScopedByTenant", checkTokenDeleteTenant},
	{"TouchRecordsLastUse", checkTokenTouch},
	{"TouchScopedByTenant", checkTokenTouchTenant},
}

// token is a TokenInfo for secret, issued at t0 plus n seconds.
func token(id, secret, tenant string, n int) scim.TokenInfo {
	return scim.TokenInfo{
		ID:        id,
		Digest:    sha256.Sum256([]byte(secret)),
		Principal: scim.Principal{ID: "name-" + id, Tenant: tenant, ReadOnly: n%2 == 1},
		CreatedAt: t0.Add(time.Duration(n) * time.Second),
		ExpiresAt: t0.Add(time.Duration(n) * time.Hour),
	}
}

func mustSave(t testing.TB, s scim.TokenStore, ti scim.TokenInfo) {
	t.Helper()
	if err := s.SaveToken(context.Background(), ti); err != nil {
		t.Fatalf("SaveToken of a new token %q must succeed; the store returned %s", ti.ID, errText(err))
	}
}

func checkTokenByDigest(t testing.TB, s scim.TokenStore) {
	ctx := context.Background()
	want := token("tok-1", "secret-1", "acme", 1)
	mustSave(t, s, want)
	mustSave(t, s, token("tok-2", "secret-2", "acme", 2))
	got, err := s.TokenByDigest(ctx, want.Digest)
	if err != nil {
		t.Fatalf("TokenByDigest of a saved token must find it; the store returned %s", errText(err))
	}
	if got.ID != want.ID || got.Digest != want.Digest || got.Principal != want.Principal ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("TokenByDigest must return the token as saved: %+v; the store returned %+v", want, got)
	}
	if _, err := s.TokenByDigest(ctx, sha256.Sum256([]byte("secret-3"))); !errors.Is(err, scim.ErrTokenNotFound) {
		t.Errorf("TokenByDigest of a digest no token has must fail with scim.ErrTokenNotFound; the store returned %s", errText(err))
	}
	never := token("tok-3", "secret-3", "acme", 0)
	never.ExpiresAt = time.Time{}
	mustSave(t, s, never)
	if got, err := s.TokenByDigest(ctx, never.Digest); err != nil || !got.ExpiresAt.IsZero() {
		t.Errorf("a token that never expires has a zero ExpiresAt after a round trip; the store returned %v and error %s", got.ExpiresAt, errText(err))
	}
}

func checkTokenList(t testing.TB, s scim.TokenStore) {
	for i, tenant := range []string{"acme", "globex", "acme", "", "acme"} {
		mustSave(t, s, token(fmt.Sprintf("tok-%d", 9-i), fmt.Sprintf("secret-%d", i), tenant, i))
	}
	for tenant, want := range map[string][]string{"acme": {"tok-9", "tok-7", "tok-5"}, "globex": {"tok-8"}, "": {"tok-6"}, "other": nil} {
		list, err := s.ListTokens(context.Background(), tenant)
		if err != nil {
			t.Fatalf("ListTokens must succeed; the store returned %s", errText(err))
		}
		var got []string
		for _, ti := range list {
			got = append(got, ti.ID)
		}
		if !equalStrings(got, want) {
			t.Errorf("ListTokens(%q) must return the tenant's tokens, oldest first: %q; the store returned %q", tenant, want, got)
		}
	}
}

func checkTokenDelete(t testing.TB, s scim.TokenStore) {
	ctx := context.Background()
	a, b := token("tok-a", "secret-a", "acme", 1), token("tok-b", "secret-b", "acme", 2)
	mustSave(t, s, a)
	mustSave(t, s, b)
	if err := s.DeleteToken(ctx, "acme", a.ID); err != nil {
		t.Fatalf("DeleteToken of a saved token must succeed; the store returned %s", errText(err))
	}
	if _, err := s.TokenByDigest(ctx, a.Digest); !errors.Is(err, scim.ErrTokenNotFound) {
		t.Errorf("a deleted token must not be found: TokenByDigest must fail with scim.ErrTokenNotFound; the store returned %s", errText(err))
	}
	if _, err := s.TokenByDigest(ctx, b.Digest); err != nil {
		t.Errorf("deleting one token must leave the others; TokenByDigest of another returned %s", errText(err))
	}
	if err := s.DeleteToken(ctx, "acme", a.ID); !errors.Is(err, scim.ErrTokenNotFound) {
		t.Errorf("DeleteToken of a token that is gone must fail with scim.ErrTokenNotFound; the store returned %s", errText(err))
	}
}

func checkTokenIDTaken(t testing.TB, s scim.TokenStore) {
	ctx := context.Background()
	mustSave(t, s, token("tok-x", "secret-x", "acme", 1))
	if err := s.SaveToken(ctx, token("tok-x", "secret-y", "acme", 2)); err == nil {
		t.Errorf("SaveToken of a token whose id is taken must fail")
	}
	if _, err := s.TokenByDigest(ctx, sha256.Sum256([]byte("secret-y"))); !errors.Is(err, scim.ErrTokenNotFound) {
		t.Errorf("a refused SaveToken must store nothing; TokenByDigest returned %s", errText(err))
	}
}

func checkTokenConcurrent(t testing.TB, s scim.TokenStore) {
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- s.SaveToken(context.Background(), token(fmt.Sprintf("c-%02d", i), fmt.Sprintf("cs-%d", i), "acme", i))
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent SaveToken of distinct tokens must all succeed; one returned %s", errText(err))
		}
	}
	list, err := s.ListTokens(context.Background(), "acme")
	if err != nil || len(list) != n {
		t.Errorf("after %d concurrent saves ListTokens must return %d tokens; the store returned %d and %s", n, n, len(list), errText(err))
	}
}

func checkTokenContext(t testing.TB, s scim.TokenStore) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ti := token("tok-ctx", "secret-ctx", "acme", 1)
	if err := s.SaveToken(ctx, ti); !errors.Is(err, context.Canceled) {
		t.Errorf("SaveToken with a cancelled context must fail with its error; the store returned %s", errText(err))
	}
	if _, err := s.TokenByDigest(context.Background(), ti.Digest); !errors.Is(err, scim.ErrTokenNotFound) {
		t.Errorf("a SaveToken that returned the context's error must not have stored the token; TokenByDigest returned %s", errText(err))
	}
	if _, err := s.TokenByDigest(ctx, ti.Digest); !errors.Is(err, context.Canceled) {
		t.Errorf("TokenByDigest with a cancelled context must fail with its error; the store returned %s", errText(err))
	}
}

// lastUse returns the LastUsedAt of the token with digest, by TokenByDigest
// and by ListTokens, failing the check when the two disagree.
func lastUse(t testing.TB, s scim.TokenStore, ti scim.TokenInfo) time.Time {
	t.Helper()
	got, err := s.TokenByDigest(context.Background(), ti.Digest)
	if err != nil {
		t.Fatalf("TokenByDigest of a saved token %q must find it; the store returned %s", ti.ID, errText(err))
	}
	list, err := s.ListTokens(context.Background(), ti.Principal.Tenant)
	if err != nil {
		t.Fatalf("ListTokens must succeed; the store returned %s", errText(err))
	}
	for _, l := range list {
		if l.ID == ti.ID && !l.LastUsedAt.Equal(got.LastUsedAt) {
			t.Errorf("ListTokens and TokenByDigest must return the same LastUsedAt of token %q; they returned %v and %v", ti.ID, l.LastUsedAt, got.LastUsedAt)
		}
	}
	return got.LastUsedAt
}

func checkTokenNameKept(t testing.TB, s scim.TokenStore) {
	named := token("tok-n", "secret-n", "acme", 1)
	named.Name = "Entra ID, production — ünïcode"
	named.LastUsedAt = t0.Add(90 * time.Minute)
	mustSave(t, s, named)
	plain := token("tok-p", "secret-p", "acme", 2)
	mustSave(t, s, plain)
	for _, want := range []scim.TokenInfo{named, plain} {
		got, err := s.TokenByDigest(context.Background(), want.Digest)
		if err != nil {
			t.Fatalf("TokenByDigest of a saved token must find it; the store returned %s", errText(err))
		}
		if got.Name != want.Name || !got.LastUsedAt.Equal(want.LastUsedAt) {
			t.Errorf("TokenByDigest must return the Name and LastUsedAt saved (%q, %v); the store returned %q, %v", want.Name, want.LastUsedAt, got.Name, got.LastUsedAt)
		}
	}
	list, err := s.ListTokens(context.Background(), "acme")
	if err != nil || len(list) != 2 || list[0].Name != named.Name || !list[0].LastUsedAt.Equal(named.LastUsedAt) || list[1].Name != "" || !list[1].LastUsedAt.IsZero() {
		t.Errorf("ListTokens must return each token's Name and LastUsedAt as saved: [%q %v] [\"\" zero]; the store returned %+v and %s", named.Name, named.LastUsedAt, list, errText(err))
	}
}

func checkTokenDeleteTenant(t testing.TB, s scim.TokenStore) {
	ctx := context.Background()
	acme, globex := token("tok-acme", "secret-acme", "acme", 1), token("tok-globex", "secret-globex", "globex", 2)
	mustSave(t, s, acme)
	mustSave(t, s, globex)
	if err := s.DeleteToken(ctx, "globex", acme.ID); !errors.Is(err, scim.ErrTokenNotFound) {
		t.Errorf("DeleteToken of another tenant's token id must fail with scim.ErrTokenNotFound (an admin route of one organisation must not reach another's token); the store returned %s", errText(err))
	}
	if err := s.DeleteToken(ctx, "", acme.ID); !errors.Is(err, scim.ErrTokenNotFound) {
		t.Errorf("DeleteToken for the tenant \"\" of a token of tenant acme must fail with scim.ErrTokenNotFound; the store returned %s", errText(err))
	}
	if _, err := s.TokenByDigest(ctx, acme.Digest); err != nil {
		t.Errorf("a DeleteToken for another tenant must leave the token; TokenByDigest returned %s", errText(err))
	}
	if err := s.DeleteToken(ctx, "acme", acme.ID); err != nil {
		t.Errorf("DeleteToken by the token's own tenant must succeed; the store returned %s", errText(err))
	}
	if _, err := s.TokenByDigest(ctx, globex.Digest); err != nil {
		t.Errorf("deleting one tenant's token must leave another tenant's; TokenByDigest returned %s", errText(err))
	}
}

func checkTokenTouch(t testing.TB, s scim.TokenStore) {
	ctx := context.Background()
	ti := token("tok-t", "secret-t", "acme", 1)
	other := token("tok-o", "secret-o", "acme", 2)
	mustSave(t, s, ti)
	mustSave(t, s, other)
	if got := lastUse(t, s, ti); !got.IsZero() {
		t.Errorf("a token never touched has a zero LastUsedAt; the store returned %v", got)
	}
	first, later := t0.Add(2*time.Hour+123456*time.Microsecond), t0.Add(3*time.Hour)
	for _, step := range []struct {
		at   time.Time
		want time.Time
		why  string
	}{
		{first, first, "after the first TouchToken"},
		{t0.Add(time.Hour), first, "after a TouchToken with an earlier time (a replica that raced): the later time stays"},
		{later, later, "after a TouchToken with a later time"},
	} {
		if err := s.TouchToken(ctx, "acme", ti.ID, step.at); err != nil {
			t.Fatalf("TouchToken of a saved token must succeed; the store returned %s", errText(err))
		}
		if got := lastUse(t, s, ti); !got.Equal(step.want) {
			t.Errorf("LastUsedAt must be %s %s; the store returned %s", step.want.Format(time.RFC3339Nano), step.why, got.Format(time.RFC3339Nano))
		}
	}
	if got := lastUse(t, s, other); !got.IsZero() {
		t.Errorf("touching one token must leave the others; another token's LastUsedAt is %v", got)
	}
	if err := s.TouchToken(ctx, "acme", "no-such-token", later); !errors.Is(err, scim.ErrTokenNotFound) {
		t.Errorf("TouchToken of an unknown id must fail with scim.ErrTokenNotFound; the store returned %s", errText(err))
	}
}

func checkTokenTouchTenant(t testing.TB, s scim.TokenStore) {
	ti := token("tok-tt", "secret-tt", "acme", 1)
	mustSave(t, s, ti)
	if err := s.TouchToken(context.Background(), "globex", ti.ID, t0.Add(time.Hour)); !errors.Is(err, scim.ErrTokenNotFound) {
		t.Errorf("TouchToken of another tenant's token id must fail with scim.ErrTokenNotFound; the store returned %s", errText(err))
	}
	if got := lastUse(t, s, ti); !got.IsZero() {
		t.Errorf("a TouchToken for another tenant must leave the token's LastUsedAt; it is %v", got)
	}
}
