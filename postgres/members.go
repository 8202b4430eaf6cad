package postgres

import (
	"context"
	"fmt"

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
// returns the Group's Meta after the change and the ids it really added
// and removed, in the order of change.
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
	tenant := scim.TenantFrom(ctx)
	var res scim.MembershipResult
	err := s.inTx(ctx, "patch members", func(tx pgx.Tx) error {
		res = scim.MembershipResult{}
		meta := &res.Meta
		if err := s.lockMembers(ctx, tx, tenant, add); err != nil {
			return s.memberError(ctx, tx, tenant, resourceType, id, expectedVersion, err)
		}
		err := tx.QueryRow(ctx, `SELECT version, created, last_modified FROM `+s.t("resources")+`
			WHERE tenant = $1 AND type = 'Group' AND id = $2 FOR NO KEY UPDATE`, tenant, id).
			Scan(&meta.Version, &meta.Created, &meta.LastModified)
		if isNoRows(err) {
			return notFound(resourceType, id)
		}
		if err != nil {
			return err
		}
		if expectedVersion != "" && meta.Version != expectedVersion {
			return versionMismatch(resourceType, id, meta.Version, expectedVersion)
		}
		var removed, added []string
		if len(remove) > 0 {
			rows, err := tx.Query(ctx, `DELETE FROM `+s.t("members")+`
				WHERE tenant = $1 AND group_id = $2 AND member_id = ANY($3::text[]) RETURNING member_id`, tenant, id, remove)
			if err != nil {
				return err
			}
			if removed, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
				return err
			}
			if change.MustBeMembers && len(removed) != len(remove) {
				return fmt.Errorf("postgres: Group %q: a member to remove is not a member: %w", id, scim.ErrNoTarget)
			}
		}
		if added, err = s.insertMembers(ctx, tx, tenant, id, add, false); err != nil {
			return err
		}
		if len(removed) == 0 && len(added) == 0 {
			return nil
		}
		res.Added = inOrder(added, add, func(m memberRow) string { return m.id })
		res.Removed = inOrder(removed, remove, func(id string) string { return id })
		return tx.QueryRow(ctx, `UPDATE `+s.t("resources")+` SET version = `+newVersion+`, last_modified = $3
			WHERE tenant = $1 AND type = 'Group' AND id = $2 RETURNING version, last_modified`,
			tenant, id, change.LastModified).Scan(&meta.Version, &meta.LastModified)
	})
	if err != nil {
		return scim.MembershipResult{}, wrap(ctx, "patch members of "+resourceType, err)
	}
	res.Meta.Created, res.Meta.LastModified = utc(res.Meta.Created), utc(res.Meta.LastModified)
	return res, nil
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
		return tx.QueryRow(ctx, `UPDATE `+s.t("resources")+` SET version = `+newVersion+`, last_modified = $4,
				attrs = $5::jsonb, folded = $6::jsonb, times = $7::jsonb
			WHERE tenant = $1 AND type = $2 AND id = $3 RETURNING version, last_modified`,
			tenant, typ, id, change.LastModified, doc.attrs, doc.folded, doc.times).Scan(&res.Meta.Version, &res.Meta.LastModified)
	})
	if err != nil {
		return scim.MembershipResult{}, wrap(ctx, "patch members of "+typ, err)
	}
	res.Meta.Created, res.Meta.LastModified = utc(res.Meta.Created), utc(res.Meta.LastModified)
	return res, nil
}
