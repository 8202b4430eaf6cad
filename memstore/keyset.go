package memstore

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/scimkit/scim"
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
	b, err := json.Marshal(p)
	if err != nil { // a sort value is a string, number or boolean
		panic(fmt.Sprintf("memstore: encoding a position: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func parsePosition(s string, sorted bool) (position, error) {
	var p position
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber() // integers beyond 2^53 stay exact
		dec.DisallowUnknownFields()
		err = dec.Decode(&p)
	}
	if err != nil || p.Seq == 0 || !sorted && p.Value != nil {
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
