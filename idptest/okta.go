package idptest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// Okta's sizes: it imports 100 resources a page and the kit pushes up to
// oktaMembersPerPatch members in one PATCH.
const (
	oktaPage            = 100
	oktaMembersPerPatch = 100
)

// oktaSteps are Okta's provisioning cycle.
func (r *runner) oktaSteps() []stepDef {
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
			return "groups are not pushed"
		}
		return ""
	}
	n := o.Users
	pages := func() int { return n/oktaPage + 2 }
	members := func() int { return o.Groups * (o.GroupMembers/oktaMembersPerPatch + 3) }
	return []stepDef{
		{name: "Test API Credentials", action: TestConnection, logAs: "testing the API credentials", skip: always, run: r.oktaTestCredentials},
		{name: "A user the app already has (set up)", action: Setup, logAs: "setting up", skip: always, run: func(ctx context.Context, st *stepRun) error {
			return st.setupExisting(ctx)
		}},
		{name: "Import users", action: Import, logAs: "importing users", skip: always, run: func(ctx context.Context, st *stepRun) error {
			return r.importUsers(ctx, st, []*user{r.existing})
		}},
		{name: "Push new users", action: Create, logAs: "pushing a new user", skip: always, run: r.oktaPushUsers,
			expected: func() int { return 2 * n }},
		{name: "Link a userName the app already has", action: Conflict, logAs: "pushing a new user", skip: always, run: r.oktaLink},
		{name: "Push profile updates", action: Update, logAs: "pushing a profile update of user", skip: always, run: r.oktaProfileUpdates},
		{name: "Deactivate users", action: Deactivate, logAs: "deactivating user", skip: unless(Active), run: func(ctx context.Context, st *stepRun) error {
			return r.oktaSetActive(ctx, st, false, false)
		}},
		{name: "Reactivate users", action: Reactivate, logAs: "reactivating user", skip: unless(Active), run: func(ctx context.Context, st *stepRun) error {
			return r.oktaSetActive(ctx, st, true, false)
		}},
		{name: "Sync passwords", action: Update, logAs: "pushing a password update of user", skip: unless(Password), run: r.oktaSyncPasswords},
		{name: "Deactivate users (PUT)", action: Deactivate, logAs: "deactivating user", skip: unless(Active), run: func(ctx context.Context, st *stepRun) error {
			return r.oktaSetActive(ctx, st, false, true)
		}},
		{name: "Reactivate users (PUT)", action: Reactivate, logAs: "reactivating user", skip: unless(Active), run: func(ctx context.Context, st *stepRun) error {
			return r.oktaSetActive(ctx, st, true, true)
		}},
		{name: "Push groups", action: CreateGroup, logAs: "pushing group", skip: groups, run: r.oktaPushGroups},
		{name: "Rename pushed groups", action: UpdateGroup, logAs: "pushing a rename of group", skip: groups, run: r.oktaRenameGroups},
		{name: "Push group memberships", action: AddMembers, logAs: "pushing the memberships of group", skip: groups, run: r.oktaPushMembers,
			expected: members},
		{name: "Update group memberships", action: UpdateMembers, logAs: "pushing the memberships of group", skip: groups, run: r.oktaUpdateMembers},
		{name: "Update pushed groups (PUT)", action: UpdateGroup, logAs: "pushing group", skip: groups, run: r.oktaPutGroups},
		{name: "Import users and groups", action: Import, logAs: "importing users and groups", skip: always, run: r.oktaImportAll,
			expected: func() int { return pages() + o.Groups/oktaPage + 2 }},
		{name: "Unassign users", action: Deactivate, logAs: "deactivating user", skip: unless(Active), run: func(ctx context.Context, st *stepRun) error {
			return r.oktaSetActive(ctx, st, false, false)
		}},
		{name: "Unlink pushed groups (delete in the app)", action: DeleteGroup, logAs: "deleting group", skip: groups, run: func(ctx context.Context, st *stepRun) error {
			return r.deleteGroups(ctx, st)
		}},
	}
}

// oktaUserBody is a user as Okta pushes it: the mapped attributes, an
// empty groups list and the password.
func (r *runner) oktaUserBody(u *user) map[string]any {
	o := &r.opts
	schemas := []any{coreUserURN}
	if o.maps(Department) {
		schemas = append(schemas, enterpriseURN)
	}
	b := map[string]any{"schemas": schemas, "userName": u.userName, "groups": []any{}}
	if o.maps(Active) {
		b["active"] = u.active
	}
	if o.maps(Password) {
		b["password"] = u.password
	}
	r.oktaApply(b, u)
	return b
}

