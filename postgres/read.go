package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/scimkit/scim"
)

// selection is the column list that reads resources of one type, and what
// it reads besides the resources' own row.
type selection struct {
	cols    string
	groups  bool // a User's computed groups
	members bool // a Group's member rows
}

// selectList returns the columns that read resources of typ from the
// relation alias (which has the columns of the resources table): a User's
// groups, found through the member index, if withGroups; a Group's members
// if withMembers. Other types have neither.
func (s *Store) selectList(typ, alias string, withGroups, withMembers bool) selection {
	sel := selection{cols: alias + ".id, " + alias + ".version, " + alias + ".created, " + alias + ".last_modified, " + alias + ".attrs"}
	if typ == userType && withGroups {
		sel.groups = true
		sel.cols += ", " + s.groupsAgg(alias)
	}
	if typ == groupType && withMembers {
		sel.members = true
		sel.cols += `, (SELECT jsonb_agg(m.value ORDER BY m.seq) FROM ` + s.t("members") + ` m
			WHERE m.tenant = ` + alias + `.tenant AND m.group_id = ` + alias + `.id)`
	}
	return sel
}

// groupsAgg is the SQL of the computed "groups" of the User alias, as a
// jsonb array, or NULL.
func (s *Store) groupsAgg(alias string) string {
	return `(SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
			'value', g.id,
			'display', CASE WHEN jsonb_typeof(g.attrs->'displayName') = 'string' THEN g.attrs->'displayName' END,
			'type', 'direct')) ORDER BY g.seq)
		FROM ` + s.t("members") + ` m JOIN ` + s.t("resources") + ` g
			ON g.tenant = m.tenant AND g.type = 'Group' AND g.id = m.group_id
		WHERE m.tenant = ` + alias + `.tenant AND m.member_id = ` + alias + `.id AND m.member_type = 'User')`
}

// scan reads one resource of typ selected by sel, after the columns
// before, which it scans into their destinations.
func (sel selection) scan(row pgx.Row, typ string, before ...any) (*scim.Resource, error) {
	var (
		res                   = &scim.Resource{Type: typ}
		created, modified     time.Time
		attrs, groups, member []byte
	)
	dest := append(before, &res.ID, &res.Meta.Version, &created, &modified, &attrs)
	if sel.groups {
		dest = append(dest, &groups)
	}
	if sel.members {
		dest = append(dest, &member)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	res.Meta.Created, res.Meta.LastModified = created.UTC(), modified.UTC()
	var err error
	if res.Attributes, err = decodeDoc(attrs); err != nil {
		return nil, err
	}
	if res.Attributes == nil {
		res.Attributes = map[string]any{}
	}
	switch typ {
	case userType:
		if sel.groups {
			gs, err := decodeList(groups)
			if err != nil {
				return nil, err
			}
			if len(gs) > 0 {
				res.Attributes[groupsAttr] = gs
			}
		}
	case groupType:
		if !sel.members {
			delete(res.Attributes, membersAttr)
			break
		}
		ms, err := decodeList(member)
		if err != nil {
			return nil, err
		}
		if len(ms) > 0 {
			res.Attributes[membersAttr] = ms
		}
	}
	return res, nil
}

// groupsOf returns the computed "groups" of the User id.
func (s *Store) groupsOf(ctx context.Context, tx pgx.Tx, tenant, id string) ([]any, error) {
	var raw []byte
	err := tx.QueryRow(ctx, `SELECT `+s.groupsAgg("u")+` FROM (SELECT $1::text AS tenant, $2::text AS id) u`, tenant, id).Scan(&raw)
	if err != nil {
		return nil, err
	}
	return decodeList(raw)
}
