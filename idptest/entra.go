package idptest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// Entra ID's batches: the kit sends a group's member changes in PATCH
// requests of up to entraOpsPerPatch operations of up to entraMembersPerOp
// members each (or, with aadOptscim062020, up to entraOpsPerPatch ×
// entraMembersPerOp removals by value filter, one member per operation).
const (
	entraOpsPerPatch  = 2
	entraMembersPerOp = 50
)

// entraSteps are Entra ID's provisioning cycle.
func (r *runner) entraSteps() []stepDef {
	o := &r.opts
	always := func() string { return "" }
	unless := func(a Attribute) func() string {
		return func() string {
			if o.maps(a) {
				return ""
			}
			return string(a) + " is not mapped"
		}
	}
	groups := func() string {
		if o.Groups == 0 {
			return "groups are not provisioned"
		}
		return ""
	}
	n := o.Users
	return []stepDef{
		{name: "Test Connection", action: TestConnection, logAs: "Other", skip: always, run: r.entraTestConnection},
		{name: "Initial cycle: users", action: Create, logAs: "Create", skip: always, run: r.entraInitialUsers,
			expected: func() int { return 2 * n }},
		{name: "Initial cycle: groups", action: CreateGroup, logAs: "Create", skip: groups, run: r.entraCreateGroups,
			expected: func() int { return 2 * o.Groups }},
		{name: "Initial cycle: group members", action: AddMembers, logAs: "Update", skip: groups, run: r.entraAddMembers,
			expected: func() int { return o.Groups * (o.GroupMembers/(entraOpsPerPatch*entraMembersPerOp) + 4) }},
		{name: "A user the app already has (set up)", action: Setup, logAs: "Other", skip: always, run: func(ctx context.Context, st *stepRun) error {
			return st.setupExisting(ctx)
		}},
		{name: "Create a userName the app already has", action: Conflict, logAs: "Create", skip: always, run: r.entraConflict},
		{name: "Update user attributes", action: Update, logAs: "Update", skip: func() string {
			if len(r.updatable()) == 0 {
				return "no attribute to update is mapped"
			}
			return ""
		}, run: r.entraUpdate},
		{name: "Change userName", action: Update, logAs: "Update", skip: always, run: r.entraRename},
		{name: "Set, change and remove the manager", action: Update, logAs: "Update", skip: func() string {
			if !o.maps(Manager) {
				return "manager is not mapped"
			}
			if n < 2 {
				return "it needs two users"
			}
			return ""
		}, run: r.entraManager},
		{name: "Disable users", action: Deactivate, logAs: "Disable", skip: unless(Active), run: func(ctx context.Context, st *stepRun) error {
			return r.entraSetActive(ctx, st, false, true)
		}},
		{name: "Enable users", action: Reactivate, logAs: "Update", skip: unless(Active), run: func(ctx context.Context, st *stepRun) error {
			return r.entraSetActive(ctx, st, true, false)
		}},
		{name: "Provision on demand: a new user", action: Create, logAs: "Create", skip: always, run: r.entraOnDemandNew},
		{name: "Provision on demand: an assigned user", action: Update, logAs: "Update", skip: always, run: r.entraOnDemandAssigned},
		{name: "Rename groups", action: UpdateGroup, logAs: "Update", skip: groups, run: r.entraRenameGroups},
		{name: "Remove group members", action: RemoveMembers, logAs: "Update", skip: groups, run: r.entraRemoveMembers,
			expected: func() int { return o.Groups * (o.GroupMembers/(entraOpsPerPatch*entraMembersPerOp) + 4) }},
		{name: "Soft delete users", action: Deactivate, logAs: "Disable", skip: unless(Active), run: func(ctx context.Context, st *stepRun) error {
			return r.entraSetActive(ctx, st, false, false)
		}},
		{name: "Delete users", action: Delete, logAs: "Delete", skip: always, run: r.entraDeleteUsers},
		{name: "Delete groups", action: DeleteGroup, logAs: "Delete", skip: groups, run: func(ctx context.Context, st *stepRun) error {
			return r.deleteGroups(ctx, st)
		}},
	}
}

