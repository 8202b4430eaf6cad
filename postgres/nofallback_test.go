package postgres_test

import (
	"strings"
	"testing"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/postgres"
	"github.com/scimkit/scim/storetest"
)

// TestConformanceInSQL runs the kit's query, sort, paging and keyset checks with a
// fallback limit of one candidate: a query SQL did not answer alone fails
// with tooMany, so passing shows the kit's filters and sorts run in SQL.
func TestConformanceInSQL(t *testing.T) {
	pool := testPool(t)
	storetest.Run(t, func(t *testing.T) scim.Store {
		switch name := t.Name(); {
		case strings.Contains(name, "/Query/"), strings.Contains(name, "/Sort/"), strings.Contains(name, "/Paging/"), strings.Contains(name, "/Keyset/"):
		default:
			t.Skip("only the query, sort, paging and keyset checks")
		}
		return newStore(t, pool, postgres.WithFallbackLimit(1))
	})
}