// oktaApply writes u's mapped attributes into a body, keeping what else it
// holds: Okta's profile push.
func (r *runner) oktaApply(b map[string]any, u *user) {
	o := &r.opts
	name, _ := b["name"].(map[string]any)
	if name == nil {
		name = map[string]any{}
	}
	if o.maps(GivenName) {
		name["givenName"] = u.given
	}
	if o.maps(FamilyName) {
		name["familyName"] = u.family
	}
	if len(name) > 0 {
		b["name"] = name
	}
	if o.maps(DisplayName) {
		b["displayName"] = u.display
	}
	if o.maps(Emails) {
		b["emails"] = setTyped(b["emails"], "work", u.email, true)
	}
	if o.maps(Phone) {
		b["phoneNumbers"] = setTyped(b["phoneNumbers"], "work", u.phone, false)
	}
	if o.maps(Title) {
		b["title"] = u.title
	}
	if o.maps(PreferredLanguage) {
		b["preferredLanguage"] = u.lang
	}
	if o.maps(ExternalID) {
		b["externalId"] = u.externalID
	}
	if o.maps(Department) {
		ext, _ := b[enterpriseURN].(map[string]any)
		if ext == nil {
			ext = map[string]any{}
		}
		ext["department"] = u.department
		b[enterpriseURN] = ext
		if !hasString(b["schemas"], enterpriseURN) {
			schemas, _ := b["schemas"].([]any)
			b["schemas"] = append(schemas, enterpriseURN)
		}
	}
}

// setTyped sets the value of the element of type typ of a multi-valued
// attribute, adding one when there is none.
func setTyped(v any, typ, value string, primary bool) []any {
	list, _ := v.([]any)
	for _, e := range list {
		if o, ok := e.(map[string]any); ok {
			if t, _ := o["type"].(string); strings.EqualFold(t, typ) {
				o["value"] = value
				return list
			}
		}
	}
	e := map[string]any{"type": typ, "value": value}
	if primary {
		e["primary"] = true
	}
	return append(list, e)
}

// existence is Okta's existence check of a user.
func existence(u *user) (filter, extra string) {
	return "userName eq " + quote(u.userName), fmt.Sprintf("&startIndex=1&count=%d", oktaPage)
}

func (r *runner) oktaTestCredentials(ctx context.Context, st *stepRun) error {
	ex := st.do(ctx, phaseConnection, http.MethodGet, "/Users?startIndex=1&count=2", nil)
	if _, _, err := st.list(ex, "", "the list of users"); err != nil {
		return err
	}
	if r.opts.Groups > 0 {
		ex := st.do(ctx, phaseConnection, http.MethodGet, fmt.Sprintf("/Groups?startIndex=1&count=%d", oktaPage), nil)
		if _, _, err := st.list(ex, "", "the list of groups"); err != nil {
			return err
		}
	}
	return r.wrongToken(ctx, st, "/Users?startIndex=1&count=2", "Okta saves the integration whatever API token is entered")
}

// importUsers pages through /Users as Okta's import does and checks each
// user is seen once, those of mustSee among them.
func (r *runner) importUsers(ctx context.Context, st *stepRun, mustSee []*user) error {
	seen := map[string]int{} // id → startIndex of the page
	var last *Exchange
	total := -1
	for start := 1; ; start += oktaPage {
		if ctx.Err() != nil {
			return nil
		}
		ex := st.do(ctx, phaseImport, http.MethodGet, fmt.Sprintf("/Users?startIndex=%d&count=%d", start, oktaPage), nil)
		res, t, err := st.list(ex, "", fmt.Sprintf("the import page at startIndex %d", start))
		if err != nil {
			return err
		}
		m, _ := decode(ex.ResponseBody)
		if si, ok := number(m["startIndex"]); ok && si != start && len(res) > 0 {
			return st.fail("", fmt.Sprintf(`the page asked at startIndex %d says "startIndex" %d; Okta pages by startIndex`, start, si), ex)
		}
		if len(res) > oktaPage {
			return st.fail("", fmt.Sprintf("the page asked with count=%d holds %d users", oktaPage, len(res)), ex)
		}
		for _, u := range res {
			id, _ := u["id"].(string)
			if id == "" {
				return st.fail("", `an imported user has no "id"`, ex)
			}
			if at, dup := seen[id]; dup {
				return st.fail("", fmt.Sprintf("user %s (%s) is on the page at startIndex %d and again at %d: the order is not stable, so Okta's import sees some users twice and misses others", id, show(u["userName"]), at, start), last, ex)
			}
			seen[id] = start
		}
		last = ex
		if total < 0 || t < total {
			total = t
		}
		if start+oktaPage > total || len(res) == 0 {
			break
		}
	}
	for _, u := range mustSee {
		if u.exists {
			if _, ok := seen[u.id]; !ok {
				return st.fail(u.userName, fmt.Sprintf("the import of %d users (totalResults %d) never saw the user (id %s): Okta cannot link or update it", len(seen), total, u.id), last)
			}
		}
	}
	return nil
}

