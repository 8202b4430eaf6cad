package postgres

import (
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/internal/opaque"
)

// keyKind is the SQL type of a sort key, which says how a position holds
// the key's value.
type keyKind int

const (
	kindNone keyKind = iota // no SortBy: the store's order (seq) alone
	kindText                // text COLLATE "C" (folded unless case-exact)
	kindNum                 // numeric (numbers, and document dateTimes in nanoseconds)
	kindBool                // boolean
	kindTime                // timestamptz (meta.created, meta.lastModified)
	kindGo                  // Go sorts (scim.SortResources): the value as scim.SortValue gives it
)

// tags name the kinds in positions, so that a position of one order is
// not read as one of another.
var kindTags = [...]string{kindNone: "", kindText: "s", kindNum: "n", kindBool: "b", kindTime: "t", kindGo: "g"}

// position is a place in a query's order (Query.After, Page.Next): after
// the resource with seq S whose sort key is K (SQL orders: the key as
// text, nil for a resource without one) or V (Go orders: scim.SortValue).
// It names no resource, which may be deleted or changed without losing
// the place.
type position struct {
	S int64   `json:"s"`
	T string  `json:"t,omitempty"`
	K *string `json:"k,omitempty"`
	V any     `json:"v,omitempty"`
}

func (p position) String() string {
	return opaque.Encode(p) // keys are strings; Go values strings, numbers or booleans
}

// parsePosition reads After for an order of kind; anything the store did
// not hand out for such an order is scim.ErrInvalidCursor.
func parsePosition(s string, kind keyKind) (position, error) {
	var p position
	err := opaque.Decode(s, &p)
	if err == nil && (p.S <= 0 || p.T != kindTags[kind] || kind != kindGo && p.V != nil || kind == kindGo && p.K != nil ||
		kind == kindNone && p.K != nil || p.K != nil && !validKey(*p.K, kind)) {
		err = fmt.Errorf("not a position of this order")
	}
	if err != nil {
		return position{}, fmt.Errorf("postgres: cursor %q: %w", s, scim.ErrInvalidCursor)
	}
	return p, nil
}

// validKey reports whether k is a key of kind as the store writes them,
// so that no cursor makes a cast in SQL fail.
func validKey(k string, kind keyKind) bool {
	switch kind {
	case kindText:
		return true
	case kindNum:
		_, ok := new(big.Rat).SetString(k)
		return ok
	case kindBool:
		return k == "true" || k == "false"
	case kindTime:
		_, err := strconv.ParseInt(k, 10, 64)
		return err == nil
	}
	return false
}

// keyText is the SQL of the key sk (of kind) as the text a position holds.
func keyText(sk string, kind keyKind) string {
	switch kind {
	case kindNone, kindGo:
		return "NULL::text"
	case kindTime:
		return "(extract(epoch FROM " + sk + ") * 1000000)::bigint::text"
	}
	return "(" + sk + ")::text"
}

// keyParam binds the key k of kind and returns its SQL.
func (b *builder) keyParam(k string, kind keyKind) string {
	switch kind {
	case kindText:
		return b.arg(k) + `::text COLLATE "C"`
	case kindNum:
		return b.arg(k) + "::text::numeric"
	case kindBool:
		return b.arg(k) + "::text::boolean"
	case kindTime:
		n, _ := strconv.ParseInt(k, 10, 64)
		return b.arg(time.UnixMicro(n).UTC()) + "::timestamptz"
	}
	return "NULL"
}

// after returns the SQL that holds for the resources of r that follow p
// in the order of the key sk (of kind), descending or not: resources
// without a key last ascending and first descending, ties by seq.
func (b *builder) after(p position, sk string, kind keyKind, descending bool) string {
	seq := "r.seq > " + b.arg(p.S) + "::bigint"
	if kind == kindNone {
		return "(" + seq + ")"
	}
	if p.K == nil {
		if descending {
			return "(" + sk + " IS NOT NULL OR (" + sk + " IS NULL AND " + seq + "))"
		}
		return "(" + sk + " IS NULL AND " + seq + ")"
	}
	v := b.keyParam(*p.K, kind)
	if notNullKeys[sk] {
		// A bound an index on the column starts its scan at.
		op := ">"
		if descending {
			op = "<"
		}
		return "(" + sk + " " + op + "= " + v + " AND (" + sk + " " + op + " " + v + " OR " + seq + "))"
	}
	op, rest := ">", " OR "+sk+" IS NULL"
	if descending {
		op, rest = "<", ""
	}
	return "(" + sk + " " + op + " " + v + " OR (" + sk + " = " + v + " AND " + seq + ")" + rest + ")"
}

// notNullKeys are the sort keys that are never NULL: columns, some of
// them indexed.
var notNullKeys = map[string]bool{
	"r.id_folded": true, `r.id COLLATE "C"`: true, "r.created": true, "r.last_modified": true, `r.version COLLATE "C"`: true,
}

// goBefore reports whether p comes before the resource res with seq in a
// Go-sorted order (as scim.SortResources orders, ties by seq).
func goBefore(p position, res *scim.Resource, seq int64, by scim.AttrPath, descending bool) bool {
	c := scim.CompareSortValues(scim.SortValue(res, by), p.V, by)
	if descending {
		c = -c
	}
	if c != 0 {
		return c > 0
	}
	return seq > p.S
}
