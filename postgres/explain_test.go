package postgres

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/scimkit/scim"
)

// explainRows is the number of Users the index test loads.
const explainRows = 100000

// TestIndexesUsed loads 100,000 Users (each the member of one of 1,000
// Groups), analyzes the tables, and checks with EXPLAIN that the lookups
// an IdP makes all the time use an index: the statements are the ones the
// store runs.
func TestIndexesUsed(t *testing.T) {
	pool := internalPool(t)
	schema := internalSchema(t, pool, "scimexplain_")
	ctx := context.Background()
	s, err := New(ctx, pool, WithSchema(schema), WithTrigramIndex())
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`INSERT INTO S.resources (tenant, type, id, version, created, last_modified, attrs, folded, id_folded, user_name, external_id)
			SELECT 't', 'User', 'u' || i, 'v', now(), now(),
				jsonb_build_object('userName', 'User' || i, 'externalId', 'Ext' || i),
				jsonb_build_object('userName', 'user' || i, 'externalId', 'ext' || i),
				'u' || i, 'user' || i, 'Ext' || i
			FROM generate_series(1, $1::int) i`,
		`INSERT INTO S.resources (tenant, type, id, version, created, last_modified, attrs, folded, id_folded, display_name)
			SELECT 't', 'Group', 'g' || i, 'v', now(), now(),
				jsonb_build_object('displayName', 'Group ' || i, 'members', '[]'::jsonb),
				jsonb_build_object('displayName', 'group ' || i, 'members', '[]'::jsonb),
				'g' || i, 'group ' || i
			FROM generate_series(1, $1::int / 100) i`,
		`INSERT INTO S.members (tenant, group_id, member_type, member_id, member_folded, value, folded)
			SELECT 't', 'g' || (1 + i % ($1::int / 100)), 'User', 'u' || i, 'u' || i,
				jsonb_build_object('value', 'u' || i, 'type', 'User'), jsonb_build_object('value', 'u' || i, 'type', 'user')
			FROM generate_series(1, $1::int) i`,
	} {
		if strings.Contains(sql, "S.members") {
			// Statistics first: the foreign key checks of the member rows
			// look resources up by primary key only if the planner knows
			// the table's size.
			if _, err := pool.Exec(ctx, "ANALYZE "+s.t("resources")); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := pool.Exec(ctx, strings.ReplaceAll(sql, "S.", s.schema+"."), explainRows); err != nil {
			t.Fatalf("loading: %v", err)
		}
	}
	for _, table := range []string{"resources", "members", "unique_keys"} {
		if _, err := pool.Exec(ctx, "ANALYZE "+s.t(table)); err != nil {
			t.Fatal(err)
		}
	}

	str := func(name, sub string, caseExact bool) scim.AttrPath {
		return scim.AttrPath{Name: name, Sub: sub, Type: scim.TypeString, CaseExact: caseExact, MultiValued: sub != ""}
	}
	eq := func(p scim.AttrPath, v string) scim.Filter {
		return &scim.CompareExpr{Path: p, Op: scim.OpEqual, Value: v}
	}
	for _, c := range []struct {
		name, typ string
		filter    scim.Filter
		index     string
	}{
		{"userName eq", "User", eq(str("userName", "", false), "USER4711"), "resources_user_name"},
		{"userName sw", "User", &scim.CompareExpr{Path: str("userName", "", false), Op: scim.OpStartsWith, Value: "USER471"}, "resources_user_name"},
		{"externalId eq", "User", eq(str("externalId", "", true), "Ext4711"), "resources_external_id"},
		{"id eq", "User", eq(str("id", "", true), "u4711"), "resources_pkey"},
		{"group displayName eq", "Group", eq(str("displayName", "", false), "GROUP 47"), "resources_display_name"},
		{"members.value eq (case-exact, as the handler's schema has it)", "Group", eq(str("members", "value", true), "u4711"), "members_member"},
		{"members.value eq (not case-exact)", "Group", eq(str("members", "value", false), "U4711"), "members_member_folded"},
	} {
		q := scim.Query{Filter: c.filter, StartIndex: 1, Count: 100, ExcludedAttributes: []scim.AttrPath{{Name: "members"}}}
		pl := s.plan("t", c.typ, q)
		if !pl.exact {
			t.Errorf("%s: the filter must translate to SQL exactly", c.name)
			continue
		}
		countSQL, countArgs := s.countSQL(pl)
		_, pageSQL, pageArgs := s.pageSQL(pl, q)
		expectIndex(t, pool, c.name+" (count)", countSQL, countArgs, c.index)
		expectIndex(t, pool, c.name+" (page)", pageSQL, pageArgs, c.index)
	}
	// userName co by the trigram index, where New could create it.
	var trgm bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, s.schema+"."+trigramIndexName).Scan(&trgm); err != nil {
		t.Fatal(err)
	}
	if trgm {
		q := scim.Query{Filter: &scim.CompareExpr{Path: str("userName", "", false), Op: scim.OpContains, Value: "ER4711"}, StartIndex: 1, Count: 100}
		pl := s.plan("t", "User", q)
		countSQL, countArgs := s.countSQL(pl)
		_, pageSQL, pageArgs := s.pageSQL(pl, q)
		expectIndex(t, pool, "userName co (count)", countSQL, countArgs, trigramIndexName)
		expectIndex(t, pool, "userName co (page)", pageSQL, pageArgs, trigramIndexName)
	} else {
		t.Logf("no pg_trgm in this database: userName co is not indexed")
	}
	// Keyset pages start at their position by index, in the store's
	// order and sorted by id.
	key := "u50000"
	byID := scim.AttrPath{Name: "id", Type: scim.TypeString}
	for _, c := range []struct {
		name  string
		q     scim.Query
		pos   position
		index string
	}{
		{"keyset page", scim.Query{Keyset: true, Count: 100}, position{S: 50000}, "resources_order"},
		{"keyset page by id", scim.Query{Keyset: true, Count: 100, SortBy: &byID}, position{S: 50000, T: "s", K: &key}, "resources_id_folded"},
		{"keyset page by id descending", scim.Query{Keyset: true, Count: 100, SortBy: &byID, Descending: true}, position{S: 50000, T: "s", K: &key}, "resources_id_folded"},
	} {
		pl := s.plan("t", "User", c.q)
		pl.pos = &c.pos
		_, pageSQL, pageArgs := s.pageSQL(pl, c.q)
		expectIndex(t, pool, c.name, pageSQL, pageArgs, c.index)
	}
	_, getSQL := s.getSQL("User")
	expectIndex(t, pool, "Get User with its groups", getSQL, []any{"t", "User", "u4711"}, "members_member")
	expectIndex(t, pool, "Get User with its groups", getSQL, []any{"t", "User", "u4711"}, "resources_pkey")
}