// op is a PATCH operation's name as Entra ID writes it: "Replace", or
// "replace" with aadOptscim062020.
func (r *runner) op(name string) string {
	if r.opts.AADOptSCIM062020 {
		return strings.ToLower(name)
	}
	return strings.ToUpper(name[:1]) + strings.ToLower(name[1:])
}

// boolean is a boolean as Entra ID sends it in PATCH values: "True" and
// "False", or JSON booleans with aadOptscim062020.
func (r *runner) boolean(b bool) any {
	if r.opts.AADOptSCIM062020 {
		return b
	}
	if b {
		return "True"
	}
	return "False"
}

func patch(ops ...any) map[string]any {
	return map[string]any{"schemas": []any{patchOpURN}, "Operations": ops}
}

func operation(op, path string, value any) map[string]any {
	o := map[string]any{"op": op}
	if path != "" {
		o["path"] = path
	}
	if value != nil {
		o["value"] = value
	}
	return o
}

// matchFilter is Entra ID's lookup of u by the matching attribute.
func (r *runner) matchFilter(u *user) string {
	switch r.opts.Matching {
	case ExternalID:
		return "externalId eq " + quote(u.externalID)
	case Emails:
		return `emails[type eq "work"].value eq ` + quote(u.email)
	}
	return "userName eq " + quote(u.userName)
}

// entraUserBody is a user as Entra ID creates it: the mapped attributes,
// null for the ones its source leaves empty, and meta.resourceType.
func (r *runner) entraUserBody(u *user) map[string]any {
	o := &r.opts
	schemas := []any{coreUserURN}
	if o.maps(Department) || o.maps(Manager) {
		schemas = append(schemas, enterpriseURN)
	}
	b := map[string]any{"schemas": schemas, "userName": u.userName, "meta": map[string]any{"resourceType": "User"}}
	set := func(a Attribute, key string, v any) {
		if !o.maps(a) {
			return
		}
		if u.empty[a] {
			v = nil
		}
		b[key] = v
	}
	set(Active, "active", u.active)
	set(ExternalID, "externalId", u.externalID)
	set(DisplayName, "displayName", u.display)
	set(Emails, "emails", []any{map[string]any{"primary": true, "type": "work", "value": u.email}})
	set(Title, "title", u.title)
	set(Phone, "phoneNumbers", []any{map[string]any{"type": "work", "value": u.phone}})
	set(PreferredLanguage, "preferredLanguage", u.lang)
	name := map[string]any{}
	if o.maps(GivenName) {
		name["givenName"] = u.given
	}
	if o.maps(FamilyName) {
		name["familyName"] = u.family
	}
	if len(name) > 0 {
		b["name"] = name
	}
	ext := map[string]any{}
	if o.maps(Department) {
		ext["department"] = u.department
	}
	if o.maps(Manager) {
		ext["manager"] = nil // set by PATCH once the manager is provisioned
	}
	if len(ext) > 0 {
		b[enterpriseURN] = ext
	}
	return b
}

// value is u's value of a mapped attribute, as a PATCH sends it.
func (u *user) value(a Attribute) any {
	switch a {
	case DisplayName:
		return u.display
	case Emails:
		return u.email
	case GivenName:
		return u.given
	case FamilyName:
		return u.family
	case Title:
		return u.title
	case Department:
		return u.department
	case Phone:
		return u.phone
	case PreferredLanguage:
		return u.lang
	case ExternalID:
		return u.externalID
	}
	return nil
}

// updatable are the mapped attributes an update changes.
func (r *runner) updatable() []Attribute {
	var out []Attribute
	for _, a := range []Attribute{DisplayName, Emails, GivenName, FamilyName, Title, Department, Phone, PreferredLanguage, ExternalID} {
		if r.opts.maps(a) && !(a == ExternalID && r.opts.Matching == ExternalID) && !(a == Emails && r.opts.Matching == Emails) {
			out = append(out, a)
		}
	}
	return out
}

