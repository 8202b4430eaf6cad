package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/scimkit/scim"
)

// lockMembers checks that every member names a User or Group of the
// tenant, sets each row's member type, and takes a key-share lock on the
// members' rows, in a fixed order, until the transaction ends: a Delete of
// a member (which locks its row for update first) waits for the write, or
// the write waits for the Delete and then finds the member gone. A member
// that names nothing is a *scim.MemberNotFoundError.
//
// Locking the members before the Group everywhere keeps the order of locks
// the same in every transaction, so that member writes and deletes do not
// deadlock one another.
func (s *Store) lockMembers(ctx context.Context, tx pgx.Tx, tenant string, members []memberRow) error {
	if len(members) == 0 {
		return nil
	}
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.id
	}
	rows, err := tx.Query(ctx, `SELECT type, id FROM `+s.t("resources")+`
		WHERE tenant = $1 AND type IN ('User', 'Group') AND id = ANY($2::text[])
		ORDER BY type, id FOR KEY SHARE`, tenant, ids)
	if err != nil {
		return err
	}
	found := make(map[string][2]bool, len(members)) // id → is a User, is a Group
	for rows.Next() {
		var typ, id string
		if err := rows.Scan(&typ, &id); err != nil {
			rows.Close()
			return err
		}
		f := found[id]
		if typ == userType {
			f[0] = true
		} else {
			f[1] = true
		}
		found[id] = f
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range members {
		m := &members[i]
		f := found[m.id]
		switch {
		case m.typeHint == groupType && f[1], !f[0] && f[1]:
			m.typeHint = groupType
		case f[0]:
			m.typeHint = userType
		default:
			return &scim.MemberNotFoundError{ID: m.id}
		}
	}
	return nil
}

// insertMembers adds member rows to the Group id (whose members
// lockMembers checked), leaving members already present as they are
// unless update is set. It returns the ids of the rows it wrote.
func (s *Store) insertMembers(ctx context.Context, tx pgx.Tx, tenant, groupID string, members []memberRow, update bool) ([]string, error) {
	if len(members) == 0 {
		return nil, nil
	}
	n := len(members)
	types, ids, folded, values, foldedValues := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, m := range members {
		types[i], ids[i], folded[i], values[i], foldedValues[i] = m.typeHint, m.id, m.folded, m.value, m.foldedJSON
	}
	conflict := `DO NOTHING`
	if update {
		conflict = `DO UPDATE SET member_type = EXCLUDED.member_type, value = EXCLUDED.value, folded = EXCLUDED.folded
			WHERE m.member_type <> EXCLUDED.member_type OR m.value <> EXCLUDED.value`
	}
	rows, err := tx.Query(ctx, `INSERT INTO `+s.t("members")+` AS m
			(tenant, group_id, member_type, member_id, member_folded, value, folded)
		SELECT $1, $2, x.t, x.i, x.f, x.v::jsonb, x.fv::jsonb
		FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS x(t, i, f, v, fv, n)
		ORDER BY x.n
		ON CONFLICT (tenant, group_id, member_id) `+conflict+`
		RETURNING m.member_id`,
		tenant, groupID, types, ids, folded, values, foldedValues)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// syncMembers makes the member rows of the Group id those of members:
// rows of other ids are deleted, the others inserted or updated. Members
// that stay keep their rows.
func (s *Store) syncMembers(ctx context.Context, tx pgx.Tx, tenant, groupID string, members []memberRow) error {
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.id
	}
	if _, err := tx.Exec(ctx, `DELETE FROM `+s.t("members")+`
		WHERE tenant = $1 AND group_id = $2 AND NOT (member_id = ANY($3::text[]))`, tenant, groupID, ids); err != nil {
		return err
	}
	_, err := s.insertMembers(ctx, tx, tenant, groupID, members, true)
	return err
}

