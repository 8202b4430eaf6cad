package scim_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/scimkit/scim/memstore"
)

// stressDuration is how long TestStress runs. The default keeps
// `go test -race ./...` quick; the 10 s run is
// `go test -race -run TestStress -scim.stress 10s .`.
var stressDuration = flag.Duration("scim.stress", 2*time.Second, "how long TestStress runs its 64 clients")

const stressClients = 64

// stressClient is one of TestStress's clients (they report with t.Errorf
// and assert, never require: FailNow must not run outside the test's
// goroutine) and what the server
// acknowledged to it.
type stressClient struct {
	t   *testing.T
	s   *server
	n   int
	rnd *rand.Rand

	users       map[string]string // id → displayName last acknowledged
	deleted     []string
	membership  map[[2]string]bool // (group, user) → member after the last acknowledged change
	emails      []string           // values acknowledged added to the shared user
	unavailable int                // 503s: a contended write that gave up, acknowledged as not done
}

// TestStress runs 64 clients over HTTP against one memory store, mixing
// creates, PATCHes, If-Match PUTs, deletes and filtered reads on their own
// users, membership changes of shared groups, contended PATCHes of one
// shared user and racing creates of the same userNames. Afterwards no
// acknowledged write is lost, no userName is held twice, and every member
// is an existing resource.
func TestStress(t *testing.T) {
	store := memstore.New()
	s := newServerWithStore(t, store)
	// The harness's client keeps a connection per client alive.
	transport := http.DefaultTransport.(*http.Transport)
	idle := transport.MaxIdleConnsPerHost
	transport.MaxIdleConnsPerHost = stressClients
	t.Cleanup(func() { transport.MaxIdleConnsPerHost = idle })
	shared := s.create("/Users", user("shared-counter"))
	groups := []string{s.create("/Groups", group("stress-0")), s.create("/Groups", group("stress-1")), s.create("/Groups", group("stress-2"))}

	deadline := time.Now().Add(*stressDuration)
	clients := make([]*stressClient, stressClients)
	var wg sync.WaitGroup
	for i := range clients {
		c := &stressClient{t: t, s: s, n: i, rnd: rand.New(rand.NewPCG(uint64(i), 11)),
			users: map[string]string{}, membership: map[[2]string]bool{}}
		clients[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; time.Now().Before(deadline); k++ {
				c.step(k, shared, groups)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	assert.Empty(t, storeViolations(t, store))
	sharedEmails := map[string]bool{}
	for _, e := range s.get("/Users/" + shared)["emails"].([]any) {
		sharedEmails[e.(map[string]any)["value"].(string)] = true
	}
	members := map[string]map[string]bool{}
	for _, g := range groups {
		members[g] = map[string]bool{}
		list, _ := s.get("/Groups/" + g)["members"].([]any)
		for _, m := range list {
			members[g][m.(map[string]any)["value"].(string)] = true
		}
	}
	alive, gaveUp := 0, 0
	for _, c := range clients {
		gaveUp += c.unavailable
		for id, name := range c.users {
			got := s.get("/Users/" + id)
			assert.Equal(t, name, fmt.Sprint(got["displayName"]), "client %d: user %s lost an acknowledged write", c.n, id)
			alive++
		}
		for _, id := range c.deleted {
			assert.Equal(t, http.StatusNotFound, s.do(http.MethodGet, "/Users/"+id, nil).status, "deleted user %s is back", id)
		}
		for _, e := range c.emails {
			assert.True(t, sharedEmails[e], "client %d: acknowledged email %s lost under contention", c.n, e)
		}
		for gu, member := range c.membership {
			_, alive := c.users[gu[1]]
			assert.Equal(t, member && alive, members[gu[0]][gu[1]], "client %d: membership of %s in %s", c.n, gu[1], gu[0])
		}
	}
	t.Logf("%d clients for %v: %d users alive, %d contended emails acknowledged, %d writes gave up (503)",
		stressClients, *stressDuration, alive, len(sharedEmails), gaveUp)
}

// step does one random operation and records what was acknowledged.
func (c *stressClient) step(k int, shared string, groups []string) {
	t, s := c.t, c.s
	own := func() (string, bool) {
		if len(c.users) == 0 {
			return "", false
		}
		ids := make([]string, 0, len(c.users))
		for id := range c.users {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return ids[c.rnd.IntN(len(ids))], true
	}
	switch op := c.rnd.IntN(10); {
	case op == 0 || len(c.users) == 0:
		name := fmt.Sprintf("c%d-%d", c.n, k)
		resp := s.do(http.MethodPost, "/Users", user(name, map[string]any{"displayName": "new"}))
		if assert.Equal(t, http.StatusCreated, resp.status, resp.raw) {
			c.users[resp.body["id"].(string)] = "new"
		}
	case op == 1:
		id, _ := own()
		name := fmt.Sprintf("patched-%d", k)
		resp := s.do(http.MethodPatch, "/Users/"+id, patchOps(`{"op":"replace","path":"displayName","value":"`+name+`"}`))
		if assert.Equal(t, http.StatusNoContent, resp.status, resp.raw) {
			c.users[id] = name
		}
	case op == 2:
		id, _ := own()
		got := s.do(http.MethodGet, "/Users/"+id, nil)
		if !assert.Equal(t, http.StatusOK, got.status, got.raw) {
			return
		}
		name := fmt.Sprintf("put-%d", k)
		body := user(fmt.Sprint(got.body["userName"]), map[string]any{"displayName": name})
		resp := s.do(http.MethodPut, "/Users/"+id, body, "If-Match", got.header.Get("ETag"))
		switch resp.status {
		case http.StatusOK:
			c.users[id] = name
		case http.StatusPreconditionFailed:
		default:
			t.Errorf("If-Match PUT: %d %s", resp.status, resp.raw)
		}
	case op == 3 && len(c.users) > 2:
		id, _ := own()
		resp := s.do(http.MethodDelete, "/Users/"+id, nil)
		if assert.Equal(t, http.StatusNoContent, resp.status, resp.raw) {
			delete(c.users, id)
			c.deleted = append(c.deleted, id)
		}
	case op == 4:
		resp := s.do(http.MethodGet, fmt.Sprintf(`/Users?filter=userName sw "c%d-" and displayName pr&attributes=displayName`, c.n), nil)
		if assert.Equal(t, http.StatusOK, resp.status, resp.raw) {
			list, _ := resp.body["Resources"].([]any)
			for _, r := range list {
				id := r.(map[string]any)["id"].(string)
				assert.Contains(t, c.users, id, "a read shows a user deleted before it or never created")
			}
			assert.EqualValues(t, len(c.users), resp.body["totalResults"])
		}
	case op == 5 || op == 6:
		id, _ := own()
		g := groups[c.rnd.IntN(len(groups))]
		var resp response
		if op == 5 {
			resp = s.do(http.MethodPatch, "/Groups/"+g, patchOps(`{"op":"add","path":"members","value":[{"value":"`+id+`"}]}`))
		} else {
			resp = s.do(http.MethodPatch, "/Groups/"+g, patchOps(`{"op":"remove","path":"members[value eq \"`+id+`\"]"}`))
		}
		if assert.Equal(t, http.StatusNoContent, resp.status, resp.raw) {
			c.membership[[2]string{g, id}] = op == 5
		}
	case op == 7 || op == 8:
		email := fmt.Sprintf("c%d-%d@example.com", c.n, k)
		resp := s.do(http.MethodPatch, "/Users/"+shared, patchOps(`{"op":"add","path":"emails","value":[{"value":"`+email+`","type":"work"}]}`))
		switch resp.status {
		case http.StatusNoContent:
			c.emails = append(c.emails, email)
		case http.StatusServiceUnavailable:
			c.unavailable++
		default:
			t.Errorf("contended PATCH: %d %s", resp.status, resp.raw)
		}
	default:
		// Racing creates of the same userName: one wins, the others get 409.
		name := fmt.Sprintf("Race-%d", c.rnd.IntN(4))
		if c.rnd.IntN(2) == 0 {
			name = fmt.Sprintf("race-%d", c.rnd.IntN(4))
		}
		resp := s.do(http.MethodPost, "/Users", user(name))
		switch resp.status {
		case http.StatusCreated:
			del := s.do(http.MethodDelete, "/Users/"+resp.body["id"].(string), nil)
			assert.Equal(t, http.StatusNoContent, del.status, del.raw)
		case http.StatusConflict:
		default:
			t.Errorf("racing create: %d %s", resp.status, resp.raw)
		}
	}
}
