package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/scimkit/scim"
)

// The resource types and attributes the store treats specially.
const (
	userType    = "User"
	groupType   = "Group"
	groupsAttr  = "groups"
	membersAttr = "members"
)

// DefaultSchema is the PostgreSQL schema New uses without WithSchema.
const DefaultSchema = "scim"

// DefaultFallbackLimit is the number of candidates a query may have to
// evaluate in Go, when SQL cannot answer it exactly, without
// WithFallbackLimit.
const DefaultFallbackLimit = 10000

// newVersion is the SQL expression of a fresh Meta.Version: 20 hex digits
// of a random UUID (74 random bits). Random versions do not repeat (but
// with a chance of about 2^-74 per pair) after a delete and a re-create of
// the same id, and tell nothing about other tenants' activity.
const newVersion = `substr(replace(gen_random_uuid()::text, '-', ''), 1, 20)`

// Store is a scim.Store and scim.MembershipPatcher on PostgreSQL. It is
// safe for concurrent use, also by several processes sharing a database.
// Make one with New, and Close it before the pool.
type Store struct {
	pool          *pgxpool.Pool
	schemaName    string // as given
	schema        string // quoted identifier
	logger        *slog.Logger
	now           func() time.Time
	fallbackLimit int
	trigram       bool // WithTrigramIndex
	feed          feed
	stats         stats // see stats.go
	listen        *listener
	background    sync.WaitGroup // see Close
	txHooks       []TxHook
}

var (
	_ scim.Store             = (*Store)(nil)
	_ scim.MembershipPatcher = (*Store)(nil)
	_ scim.ChangeFeed        = (*Store)(nil)
)

// Option configures a Store.
type Option func(*Store)

// WithSchema sets the PostgreSQL schema that holds the store's tables
// (default DefaultSchema). New creates it if it does not exist. Any name is
// allowed: it is always quoted.
func WithSchema(name string) Option {
	return func(s *Store) { s.schemaName = name }
}

// WithLogger sets the logger the store reports retried transactions to.
// The default discards them.
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) {
		if l != nil {
			s.logger = l
		}
	}
}

// WithClock sets the clock the store reads when it changes a resource on
// its own: the Meta.LastModified of a Group that loses a member because
// the member was deleted. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// WithFallbackLimit sets the largest number of candidate resources a query
// evaluates in Go when SQL cannot answer it exactly (see the package
// documentation); a query with more candidates fails with a SCIM tooMany
// error instead of answering differently. The default is
// DefaultFallbackLimit.
func WithFallbackLimit(n int) Option {
	return func(s *Store) {
		if n > 0 {
			s.fallbackLimit = n
		}
	}
}

// WithTrigramIndex makes New create a pg_trgm GIN index on the folded
// userName (where the database has the extension, or lets New create it),
// so that userName co and ew filters use an index. It is off by default:
// the trigrams every userName of a directory shares (its email domain)
// have posting lists as long as the directory, and keeping them makes
// each write of a userName far slower (in a test, 100,000 creates ran at
// 85 per second with the index and 3,800 without). Take it where
// substring searches on userName matter more than provisioning speed.
func WithTrigramIndex() Option {
	return func(s *Store) { s.trigram = true }
}

// New returns a Store on pool, which the caller owns and closes after the
// last use of the Store. It creates the schema and tables, or migrates them
// to SchemaVersion, before it returns; processes that call New on one
// database at the same time apply every migration once.
func New(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, errors.New("postgres: New needs a *pgxpool.Pool")
	}
	s := &Store{
		pool:          pool,
		schemaName:    DefaultSchema,
		logger:        slog.New(discardHandler{}),
		now:           time.Now,
		fallbackLimit: DefaultFallbackLimit,
		feed:          newFeed(),
		stats:         newStats(),
		listen:        newListener(),
	}
	for _, o := range opts {
		o(s)
	}
	if s.schemaName == "" {
		return nil, errors.New("postgres: WithSchema needs a name")
	}
	s.schema = pgx.Identifier{s.schemaName}.Sanitize()
	s.feed.lastPrune.Store(time.Now().UnixNano())
	if err := s.migrate(ctx); err != nil {
		return nil, wrap(ctx, "migrate", err)
	}
	return s, nil
}

// discardHandler is a slog.Handler that drops everything (slog's own is
// newer than the Go version this module supports).
type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (d discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discardHandler) WithGroup(string) slog.Handler           { return d }