// change gives u new values of the attributes an update changes
// (updatable), as the source would after an edit.
func (u *user) change(r *runner) {
	for _, a := range r.updatable() {
		switch a {
		case GivenName:
			u.given = map[bool]string{true: "Robin", false: "Sasha"}[u.given != "Robin"]
		case FamilyName:
			u.family += "-Quinn"
		case Emails:
			u.email = strings.Replace(u.email, "@", ".mail@", 1)
		case Title:
			u.title = "Senior " + u.title
		case Department:
			u.department = map[bool]string{true: "Finance", false: "Operations"}[u.department != "Finance"]
		case Phone:
			u.phone = fmt.Sprintf("+1 425 555 %04d", (max(u.index, 0)+5000)%10000)
		case PreferredLanguage:
			u.lang = map[bool]string{true: "de-DE", false: "en-US"}[u.lang != "de-DE"]
		case ExternalID:
			if r.cycle == CycleEntra {
				u.externalID = guid()
			} else {
				u.externalID = oktaID()
			}
		}
	}
	if r.opts.maps(DisplayName) {
		u.display = u.given + " " + u.family
	}
}

// entraUpdateOps are the operations of Entra ID's update of attrs of u, in
// the shape of the flag: one operation per attribute, or, with
// aadOptscim062020, the work email by its path and the rest in one
// path-less replace whose keys are paths.
func (r *runner) entraUpdateOps(u *user, verb string, attrs []Attribute) []any {
	var ops []any
	if !r.opts.AADOptSCIM062020 || verb != "replace" {
		for _, a := range attrs {
			ops = append(ops, operation(r.op(verb), string(a), u.value(a)))
		}
		return ops
	}
	keys := map[string]any{}
	for _, a := range attrs {
		if a == Emails {
			ops = append(ops, operation("replace", string(a), u.email))
		} else {
			keys[string(a)] = u.value(a)
		}
	}
	if len(keys) > 0 {
		ops = append(ops, operation("replace", "", keys))
	}
	return ops
}

func (r *runner) entraTestConnection(ctx context.Context, st *stepRun) error {
	probe := &user{userName: guid(), externalID: guid(), email: guid()}
	filter := r.matchFilter(probe)
	res, ex, err := st.matchUser(ctx, phaseConnection, "", filter, "")
	if err != nil {
		return err
	}
	if len(res) > 0 {
		return st.fail("", fmt.Sprintf("Test Connection looks up a random GUID (%s) and expects no user; the service found %d", filter, len(res)), ex)
	}
	if r.opts.Groups > 0 {
		gf := "displayName eq " + quote(guid())
		ex := st.do(ctx, phaseConnection, http.MethodGet, "/Groups?excludedAttributes=members&filter="+q(gf), nil)
		res, _, err := st.list(ex, "", "the lookup of groups "+gf)
		if err != nil {
			return err
		}
		if len(res) > 0 {
			return st.fail("", fmt.Sprintf("the lookup of a random GUID (%s) expects no group; the service found %d", gf, len(res)), ex)
		}
	}
	return r.wrongToken(ctx, st, "/Users?filter="+q(filter), "Test Connection reports the credentials valid whatever Secret Token is entered")
}

// wrongToken checks that a wrong token is refused, when a token is set.
func (r *runner) wrongToken(ctx context.Context, st *stepRun, path, consequence string) error {
	if r.opts.Token == "" {
		return nil
	}
	wrong := "idptest-wrong-" + randomHex(8)
	ex := st.doAs(ctx, phaseConnection, http.MethodGet, path, nil, &wrong)
	if ex.Err != nil {
		return st.expect(ex, "", "the request with a wrong token", http.StatusUnauthorized)
	}
	if ex.Status != http.StatusUnauthorized && ex.Status != http.StatusForbidden {
		return st.fail("", fmt.Sprintf("a request with a wrong bearer token got %s, not 401 Unauthorized: %s", statusText(ex.Status), consequence), ex)
	}
	return nil
}

// entraMatchNone is Entra ID's match of a user it has not provisioned: it
// must find nobody.
func (r *runner) entraMatchNone(ctx context.Context, st *stepRun, u *user) error {
	filter := r.matchFilter(u)
	res, ex, err := st.matchUser(ctx, phaseMatch, u.userName, filter, "")
	if err != nil {
		return err
	}
	if len(res) > 0 {
		id, _ := res[0]["id"].(string)
		return st.fail(u.userName, fmt.Sprintf("the match %s found %d users for a user the app does not have; Entra ID would take %q for it and update that user instead of creating one", filter, len(res), id), ex)
	}
	return nil
}

