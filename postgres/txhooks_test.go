package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/postgres"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func user(id, userName string) *scim.Resource {
	return &scim.Resource{Type: "User", ID: id, Attributes: map[string]any{"userName": userName, "active": true},
		Meta: scim.Meta{Created: t0, LastModified: t0}, Unique: []scim.UniqueKey{{Attribute: "userName", Value: userName}}}
}

func groupOf(id string, members ...string) *scim.Resource {
	ms := []any{}
	for _, m := range members {
		ms = append(ms, map[string]any{"value": m, "type": "User"})
	}
	return &scim.Resource{Type: "Group", ID: id, Attributes: map[string]any{"displayName": id, "members": ms},
		Meta: scim.Meta{Created: t0, LastModified: t0}}
}

// hostTable creates a table of the host's own in the store's database.
func hostTable(t *testing.T, pool *pgxpool.Pool, name, columns string) string {
	t.Helper()
	table := pgx.Identifier{fmt.Sprintf("scimtest_%s_%d", name, time.Now().UnixNano())}.Sanitize()
	_, err := pool.Exec(context.Background(), `CREATE TABLE `+table+` (`+columns+`)`)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), `DROP TABLE `+table) })
	return table
}

func countRows(t *testing.T, pool *pgxpool.Pool, table string) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n))
	return n
}

// TestTxHookFailureUndoesEveryWriteKind: for each write kind, a hook that
// writes the host's row and then fails leaves the directory, the host's
// table and the feed as they were.
func TestTxHookFailureUndoesEveryWriteKind(t *testing.T) {
	pool := testPool(t)
	accounts := hostTable(t, pool, "accounts", "id text NOT NULL, op text NOT NULL")
	var fail atomic.Bool
	var seen []postgres.TxWrite
	s := newStore(t, pool, postgres.WithTxHook(func(ctx context.Context, tx pgx.Tx, w postgres.TxWrite) error {
		if _, err := tx.Exec(ctx, `INSERT INTO `+accounts+` (id, op) VALUES ($1, $2)`, w.Change.ID, string(w.Change.Op)); err != nil {
			return err
		}
		seen = append(seen, w)
		if fail.Load() {
			return &scim.Error{Status: http.StatusConflict, Detail: "the host says no"}
		}
		return nil
	}))
	ctx := context.Background()
	_, err := s.Create(ctx, user("u1", "one"))
	require.NoError(t, err)
	_, err = s.Create(ctx, user("u2", "two"))
	require.NoError(t, err)
	_, err = s.Create(ctx, groupOf("g1", "u1"))
	require.NoError(t, err)
	require.Len(t, seen, 3)
	assert.Nil(t, seen[0].Before)
	assert.Equal(t, "one", seen[0].After.Attributes["userName"], "a create's hook sees the stored resource")
	assert.Equal(t, scim.ChangeCreate, seen[0].Change.Op)

	u1, err := s.Get(ctx, "User", "u1")
	require.NoError(t, err)
	replaced := u1.Clone()
	replaced.Attributes["active"] = false
	delete(replaced.Attributes, "groups")

	kinds := []struct {
		name  string
		write func() error
	}{
		{"create", func() error { _, err := s.Create(ctx, user("u3", "three")); return err }},
		{"create with members", func() error { _, err := s.Create(ctx, groupOf("g2", "u1", "u2")); return err }},
		{"replace", func() error { _, err := s.Replace(ctx, replaced, u1.Meta.Version); return err }},
		{"patch members", func() error {
			_, err := s.PatchMembers(ctx, "Group", "g1", scim.MembershipChange{Add: []map[string]any{{"value": "u2"}}, LastModified: t0}, "")
			return err
		}},
		{"delete with a cascade", func() error { return s.Delete(ctx, "User", "u1", "") }},
	}
	head, err := s.Head(ctx)
	require.NoError(t, err)
	before := countRows(t, pool, accounts)
	fail.Store(true)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			err := k.write()
			var se *scim.Error
			require.True(t, errors.As(err, &se), "the hook's *scim.Error reaches the caller: %v", err)
			assert.Equal(t, http.StatusConflict, se.Status)
			assert.Equal(t, before, countRows(t, pool, accounts), "the host's row rolled back with the write")
		})
	}
	fail.Store(false)
	_, err = s.Get(ctx, "User", "u3")
	assert.ErrorIs(t, err, scim.ErrNotFound)
	_, err = s.Get(ctx, "Group", "g2")
	assert.ErrorIs(t, err, scim.ErrNotFound)
	now, err := s.Get(ctx, "User", "u1")
	require.NoError(t, err)
	assert.Equal(t, u1.Meta.Version, now.Meta.Version, "replace and delete undone")
	assert.Equal(t, true, now.Attributes["active"])
	g1, err := s.Get(ctx, "Group", "g1")
	require.NoError(t, err)
	assert.Len(t, g1.Attributes["members"], 1, "the member PATCH and the cascade undone")
	cs, err := s.Changes(ctx, scim.ChangeQuery{After: head})
	require.NoError(t, err)
	assert.Empty(t, cs, "no change recorded for a write a hook refused")

	// And the same writes succeed, each hook seeing what it must.
	seen = nil
	for _, k := range kinds {
		require.NoError(t, k.write(), k.name)
	}
	byKind := map[string]postgres.TxWrite{}
	for _, w := range seen {
		key := string(w.Change.Op) + " " + w.Change.Type
		if w.Change.Cascade {
			key += " cascade"
		}
		byKind[key] = w
	}
	if w, ok := byKind["replace User"]; assert.True(t, ok) {
		assert.Equal(t, true, w.Before.Attributes["active"])
		assert.Equal(t, false, w.After.Attributes["active"])
	}
	if w, ok := byKind["patch Group"]; assert.True(t, ok) {
		assert.Equal(t, []string{"u2"}, w.Change.Added)
		assert.NotEqual(t, w.Before.Meta.Version, w.After.Meta.Version)
		assert.Equal(t, "g1", w.After.Attributes["displayName"])
	}
	if w, ok := byKind["delete User"]; assert.True(t, ok) {
		assert.Equal(t, "one", w.Before.Attributes["userName"], "a delete's hook sees the resource as it was")
		assert.Nil(t, w.After)
	}
	if w, ok := byKind["patch Group cascade"]; assert.True(t, ok) {
		assert.Equal(t, []string{"u1"}, w.Change.Removed)
	}
}

