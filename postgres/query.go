package postgres

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/scimkit/scim"
)

// Query returns one page of the resources of resourceType that match
// q.Filter, in q's order, with the number of matches before paging.
//
// Filters and sorting run in SQL; what SQL cannot express exactly (see the
// package documentation) is narrowed in SQL and decided in Go, with
// scim.Matches and scim.SortResources, over at most the fallback limit of
// candidates. Without SortBy, resources come in the order they were
// created, which a Replace keeps.
func (s *Store) Query(ctx context.Context, resourceType string, q scim.Query) (*scim.Page, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pl := s.plan(scim.TenantFrom(ctx), resourceType, q)
	var (
		page *scim.Page
		err  error
	)
	if q.Keyset && q.After != "" {
		p, err := parsePosition(q.After, pl.kind)
		if err != nil {
			return nil, err
		}
		pl.pos = &p
	}
	if pl.exact {
		page, err = s.queryExact(ctx, pl, q)
	} else {
		page, err = s.queryFallback(ctx, pl, q)
	}
	if err != nil {
		return nil, wrap(ctx, "query "+resourceType, err)
	}
	return page, nil
}

// plan is a query translated to SQL.
type plan struct {
	b *builder
	// where selects the matches (exact) or a superset of them.
	where string
	// nFilter is the number of parameters where binds.
	nFilter int
	// sk is the sort key, "" for the store's own order, and kind its
	// type (kindGo when Go sorts).
	sk   string
	kind keyKind
	// pos is the position a Keyset query's page follows.
	pos *position
	// goFilter and goSort tell what Go must do that SQL could not.
	goFilter, goSort bool
	exact            bool
}

// plan translates q over the resources of typ in tenant.
func (s *Store) plan(tenant, typ string, q scim.Query) plan {
	b := &builder{s: s, typ: typ}
	b.arg(tenant) // $1
	b.arg(typ)    // $2
	c := b.filter(q.Filter, nil)
	pl := plan{b: b, where: "r.tenant = $1 AND r.type = $2 AND " + c.sup, nFilter: len(b.args), goFilter: !c.exact()}
	if q.SortBy != nil {
		sk, kind, ok := b.sortKey(*q.SortBy)
		if ok {
			pl.sk, pl.kind = sk, kind
		} else {
			pl.goSort, pl.kind = true, kindGo
		}
	}
	pl.exact = !pl.goFilter && !pl.goSort
	return pl
}

// countSQL returns the statement that counts the matches of an exact plan,
// with its parameters.
func (s *Store) countSQL(pl plan) (string, []any) {
	return `SELECT count(*) FROM ` + s.t("resources") + ` r WHERE ` + pl.where, append([]any(nil), pl.b.args[:pl.nFilter]...)
}

// pageSQL returns the statement that reads one page of an exact plan, with
// its parameters. The page's positions are found first, from the filter's
// and the order's columns only (an index alone answers "the 100 Groups
// after the first 50,000"); then the page's rows are read, and only their
// groups or members, as the projection hints allow.
//
// A Keyset page starts after its position instead of at an offset, and
// reads one resource more than Count, to know whether one follows; its
// rows start with their seq and their key as a position holds it.
func (s *Store) pageSQL(pl plan, q scim.Query) (selection, string, []any) {
	b := pl.b
	sel := s.selectList(b.typ, "p", wants(q, groupsAttr), wants(q, membersAttr))
	inner := "r.seq"
	outer := "k.seq"
	if pl.sk != "" {
		inner += ", " + pl.sk + " AS sk"
		outer = orderBy("k", "k.sk", q.Descending)
	}
	where := pl.where
	if q.Keyset && pl.pos != nil {
		where += " AND " + b.after(*pl.pos, pl.sk, pl.kind, q.Descending)
	}
	args := append([]any(nil), b.args...)
	limit := "$" + strconv.Itoa(len(args)+1)
	cols := sel.cols
	var paging string
	if q.Keyset {
		args = append(args, int64(q.Count)+1)
		paging = ` LIMIT ` + limit
		cols = `k.seq, ` + keyText("k.sk", pl.kind) + `, ` + cols
	} else {
		offset := "$" + strconv.Itoa(len(args)+2)
		args = append(args, int64(q.Count), int64(max(q.StartIndex, 1)-1))
		paging = ` LIMIT ` + limit + ` OFFSET ` + offset
	}
	return sel, `SELECT ` + cols + ` FROM (SELECT ` + inner + ` FROM ` + s.t("resources") + ` r WHERE ` + where +
		` ORDER BY ` + orderBy("r", pl.sk, q.Descending) + paging + `) k
		JOIN ` + s.t("resources") + ` p ON p.tenant = $1 AND p.type = $2 AND p.seq = k.seq
		ORDER BY ` + outer, args
}

// wants reports whether the projection hints of q may ask for the
// top-level core attribute name.
func wants(q scim.Query, name string) bool {
	if len(q.Attributes) > 0 {
		for _, p := range q.Attributes {
			if p.URN == "" && p.Name == name {
				return true
			}
		}
		return false
	}
	for _, p := range q.ExcludedAttributes {
		if p.URN == "" && p.Name == name && p.Sub == "" {
			return false
		}
	}
	return true
}

