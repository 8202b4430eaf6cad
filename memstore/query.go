package memstore

import (
	"context"
	"slices"
	"sort"

	"github.com/scimkit/scim"
)

// ctxCheckEvery is how many entries a scan visits between two looks at its
// context.
const ctxCheckEvery = 4096

// Query returns one page of the resources of resourceType that match
// q.Filter (all when it is nil), evaluated with scim.Matches. With q.SortBy
// they are ordered by scim.SortResources; without it, in insertion order,
// which a Replace does not change. TotalResults counts the matches before
// paging. A StartIndex below 1 counts as 1; a Count of 0 or less returns no
// resources; a StartIndex past the end returns an empty, non-nil Resources.
// Users carry their computed "groups" unless q's projection hints leave them
// out.
//
// An equality filter on id, userName, externalId, a Group's displayName or a
// Group's members.value, alone or on either side of an "and" (or on both
// sides of an "or"), is answered from an index: only the resources holding
// the value are evaluated. Any other filter scans the type.
func (s *Store) Query(ctx context.Context, resourceType string, q scim.Query) (*scim.Page, error) {
	var page *scim.Page
	err := s.View(ctx, resourceType, q, func(p *scim.Page) error {
		omit := omitted(q)
		for i, r := range p.Resources {
			if omit == nil {
				p.Resources[i] = r.Clone()
			} else {
				p.Resources[i] = r.CloneOmitting(omit)
			}
		}
		page = p
		return nil
	})
	return page, err
}