// PatchMembers implements scim.MembershipPatcher for Groups: adding or
// removing a member is a row insert or delete and a version bump of the
// Group, whatever its size. A member to add that names no User or Group of
// the tenant is a *scim.MemberNotFoundError, and nothing is written. It
// returns the Group's Meta after the change, the ids it really added and
// removed, in the order of change, and its displayName (read by the same
// statement, under the Group's lock).
//
// It is one round trip: a batch of statements that the database runs as
// one (implicit) transaction, with generic plans (set for the transaction
// only: planning the large statement on every call would cost more than
// running it). The first two lock the members to
// add (key share, in the order every Group write locks them) and then the
// Group (no key update); the third, with a snapshot taken once it holds
// the locks, checks the version, the members and (MustBeMembers) the
// members to remove, and only when all hold deletes and inserts the rows
// (RETURNING says which changed) and bumps the Group's version and
// lastModified if any did.
func (s *Store) PatchMembers(ctx context.Context, resourceType, id string, change scim.MembershipChange, expectedVersion string) (scim.MembershipResult, error) {
	if err := ctx.Err(); err != nil {
		return scim.MembershipResult{}, err
	}
	if resourceType != groupType {
		return s.patchDocMembers(ctx, resourceType, id, change, expectedVersion)
	}
	add := make([]memberRow, 0, len(change.Add))
	seen := make(map[string]bool, len(change.Add))
	for i, m := range change.Add {
		row, err := newMemberRow(m)
		if err != nil {
			return scim.MembershipResult{}, fmt.Errorf("postgres: PatchMembers of Group %q, member %d: %w", id, i, err)
		}
		if !seen[row.id] {
			seen[row.id] = true
			add = append(add, row)
		}
	}
	remove := make([]string, 0, len(change.Remove))
	for _, r := range change.Remove {
		if !seen[r] {
			seen[r] = true
			remove = append(remove, r)
		}
	}
	n := len(add)
	ids, hints, folded, values, foldedValues := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, m := range add {
		ids[i], hints[i], folded[i], values[i], foldedValues[i] = m.id, m.typeHint, m.folded, m.value, m.foldedJSON
	}
	tenant := scim.TenantFrom(ctx)
	var (
		res     scim.MembershipResult
		err     error
		outcome patchOutcome
	)
	if len(s.txHooks) > 0 {
		err = s.inTx(ctx, "patch members", func(tx pgx.Tx) error {
			var err error
			outcome, err = s.patchMembersOnce(ctx, tx, tenant, id, change, expectedVersion, ids, hints, folded, values, foldedValues, remove)
			if err != nil || outcome.newVersion == nil {
				return err
			}
			after, err := s.groupWithoutMembers(ctx, tx, tenant, id)
			if err != nil {
				return err
			}
			before := after.Clone()
			before.Meta = outcome.meta
			c := scim.ChangeFor(ctx, scim.ChangePatch, after)
			c.Added = inOrder(outcome.added, add, func(m memberRow) string { return m.id })
			c.Removed = inOrder(outcome.removed, remove, func(id string) string { return id })
			return s.runTxHooks(ctx, tx, TxWrite{Change: c, Before: before, After: after})
		})
	} else {
		for attempt := 1; ; attempt++ {
			outcome, err = s.patchMembersOnce(ctx, s.pool, tenant, id, change, expectedVersion, ids, hints, folded, values, foldedValues, remove)
			if err == nil || !retryable(err) || attempt == maxAttempts || ctx.Err() != nil {
				break
			}
			s.logger.DebugContext(ctx, "postgres: retrying transaction", "op", "patch members", "attempt", attempt, "err", err)
		}
	}
	if err == nil {
		switch {
		case outcome.stored == nil:
			err = notFound(resourceType, id)
		case expectedVersion != "" && *outcome.stored != expectedVersion:
			err = versionMismatch(resourceType, id, *outcome.stored, expectedVersion)
		case outcome.missing != nil:
			err = &scim.MemberNotFoundError{ID: *outcome.missing}
		case !outcome.ok:
			err = fmt.Errorf("postgres: Group %q: a member to remove is not a member: %w", id, scim.ErrNoTarget)
		}
	}
	if err != nil {
		return scim.MembershipResult{}, wrap(ctx, "patch members of "+resourceType, err)
	}
	res.Meta = outcome.meta
	if outcome.displayName != nil {
		res.DisplayName = *outcome.displayName
	}
	if outcome.newVersion != nil {
		res.Meta.Version, res.Meta.LastModified = *outcome.newVersion, outcome.newModified
		res.Added = inOrder(outcome.added, add, func(m memberRow) string { return m.id })
		res.Removed = inOrder(outcome.removed, remove, func(id string) string { return id })
		s.committed(1)
	}
	res.Meta.Created, res.Meta.LastModified = utc(res.Meta.Created), utc(res.Meta.LastModified)
	return res, nil
}

