package main

// The fixture every side is loaded with, and the scenarios: what wrk's
// Lua sends for each.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/scimkit/scim"
)

// smallGroup is the size of the small group the member PATCH is compared on.
const smallGroup = 10

// spareUsers is how many users the member PATCH scenarios add and remove.
const spareUsers = 1000

// preloadWorkers create the users at once.
const preloadWorkers = 8

// fixture is what every side holds: users named by userFormat (a Printf
// format of the index), spare users in no group, a large and a small
// group. IDs differ by side (the example server assigns its own), so
// each side writes its ids to files the Lua scripts read.
type fixture struct {
	run        string // a random word, so that names of one run never clash with another's
	userFormat string
	users      int
	now        time.Time
}

func newFixture(users int) *fixture {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	run := hex.EncodeToString(b)
	return &fixture{run: run, userFormat: run + "-user-%07d", users: users, now: time.Now().UTC()}
}

func (fx *fixture) userName(i int) string { return fmt.Sprintf(fx.userFormat, i) }

// userID is the id preload gives user i: deterministic, so that the floor
// and elimity's handler can hold the same ones.
func (fx *fixture) userID(i int) string { return fmt.Sprintf("user-%s-%07d", fx.run, i) }

func (fx *fixture) spareName(i int) string { return fmt.Sprintf("%s-spare-%07d", fx.run, i) }

func (fx *fixture) spareID(i int) string { return fmt.Sprintf("spare-%s-%07d", fx.run, i) }

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

// floorDoc is the document the floor answers for user i: what the
// handler answers, encoded once.
func (fx *fixture) floorDoc(i int) []byte {
	id := fx.userID(i)
	doc := typicalUser(fx.userName(i))
	doc["id"], doc["schemas"] = id, []string{scim.UserSchema, scim.EnterpriseUserSchema}
	doc["meta"] = map[string]any{"resourceType": "User", "version": `W/"1"`, "created": fx.now, "lastModified": fx.now,
		"location": "http://127.0.0.1/scim/v2/Users/" + id}
	b, _ := json.Marshal(doc)
	return b
}

// loaded is one side's fixture: its ids.
type loaded struct {
	usersFile, spareFile string
	bigGroup, smallGroup string
}

// target is where wrk sends to for this side.
func (l loaded) target(url string) target {
	return target{url: url, usersFile: l.usersFile, spareFile: l.spareFile, bigGroup: l.bigGroup, smallGroup: l.smallGroup}
}

// writeIDs writes ids, one a line, to a file in dir.
func writeIDs(dir, name string, ids []string) (string, error) {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(strings.Join(ids, "\n")+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing ids: %w", err)
	}
	return p, nil
}

