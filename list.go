package scim

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// listRequest is a list or search request (RFC 7644 §3.4.2, §3.4.3) as
// the client sent it.
type listRequest struct {
	filter        string
	sortBy        string
	sortOrder     string
	startIndex    int
	startIndexSet bool
	count         int
	countSet      bool
	attributes    []string
	excluded      []string
	cursor        string // RFC 9865; "" with cursorSet asks for the first page
	cursorSet     bool
}

// queryParam returns a query parameter, matching its name case-insensitively.
func queryParam(q url.Values, name string) string {
	v, _ := queryParamSet(q, name)
	return v
}

// queryParamSet returns a query parameter and whether it is there at all,
// matching its name case-insensitively.
func queryParamSet(q url.Values, name string) (string, bool) {
	if v, ok := q[name]; ok {
		return v[0], true
	}
	for k, v := range q {
		if strings.EqualFold(k, name) {
			return v[0], true
		}
	}
	return "", false
}

func splitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ { // commas inside [...] do not split
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

func parseIntParam(name, v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, badRequest(SCIMTypeInvalidValue, "%s must be an integer, got %q", name, v)
	}
	return n, nil
}

func listRequestFromQuery(q url.Values) (listRequest, error) {
	lr := listRequest{
		filter:     queryParam(q, "filter"),
		sortBy:     queryParam(q, "sortBy"),
		sortOrder:  queryParam(q, "sortOrder"),
		startIndex: 1,
		attributes: splitList(queryParam(q, "attributes")),
		excluded:   splitList(queryParam(q, "excludedAttributes")),
	}
	var err error
	if v := queryParam(q, "startIndex"); v != "" {
		if lr.startIndex, err = parseIntParam("startIndex", v); err != nil {
			return lr, err
		}
		lr.startIndexSet = true
	}
	lr.cursor, lr.cursorSet = queryParamSet(q, "cursor")
	if v := queryParam(q, "count"); v != "" {
		if lr.count, err = parseIntParam("count", v); err != nil {
			return lr, err
		}
		lr.countSet = true
	}
	return lr, nil
}

// listRequestFromBody reads the body of POST /.search (RFC 7644 §3.4.3).
// Its keys match case-insensitively; a value of the wrong type is 400
// invalidValue naming the key, never a Go type.
func (h *Handler) listRequestFromBody(r *http.Request) (listRequest, error) {
	body, err := readObject(r, h.limits)
	if err != nil {
		return listRequest{}, err
	}
	lr := listRequest{startIndex: 1}
	var schemas []string
	wrongType := func(key, want string) error {
		return badRequest(SCIMTypeInvalidValue, "%q must be %s", key, want)
	}
	for k, v := range body {
		switch strings.ToLower(k) {
		case "schemas":
			if schemas, err = stringList(v, k, true); err != nil {
				return lr, err
			}
		case "attributes":
			if lr.attributes, err = stringList(v, k, h.strict); err != nil {
				return lr, err
			}
		case "excludedattributes":
			if lr.excluded, err = stringList(v, k, h.strict); err != nil {
				return lr, err
			}
		case "filter", "sortby", "sortorder", "cursor":
			s, ok := v.(string)
			if !ok && v != nil {
				return lr, wrongType(k, "a string")
			}
			switch strings.ToLower(k) {
			case "filter":
				lr.filter = s
			case "sortby":
				lr.sortBy = s
			case "cursor":
				lr.cursor, lr.cursorSet = s, true
			default:
				lr.sortOrder = s
			}
		case "startindex", "count":
			if v == nil {
				continue
			}
			n, ok := v.(json.Number)
			i, err := n.Int64()
			if !ok || err != nil || i != int64(int(i)) {
				return lr, wrongType(k, "an integer")
			}
			if strings.EqualFold(k, "count") {
				lr.count, lr.countSet = int(i), true
			} else {
				lr.startIndex, lr.startIndexSet = int(i), true
			}
		}
	}
	if h.strict && !containsFold(schemas, SearchRequestSchema) {
		return listRequest{}, badRequest(SCIMTypeInvalidValue, "\"schemas\" must include %q", SearchRequestSchema)
	}
	return lr, nil
}

// stringList accepts an array of strings or, unless strict, one
// comma-separated string, as the query form has it.
func stringList(raw any, name string, strict bool) ([]string, error) {
	switch v := raw.(type) {
	case nil:
		return nil, nil
	case []any:
		list := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, badRequest(SCIMTypeInvalidValue, "%s must be an array of strings", name)
			}
			list = append(list, s)
		}
		return list, nil
	case string:
		if !strict {
			return splitList(v), nil
		}
	}
	return nil, badRequest(SCIMTypeInvalidValue, "%s must be an array of strings", name)
}

func containsFold(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}

func (h *Handler) serveList(req *request, rt *resourceType) error {
	lr, err := listRequestFromQuery(req.query())
	if err != nil {
		return err
	}
	return h.writeList(req, []*resourceType{rt}, lr)
}

