package idptest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Cycle names an identity provider whose provisioning cycle the kit plays.
type Cycle string

// The cycles.
const (
	CycleEntra Cycle = "Microsoft Entra ID"
	CycleOkta  Cycle = "Okta"
)

// Attribute is a user attribute (or, for Groups, group provisioning) that
// an identity provider's attribute mapping sends to the application.
type Attribute string

// The attributes the kit knows, named by the SCIM attribute they map to.
// A host that maps fewer lists the ones it maps in Options.Attributes, and
// the kit sends, and checks, only those.
const (
	UserName          Attribute = "userName"                           // always mapped: the unique identifier
	Active            Attribute = "active"                             // Entra ID's "Switch([IsSoftDeleted]…)", Okta's status
	DisplayName       Attribute = "displayName"                        //
	Emails            Attribute = `emails[type eq "work"].value`       // the work email
	GivenName         Attribute = "name.givenName"                     // first name
	FamilyName        Attribute = "name.familyName"                    // last name
	Title             Attribute = "title"                              //
	Department        Attribute = enterpriseURN + ":department"        // the enterprise extension's department
	Phone             Attribute = `phoneNumbers[type eq "work"].value` // the work phone
	PreferredLanguage Attribute = "preferredLanguage"                  //
	ExternalID        Attribute = "externalId"                         // Entra ID's object id, Okta's user id
	Manager           Attribute = enterpriseURN + ":manager"           // Entra ID only: another provisioned user
	Password          Attribute = "password"                           // Okta only: pushed on create, synced later
	Groups            Attribute = "groups"                             // group provisioning: /Groups and their members
)

// AllAttributes returns the attributes the kit maps when
// Options.Attributes is nil: every attribute of the host applications'
// mapping tables.
func AllAttributes() []Attribute {
	return []Attribute{UserName, Active, DisplayName, Emails, GivenName, FamilyName, Title,
		Department, Phone, PreferredLanguage, ExternalID, Manager, Password, Groups}
}

// Action is what a step does, across both identity providers: callbacks
// and refusals name steps by it.
type Action string

// The actions.
const (
	TestConnection Action = "test connection" // Entra ID's Test Connection, Okta's Test API Credentials
	Setup          Action = "setup"           // the kit acting as the application's own admin
	Import         Action = "import"          // Okta's import of users and groups
	Create         Action = "create"          // a user created
	Conflict       Action = "conflict"        // a create whose userName the application already has
	Update         Action = "update"          // a user's attributes changed
	Deactivate     Action = "deactivate"      // active set to false (Entra ID: disabled or soft-deleted; Okta: deactivated or unassigned)
	Reactivate     Action = "reactivate"      // active set to true
	Delete         Action = "delete"          // a user deleted
	CreateGroup    Action = "create group"    // a group created (pushed)
	UpdateGroup    Action = "update group"    // a group renamed or replaced
	AddMembers     Action = "add members"     // members added to a group
	UpdateMembers  Action = "update members"  // members added and removed, or all replaced
	RemoveMembers  Action = "remove members"  // members removed from a group
	DeleteGroup    Action = "delete group"    // a group deleted
)

// Refusal declares a request the host's own rules refuse, such as
// deactivating the company's only owner. The kit checks that each request
// of that action on that user (or group) is refused the way the identity
// provider can show it — a 4xx SCIM error with the Error schema and a
// detail — that the refusal matches what is declared, and that the
// resource is unchanged; the cycle then goes on as the identity provider
// would. A declared refusal that does not happen fails the step.
type Refusal struct {
	Action Action
	// User is the index of the user, for user actions: users are numbered
	// from 0 in the order the cycle creates them (see Options.Users); -1
	// is the application's own user of the setup step, the one the
	// application had before the identity provider came (its owner, in
	// many applications).
	User int
	// Group is the index of the group, for group actions.
	Group int
	// Status is the HTTP status expected (any 4xx when 0).
	Status int
	// SCIMType is the scimType expected ("" for any, or none).
	SCIMType string
	// Detail is a part the error's detail must contain ("" for any
	// non-empty detail).
	Detail string
}