// t returns the qualified name of the store's table name.
func (s *Store) t(name string) string { return s.schema + "." + name }

// inTx runs fn in a transaction, again when the database aborted it to
// break a deadlock or a serialization conflict.
func (s *Store) inTx(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := pgx.BeginFunc(ctx, s.pool, fn)
		if err == nil || !retryable(err) || attempt == maxAttempts || ctx.Err() != nil {
			return err
		}
		s.logger.DebugContext(ctx, "postgres: retrying transaction", "op", op, "attempt", attempt, "err", err)
	}
}

func checkResource(op string, res *scim.Resource) error {
	switch {
	case res == nil:
		return fmt.Errorf("postgres: %s: nil resource", op)
	case res.Type == "":
		return fmt.Errorf("postgres: %s: resource has no type", op)
	case res.ID == "":
		return fmt.Errorf("postgres: %s %s: resource has no id", op, res.Type)
	}
	return nil
}

// encodeWrite checks the context and res of a Create or Replace (op), and
// encodes res for its row.
func encodeWrite(ctx context.Context, op string, res *scim.Resource) (*encoded, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkResource(op, res); err != nil {
		return nil, err
	}
	return encodeResource(res)
}

// Create stores res, which must have a Type and an ID, with a new
// Meta.Version, and returns what it stored. An ID already taken in the
// type and tenant, or one of res.Unique held by another resource of the
// type, is an error wrapping scim.ErrUniqueness; a Group member that is no
// User or Group of the tenant is a *scim.MemberNotFoundError. A "groups"
// attribute on a User is not stored: it is computed.
func (s *Store) Create(ctx context.Context, res *scim.Resource) (*scim.Resource, error) {
	doc, err := encodeWrite(ctx, "create", res)
	if err != nil {
		return nil, err
	}
	tenant := scim.TenantFrom(ctx)
	var out *scim.Resource
	if len(doc.members) == 0 && len(s.txHooks) == 0 {
		// One statement, one (implicit) transaction: the row, its keys
		// and its change.
		var c *scim.Change
		if !s.feed.off {
			change := scim.ChangeFor(ctx, scim.ChangeCreate, res)
			c = &change
		}
		sql, args := s.insertResourceSQL(tenant, res, doc, c)
		var m scim.Meta
		err := uniqueError(res, s.pool.QueryRow(ctx, sql, args...).Scan(&m.Version, &m.Created, &m.LastModified))
		if err != nil {
			return nil, wrap(ctx, "create "+res.Type, err)
		}
		s.committed(1)
		return doc.stored(res, m), nil
	}
	err = s.inTx(ctx, "create", func(tx pgx.Tx) error {
		if err := s.lockMembers(ctx, tx, tenant, doc.members); err != nil {
			return err
		}
		m, err := s.insertResource(ctx, tx, tenant, res, doc)
		if err != nil {
			return err
		}
		if _, err := s.insertMembers(ctx, tx, tenant, res.ID, doc.members, false); err != nil {
			return err
		}
		out = doc.stored(res, m)
		c := scim.ChangeFor(ctx, scim.ChangeCreate, out)
		if err := s.runTxHooks(ctx, tx, TxWrite{Change: c, After: out.Clone()}); err != nil {
			return err
		}
		return s.record(ctx, tx, tenant, c)
	})
	if err != nil {
		return nil, wrap(ctx, "create "+res.Type, err)
	}
	s.committed(1)
	return out, nil
}

// committed runs after every write commits, n the changes it recorded.
func (s *Store) committed(n int) {
	s.wrote()
	s.sequenceSoon(n)
}

// querier is what insertResource needs of a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// insertResource inserts the row of res and its unique keys in one
// statement. An id or a key already taken is an error wrapping
// scim.ErrUniqueness.
func (s *Store) insertResource(ctx context.Context, q querier, tenant string, res *scim.Resource, doc *encoded) (scim.Meta, error) {
	var m scim.Meta
	sql, args := s.insertResourceSQL(tenant, res, doc, nil)
	err := q.QueryRow(ctx, sql, args...).Scan(&m.Version, &m.Created, &m.LastModified)
	return m, uniqueError(res, err)
}

