package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// migration is one step of the schema's history. Steps are applied in
// order, each in the transaction that records it, and never change once
// released: a new need is a new step.
type migration struct {
	version int
	// sql returns the statements, with schema (quoted) as the prefix of
	// every name the store owns.
	sql func(schema string) string
}

// migrations returns the schema's history; SchemaVersion is its last step.
func migrations() []migration {
	return []migration{
		{version: 1, sql: func(s string) string {
			return strings.ReplaceAll(`
CREATE TABLE S.resources (
	tenant        text NOT NULL,
	type          text NOT NULL,
	id            text NOT NULL,
	seq           bigint GENERATED ALWAYS AS IDENTITY,
	version       text NOT NULL,
	created       timestamptz NOT NULL,
	last_modified timestamptz NOT NULL,
	attrs         jsonb NOT NULL,
	folded        jsonb NOT NULL,
	times         jsonb,
	id_folded     text COLLATE "C" NOT NULL,
	user_name     text COLLATE "C",
	external_id   text COLLATE "C",
	display_name  text COLLATE "C",
	PRIMARY KEY (tenant, type, id)
);
CREATE UNIQUE INDEX resources_order ON S.resources (tenant, type, seq);
CREATE INDEX resources_id_folded ON S.resources (tenant, type, id_folded);
CREATE INDEX resources_user_name ON S.resources (tenant, type, user_name);
CREATE INDEX resources_external_id ON S.resources (tenant, type, external_id);
CREATE INDEX resources_display_name ON S.resources (tenant, type, display_name);

CREATE TABLE S.unique_keys (
	tenant    text NOT NULL,
	type      text NOT NULL,
	attribute text NOT NULL,
	value     text NOT NULL,
	id        text NOT NULL,
	PRIMARY KEY (tenant, type, attribute, value),
	FOREIGN KEY (tenant, type, id) REFERENCES S.resources (tenant, type, id) ON DELETE CASCADE
);
CREATE INDEX unique_keys_owner ON S.unique_keys (tenant, type, id);

CREATE TABLE S.members (
	tenant        text NOT NULL,
	group_type    text NOT NULL DEFAULT 'Group' CHECK (group_type = 'Group'),
	group_id      text NOT NULL,
	member_type   text NOT NULL,
	member_id     text NOT NULL,
	member_folded text COLLATE "C" NOT NULL,
	seq           bigint GENERATED ALWAYS AS IDENTITY,
	value         jsonb NOT NULL,
	folded        jsonb NOT NULL,
	PRIMARY KEY (tenant, group_id, member_id),
	FOREIGN KEY (tenant, group_type, group_id) REFERENCES S.resources (tenant, type, id) ON DELETE CASCADE,
	FOREIGN KEY (tenant, member_type, member_id) REFERENCES S.resources (tenant, type, id) ON DELETE CASCADE
);
CREATE INDEX members_member ON S.members (tenant, member_id, member_type);
CREATE INDEX members_member_folded ON S.members (tenant, member_folded);
`, "S.", s+".")
		}},
		{version: 2, sql: func(s string) string {
			// Bearer tokens (scim.TokenStore): digests only, found by
			// digest, listed per tenant oldest first.
			return strings.ReplaceAll(`
CREATE TABLE S.tokens (
	id         text PRIMARY KEY,
	digest     bytea NOT NULL UNIQUE,
	name       text NOT NULL,
	tenant     text NOT NULL,
	read_only  boolean NOT NULL,
	user_id    text NOT NULL,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NULL
);
CREATE INDEX tokens_tenant ON S.tokens (tenant, created_at, id);
`, "S.", s+".")
		}},
		{version: 3, sql: func(s string) string {
			// The change feed (scim.ChangeFeed, changes.go; consumers in
			// ledger.go): one row per change. A writer numbers its change
			// (seq, drawn under the write's row locks); the sequencer
			// gives committed changes their position (pos) in the order
			// they are read. changes_pruned holds the last position
			// retention dropped.
			return strings.ReplaceAll(`
CREATE SEQUENCE S.change_seq AS bigint;
CREATE TABLE S.changes (
	tenant      text NOT NULL,
	seq         bigint NOT NULL DEFAULT nextval('S.change_seq'),
	pos         bigint,
	at          timestamptz NOT NULL,
	type        text NOT NULL,
	id          text NOT NULL,
	external_id text,
	op          text NOT NULL,
	activated   boolean NOT NULL,
	deactivated boolean NOT NULL,
	cascade     boolean NOT NULL,
	added       text[],
	removed     text[],
	attributes  text[],
	version     text,
	principal   text NOT NULL,
	request_id  text NOT NULL,
	txn         text NOT NULL,
	PRIMARY KEY (tenant, seq)
);
CREATE UNIQUE INDEX changes_pos ON S.changes (pos);
CREATE INDEX changes_tenant_pos ON S.changes (tenant, pos);
CREATE INDEX changes_unsequenced ON S.changes (seq) WHERE pos IS NULL;
CREATE TABLE S.changes_pruned (
	one boolean PRIMARY KEY DEFAULT true CHECK (one),
	pos bigint NOT NULL
);
INSERT INTO S.changes_pruned (pos) VALUES (0);

-- Durable consumers of the feed (scim.ConsumerLedger): a position and a
-- lease each, per tenant.
CREATE TABLE S.consumers (
	tenant      text NOT NULL,
	name        text NOT NULL,
	position    text NOT NULL DEFAULT '',
	owner       text NOT NULL DEFAULT '',
	lease_until timestamptz NOT NULL DEFAULT '-infinity',
	PRIMARY KEY (tenant, name)
);
`, "S.", s+".")
		}},
		{version: 4, sql: func(s string) string {
			// Tokens get a name for people (scim.TokenName) and the time
			// of their last use (scim.TokenStore.TouchToken).
			return strings.ReplaceAll(`
ALTER TABLE S.tokens
	ADD COLUMN display_name text NOT NULL DEFAULT '',
	ADD COLUMN last_used_at timestamptz NULL;
`, "S.", s+".")
		}},
		{version: 5, sql: func(s string) string {
			// The change feed's rows are written twice, by the writer and
			// by the sequencer, and each index costs both: only the
			// sequenced rows are in the position indexes, and the
			// sequencer finds a row by its number through the index of
			// the unsequenced, which makes the primary key unused.
			return strings.ReplaceAll(`
ALTER TABLE S.changes DROP CONSTRAINT IF EXISTS changes_pkey;
DROP INDEX IF EXISTS S.changes_pos;
DROP INDEX IF EXISTS S.changes_tenant_pos;
CREATE UNIQUE INDEX changes_pos ON S.changes (pos) WHERE pos IS NOT NULL;
CREATE INDEX changes_tenant_pos ON S.changes (tenant, pos) WHERE pos IS NOT NULL;
`, "S.", s+".")
		}},
	}
}