// Options configure a cycle. The zero value plays the cycle with every
// attribute mapped, three users and two groups, against a handler in
// process at http://localhost/scim/v2 without a token.
type Options struct {
	// Token is the bearer token (Entra ID's Secret Token, Okta's API
	// token) sent with every request. When set, the connection test also
	// checks that a wrong token is refused with 401.
	Token string
	// TenantURL is the SCIM base URL as it is entered in the identity
	// provider ("Tenant URL", "SCIM connector base URL"), for example
	// https://app.example.com/scim/v2. With a handler, requests carry its
	// host and path (so a host that routes tenants by either sees what it
	// would see in production) and default to http://localhost/scim/v2;
	// without one they are sent over the network to it. A query
	// ?aadOptscim062020, as Entra ID's admins append it, is taken off and
	// sets AADOptSCIM062020.
	TenantURL string
	// Client sends the requests when there is no handler (default: a
	// client with a 60-second timeout).
	Client *http.Client
	// Attributes are the attributes the host maps (nil: AllAttributes()).
	// UserName is always mapped.
	Attributes []Attribute
	// Matching is the attribute Entra ID matches users by (its matching
	// precedence 1): UserName (the default), ExternalID or Emails. Okta's
	// existence check always uses userName, its unique identifier field.
	Matching Attribute
	// AADOptSCIM062020 plays Entra ID with the aadOptscim062020 feature
	// flag: lowercase PATCH operations, JSON booleans, several attributes
	// in one path-less replace, members removed by value filter. Without
	// it Entra ID sends "Replace"/"Add"/"Remove", "True"/"False", one
	// operation per attribute and members removed with value lists.
	AADOptSCIM062020 bool
	// Users is how many users the cycle provisions (default 3); Groups how
	// many groups (default 2, none when Groups is not mapped); GroupMembers
	// how many of the users each group gets (default all of them).
	// The lifecycle steps (updates, deactivation, deletion) play on the
	// first three users; the rest are created, imported, grouped and
	// removed at the end. A load cycle at 10,000 users and 5,000-member
	// groups takes seconds on the memory store.
	Users, Groups, GroupMembers int
	// Concurrency is how many requests the steps that touch every user or
	// member send at once, as identity providers do on large syncs
	// (default 1: users are created in index order, which hosts whose
	// first user is special rely on).
	Concurrency int
	// Prefix starts every userName and group displayName the cycle
	// creates (default "idptest-" and six random hex digits), so that what
	// a run leaves behind can be found. Letters, digits, '-', '.' and '_'.
	Prefix string
	// Domain is the domain of the users' userNames and emails (default
	// example.com).
	Domain string
	// Refusals are the requests the host's own rules refuse.
	Refusals []Refusal
	// AfterStep, when set, is called after each step that passed, on the
	// goroutine that runs the cycle (t.Fatal in it stops the cycle, and
	// cleanup still runs), so that the host can check its own state: the
	// invite sent, the seat freed. An error fails the step.
	AfterStep func(ctx context.Context, s *Step) error
	// Progress, when set, is told about every request, for a progress
	// line; its calls never overlap.
	Progress func(p Progress)
	// Keep leaves what the cycle created in place; by default the kit
	// deletes, at the end, every user and group it created that the cycle
	// did not delete, even after a failure.
	Keep bool
}

// Progress is where a cycle is.
type Progress struct {
	Cycle    Cycle
	Step     string
	Number   int // of the step, from 1
	Steps    int // in the cycle
	Requests int // sent in this step so far
	Expected int // about how many the step sends in all (0: unknown)
}

// Step is one step of a cycle, as AfterStep and the report see it.
type Step struct {
	Cycle  Cycle
	Number int // from 1
	Name   string
	Action Action
	// Users and Groups are the resources the step acted on, as the
	// identity provider knows them after it.
	Users  []User
	Groups []Group
	// Refused are the declared refusals that happened in this step.
	Refused []Refusal
	// Requests counts the requests sent; Exchanges holds the first
	// MaxExchanges of them.
	Requests  int
	Exchanges []Exchange
	// Retries counts the requests sent again after a 503 or 429.
	Retries  int
	Duration time.Duration
	Status   Status
	// Note says why a step was skipped.
	Note string
	// Err is the failure, when Status is Failed.
	Err *StepError
}

// MaxExchanges is how many exchanges a Step keeps.
const MaxExchanges = 100

// Status is how a step ended.
type Status string

// The statuses.
const (
	Passed  Status = "passed"
	Failed  Status = "FAILED"
	Skipped Status = "skipped" // not applicable with these options
	NotRun  Status = "not run" // an earlier step failed
)

// User is a user as the identity provider knows it.
type User struct {
	Index    int // from 0; -1 for the application's own user (the setup and conflict steps), -2 for Entra ID's on-demand user
	ID       string
	UserName string
	Active   bool
	Deleted  bool
}

// Group is a group as the identity provider knows it.
type Group struct {
	Index       int
	ID          string
	DisplayName string
	Members     int
	Deleted     bool
}

// Report is what a cycle did.
type Report struct {
	Cycle Cycle
	// AADOptSCIM062020 says Entra ID's cycle played the flag's shapes.
	AADOptSCIM062020 bool
	Prefix           string
	Steps            []*Step
	Cleanup          Cleanup
	Duration         time.Duration
}

// Cleanup is what the kit's cleanup at the end of a cycle did.
type Cleanup struct {
	Deleted  int
	Duration time.Duration
	// Left lists what could not be deleted ("Users/<id> <userName>"),
	// including resources whose deletion the host refuses as declared.
	Left []string
	// Errors are the failed deletions and searches.
	Errors []error
}

// Failure returns the first failed step's error, or nil.
func (r *Report) Failure() *StepError {
	for _, s := range r.Steps {
		if s.Err != nil {
			return s.Err
		}
	}
	return nil
}

