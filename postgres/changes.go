package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/scimkit/scim"
)

// The change feed's defaults (WithChangeRetention).
const (
	DefaultChangeMaxCount = 1_000_000
	DefaultChangeMaxAge   = 7 * 24 * time.Hour
	defaultChangePage     = 1000
)

// errFeedOff is the error of reading a store made WithoutChangeFeed.
var errFeedOff = errors.New("postgres: the change feed is off (WithoutChangeFeed)")

// WithChangeRetention bounds the change feed (scim.ChangeFeed): changes
// older than r.MaxAge, and all but the newest r.MaxCount, are deleted as
// new ones are recorded (by the process that records them, in the
// background, every few changes; Prune does it at once). Zero fields keep
// DefaultChangeMaxAge and DefaultChangeMaxCount.
func WithChangeRetention(r scim.Retention) Option {
	return func(s *Store) {
		if r.MaxAge > 0 {
			s.feed.retention.MaxAge = r.MaxAge
		}
		if r.MaxCount > 0 {
			s.feed.retention.MaxCount = r.MaxCount
		}
	}
}

// WithoutChangeFeed turns the change feed off: writes record nothing (and
// cost a statement less), and reading the feed is an error.
func WithoutChangeFeed() Option {
	return func(s *Store) { s.feed.off = true }
}

// feed is the state of a Store's change feed in this process.
type feed struct {
	off       bool
	retention scim.Retention

	recorded  atomic.Uint64 // changes this process recorded, for pruning
	pruning   atomic.Bool   // a prune runs
	lastPrune atomic.Int64  // unix nanoseconds of the last prune
	notifying atomic.Bool   // a NOTIFY is due
}

func newFeed() feed {
	return feed{retention: scim.Retention{MaxAge: DefaultChangeMaxAge, MaxCount: DefaultChangeMaxCount}}
}

// Close waits for the store's work in the background (the change feed's
// notifications and pruning) to end. The pool stays the caller's.
func (s *Store) Close() {
	s.background.Wait()
}

// How a change's number and horizon make the feed safe to tail.
//
// A writer draws its change's number from change_seq while it holds the
// locks of the rows it wrote, and only then, in a later statement (whose
// snapshot is taken after the number was drawn), records the change with
// horizon = that snapshot's xmax: every transaction that had drawn a
// smaller number had an id below horizon (it wrote its rows, which gave it
// an id, before it drew). Numbers are drawn in one order and committed in
// another, so a reader that read number n must never later find n-1: it
// reads changes in number order and stops at the first whose horizon is
// above its own snapshot's xmin, the oldest transaction still running.
// Below that, every transaction that could hold a smaller number has
// ended: its change is visible, or it will never be. Changes of one
// resource come in commit order, since each writer draws while holding
// the resource's row lock.
//
// The cost: a change is held back until the transactions that were
// running when it was recorded have ended — usually a few milliseconds; a
// transaction that stays open anywhere in the cluster (with an id) holds
// the feed back, never makes it skip.

// horizonSQL is the horizon of a change recorded by the statement it is
// part of.
const horizonSQL = `pg_snapshot_xmax(pg_current_snapshot())::text::bigint`

// changeColumns are the columns a change's row is written with, after
// tenant, seq and horizon.
const changeColumns = `at, type, id, external_id, op, activated, deactivated, cascade, added, removed, attributes, version, principal, request_id, txn`

// changeArgs returns the values of changeColumns for c, at at.
func changeArgs(c scim.Change, at time.Time) []any {
	var version, externalID *string
	if c.Version != "" {
		version = &c.Version
	}
	if c.ExternalID != "" {
		externalID = &c.ExternalID
	}
	return []any{at, c.Type, c.ID, externalID, string(c.Op), c.Activated, c.Deactivated, c.Cascade,
		c.Added, c.Removed, c.Attributes, version, c.Principal, c.RequestID, c.Txn}
}

