package storetest

import (
	"encoding/base64"
	"fmt"
	"math/rand"
	"time"

	"github.com/scimkit/scim"
)

// populationSize is the number of Users the query, sort and paging checks
// run on; they get populationSize/16 Groups besides.
const populationSize = 240

// populationSeed makes the population and the filters the same on every run.
const populationSeed = 20240501

// Population returns n Users (at least the 16 fixed edge cases every
// population starts with) followed by max(4, n/16) Groups whose members are
// some of the Users, built as the Handler hands resources to Store.Create:
// canonical attribute names, values of the JSON kinds, the userName unique
// key, the id and both times set. The same seed gives the same resources.
// The query, sort and paging checks of Run work on Population(seed, 240)
// for a fixed seed; a store's own tests and benchmarks may use it too.
//
// The Users have every attribute of the core User schema that a filter can
// reach, the Enterprise User extension, and an extension of the kit's,
// urn:example:params:scim:schemas:extension:storetest:2.0:User, whose
// attributes level (integer), score (decimal), hiredAt (dateTime, in
// several zones), vip (boolean), badge (binary), homepage (reference),
// tags (multi-valued string) and code (case-exact string) cover the types
// the core schemas lack. Values mix cases and scripts; attributes are
// missing, empty ("", [] or {}) or null in some Users; values such as
// "50% off" and "a_b" catch a store that does not escape LIKE patterns, and
// names with ı, İ, ſ, ς and the Kelvin sign one that folds case otherwise
// than scim.FoldCase.
func Population(seed int64, n int) []*scim.Resource {
	rng := rand.New(rand.NewSource(seed))
	users := edgeUsers()
	for i := len(users); i < n; i++ {
		users = append(users, genUser(rng, i, users))
	}
	return append(users, genGroups(rng, users, max(4, n/16))...)
}

var (
	firstNames = []string{"alice", "Bob", "CARLA", "dave", "Éva", "Øystein", "Zoë", "Łukasz", "Σοφία", "Дмитрий", "美咲", "nadia", "Oscar", "ines", "Ærin", "émile"}
	lastNames  = []string{"Jensen", "smith", "O'Brien", "MÜLLER", "García", "van der Berg", "Ng", "ÅSTRÖM", "Ødegård", "Петров", "王", "d'Arcy", "Lee"}
	nickNames  = []string{"Babs", "babs", "Zee", "Δ", "J.R.", "💡"}
	titles     = []string{"Engineer", "engineer", "Senior Engineer", "Tour Guide", "ÉCOLE", "école", "Chief 'Quote' Officer", "Ünïcode Tester", "R&D Lead"}
	domains    = []string{"Example.com", "example.org", "corp.EXAMPLE.com", "mail.test", "xn--bcher-kva.example"}
	emailTypes = []string{"work", "home", "other", "Work", "HOME"}
	binaries   = []string{"QUJDRA==", "qujdra==", "TWFu", "dGVzdA==", "AAEC/w==", "SGVsbG8sIFdvcmxkIQ=="}
	depts      = []string{"Engineering", "engineering", "Sales", "R&D", "Straße & Söhne", "", "Support"}
	tagPool    = []string{"alpha", "Beta", "GAMMA", "delta", "ε", "beta"}
	codes      = []string{"X-aB", "x-AB", "X-ab", "Y-01", "y-01", "Z_9"}
	zones      = []*time.Location{
		time.UTC, time.FixedZone("", 2*3600), time.FixedZone("", -7*3600),
		time.FixedZone("", 5*3600+1800), time.FixedZone("", 14*3600), time.FixedZone("", -9*3600-1800),
	}
	idLetters = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
)

func pick[T any](rng *rand.Rand, list []T) T { return list[rng.Intn(len(list))] }

// createdAt is the creation time of the i-th User; pairs share one, so
// that sorting by meta.created has ties.
func createdAt(i int) time.Time {
	return t0.Add(time.Duration(i/2) * 37 * time.Second)
}

