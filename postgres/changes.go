package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/scimkit/scim"
)

// The change feed's defaults (WithChangeRetention, WithSequencerInterval).
const (
	DefaultChangeMaxCount    = 1_000_000
	DefaultChangeMaxAge      = 7 * 24 * time.Hour
	DefaultSequencerInterval = 50 * time.Millisecond
	defaultChangePage        = 1000
)

// errFeedOff is the error of reading a store made WithoutChangeFeed.
var errFeedOff = errors.New("postgres: the change feed is off (WithoutChangeFeed)")

// WithChangeRetention bounds the change feed (scim.ChangeFeed): changes
// older than r.MaxAge, and all but the newest r.MaxCount, are deleted as
// new ones are recorded (in the background, by the process whose
// sequencer gives them positions, every few changes; Prune does it at
// once). Zero fields keep DefaultChangeMaxAge and DefaultChangeMaxCount.
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

// WithSequencerInterval sets the least time between the starts of two
// background runs of the sequencer, which gives committed changes their
// positions and wakes the readers waiting for them (WaitChanges, in every
// process). The first write after a quiet interval is sequenced a
// millisecond after its commit; under a steady load, a waiting reader
// learns of new changes up to d later. A reader that reads (Changes)
// while changes wait for a position gives them theirs at once, so a
// consumer that keeps up under load does not trail by d.
//
// The trade: every run costs the same round trip and transaction however
// few changes it sequences, so runs far apart cost writers less (README,
// "What it costs"). Zero runs the sequencer as soon as the last run ends.
// The default is DefaultSequencerInterval.
func WithSequencerInterval(d time.Duration) Option {
	return func(s *Store) { s.feed.sequencer.every = max(d, 0) }
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

	sequencer rerun         // runs sequence after writes commit, paced (WithSequencerInterval)
	pruner    rerun         // runs Prune after sequencer runs
	sequenced atomic.Uint64 // positions this process's sequencer runs gave, for pruning
	lastPrune atomic.Int64  // unix nanoseconds of the last prune
	closing   chan struct{} // closed by Close: background runs start at once
	closeOnce sync.Once
}

func newFeed() feed {
	closing := make(chan struct{})
	return feed{
		retention: scim.Retention{MaxAge: DefaultChangeMaxAge, MaxCount: DefaultChangeMaxCount},
		// The delay lets the writes of that millisecond join a run.
		sequencer: rerun{delay: time.Millisecond, every: DefaultSequencerInterval, hurry: closing},
		pruner:    rerun{hurry: closing},
		closing:   closing,
	}
}

// Close ends the change feed's listening connection (a WaitChanges then
// returns an error) and waits for the store's work in the background
// (sequencing, pruning) to end: a run the sequencer's interval holds back
// runs at once. The pool stays the caller's.
func (s *Store) Close() {
	s.listen.close()
	s.feed.closeOnce.Do(func() { close(s.feed.closing) })
	s.background.Wait()
}

// How the feed stays safe to tail.
//
// A writer records its change in its own transaction, with a number (seq)
// drawn while it holds the locks of the rows it wrote, so that the
// changes of one resource are numbered in the order they commit. But
// numbers drawn by concurrent transactions commit in another order than
// they were drawn: a reader that read number n could later find n-1
// committed, and skip it. So readers do not read by seq: the sequencer
// gives each committed change its position (pos), in one transaction at
// a time (under an advisory lock), in seq order, after the positions
// given before. A position is visible only once its change is, and no
// later sequencer run gives a smaller one: a reader that read position p
// never finds a change before p later. Changes of one resource keep their
// order: the later one commits after the earlier, so whenever the later
// is visible to the sequencer the earlier is too.
//
// The sequencer runs in the background of the process that wrote, a
// millisecond after its commit and at most once an interval (one run for
// the writes of that time: WithSequencerInterval), and sends the NOTIFY
// that wakes waiters; readers run it when they find committed changes
// without a position (say, when the process that wrote them died first).

// changeColumns are the columns a change's row is written with, after
// tenant and before version.
const changeColumns = `at, type, id, external_id, op, activated, deactivated, cascade, added, removed, attributes, principal, request_id, txn`

// changeArgs returns the values of changeColumns for c, at at.
func changeArgs(c scim.Change, at time.Time) []any {
	var externalID *string
	if c.ExternalID != "" {
		externalID = &c.ExternalID
	}
	return []any{at, c.Type, c.ID, externalID, string(c.Op), c.Activated, c.Deactivated, c.Cascade,
		c.Added, c.Removed, c.Attributes, c.Principal, c.RequestID, c.Txn}
}

// changeArgCount is the number of changeArgs.
const changeArgCount = 14