// expectIndex fails unless the plan of sql uses index and scans no table
// sequentially. Sequential scans are priced out (enable_seqscan off), so
// that the check asks whether the SQL can use the index, not what the
// planner prefers on statistics that other tests sharing the database
// move: a query no index serves is still planned as a sequential scan.
func expectIndex(t *testing.T, pool *pgxpool.Pool, what, sql string, args []any, index string) {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	if err := tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+sql, args...).Scan(&raw); err != nil {
		t.Fatalf("%s: EXPLAIN: %v", what, err)
	}
	var plan any
	if err := json.Unmarshal(raw, &plan); err != nil {
		t.Fatal(err)
	}
	indexes, seqScans := map[string]bool{}, map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if name, ok := v["Index Name"].(string); ok {
				indexes[name] = true
			}
			if v["Node Type"] == "Seq Scan" {
				rel, _ := v["Relation Name"].(string)
				seqScans[rel] = true
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(plan)
	if !indexes[index] || len(seqScans) > 0 {
		var used []string
		for i := range indexes {
			used = append(used, i)
		}
		sort.Strings(used)
		t.Errorf("%s must use index %s and scan no table sequentially; the plan uses %v and scans %v sequentially:\n%s", what, index, used, seqScans, raw)
		return
	}
	t.Logf("%s: uses %s", what, index)
}
