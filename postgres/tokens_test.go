package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/storetest"
)

func TestTokenStore(t *testing.T) {
	pool := testPool(t)
	storetest.RunTokenStore(t, func(t *testing.T) scim.TokenStore {
		return newStore(t, pool)
	})
}

// TestTokensIssueRoundTrip issues a token through scim.Tokens, whose
// clock has nanoseconds: the store keeps microseconds, and authenticates
// with the stored token.
func TestTokensIssueRoundTrip(t *testing.T) {
	pool := testPool(t)
	s := newStore(t, pool)
	ctx := context.Background()
	tokens := scim.NewTokens(s)
	p := scim.Principal{ID: "okta", Tenant: "acme", UserID: "u-1"}
	_, info, err := tokens.Issue(ctx, p, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.TokenByDigest(ctx, info.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != info.ID || got.Principal != p ||
		!got.CreatedAt.Equal(info.CreatedAt.Truncate(time.Microsecond)) || !got.ExpiresAt.Equal(info.ExpiresAt.Truncate(time.Microsecond)) {
		t.Errorf("the stored token must be the issued one to the microsecond: issued %+v, stored %+v", info, got)
	}
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("stored times must be read in UTC; got %v", got.CreatedAt.Location())
	}
}