// patchOutcome is what the statement of PatchMembers found and did.
type patchOutcome struct {
	stored         *string // the Group's version before; nil when it is missing
	meta           scim.Meta
	ok             bool    // every check held, and the change was applied
	missing        *string // the first member to add that names nothing
	removed, added []string
	newVersion     *string // set when the members changed
	newModified    time.Time
	displayName    *string // the Group's, as the statement read it
}

// patchSQL is the statement of PatchMembers that checks and writes, with
// parameters tenant, Group id, the members to add (ids, type hints, folded
// ids, values, folded values), the expected version, MustBeMembers, the
// ids to remove and the new lastModified; and, withChange, the change's
// time, principal, request id and transaction id (it records the change
// if the members changed; its number is drawn under the Group's lock,
// which the batch took before).
func (s *Store) patchSQL(withChange bool) string {
	change := ``
	if withChange {
		change = `,
		chg AS (
			INSERT INTO ` + s.t("changes") + ` (tenant, ` + changeColumns + `, version)
			SELECT $1, $12, 'Group', $2, (SELECT external_id FROM g),
				'patch', false, false, false, ARRAY(SELECT member_id FROM ins ORDER BY member_id), ARRAY(SELECT member_id FROM del ORDER BY member_id),
				ARRAY['members'], $13, $14, $15, upd.version
			FROM upd)`
	}
	return `WITH g AS (
			SELECT version, created, last_modified, external_id, attrs->>'displayName' AS dn FROM ` + s.t("resources") + ` WHERE tenant = $1 AND type = 'Group' AND id = $2),
		a AS (
			-- The members to add with their type: a Group if hinted so
			-- and one exists, or if only a Group has the id; else a User.
			SELECT x.i, x.n, x.f, x.v, x.fv,
				CASE WHEN e.gr AND (x.h = 'Group' OR NOT e.u) THEN 'Group' WHEN e.u THEN 'User' END AS typ
			FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS x(i, h, f, v, fv, n)
			LEFT JOIN (
				SELECT r.id, bool_or(r.type = 'User') AS u, bool_or(r.type = 'Group') AS gr
				FROM ` + s.t("resources") + ` r WHERE r.tenant = $1 AND r.type IN ('User', 'Group') AND r.id = ANY($3::text[])
				GROUP BY r.id) e ON e.id = x.i),
		ok AS (
			SELECT EXISTS (SELECT 1 FROM g WHERE $8 = '' OR g.version = $8)
				AND NOT EXISTS (SELECT 1 FROM a WHERE a.typ IS NULL)
				AND (NOT $9::boolean OR (SELECT count(*) FROM ` + s.t("members") + `
					WHERE tenant = $1 AND group_id = $2 AND member_id = ANY($10::text[])) = cardinality($10::text[])) AS ok),
		del AS (
			DELETE FROM ` + s.t("members") + `
			WHERE tenant = $1 AND group_id = $2 AND member_id = ANY($10::text[]) AND (SELECT ok FROM ok)
			RETURNING member_id),
		ins AS (
			INSERT INTO ` + s.t("members") + ` AS m (tenant, group_id, member_type, member_id, member_folded, value, folded)
			SELECT $1, $2, a.typ, a.i, a.f, a.v::jsonb, a.fv::jsonb FROM a WHERE (SELECT ok FROM ok)
			ORDER BY a.n
			ON CONFLICT (tenant, group_id, member_id) DO NOTHING
			RETURNING m.member_id),
		upd AS (
			UPDATE ` + s.t("resources") + ` SET version = ` + newVersion + `, last_modified = $11
			WHERE tenant = $1 AND type = 'Group' AND id = $2 AND (EXISTS (SELECT 1 FROM del) OR EXISTS (SELECT 1 FROM ins))
			RETURNING version, last_modified)` + change + `
		SELECT g.version, g.created, g.last_modified, (SELECT ok FROM ok),
			(SELECT a.i FROM a WHERE a.typ IS NULL ORDER BY a.n LIMIT 1),
			ARRAY(SELECT member_id FROM del), ARRAY(SELECT member_id FROM ins),
			(SELECT version FROM upd), (SELECT last_modified FROM upd), g.dn
		FROM (SELECT 1) one LEFT JOIN g ON TRUE`
}

