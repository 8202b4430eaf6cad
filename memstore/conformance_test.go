package memstore_test

import (
	"testing"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
	"github.com/scimkit/scim/storetest"
)

// TestConformance runs the Store conformance kit against the memory store.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) scim.Store { return memstore.New() },
		storetest.WithRetention(func(t *testing.T, r scim.Retention) scim.Store {
			return memstore.New(memstore.WithChangeRetention(r))
		}))
}

// TestTokenStoreConformance runs the token store kit against the memory
// token store.
func TestTokenStoreConformance(t *testing.T) {
	storetest.RunTokenStore(t, func(t *testing.T) scim.TokenStore { return memstore.NewTokenStore() })
}
