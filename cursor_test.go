package scim_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// TestCursorPagingUnderChurn pages through 10,000 users by cursor (RFC
// 9865) while another goroutine creates and deletes users: every user that
// exists throughout is seen exactly once.
func TestCursorPagingUnderChurn(t *testing.T) {
	const users = 10_000
	store := memstore.New()
	stable := make([]string, users)
	for i := range stable {
		stable[i] = fmt.Sprintf("stable-%05d", i)
	}
	seedUsers(t, store, stable...)
	doomed := make([]string, 500)
	for i := range doomed {
		doomed[i] = fmt.Sprintf("doomed-%03d", i)
	}
	seedUsers(t, store, doomed...)
	s := newServerWithStore(t, store)

	for _, order := range []string{"", "&sortBy=userName", "&sortBy=userName&sortOrder=descending"} {
		t.Run("order"+order, func(t *testing.T) {
			var stop atomic.Bool
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { // churn: new users appear, doomed ones go
				defer wg.Done()
				for i := 0; !stop.Load() && i < len(doomed); i++ {
					s.create("/Users", user(fmt.Sprintf("churn%s-%d", order, i)))
					s.do(http.MethodDelete, "/Users/"+doomed[i], nil)
				}
			}()
			seen := map[string]int{}
			next, pages := "", 0
			for {
				resp := s.do(http.MethodGet, "/Users?count=100&attributes=id"+order+"&cursor="+url.QueryEscape(next), nil)
				require.Equal(t, http.StatusOK, resp.status, resp.raw)
				assert.NotContains(t, resp.body, "startIndex")
				for _, id := range ids(resp) {
					seen[id]++
				}
				pages++
				n, ok := resp.body["nextCursor"].(string)
				if !ok {
					break
				}
				require.Less(t, pages, 200, "paging must end")
				next = n
			}
			stop.Store(true)
			wg.Wait()
			for _, id := range stable {
				require.Equal(t, 1, seen[id], "user %s existed throughout: seen once", id)
			}
			for id, n := range seen {
				require.Equal(t, 1, n, "%s seen %d times", id, n)
			}
		})
		// Put the doomed users back for the next order.
		for _, id := range doomed {
			if s.do(http.MethodGet, "/Users/"+id, nil).status == http.StatusNotFound {
				seedUsers(t, store, id)
			}
		}
	}
}

func TestCursorPaging(t *testing.T) {
	s := newServer(t)
	var created []string
	for i := 0; i < 7; i++ {
		created = append(created, s.create("/Users", user(fmt.Sprintf("u%d", i))))
	}
	first := s.do(http.MethodGet, "/Users?cursor=&count=3", nil)
	require.Equal(t, http.StatusOK, first.status, first.raw)
	assert.Equal(t, created[:3], ids(first))
	assert.EqualValues(t, 7, first.body["totalResults"])
	next := first.body["nextCursor"].(string)

	// The same through POST /.search.
	resp := s.do(http.MethodPost, "/Users/.search", map[string]any{"cursor": next, "count": 3})
	require.Equal(t, http.StatusOK, resp.status, resp.raw)
	assert.Equal(t, created[3:6], ids(resp))
	last := s.do(http.MethodGet, "/Users?count=3&cursor="+url.QueryEscape(resp.body["nextCursor"].(string)), nil)
	assert.Equal(t, created[6:], ids(last))
	assert.NotContains(t, last.body, "nextCursor", "the last page has no next cursor")

	// Cursors belong to their query.
	for _, bad := range []string{
		"/Users?cursor=garbage",
		"/Users?cursor=" + url.QueryEscape(next) + "&sortBy=userName",
		`/Users?cursor=` + url.QueryEscape(next) + `&filter=userName eq "u1"`,
		"/Groups?cursor=" + url.QueryEscape(next),
	} {
		requireError(t, s.do(http.MethodGet, bad, nil), 400, scim.SCIMTypeInvalidCursor)
	}
	requireError(t, s.do(http.MethodGet, "/Users?cursor=&startIndex=2", nil), 400, scim.SCIMTypeInvalidValue)
	requireError(t, s.do(http.MethodGet, "/?cursor=", nil), 400, scim.SCIMTypeInvalidValue)
	// Index paging keeps working.
	assert.Equal(t, created[2:4], ids(s.do(http.MethodGet, "/Users?startIndex=3&count=2", nil)))

	spc := s.do(http.MethodGet, "/ServiceProviderConfig", nil).body
	assert.Equal(t, map[string]any{"cursor": true, "index": true, "defaultPaginationMethod": "index",
		"defaultPageSize": float64(1000), "maxPageSize": float64(1000)}, spc["pagination"])
}