// edgeUsers are the fixed first Users of every population: each holds an
// edge case a filter or a sort order must get right.
func edgeUsers() []*scim.Resource {
	u := func(i int, id, userName string, attrs map[string]any) *scim.Resource {
		r := newUser(id, userName, createdAt(i), attrs)
		r.Meta.LastModified = r.Meta.Created.Add(time.Duration(i) * time.Microsecond)
		return r
	}
	return []*scim.Resource{
		// Work and home emails whose values a flattened value path mixes up.
		u(0, "Edge-00", "bjensen", map[string]any{
			"displayName": "Barbara Jensen",
			"active":      true,
			"title":       "Tour Guide",
			"name":        map[string]any{"givenName": "Barbara", "familyName": "Jensen"},
			"emails": []any{
				map[string]any{"value": "bjensen@a.example", "type": "home"},
				map[string]any{"value": "babs@b.example", "type": "work", "primary": true},
			},
			"x509Certificates": []any{map[string]any{"value": "QUJDRA=="}},
			entURN:             map[string]any{"employeeNumber": "00001", "department": "Tour Operations"},
			extURN:             map[string]any{"level": int64(7), "score": 7.5, "hiredAt": "2024-03-10T10:00:00Z", "vip": true, "tags": []any{"alpha", "Beta"}, "code": "X-aB"},
		}),
		// Empty values: "", [], {} and null, which pr and eq null treat as absent.
		u(1, "Edge-01", "BJensen.Two", map[string]any{
			"active":   false,
			"title":    "",
			"nickName": nil,
			"name":     map[string]any{},
			"emails":   []any{},
			extURN: map[string]any{
				"level": int64(1 << 53), "score": 2.0, "hiredAt": "2024-03-10T12:00:00+02:00",
				"tags": []any{}, "code": nil, "homepage": "",
			},
		}),
		// Nothing but the userName.
		u(2, "Edge-02", "kim.lee", nil),
		// Two ids and two externalIds that differ only in case.
		u(3, "CaseID-a", "ext.pair.upper", map[string]any{"externalId": "Ext-Pair", extURN: map[string]any{"code": "X-AB"}}),
		u(4, "caseid-A", "ext.pair.lower", map[string]any{"externalId": "ext-pair", "x509Certificates": []any{map[string]any{"value": "qujdra=="}}}),
		// LIKE metacharacters and quotes.
		u(5, "Edge-05", "percent.sign", map[string]any{"title": "50% off", "displayName": "It's 100%"}),
		u(6, "Edge-06", "under_score", map[string]any{"title": "a_b", "displayName": `Back\slash`}),
		// 2^53+1, which a float64 cannot tell from 2^53; the same instant
		// as Edge-01's hiredAt in another zone.
		u(7, "Edge-07", "big.number", map[string]any{extURN: map[string]any{
			"level": int64(1<<53 + 1), "score": -0.5, "hiredAt": "2024-03-10T05:00:00-05:00",
		}}),
		// No primary email: sorting by emails.value takes the first.
		u(8, "Edge-08", "no.primary", map[string]any{"emails": []any{
			map[string]any{"value": "zz@last.example", "type": "work"},
			map[string]any{"value": "aa@first.example", "type": "home"},
		}}),
		// A primary email that is not the first.
		u(9, "Edge-09", "second.primary", map[string]any{"emails": []any{
			map[string]any{"value": "yy@notprimary.example", "type": "work"},
			map[string]any{"value": "AB@primary.example", "type": "home", "primary": true},
		}}),
		// Scripts and case.
		u(10, "Edge-10", "Ærøskøbing.Ølsen", map[string]any{"title": "ÉCOLE", "name": map[string]any{"familyName": "ÖLSEN"}}),
		u(11, "Edge-11", "émile.zola", map[string]any{"title": "école", "name": map[string]any{"familyName": "ölsen"}, extURN: map[string]any{"tags": []any{"Beta", "beta", "BETA"}}}),
		// Integers and decimals that compare across kinds.
		u(12, "Edge-12", "numbers", map[string]any{extURN: map[string]any{"level": int64(-50), "score": 7.0, "vip": false}}),
		// Letters whose cases do not round-trip, which scim.FoldCase joins
		// to ASCII or to σ and SQL's lower() does not: dotless ı, dotted İ,
		// long ſ, final ς, the Kelvin sign.
		u(13, "Edge-13", "ıdris.ſmith", map[string]any{"title": "İSTANBUL", "displayName": "IDRIS SMITH", "name": map[string]any{"familyName": "ΟΔΟΣ"}, extURN: map[string]any{"tags": []any{"ſ", "S"}}}),
		u(14, "Edge-14", "\u212Aelvin.οδος", map[string]any{"title": "istanbul", "displayName": "ıdrıs ſmıth", "name": map[string]any{"familyName": "οδος"}, extURN: map[string]any{"code": "K-ſ"}}),
		u(15, "Edge-15", "kelvin.ΟΔΟΣ.two", map[string]any{"title": "ıstanbul", "displayName": "Idris Smith", "name": map[string]any{"familyName": "Οδοσ"}, extURN: map[string]any{"code": "k-s"}}),
	}
}