func (r *runner) entraInitialUsers(ctx context.Context, st *stepRun) error {
	err := st.forEach(ctx, len(r.users), func(ctx context.Context, i int) error {
		u := r.users[i]
		if err := r.entraMatchNone(ctx, st, u); err != nil {
			return err
		}
		_, err := st.createUser(ctx, u, r.entraUserBody(u), "Entra ID believes the app holds what it sent")
		return err
	})
	st.touch(r.provisioned(), nil)
	return err
}

func (r *runner) entraCreateGroups(ctx context.Context, st *stepRun) error {
	for _, g := range r.groups {
		filter := "displayName eq " + quote(g.displayName)
		ex := st.do(ctx, phaseMatchGroup, http.MethodGet, "/Groups?excludedAttributes=members&filter="+q(filter), nil)
		res, _, err := st.list(ex, g.displayName, "the match "+filter)
		if err != nil {
			return err
		}
		if len(res) > 0 {
			return st.fail(g.displayName, fmt.Sprintf("the match %s found %d groups for a group the app does not have; Entra ID would update that one instead", filter, len(res)), ex)
		}
		body := map[string]any{"schemas": []any{coreGroupURN, entraGroupURN}, "displayName": g.displayName,
			"meta": map[string]any{"resourceType": "Group"}}
		if r.opts.maps(ExternalID) {
			body["externalId"] = g.externalID
		}
		if err := r.createGroup(ctx, st, g, body); err != nil {
			return err
		}
	}
	st.touch(nil, r.liveGroups())
	return nil
}

// createGroup POSTs a group and checks the 201 and what it echoes.
func (r *runner) createGroup(ctx context.Context, st *stepRun, g *group, body map[string]any) error {
	ex := st.do(ctx, phaseAction, http.MethodPost, "/Groups", body)
	refused, err := st.write(ex, g.displayName, "the create (POST /Groups)", r.refusal(CreateGroup, 0, g.index), http.StatusCreated)
	if err != nil || refused {
		return err
	}
	got, err := st.object(ex, g.displayName, "the create")
	if err != nil {
		return err
	}
	if g.id, _ = got["id"].(string); g.id == "" {
		return st.fail(g.displayName, fmt.Sprintf(`the created group has no "id"; %s cannot add its members`, r.cycle), ex)
	}
	g.exists = true
	if name, _ := got["displayName"].(string); name != g.displayName {
		return st.fail(g.displayName, fmt.Sprintf(`the created group comes back with "displayName" %s`, show(got["displayName"])), ex)
	}
	return nil
}

// liveGroups are the groups that exist on the service.
func (r *runner) liveGroups() []*group {
	var out []*group
	for _, g := range r.groups {
		if g.exists {
			out = append(out, g)
		}
	}
	return out
}

// members are the ids of the users every group gets.
func (r *runner) members() []string {
	var ids []string
	for _, u := range r.provisioned() {
		if len(ids) == r.opts.GroupMembers {
			break
		}
		ids = append(ids, u.id)
	}
	return ids
}

// memberRefs are members as Entra ID lists them: a null $ref and the id.
func memberRefs(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = map[string]any{"$ref": nil, "value": id}
	}
	return out
}

// batches splits ids into PATCH requests of Entra ID's size.
func batches(ids []string, per int) [][]string {
	var out [][]string
	for len(ids) > 0 {
		k := min(per, len(ids))
		out = append(out, ids[:k])
		ids = ids[k:]
	}
	return out
}

// patchGroup sends a PATCH to a group and checks the 204 (or 200).
func (r *runner) patchGroup(ctx context.Context, st *stepRun, g *group, action Action, what string, body any) (*Exchange, bool, error) {
	ex := st.do(ctx, phaseAction, http.MethodPatch, "/Groups/"+g.id, body)
	refused, err := st.write(ex, g.displayName, what, r.refusal(action, 0, g.index), http.StatusNoContent, http.StatusOK)
	return ex, refused, err
}

