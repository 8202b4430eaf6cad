package idptest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode"
)

// user is a user as the identity provider knows it: the values its source
// holds and, once provisioned, the id the service gave it.
type user struct {
	index       int
	id          string
	userName    string
	appUserName string // the conflict step's user, as the application has it
	externalID  string
	given       string
	family      string
	display     string
	email       string
	title       string
	department  string
	phone       string
	lang        string
	password    string
	managerID   string
	active      bool
	exists      bool // on the service
	deleted     bool // deleted by the cycle
	// empty holds the attributes the source leaves empty: sent as null,
	// expected unassigned.
	empty map[Attribute]bool
}

// group is a group as the identity provider knows it.
type group struct {
	index       int
	id          string
	displayName string
	externalID  string
	members     map[string]bool // user ids
	exists      bool
	deleted     bool
}

// givenNames and familyNames make the users' names.
func givenNames() []string {
	return []string{"Avery", "Blake", "Casey", "Devon", "Emery", "Finley", "Harper", "Jordan", "Kendall", "Morgan"}
}

func familyNames() []string {
	return []string{"Ashdown", "Brookfield", "Calder", "Dunmore", "Elling", "Fairley", "Garrow", "Halloran", "Iverson", "Jessop"}
}

// newUser makes user i (-1: the conflict step's, -2: Entra ID's on-demand
// user) of the run.
func (r *runner) newUser(i int, local string) *user {
	gn, fn := givenNames(), familyNames()
	k := max(i, 0)
	u := &user{
		index:      i,
		userName:   fmt.Sprintf("%s.%s@%s", r.opts.Prefix, local, r.opts.Domain),
		given:      gn[k%len(gn)],
		family:     fn[(k/len(gn))%len(fn)],
		title:      "Process Analyst",
		department: "Operations",
		phone:      fmt.Sprintf("+1 206 555 %04d", k%10000),
		lang:       "en-US",
		password:   "Pw-" + randomHex(6) + "-9x!",
		active:     true,
	}
	u.userName = strings.ToLower(u.userName)
	u.email = u.userName
	u.display = u.given + " " + u.family
	if r.cycle == CycleEntra {
		u.externalID = guid()
	} else {
		u.externalID = oktaID()
	}
	return u
}

// makeUsers makes the run's users, the application's own user of the
// conflict step, and the groups.
func (r *runner) makeUsers() {
	width := len(fmt.Sprint(r.opts.Users - 1))
	for i := 0; i < r.opts.Users; i++ {
		r.users = append(r.users, r.newUser(i, fmt.Sprintf("u%0*d", width, i)))
	}
	r.existing = r.newUser(-1, "existing")
	r.existing.appUserName = titleCase(r.existing.userName)
	if r.cycle == CycleEntra {
		r.onDemand = r.newUser(-2, "ondemand")
		for _, a := range []Attribute{Title, Phone} {
			if r.opts.maps(a) {
				if r.onDemand.empty == nil {
					r.onDemand.empty = map[Attribute]bool{}
				}
				r.onDemand.empty[a] = true
			}
		}
	}
	for g := 0; g < r.opts.Groups; g++ {
		r.groups = append(r.groups, &group{
			index:       g,
			displayName: fmt.Sprintf("%s Group %d", r.opts.Prefix, g),
			externalID:  guid(),
			members:     map[string]bool{},
		})
	}
}

// lifecycle returns the users the lifecycle steps play on: the first
// three that were provisioned.
func (r *runner) lifecycle() []*user {
	var out []*user
	for _, u := range r.users {
		if u.id != "" && !u.deleted && len(out) < lifecycleUsers {
			out = append(out, u)
		}
	}
	return out
}

// provisioned returns the users that exist on the service, in order.
func (r *runner) provisioned() []*user {
	var out []*user
	for _, u := range r.users {
		if u.exists {
			out = append(out, u)
		}
	}
	return out
}

// titleCase capitalises each part of a userName: "a.b-c@d.e" → "A.B-C@D.E".
func titleCase(s string) string {
	out := []rune(s)
	up := true
	for i, c := range out {
		if up {
			out[i] = unicode.ToUpper(c)
		}
		up = strings.ContainsRune(".-@_", c)
	}
	return string(out)
}

func (u *user) view() User {
	return User{Index: u.index, ID: u.id, UserName: u.userName, Active: u.active, Deleted: u.deleted}
}

