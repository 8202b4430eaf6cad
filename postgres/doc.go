// Package postgres is a scim.Store on PostgreSQL (pgx v5): a production
// store for one or many processes sharing a database. It implements
// scim.Store, scim.MembershipPatcher, scim.ChangeFeed, scim.ConsumerLedger,
// scim.TxLedger and scim.TokenStore and passes the storetest kit.
//
// # Set-up
//
// The host owns the connection pool; New creates or migrates the store's
// tables before it returns:
//
//	pool, err := pgxpool.New(ctx, dsn)
//	...
//	store, err := postgres.New(ctx, pool)              // tables in schema "scim"
//	h, err := scim.New(store, authenticator)
//
// Options: WithSchema (the PostgreSQL schema of the tables, default
// "scim", created if missing, always quoted), WithFallbackLimit (see
// below), WithClock, WithLogger, WithChangeRetention, WithSequencerInterval
// and WithoutChangeFeed (the change feed, changes.go), and WithTxHook (the
// host's code in every write's transaction, txhooks.go). The store keeps
// no state but the pool (and its feed's background work, which Close
// waits for): any number of Stores and processes may share a schema.
//
// # Migrations
//
// The schema's history is a list of numbered migrations recorded in
// schema_migrations (SchemaVersion is the last). New applies the missing
// ones in one transaction under pg_advisory_xact_lock on the schema's name,
// so processes that start together wait for one another and each step
// runs once; calling New again is a no-op. The database user needs CREATE
// on the database (for the schema) the first time, and nothing but the
// tables' privileges afterwards. PostgreSQL 13 or later (gen_random_uuid).
//
// With WithTrigramIndex, New also creates the pg_trgm extension (if the
// database offers it and the user may: it is a trusted extension, so
// CREATE on the database suffices) and a trigram GIN index on the folded
// userName (resources_user_name_trgm), which answers userName co and ew by
// index, at a high price on every write of a userName (see the option).
// It is no numbered migration: where pg_trgm is missing or refused, New
// goes on without it, and a later New adds it once it is there.
//
// # Tables
//
//   - resources: one row per resource, keyed by (tenant, type, id). The
//     attributes are a jsonb document (attrs) and a second one (folded)
//     whose strings are folded with scim.FoldCase at write time, which
//     case-insensitive filters and sorts read: PostgreSQL's lower() folds
//     some letters (ſ, K, final sigma, dotless ı) differently. Numbers are
//     written with their exact decimal value, so that integers beyond 2^53
//     and int/float comparisons are exact. Indexed columns hold the folded
//     userName, externalId, the folded displayName and the folded id; seq
//     is the insertion order. A User's "groups" are not stored; a Group's
//     members are not in its document.
//   - unique_keys: one row per scim.UniqueKey, with a primary key on
//     (tenant, type, attribute, value): concurrent creates of one key from
//     any number of processes give one success and scim.ErrUniqueness
//     (SQLSTATE 23505) for the others.
//   - members: one row per membership, with the member's type, keyed by
//     (tenant, group, member) and indexed by (tenant, member, type) and by
//     (tenant, folded member). Both the Group and the member are foreign
//     keys to resources ON DELETE CASCADE, so no member can outlive its
//     resource.
//   - tokens (migrations 2 and 4): one row per bearer token of
//     scim.Tokens, with the SHA-256 digest of its secret (unique:
//     TokenByDigest is an index lookup), its principal, its name for
//     people (display_name) and its times (to the microsecond: created,
//     expires, last used), indexed by (tenant, created_at, id) for
//     ListTokens. DeleteToken and TouchToken are bound to the tenant too.
//
// Every table of resources starts with the tenant (scim.TenantFrom); every statement is
// bound to it.
//
// # Writes
//
// Each write is one transaction; compare-and-swap on Meta.Version is part
// of the UPDATE's WHERE clause or of a row lock taken first. Versions are
// random (74 bits): they do not repeat for an id deleted and created again
// and say nothing about other tenants. Transactions the database aborts to
// break a deadlock are retried.
//
// Members refer to existing resources: a Group write first takes a key
// share lock on every member's row (which is also the existence check;
// a missing one is a *scim.MemberNotFoundError and nothing is written),
// then on the Group. A Delete locks the deleted row for update first, so
// a concurrent member write either commits before (and the Delete then
// finds and bumps its Group) or waits and finds the member gone. A Delete
// gives every Group it removes the resource from a new version and
// LastModified in the same transaction. PatchMembers inserts or deletes
// only the rows it names and bumps the Group's version: its cost does not
// depend on the Group's size. It is one round trip: a batch (one implicit
// transaction) that locks the members to add and the Group, then checks
// the version, the members and the members to remove and writes, in one
// statement whose snapshot follows the locks.
//
// # Queries
//
// Filters are translated to SQL with every value a bound parameter. These
// use an index: id, userName, externalId and displayName with eq (the last
// three also with sw, gt, ge, lt and le; userName also with co and ew
// under WithTrigramIndex, where pg_trgm is available, see below), a
// Group's members.value eq and a User's groups.value and groups.display
// eq; Get reads a User's groups
// through the member index. A query whose projection leaves out members
// (or a User's groups) reads no member rows. Without sortBy, resources
// come in insertion order; every sort breaks ties by it, so paging sees
// each resource once. totalResults is a count(*) of the same filter, sent
// in the same round trip as the page.
//
// Keyset queries (Query.Keyset, RFC 9865 cursors) page without OFFSET: a
// position (Page.Next, Query.After) is base64 JSON of the last resource's
// seq and its sort key as SQL computed it (folded text, exact numeric,
// boolean, or microseconds), and the next page is a WHERE clause that
// selects what follows it in the sort order (resources without a value
// last ascending and first descending, ties by seq), one row more than
// Count to tell whether a next page exists. Resources created or deleted
// meanwhile do not shift the others. A position the store did not make
// for that kind of order is scim.ErrInvalidCursor. Queries that fall back
// to Go page the same way over their candidates; when Go sorts, the
// position holds scim.SortValue and compares by scim.CompareSortValues.
//
// SQL answers exactly (as scim.Matches, scim.Compare and
// scim.SortResources would) every operator on string, reference, binary,
// boolean, integer and decimal attributes (core, extension or meta),
// value paths, and/or/not, pr and null, and sorts on those types and on
// meta.created and meta.lastModified. What it cannot answer exactly —
// comparisons and sorts of dateTime attributes held in the document
// (strings in any zone and precision), paths without a type, sorting by a
// Group's members or a User's groups — falls back: SQL selects a superset
// of the matches (the part of the filter it can decide), and Go keeps
// the matches with scim.Matches, sorts with scim.SortResources and pages.
// The bound: at most the fallback limit (WithFallbackLimit, default
// DefaultFallbackLimit = 10,000) candidates are evaluated; a query with
// more fails with a 400 tooMany SCIM error rather than answer differently.
// meta.created and meta.lastModified, being columns, never fall back.
//
// # Errors
//
// Errors wrap the scim sentinels (ErrNotFound, ErrVersionMismatch,
// ErrUniqueness, ErrNoTarget, *MemberNotFoundError) and, when the context
// ended, the context's error; a lost connection or a database that is down
// is an error that is none of those.
package postgres
