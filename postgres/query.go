package postgres

import (
	"context"
	"fmt"
	"net/http"

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
	b := &builder{s: s, typ: resourceType}
	b.arg(scim.TenantFrom(ctx)) // $1
	b.arg(resourceType)         // $2
	c := b.filter(q.Filter, nil)
	nFilter := len(b.args) // the count query binds only the filter's
	sk, sortOK := "", true
	if q.SortBy != nil {
		sk, sortOK = b.sortKey(*q.SortBy)
	}
	where := "r.tenant = $1 AND r.type = $2 AND " + c.sup
	var (
		page *scim.Page
		err  error
	)
	if c.exact() && sortOK {
		page, err = s.queryExact(ctx, b, q, where, sk, nFilter)
	} else {
		if !sortOK {
			sk = ""
		}
		page, err = s.queryFallback(ctx, b, q, where, sk, !c.exact(), !sortOK)
	}
	if err != nil {
		return nil, wrap(ctx, "query "+resourceType, err)
	}
	return page, nil
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

// queryExact answers a query SQL expresses exactly: the count and the page
// in one round trip. The page is selected first and only its resources'
// groups or members are read.
func (s *Store) queryExact(ctx context.Context, b *builder, q scim.Query, where, sk string, nFilter int) (*scim.Page, error) {
	countArgs := append([]any(nil), b.args[:nFilter]...)
	batch := &pgx.Batch{}
	var total int
	batch.Queue(`SELECT count(*) FROM `+s.t("resources")+` r WHERE `+where, countArgs...).QueryRow(func(row pgx.Row) error {
		return row.Scan(&total)
	})
	var resources []*scim.Resource
	if q.Count > 0 {
		sel := s.selectList(b.typ, "p", wants(q, groupsAttr), wants(q, membersAttr))
		inner := "r.tenant, r.id, r.seq, r.version, r.created, r.last_modified, r.attrs"
		outer := "p.seq"
		if sk != "" {
			inner += ", " + sk + " AS sk"
			outer = orderBy("p", "p.sk", q.Descending)
		}
		limit, offset := b.arg(int64(q.Count)), b.arg(int64(max(q.StartIndex, 1)-1))
		sql := `SELECT ` + sel.cols + ` FROM (SELECT ` + inner + ` FROM ` + s.t("resources") + ` r WHERE ` + where +
			` ORDER BY ` + orderBy("r", sk, q.Descending) + ` LIMIT ` + limit + ` OFFSET ` + offset + `) p ORDER BY ` + outer
		batch.Queue(sql, b.args...).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				r, err := sel.scan(rows, b.typ)
				if err != nil {
					return err
				}
				resources = append(resources, r)
			}
			return rows.Err()
		})
	}
	if err := s.pool.SendBatch(ctx, batch).Close(); err != nil {
		return nil, err
	}
	if resources == nil {
		resources = []*scim.Resource{}
	}
	return &scim.Page{Resources: resources, TotalResults: total}, nil
}

// queryFallback answers a query whose filter (goFilter) or sort (goSort)
// SQL cannot express exactly: SQL selects the candidates (a superset of
// the matches) in the sort order if it can, Go keeps the matches and
// sorts them, and pages. More candidates than the fallback limit is a
// SCIM tooMany error, never a different answer.
func (s *Store) queryFallback(ctx context.Context, b *builder, q scim.Query, where, sk string, goFilter, goSort bool) (*scim.Page, error) {
	sel := s.selectList(b.typ, "r", true, true)
	limit := b.arg(int64(s.fallbackLimit) + 1)
	rows, err := s.pool.Query(ctx, `SELECT `+sel.cols+` FROM `+s.t("resources")+` r WHERE `+where+
		` ORDER BY `+orderBy("r", sk, q.Descending)+` LIMIT `+limit, b.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var matches []*scim.Resource
	n := 0
	for rows.Next() {
		n++
		if n > s.fallbackLimit {
			return nil, &scim.Error{
				Status:   http.StatusBadRequest,
				ScimType: scim.ErrTypeTooMany,
				Detail:   fmt.Sprintf("the filter or sort order needs more than %d resources evaluated one by one; narrow the filter (for example with userName, externalId or id)", s.fallbackLimit),
			}
		}
		r, err := sel.scan(rows, b.typ)
		if err != nil {
			return nil, err
		}
		if goFilter && !scim.Matches(q.Filter, r) {
			continue
		}
		matches = append(matches, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if goSort && q.SortBy != nil {
		scim.SortResources(matches, *q.SortBy, q.Descending)
	}
	start := min(max(q.StartIndex, 1)-1, len(matches))
	end := min(start+max(q.Count, 0), len(matches))
	out := make([]*scim.Resource, end-start)
	copy(out, matches[start:end])
	return &scim.Page{Resources: out, TotalResults: len(matches)}, nil
}