func (g *group) view() Group {
	return Group{Index: g.index, ID: g.id, DisplayName: g.displayName, Members: len(g.members), Deleted: g.deleted}
}

// diffUser lists how a user read from the service differs from what the
// identity provider sent, in the mapped attributes.
func (r *runner) diffUser(u *user, got map[string]any) []string {
	var d []string
	o := &r.opts
	ne := func(label string, v any, want string) {
		if want == "" {
			d = append(d, fmt.Sprintf("%s %s, expected it unassigned", label, show(v)))
		} else {
			d = append(d, fmt.Sprintf("%s %s, expected %q", label, show(v), want))
		}
	}
	str := func(a Attribute, label string, v any, want string, fold bool) {
		if !o.maps(a) {
			return
		}
		if u.empty[a] {
			want = ""
		}
		s, _ := v.(string)
		if want == "" {
			if !unassigned(v) {
				ne(label, v, "")
			}
			return
		}
		if s == want || fold && strings.EqualFold(s, want) {
			return
		}
		ne(label, v, want)
	}
	str(UserName, `"userName"`, got["userName"], u.userName, true)
	if o.maps(Active) {
		if b, ok := got["active"].(bool); !ok || b != u.active {
			d = append(d, fmt.Sprintf(`"active" %s, expected %t`, show(got["active"]), u.active))
		}
	}
	for _, a := range []Attribute{DisplayName, Emails, GivenName, FamilyName, Title, Phone, PreferredLanguage, ExternalID, Department} {
		want, _ := u.value(a).(string)
		str(a, label(a), attrValue(got, a), want, a == Emails)
	}
	if o.maps(Manager) && r.cycle == CycleEntra {
		var v any
		ext, _ := got[enterpriseURN].(map[string]any)
		if m, ok := ext["manager"].(map[string]any); ok {
			v = m["value"]
		}
		if s, _ := v.(string); s != u.managerID {
			ne(`the enterprise "manager.value"`, v, u.managerID)
		}
	}
	if _, ok := got["password"]; ok {
		d = append(d, `"password" in the response (it is returned never, RFC 7643 §4.1.1)`)
	}
	return d
}

// label names an attribute in a message.
func label(a Attribute) string {
	switch a {
	case Emails:
		return "the work email"
	case Phone:
		return "the work phone"
	case Department:
		return `the enterprise "department"`
	}
	return `"` + string(a) + `"`
}

// attrValue is the value of a mapped attribute in a resource read from
// the service.
func attrValue(got map[string]any, a Attribute) any {
	name, _ := got["name"].(map[string]any)
	ext, _ := got[enterpriseURN].(map[string]any)
	switch a {
	case Emails:
		return typed(got["emails"], "work")
	case Phone:
		return typed(got["phoneNumbers"], "work")
	case GivenName:
		return name["givenName"]
	case FamilyName:
		return name["familyName"]
	case Department:
		return ext["department"]
	}
	return got[string(a)]
}

// typed returns the value of the element of a multi-valued attribute with
// the given type ("work"), or nil.
func typed(v any, typ string) any {
	list, _ := v.([]any)
	for _, e := range list {
		if o, ok := e.(map[string]any); ok {
			if t, _ := o["type"].(string); strings.EqualFold(t, typ) {
				return o["value"]
			}
		}
	}
	return nil
}

// unassigned reports whether v is an unassigned value: absent, null, ""
// or [].
func unassigned(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	}
	return false
}

// hasString reports whether v is a JSON array holding s.
func hasString(v any, s string) bool {
	list, _ := v.([]any)
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// number reads a JSON integer.
func number(v any) (int, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return int(i), err == nil
}

// show renders a value read from JSON for a message.
func show(v any) string {
	if v == nil {
		return "absent (or null)"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(clipBytes(b, 200))
}

// statusText is "201 Created".
func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("%d %s", code, t)
	}
	return fmt.Sprint(code)
}

// clip renders a body for a message, cut at n bytes.
func clip(b []byte, n int) string {
	if len(b) == 0 {
		return "(empty body)"
	}
	return string(clipBytes(b, n))
}

func clipBytes(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return append(append([]byte{}, b[:n]...), fmt.Sprintf("… (%d bytes in all)", len(b))...)
}

// firstFew lists up to three ids.
func firstFew(ids []string) string {
	if len(ids) > 3 {
		return strings.Join(ids[:3], ", ") + ", …"
	}
	return strings.Join(ids, ", ")
}