// serveRootList answers GET on the service root: a query over every
// resource type (RFC 7644 §3.4.2.1).
func (h *Handler) serveRootList(req *request) error {
	lr, err := listRequestFromQuery(req.query())
	if err != nil {
		return err
	}
	return h.writeList(req, h.types, lr)
}

func (h *Handler) serveSearch(req *request, rt *resourceType) error {
	lr, err := h.listRequestFromBody(req.r)
	if err != nil {
		return err
	}
	types := h.types
	if rt != nil {
		types = []*resourceType{rt}
	}
	return h.writeList(req, types, lr)
}

// typeQuery is a listRequest resolved against one resource type.
type typeQuery struct {
	rt    *resourceType
	query Query
	proj  projection
}

// writeList answers a list or search over one or more resource types. Over
// several (a query at the root) the matches of all types are one list:
// sorted across types with sortBy, else each type's after the previous
// type's. A type the filter's attributes do not belong to has no matches.
func (h *Handler) writeList(req *request, types []*resourceType, lr listRequest) error {
	if err := h.checkAttributeNames(lr.attributes, lr.excluded); err != nil {
		return err
	}
	startIndex := max(lr.startIndex, 1)
	// RFC 7644 §3.4.2.4: a negative count means 0; none, the server's maximum.
	count := min(max(lr.count, 0), h.maxResults)
	if !lr.countSet {
		count = h.maxResults
	}
	var queries []typeQuery
	var firstErr error
	sorted := false
	for _, rt := range types {
		tq, err := h.resolveList(rt, lr, len(types) > 1)
		if err != nil {
			var pe *pathError
			if len(types) > 1 && errors.As(err, &pe) {
				firstErr = err // the filter names an attribute this type lacks
				continue
			}
			return err
		}
		sorted = sorted || tq.query.SortBy != nil
		queries = append(queries, tq)
	}
	if len(queries) == 0 && firstErr != nil {
		return firstErr
	}
	if lr.sortBy != "" && !sorted && len(queries) > 0 {
		return badRequest(SCIMTypeInvalidValue, "sortBy: no resource type has attribute %q", lr.sortBy)
	}
	switch {
	case lr.cursorSet:
		return h.writeCursorPage(req, types, queries, lr, count)
	case len(queries) == 1:
		q := queries[0]
		q.query.StartIndex, q.query.Count = startIndex, count
		return h.viewResources(req, listHead{items: count, startIndex: startIndex}, q, q.query, "")
	case sorted:
		return h.writeSortedAcrossTypes(req, queries, lr, startIndex, count)
	}
	// Unsorted across types: each type's window starts after what the
	// earlier types' matches covered.
	var pages []typedPage
	total, got := 0, 0
	skip := startIndex - 1
	for _, tq := range queries {
		q := tq.query
		q.StartIndex, q.Count = skip+1, count-got
		page, err := h.store.Query(req.r.Context(), tq.rt.Name, q)
		if err != nil {
			return err
		}
		total += page.TotalResults
		skip = max(skip-page.TotalResults, 0)
		pages = append(pages, typedPage{tq, page.Resources})
		got += len(page.Resources)
	}
	h.writeResources(req, listHead{total: total, items: count, startIndex: startIndex}, pages)
	return nil
}

// typedPage is resources a query of one type returned.
type typedPage struct {
	tq        typeQuery
	resources []*Resource
}

// writeResources answers a list or search with the pages' resources (see
// encodeList).
func (h *Handler) writeResources(req *request, head listHead, pages []typedPage) {
	buf := h.buffers.get()
	var err error
	buf.b, err = encodeList(buf.b, req, head, pages)
	send(req.w, http.StatusOK, buf.b, err)
	h.buffers.put(buf)
}

// viewResources answers a list or search with the page of one query, which
// a Viewer store lends while it is encoded. digest is the query's, when it
// pages by cursor.
func (h *Handler) viewResources(req *request, head listHead, tq typeQuery, q Query, digest string) error {
	a := &listAnswer{req: req, head: head, tq: tq, keyset: q.Keyset, digest: digest, buf: h.buffers.get()}
	defer h.buffers.put(a.buf)
	if err := h.view(req.r.Context(), tq.rt.Name, q, a.show); err != nil {
		return err
	}
	send(req.w, http.StatusOK, a.buf.b, a.err)
	return nil
}

// listAnswer is the answer to a list or search of one type, made while the
// store lends its page.
type listAnswer struct {
	req    *request
	head   listHead
	tq     typeQuery
	keyset bool
	digest string
	buf    *buffer
	err    error // from encoding
}

func (a *listAnswer) show(page *Page) error {
	a.head.total = page.TotalResults
	if a.keyset && page.Next != "" {
		a.head.next = encodeCursor(cursor{Type: a.tq.rt.Name, Query: a.digest, After: page.Next})
	}
	pages := [1]typedPage{{a.tq, page.Resources}}
	a.buf.b, a.err = encodeList(a.buf.b, a.req, a.head, pages[:])
	return nil
}