// changeValuesSQL is the row of values of changeColumns for one change,
// whose parameters start at $first, then version's: a parameter, or the
// version column of the statement's own write of the resource.
func changeValuesSQL(first int, version string) string {
	p := func(k int) string { return "$" + strconv.Itoa(first+k) }
	return fmt.Sprintf(`%s, %s, %s, %s, %s, %s, %s, %s, %s::text[], %s::text[], %s::text[], %s, %s, %s, %s`,
		p(0), p(1), p(2), p(3), p(4), p(5), p(6), p(7), p(8), p(9), p(10), p(11), p(12), p(13), version)
}

// insertChangesSQL records n changes, with the parameters $1 tenant and
// then changesArgs' of each.
func (s *Store) insertChangesSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO ` + s.t("changes") + ` (tenant, ` + changeColumns + `, version) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		first := 2 + (changeArgCount+1)*i
		b.WriteString("($1, " + changeValuesSQL(first, "$"+strconv.Itoa(first+changeArgCount)) + ")")
	}
	return b.String()
}

// changesArgs returns the parameters of insertChangesSQL: each change's
// changeArgs and its version (none after a delete).
func (s *Store) changesArgs(tenant string, changes []scim.Change) []any {
	at := s.now()
	args := make([]any, 0, 1+(changeArgCount+1)*len(changes))
	args = append(args, tenant)
	for _, c := range changes {
		var version *string
		if c.Version != "" {
			version = &c.Version
		}
		args = append(args, changeArgs(c, at)...)
		args = append(args, version)
	}
	return args
}

// record writes the changes of a write in its transaction, after the
// write took its locks: one statement.
func (s *Store) record(ctx context.Context, tx pgx.Tx, tenant string, changes ...scim.Change) error {
	if s.feed.off || len(changes) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, s.insertChangesSQL(len(changes)), s.changesArgs(tenant, changes)...)
	return err
}

// sequenceSoon has the n changes a write committed sequenced (which wakes
// the feed's waiters in every process).
func (s *Store) sequenceSoon(n int) {
	if s.feed.off || n == 0 {
		return
	}
	s.feed.sequencer.ask(&s.background, s.sequenceInBackground)
}

// sequenceInBackground is the background sequencer's run.
func (s *Store) sequenceInBackground() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.sequence(ctx); err != nil {
		s.logger.WarnContext(ctx, "postgres: sequencing the change feed failed; readers will", "err", err)
	}
}

// positionsGiven runs after a sequencer run gave n changes their
// positions and has the feed pruned now and then. It counts positions,
// not writes: a prune then always finds sequenced the changes it is to
// drop, however far the sequencer lags behind the writers.
func (s *Store) positionsGiven(n int64) {
	every := uint64(max(1, min(s.feed.retention.MaxCount/4, 1000)))
	total := s.feed.sequenced.Add(uint64(n))
	stale := time.Since(time.Unix(0, s.feed.lastPrune.Load())) > max(time.Minute, s.feed.retention.MaxAge/100)
	if total/every == (total-uint64(n))/every && !stale {
		return
	}
	s.feed.pruner.ask(&s.background, s.pruneInBackground)
}

// pruneInBackground is the background pruner's run.
func (s *Store) pruneInBackground() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Prune(ctx); err != nil {
		s.logger.WarnContext(ctx, "postgres: pruning the change feed failed", "err", err)
	}
}

// feedPlans sets, for its transaction, the plans of the feed's
// statements: they touch a few rows of a large table through its
// indexes, which a planner without statistics (a new table, a server
// without autovacuum) would not see, and at the costs that then follow
// JIT compilation would take half a second a statement. Plain index
// scans, not bitmap scans: they skip the index entries of rows the
// sequencer has given a position since (until a vacuum removes them)
// once one scan has marked them dead; a bitmap scan visits them all,
// every time.
const feedPlans = `SELECT set_config('jit', 'off', true), set_config('enable_seqscan', 'off', true),
	set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true), set_config('enable_bitmapscan', 'off', true)`