// membershipCheck is Entra ID's lookup of one membership.
func (r *runner) membershipCheck(ctx context.Context, st *stepRun, g *group, id string, want bool, writes ...*Exchange) error {
	filter := fmt.Sprintf("id eq %s and members eq %s", quote(g.id), quote(id))
	ex := st.do(ctx, phaseMatchGroup, http.MethodGet, "/Groups?excludedAttributes=members&filter="+q(filter), nil)
	res, _, err := st.list(ex, g.displayName, "the membership check "+filter)
	if err != nil {
		return err
	}
	if want && len(res) != 1 {
		return st.fail(g.displayName, fmt.Sprintf("the membership check %s finds %d groups, not the group: Entra ID takes the member for missing and adds it again every cycle", filter, len(res)), append(writes, ex)...)
	}
	if !want && len(res) != 0 {
		return st.fail(g.displayName, fmt.Sprintf("the membership check %s still finds the group after the member was removed", filter), append(writes, ex)...)
	}
	return nil
}

func (r *runner) entraAddMembers(ctx context.Context, st *stepRun) error {
	ids := r.members()
	for _, g := range r.liveGroups() {
		var last *Exchange
		for _, batch := range batches(ids, entraOpsPerPatch*entraMembersPerOp) {
			var ops []any
			for _, part := range batches(batch, entraMembersPerOp) {
				ops = append(ops, operation(r.op("add"), "members", memberRefs(part)))
			}
			ex, refused, err := r.patchGroup(ctx, st, g, AddMembers, "the PATCH that adds members", patch(ops...))
			if err != nil {
				return err
			}
			if refused {
				break
			}
			for _, id := range batch {
				g.members[id] = true
			}
			last = ex
		}
		if last == nil {
			continue
		}
		if len(ids) > 0 {
			// Entra ID may add a member again; it changes nothing.
			again, _, err := r.patchGroup(ctx, st, g, AddMembers, "the PATCH that adds a member again", patch(operation(r.op("add"), "members", memberRefs(ids[:1]))))
			if err != nil {
				return err
			}
			if err := r.membershipCheck(ctx, st, g, ids[len(ids)-1], true, last); err != nil {
				return err
			}
			last = again
		}
		if err := st.readGroup(ctx, g, "the PATCHes that added its members", "Entra ID believes they are members", last); err != nil {
			return err
		}
	}
	st.touch(nil, r.liveGroups())
	return nil
}

func (r *runner) entraConflict(ctx context.Context, st *stepRun) error {
	u := r.existing
	if err := st.conflictCreate(ctx, r.entraUserBody(u)); err != nil {
		return err
	}
	st.touch([]*user{u}, nil)
	if r.opts.Matching != UserName {
		// Matching by another attribute, Entra ID cannot find the app's
		// user: it logs the 409's detail and skips the user each cycle.
		return nil
	}
	found, err := st.findExisting(ctx, phaseMatch, "")
	if err != nil {
		return err
	}
	// Matched, the app's user becomes Entra ID's: it adds what the app's
	// user lacks and replaces what differs.
	var adds []any
	var replace []Attribute
	for _, a := range r.updatable() {
		cur := attrValue(found, a)
		want, _ := u.value(a).(string)
		switch s, _ := cur.(string); {
		case unassigned(cur):
			adds = append(adds, operation(r.op("add"), string(a), want))
		case s != want:
			replace = append(replace, a)
		}
	}
	ops := append(adds, r.entraUpdateOps(u, "replace", replace)...)
	if len(ops) == 0 {
		return nil
	}
	ex := st.do(ctx, phaseAction, http.MethodPatch, "/Users/"+u.id, patch(ops...))
	if _, err := st.write(ex, u.userName, "the PATCH of the matched user", r.refusal(Update, u.index, 0), http.StatusNoContent, http.StatusOK); err != nil {
		return err
	}
	return st.readUser(ctx, u, "the PATCH of the matched user", "Entra ID believes the app holds what it sent", ex)
}

func (r *runner) entraUpdate(ctx context.Context, st *stepRun) error {
	users := r.lifecycle()
	for _, u := range users {
		before := *u
		u.change(r)
		ex := st.do(ctx, phaseAction, http.MethodPatch, "/Users/"+u.id, patch(r.entraUpdateOps(u, "replace", r.updatable())...))
		refused, err := st.write(ex, u.userName, "the PATCH that updates the user", r.refusal(Update, u.index, 0), http.StatusNoContent, http.StatusOK)
		if err != nil {
			return err
		}
		if refused {
			*u = before
		}
		if err := st.readUser(ctx, u, "the PATCH that updated it", "Entra ID believes the app holds the new values", ex); err != nil {
			return err
		}
	}
	st.touch(users, nil)
	return nil
}