// insertResourceSQL is the statement of insertResource, which returns
// the version and times stored; with a change, it records that too, with
// the version the row got.
func (s *Store) insertResourceSQL(tenant string, res *scim.Resource, doc *encoded, c *scim.Change) (string, []any) {
	keyAttrs, keyValues := keyArrays(res)
	args := []any{tenant, res.Type, res.ID, res.Meta.Created, res.Meta.LastModified, doc.attrs, doc.folded, doc.times,
		doc.idFolded, doc.userName, doc.externalID, doc.displayName, keyAttrs, keyValues}
	changeCTE := ""
	if c != nil {
		changeCTE = `,
		c AS (
			INSERT INTO ` + s.t("changes") + ` (tenant, ` + changeColumns + `, version)
			SELECT $1, ` + changeValuesSQL(len(args)+1, "r.version") + ` FROM r)`
		args = append(args, changeArgs(*c, s.now())...)
	}
	return `WITH r AS (
			INSERT INTO ` + s.t("resources") + `
				(tenant, type, id, version, created, last_modified, attrs, folded, times, id_folded, user_name, external_id, display_name)
			VALUES ($1, $2, $3, ` + newVersion + `, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, $9, $10, $11, $12)
			RETURNING version, created, last_modified),
		k AS (
			INSERT INTO ` + s.t("unique_keys") + ` (tenant, type, attribute, value, id)
			SELECT $1, $2, a, v, $3 FROM unnest($13::text[], $14::text[]) AS k(a, v))` + changeCTE + `
		SELECT version, created, last_modified FROM r`, args
}

