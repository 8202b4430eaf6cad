package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/scimkit/scim"
)

// The benchmarks' data size: -pg.users Users, a tenth as many Groups, and
// one Group whose members are a tenth of the Users (at the default size:
// 1,000,000 Users, 100,000 Groups, a group of 100,000 members).
var benchUsers = flag.Int("pg.users", 1000000, "number of Users the PostgreSQL benchmarks load")

// benchData is the benchmarks' database, loaded once per process.
type benchData struct {
	pool     *pgxpool.Pool
	store    *Store
	schema   string
	users    int
	groups   int
	members  int
	pkNs     float64 // the baseline: ns of one primary key SELECT (PKSelect's, once it ran)
	serial   atomic.Int64
	loadTime time.Duration
}

var (
	benchOnce sync.Once
	bench     *benchData
	benchErr  error
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if bench != nil {
		_, _ = bench.pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+bench.store.schema+" CASCADE")
		bench.pool.Close()
	}
	os.Exit(code)
}

const benchTenant = "bench"

func benchCtx() context.Context {
	return scim.WithPrincipal(context.Background(), scim.Principal{ID: "bench", Tenant: benchTenant})
}

// loadBench connects and loads the data, or skips without a DSN.
func loadBench(b *testing.B) *benchData {
	b.Helper()
	dsn := os.Getenv("SCIM_POSTGRES_DSN")
	if dsn == "" {
		b.Skip("SCIM_POSTGRES_DSN is not set: set it to a PostgreSQL DSN to run the PostgreSQL store's benchmarks")
	}
	benchOnce.Do(func() { bench, benchErr = newBenchData(dsn, *benchUsers) })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return bench
}

func newBenchData(dsn string, users int) (*benchData, error) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, err
	}
	var rb [6]byte
	_, _ = rand.Read(rb[:])
	d := &benchData{pool: pool, schema: "scimbench_" + hex.EncodeToString(rb[:]), users: users, groups: max(users/10, 1), members: max(users/10, 1)}
	if d.store, err = New(ctx, pool, WithSchema(d.schema)); err != nil {
		return nil, err
	}
	begin := time.Now()
	if err := d.load(ctx); err != nil {
		_, _ = pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+d.store.schema+" CASCADE")
		return nil, err
	}
	d.loadTime = time.Since(begin)
	fmt.Fprintf(os.Stderr, "postgres benchmarks: loaded %d Users, %d Groups and a Group of %d members into %s in %s\n",
		d.users, d.groups, d.members, d.schema, d.loadTime.Round(time.Millisecond))
	return d, d.measureBaseline(ctx)
}

func benchUser(i int) *scim.Resource {
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	name := fmt.Sprintf("user%07d@Example.com", i)
	return &scim.Resource{
		Type: userType, ID: fmt.Sprintf("u%07d", i),
		Attributes: map[string]any{
			"userName":    name,
			"externalId":  fmt.Sprintf("ext-%07d", i),
			"active":      true,
			"displayName": fmt.Sprintf("User %d", i),
			"name":        map[string]any{"givenName": "User", "familyName": fmt.Sprintf("Number %d", i)},
			"emails":      []any{map[string]any{"value": name, "type": "work", "primary": true}},
		},
		Meta:   scim.Meta{Created: now, LastModified: now},
		Unique: []scim.UniqueKey{{Attribute: "userName", Value: scim.FoldCase(name)}},
	}
}

func benchGroup(i int) *scim.Resource {
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	return &scim.Resource{
		Type: groupType, ID: fmt.Sprintf("g%06d", i),
		Attributes: map[string]any{"displayName": fmt.Sprintf("Group %d", i), "members": []any{}},
		Meta:       scim.Meta{Created: now, LastModified: now},
	}
}

