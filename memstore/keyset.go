package memstore

import (
	"fmt"
	"slices"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/internal/opaque"
)

// match is a resource that matched a query, with its place in insertion
// order, which breaks ties of the sort order.
type match struct {
	res *scim.Resource
	seq uint64
}

// sortMatches orders ms by by as scim.SortResources does; ties keep their
// order, which is insertion order.
func sortMatches(ms []match, by scim.AttrPath, descending bool) {
	slices.SortStableFunc(ms, func(a, b match) int {
		if descending {
			return scim.Compare(b.res, a.res, by)
		}
		return scim.Compare(a.res, b.res, by)
	})
}

// position is a place in a query's order: after the resource with seq
// and, in a sorted query, sort value value. Positions hold no resource
// id, so the resource may be deleted or changed without losing the place.
type position struct {
	Seq   uint64 `json:"s"`
	Value any    `json:"v,omitempty"`
}

// positionOf is the opaque Page.Next after m.
func positionOf(m match, q scim.Query) string {
	p := position{Seq: m.seq}
	if q.SortBy != nil {
		p.Value = scim.SortValue(m.res, *q.SortBy)
	}
	return opaque.Encode(p) // a sort value is a string, number or boolean
}

func parsePosition(s string, sorted bool) (position, error) {
	var p position
	if err := opaque.Decode(s, &p); err != nil || p.Seq == 0 || !sorted && p.Value != nil {
		return position{}, fmt.Errorf("memstore: cursor %q: %w", s, scim.ErrInvalidCursor)
	}
	return p, nil
}

// before reports whether the position comes before m in q's order, in
// which matches compare by sort value (reversed when descending) and then
// by seq.
func (p *position) before(m match, q scim.Query) bool {
	if q.SortBy != nil {
		c := scim.CompareSortValues(scim.SortValue(m.res, *q.SortBy), p.Value, *q.SortBy)
		if q.Descending {
			c = -c
		}
		if c != 0 {
			return c > 0
		}
	}
	return m.seq > p.Seq
}
