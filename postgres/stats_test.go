package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
)

// TestStatisticsForNewTables writes a directory into new tables, on a
// server whose autovacuum need not run, and checks that the store gave
// the planner statistics: lookups by id and the foreign-key checks of
// every key and member insert then use the primary key, not an index of
// the tenant's whole type.
func TestStatisticsForNewTables(t *testing.T) {
	pool := internalPool(t)
	schema := internalSchema(t, pool, "scimstats_")
	ctx := context.Background()
	s, err := New(ctx, pool, WithSchema(schema))
	require.NoError(t, err)

	user := func(i int) *scim.Resource {
		id := fmt.Sprintf("u%d", i)
		return &scim.Resource{Type: "User", ID: id, Attributes: map[string]any{"userName": id},
			Unique: []scim.UniqueKey{{Attribute: "userName", Value: id}}, Meta: scim.Meta{Created: time.Now(), LastModified: time.Now()}}
	}
	// A Group before the store's first look, so that every table holds
	// rows by then.
	var members []any
	for i := range 100 {
		_, err := s.Create(ctx, user(i))
		require.NoError(t, err)
		members = append(members, map[string]any{"value": fmt.Sprintf("u%d", i), "type": "User"})
	}
	_, err = s.Create(ctx, &scim.Resource{Type: "Group", ID: "g", Attributes: map[string]any{"displayName": "g", "members": members},
		Meta: scim.Meta{Created: time.Now(), LastModified: time.Now()}})
	require.NoError(t, err)
	for i := 100; i < firstLook-1; i++ {
		_, err := s.Create(ctx, user(i))
		require.NoError(t, err)
	}
	s.Close() // waits for the look the last write asked for
	require.True(t, s.stats.done.Load(), "every table holds rows: the store is done looking")

	for _, table := range []string{"resources", "unique_keys", "members"} {
		var planned bool
		require.NoError(t, pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stats WHERE schemaname = $1 AND tablename = $2)`,
			schema, table).Scan(&planned))
		require.True(t, planned, "%s has statistics", table)
	}
	// The statement PostgreSQL runs for each foreign-key check on
	// resources, and the store's own lookup.
	expectIndex(t, pool, "foreign-key check", `SELECT 1 FROM ONLY `+s.t("resources")+` x WHERE tenant = $1 AND type = $2 AND id = $3 FOR KEY SHARE OF x`,
		[]any{"", "User", "u7"}, "resources_pkey")
	_, getSQL := s.getSQL("User")
	expectIndex(t, pool, "Get User", getSQL, []any{"", "User", "u7"}, "resources_pkey")
}
