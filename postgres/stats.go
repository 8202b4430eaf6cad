package postgres

import (
	"context"
	"strings"
	"sync/atomic"
	"time"
)

// Why the store analyzes its own tables.
//
// PostgreSQL plans every lookup by primary key, and the foreign-key
// checks of every insert into unique_keys and members, from the tables'
// statistics. A table never analyzed has none, and then the planner
// takes any index that starts with (tenant, type) to be as good as the
// primary key: each lookup and check reads every row of the tenant's
// type, and creates slow down as the directory grows (here 3,500 a
// second at first, under 1,000 at 16,000 Users). Autovacuum analyzes a
// new table within a minute or so of its first rows; a server without
// it never does. So after firstLook writes, and each time the count
// doubles after that, until each of its tables holds statistics, the
// store looks for one that holds rows but has no statistics and analyzes
// it, once per table and process. A look reads the catalog (some
// milliseconds), so looks grow rare. Statistics taken once suffice: they
// tell the planner how few tenants and types there are, whatever the
// table's size later.

// firstLook is the number of writes before the first look.
const firstLook = 512

// stats is the state of a Store's looks for tables without statistics.
type stats struct {
	writes atomic.Uint64
	done   atomic.Bool // every table has statistics, or was analyzed once
	look   rerun
	tried  map[string]bool // touched only by the look's run, one at a time
}

func newStats() stats { return stats{tried: map[string]bool{}} }

// wrote counts a committed write and, at firstLook and each power of two
// after it, has the store look for tables without statistics in the
// background.
func (s *Store) wrote() {
	if s.stats.done.Load() {
		return
	}
	if n := s.stats.writes.Add(1); n < firstLook || n&(n-1) != 0 {
		return
	}
	s.stats.look.ask(&s.background, s.analyzeInBackground)
}

// analyzeInBackground is the background look's run.
func (s *Store) analyzeInBackground() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.analyzeUnplanned(ctx); err != nil {
		s.logger.WarnContext(ctx, "postgres: analyzing tables without planner statistics failed", "err", err)
	}
}

// analyzeUnplanned analyzes the tables whose plans depend on statistics
// (those of resources and memberships) that hold rows
// but no statistics and were not analyzed before. Without the privilege
// (the table's owner, or MAINTAIN) PostgreSQL skips a table with a
// warning, and so does the store: it does not ask again.
func (s *Store) analyzeUnplanned(ctx context.Context) error {
	// The change feed's statements set their plans themselves (feedPlans).
	plannedTables := []string{"resources", "unique_keys", "members"}
	rows, err := s.pool.Query(ctx, `SELECT t, EXISTS (SELECT 1 FROM pg_stats WHERE schemaname = $1 AND tablename = t)
		FROM unnest($2::text[]) AS t`, s.schemaName, plannedTables)
	if err != nil {
		return wrap(ctx, "look for tables without statistics", err)
	}
	var todo []string
	for rows.Next() {
		var (
			table   string
			planned bool
		)
		if err := rows.Scan(&table, &planned); err != nil {
			rows.Close()
			return wrap(ctx, "look for tables without statistics", err)
		}
		if !planned && !s.stats.tried[table] {
			todo = append(todo, table)
		}
	}
	if err := rows.Err(); err != nil {
		return wrap(ctx, "look for tables without statistics", err)
	}
	var analyzed []string
	for _, table := range todo {
		var empty bool
		if err := s.pool.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM `+s.t(table)+`)`).Scan(&empty); err != nil {
			return wrap(ctx, "look for tables without statistics", err)
		}
		if empty {
			continue // analyzing it would give no statistics
		}
		if _, err := s.pool.Exec(ctx, `ANALYZE `+s.t(table)); err != nil {
			return wrap(ctx, "analyze "+table, err)
		}
		s.stats.tried[table] = true
		analyzed = append(analyzed, table)
	}
	if len(analyzed) > 0 {
		s.logger.InfoContext(ctx, "postgres: analyzed tables that had no planner statistics", "schema", s.schemaName, "tables", strings.Join(analyzed, ", "))
	}
	if len(todo) == len(analyzed) {
		s.stats.done.Store(true)
	}
	return nil
}