// insertChangeSQL records a change whose number is seq (a SQL
// expression), with the parameters $1 tenant and then changeArgs'. A
// change without a version gets the resource's, if it still exists: a
// create sent in one batch with its row does not know it.
func (s *Store) insertChangeSQL(seq string) string {
	return `INSERT INTO ` + s.t("changes") + ` (tenant, seq, horizon, ` + changeColumns + `)
		VALUES ($1, ` + seq + `, ` + horizonSQL + `, $2, $3, $4, $5, $6, $7, $8, $9, $10::text[], $11::text[], $12::text[],
			coalesce($13, (SELECT version FROM ` + s.t("resources") + ` WHERE tenant = $1 AND type = $3 AND id = $4)), $14, $15, $16)`
}

// seqLiteral is the change sequence's name as a SQL string literal, for
// nextval and currval.
func (s *Store) seqLiteral() string {
	return "'" + strings.ReplaceAll(s.t("change_seq"), "'", "''") + "'"
}

// queueChange adds to b the two statements that record c: drawing its
// number, then (in a snapshot taken after) writing its row. The caller
// has locked what c is about.
func (s *Store) queueChange(b *pgx.Batch, tenant string, c scim.Change) {
	b.Queue(`SELECT nextval(` + s.seqLiteral() + `)`)
	b.Queue(s.insertChangeSQL(`currval(`+s.seqLiteral()+`)`), append([]any{tenant}, changeArgs(c, s.now())...)...)
}

// record writes the changes of a write in its transaction, after the
// write took its locks: one round trip for one change, two for more.
func (s *Store) record(ctx context.Context, tx pgx.Tx, tenant string, changes ...scim.Change) error {
	if s.feed.off || len(changes) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	if len(changes) == 1 {
		s.queueChange(b, tenant, changes[0])
		return tx.SendBatch(ctx, b).Close()
	}
	rows, err := tx.Query(ctx, `SELECT nextval(`+s.seqLiteral()+`) FROM generate_series(1, $1)`, len(changes))
	if err != nil {
		return err
	}
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	at := s.now()
	for i, c := range changes {
		b.Queue(s.insertChangeSQL(fmt.Sprintf("%d", seqs[i])), append([]any{tenant}, changeArgs(c, at)...)...)
	}
	return tx.SendBatch(ctx, b).Close()
}

// committed runs after a write that recorded n changes committed: it
// wakes the feed's waiters in every process, and prunes now and then.
func (s *Store) committed(n int) {
	if s.feed.off || n == 0 {
		return
	}
	s.notify()
	every := uint64(max(1, min(s.feed.retention.MaxCount/4, 1000)))
	total := s.feed.recorded.Add(uint64(n))
	stale := time.Since(time.Unix(0, s.feed.lastPrune.Load())) > max(time.Minute, s.feed.retention.MaxAge/100)
	if total/every != (total-uint64(n))/every || stale {
		s.pruneInBackground()
	}
}

// channel is the LISTEN/NOTIFY channel of the store's feed.
func (s *Store) channel() string { return pgx.Identifier{"scimkit_changes:" + s.schemaName}.Sanitize() }

// notify sends one NOTIFY for the writes that committed meanwhile, from a
// goroutine of its own and outside any write's transaction (a NOTIFY in
// the transaction would serialise every writer's commit on the database's
// notification lock).
func (s *Store) notify() {
	if !s.feed.notifying.CompareAndSwap(false, true) {
		return // one is due: it is sent after this write committed
	}
	s.background.Add(1)
	go func() {
		defer s.background.Done()
		time.Sleep(time.Millisecond) // let more writes join this one
		s.feed.notifying.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := s.pool.Exec(ctx, `NOTIFY `+s.channel()); err != nil {
			s.logger.WarnContext(ctx, "postgres: change feed notification failed; waiters wake on their own", "err", err)
		}
	}()
}

// pruneInBackground prunes unless a prune runs.
func (s *Store) pruneInBackground() {
	if !s.feed.pruning.CompareAndSwap(false, true) {
		return
	}
	s.background.Add(1)
	go func() {
		defer s.background.Done()
		defer s.feed.pruning.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Prune(ctx); err != nil {
			s.logger.WarnContext(ctx, "postgres: pruning the change feed failed", "err", err)
		}
	}()
}