// batcher is what patchMembersOnce sends its batch on: the pool (an
// implicit transaction) or a transaction.
type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// patchMembersOnce sends the batch of PatchMembers (see there) on q.
func (s *Store) patchMembersOnce(ctx context.Context, q batcher, tenant, id string, change scim.MembershipChange, expectedVersion string,
	ids, hints, folded, values, foldedValues, remove []string) (patchOutcome, error) {
	var o patchOutcome
	batch := &pgx.Batch{}
	// Generic plans for the batch's statements (until its transaction
	// ends): they are index lookups whatever the arrays hold, and the
	// planner would otherwise plan the large statement anew on every call,
	// which costs more than running it.
	batch.Queue(`SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`)
	if len(ids) > 0 {
		batch.Queue(`SELECT 1 FROM `+s.t("resources")+`
			WHERE tenant = $1 AND type IN ('User', 'Group') AND id = ANY($2::text[])
			ORDER BY type, id FOR KEY SHARE`, tenant, ids)
	}
	batch.Queue(`SELECT 1 FROM `+s.t("resources")+` WHERE tenant = $1 AND type = 'Group' AND id = $2 FOR NO KEY UPDATE`, tenant, id)
	args := []any{tenant, id, ids, hints, folded, values, foldedValues, expectedVersion, change.MustBeMembers, remove, change.LastModified}
	if !s.feed.off {
		c := scim.ChangeFor(ctx, scim.ChangePatch, &scim.Resource{Type: groupType, ID: id})
		args = append(args, s.now(), c.Principal, c.RequestID, c.Txn)
	}
	batch.Queue(s.patchSQL(!s.feed.off), args...).QueryRow(func(row pgx.Row) error {
		var (
			created, modified, newModified *time.Time
		)
		if err := row.Scan(&o.stored, &created, &modified, &o.ok, &o.missing, &o.removed, &o.added, &o.newVersion, &newModified, &o.displayName); err != nil {
			return err
		}
		if o.stored != nil {
			o.meta = scim.Meta{Version: *o.stored, Created: *created, LastModified: *modified}
		}
		if newModified != nil {
			o.newModified = *newModified
		}
		return nil
	})
	return o, q.SendBatch(ctx, batch).Close()
}

// inOrder returns the ids of got in the order of the list they came from,
// nil when there are none.
func inOrder[T any](got []string, list []T, id func(T) string) []string {
	if len(got) == 0 {
		return nil
	}
	in := make(map[string]bool, len(got))
	for _, g := range got {
		in[g] = true
	}
	out := make([]string, 0, len(got))
	for _, e := range list {
		if in[id(e)] {
			out = append(out, id(e))
		}
	}
	return out
}