// TestTxHookRunsAgainAfterASerializationFailure: the store runs the
// whole write again, the hook included, and nothing of the first attempt
// stays.
func TestTxHookRunsAgainAfterASerializationFailure(t *testing.T) {
	pool := testPool(t)
	outbox := hostTable(t, pool, "outbox", "id text NOT NULL")
	var calls atomic.Int32
	s := newStore(t, pool, postgres.WithTxHook(func(ctx context.Context, tx pgx.Tx, w postgres.TxWrite) error {
		if _, err := tx.Exec(ctx, `INSERT INTO `+outbox+` (id) VALUES ($1)`, w.Change.ID); err != nil {
			return err
		}
		if calls.Add(1) == 1 { // the database aborts the first attempt
			_, err := tx.Exec(ctx, `DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$`)
			return err
		}
		return nil
	}))
	_, err := s.Create(context.Background(), user("r1", "retried"))
	require.NoError(t, err)
	assert.EqualValues(t, 2, calls.Load(), "the hook runs again in the new transaction")
	assert.Equal(t, 1, countRows(t, pool, outbox), "the first attempt's row is gone")
}

// TestTxHookSeatsAcrossTwoReplicas: two handlers on two pools (two
// replicas) share a seat count that in-transaction hooks take; 64 clients
// race for the last seats and exactly as many creates succeed as there
// were seats.
func TestTxHookSeatsAcrossTwoReplicas(t *testing.T) {
	const seats, clients = 10, 64
	pool := testPool(t)
	seatTable := hostTable(t, pool, "seats", "one boolean PRIMARY KEY, used int NOT NULL, total int NOT NULL")
	_, err := pool.Exec(context.Background(), `INSERT INTO `+seatTable+` VALUES (true, 0, $1)`, seats)
	require.NoError(t, err)
	takeSeat := func(ctx context.Context, tx pgx.Tx, w postgres.TxWrite) error {
		if w.Change.Op != scim.ChangeCreate || w.Change.Type != "User" {
			return nil
		}
		tag, err := tx.Exec(ctx, `UPDATE `+seatTable+` SET used = used + 1 WHERE used < total`)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return &scim.Error{Status: http.StatusForbidden, Detail: "no licence seat is left"}
		}
		return nil
	}
	schema := freshSchema(t, pool)
	var urls []string
	for range 2 { // each replica its own pool and store, one database
		p, err := pgxpool.New(context.Background(), pool.Config().ConnString())
		require.NoError(t, err)
		t.Cleanup(p.Close)
		s, err := postgres.New(context.Background(), p, postgres.WithSchema(schema), postgres.WithTxHook(takeSeat))
		require.NoError(t, err)
		t.Cleanup(s.Close)
		h, err := scim.New(s, scim.NewBearerTokens(scim.Token{Secret: "t", Principal: scim.Principal{ID: "idp"}}),
			scim.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		require.NoError(t, err)
		srv := httptest.NewServer(http.StripPrefix("/scim/v2", h))
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL+"/scim/v2")
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
		details  []string
	)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"seat%d"}`, i)
			req, _ := http.NewRequest(http.MethodPost, urls[i%2]+"/Users", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer t")
			req.Header.Set("Content-Type", "application/scim+json")
			resp, err := http.DefaultClient.Do(req)
			if !assert.NoError(t, err) {
				return
			}
			var b [512]byte
			n, _ := resp.Body.Read(b[:])
			resp.Body.Close()
			mu.Lock()
			statuses[resp.StatusCode]++
			if resp.StatusCode == http.StatusForbidden {
				details = append(details, string(b[:n]))
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	assert.Equal(t, map[int]int{http.StatusCreated: seats, http.StatusForbidden: clients - seats}, statuses)
	if assert.NotEmpty(t, details) {
		assert.Contains(t, details[0], "no licence seat is left", "the hook's SCIM error reaches the client as it is")
	}
	var used, users int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT used FROM `+seatTable).Scan(&used))
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM `+pgx.Identifier{schema}.Sanitize()+`.resources WHERE type = 'User'`).Scan(&users))
	assert.Equal(t, seats, used)
	assert.Equal(t, seats, users)
	t.Logf("two replicas, %d clients, %d seats: %v", clients, seats, statuses)
}