// Prune deletes the changes the feed's retention no longer keeps. The
// store calls it on its own as changes are recorded; a host may call it
// from a job of its own.
func (s *Store) Prune(ctx context.Context) error {
	if s.feed.off {
		return errFeedOff
	}
	s.feed.lastPrune.Store(time.Now().UnixNano())
	_, err := s.pool.Exec(ctx, `WITH cut AS (
			SELECT greatest(
				(SELECT seq FROM `+s.t("changes")+` ORDER BY seq DESC OFFSET $1 LIMIT 1),
				(SELECT max(seq) FROM `+s.t("changes")+` WHERE seq < coalesce(
					(SELECT seq FROM `+s.t("changes")+` WHERE at >= $2 ORDER BY seq LIMIT 1), 9223372036854775807))) AS seq),
		gone AS (
			DELETE FROM `+s.t("changes")+` WHERE seq <= (SELECT seq FROM cut) RETURNING seq)
		UPDATE `+s.t("changes_pruned")+` SET seq = greatest(seq, (SELECT max(seq) FROM gone))
		WHERE EXISTS (SELECT 1 FROM gone)`,
		s.feed.retention.MaxCount, s.now().Add(-s.feed.retention.MaxAge))
	return wrap(ctx, "prune changes", err)
}

// Changes implements scim.ChangeFeed: the changes after q.After, of the
// context's tenant or (q.AllTenants) of all, in order, up to the first
// that a transaction still running could precede (see the comment on
// horizonSQL).
func (s *Store) Changes(ctx context.Context, q scim.ChangeQuery) ([]scim.Change, error) {
	if s.feed.off {
		return nil, errFeedOff
	}
	after, err := scim.ParsePosition(q.After)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if after > 1<<63-1 {
		return nil, fmt.Errorf("postgres: position %q: %w", q.After, scim.ErrInvalidPosition)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultChangePage
	}
	where := `c.seq > $1 AND c.tenant = $3`
	if q.AllTenants {
		where = `c.seq > $1 AND $3::text IS NOT NULL`
	}
	rows, err := s.pool.Query(ctx, `WITH p AS (
			SELECT seq AS pruned, pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin,
				(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM `+s.t("change_seq")+`) AS last
			FROM `+s.t("changes_pruned")+`)
		SELECT p.pruned, p.xmin, p.last, c.seq, c.horizon, coalesce(c.tenant, ''), coalesce(c.at, 'epoch'),
			coalesce(c.type, ''), coalesce(c.id, ''), c.external_id, coalesce(c.op, ''), coalesce(c.activated, false),
			coalesce(c.deactivated, false), coalesce(c.cascade, false), c.added, c.removed, c.attributes, c.version,
			coalesce(c.principal, ''), coalesce(c.request_id, ''), coalesce(c.txn, '')
		FROM p LEFT JOIN LATERAL (
			SELECT * FROM `+s.t("changes")+` c WHERE `+where+` ORDER BY c.seq LIMIT $2) c ON true
		ORDER BY c.seq`, int64(after), limit, scim.TenantFrom(ctx))
	if err != nil {
		return nil, wrap(ctx, "read changes", err)
	}
	defer rows.Close()
	var out []scim.Change
	held := false
	for rows.Next() {
		var (
			pruned, xmin, last int64
			seq, horizon       *int64
			c                  changeRow
		)
		if err := rows.Scan(&pruned, &xmin, &last, &seq, &horizon, &c.tenant, &c.at, &c.typ, &c.id, &c.externalID, &c.op,
			&c.activated, &c.deactivated, &c.cascade, &c.added, &c.removed, &c.attributes, &c.version, &c.principal, &c.requestID, &c.txn); err != nil {
			return nil, wrap(ctx, "read changes", err)
		}
		switch {
		case int64(after) > last:
			return nil, fmt.Errorf("postgres: position %q is ahead of the feed: %w", q.After, scim.ErrInvalidPosition)
		case after != 0 && int64(after) < pruned:
			return nil, fmt.Errorf("postgres: position %q: %w", q.After, scim.ErrPositionExpired)
		case seq == nil || held:
			continue
		case *horizon > xmin:
			held = true // a transaction that may precede it still runs
			continue
		}
		out = append(out, c.change(uint64(*seq)))
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, "read changes", err)
	}
	return out, nil
}