// patchDocMembers applies a membership change to a resource of a type
// other than Group, whose "members" are part of its document: a
// read-modify-write of the document under a row lock.
func (s *Store) patchDocMembers(ctx context.Context, typ, id string, change scim.MembershipChange, expectedVersion string) (scim.MembershipResult, error) {
	tenant := scim.TenantFrom(ctx)
	var res scim.MembershipResult
	err := s.inTx(ctx, "patch members", func(tx pgx.Tx) error {
		res = scim.MembershipResult{}
		var raw []byte
		err := tx.QueryRow(ctx, `SELECT version, created, last_modified, attrs FROM `+s.t("resources")+`
			WHERE tenant = $1 AND type = $2 AND id = $3 FOR NO KEY UPDATE`, tenant, typ, id).
			Scan(&res.Meta.Version, &res.Meta.Created, &res.Meta.LastModified, &raw)
		if isNoRows(err) {
			return notFound(typ, id)
		}
		if err != nil {
			return err
		}
		if expectedVersion != "" && res.Meta.Version != expectedVersion {
			return versionMismatch(typ, id, res.Meta.Version, expectedVersion)
		}
		attrs, err := decodeDoc(raw)
		if err != nil {
			return err
		}
		res.DisplayName, _ = attrs["displayName"].(string)
		var before *scim.Resource
		if len(s.txHooks) > 0 {
			before = (&scim.Resource{Type: typ, ID: id, Attributes: attrs, Meta: res.Meta}).Clone()
		}
		list, _ := attrs[membersAttr].([]any)
		at := map[string]int{}
		for i, m := range list {
			mm, _ := m.(map[string]any)
			if v, ok := mm["value"].(string); ok {
				if _, dup := at[v]; !dup {
					at[v] = i
				}
			}
		}
		var added, removed []string
		drop := map[int]bool{}
		for _, r := range change.Remove {
			i, ok := at[r]
			switch {
			case ok && !drop[i]:
				drop[i] = true
				removed = append(removed, r)
			case !ok && change.MustBeMembers:
				return fmt.Errorf("postgres: %s %q has no member %q: %w", typ, id, r, scim.ErrNoTarget)
			}
		}
		kept := make([]any, 0, len(list)+len(change.Add))
		for i, m := range list {
			if !drop[i] {
				kept = append(kept, m)
			}
		}
		for _, m := range change.Add {
			v, _ := m["value"].(string)
			if _, ok := at[v]; ok || v == "" {
				continue
			}
			at[v] = -1
			c := make(map[string]any, len(m))
			for k, e := range m {
				c[k] = e
			}
			kept = append(kept, c)
			added = append(added, v)
		}
		if len(added) == 0 && len(removed) == 0 {
			return nil
		}
		attrs[membersAttr] = kept
		doc, err := encodeResource(&scim.Resource{Type: typ, ID: id, Attributes: attrs})
		if err != nil {
			return err
		}
		res.Added, res.Removed = added, removed
		if err := tx.QueryRow(ctx, `UPDATE `+s.t("resources")+` SET version = `+newVersion+`, last_modified = $4,
				attrs = $5::jsonb, folded = $6::jsonb, times = $7::jsonb
			WHERE tenant = $1 AND type = $2 AND id = $3 RETURNING version, last_modified`,
			tenant, typ, id, change.LastModified, doc.attrs, doc.folded, doc.times).Scan(&res.Meta.Version, &res.Meta.LastModified); err != nil {
			return err
		}
		after := &scim.Resource{Type: typ, ID: id, Attributes: attrs, Meta: res.Meta}
		c := scim.ChangeFor(ctx, scim.ChangePatch, after)
		c.Added, c.Removed, c.Attributes = added, removed, []string{membersAttr}
		if len(s.txHooks) > 0 {
			if err := s.runTxHooks(ctx, tx, TxWrite{Change: c, Before: before, After: after.Clone()}); err != nil {
				return err
			}
		}
		return s.record(ctx, tx, tenant, c)
	})
	if err != nil {
		return scim.MembershipResult{}, wrap(ctx, "patch members of "+typ, err)
	}
	if res.Added != nil || res.Removed != nil {
		s.committed(1)
	}
	res.Meta.Created, res.Meta.LastModified = utc(res.Meta.Created), utc(res.Meta.LastModified)
	return res, nil
}