// load copies the rows in with COPY, as the store would have written them.
func (d *benchData) load(ctx context.Context) error {
	s := d.store
	resourceCols := []string{"tenant", "type", "id", "version", "created", "last_modified", "attrs", "folded", "id_folded", "user_name", "external_id", "display_name"}
	copyResources := func(n int, make func(int) *scim.Resource) error {
		i := 0
		_, err := d.pool.CopyFrom(ctx, pgx.Identifier{s.schemaName, "resources"}, resourceCols, pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			r := make(i)
			i++
			e, err := encodeResource(r)
			if err != nil {
				return nil, err
			}
			return []any{benchTenant, r.Type, r.ID, "v0", r.Meta.Created, r.Meta.LastModified, []byte(e.attrs), []byte(e.folded),
				e.idFolded, e.userName, e.externalID, e.displayName}, nil
		}))
		return err
	}
	// Bulk loading: the secondary indexes are built after the copy.
	rows, err := d.pool.Query(ctx, `SELECT indexname, indexdef FROM pg_indexes
		WHERE schemaname = $1 AND tablename = 'resources' AND indexname <> 'resources_pkey'`, s.schemaName)
	if err != nil {
		return err
	}
	type index struct{ Name, Def string }
	indexes, err := pgx.CollectRows(rows, pgx.RowToStructByPos[index])
	if err != nil {
		return err
	}
	for _, ix := range indexes {
		if _, err := d.pool.Exec(ctx, "DROP INDEX "+pgx.Identifier{s.schemaName, ix.Name}.Sanitize()); err != nil {
			return err
		}
	}
	step := time.Now()
	lap := func(what string) {
		fmt.Fprintf(os.Stderr, "postgres benchmarks: %s took %s\n", what, time.Since(step).Round(time.Millisecond))
		step = time.Now()
	}
	if err := copyResources(d.users, benchUser); err != nil {
		return fmt.Errorf("copying users: %w", err)
	}
	lap("copying users")
	if err := copyResources(d.groups, benchGroup); err != nil {
		return fmt.Errorf("copying groups: %w", err)
	}
	lap("copying groups")
	for _, ix := range indexes {
		if _, err := d.pool.Exec(ctx, ix.Def); err != nil {
			return err
		}
	}
	// Statistics first: the foreign key checks of the copies below look
	// resources up by primary key only if the planner knows the table.
	if _, err := d.pool.Exec(ctx, "ANALYZE "+s.t("resources")); err != nil {
		return err
	}
	lap("indexing and analyzing resources")
	i := 0
	if _, err := d.pool.CopyFrom(ctx, pgx.Identifier{s.schemaName, "unique_keys"}, []string{"tenant", "type", "attribute", "value", "id"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == d.users {
				return nil, nil
			}
			u := benchUser(i)
			i++
			return []any{benchTenant, userType, "userName", u.Unique[0].Value, u.ID}, nil
		})); err != nil {
		return fmt.Errorf("copying unique keys: %w", err)
	}
	lap("copying unique keys")
	i = 0
	if _, err := d.pool.CopyFrom(ctx, pgx.Identifier{s.schemaName, "members"}, []string{"tenant", "group_id", "member_type", "member_id", "member_folded", "value", "folded"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == d.members {
				return nil, nil
			}
			id := fmt.Sprintf("u%07d", i)
			i++
			v := []byte(`{"value":"` + id + `","type":"User"}`)
			return []any{benchTenant, "g000000", userType, id, id, v, v}, nil
		})); err != nil {
		return fmt.Errorf("copying members: %w", err)
	}
	lap("copying members")
	for _, t := range []string{"resources", "unique_keys", "members"} {
		if _, err := d.pool.Exec(ctx, "VACUUM ANALYZE "+s.t(t)); err != nil {
			return err
		}
	}
	lap("VACUUM ANALYZE")
	return nil
}

// measureBaseline times a primary key SELECT round trip on the pool.
func (d *benchData) measureBaseline(ctx context.Context) error {
	const n = 3000
	sql := "SELECT id FROM " + d.store.t("resources") + " WHERE tenant = $1 AND type = $2 AND id = $3"
	var id string
	for i := 0; i < 100; i++ { // warm the connection and its statement cache
		if err := d.pool.QueryRow(ctx, sql, benchTenant, userType, fmt.Sprintf("u%07d", i)).Scan(&id); err != nil {
			return err
		}
	}
	begin := time.Now()
	for i := 0; i < n; i++ {
		if err := d.pool.QueryRow(ctx, sql, benchTenant, userType, fmt.Sprintf("u%07d", (i*7919)%d.users)).Scan(&id); err != nil {
			return err
		}
	}
	d.pkNs = float64(time.Since(begin).Nanoseconds()) / n
	return nil
}