// changeRow is a row of the changes table as Changes scans it.
type changeRow struct {
	tenant, typ, id, op, principal, requestID, txn string
	externalID, version                            *string
	at                                             time.Time
	activated, deactivated, cascade                bool
	added, removed, attributes                     []string
}

func (r changeRow) change(seq uint64) scim.Change {
	c := scim.Change{
		Position: scim.FormatPosition(seq), Tenant: r.tenant, Type: r.typ, ID: r.id, Op: scim.ChangeOp(r.op),
		Activated: r.activated, Deactivated: r.deactivated, Cascade: r.cascade,
		Added: r.added, Removed: r.removed, Attributes: r.attributes,
		Principal: r.principal, RequestID: r.requestID, Txn: r.txn, Time: utc(r.at),
	}
	if r.externalID != nil {
		c.ExternalID = *r.externalID
	}
	if r.version != nil {
		c.Version = *r.version
	}
	return c
}

// WaitChanges implements scim.ChangeFeed. When a change after the
// position is recorded but held back (see Changes), it returns after a
// short pause; when none is, it waits for the NOTIFY writers send after
// they commit, on a connection of the pool it holds meanwhile.
func (s *Store) WaitChanges(ctx context.Context, after string) error {
	if s.feed.off {
		return errFeedOff
	}
	n, err := scim.ParsePosition(after)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return wrap(ctx, "wait for changes", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `LISTEN `+s.channel()); err != nil {
		return wrap(ctx, "wait for changes", err)
	}
	defer func() {
		if ctx.Err() != nil {
			// The wait was cut short, perhaps mid-message: the pool must
			// not hand the connection out again.
			_ = conn.Conn().Close(context.Background())
			return
		}
		if _, err := conn.Exec(ctx, `UNLISTEN `+s.channel()); err != nil {
			_ = conn.Conn().Close(context.Background())
		}
	}()
	var next *int64
	var ready bool
	err = conn.QueryRow(ctx, `SELECT seq, horizon <= pg_snapshot_xmin(pg_current_snapshot())::text::bigint
		FROM `+s.t("changes")+` WHERE seq > $1 ORDER BY seq LIMIT 1`, int64(n)).Scan(&next, &ready)
	switch {
	case err == nil && ready:
		return nil
	case err == nil:
		// Held back until older transactions end: no NOTIFY says when.
		t := time.NewTimer(5 * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	case !isNoRows(err):
		return wrap(ctx, "wait for changes", err)
	}
	if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return wrap(ctx, "wait for changes", err)
	}
	return nil
}

// Head implements scim.ChangeFeed: the newest position, once every
// transaction that could hold a change up to it has ended, so that a
// reader that calls Head, then lists the resources, then reads the
// changes after the position misses nothing.
func (s *Store) Head(ctx context.Context) (string, error) {
	if s.feed.off {
		return "", errFeedOff
	}
	var last, horizon int64
	if err := s.pool.QueryRow(ctx, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM `+s.t("change_seq")).Scan(&last); err != nil {
		return "", wrap(ctx, "read the feed's head", err)
	}
	if err := s.pool.QueryRow(ctx, `SELECT `+horizonSQL).Scan(&horizon); err != nil {
		return "", wrap(ctx, "read the feed's head", err)
	}
	for pause := time.Millisecond; ; pause = min(2*pause, 100*time.Millisecond) {
		var ended bool
		if err := s.pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint >= $1`, horizon).Scan(&ended); err != nil {
			return "", wrap(ctx, "read the feed's head", err)
		}
		if ended {
			break
		}
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return "", ctx.Err()
		}
	}
	if last == 0 {
		return "", nil
	}
	return scim.FormatPosition(uint64(last)), nil
}