func (r *runner) oktaPushUsers(ctx context.Context, st *stepRun) error {
	err := st.forEach(ctx, len(r.users), func(ctx context.Context, i int) error {
		u := r.users[i]
		filter, extra := existence(u)
		res, ex, err := st.matchUser(ctx, phaseExistence, u.userName, filter, extra)
		if err != nil {
			return err
		}
		if len(res) > 0 {
			id, _ := res[0]["id"].(string)
			return st.fail(u.userName, fmt.Sprintf("the existence check %s found %d users for a user the app does not have; Okta would link it to %q instead of creating it", filter, len(res), id), ex)
		}
		_, err = st.createUser(ctx, u, r.oktaUserBody(u), "Okta believes the app holds what it pushed")
		return err
	})
	st.touch(r.provisioned(), nil)
	return err
}

func (r *runner) oktaLink(ctx context.Context, st *stepRun) error {
	u := r.existing
	if err := st.conflictCreate(ctx, r.oktaUserBody(u)); err != nil {
		return err
	}
	st.touch([]*user{u}, nil)
	_, extra := existence(u)
	if _, err := st.findExisting(ctx, phaseExistence, extra); err != nil {
		return err
	}
	// Linked, the user gets Okta's profile.
	return r.oktaPutProfile(ctx, st, u, *u, Update, nil, "the PUT of Okta's profile onto the linked user", "Okta believes the app holds its profile")
}

// oktaPutProfile GETs the user, applies Okta's profile (and edit, when
// not nil), and PUTs it back as Okta does, echoing id, meta and groups. A
// declared refusal of action puts u back to prev.
func (r *runner) oktaPutProfile(ctx context.Context, st *stepRun, u *user, prev user, action Action, edit func(b map[string]any), what, consequence string) error {
	get := st.do(ctx, phaseAction, http.MethodGet, "/Users/"+u.id, nil)
	if err := st.expect(get, u.userName, "the GET before the PUT", http.StatusOK); err != nil {
		return err
	}
	body, err := st.object(get, u.userName, "the GET")
	if err != nil {
		return err
	}
	r.oktaApply(body, u)
	if edit != nil {
		edit(body)
	}
	body["groups"] = []any{}
	ex := st.do(ctx, phaseAction, http.MethodPut, "/Users/"+u.id, body)
	refused, err := st.write(ex, u.userName, what, r.refusal(action, u.index, 0), http.StatusOK)
	if err != nil {
		return err
	}
	if refused {
		*u = prev
		return st.readUser(ctx, u, "the refused PUT", "a refused write must leave the user as it was", ex)
	}
	got, err := st.object(ex, u.userName, "the PUT")
	if err != nil {
		return err
	}
	if d := r.diffUser(u, got); len(d) > 0 {
		return st.fail(u.userName, fmt.Sprintf("the PUT answers the user with %s; %s", strings.Join(d, ", "), consequence), ex)
	}
	return st.readUser(ctx, u, what, consequence, ex)
}

func (r *runner) oktaProfileUpdates(ctx context.Context, st *stepRun) error {
	users := r.lifecycle()
	for _, u := range users {
		prev := *u
		u.change(r)
		if err := r.oktaPutProfile(ctx, st, u, prev, Update, nil, "the PUT of the profile update", "Okta believes the app holds the new profile"); err != nil {
			return err
		}
	}
	st.touch(users, nil)
	return nil
}