func genUser(rng *rand.Rand, i int, earlier []*scim.Resource) *scim.Resource {
	first, last := pick(rng, firstNames), pick(rng, lastNames)
	id := fmt.Sprintf("%c%c%c-%04d", idLetters[rng.Intn(len(idLetters))], idLetters[rng.Intn(len(idLetters))], idLetters[rng.Intn(len(idLetters))], i)
	a := map[string]any{}
	maybe := func(pct int) bool { return rng.Intn(100) < pct }
	// empty sets a value, or leaves it out, empty or null.
	empty := func(key string, v any) {
		switch rng.Intn(10) {
		case 0:
		case 1:
			a[key] = ""
		case 2:
			a[key] = nil
		default:
			a[key] = v
		}
	}
	if maybe(80) {
		a["displayName"] = first + " " + last
	}
	empty("nickName", pick(rng, nickNames))
	empty("title", pick(rng, titles))
	switch rng.Intn(3) {
	case 0:
		a["active"] = true
	case 1:
		a["active"] = false
	}
	if maybe(75) {
		a["externalId"] = fmt.Sprintf("%s-%d", pick(rng, []string{"ext", "EXT", "Ext"}), i%40)
	}
	if maybe(50) {
		a["profileUrl"] = fmt.Sprintf("https://example.com/%s/%s", pick(rng, []string{"u", "U"}), id)
	}
	if maybe(90) {
		name := map[string]any{}
		if maybe(90) {
			name["givenName"] = first
		}
		if maybe(90) {
			name["familyName"] = last
		}
		a["name"] = name
	}
	if n := rng.Intn(4); n > 0 {
		emails := make([]any, n)
		primary := rng.Intn(n + 1) // n: none is primary
		for k := range emails {
			e := map[string]any{"value": fmt.Sprintf("%s.%s%d@%s", first, last, k, pick(rng, domains))}
			if maybe(90) {
				e["type"] = pick(rng, emailTypes)
			}
			if k == primary {
				e["primary"] = true
			} else if maybe(30) {
				e["primary"] = false
			}
			emails[k] = e
		}
		a["emails"] = emails
	} else if maybe(30) {
		a["emails"] = []any{}
	}
	if maybe(40) {
		phones := []any{map[string]any{"value": fmt.Sprintf("+1 555 01%02d", rng.Intn(100)), "type": pick(rng, []string{"work", "mobile"})}}
		if maybe(30) {
			phones = append(phones, map[string]any{"value": fmt.Sprintf("+41 44 %03d", rng.Intn(1000)), "type": "home"})
		}
		a["phoneNumbers"] = phones
	}
	if maybe(30) {
		certs := []any{map[string]any{"value": pick(rng, binaries)}}
		if maybe(30) {
			certs = append(certs, map[string]any{"value": base64.StdEncoding.EncodeToString([]byte{byte(i), byte(rng.Intn(256))})})
		}
		a["x509Certificates"] = certs
	}
	if maybe(30) {
		a["photos"] = []any{map[string]any{"value": "https://photos.example.com/" + pick(rng, []string{"a", "A", "b"}) + ".jpg", "type": pick(rng, []string{"photo", "thumbnail"})}}
	}
	if maybe(70) {
		ent := map[string]any{}
		if maybe(70) {
			ent["employeeNumber"] = fmt.Sprintf("%05d", rng.Intn(3000))
		}
		if maybe(80) {
			ent["department"] = pick(rng, depts)
		}
		if maybe(40) && len(earlier) > 0 {
			ent["manager"] = map[string]any{"value": earlier[rng.Intn(len(earlier))].ID}
		}
		a[entURN] = ent
	}
	if maybe(85) {
		ext := map[string]any{}
		if maybe(85) {
			switch rng.Intn(30) {
			case 0:
				ext["level"] = int64(1 << 53)
			case 1:
				ext["level"] = int64(-1 << 60)
			default:
				ext["level"] = int64(rng.Intn(200) - 50)
			}
		}
		if maybe(80) {
			ext["score"] = float64(rng.Intn(400)-100) / 8
		}
		if maybe(80) {
			at := t0.Add(-time.Duration(rng.Intn(4*365*24*60)) * time.Minute).In(pick(rng, zones))
			layout := "2006-01-02T15:04:05Z07:00"
			if maybe(30) {
				at = at.Add(time.Duration(rng.Intn(1000)) * time.Millisecond)
				layout = "2006-01-02T15:04:05.000Z07:00"
			}
			ext["hiredAt"] = at.Format(layout)
		}
		if maybe(70) {
			ext["vip"] = maybe(30)
		}
		if maybe(40) {
			ext["badge"] = pick(rng, binaries)
		}
		if maybe(40) {
			ext["homepage"] = "https://" + pick(rng, []string{"Example.com", "example.com"}) + "/~" + id
		}
		if maybe(60) {
			var tags []any
			for _, tag := range tagPool {
				if maybe(30) {
					tags = append(tags, tag)
				}
			}
			if tags == nil {
				tags = []any{}
			}
			ext["tags"] = tags
		}
		switch rng.Intn(10) {
		case 0:
			ext["code"] = nil
		case 1, 2, 3:
		default:
			ext["code"] = pick(rng, codes)
		}
		a[extURN] = ext
	}
	userName := fmt.Sprintf("%s.%s.%d", first, last, i)
	r := newUser(id, userName, createdAt(i), a)
	r.Meta.LastModified = r.Meta.Created.Add(time.Duration(rng.Intn(1e6)) * time.Millisecond).Add(time.Duration(rng.Intn(1000)) * time.Microsecond)
	return r
}