// preloadStore stores the fixture straight into store, with the ids
// userID and spareID give, and writes the id files under dir as side.
func preloadStore(ctx context.Context, store scim.Store, fx *fixture, groupSize int, dir, side string) (loaded, error) {
	create := func(id, name string) error {
		_, err := store.Create(ctx, &scim.Resource{
			Type: "User", ID: id, Attributes: typicalUser(name),
			Meta:   scim.Meta{Created: fx.now, LastModified: fx.now},
			Unique: []scim.UniqueKey{{Attribute: "userName", Value: scim.FoldCase(name)}},
		})
		if err != nil {
			return fmt.Errorf("preloading user %s: %w", name, err)
		}
		return nil
	}
	// A few workers at once: a database store takes a round trip per create.
	var wg sync.WaitGroup
	errs := make(chan error, preloadWorkers)
	for w := range preloadWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < fx.users; i += preloadWorkers {
				if err := create(fx.userID(i), fx.userName(i)); err != nil {
					errs <- err
					return
				}
			}
			for i := w; i < spareUsers; i += preloadWorkers {
				if err := create(fx.spareID(i), fx.spareName(i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return loaded{}, err
	}
	group := func(name string, n int) (string, error) {
		members := make([]any, 0, n)
		for i := 0; i < n && i < fx.users; i++ {
			members = append(members, map[string]any{"value": fx.userID(i), "type": "User"})
		}
		g, err := store.Create(ctx, &scim.Resource{Type: "Group", ID: name + "-" + fx.run,
			Attributes: map[string]any{"displayName": name + " " + fx.run, "members": members},
			Meta:       scim.Meta{Created: fx.now, LastModified: fx.now}})
		if err != nil {
			return "", fmt.Errorf("preloading group %s: %w", name, err)
		}
		return g.ID, nil
	}
	var l loaded
	var err error
	if l.bigGroup, err = group("big", min(groupSizeOf(groupSize), fx.users)); err != nil {
		return loaded{}, err
	}
	if l.smallGroup, err = group("small", smallGroup); err != nil {
		return loaded{}, err
	}
	ids, spare := make([]string, fx.users), make([]string, spareUsers)
	for i := range ids {
		ids[i] = fx.userID(i)
	}
	for i := range spare {
		spare[i] = fx.spareID(i)
	}
	return writeFixtureFiles(dir, side, ids, spare, l)
}

func groupSizeOf(n int) int { return max(n, smallGroup) }

func writeFixtureFiles(dir, side string, ids, spare []string, l loaded) (loaded, error) {
	var err error
	if l.usersFile, err = writeIDs(dir, side+"-users.txt", ids); err != nil {
		return loaded{}, err
	}
	if l.spareFile, err = writeIDs(dir, side+"-spare.txt", spare); err != nil {
		return loaded{}, err
	}
	return l, nil
}

// Scenario names, as the table and -only know them.
const (
	scGet       = "GET /Users/{id}"
	scFilter    = "GET /Users?filter=userName eq"
	scPost      = "POST /Users"
	scPut       = "PUT /Users/{id}"
	scPatchBig  = "PATCH member, 10,000-member group"
	scPatchTiny = "PATCH member, 10-member group"
	scPage      = "GET /Users?startIndex&count=100"
	scBulk      = "POST /Bulk, 100 creates"
	scSync      = "Entra initial sync (filter, POST)"
)

// Lua helpers every scenario may use: pick(n) spreads a thread's
// requests over the users, and differs by thread.
const luaPick = `
local function pick(n) return (n * 7919 + tid * 104729) % #users end
`

// memberPatch alternates adding and removing a spare user of group:
// the same spare is added, then removed.
func memberPatch(group string) string {
	return luaPick + `
function make(n)
  local s = spare[1 + (tid * 257 + math.floor(n / 2)) % #spare]
  local op
  if n % 2 == 0 then
    op = '{"op":"add","path":"members","value":[{"value":"' .. s .. '"}]}'
  else
    op = '{"op":"remove","path":"members[value eq \\"' .. s .. '\\"]"}'
  end
  return "PATCH", "/scim/v2/Groups/" .. ` + group + `, '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[' .. op .. ']}'
end
`
}

// loads are the scenarios. Names a scenario creates start with PREFIX,
// which the caller sets for each run so that no two runs collide.
func loads() map[string]load {
	return map[string]load{
		scGet: {name: "get", ok: []int{200}, next: luaPick + `
function make(n) return "GET", "/scim/v2/Users/" .. users[1 + pick(n)] end
`},
		scFilter: {name: "filter", ok: []int{200}, next: luaPick + `
function make(n) return "GET", "/scim/v2/Users?filter=userName%20eq%20%22" .. user(pick(n)) .. "%22" end
`},
		scPost: {name: "post", ok: []int{201}, next: `
function make(n) return "POST", "/scim/v2/Users", userJSON(PREFIX .. tid .. "-" .. n) end
`},
		scPut: {name: "put", ok: []int{200}, next: luaPick + `
function make(n)
  local i = pick(n)
  return "PUT", "/scim/v2/Users/" .. users[1 + i], userJSON(user(i))
end
`},
		scPatchBig:  {name: "patch-big", ok: []int{204}, next: memberPatch("BIG_GROUP")},
		scPatchTiny: {name: "patch-small", ok: []int{204}, next: memberPatch("SMALL_GROUP")},
		scPage: {name: "page", ok: []int{200}, next: `
function make(n)
  local start = 1 + (n * 7919 + tid * 104729) % math.max(1, #users - 100)
  return "GET", "/scim/v2/Users?startIndex=" .. start .. "&count=100"
end
`},
		scBulk: {name: "bulk", ok: []int{200}, next: `
function make(n)
  local ops = {}
  for k = 1, 100 do
    ops[k] = '{"method":"POST","path":"/Users","bulkId":"b' .. k .. '","data":' .. userJSON(PREFIX .. tid .. "-" .. n .. "-" .. k) .. '}'
  end
  return "POST", "/scim/v2/Bulk", '{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[' .. table.concat(ops, ",") .. ']}'
end
`},
		// Entra ID looks each user up by userName (no match: it is new),
		// then creates it. The POST trails its filter by a thousand
		// users: on wrk's many connections a POST sent right after its
		// filter can overtake it.
		scSync: {name: "sync", ok: []int{200, 201}, emptyFilter: true, next: `
function make(n)
  local k = math.floor(n / 2)
  if n % 2 == 0 then
    return "GET", "/scim/v2/Users?filter=userName%20eq%20%22" .. PREFIX .. tid .. "-" .. k .. "%22"
  end
  return "POST", "/scim/v2/Users", userJSON(PREFIX .. tid .. "-" .. (k - 1000))
end
`},
	}
}

// scenarioOrder is the order of the table's rows.
func scenarioOrder() []string {
	return []string{scGet, scFilter, scPost, scPut, scPatchBig, scPatchTiny, scPage, scBulk, scSync}
}
