package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scimkit/scim"
)

// smallGroup is the size of the small group the member PATCH is compared on.
const smallGroup = 10

// spareUsers is how many users the member PATCH scenarios add and remove.
const spareUsers = 1000

// preloadWorkers create the users at once.
const preloadWorkers = 8

// fixture is what preload stored.
type fixture struct {
	run        string // a random word, so that names of one run never clash with another's
	ids        []string
	userNames  []string
	docs       map[string][]byte // the floor's documents, by id
	bigGroup   string
	smallGroup string
	spare      []string // users in no group
}

func (fx *fixture) userID(n int64) string { return fx.ids[uint64(n*7919)%uint64(len(fx.ids))] }

// typicalUser is a user as Entra ID provisions one: userName, name, two
// emails, active, a department.
func typicalUser(userName string) map[string]any {
	return map[string]any{
		"userName":    userName,
		"active":      true,
		"displayName": "Load " + userName,
		"name":        map[string]any{"givenName": "Load", "familyName": userName},
		"emails": []any{
			map[string]any{"value": userName + "@example.com", "type": "work", "primary": true},
			map[string]any{"value": userName + "@home.example", "type": "home"},
		},
		scim.EnterpriseUserSchema: map[string]any{"department": "Engineering"},
	}
}

func userJSON(userName string) string {
	u := typicalUser(userName)
	u["schemas"] = []string{scim.UserSchema, scim.EnterpriseUserSchema}
	b, _ := json.Marshal(u)
	return string(b)
}

// preload stores the users and the groups straight into store.
func preload(ctx context.Context, store scim.Store, cfg config) (*fixture, error) {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	fx := &fixture{run: hex.EncodeToString(b), docs: map[string][]byte{}}
	now := time.Now().UTC()
	newUser := func(i int, prefix string) (*scim.Resource, error) {
		name := fmt.Sprintf("%s-%s-%07d", fx.run, prefix, i)
		res := &scim.Resource{
			Type: "User", ID: fmt.Sprintf("%s-%s-%07d", prefix, fx.run, i), Attributes: typicalUser(name),
			Meta:   scim.Meta{Created: now, LastModified: now},
			Unique: []scim.UniqueKey{{Attribute: "userName", Value: scim.FoldCase(name)}},
		}
		return store.Create(ctx, res)
	}
	// Users are created by a few workers at once: a database store takes a
	// round trip per create.
	fx.ids, fx.userNames = make([]string, cfg.users), make([]string, cfg.users)
	versions := make([]string, cfg.users)
	var wg sync.WaitGroup
	errs := make(chan error, preloadWorkers)
	for w := 0; w < preloadWorkers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < cfg.users; i += preloadWorkers {
				u, err := newUser(i, "user")
				if err != nil {
					errs <- fmt.Errorf("preloading user %d: %w", i, err)
					return
				}
				fx.ids[i], fx.userNames[i], versions[i] = u.ID, u.Attributes["userName"].(string), u.Meta.Version
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	for i, id := range fx.ids {
		doc := typicalUser(fx.userNames[i])
		doc["id"], doc["schemas"] = id, []string{scim.UserSchema, scim.EnterpriseUserSchema}
		doc["meta"] = map[string]any{"resourceType": "User", "version": `W/"` + versions[i] + `"`, "created": now, "lastModified": now, "location": "http://127.0.0.1/scim/v2/Users/" + id}
		fx.docs[id], _ = json.Marshal(doc)
	}
	for i := 0; i < spareUsers; i++ {
		u, err := newUser(i, "spare")
		if err != nil {
			return nil, fmt.Errorf("preloading spare user %d: %w", i, err)
		}
		fx.spare = append(fx.spare, u.ID)
	}
	group := func(name string, n int) (string, error) {
		members := make([]any, 0, n)
		for i := 0; i < n && i < len(fx.ids); i++ {
			members = append(members, map[string]any{"value": fx.ids[i], "type": "User"})
		}
		g, err := store.Create(ctx, &scim.Resource{Type: "Group", ID: name + "-" + fx.run,
			Attributes: map[string]any{"displayName": name + " " + fx.run, "members": members},
			Meta:       scim.Meta{Created: now, LastModified: now}})
		if err != nil {
			return "", fmt.Errorf("preloading group %s: %w", name, err)
		}
		return g.ID, nil
	}
	var err error
	if fx.bigGroup, err = group("big", cfg.groupSize); err != nil {
		return nil, err
	}
	if fx.smallGroup, err = group("small", smallGroup); err != nil {
		return nil, err
	}
	return fx, nil
}

// scenario is one kind of request, sent over and over.
type scenario struct {
	name string
	next func(n int64) (request, bool)
}

func scenarios(fx *fixture) []scenario {
	var posted atomic.Int64
	memberPatch := func(group string) func(n int64) (request, bool) {
		return func(n int64) (request, bool) {
			id := fx.spare[(n/2)%int64(len(fx.spare))]
			op := `{"op":"add","path":"members","value":[{"value":"` + id + `"}]}`
			if n%2 == 1 {
				op = `{"op":"remove","path":"members[value eq \"` + id + `\"]"}`
			}
			return request{method: http.MethodPatch, path: "/scim/v2/Groups/" + group, ok: is(204),
				body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + op + `]}`}, true
		}
	}
	return []scenario{
		{"GET /Users/{id}", func(n int64) (request, bool) {
			return request{method: http.MethodGet, path: "/scim/v2/Users/" + fx.userID(n), ok: is(200)}, true
		}},
		{"GET /Users?filter=userName eq", func(n int64) (request, bool) {
			name := fx.userNames[uint64(n*7919)%uint64(len(fx.userNames))]
			return request{method: http.MethodGet, path: "/scim/v2/Users?filter=userName%20eq%20%22" + name + "%22", ok: is(200)}, true
		}},
		{"POST /Users", func(int64) (request, bool) {
			// A new name on every call, across rounds too.
			n := posted.Add(1)
			return request{method: http.MethodPost, path: "/scim/v2/Users", body: userJSON(fx.run + "-post-" + strconv.FormatInt(n, 10)), ok: is(201)}, true
		}},
		{"PATCH add/remove member, large group", memberPatch(fx.bigGroup)},
		{fmt.Sprintf("PATCH add/remove member, %d-member group", smallGroup), memberPatch(fx.smallGroup)},
		{"GET /Groups/{id}?excludedAttributes=members", func(n int64) (request, bool) {
			return request{method: http.MethodGet, path: "/scim/v2/Groups/" + fx.bigGroup + "?excludedAttributes=members", ok: is(200)}, true
		}},
		{"GET /Users?startIndex=…&count=100", func(n int64) (request, bool) {
			start := 1 + uint64(n*7919)%uint64(max(1, len(fx.ids)-100))
			return request{method: http.MethodGet, path: "/scim/v2/Users?startIndex=" + strconv.FormatUint(start, 10) + "&count=100", ok: is(200)}, true
		}},
	}
}