// report adds the ratio of the benchmark's ns/op to the baseline's.
func (d *benchData) report(b *testing.B) {
	if b.N > 0 && d.pkNs > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/d.pkNs, "x_pkselect")
	}
}

// BenchmarkPostgres measures the store against a primary key SELECT round
// trip on the same pool (PKSelect, and the x_pkselect metric of the
// others). Run it with
//
//	SCIM_POSTGRES_DSN=... go test -run '^$' -bench BenchmarkPostgres -count=1 ./postgres/ [-pg.users=10000]
func BenchmarkPostgres(b *testing.B) {
	d := loadBench(b)
	s := d.store
	ctx := benchCtx()
	b.Run("PKSelect", func(b *testing.B) {
		sql := "SELECT id FROM " + s.t("resources") + " WHERE tenant = $1 AND type = $2 AND id = $3"
		var id string
		for i := 0; i < b.N; i++ {
			if err := d.pool.QueryRow(ctx, sql, benchTenant, userType, fmt.Sprintf("u%07d", (i*7919)%d.users)).Scan(&id); err != nil {
				b.Fatal(err)
			}
		}
		// The other benchmarks' ratios are to this run's baseline.
		d.pkNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		d.report(b)
	})
	// Not a store operation: the cost of one committed write on this
	// database (WAL flush), which bounds every write below.
	b.Run("PKUpdateCommit", func(b *testing.B) {
		sql := "UPDATE " + s.t("resources") + " SET version = version WHERE tenant = $1 AND type = $2 AND id = $3"
		for i := 0; i < b.N; i++ {
			if _, err := d.pool.Exec(ctx, sql, benchTenant, userType, fmt.Sprintf("u%07d", (i*7919)%d.users)); err != nil {
				b.Fatal(err)
			}
		}
		d.report(b)
	})
	b.Run("GetByID", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := s.Get(ctx, userType, fmt.Sprintf("u%07d", (i*7919)%d.users)); err != nil {
				b.Fatal(err)
			}
		}
		d.report(b)
	})
	pUserName := scim.AttrPath{Name: "userName", Type: scim.TypeString}
	b.Run("QueryUserNameEq", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			name := fmt.Sprintf("USER%07d@example.com", (i*7919)%d.users)
			page, err := s.Query(ctx, userType, scim.Query{Filter: &scim.CompareExpr{Path: pUserName, Op: scim.OpEqual, Value: name}, StartIndex: 1, Count: 100})
			if err != nil || page.TotalResults != 1 {
				b.Fatalf("%v %+v", err, page)
			}
		}
		d.report(b)
	})
	b.Run("PatchMembersAddOneToLargeGroup", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			n := d.members + int(d.serial.Add(1))%(d.users-d.members)
			change := scim.MembershipChange{Add: []map[string]any{{"value": fmt.Sprintf("u%07d", n), "type": "User"}}, LastModified: time.Now()}
			if _, err := s.PatchMembers(ctx, groupType, "g000000", change, ""); err != nil {
				b.Fatal(err)
			}
		}
		d.report(b)
	})
	b.Run("GroupsPage100MembersExcluded", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			q := scim.Query{StartIndex: 1 + (i*100)%max(d.groups-100, 1), Count: 100, ExcludedAttributes: []scim.AttrPath{{Name: "members"}}}
			page, err := s.Query(ctx, groupType, q)
			if err != nil || page.TotalResults != d.groups {
				b.Fatalf("%v", err)
			}
		}
		d.report(b)
	})
	b.Run("EntraInitialSyncNewUser", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			n := int(d.serial.Add(1))
			u := benchUser(d.users + n)
			u.ID = fmt.Sprintf("new%08d", n)
			name := u.Attributes["userName"].(string)
			page, err := s.Query(ctx, userType, scim.Query{Filter: &scim.CompareExpr{Path: pUserName, Op: scim.OpEqual, Value: name}, StartIndex: 1, Count: 1})
			if err != nil || page.TotalResults != 0 {
				b.Fatalf("%v %+v", err, page)
			}
			if _, err := s.Create(ctx, u); err != nil {
				b.Fatal(err)
			}
		}
		d.report(b)
	})
}