func (r *runner) entraRename(ctx context.Context, st *stepRun) error {
	users := r.lifecycle()
	if len(users) == 0 {
		return nil
	}
	u := users[0]
	old := u.userName
	renamed := strings.Replace(old, "@", ".renamed@", 1)
	ex := st.do(ctx, phaseAction, http.MethodPatch, "/Users/"+u.id, patch(operation(r.op("replace"), "userName", renamed)))
	refused, err := st.write(ex, u.userName, "the PATCH that changes the userName", r.refusal(Update, u.index, 0), http.StatusNoContent, http.StatusOK)
	if err != nil {
		return err
	}
	if !refused {
		u.userName = renamed
	}
	if err := st.readUser(ctx, u, "the PATCH of the userName", "Entra ID matches it by the new userName from now on", ex); err != nil {
		return err
	}
	if !refused {
		res, get, err := st.matchUser(ctx, phaseMatch, u.userName, "userName eq "+quote(renamed), "")
		if err != nil {
			return err
		}
		if len(res) != 1 || res[0]["id"] != u.id {
			return st.fail(u.userName, fmt.Sprintf("after the userName changed, the match by the new one finds %d users, not the user", len(res)), ex, get)
		}
		res, get, err = st.matchUser(ctx, phaseMatch, u.userName, "userName eq "+quote(old), "")
		if err != nil {
			return err
		}
		if len(res) != 0 {
			return st.fail(u.userName, fmt.Sprintf("after the userName changed, the match by the old one %q still finds %d users", old, len(res)), ex, get)
		}
	}
	st.touch([]*user{u}, nil)
	return nil
}

func (r *runner) entraManager(ctx context.Context, st *stepRun) error {
	users := r.lifecycle()
	all := r.provisioned()
	if len(users) == 0 || len(all) < 2 {
		return nil
	}
	u, m1 := users[0], all[1]
	var m2 *user
	if len(all) > 2 {
		m2 = all[2]
	}
	check := func(m *user, want int, writes ...*Exchange) error {
		filter := fmt.Sprintf("id eq %s and manager eq %s", quote(u.id), quote(m.id))
		ex := st.do(ctx, phaseMatch, http.MethodGet, "/Users?attributes=id&filter="+q(filter), nil)
		res, _, err := st.list(ex, u.userName, "the manager check "+filter)
		if err != nil {
			return err
		}
		if len(res) != want {
			return st.fail(u.userName, fmt.Sprintf("the manager check %s finds %d users, expected %d", filter, len(res), want), append(writes, ex)...)
		}
		return nil
	}
	step := func(what string, managerID string, body any) error {
		ex := st.do(ctx, phaseAction, http.MethodPatch, "/Users/"+u.id, body)
		refused, err := st.write(ex, u.userName, what, r.refusal(Update, u.index, 0), http.StatusNoContent, http.StatusOK)
		if err != nil {
			return err
		}
		if !refused {
			u.managerID = managerID
		}
		return st.readUser(ctx, u, what, "Entra ID believes the manager is set as it sent it", ex)
	}
	if err := check(m1, 0); err != nil {
		return err
	}
	// The path without its URN, the value an array of one reference.
	if err := step("the PATCH that sets the manager", m1.id, patch(operation(r.op("add"), "manager", []any{
		map[string]any{"$ref": r.opts.TenantURL + "/Users/" + m1.id, "value": m1.id},
	}))); err != nil {
		return err
	}
	if u.managerID == m1.id {
		if err := check(m1, 1); err != nil {
			return err
		}
	}
	last := m1
	if m2 != nil {
		// The URN-qualified path and the id as a plain string.
		if err := step("the PATCH that changes the manager", m2.id, patch(operation(r.op("replace"), string(Manager), m2.id))); err != nil {
			return err
		}
		last = m2
	}
	if err := step("the PATCH that removes the manager", "", patch(operation(r.op("remove"), fmt.Sprintf("manager[value eq %s]", quote(last.id)), nil))); err != nil {
		return err
	}
	st.touch([]*user{u}, nil)
	return nil
}