// SchemaVersion is the version of the tables New creates or migrates to.
const SchemaVersion = 5

// migrate brings the schema to SchemaVersion. It runs in one transaction
// under an advisory lock on the schema's name, so that processes starting
// at the same time apply each step once, and a step that fails leaves
// nothing behind.
func (s *Store) migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "scimkit/postgres:"+s.schemaName); err != nil {
			return fmt.Errorf("locking the schema for migration: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+s.schema); err != nil {
			return fmt.Errorf("creating schema %s: %w", s.schema, err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s.schema+`.schema_migrations (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("creating the migrations table: %w", err)
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+s.schema+`.schema_migrations`).Scan(&current); err != nil {
			return fmt.Errorf("reading the schema version: %w", err)
		}
		if current > SchemaVersion {
			return fmt.Errorf("schema %s is at version %d, newer than this package's %d", s.schema, current, SchemaVersion)
		}
		for _, m := range migrations() {
			if m.version <= current {
				continue
			}
			if _, err := tx.Exec(ctx, m.sql(s.schema)); err != nil {
				return fmt.Errorf("migration %d: %w", m.version, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+s.schema+`.schema_migrations (version) VALUES ($1)`, m.version); err != nil {
				return fmt.Errorf("recording migration %d: %w", m.version, err)
			}
		}
		if !s.trigram {
			return nil
		}
		return s.trigramIndex(ctx, tx)
	})
}

// trigramIndexName is the optional GIN index of userName trigrams.
const trigramIndexName = "resources_user_name_trgm"

// trigramIndex creates, when it is missing and the pg_trgm extension is
// installed or can be, a trigram GIN index on the folded userName, which
// answers userName co (and ew) without reading every User. It is optional
// and no versioned step: where the database offers no pg_trgm, or the
// user may not create it, nothing happens and New succeeds; a later New
// where it has become available adds it. Each attempt runs in a savepoint
// of the migration's transaction, so that a refusal undoes nothing else.
func (s *Store) trigramIndex(ctx context.Context, tx pgx.Tx) error {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, s.schema+"."+trigramIndexName).Scan(&exists); err != nil || exists {
		return err
	}
	var extSchema *string
	if err := tx.QueryRow(ctx, `SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'`).Scan(&extSchema); err != nil && !isNoRows(err) {
		return err
	}
	if extSchema == nil {
		var available bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm')`).Scan(&available); err != nil || !available {
			return err
		}
		// One creator at a time in the database: concurrent CREATE
		// EXTENSION IF NOT EXISTS can collide.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('scimkit/postgres:pg_trgm', 0))`); err != nil {
			return err
		}
		err := optional(ctx, tx, func(sp pgx.Tx) error {
			if _, err := sp.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_trgm`); err != nil {
				return err
			}
			return sp.QueryRow(ctx, `SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'`).Scan(&extSchema)
		})
		if err != nil || extSchema == nil {
			s.logger.DebugContext(ctx, "postgres: no pg_trgm extension: userName co is not indexed", "err", err)
			return nil
		}
	}
	err := optional(ctx, tx, func(sp pgx.Tx) error {
		_, err := sp.Exec(ctx, `CREATE INDEX IF NOT EXISTS `+trigramIndexName+` ON `+s.t("resources")+
			` USING gin (user_name `+pgx.Identifier{*extSchema}.Sanitize()+`.gin_trgm_ops)`)
		return err
	})
	if err != nil {
		s.logger.DebugContext(ctx, "postgres: no trigram index: userName co is not indexed", "err", err)
	}
	return nil
}

// optional runs fn in a savepoint of tx: an error of fn rolls back only
// what fn did and is returned; tx goes on.
func optional(ctx context.Context, tx pgx.Tx, fn func(sp pgx.Tx) error) error {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(sp); err != nil {
		_ = sp.Rollback(ctx)
		return err
	}
	return sp.Commit(ctx)
}
