package scim

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/scimkit/scim/internal/opaque"
)

// A cursor (RFC 9865) is the store's keyset position wrapped with the
// resource type and a digest of the query it belongs to, so that one
// handed out for a filter or an order is refused for another instead of
// paging it wrongly.
type cursor struct {
	Type  string `json:"t"`
	Query string `json:"q"` // queryDigest of the request
	After string `json:"a"` // the store's position
}

// queryDigest names what a cursor's position depends on: the filter and
// the order.
func queryDigest(rt *resourceType, lr listRequest) string {
	sum := sha256.Sum256([]byte(rt.Name + "\x00" + lr.filter + "\x00" + lr.sortBy + "\x00" + strings.ToLower(lr.sortOrder)))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

func encodeCursor(c cursor) string { return opaque.Encode(c) }

func decodeCursor(s string) (cursor, bool) {
	var c cursor
	if opaque.Decode(s, &c) != nil || c.After == "" {
		return cursor{}, false
	}
	return c, true
}

// writeCursorPage answers a list or search with cursor paging: count
// resources after the cursor's position, and nextCursor while more follow.
func (h *Handler) writeCursorPage(req *request, types []*resourceType, queries []typeQuery, lr listRequest, count int) error {
	switch {
	case len(types) != 1 || len(queries) != 1:
		return badRequest(SCIMTypeInvalidValue, "cursor paging lists one resource type at a time; query /Users or /Groups")
	case lr.startIndexSet:
		return badRequest(SCIMTypeInvalidValue, "a request pages by startIndex or by cursor, not both")
	}
	tq := queries[0]
	digest := queryDigest(tq.rt, lr)
	q := tq.query
	q.Keyset, q.Count = true, count
	if lr.cursor != "" {
		c, ok := decodeCursor(lr.cursor)
		if !ok || c.Type != tq.rt.Name || c.Query != digest {
			return &Error{Status: http.StatusBadRequest, SCIMType: SCIMTypeInvalidCursor, Detail: "the cursor is not one this server handed out for this query"}
		}
		q.After = c.After
	}
	return h.viewResources(req, listHead{items: count}, tq, q, digest) // RFC 9865: a cursor page has no startIndex
}