// entraSetActive disables (or enables) the lifecycle users: Disable and
// Soft delete send the same PATCH. After a disable, the match must still
// find the user, with active false, when match is set.
func (r *runner) entraSetActive(ctx context.Context, st *stepRun, active, match bool) error {
	action := map[bool]Action{true: Reactivate, false: Deactivate}[active]
	verb := map[bool]string{true: "enable", false: "disable"}[active]
	var done []*user
	for _, u := range r.lifecycle() {
		if u.active == active {
			continue // nothing to send
		}
		ex := st.do(ctx, phaseAction, http.MethodPatch, "/Users/"+u.id, patch(operation(r.op("replace"), "active", r.boolean(active))))
		refused, err := st.write(ex, u.userName, "the PATCH that "+verb+"s the user", r.refusal(action, u.index, 0), http.StatusNoContent, http.StatusOK)
		if err != nil {
			return err
		}
		after := "the PATCH that " + verb + "d it"
		consequence := fmt.Sprintf("Entra ID shows the user %sd while the app has it otherwise", verb)
		if refused {
			after = "the refused PATCH that would " + verb + " it"
			consequence = "a refused write must leave the user as it was"
		} else {
			u.active = active
		}
		if err := st.readUser(ctx, u, after, consequence, ex); err != nil {
			return err
		}
		if match && !refused && !active {
			res, get, err := st.matchUser(ctx, phaseMatch, u.userName, r.matchFilter(u), "")
			if err != nil {
				return err
			}
			if len(res) != 1 || res[0]["id"] != u.id || res[0]["active"] != false {
				got := "nothing"
				if len(res) > 0 {
					got = fmt.Sprintf("%d users, the first with \"active\" %s", len(res), show(res[0]["active"]))
				}
				return st.fail(u.userName, fmt.Sprintf("a disabled user must still be found by the match, with \"active\": false; the match %s finds %s; Entra ID would create the user again when it is enabled", r.matchFilter(u), got), ex, get)
			}
		}
		done = append(done, u)
	}
	st.touch(done, nil)
	return nil
}

func (r *runner) entraOnDemandNew(ctx context.Context, st *stepRun) error {
	u := r.onDemand
	if err := r.entraMatchNone(ctx, st, u); err != nil {
		return err
	}
	if _, err := st.createUser(ctx, u, r.entraUserBody(u), "attributes Entra ID sends as null are unassigned"); err != nil {
		return err
	}
	st.touch([]*user{u}, nil)
	return nil
}

func (r *runner) entraOnDemandAssigned(ctx context.Context, st *stepRun) error {
	u := r.onDemand
	if !u.exists {
		return nil
	}
	filter := r.matchFilter(u)
	res, ex, err := st.matchUser(ctx, phaseMatch, u.userName, filter, "")
	if err != nil {
		return err
	}
	if len(res) != 1 || res[0]["id"] != u.id {
		return st.fail(u.userName, fmt.Sprintf("the match %s finds %d users, not the user provisioned on demand; Entra ID would create it again", filter, len(res)), ex)
	}
	// The source now has what it lacked: Entra ID adds it.
	var ops []any
	for _, a := range []Attribute{Title, Phone} {
		if u.empty[a] {
			delete(u.empty, a)
			ops = append(ops, operation(r.op("add"), string(a), u.value(a)))
		}
	}
	if len(ops) == 0 && r.opts.maps(DisplayName) {
		u.display += " (on demand)"
		ops = append(ops, operation(r.op("replace"), "displayName", u.display))
	}
	if len(ops) == 0 {
		return nil // nothing differs: Entra ID sends nothing
	}
	w := st.do(ctx, phaseAction, http.MethodPatch, "/Users/"+u.id, patch(ops...))
	if _, err := st.write(w, u.userName, "the PATCH that adds what the user lacked", r.refusal(Update, u.index, 0), http.StatusNoContent, http.StatusOK); err != nil {
		return err
	}
	if err := st.readUser(ctx, u, "the PATCH that added what it lacked", "Entra ID believes the app holds what it added", w); err != nil {
		return err
	}
	st.touch([]*user{u}, nil)
	return nil
}

