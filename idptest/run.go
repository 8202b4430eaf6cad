package idptest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The schema URNs the cycles send and read.
const (
	coreUserURN     = "urn:ietf:params:scim:schemas:core:2.0:User"
	coreGroupURN    = "urn:ietf:params:scim:schemas:core:2.0:Group"
	enterpriseURN   = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	patchOpURN      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	listResponseURN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	errorURN        = "urn:ietf:params:scim:api:messages:2.0:Error"
	entraGroupURN   = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
	lifecycleUsers  = 3 // the users the lifecycle steps play on
	cleanupTimeout  = 2 * time.Minute
	phaseMatch      = "Match user between source and target system"
	phaseMatchGroup = "Match group between source and target system"
	phaseAction     = "Perform action"
	phaseReadBack   = "the kit's read-back: what the next cycle would find"
	phaseConnection = "Test connection"
	phaseSetup      = "the kit, as the application's own admin"
	phaseImport     = "Import"
	phaseExistence  = "existence check"
	phaseCleanup    = "the kit's cleanup"
)

// runner plays one cycle.
type runner struct {
	cycle    Cycle
	opts     Options
	s        *sender
	users    []*user
	onDemand *user // Entra ID's on-demand user
	existing *user // the application's own user of the conflict step
	groups   []*group
	report   *Report
	// strays are users a create made that should have been refused.
	strays []string
}

// stepDef is a step of a cycle.
type stepDef struct {
	name   string
	action Action
	// logAs is how the identity provider's log names the action: Entra
	// ID's provisioning log action ("Create", "Update", "Disable",
	// "Delete", "Other"), Okta's task ("pushing a new user", …).
	logAs string
	// skip says why the step does not apply ("" when it does).
	skip func() string
	// expected estimates the requests it sends.
	expected func() int
	run      func(ctx context.Context, st *stepRun) error
}

// stepRun is a step being played.
type stepRun struct {
	r        *runner
	def      *stepDef
	step     *Step
	of       int
	expected int
	mu       sync.Mutex
}

func newRunner(cycle Cycle, h http.Handler, opts Options) (*runner, error) {
	o, err := opts.normalize(h)
	if err != nil {
		return nil, err
	}
	ct := "application/scim+json"
	if cycle == CycleOkta {
		ct = "application/scim+json; charset=utf-8"
	}
	r := &runner{
		cycle:  cycle,
		opts:   o,
		s:      &sender{h: h, client: o.Client, base: o.TenantURL, token: o.Token, contentType: ct},
		report: &Report{Cycle: cycle, Prefix: o.Prefix, AADOptSCIM062020: cycle == CycleEntra && o.AADOptSCIM062020},
	}
	r.makeUsers()
	return r, nil
}

func (r *runner) run(ctx context.Context) *Report {
	start := time.Now()
	var defs []stepDef
	if r.cycle == CycleEntra {
		defs = r.entraSteps()
	} else {
		defs = r.oktaSteps()
	}
	for i := range defs {
		r.report.Steps = append(r.report.Steps, &Step{Cycle: r.cycle, Number: i + 1, Name: defs[i].name, Action: defs[i].action, Status: NotRun})
	}
	defer func() {
		if !r.opts.Keep {
			r.cleanup(ctx)
		}
		r.report.Duration = time.Since(start)
	}()
	for i := range defs {
		d, step := &defs[i], r.report.Steps[i]
		if why := d.skip(); why != "" {
			step.Status, step.Note = Skipped, why
			continue
		}
		if ctx.Err() != nil {
			break
		}
		st := &stepRun{r: r, def: d, step: step, of: len(defs)}
		if d.expected != nil {
			st.expected = d.expected()
		}
		st.progress()
		t0 := time.Now()
		err := d.run(ctx, st)
		step.Duration = time.Since(t0)
		if ctx.Err() != nil {
			// A request the interruption cut short fails for that reason.
			err = st.fail("", "interrupted ("+context.Cause(ctx).Error()+") during this step")
		}
		if err == nil && r.opts.AfterStep != nil {
			if herr := r.opts.AfterStep(ctx, step); herr != nil {
				err = st.fail("", "the host's check after this step failed: "+herr.Error())
			}
		}
		if err != nil {
			var se *StepError
			if !errors.As(err, &se) {
				se = st.fail("", err.Error())
			}
			step.Status, step.Err = Failed, se
			break
		}
		step.Status = Passed
	}
	return r.report
}