func genGroups(rng *rand.Rand, users []*scim.Resource, n int) []*scim.Resource {
	names := []string{"Admins", "admins-emea", "Engineering", "Sales", "Tour Guides", "Ünïcode Gruppe", "R&D", "Support 24/7", "Émile's Team"}
	groups := make([]*scim.Resource, n)
	for i := range groups {
		name := names[i%len(names)]
		if i >= len(names) {
			name = fmt.Sprintf("%s %d", name, i/len(names))
		}
		g := newGroup(fmt.Sprintf("Grp-%02d", i), name)
		g.Meta.Created = t0.Add(time.Duration(i) * time.Hour)
		g.Meta.LastModified = g.Meta.Created
		if rng.Intn(2) == 0 {
			g.Attributes["externalId"] = fmt.Sprintf("G-%d", i)
		}
		var ms []any
		seen := map[string]bool{}
		switch i {
		case 0: // the edge Users with values
			ms = []any{memberOf(users[0], true), memberOf(users[1], false), memberOf(users[9], true)}
		case 1:
			g.Attributes["members"] = []any{}
			groups[i] = g
			continue
		case 2:
			groups[i] = g // no members attribute
			continue
		case 3: // a nested group
			ms = []any{memberOf(users[0], false), map[string]any{"value": "Grp-00", "type": "Group", "display": "Admins"}}
		}
		for _, m := range ms {
			seen[m.(map[string]any)["value"].(string)] = true
		}
		for _, k := range rng.Perm(len(users))[:rng.Intn(min(25, len(users)))] {
			if !seen[users[k].ID] {
				seen[users[k].ID] = true
				ms = append(ms, memberOf(users[k], rng.Intn(2) == 0))
			}
		}
		g.Attributes["members"] = ms
		groups[i] = g
	}
	return groups
}

func memberOf(u *scim.Resource, display bool) map[string]any {
	m := map[string]any{"value": u.ID, "type": "User"}
	if display {
		m["display"] = u.Attributes["userName"]
	}
	return m
}