// View is Query without the copies: it calls fn with the page while it
// holds the tenant's read lock, and the page's resources are the store's
// own (a User with groups is a shallow copy carrying them). Their complex
// values, but a Group's members, are in the store's compact form, which
// scim.Matches and scim.SortValue read; Clone a resource to have maps. See
// scim.Viewer.
func (s *Store) View(ctx context.Context, resourceType string, q scim.Query, fn func(*scim.Page) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t := s.tenant(ctx, false)
	if t == nil {
		return fn(&scim.Page{Resources: []*scim.Resource{}})
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	tb := t.table(resourceType, false)
	if tb == nil {
		return fn(&scim.Page{Resources: []*scim.Resource{}})
	}

	start := q.StartIndex - 1
	if start < 0 || q.Keyset {
		start = 0
	}
	count := q.Count
	if count < 0 {
		count = 0
	}
	var after *position
	if q.Keyset && q.After != "" {
		p, err := parsePosition(q.After, q.SortBy != nil)
		if err != nil {
			return err
		}
		after = &p
	}
	isUser := resourceType == userType
	if id, ok := idEqual(q.Filter); ok && !q.Keyset {
		return t.viewByID(tb, id, isUser && wantsGroups(q), start, count, fn)
	}
	// Users are evaluated with their computed groups only when the filter or
	// the sort order looks at them: building them costs a copy per user.
	evalGroups := isUser && (refersTo(q.Filter, groupsAttr) || (q.SortBy != nil && isTopLevel(*q.SortBy, groupsAttr)))

	entries, indexed := candidates(tb, q.Filter)
	if indexed {
		entries = bySeq(entries)
	} else {
		entries = tb.order
	}
	filter := q.Filter
	if _, ok := idEqual(filter); ok {
		filter = nil // the id map answered it exactly (a keyset page)
	}

	// Matches are kept whole when they must be ordered or paged by keyset;
	// otherwise only the page is.
	keepAll := q.SortBy != nil || q.Keyset
	var matches []match
	total := 0
	if filter == nil && !indexed && !keepAll {
		// Every live entry matches: the count is known, and the page is
		// found without visiting what follows it.
		entries = nil
		total = len(tb.byID)
		matches = tb.window(start, count)
	}
	for i, e := range entries {
		if i > 0 && i%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if e.dead {
			continue
		}
		r := e.res
		if evalGroups {
			r = t.withGroups(r)
		}
		if filter != nil && !scim.Matches(filter, r) {
			continue
		}
		total++
		if keepAll || total > start && total-start <= count {
			matches = append(matches, match{r, e.seq})
		}
	}
	if q.SortBy != nil {
		sortMatches(matches, *q.SortBy, q.Descending)
	}
	next := ""
	if keepAll {
		if after != nil {
			start = sort.Search(len(matches), func(i int) bool { return after.before(matches[i], q) })
		}
		matches = matches[min(start, len(matches)):]
		if q.Keyset && count < len(matches) && count > 0 {
			next = positionOf(matches[count-1], q)
		}
		matches = matches[:min(count, len(matches))]
	}

	exportGroups := isUser && wantsGroups(q)
	page := newPage(len(matches))
	page.Next = next
	for _, m := range matches {
		r := m.res
		if exportGroups && !evalGroups {
			r = t.withGroups(r)
		}
		page.Resources = append(page.Resources, r)
	}
	page.TotalResults = total
	return fn(page)
}

// viewByID is View for a filter that is an exact id, which the id map
// answers: at most one match, without the scan's bookkeeping (this is
// every GET by id).
func (t *tenant) viewByID(tb *table, id string, withGroups bool, start, count int, fn func(*scim.Page) error) error {
	page := newPage(1)
	if e := tb.byID[id]; e != nil && !e.dead {
		page.TotalResults = 1
		if start == 0 && count > 0 {
			r := e.res
			if withGroups {
				r = t.withGroups(r)
			}
			page.Resources = append(page.Resources, r)
		}
	}
	return fn(page)
}

// newPage returns an empty page with room for n resources: for one (a
// GET by id, a filter on userName), in a single allocation.
func newPage(n int) *scim.Page {
	if n > 1 {
		return &scim.Page{Resources: make([]*scim.Resource, 0, n)}
	}
	one := &struct {
		page scim.Page
		res  [1]*scim.Resource
	}{}
	one.page.Resources = one.res[:0]
	return &one.page
}

// window returns the live entries from start (0-based) to start+count, in
// insertion order.
func (tb *table) window(start, count int) []match {
	if count <= 0 {
		return nil
	}
	var out []match
	if tb.dead == 0 { // order holds only live entries: index it
		lo := min(start, len(tb.order))
		hi := lo + min(count, len(tb.order)-lo) // start+count may overflow
		for _, e := range tb.order[lo:hi] {
			out = append(out, match{e.res, e.seq})
		}
		return out
	}
	seen := 0
	for _, e := range tb.order {
		if e.dead {
			continue
		}
		if seen >= start {
			out = append(out, match{e.res, e.seq})
			if len(out) == count {
				break
			}
		}
		seen++
	}
	return out
}

// withGroups returns res, or when the user has groups a shallow copy of it
// carrying them, to evaluate or lend. The caller holds the tenant's lock.
func (t *tenant) withGroups(res *scim.Resource) *scim.Resource {
	gs := t.groupsOf(res.ID)
	if gs == nil {
		return res
	}
	v := *res
	v.Attributes = make(map[string]any, len(res.Attributes)+1)
	for k, a := range res.Attributes {
		v.Attributes[k] = a
	}
	v.Attributes[groupsAttr] = gs
	return &v
}

// candidates returns a superset of the entries of tb that match f, taken
// from an index, in no particular order and possibly with repeats; ok is
// false when no index applies and the table must be scanned.
func candidates(tb *table, f scim.Filter) (es []*entry, ok bool) {
	switch f := f.(type) {
	case *scim.CompareExpr:
		if f == nil || f.Op != scim.OpEqual || f.Path.URN != "" {
			return nil, false
		}
		v, isString := f.Value.(string)
		if !isString {
			return nil, false
		}
		if f.Path.Name == "id" && f.Path.Sub == "" {
			// The id map is exact; a case-insensitive id (no schema makes
			// one) falls back to a scan.
			if !f.Path.CaseExact {
				return nil, false
			}
			if e := tb.byID[v]; e != nil {
				return []*entry{e}, true
			}
			return nil, true
		}
		x := tb.index(f.Path.Name, f.Path.Sub)
		if x == nil {
			return nil, false
		}
		return x.lookup(nil, v, f.Path.CaseExact), true
	case *scim.LogicalExpr:
		if f == nil {
			return nil, false
		}
		l, lok := candidates(tb, f.Left)
		r, rok := candidates(tb, f.Right)
		switch {
		case f.Op == scim.And && lok && rok:
			if len(r) < len(l) {
				return r, true
			}
			return l, true
		case f.Op == scim.And && lok:
			return l, true
		case f.Op == scim.And && rok:
			return r, true
		case f.Op == scim.Or && lok && rok:
			return append(l, r...), true
		}
		return nil, false
	case *scim.ValuePathExpr:
		// A resource matches attr[filter] only if one value of attr matches
		// filter, whose paths name attr's sub-attributes in full: the
		// candidates of filter are candidates of the whole.
		if f == nil || f.Path.URN != "" {
			return nil, false
		}
		return candidates(tb, f.Filter)
	}
	return nil, false
}

// idEqual returns the id f asks for when it is a case-exact equality on
// id, which the id map answers exactly.
func idEqual(f scim.Filter) (string, bool) {
	c, ok := f.(*scim.CompareExpr)
	if !ok || c == nil || c.Op != scim.OpEqual || c.Path.URN != "" || c.Path.Name != "id" || c.Path.Sub != "" || !c.Path.CaseExact {
		return "", false
	}
	id, ok := c.Value.(string)
	return id, ok
}

// isTopLevel tells whether p names the core attribute name or a
// sub-attribute of it.
func isTopLevel(p scim.AttrPath, name string) bool {
	return p.URN == "" && p.Name == name
}

// refersTo tells whether f looks at the core attribute name.
func refersTo(f scim.Filter, name string) bool {
	switch f := f.(type) {
	case *scim.CompareExpr:
		return f != nil && isTopLevel(f.Path, name)
	case *scim.ValuePathExpr:
		return f != nil && (isTopLevel(f.Path, name) || refersTo(f.Filter, name))
	case *scim.LogicalExpr:
		return f != nil && (refersTo(f.Left, name) || refersTo(f.Right, name))
	case *scim.NotExpr:
		return f != nil && refersTo(f.X, name)
	}
	return false
}

// omitted returns the top-level core attributes q's projection hints
// leave out, which need not be copied: those excluded, and a Group's
// members unless listed (its one attribute that can be large).
func omitted(q scim.Query) func(string) bool {
	var skip []string
	for _, p := range q.ExcludedAttributes {
		if p.URN == "" && p.Sub == "" {
			skip = append(skip, p.Name)
		}
	}
	if len(q.Attributes) > 0 {
		members := false
		for _, p := range q.Attributes {
			members = members || isTopLevel(p, membersAttr)
		}
		if !members {
			skip = append(skip, membersAttr)
		}
	}
	if skip == nil {
		return nil
	}
	return func(name string) bool { return slices.Contains(skip, name) }
}

// wantsGroups tells whether the projection hints of q may return a User's
// "groups": not when they exclude it, or list attributes without it.
func wantsGroups(q scim.Query) bool {
	for _, p := range q.ExcludedAttributes {
		if isTopLevel(p, groupsAttr) && p.Sub == "" {
			return false
		}
	}
	if len(q.Attributes) == 0 {
		return true
	}
	for _, p := range q.Attributes {
		if isTopLevel(p, groupsAttr) {
			return true
		}
	}
	return false
}