// progress tells Options.Progress where the step is.
func (st *stepRun) progress() {
	if st.r.opts.Progress == nil {
		return
	}
	st.r.opts.Progress(Progress{Cycle: st.r.cycle, Step: st.step.Name, Number: st.step.Number, Steps: st.of,
		Requests: st.step.Requests, Expected: st.expected})
}

// do sends a request and records it in the step.
func (st *stepRun) do(ctx context.Context, phase, method, path string, body any) *Exchange {
	return st.doAs(ctx, phase, method, path, body, nil)
}

func (st *stepRun) doAs(ctx context.Context, phase, method, path string, body any, token *string) *Exchange {
	ex := st.r.s.do(ctx, phase, method, path, body, token)
	st.mu.Lock()
	st.step.Requests++
	st.step.Retries += ex.Retries
	if len(st.step.Exchanges) < MaxExchanges {
		st.step.Exchanges = append(st.step.Exchanges, *ex)
	}
	st.progress()
	st.mu.Unlock()
	return ex
}

// touch records the users and groups a step acted on.
func (st *stepRun) touch(users []*user, groups []*group) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, u := range users {
		st.step.Users = append(st.step.Users, u.view())
	}
	for _, g := range groups {
		st.step.Groups = append(st.step.Groups, g.view())
	}
}