// oktaSetActive deactivates (or reactivates) the lifecycle users: by a
// path-less PATCH, as OIN integrations do, or by PUT, as App Integration
// Wizard ones do.
func (r *runner) oktaSetActive(ctx context.Context, st *stepRun, active, put bool) error {
	action := map[bool]Action{true: Reactivate, false: Deactivate}[active]
	var done []*user
	for _, u := range r.lifecycle() {
		if u.active == active {
			continue
		}
		before := u.active
		if put {
			prev := *u
			u.active = active
			if err := r.oktaPutProfile(ctx, st, u, prev, action, func(b map[string]any) { b["active"] = active },
				"the PUT that "+map[bool]string{true: "reactivates", false: "deactivates"}[active]+" the user",
				fmt.Sprintf("Okta shows the user %s while the app has it otherwise", map[bool]string{true: "active", false: "deactivated"}[active])); err != nil {
				return err
			}
			done = append(done, u)
			continue
		}
		ex := st.do(ctx, phaseAction, http.MethodPatch, "/Users/"+u.id, patch(operation("replace", "", map[string]any{"active": active})))
		refused, err := st.write(ex, u.userName, "the PATCH that "+map[bool]string{true: "reactivates", false: "deactivates"}[active]+" the user", r.refusal(action, u.index, 0), http.StatusNoContent, http.StatusOK)
		if err != nil {
			return err
		}
		consequence := fmt.Sprintf("Okta shows the user %s while the app has it otherwise", map[bool]string{true: "active", false: "deactivated"}[active])
		if refused {
			u.active = before
			consequence = "a refused write must leave the user as it was"
		} else {
			u.active = active
		}
		if err := st.readUser(ctx, u, "the PATCH of active", consequence, ex); err != nil {
			return err
		}
		if !refused && !active {
			filter, extra := existence(u)
			res, get, err := st.matchUser(ctx, phaseExistence, u.userName, filter, extra)
			if err != nil {
				return err
			}
			if len(res) != 1 || res[0]["id"] != u.id || res[0]["active"] != false {
				return st.fail(u.userName, fmt.Sprintf("a deactivated user must still be found, with \"active\": false; the existence check %s finds %d users; Okta would push it as new when it is reactivated", filter, len(res)), ex, get)
			}
		}
		done = append(done, u)
	}
	st.touch(done, nil)
	return nil
}

func (r *runner) oktaSyncPasswords(ctx context.Context, st *stepRun) error {
	users := r.lifecycle()
	for _, u := range users {
		u.password = "Pw-" + randomHex(6) + "-7y?"
		ex := st.do(ctx, phaseAction, http.MethodPatch, "/Users/"+u.id, patch(operation("replace", "", map[string]any{"password": u.password})))
		if _, err := st.write(ex, u.userName, "the PATCH of the password", r.refusal(Update, u.index, 0), http.StatusNoContent, http.StatusOK); err != nil {
			return err
		}
		if err := st.readUser(ctx, u, "the password sync", "the password is returned never", ex); err != nil {
			return err
		}
	}
	st.touch(users, nil)
	return nil
}

func (r *runner) oktaPushGroups(ctx context.Context, st *stepRun) error {
	for _, g := range r.groups {
		if err := r.createGroup(ctx, st, g, map[string]any{"schemas": []any{coreGroupURN}, "displayName": g.displayName, "members": []any{}}); err != nil {
			return err
		}
		if g.exists {
			if err := st.readGroup(ctx, g, "the push", "Okta believes the group is pushed, empty"); err != nil {
				return err
			}
		}
	}
	st.touch(nil, r.liveGroups())
	return nil
}

func (r *runner) oktaRenameGroups(ctx context.Context, st *stepRun) error {
	for _, g := range r.liveGroups() {
		renamed := g.displayName + " (renamed)"
		ex, refused, err := r.patchGroup(ctx, st, g, UpdateGroup, "the PATCH that renames the group",
			patch(operation("replace", "", map[string]any{"id": g.id, "displayName": renamed})))
		if err != nil {
			return err
		}
		if !refused {
			g.displayName = renamed
		}
		if err := st.readGroup(ctx, g, "the rename", "Okta believes the group is renamed", ex); err != nil {
			return err
		}
	}
	st.touch(nil, r.liveGroups())
	return nil
}

// oktaMembers are members as Okta pushes them: the id and the userName.
func (r *runner) oktaMembers(ids []string) []any {
	names := map[string]string{}
	for _, u := range append(append([]*user{}, r.users...), r.existing) {
		names[u.id] = u.userName
	}
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = map[string]any{"value": id, "display": names[id]}
	}
	return out
}

