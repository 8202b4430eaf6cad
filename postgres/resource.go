package postgres

import (
	"fmt"
	"time"

	"github.com/scimkit/scim"
)

// encoded is a resource in the form the tables hold it.
type encoded struct {
	// attrs is the attributes document as JSON; folded the same with
	// every string value case-folded by scim.FoldCase.
	attrs, folded string
	// times is the document dateTime comparisons read (see encodeTimes),
	// nil when the attributes hold no dateTime.
	times *string
	// The indexed columns; nil is NULL.
	idFolded                          string
	userName, externalID, displayName *string
	// members are a Group's members, kept as rows; list is what the
	// resource holds after dropping repeated ids.
	members []memberRow
	list    []any
}

// memberRow is one member of a Group as the members table holds it.
type memberRow struct {
	id, folded string
	typeHint   string // the member's "type" sub-attribute, if any
	value      string // the member value as JSON
	foldedJSON string
}

// encodeResource prepares res for the tables: a User's "groups" are left
// out (they are computed), a Group's "members" become rows, and the
// document keeps in their place an empty list (or the null the resource
// holds), so that a Group stored with "members": [] comes back so.
func encodeResource(res *scim.Resource) (*encoded, error) {
	attrs := make(map[string]any, len(res.Attributes))
	for k, v := range res.Attributes {
		attrs[k] = v
	}
	e := &encoded{idFolded: scim.FoldCase(res.ID)}
	switch res.Type {
	case userType:
		delete(attrs, groupsAttr)
	case groupType:
		if list, ok := attrs[membersAttr].([]any); ok {
			rows, kept, err := memberRows(res.ID, list)
			if err != nil {
				return nil, err
			}
			e.members, e.list = rows, kept
			attrs[membersAttr] = []any{}
		}
	}
	var err error
	if e.attrs, err = encodeDoc(attrs, false); err != nil {
		return nil, err
	}
	if e.folded, err = encodeDoc(attrs, true); err != nil {
		return nil, err
	}
	if t, ok, err := encodeTimes(attrs); err != nil {
		return nil, err
	} else if ok {
		e.times = &t
	}
	if s, ok := attrs["userName"].(string); ok {
		f := scim.FoldCase(s)
		e.userName = &f
	}
	if s, ok := attrs["externalId"].(string); ok {
		e.externalID = &s
	}
	if s, ok := attrs["displayName"].(string); ok {
		f := scim.FoldCase(s)
		e.displayName = &f
	}
	return e, nil
}

// memberRows turns a Group's member values into rows, keeping the first
// of repeated ids.
func memberRows(groupID string, list []any) ([]memberRow, []any, error) {
	rows := make([]memberRow, 0, len(list))
	kept := make([]any, 0, len(list))
	seen := make(map[string]bool, len(list))
	for i, v := range list {
		m, _ := v.(map[string]any)
		row, err := newMemberRow(m)
		if err != nil {
			return nil, nil, fmt.Errorf("postgres: Group %q, member %d: %w", groupID, i, err)
		}
		if seen[row.id] {
			continue
		}
		seen[row.id] = true
		rows = append(rows, row)
		kept = append(kept, v)
	}
	return rows, kept, nil
}

func newMemberRow(m map[string]any) (memberRow, error) {
	id, _ := m["value"].(string)
	if id == "" {
		return memberRow{}, fmt.Errorf("a member needs a string value: %w", &scim.MemberNotFoundError{ID: id})
	}
	hint, _ := m["type"].(string)
	value, err := encodeDoc(m, false)
	if err != nil {
		return memberRow{}, err
	}
	folded, err := encodeDoc(m, true)
	if err != nil {
		return memberRow{}, err
	}
	return memberRow{id: id, folded: scim.FoldCase(id), typeHint: hint, value: value, foldedJSON: folded}, nil
}

// stored returns what a Create or Replace of res stored, with meta as the
// database returned it.
func (e *encoded) stored(res *scim.Resource, m scim.Meta) *scim.Resource {
	out := res.Clone()
	out.Unique = nil
	if out.Attributes == nil {
		out.Attributes = map[string]any{}
	}
	switch res.Type {
	case userType:
		delete(out.Attributes, groupsAttr)
	case groupType:
		if list, ok := out.Attributes[membersAttr].([]any); ok && len(e.list) != len(list) {
			out.Attributes[membersAttr] = dedupeMembers(list)
		}
	}
	out.Meta = scim.Meta{Created: utc(m.Created), LastModified: utc(m.LastModified), Version: m.Version}
	return out
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// dedupeMembers keeps the first of the members of list with the same id.
func dedupeMembers(list []any) []any {
	seen := make(map[string]bool, len(list))
	out := list[:0:0]
	for _, v := range list {
		m, _ := v.(map[string]any)
		id, _ := m["value"].(string)
		if !seen[id] {
			seen[id] = true
			out = append(out, v)
		}
	}
	return out
}