// Err returns the first step failure, else the cleanup's errors, else nil.
func (r *Report) Err() error {
	if f := r.Failure(); f != nil {
		return f
	}
	return errors.Join(r.Cleanup.Errors...)
}

// Entra plays Microsoft Entra ID's provisioning cycle against h (nil: the
// service at opts.TenantURL, over the network), reporting each failure to
// t with the step, the request sent and the response got. It returns the
// report; t has failed when the report's Err is not nil.
func Entra(t testing.TB, h http.Handler, opts Options) *Report {
	t.Helper()
	return runTB(t, CycleEntra, h, opts)
}

// Okta plays Okta's provisioning cycle against h, as Entra does Entra
// ID's.
func Okta(t testing.TB, h http.Handler, opts Options) *Report {
	t.Helper()
	return runTB(t, CycleOkta, h, opts)
}

func runTB(t testing.TB, c Cycle, h http.Handler, opts Options) *Report {
	t.Helper()
	r, err := Run(context.Background(), c, h, opts)
	if err != nil {
		t.Fatalf("idptest: %v", err)
		return r
	}
	if f := r.Failure(); f != nil {
		t.Error(f.Error())
	}
	for _, err := range r.Cleanup.Errors {
		t.Errorf("idptest: %s cleanup: %v", c, err)
	}
	return r
}

// Run plays cycle against h (nil: the service at opts.TenantURL, over the
// network) until a step fails or ctx ends, then cleans up unless
// opts.Keep (when ctx ended, for up to five minutes more). A request
// answered 503 or 429 is retried, as identity providers retry it, up to
// three times after what Retry-After says (at most 5 s). The error is
// about the options; the cycle's outcome is in the report.
func Run(ctx context.Context, cycle Cycle, h http.Handler, opts Options) (*Report, error) {
	if cycle != CycleEntra && cycle != CycleOkta {
		return nil, fmt.Errorf("unknown cycle %q", cycle)
	}
	r, err := newRunner(cycle, h, opts)
	if err != nil {
		return nil, err
	}
	return r.run(ctx), nil
}

// normalize fills in the defaults and checks the options.
func (o Options) normalize(h http.Handler) (Options, error) {
	if o.TenantURL == "" {
		if h == nil {
			return o, errors.New("Options.TenantURL is required without a handler")
		}
		o.TenantURL = "http://localhost/scim/v2"
	}
	if base, query, ok := strings.Cut(o.TenantURL, "?"); ok {
		for _, p := range strings.Split(query, "&") {
			if strings.EqualFold(p, "aadOptscim062020") {
				o.AADOptSCIM062020 = true
			} else if p != "" {
				return o, fmt.Errorf("Options.TenantURL: unexpected query %q (only aadOptscim062020 is understood)", p)
			}
		}
		o.TenantURL = base
	}
	o.TenantURL = strings.TrimRight(o.TenantURL, "/")
	if o.Attributes == nil {
		o.Attributes = AllAttributes()
	}
	known := map[Attribute]bool{}
	for _, a := range AllAttributes() {
		known[a] = true
	}
	attrs := []Attribute{UserName}
	for _, a := range o.Attributes {
		if !known[a] {
			return o, fmt.Errorf("Options.Attributes: unknown attribute %q", a)
		}
		if a != UserName {
			attrs = append(attrs, a)
		}
	}
	o.Attributes = attrs
	if o.Matching == "" {
		o.Matching = UserName
	}
	switch o.Matching {
	case UserName, ExternalID, Emails:
	default:
		return o, fmt.Errorf("Options.Matching: %q is not a matching attribute the kit plays (userName, externalId, the work email)", o.Matching)
	}
	if !o.maps(o.Matching) {
		return o, fmt.Errorf("Options.Matching: %q is not in Options.Attributes", o.Matching)
	}
	if o.Users == 0 {
		o.Users = 3
	}
	if o.Users < 0 || o.Groups < 0 || o.GroupMembers < 0 || o.Concurrency < 0 {
		return o, errors.New("Options: Users, Groups, GroupMembers and Concurrency cannot be negative")
	}
	if !o.maps(Groups) {
		o.Groups = 0
	} else if o.Groups == 0 {
		o.Groups = 2
	}
	if o.GroupMembers == 0 || o.GroupMembers > o.Users {
		o.GroupMembers = o.Users
	}
	if o.Concurrency == 0 {
		o.Concurrency = 1
	}
	if o.Prefix == "" {
		o.Prefix = "idptest-" + randomHex(3)
	}
	for _, c := range o.Prefix {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return o, fmt.Errorf("Options.Prefix %q: only letters, digits, '-', '.' and '_'", o.Prefix)
		}
	}
	if o.Domain == "" {
		o.Domain = "example.com"
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 60 * time.Second}
	}
	return o, nil
}

// maps reports whether the host maps a.
func (o *Options) maps(a Attribute) bool {
	for _, m := range o.Attributes {
		if m == a {
			return true
		}
	}
	return false
}