// uniqueError names the clash a unique violation inserting res is.
func uniqueError(res *scim.Resource, err error) error {
	if sqlState(err) != codeUniqueViolation {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && strings.HasPrefix(pe.ConstraintName, "resources") {
		return fmt.Errorf("%s %q already exists: %w", res.Type, res.ID, scim.ErrUniqueness)
	}
	return fmt.Errorf("%s %q: a unique value is already in use: %w", res.Type, res.ID, scim.ErrUniqueness)
}

// keyArrays returns the attributes and values of res's unique keys, each
// key once.
func keyArrays(res *scim.Resource) (attrs, values []string) {
	seen := make(map[scim.UniqueKey]bool, len(res.Unique))
	attrs, values = []string{}, []string{}
	for _, k := range res.Unique {
		if !seen[k] {
			seen[k] = true
			attrs = append(attrs, k.Attribute)
			values = append(values, k.Value)
		}
	}
	return attrs, values
}

// insertKeys records the unique keys of res; a key another resource holds
// is an error wrapping scim.ErrUniqueness.
func (s *Store) insertKeys(ctx context.Context, tx pgx.Tx, tenant string, res *scim.Resource) error {
	if len(res.Unique) == 0 {
		return nil
	}
	attrs, values := keyArrays(res)
	_, err := tx.Exec(ctx, `INSERT INTO `+s.t("unique_keys")+` (tenant, type, attribute, value, id)
		SELECT $1, $2, a, v, $3 FROM unnest($4::text[], $5::text[]) AS k(a, v)`,
		tenant, res.Type, res.ID, attrs, values)
	if sqlState(err) == codeUniqueViolation {
		return fmt.Errorf("%s %q: a unique value is already in use: %w", res.Type, res.ID, scim.ErrUniqueness)
	}
	return err
}

// Get returns the resource, or an error wrapping scim.ErrNotFound. A User
// carries its computed "groups", a Group its members.
func (s *Store) Get(ctx context.Context, resourceType, id string) (*scim.Resource, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sel, sql := s.getSQL(resourceType)
	res, err := sel.scan(s.pool.QueryRow(ctx, sql, scim.TenantFrom(ctx), resourceType, id), resourceType)
	if isNoRows(err) {
		return nil, notFound(resourceType, id)
	}
	if err != nil {
		return nil, wrap(ctx, "get "+resourceType, err)
	}
	return res, nil
}

// getSQL returns the statement Get runs, with parameters tenant, type and
// id: one primary key lookup, and for a User its groups through the member
// index, for a Group its member rows.
func (s *Store) getSQL(typ string) (selection, string) {
	sel := s.selectList(typ, "r", true, true)
	return sel, `SELECT ` + sel.cols + ` FROM ` + s.t("resources") + ` r WHERE r.tenant = $1 AND r.type = $2 AND r.id = $3`
}

// Replace overwrites the stored resource of res.Type and res.ID with res if
// the stored version equals expectedVersion ("" matches any), else it
// returns an error wrapping scim.ErrVersionMismatch. It keeps the stored
// Meta.Created, assigns a new Meta.Version and returns what it stored. A
// missing resource is scim.ErrNotFound, one of res.Unique held by another
// resource scim.ErrUniqueness, a Group member that is no User or Group of
// the tenant a *scim.MemberNotFoundError.
func (s *Store) Replace(ctx context.Context, res *scim.Resource, expectedVersion string) (*scim.Resource, error) {
	doc, err := encodeWrite(ctx, "replace", res)
	if err != nil {
		return nil, err
	}
	tenant := scim.TenantFrom(ctx)
	var out *scim.Resource
	err = s.inTx(ctx, "replace", func(tx pgx.Tx) error {
		if err := s.lockMembers(ctx, tx, tenant, doc.members); err != nil {
			return s.memberError(ctx, tx, tenant, res.Type, res.ID, expectedVersion, err)
		}
		var before *scim.Resource
		if len(s.txHooks) > 0 {
			var err error
			if before, err = s.readForUpdate(ctx, tx, tenant, res.Type, res.ID); err != nil {
				return err
			}
		}
		var m scim.Meta
		err := tx.QueryRow(ctx, `UPDATE `+s.t("resources")+` SET
				version = `+newVersion+`, last_modified = $5, attrs = $6::jsonb, folded = $7::jsonb, times = $8::jsonb,
				user_name = $9, external_id = $10, display_name = $11
			WHERE tenant = $1 AND type = $2 AND id = $3 AND ($4 = '' OR version = $4)
			RETURNING version, created, last_modified`,
			tenant, res.Type, res.ID, expectedVersion, res.Meta.LastModified, doc.attrs, doc.folded, doc.times,
			doc.userName, doc.externalID, doc.displayName,
		).Scan(&m.Version, &m.Created, &m.LastModified)
		if isNoRows(err) {
			return s.missOrMismatch(ctx, tx, tenant, res.Type, res.ID, expectedVersion)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM `+s.t("unique_keys")+` WHERE tenant = $1 AND type = $2 AND id = $3`,
			tenant, res.Type, res.ID); err != nil {
			return err
		}
		if err := s.insertKeys(ctx, tx, tenant, res); err != nil {
			return err
		}
		if res.Type == groupType {
			if err := s.syncMembers(ctx, tx, tenant, res.ID, doc.members); err != nil {
				return err
			}
		}
		out = doc.stored(res, m)
		if res.Type == userType {
			gs, err := s.groupsOf(ctx, tx, tenant, res.ID)
			if err != nil {
				return err
			}
			if len(gs) > 0 {
				out.Attributes[groupsAttr] = gs
			}
		}
		c := scim.ChangeFor(ctx, scim.ChangeReplace, out)
		if err := s.runTxHooks(ctx, tx, TxWrite{Change: c, Before: before, After: out.Clone()}); err != nil {
			return err
		}
		return s.record(ctx, tx, tenant, c)
	})
	if err != nil {
		return nil, wrap(ctx, "replace "+res.Type, err)
	}
	s.committed(1)
	return out, nil
}

// memberError returns err, the failure of a Group write's member check,
// unless the Group itself is missing or at another version than expected:
// those answers come first, as if the version had been checked first.
func (s *Store) memberError(ctx context.Context, tx pgx.Tx, tenant, typ, id, expected string, err error) error {
	var mnf *scim.MemberNotFoundError
	if !errors.As(err, &mnf) {
		return err
	}
	var stored string
	switch qerr := tx.QueryRow(ctx, `SELECT version FROM `+s.t("resources")+` WHERE tenant = $1 AND type = $2 AND id = $3`,
		tenant, typ, id).Scan(&stored); {
	case isNoRows(qerr):
		return notFound(typ, id)
	case qerr != nil:
		return qerr
	case expected != "" && stored != expected:
		return versionMismatch(typ, id, stored, expected)
	}
	return err
}

// missOrMismatch explains why a conditional write changed no row.
func (s *Store) missOrMismatch(ctx context.Context, tx pgx.Tx, tenant, typ, id, expected string) error {
	var stored string
	err := tx.QueryRow(ctx, `SELECT version FROM `+s.t("resources")+` WHERE tenant = $1 AND type = $2 AND id = $3`,
		tenant, typ, id).Scan(&stored)
	switch {
	case isNoRows(err):
		return notFound(typ, id)
	case err != nil:
		return err
	}
	return versionMismatch(typ, id, stored, expected)
}

// Delete removes the resource if its stored version equals expectedVersion
// ("" matches any), else it returns an error wrapping
// scim.ErrVersionMismatch; a missing resource is scim.ErrNotFound.
// Deleting a User or a Group also removes it from the members of every
// Group that holds it, and gives each such Group a new Meta.Version and
// Meta.LastModified, in the same transaction.
func (s *Store) Delete(ctx context.Context, resourceType, id, expectedVersion string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tenant := scim.TenantFrom(ctx)
	var changes []scim.Change
	err := s.inTx(ctx, "delete", func(tx pgx.Tx) error {
		// Lock the row first: a Group write adding it as a member (whose
		// foreign key check shares the lock) waits for this transaction,
		// and then finds it gone, or has committed before, and its Group
		// is among those found below.
		var (
			stored     string
			externalID *string
		)
		err := tx.QueryRow(ctx, `SELECT version, external_id FROM `+s.t("resources")+`
			WHERE tenant = $1 AND type = $2 AND id = $3 FOR UPDATE`, tenant, resourceType, id).Scan(&stored, &externalID)
		if isNoRows(err) {
			return notFound(resourceType, id)
		}
		if err != nil {
			return err
		}
		if expectedVersion != "" && stored != expectedVersion {
			return versionMismatch(resourceType, id, stored, expectedVersion)
		}
		old := &scim.Resource{Type: resourceType, ID: id, Attributes: map[string]any{}}
		if externalID != nil {
			old.Attributes["externalId"] = *externalID
		}
		if len(s.txHooks) > 0 {
			if old, err = s.readForUpdate(ctx, tx, tenant, resourceType, id); err != nil {
				return err
			}
		}
		changes = append(changes[:0], scim.ChangeFor(ctx, scim.ChangeDelete, old))
		if resourceType == userType || resourceType == groupType {
			rows, err := tx.Query(ctx, `WITH affected AS (
					SELECT g.tenant, g.type, g.id FROM `+s.t("resources")+` g
					WHERE g.tenant = $1 AND g.type = 'Group' AND g.id IN (
						SELECT m.group_id FROM `+s.t("members")+` m
						WHERE m.tenant = $1 AND m.member_id = $2 AND m.member_type = $3)
					ORDER BY g.id
					FOR NO KEY UPDATE)
				UPDATE `+s.t("resources")+` r SET version = `+newVersion+`, last_modified = $4
				FROM affected a WHERE r.tenant = a.tenant AND r.type = a.type AND r.id = a.id
				RETURNING r.id, r.version, r.external_id`,
				tenant, id, resourceType, s.now())
			if err != nil {
				return err
			}
			for rows.Next() {
				g := &scim.Resource{Type: groupType, Attributes: map[string]any{}}
				var ext *string
				if err := rows.Scan(&g.ID, &g.Meta.Version, &ext); err != nil {
					rows.Close()
					return err
				}
				if ext != nil {
					g.Attributes["externalId"] = *ext
				}
				changes = append(changes, scim.CascadeChange(ctx, g, id))
			}
			if err := rows.Err(); err != nil {
				return err
			}
			slices.SortFunc(changes[1:], func(a, b scim.Change) int { return strings.Compare(a.ID, b.ID) })
		}
		if _, err := tx.Exec(ctx, `DELETE FROM `+s.t("resources")+` WHERE tenant = $1 AND type = $2 AND id = $3`,
			tenant, resourceType, id); err != nil {
			return err
		}
		if len(s.txHooks) > 0 {
			writes := []TxWrite{{Change: changes[0], Before: old}}
			for _, c := range changes[1:] {
				g, err := s.groupWithoutMembers(ctx, tx, tenant, c.ID)
				if err != nil {
					return err
				}
				writes = append(writes, TxWrite{Change: c, After: g})
			}
			if err := s.runTxHooks(ctx, tx, writes...); err != nil {
				return err
			}
		}
		return s.record(ctx, tx, tenant, changes...)
	})
	if err != nil {
		return wrap(ctx, "delete "+resourceType, err)
	}
	s.committed(len(changes))
	return nil
}