// sequence gives the committed changes without a position theirs, in seq
// order, wakes the waiters if it gave any, and reports how many (which
// count toward the next prune, positionsGiven).
//
// It is one round trip, one (implicit) transaction: the advisory lock
// that makes runs one at a time, feedPlans, then the update, whose
// NOTIFY is delivered at commit. The update finds its rows by ctid, which
// no one else changes while the lock is held: a join on seq would be
// planned, without hash and merge joins, as a nested loop comparing every
// row with every other.
func (s *Store) sequence(ctx context.Context) (int64, error) {
	var n int64
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "scimkit/postgres:feed:"+s.schemaName)
	b.Queue(feedPlans)
	b.Queue(`WITH todo AS (
			SELECT ctid, row_number() OVER (ORDER BY seq) AS n FROM (
				SELECT ctid, seq FROM `+s.t("changes")+` WHERE pos IS NULL ORDER BY seq LIMIT 10000) u),
		base AS (
			SELECT greatest((SELECT max(pos) FROM `+s.t("changes")+`), (SELECT pos FROM `+s.t("changes_pruned")+`), 0) AS pos),
		upd AS (
			UPDATE `+s.t("changes")+` c SET pos = base.pos + todo.n
			FROM todo, base WHERE c.ctid = todo.ctid
			RETURNING 1)
		SELECT count(*), CASE WHEN count(*) > 0 THEN pg_notify($1, '')::text END FROM upd`, s.channelName()).QueryRow(func(row pgx.Row) error {
		var notified *string // pg_notify returns void
		return row.Scan(&n, &notified)
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return 0, wrap(ctx, "sequence changes", err)
	}
	if n > 0 {
		s.positionsGiven(n)
	}
	return n, nil
}

// channelName is the LISTEN/NOTIFY channel of the store's feed; channel
// is it as an identifier.
func (s *Store) channelName() string { return "scimkit_changes:" + s.schemaName }
func (s *Store) channel() string     { return pgx.Identifier{s.channelName()}.Sanitize() }

// Prune deletes the changes the feed's retention no longer keeps. The
// store calls it on its own as changes are recorded; a host may call it
// from a job of its own.
//
// The cut costs the same however many changes the feed keeps: positions
// are dense (each sequencer run continues from the last position given,
// and only Prune deletes, oldest first), so all but the newest MaxCount
// are those up to the last position minus MaxCount, and the changes
// older than MaxAge are those before the oldest newer one, which the
// scan from the oldest reaches after only the changes it then deletes.
// Counting MaxCount changes back instead read every change the feed
// keeps (up to a million) at every prune.
func (s *Store) Prune(ctx context.Context) error {
	if s.feed.off {
		return errFeedOff
	}
	s.feed.lastPrune.Store(time.Now().UnixNano())
	_, err := s.pool.Exec(ctx, `WITH last AS (
			SELECT max(pos) AS pos FROM `+s.t("changes")+`),
		cut AS (
			SELECT greatest(
				(SELECT pos FROM last) - $1::bigint,
				coalesce(
					(SELECT pos FROM `+s.t("changes")+` WHERE pos IS NOT NULL AND at >= $2 ORDER BY pos LIMIT 1) - 1,
					(SELECT pos FROM last))) AS pos),
		gone AS (
			DELETE FROM `+s.t("changes")+` WHERE pos <= (SELECT pos FROM cut) RETURNING pos)
		UPDATE `+s.t("changes_pruned")+` SET pos = greatest(pos, (SELECT max(pos) FROM gone))
		WHERE EXISTS (SELECT 1 FROM gone)`,
		s.feed.retention.MaxCount, s.now().Add(-s.feed.retention.MaxAge))
	return wrap(ctx, "prune changes", err)
}

// Changes implements scim.ChangeFeed: the changes after q.After, of the
// context's tenant or (q.AllTenants) of all, in the order the sequencer
// gave them positions. When it finds fewer than asked and committed
// changes wait for a position, it runs the sequencer and reads again.
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
	out, pending, err := s.readChanges(ctx, int64(after), limit, q)
	if err == nil && pending && len(out) < limit {
		if _, err = s.sequence(ctx); err == nil {
			out, _, err = s.readChanges(ctx, int64(after), limit, q)
		}
	}
	return out, err
}