// queryExact answers a query SQL expresses exactly: the page, then the
// count when the page does not tell it; the two in one round trip when
// the count is needed anyway.
func (s *Store) queryExact(ctx context.Context, pl plan, q scim.Query) (*scim.Page, error) {
	page := &scim.Page{Resources: []*scim.Resource{}}
	countSQL, countArgs := s.countSQL(pl)
	count := func(row pgx.Row) error { return row.Scan(&page.TotalResults) }
	if q.Count <= 0 || q.Keyset {
		// The count is needed: one round trip for both statements.
		batch := &pgx.Batch{}
		batch.Queue(countSQL, countArgs...).QueryRow(count)
		if q.Count > 0 {
			sel, sql, args := s.pageSQL(pl, q)
			batch.Queue(sql, args...).Query(func(rows pgx.Rows) error { return s.readPage(rows, sel, pl, q, page) })
		}
		if err := s.pool.SendBatch(ctx, batch).Close(); err != nil {
			return nil, err
		}
		return page, nil
	}
	// A page shorter than asked for, and not past the end, tells the
	// total: a filter on userName or externalId, as identity providers
	// send them, needs no count.
	sel, sql, args := s.pageSQL(pl, q)
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	if err := s.readPage(rows, sel, pl, q, page); err != nil {
		return nil, err
	}
	skipped := max(q.StartIndex, 1) - 1
	if n := len(page.Resources); n < q.Count && (n > 0 || skipped == 0) {
		page.TotalResults = skipped + n
		return page, nil
	}
	if err := count(s.pool.QueryRow(ctx, countSQL, countArgs...)); err != nil {
		return nil, err
	}
	return page, nil
}

// readPage appends the resources of rows, a pageSQL result, to page, and
// for a Keyset query sets page.Next when one more follows.
func (s *Store) readPage(rows pgx.Rows, sel selection, pl plan, q scim.Query, page *scim.Page) error {
	defer rows.Close()
	var (
		seq int64
		key *string
		dst []any
	)
	if q.Keyset {
		dst = []any{&seq, &key}
	}
	for rows.Next() {
		if q.Keyset && len(page.Resources) == q.Count {
			// One more follows: the page ends at the last one.
			page.Next = position{S: seq, T: kindTags[pl.kind], K: key}.String()
			break
		}
		r, err := sel.scan(rows, pl.b.typ, dst...)
		if err != nil {
			return err
		}
		page.Resources = append(page.Resources, r)
	}
	rows.Close()
	return rows.Err()
}

// queryFallback answers a query whose filter (goFilter) or sort (goSort)
// SQL cannot express exactly: SQL selects the candidates (a superset of
// the matches) in the sort order if it can, Go keeps the matches and
// sorts them, and pages. More candidates than the fallback limit is a
// SCIM tooMany error, never a different answer.
func (s *Store) queryFallback(ctx context.Context, pl plan, q scim.Query) (*scim.Page, error) {
	b := pl.b
	sel := s.selectList(b.typ, "r", true, true)
	// Each candidate comes with its seq, its key as a position holds it,
	// and whether it follows the Keyset query's position (in SQL when SQL
	// sorts; Go sorts, Go tells).
	follows := "TRUE"
	if q.Keyset && pl.pos != nil && !pl.goSort {
		follows = "coalesce(" + b.after(*pl.pos, pl.sk, pl.kind, q.Descending) + ", FALSE)"
	}
	limit := b.arg(int64(s.fallbackLimit) + 1)
	rows, err := s.pool.Query(ctx, `SELECT r.seq, `+keyText(pl.sk, pl.kind)+`, `+follows+`, `+sel.cols+` FROM `+s.t("resources")+` r WHERE `+pl.where+
		` ORDER BY `+orderBy("r", pl.sk, q.Descending)+` LIMIT `+limit, b.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type candidate struct {
		res    *scim.Resource
		seq    int64
		key    *string
		follow bool
	}
	var matches []candidate
	n := 0
	for rows.Next() {
		n++
		if n > s.fallbackLimit {
			return nil, &scim.Error{
				Status:   http.StatusBadRequest,
				SCIMType: scim.SCIMTypeTooMany,
				Detail:   fmt.Sprintf("the filter or sort order needs more than %d resources evaluated one by one; narrow the filter (for example with userName, externalId or id)", s.fallbackLimit),
			}
		}
		var c candidate
		r, err := sel.scan(rows, b.typ, &c.seq, &c.key, &c.follow)
		if err != nil {
			return nil, err
		}
		if pl.goFilter && !scim.Matches(q.Filter, r) {
			continue
		}
		c.res = r
		matches = append(matches, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if pl.goSort && q.SortBy != nil {
		// Stable: ties keep the candidates' order, which is seq.
		by, desc := *q.SortBy, q.Descending
		slices.SortStableFunc(matches, func(x, y candidate) int {
			if desc {
				return scim.Compare(y.res, x.res, by)
			}
			return scim.Compare(x.res, y.res, by)
		})
	}
	page := &scim.Page{TotalResults: len(matches)}
	start := min(max(q.StartIndex, 1)-1, len(matches))
	if q.Keyset {
		start = 0
		if pl.pos != nil {
			// The candidates are in the query's order: those that follow
			// the position are the last ones.
			start = sort.Search(len(matches), func(i int) bool {
				if pl.goSort {
					return goBefore(*pl.pos, matches[i].res, matches[i].seq, *q.SortBy, q.Descending)
				}
				return matches[i].follow
			})
		}
	}
	end := min(start+max(q.Count, 0), len(matches))
	page.Resources = make([]*scim.Resource, 0, end-start)
	for _, c := range matches[start:end] {
		page.Resources = append(page.Resources, c.res)
	}
	if q.Keyset && end < len(matches) && end > start {
		last := matches[end-1]
		p := position{S: last.seq, T: kindTags[pl.kind], K: last.key}
		if pl.goSort {
			p.K, p.V = nil, scim.SortValue(last.res, *q.SortBy)
		}
		page.Next = p.String()
	}
	return page, nil
}
