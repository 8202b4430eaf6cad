package idptest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/idptest"
	"github.com/scimkit/scim/memstore"
)

const token = "s3cret"

// handler is the library's handler on a fresh memory store.
func handler(t testing.TB, opts ...scim.Option) http.Handler {
	t.Helper()
	return storeHandler(t, memstore.New(), opts...)
}

// cycle is a cycle to play: Entra ID in either shape, or Okta.
type cycle struct {
	name    string
	cycle   idptest.Cycle
	flagged bool
}

func (c cycle) options(o idptest.Options) idptest.Options {
	o.AADOptSCIM062020 = c.flagged
	return o
}

// play runs the cycle through the kit's testing entry points.
func (c cycle) play(t testing.TB, h http.Handler, o idptest.Options) *idptest.Report {
	t.Helper()
	if c.cycle == idptest.CycleOkta {
		return idptest.Okta(t, h, c.options(o))
	}
	return idptest.Entra(t, h, c.options(o))
}

// run runs the cycle without a testing.TB, for tests that expect it to
// fail.
func (c cycle) run(t testing.TB, h http.Handler, o idptest.Options) *idptest.Report {
	t.Helper()
	r, err := idptest.Run(context.Background(), c.cycle, h, c.options(o))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// allCycles are the cycles every test plays.
func allCycles() []cycle {
	return []cycle{
		{"Entra ID", idptest.CycleEntra, false},
		{"Entra ID with aadOptscim062020", idptest.CycleEntra, true},
		{"Okta", idptest.CycleOkta, false},
	}
}

// cycles runs fn for each cycle.
func cycles(t *testing.T, fn func(t *testing.T, c cycle)) {
	for _, c := range allCycles() {
		t.Run(c.name, func(t *testing.T) { fn(t, c) })
	}
}

// empty checks the service holds no user and no group.
func empty(t testing.TB, h http.Handler) {
	t.Helper()
	for _, endpoint := range []string{"/Users", "/Groups"} {
		req := httptest.NewRequest(http.MethodGet, "/scim/v2"+endpoint+"?count=0", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var list struct{ TotalResults int }
		if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || list.TotalResults != 0 {
			t.Errorf("the cycle left %d resources at %s (%v): %s", list.TotalResults, endpoint, err, rec.Body)
		}
	}
}

func TestCyclesPassAndLeaveNothingBehind(t *testing.T) {
	cycles(t, func(t *testing.T, c cycle) {
		h := handler(t)
		r := c.play(t, h, idptest.Options{Token: token})
		for _, s := range r.Steps {
			if s.Status != idptest.Passed {
				t.Errorf("step %d %q: %s", s.Number, s.Name, s.Status)
			}
		}
		empty(t, h)
		var b strings.Builder
		if err := r.WriteTable(&b); err != nil {
			t.Fatal(err)
		}
		t.Log("\n" + b.String())
	})
}

// ownerVeto is a host's rule in hooks: the company's only owner (set by
// the test once it exists) can be neither deactivated nor deleted.
type ownerVeto struct {
	mu     sync.Mutex
	owner  string
	detail string
}

func (v *ownerVeto) set(id string) { v.mu.Lock(); v.owner = id; v.mu.Unlock() }

func (v *ownerVeto) is(id string) bool { v.mu.Lock(); defer v.mu.Unlock(); return id == v.owner }

func (v *ownerVeto) hooks() scim.Hooks {
	return scim.Hooks{
		BeforeUpdate: func(ctx context.Context, u *scim.Update) error {
			if u.Deactivated() && v.is(u.Old.ID) {
				return &scim.Error{Status: http.StatusConflict, Detail: v.detail}
			}
			return nil
		},
		BeforeDelete: func(ctx context.Context, res *scim.Resource) error {
			if v.is(res.ID) {
				return &scim.Error{Status: http.StatusConflict, Detail: v.detail}
			}
			return nil
		},
	}
}

// makeOwner makes user 0 the owner once it is created.
func (v *ownerVeto) makeOwner(ctx context.Context, s *idptest.Step) error {
	if s.Action == idptest.Create && len(s.Users) > 0 && s.Users[0].Index == 0 {
		v.set(s.Users[0].ID)
	}
	return nil
}

func TestDeclaredRefusals(t *testing.T) {
	const detail = "the company's only owner cannot be deactivated or deleted; make someone else owner first"
	refusals := []idptest.Refusal{
		{Action: idptest.Deactivate, User: 0, Status: http.StatusConflict, Detail: "only owner"},
		{Action: idptest.Delete, User: 0, Status: http.StatusConflict, Detail: "only owner"},
	}
	cycles(t, func(t *testing.T, c cycle) {
		t.Run("declared", func(t *testing.T) {
			veto := &ownerVeto{detail: detail}
			h := handler(t, scim.WithHooks(veto.hooks()))
			r := c.play(t, h, idptest.Options{Token: token, Refusals: refusals, AfterStep: veto.makeOwner})
			refused := 0
			for _, s := range r.Steps {
				refused += len(s.Refused)
			}
			if refused < 2 {
				t.Errorf("%d refusals seen, want the deactivations and the delete of the owner", refused)
			}
			if len(r.Cleanup.Left) != 1 || !strings.Contains(r.Cleanup.Left[0], "refused, as declared") {
				t.Errorf("cleanup left %v, want the owner alone", r.Cleanup.Left)
			}
		})
		for _, tc := range []struct {
			name     string
			detail   string
			refusals []idptest.Refusal
			says     string
		}{
			{"undeclared", detail, nil, "was refused: "},
			{"declared with another detail", detail, []idptest.Refusal{{Action: idptest.Deactivate, User: 0, Detail: "seats"}}, `does not contain the declared "seats"`},
			{"declared with another status", detail, []idptest.Refusal{{Action: idptest.Deactivate, User: 0, Status: http.StatusBadRequest}}, "the status is 409, declared 400"},
			{"without a detail", "", refusals, `no "detail"`},
			{"declared but not refused", detail, refusals, "expected to be refused"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				veto := &ownerVeto{detail: tc.detail}
				h := handler(t, scim.WithHooks(veto.hooks()))
				after := veto.makeOwner
				if tc.name == "declared but not refused" {
					after = nil // no owner: nothing is refused
				}
				r := c.run(t, h, idptest.Options{Token: token, Refusals: tc.refusals, AfterStep: after})
				f := r.Failure()
				if f == nil || f.Action != idptest.Deactivate || !strings.Contains(f.Error(), tc.says) {
					t.Fatalf("want a failure of the first deactivation saying %q, got:\n%v", tc.says, f)
				}
				if tc.name == "undeclared" && !strings.Contains(f.Error(), detail) {
					t.Errorf("the failure does not show the host's detail:\n%v", f)
				}
			})
		}
	})
}

func TestAfterStep(t *testing.T) {
	h := handler(t)
	var seen []string
	r, err := idptest.Run(context.Background(), idptest.CycleOkta, h, idptest.Options{Token: token,
		AfterStep: func(ctx context.Context, s *idptest.Step) error {
			seen = append(seen, s.Name)
			if s.Action == idptest.Deactivate {
				return errors.New("the seat was not freed")
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	f := r.Failure()
	if f == nil || f.Step != "Deactivate users" || !strings.Contains(f.Reason, "the host's check after this step failed: the seat was not freed") {
		t.Fatalf("want the host's check to fail the deactivation, got:\n%v", f)
	}
	if len(seen) != 7 || seen[0] != "Test API Credentials" {
		t.Errorf("AfterStep saw %q", seen)
	}
	for _, s := range r.Steps[7:] {
		if s.Status != idptest.NotRun {
			t.Errorf("step %q after the failure: %s", s.Name, s.Status)
		}
	}
	empty(t, h)
}

// recording records the request bodies a handler gets.
type recording struct {
	h      http.Handler
	mu     sync.Mutex
	bodies []string
}

func (rec *recording) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.bodies = append(rec.bodies, string(b))
		rec.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	rec.h.ServeHTTP(w, r)
}

// TestFewerAttributes: a host that maps iGrafx's table (Username,
// Enabled, email, first and last name, groups) gets those and no others.
func TestFewerAttributes(t *testing.T) {
	mapped := []idptest.Attribute{idptest.UserName, idptest.Active, idptest.Emails, idptest.GivenName, idptest.FamilyName, idptest.Groups}
	cycles(t, func(t *testing.T, c cycle) {
		rec := &recording{h: handler(t)}
		c.play(t, rec, idptest.Options{Token: token, Attributes: mapped})
		for _, b := range rec.bodies {
			for _, unmapped := range []string{"title", "phoneNumbers", "preferredLanguage", "externalId", "password", "enterprise", "manager", "displayName\":\"Avery"} {
				if strings.Contains(b, unmapped) {
					t.Fatalf("a request sent %q, which the host does not map: %s", unmapped, b)
				}
			}
		}
	})
}

func TestRemoteTarget(t *testing.T) {
	mux := http.NewServeMux()
	h := handler(t)
	mux.Handle("/scim/v2/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, c := range []idptest.Cycle{idptest.CycleEntra, idptest.CycleOkta} {
		r, err := idptest.Run(context.Background(), c, nil, idptest.Options{Token: token, TenantURL: srv.URL + "/scim/v2/", Client: srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		if got := r.Steps[0].Exchanges[0].URL; !strings.HasPrefix(got, srv.URL+"/scim/v2/Users?") {
			t.Errorf("the first request went to %s", got)
		}
	}
	empty(t, h)
	if _, err := idptest.Run(context.Background(), idptest.CycleEntra, nil, idptest.Options{}); err == nil {
		t.Error("a run without handler or TenantURL must be refused")
	}
}

func TestTenantURLFlag(t *testing.T) {
	r := idptest.Entra(t, handler(t), idptest.Options{Token: token, TenantURL: "https://app.example.com/scim/v2?aadOptscim062020"})
	for _, s := range r.Steps {
		for _, ex := range s.Exchanges {
			if strings.Contains(ex.URL, "aadOptscim062020") {
				t.Fatalf("the flag went on the wire: %s", ex.URL)
			}
			if ex.Method == http.MethodPatch && bytes.Contains(ex.RequestBody, []byte(`"op":"Replace"`)) {
				t.Fatalf("the flag did not set the compliant shapes: %s", ex.RequestBody)
			}
		}
	}
	if !strings.HasPrefix(r.Steps[0].Exchanges[0].URL, "https://app.example.com/scim/v2/Users?") {
		t.Errorf("requests go to %s", r.Steps[0].Exchanges[0].URL)
	}
}

func TestMatchingAttributes(t *testing.T) {
	for _, m := range []idptest.Attribute{idptest.UserName, idptest.ExternalID, idptest.Emails} {
		t.Run(string(m), func(t *testing.T) {
			r := idptest.Entra(t, handler(t), idptest.Options{Token: token, Matching: m})
			want := map[idptest.Attribute]string{idptest.UserName: "userName+eq", idptest.ExternalID: "externalId+eq", idptest.Emails: "emails%5Btype+eq"}[m]
			if got := r.Steps[1].Exchanges[0].URL; !strings.Contains(got, want) {
				t.Errorf("the match is %s, want %s", got, want)
			}
		})
	}
}

func TestInterrupted(t *testing.T) {
	for _, c := range []idptest.Cycle{idptest.CycleEntra, idptest.CycleOkta} {
		t.Run(string(c), func(t *testing.T) {
			h := handler(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			requests := 0
			r, err := idptest.Run(ctx, c, h, idptest.Options{Token: token, Users: 20, Progress: func(p idptest.Progress) {
				if requests++; requests == 30 {
					cancel() // Ctrl-C in the middle of a step
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			f := r.Failure()
			if f == nil || !strings.Contains(f.Reason, "interrupted") {
				t.Fatalf("want the step interrupted, got %v", f)
			}
			if r.Cleanup.Deleted == 0 || len(r.Cleanup.Errors) > 0 {
				t.Errorf("cleanup deleted %d, errors %v", r.Cleanup.Deleted, r.Cleanup.Errors)
			}
			empty(t, h)
		})
	}
}

func TestOptionErrors(t *testing.T) {
	for _, o := range []idptest.Options{
		{Prefix: "has space"},
		{Attributes: []idptest.Attribute{"nickName"}},
		{Matching: idptest.Title},
		{Matching: idptest.ExternalID, Attributes: []idptest.Attribute{idptest.UserName}},
		{Users: -1},
		{TenantURL: "http://x/scim/v2?other=1"},
	} {
		if _, err := idptest.Run(context.Background(), idptest.CycleEntra, handler(t), o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
	if _, err := idptest.Run(context.Background(), "OneLogin", handler(t), idptest.Options{}); err == nil {
		t.Error("an unknown cycle accepted")
	}
}

// shedding answers 503 with Retry-After: 0 when drop says so.
func shedding(h http.Handler, drop func(r *http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if drop(r) {
			w.Header().Set("Retry-After", "0")
			w.Header().Set("Content-Type", "application/scim+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"503","detail":"busy"}`))
			return
		}
		h.ServeHTTP(w, r)
	})
}

func TestRetries(t *testing.T) {
	cycles(t, func(t *testing.T, c cycle) {
		t.Run("a 503 now and then is retried", func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			h := handler(t)
			r := c.play(t, shedding(h, func(*http.Request) bool { mu.Lock(); defer mu.Unlock(); n++; return n%5 == 0 }), idptest.Options{Token: token})
			retries := 0
			for _, s := range r.Steps {
				retries += s.Retries
			}
			if retries == 0 {
				t.Error("no retry counted")
			}
			empty(t, h)
		})
		t.Run("a 503 that lasts fails the step", func(t *testing.T) {
			r := c.run(t, shedding(handler(t), func(r *http.Request) bool {
				return r.Method == http.MethodPost && strings.Contains(r.URL.Path, "Groups")
			}), idptest.Options{Token: token})
			f := r.Failure()
			if f == nil || f.Action != idptest.CreateGroup || !strings.Contains(f.Reason, "(sent 4 times)") || !strings.Contains(f.Reason, "503") {
				t.Fatalf("want the group's create to fail after 4 tries, got\n%v", f)
			}
		})
	})
}