// readChanges reads one page of sequenced changes after after, and
// whether committed changes wait for a position.
func (s *Store) readChanges(ctx context.Context, after int64, limit int, q scim.ChangeQuery) ([]scim.Change, bool, error) {
	where := `c.pos > $1 AND c.tenant = $3`
	if q.AllTenants {
		where = `c.pos > $1 AND $3::text IS NOT NULL`
	}
	b := &pgx.Batch{}
	b.Queue(feedPlans)
	b.Queue(`WITH p AS (
			SELECT pos AS pruned,
				greatest(pos, (SELECT max(pos) FROM `+s.t("changes")+`)) AS last,
				EXISTS (SELECT 1 FROM `+s.t("changes")+` WHERE pos IS NULL) AS pending
			FROM `+s.t("changes_pruned")+`)
		SELECT p.pruned, p.last, p.pending, c.pos, coalesce(c.tenant, ''), coalesce(c.at, 'epoch'),
			coalesce(c.type, ''), coalesce(c.id, ''), c.external_id, coalesce(c.op, ''), coalesce(c.activated, false),
			coalesce(c.deactivated, false), coalesce(c.cascade, false), c.added, c.removed, c.attributes, c.version,
			coalesce(c.principal, ''), coalesce(c.request_id, ''), coalesce(c.txn, '')
		FROM p LEFT JOIN LATERAL (
			SELECT * FROM `+s.t("changes")+` c WHERE `+where+` ORDER BY c.pos LIMIT $2) c ON true
		ORDER BY c.pos`, after, limit, scim.TenantFrom(ctx))
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return nil, false, wrap(ctx, "read changes", err)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, false, wrap(ctx, "read changes", err)
	}
	defer rows.Close()
	var (
		out     []scim.Change
		pending bool
	)
	for rows.Next() {
		var (
			pruned, last int64
			pos          *int64
			c            changeRow
		)
		if err := rows.Scan(&pruned, &last, &pending, &pos, &c.tenant, &c.at, &c.typ, &c.id, &c.externalID, &c.op,
			&c.activated, &c.deactivated, &c.cascade, &c.added, &c.removed, &c.attributes, &c.version, &c.principal, &c.requestID, &c.txn); err != nil {
			return nil, false, wrap(ctx, "read changes", err)
		}
		switch {
		case after > last:
			return nil, false, fmt.Errorf("postgres: position %q is ahead of the feed: %w", scim.FormatPosition(uint64(after)), scim.ErrInvalidPosition)
		case after != 0 && after < pruned:
			return nil, false, fmt.Errorf("postgres: position %q: %w", scim.FormatPosition(uint64(after)), scim.ErrPositionExpired)
		case pos != nil:
			out = append(out, c.change(uint64(*pos)))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, wrap(ctx, "read changes", err)
	}
	return out, pending, nil
}

// changeRow is a row of the changes table as Changes scans it.
type changeRow struct {
	tenant, typ, id, op, principal, requestID, txn string
	externalID, version                            *string
	at                                             time.Time
	activated, deactivated, cascade                bool
	added, removed, attributes                     []string
}

func (r changeRow) change(pos uint64) scim.Change {
	c := scim.Change{
		Position: scim.FormatPosition(pos), Tenant: r.tenant, Type: r.typ, ID: r.id, Op: scim.ChangeOp(r.op),
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

// WaitChanges implements scim.ChangeFeed: it returns at once when a
// change after the position has one, after running the sequencer when
// committed changes wait for a position, and else waits for the NOTIFY
// the sequencer sends (through the store's one listening connection).
func (s *Store) WaitChanges(ctx context.Context, q scim.ChangeQuery) error {
	if s.feed.off {
		return errFeedOff
	}
	n, err := scim.ParsePosition(q.After)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	for {
		if found, err := s.waitOnce(ctx, int64(n), q); found || err != nil {
			return err
		}
	}
}

// waitOnce is one look of WaitChanges: found when a change after n has a
// position, or once committed changes waiting for one got theirs; else it
// waits for the next notification (found false: look again).
func (s *Store) waitOnce(ctx context.Context, n int64, q scim.ChangeQuery) (found bool, err error) {
	// Subscribed before looking, so that a change committed meanwhile
	// wakes the wait.
	wake, done, err := s.subscribe(ctx)
	if err != nil {
		return false, err
	}
	defer done()
	var ready, pending bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+s.t("changes")+` WHERE pos > $1 AND ($2 OR tenant = $3)),
		EXISTS (SELECT 1 FROM `+s.t("changes")+` WHERE pos IS NULL)`, n, q.AllTenants, scim.TenantFrom(ctx)).Scan(&ready, &pending); err != nil {
		return false, wrap(ctx, "wait for changes", err)
	}
	switch {
	case ready:
		return true, nil
	case pending:
		_, err := s.sequence(ctx)
		return false, err
	}
	select {
	case <-wake:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// Head implements scim.ChangeFeed: the newest position, once every change
// committed so far has one, so that a reader that calls Head, then lists
// the resources, then reads the changes after the position misses
// nothing (a write still running then gets a later position).
func (s *Store) Head(ctx context.Context) (string, error) {
	if s.feed.off {
		return "", errFeedOff
	}
	if _, err := s.sequence(ctx); err != nil {
		return "", err
	}
	var last int64
	if err := s.pool.QueryRow(ctx, `SELECT greatest(pos, (SELECT max(pos) FROM `+s.t("changes")+`)) FROM `+s.t("changes_pruned")).Scan(&last); err != nil {
		return "", wrap(ctx, "read the feed's head", err)
	}
	if last == 0 {
		return "", nil
	}
	return scim.FormatPosition(uint64(last)), nil
}