func (r *runner) entraRenameGroups(ctx context.Context, st *stepRun) error {
	for _, g := range r.liveGroups() {
		renamed := g.displayName + " (renamed)"
		ex, refused, err := r.patchGroup(ctx, st, g, UpdateGroup, "the PATCH that renames the group", patch(operation(r.op("replace"), "displayName", renamed)))
		if err != nil {
			return err
		}
		if !refused {
			g.displayName = renamed
			filter := "displayName eq " + quote(renamed)
			get := st.do(ctx, phaseMatchGroup, http.MethodGet, "/Groups?excludedAttributes=members&filter="+q(filter), nil)
			res, _, err := st.list(get, g.displayName, "the match "+filter)
			if err != nil {
				return err
			}
			if len(res) != 1 || res[0]["id"] != g.id {
				return st.fail(g.displayName, fmt.Sprintf("after the rename the match %s finds %d groups, not the group", filter, len(res)), ex, get)
			}
		}
		if err := st.readGroup(ctx, g, "the rename", "a rename keeps the members", ex); err != nil {
			return err
		}
	}
	st.touch(nil, r.liveGroups())
	return nil
}

func (r *runner) entraRemoveMembers(ctx context.Context, st *stepRun) error {
	for _, g := range r.liveGroups() {
		var ids []string
		for _, id := range r.members() {
			if g.members[id] {
				ids = append(ids, id)
			}
		}
		var last *Exchange
		for _, batch := range batches(ids, entraOpsPerPatch*entraMembersPerOp) {
			var ops []any
			if r.opts.AADOptSCIM062020 {
				for _, id := range batch {
					ops = append(ops, operation("remove", fmt.Sprintf("members[value eq %s]", quote(id)), nil))
				}
			} else {
				for _, part := range batches(batch, entraMembersPerOp) {
					vals := make([]any, len(part))
					for i, id := range part {
						vals[i] = map[string]any{"value": id}
					}
					ops = append(ops, operation("Remove", "members", vals))
				}
			}
			ex, refused, err := r.patchGroup(ctx, st, g, RemoveMembers, "the PATCH that removes members", patch(ops...))
			if err != nil {
				return err
			}
			if refused {
				break
			}
			for _, id := range batch {
				delete(g.members, id)
			}
			last = ex
		}
		if last == nil {
			continue
		}
		if err := r.membershipCheck(ctx, st, g, ids[0], false, last); err != nil {
			return err
		}
		// Removing a member that is gone changes nothing.
		again, _, err := r.patchGroup(ctx, st, g, RemoveMembers, "the PATCH that removes a member already gone",
			patch(operation(r.op("remove"), "members", []any{map[string]any{"value": ids[0]}})))
		if err != nil {
			return err
		}
		if err := st.readGroup(ctx, g, "the PATCHes that removed its members", "Entra ID believes the group is empty", last, again); err != nil {
			return err
		}
	}
	st.touch(nil, r.liveGroups())
	return nil
}

func (r *runner) entraDeleteUsers(ctx context.Context, st *stepRun) error {
	users := r.lifecycle()
	if r.onDemand.exists {
		users = append(users, r.onDemand)
	}
	for _, u := range users {
		if err := st.deleteUser(ctx, u); err != nil {
			return err
		}
		if u.deleted {
			res, ex, err := st.matchUser(ctx, phaseMatch, u.userName, r.matchFilter(u), "")
			if err != nil {
				return err
			}
			if len(res) != 0 {
				return st.fail(u.userName, "after the DELETE the match still finds the user", ex)
			}
		}
	}
	st.touch(users, nil)
	return nil
}

// deleteGroups deletes the groups and checks they are gone.
func (r *runner) deleteGroups(ctx context.Context, st *stepRun) error {
	groups := r.liveGroups()
	for _, g := range groups {
		ex := st.do(ctx, phaseAction, http.MethodDelete, "/Groups/"+g.id, nil)
		refused, err := st.write(ex, g.displayName, "the DELETE", r.refusal(DeleteGroup, 0, g.index), http.StatusNoContent, http.StatusOK)
		if err != nil {
			return err
		}
		if refused {
			continue
		}
		g.exists, g.deleted = false, true
		get := st.do(ctx, phaseReadBack, http.MethodGet, "/Groups/"+g.id, nil)
		if get.Err != nil || get.Status != http.StatusNotFound {
			return st.expect(get, g.displayName, "the read of a deleted group", http.StatusNotFound)
		}
	}
	st.touch(nil, groups)
	return nil
}