// encodeList appends a ListResponse of the pages' resources to b, in
// order, at most head.items of them.
func encodeList(b []byte, req *request, head listHead, pages []typedPage) ([]byte, error) {
	n := 0
	for _, p := range pages {
		n += len(p.resources)
	}
	head.items = min(head.items, n)
	return appendList(b, head, func(b []byte) ([]byte, error) {
		left := head.items
		for _, p := range pages {
			for _, res := range p.resources[:min(left, len(p.resources))] {
				if b[len(b)-1] != '[' {
					b = append(b, ',')
				}
				var err error
				if b, err = p.tq.rt.appendResource(b, res, req.base, p.tq.proj); err != nil {
					return b, err
				}
				left--
			}
		}
		return b, nil
	})
}

// writeSortedAcrossTypes answers a sorted query over several types as one
// list: each type's first startIndex-1+count matches, merged by the sort
// value, then the window. Ties keep the types' order.
func (h *Handler) writeSortedAcrossTypes(req *request, queries []typeQuery, lr listRequest, startIndex, count int) error {
	type item struct {
		tq  typeQuery
		res *Resource
		key any
	}
	var by *AttrPath
	var all []item
	total := 0
	for _, tq := range queries {
		q := tq.query
		q.StartIndex, q.Count = 1, startIndex-1+count
		page, err := h.store.Query(req.r.Context(), tq.rt.Name, q)
		if err != nil {
			return err
		}
		total += page.TotalResults
		if by == nil && tq.query.SortBy != nil {
			by = tq.query.SortBy
		}
		for _, res := range page.Resources {
			it := item{tq: tq, res: res}
			if tq.query.SortBy != nil {
				it.key = SortValue(res, *tq.query.SortBy)
			}
			all = append(all, it)
		}
	}
	descending := strings.EqualFold(lr.sortOrder, "descending")
	slices.SortStableFunc(all, func(a, b item) int {
		c := CompareSortValues(a.key, b.key, *by)
		if descending {
			return -c
		}
		return c
	})
	all = all[min(startIndex-1, len(all)):]
	var pages []typedPage
	for _, it := range all[:min(count, len(all))] {
		pages = append(pages, typedPage{it.tq, []*Resource{it.res}})
	}
	h.writeResources(req, listHead{total: total, items: count, startIndex: startIndex}, pages)
	return nil
}

// resolveList parses a list request's filter, sort and projection against
// a resource type. With sortOptional (a search across types) a sortBy the
// type lacks leaves it unsorted: its resources have no value to sort by.
func (h *Handler) resolveList(rt *resourceType, lr listRequest, sortOptional bool) (typeQuery, error) {
	tq := typeQuery{rt: rt, proj: rt.parseProjection(lr.attributes, lr.excluded)}
	tq.query.Attributes, tq.query.ExcludedAttributes = tq.proj.paths, tq.proj.exPaths
	if strings.TrimSpace(lr.filter) != "" {
		f, err := rt.parseFilter(lr.filter, h.strict)
		if err != nil {
			return tq, err
		}
		tq.query.Filter = f
	}
	if lr.sortBy != "" {
		p, def, err := rt.resolve(lr.sortBy, h.strict)
		switch {
		case err != nil && !sortOptional:
			return tq, badRequest(SCIMTypeInvalidValue, "sortBy: %v", err)
		case err != nil:
		case rt.neverReturned(p, def):
			return tq, badRequest(SCIMTypeInvalidValue, "sortBy: %s is never returned, so it cannot be sorted on", p)
		case rendered(p):
			return tq, badRequest(SCIMTypeInvalidValue, "sortBy: %s is computed when a resource is sent, so it cannot be sorted on", p)
		case p.Type == TypeComplex && def.sub("value") == nil:
			// RFC 7644 §3.4.2.3: a complex attribute sorts by its value sub-attribute.
			return tq, badRequest(SCIMTypeInvalidValue, "sortBy: %s is complex and has no \"value\" sub-attribute; sort by one of its sub-attributes", p)
		default:
			if p.Type == TypeComplex {
				if sub, _, err := rt.resolve(lr.sortBy+".value", h.strict); err == nil {
					p = sub
				}
			}
			tq.query.SortBy = &p
		}
	}
	switch strings.ToLower(lr.sortOrder) {
	case "", "ascending":
	case "descending":
		tq.query.Descending = true
	default:
		return tq, badRequest(SCIMTypeInvalidValue, "sortOrder must be \"ascending\" or \"descending\", got %q", lr.sortOrder)
	}
	return tq, nil
}

// checkAttributeNames refuses attributes and excludedAttributes lists
// longer than Limits.AttributeNames.
func (h *Handler) checkAttributeNames(attributes, excluded []string) error {
	for _, l := range []struct {
		name  string
		names []string
	}{{"attributes", attributes}, {"excludedAttributes", excluded}} {
		if len(l.names) > h.limits.AttributeNames {
			return limitError(SCIMTypeTooMany, "%s lists %d names, more than the %d allowed", l.name, len(l.names), h.limits.AttributeNames)
		}
	}
	return nil
}