// forEach runs fn for each index below n, Options.Concurrency at a time,
// and returns the first failure (the lowest index's, among those that
// ran).
func (st *stepRun) forEach(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	workers := min(st.r.opts.Concurrency, n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			if err := fn(ctx, i); err != nil {
				return err
			}
			if ctx.Err() != nil {
				return nil
			}
		}
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu      sync.Mutex
		next    int
		firstAt = n
		first   error
		wg      sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil || i >= n
				mu.Unlock()
				if stop || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					if i < firstAt {
						firstAt, first = i, err
					}
					mu.Unlock()
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// refusal returns the declared refusal of action on user index i, or nil.
func (r *runner) refusal(action Action, userIndex, groupIndex int) *Refusal {
	for i := range r.opts.Refusals {
		f := &r.opts.Refusals[i]
		if f.Action != action {
			continue
		}
		if isGroupAction(action) {
			if f.Group == groupIndex {
				return f
			}
		} else if f.User == userIndex {
			return f
		}
	}
	return nil
}

func isGroupAction(a Action) bool {
	switch a {
	case CreateGroup, UpdateGroup, AddMembers, UpdateMembers, RemoveMembers, DeleteGroup:
		return true
	}
	return false
}

// expect checks that ex got one of the statuses ok; what names the
// request in the failure ("the create").
func (st *stepRun) expect(ex *Exchange, subject, what string, ok ...int) error {
	if ex.Err != nil {
		return st.fail(subject, fmt.Sprintf("%s got no response: %v", what, ex.Err), ex)
	}
	for _, c := range ok {
		if ex.Status == c {
			return nil
		}
	}
	want := make([]string, len(ok))
	for i, c := range ok {
		want[i] = statusText(c)
	}
	if ex.Retries > 0 {
		what += fmt.Sprintf(" (sent %d times)", ex.Retries+1)
	}
	if ex.Status >= 400 {
		return st.fail(subject, fmt.Sprintf("%s was refused: %s; %s expects %s", what, st.r.refusedText(ex), st.r.cycle, strings.Join(want, " or ")), ex)
	}
	return st.fail(subject, fmt.Sprintf("the service answered %s to %s; %s expects %s", statusText(ex.Status), what, st.r.cycle, strings.Join(want, " or ")), ex)
}

// refusedText is an error response as the identity provider shows it.
func (r *runner) refusedText(ex *Exchange) string {
	detail := ""
	if m, err := decode(ex.ResponseBody); err == nil {
		if d, ok := m["detail"].(string); ok {
			detail = d
		}
	}
	if r.cycle == CycleEntra {
		return fmt.Sprintf("StatusCode: %s, Web Response: %s", strings.ReplaceAll(http.StatusText(ex.Status), " ", ""), clip(ex.ResponseBody, 400))
	}
	if detail != "" {
		return fmt.Sprintf("%s, errors reported by the app: %s", statusText(ex.Status), detail)
	}
	return fmt.Sprintf("%s, %s", statusText(ex.Status), clip(ex.ResponseBody, 400))
}

// object decodes a response body that must be a JSON object.
func (st *stepRun) object(ex *Exchange, subject, what string) (map[string]any, error) {
	m, err := decode(ex.ResponseBody)
	if err != nil {
		return nil, st.fail(subject, fmt.Sprintf("the body answered to %s is not a JSON object (%v); %s cannot read it", what, err, st.r.cycle), ex)
	}
	return m, nil
}

// list checks a ListResponse and returns its resources and totalResults.
func (st *stepRun) list(ex *Exchange, subject, what string) ([]map[string]any, int, error) {
	if err := st.expect(ex, subject, what, http.StatusOK); err != nil {
		return nil, 0, err
	}
	m, err := st.object(ex, subject, what)
	if err != nil {
		return nil, 0, err
	}
	bad := func(why string) ([]map[string]any, int, error) {
		return nil, 0, st.fail(subject, fmt.Sprintf("the answer to %s is not a ListResponse %s can read: %s", what, st.r.cycle, why), ex)
	}
	if !hasString(m["schemas"], listResponseURN) {
		return bad(`"schemas" does not list ` + listResponseURN)
	}
	total, ok := number(m["totalResults"])
	if !ok {
		return bad(fmt.Sprintf(`"totalResults" is %s, not a JSON number`, show(m["totalResults"])))
	}
	for _, k := range []string{"startIndex", "itemsPerPage"} {
		if v, present := m[k]; present {
			if _, ok := number(v); !ok {
				return bad(fmt.Sprintf(`%q is %s, not a JSON number`, k, show(v)))
			}
		}
	}
	raw, present := m["Resources"]
	if !present {
		if total != 0 {
			return bad(fmt.Sprintf(`"Resources" is missing though "totalResults" is %d`, total))
		}
		return nil, 0, nil
	}
	arr, ok := raw.([]any)
	if !ok {
		return bad(fmt.Sprintf(`"Resources" is %s, not an array`, show(raw)))
	}
	out := make([]map[string]any, 0, len(arr))
	for _, e := range arr {
		o, ok := e.(map[string]any)
		if !ok {
			return bad("a resource is not an object")
		}
		out = append(out, o)
	}
	if len(out) > total {
		return bad(fmt.Sprintf(`%d resources, more than "totalResults" %d`, len(out), total))
	}
	return out, total, nil
}

// scimError checks a refusal: a 4xx SCIM error, with the Error schema and
// a detail the identity provider shows, matching ref when it is declared.
func (st *stepRun) scimError(ex *Exchange, subject, what string, ref *Refusal) error {
	if ex.Err != nil {
		return st.fail(subject, fmt.Sprintf("%s got no response: %v", what, ex.Err), ex)
	}
	declared := "the declared refusal"
	if ref == nil {
		declared = "a refusal"
	}
	if ex.Status < 400 || ex.Status > 499 {
		if ex.Status < 300 {
			return st.fail(subject, fmt.Sprintf("%s was expected to be refused (%s), and the service accepted it: %s", what, declared, statusText(ex.Status)), ex)
		}
		return st.fail(subject, fmt.Sprintf("%s was refused with %s; a refusal %s shows with its detail is a 4xx (a 5xx is retried as an outage)", what, statusText(ex.Status), st.r.cycle), ex)
	}
	m, err := decode(ex.ResponseBody)
	if err != nil {
		return st.fail(subject, fmt.Sprintf("the refusal of %s is not a JSON body (%v); %s shows nothing of it but the status", what, err, st.r.cycle), ex)
	}
	var problems []string
	if !hasString(m["schemas"], errorURN) {
		problems = append(problems, `"schemas" does not list `+errorURN)
	}
	if s, ok := m["status"].(string); !ok || s != fmt.Sprint(ex.Status) {
		if n, ok := number(m["status"]); !ok || n != ex.Status {
			problems = append(problems, fmt.Sprintf(`"status" is %s, not the response's status %q`, show(m["status"]), fmt.Sprint(ex.Status)))
		}
	}
	detail, _ := m["detail"].(string)
	if strings.TrimSpace(detail) == "" {
		problems = append(problems, `there is no "detail" for the admin to read`)
	}
	if ref != nil {
		if ref.Status != 0 && ex.Status != ref.Status {
			problems = append(problems, fmt.Sprintf("the status is %d, declared %d", ex.Status, ref.Status))
		}
		if ref.SCIMType != "" && m["scimType"] != ref.SCIMType {
			problems = append(problems, fmt.Sprintf(`"scimType" is %s, declared %q`, show(m["scimType"]), ref.SCIMType))
		}
		if ref.Detail != "" && !strings.Contains(detail, ref.Detail) {
			problems = append(problems, fmt.Sprintf(`"detail" %q does not contain the declared %q`, detail, ref.Detail))
		}
	}
	if len(problems) > 0 {
		return st.fail(subject, fmt.Sprintf("the refusal of %s is not a SCIM error %s can show: %s", what, st.r.cycle, strings.Join(problems, "; ")), ex)
	}
	return nil
}

// write checks the answer to a write: one of ok, or the declared refusal
// ref. It reports whether the write was refused as declared.
func (st *stepRun) write(ex *Exchange, subject, what string, ref *Refusal, ok ...int) (refused bool, err error) {
	if ref == nil {
		return false, st.expect(ex, subject, what, ok...)
	}
	if err := st.scimError(ex, subject, what, ref); err != nil {
		return false, err
	}
	st.mu.Lock()
	st.step.Refused = append(st.step.Refused, *ref)
	st.mu.Unlock()
	return true, nil
}

// readUser reads a user back and compares it with what the identity
// provider believes; after names the write it follows ("the PATCH that
// disabled it"), consequence what the difference means to the identity
// provider's admin.
func (st *stepRun) readUser(ctx context.Context, u *user, after string, consequence string, writes ...*Exchange) error {
	ex := st.do(ctx, phaseReadBack, http.MethodGet, "/Users/"+u.id, nil)
	exs := append(append([]*Exchange{}, writes...), ex)
	if ex.Err != nil || ex.Status != http.StatusOK {
		if ex.Err == nil && ex.Status == http.StatusNotFound {
			return st.fail(u.userName, fmt.Sprintf("after %s the user is gone (404 at %s); %s", after, "/Users/"+u.id, consequence), exs...)
		}
		return st.expect(ex, u.userName, "the read-back GET /Users/{id}", http.StatusOK)
	}
	got, err := st.object(ex, u.userName, "the read-back")
	if err != nil {
		return err
	}
	if d := st.r.diffUser(u, got); len(d) > 0 {
		return st.fail(u.userName, fmt.Sprintf("after %s the user reads back with %s; %s", after, strings.Join(d, ", "), consequence), exs...)
	}
	return nil
}

// matchUser sends the identity provider's lookup of a user by filter and
// returns the ids found.
func (st *stepRun) matchUser(ctx context.Context, phase, subject, filter, extra string) ([]map[string]any, *Exchange, error) {
	ex := st.do(ctx, phase, http.MethodGet, "/Users?filter="+q(filter)+extra, nil)
	res, _, err := st.list(ex, subject, "the lookup "+filter)
	return res, ex, err
}

// createUser POSTs body for u and checks the 201 and what it echoes.
func (st *stepRun) createUser(ctx context.Context, u *user, body map[string]any, consequence string) (refused bool, err error) {
	ex := st.do(ctx, phaseAction, http.MethodPost, "/Users", body)
	if refused, err := st.write(ex, u.userName, "the create (POST /Users)", st.r.refusal(Create, u.index, 0), http.StatusCreated); err != nil || refused {
		return refused, err
	}
	got, err := st.object(ex, u.userName, "the create")
	if err != nil {
		return false, err
	}
	id, _ := got["id"].(string)
	if id == "" {
		return false, st.fail(u.userName, fmt.Sprintf(`the created user has no "id"; %s cannot address it again`, st.r.cycle), ex)
	}
	u.id, u.exists = id, true
	if d := st.r.diffUser(u, got); len(d) > 0 {
		return false, st.fail(u.userName, fmt.Sprintf("the created user comes back with %s; %s", strings.Join(d, ", "), consequence), ex)
	}
	return false, nil
}

// deleteUser sends a DELETE and checks the user is gone.
func (st *stepRun) deleteUser(ctx context.Context, u *user) error {
	ex := st.do(ctx, phaseAction, http.MethodDelete, "/Users/"+u.id, nil)
	refused, err := st.write(ex, u.userName, "the DELETE", st.r.refusal(Delete, u.index, 0), http.StatusNoContent, http.StatusOK)
	if err != nil {
		return err
	}
	if refused {
		return st.readUser(ctx, u, "the refused DELETE", "a refused deletion must leave the user as it was")
	}
	u.exists, u.deleted = false, true
	get := st.do(ctx, phaseReadBack, http.MethodGet, "/Users/"+u.id, nil)
	if get.Err != nil || get.Status != http.StatusNotFound {
		if get.Err == nil && get.Status == http.StatusOK {
			return st.fail(u.userName, "after the DELETE the user can still be read (200, not 404): the identity provider takes it for deleted", ex, get)
		}
		return st.expect(get, u.userName, "the read of a deleted user", http.StatusNotFound)
	}
	return nil
}

// readGroup reads a group and checks its name and members.
func (st *stepRun) readGroup(ctx context.Context, g *group, after, consequence string, writes ...*Exchange) error {
	ex := st.do(ctx, phaseReadBack, http.MethodGet, "/Groups/"+g.id, nil)
	exs := append(append([]*Exchange{}, writes...), ex)
	if err := st.expect(ex, g.displayName, "the read-back GET /Groups/{id}", http.StatusOK); err != nil {
		return err
	}
	got, err := st.object(ex, g.displayName, "the read-back")
	if err != nil {
		return err
	}
	var d []string
	if name, _ := got["displayName"].(string); name != g.displayName {
		d = append(d, fmt.Sprintf(`"displayName" %s, expected %q`, show(got["displayName"]), g.displayName))
	}
	members := map[string]bool{}
	list, _ := got["members"].([]any)
	for _, m := range list {
		if o, ok := m.(map[string]any); ok {
			if v, ok := o["value"].(string); ok {
				members[v] = true
			}
		}
	}
	var missing, extra []string
	for id := range g.members {
		if !members[id] {
			missing = append(missing, id)
		}
	}
	for id := range members {
		if !g.members[id] {
			extra = append(extra, id)
		}
	}
	if len(missing) > 0 {
		d = append(d, fmt.Sprintf("%d of its %d members missing (%s)", len(missing), len(g.members), firstFew(missing)))
	}
	if len(extra) > 0 {
		d = append(d, fmt.Sprintf("%d members it should not have (%s)", len(extra), firstFew(extra)))
	}
	if len(d) > 0 {
		return st.fail(g.displayName, fmt.Sprintf("after %s the group reads back with %s; %s", after, strings.Join(d, ", "), consequence), exs...)
	}
	return nil
}

// setupExisting creates the application's own user: what an admin of the
// application created before the identity provider was connected.
func (st *stepRun) setupExisting(ctx context.Context) error {
	u := st.r.existing
	body := map[string]any{"schemas": []any{coreUserURN}, "userName": u.appUserName}
	if st.r.opts.maps(GivenName) || st.r.opts.maps(FamilyName) {
		body["name"] = map[string]any{"givenName": "Local", "familyName": "Admin-Made"}
	}
	if st.r.opts.maps(Active) {
		body["active"] = true
	}
	ex := st.do(ctx, phaseSetup, http.MethodPost, "/Users", body)
	if err := st.expect(ex, u.appUserName, "the application's own create of a user", http.StatusCreated, http.StatusOK); err != nil {
		return err
	}
	got, err := st.object(ex, u.appUserName, "the create")
	if err != nil {
		return err
	}
	if u.id, _ = got["id"].(string); u.id == "" {
		return st.fail(u.appUserName, `the created user has no "id"`, ex)
	}
	u.exists = true
	st.touch([]*user{u}, nil)
	return nil
}

// conflictCreate sends the identity provider's create of a userName the
// application already has (in another case) and checks the 409, and that
// the application's user is untouched.
func (st *stepRun) conflictCreate(ctx context.Context, body map[string]any) error {
	u := st.r.existing
	ex := st.do(ctx, phaseAction, http.MethodPost, "/Users", body)
	if ex.Err == nil && ex.Status >= 200 && ex.Status < 300 {
		if m, err := decode(ex.ResponseBody); err == nil {
			if id, _ := m["id"].(string); id != "" && id != u.id {
				st.r.strays = append(st.r.strays, id)
			}
		}
		return st.fail(u.userName, fmt.Sprintf("the create of %q was accepted (%s), though the application has %q: userName is unique, case-insensitively (RFC 7643 §4.1.1), and the identity provider expects 409 Conflict with scimType \"uniqueness\"",
			u.userName, statusText(ex.Status), u.appUserName), ex)
	}
	if err := st.scimError(ex, u.userName, "the create of a userName the application has", &Refusal{Status: http.StatusConflict, SCIMType: "uniqueness"}); err != nil {
		return err
	}
	get := st.do(ctx, phaseReadBack, http.MethodGet, "/Users/"+u.id, nil)
	if err := st.expect(get, u.appUserName, "the read of the application's user", http.StatusOK); err != nil {
		return err
	}
	got, err := st.object(get, u.appUserName, "the read")
	if err != nil {
		return err
	}
	if name, _ := got["userName"].(string); name != u.appUserName {
		return st.fail(u.appUserName, fmt.Sprintf("after the refused create the application's user has userName %s, not %q: a refused write must change nothing", show(got["userName"]), u.appUserName), ex, get)
	}
	return nil
}

// findExisting sends the lookup by userName, in the identity provider's
// case, that must find the application's user.
func (st *stepRun) findExisting(ctx context.Context, phase, extra string) (map[string]any, error) {
	u := st.r.existing
	filter := "userName eq " + quote(u.userName)
	res, ex, err := st.matchUser(ctx, phase, u.userName, filter, extra)
	if err != nil {
		return nil, err
	}
	if len(res) != 1 || res[0]["id"] != u.id {
		return nil, st.fail(u.userName, fmt.Sprintf("the lookup %s found %d users, not the application's %q (id %s): userName is case-insensitive (RFC 7643 §4.1.1), so %s",
			filter, len(res), u.appUserName, u.id, st.r.say(
				"Entra ID cannot match the user it tried to create, and logs the 409 again every cycle",
				"Okta cannot link the user, and its push fails with the 409 again")), ex)
	}
	return res[0], nil
}

// say picks the Entra ID or the Okta sentence.
func (r *runner) say(entra, okta string) string {
	if r.cycle == CycleEntra {
		return entra
	}
	return okta
}

// cleanup deletes what the cycle created and did not delete: groups, then
// users, then anything the run's prefix finds.
func (r *runner) cleanup(ctx context.Context) {
	// The cleanup outlives an interruption by up to cleanupTimeout (a
	// second Ctrl-C of the command stops it sooner); otherwise it takes
	// what it takes, as the deletes of a large cycle do on a busy server.
	interrupted := ctx.Err() != nil
	ctx = context.WithoutCancel(ctx)
	if interrupted {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cleanupTimeout)
		defer cancel()
	}
	start := time.Now()
	c := &r.report.Cleanup
	st := &stepRun{r: r, def: &stepDef{name: "Cleanup"}, step: &Step{Cycle: r.cycle, Name: "Cleanup (the kit's)"}, of: len(r.report.Steps)}
	var mu sync.Mutex
	left := func(s string) { mu.Lock(); c.Left = append(c.Left, s); mu.Unlock() }
	failed := func(err error) { mu.Lock(); c.Errors = append(c.Errors, err); mu.Unlock() }
	deleted := func() { mu.Lock(); c.Deleted++; mu.Unlock() }
	done := map[string]bool{}
	del := func(ctx context.Context, path, label string, refusal *Refusal) {
		ex := st.do(ctx, phaseCleanup, http.MethodDelete, path, nil)
		switch {
		case ex.Err != nil:
			failed(fmt.Errorf("DELETE %s (%s): %v", path, label, ex.Err))
			left(path + " " + label)
		case ex.Status == http.StatusNoContent || ex.Status == http.StatusOK:
			deleted()
		case ex.Status == http.StatusNotFound:
		case refusal != nil && ex.Status >= 400 && ex.Status < 500:
			left(path + " " + label + " (its deletion is refused, as declared)")
		default:
			failed(fmt.Errorf("DELETE %s (%s): %s %s", path, label, statusText(ex.Status), clip(ex.ResponseBody, 300)))
			left(path + " " + label)
		}
	}
	var groups []*group
	for _, g := range r.groups {
		if g.exists {
			groups = append(groups, g)
		}
	}
	st.expected = len(groups)
	_ = st.forEach(ctx, len(groups), func(ctx context.Context, i int) error {
		del(ctx, "/Groups/"+groups[i].id, groups[i].displayName, nil)
		return nil
	})
	var users []*user
	for _, u := range append(append([]*user{}, r.users...), r.onDemand, r.existing) {
		if u != nil && u.exists {
			users = append(users, u)
		}
	}
	for _, id := range r.strays {
		users = append(users, &user{index: -2, id: id, userName: "(created by a create that should have failed)"})
	}
	st.expected = len(users)
	_ = st.forEach(ctx, len(users), func(ctx context.Context, i int) error {
		del(ctx, "/Users/"+users[i].id, users[i].userName, r.refusal(Delete, users[i].index, 0))
		return nil
	})
	for _, g := range groups {
		done[g.id] = true
	}
	for _, u := range users {
		done[u.id] = true
	}
	// The sweep: what the run created without learning its id (a create
	// that timed out, a create that should have failed).
	for _, sw := range []struct{ endpoint, filter, name string }{
		{"/Groups", "displayName sw " + quote(r.opts.Prefix), "displayName"},
		{"/Users", "userName sw " + quote(r.opts.Prefix), "userName"},
	} {
		if sw.endpoint == "/Groups" && !r.opts.maps(Groups) {
			continue
		}
		for round := 0; round < 20 && ctx.Err() == nil; round++ {
			path := sw.endpoint + "?filter=" + q(sw.filter) + "&count=100"
			if sw.endpoint == "/Groups" {
				path += "&excludedAttributes=members"
			}
			ex := st.do(ctx, phaseCleanup, http.MethodGet, path, nil)
			m, err := decode(ex.ResponseBody)
			if ex.Err != nil || ex.Status != http.StatusOK || err != nil {
				if ex.Err != nil || ex.Status != http.StatusBadRequest { // a service without "sw" cannot be swept
					failed(fmt.Errorf("GET %s%s: %s", sw.endpoint, "?filter="+sw.filter, describe(ex)))
				}
				break
			}
			list, _ := m["Resources"].([]any)
			fresh := 0
			for _, e := range list {
				o, _ := e.(map[string]any)
				id, _ := o["id"].(string)
				if id == "" || done[id] {
					continue
				}
				done[id] = true
				fresh++
				name, _ := o[sw.name].(string)
				del(ctx, sw.endpoint+"/"+id, name, nil)
			}
			if fresh == 0 {
				break
			}
		}
	}
	c.Duration = time.Since(start)
}

// describe is a short account of an exchange, for cleanup errors.
func describe(ex *Exchange) string {
	if ex.Err != nil {
		return ex.Err.Error()
	}
	return statusText(ex.Status) + " " + clip(ex.ResponseBody, 300)
}