func (r *runner) oktaPushMembers(ctx context.Context, st *stepRun) error {
	ids := r.members()
	for _, g := range r.liveGroups() {
		var last *Exchange
		for _, batch := range batches(ids, oktaMembersPerPatch) {
			ex, refused, err := r.patchGroup(ctx, st, g, AddMembers, "the PATCH that adds members", patch(operation("add", "members", r.oktaMembers(batch))))
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
		// The name Okta sends along with membership updates changes nothing.
		again, _, err := r.patchGroup(ctx, st, g, UpdateGroup, "the PATCH that repeats the group's name",
			patch(operation("replace", "", map[string]any{"id": g.id, "displayName": g.displayName})))
		if err != nil {
			return err
		}
		if err := st.readGroup(ctx, g, "the PATCHes that added its members", "Okta believes they are members", last, again); err != nil {
			return err
		}
	}
	st.touch(nil, r.liveGroups())
	return nil
}

func (r *runner) oktaUpdateMembers(ctx context.Context, st *stepRun) error {
	ids := r.members()
	if len(ids) == 0 {
		return nil
	}
	for _, g := range r.liveGroups() {
		out := ids[0]
		in := r.existing // linked in the conflict step: not a member yet
		var ops []any
		if g.members[out] {
			ops = append(ops, operation("remove", fmt.Sprintf("members[value eq %s]", quote(out)), nil))
		}
		if in.exists {
			ops = append(ops, operation("add", "members", r.oktaMembers([]string{in.id})))
		}
		ex, refused, err := r.patchGroup(ctx, st, g, UpdateMembers, "the PATCH that removes a member and adds another", patch(ops...))
		if err != nil {
			return err
		}
		if !refused {
			delete(g.members, out)
			if in.exists {
				g.members[in.id] = true
			}
		}
		if err := st.readGroup(ctx, g, "the PATCH that removed a member and added another", "Okta believes the memberships are as it pushed them", ex); err != nil {
			return err
		}
		// All members replaced: back to the assigned users.
		ex, refused, err = r.patchGroup(ctx, st, g, UpdateMembers, "the PATCH that replaces all members", patch(operation("replace", "members", r.oktaMembers(ids))))
		if err != nil {
			return err
		}
		if !refused {
			g.members = map[string]bool{}
			for _, id := range ids {
				g.members[id] = true
			}
		}
		if err := st.readGroup(ctx, g, "the PATCH that replaced all members", "Okta believes the memberships are as it pushed them", ex); err != nil {
			return err
		}
	}
	st.touch(nil, r.liveGroups())
	return nil
}

func (r *runner) oktaPutGroups(ctx context.Context, st *stepRun) error {
	for _, g := range r.liveGroups() {
		renamed := strings.TrimSuffix(g.displayName, " (renamed)")
		var ids []string
		for _, id := range r.members() {
			if g.members[id] {
				ids = append(ids, id)
			}
		}
		body := map[string]any{"schemas": []any{coreGroupURN}, "id": g.id, "displayName": renamed, "members": r.oktaMembers(ids)}
		ex := st.do(ctx, phaseAction, http.MethodPut, "/Groups/"+g.id, body)
		refused, err := st.write(ex, g.displayName, "the PUT of the group", r.refusal(UpdateGroup, 0, g.index), http.StatusOK)
		if err != nil {
			return err
		}
		if !refused {
			g.displayName = renamed
			got, err := st.object(ex, g.displayName, "the PUT")
			if err != nil {
				return err
			}
			if name, _ := got["displayName"].(string); name != renamed {
				return st.fail(g.displayName, fmt.Sprintf(`the PUT answers the group with "displayName" %s`, show(got["displayName"])), ex)
			}
		}
		if err := st.readGroup(ctx, g, "the PUT", "Okta believes the group is as it pushed it", ex); err != nil {
			return err
		}
	}
	st.touch(nil, r.liveGroups())
	return nil
}

func (r *runner) oktaImportAll(ctx context.Context, st *stepRun) error {
	if err := r.importUsers(ctx, st, append(r.provisioned(), r.existing)); err != nil {
		return err
	}
	if r.opts.Groups == 0 {
		return nil
	}
	seen := map[string]bool{}
	for start := 1; ; start += oktaPage {
		ex := st.do(ctx, phaseImport, http.MethodGet, fmt.Sprintf("/Groups?startIndex=%d&count=%d", start, oktaPage), nil)
		res, total, err := st.list(ex, "", fmt.Sprintf("the import page of groups at startIndex %d", start))
		if err != nil {
			return err
		}
		for _, g := range res {
			id, _ := g["id"].(string)
			if seen[id] {
				return st.fail("", fmt.Sprintf("group %s is imported twice: the order of /Groups is not stable", id), ex)
			}
			seen[id] = true
		}
		if start+oktaPage > total || len(res) == 0 {
			break
		}
	}
	for _, g := range r.liveGroups() {
		if !seen[g.id] {
			return st.fail(g.displayName, "the import of groups never saw the group", nil)
		}
	}
	return nil
}
