package scim_test

// The Go samples of README.md, each inside a function the compiler checks:
// TestREADMESamples fails when the README shows a sample that is not here,
// word for word (indentation aside).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/elimity-com/scim/schema"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/events"
	"github.com/scimkit/scim/memstore"
	"github.com/scimkit/scim/postgres"
)

// Example_mount is the README's "Mount it in your own application".
func Example_mount() {
	secretFromYourDB, logger, yourApp := "s3cret", slog.Default(), http.NotFound
	var handler http.Handler
	mount := func() error {
		store := memstore.New() // or your own scim.Store
		tokens := scim.NewBearerTokens(scim.Token{
			Secret:    secretFromYourDB,
			Principal: scim.Principal{ID: "entra-prod", Tenant: "acme"},
			ExpiresAt: time.Now().AddDate(1, 0, 0),
		})
		h, err := scim.New(store, tokens, scim.WithLogger(logger))
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("/scim/v2/", h) // beside your own routes
		mux.HandleFunc("/", yourApp)
		handler = mux
		return nil
	}
	err := mount()
	fmt.Println(handler != nil, err)
	// Output: true <nil>
}

// Example_schemaExtension is the README's "Custom schema extensions".
func Example_schemaExtension() {
	store, tokens := memstore.New(), scim.NewBearerTokens()
	users := scim.UserResourceType()
	users.Extensions = append(users.Extensions, scim.SchemaExtension{Schema: schema.Schema{
		ID: "urn:example:params:scim:schemas:extension:acme:2.0:User",
		Attributes: []schema.CoreAttribute{
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "costCenter"})),
		},
	}})
	h, err := scim.New(store, tokens, scim.WithResourceTypes(users, scim.GroupResourceType()))
	fmt.Println(h != nil, err)
	// Output: true <nil>
}

// Example_hooks is the README's "Hooks".
func Example_hooks() {
	store, tokens := memstore.New(), scim.NewBearerTokens()
	invite := func(ctx context.Context, email string) error { fmt.Println("invite", email); return nil }
	isLastOwner := func(id string) bool { return false }
	freeLicence := func(ctx context.Context, id string) error { return nil }

	h, err := scim.New(store, tokens, scim.WithHooks(scim.Hooks{
		AfterCreate: func(ctx context.Context, res *scim.Resource) error {
			if res.Type == "User" {
				return invite(ctx, scim.UserFromResource(res).PrimaryEmail())
			}
			return nil
		},
		BeforeUpdate: func(ctx context.Context, u *scim.Update) error {
			if u.Deactivated() && isLastOwner(u.Old.ID) {
				return &scim.Error{Status: http.StatusConflict, Detail: "the only owner cannot be deactivated"}
			}
			return nil
		},
		AfterUpdate: func(ctx context.Context, u *scim.Update) error {
			if u.Deactivated() {
				return freeLicence(ctx, u.New.ID)
			}
			return nil
		},
	}))
	fmt.Println(h != nil, err)
	// Output: true <nil>
}

// Example_typedViews is the README's "Typed views".
func Example_typedViews() {
	res := &scim.Resource{Type: "User", ID: "2819c223", Attributes: map[string]any{
		"userName": "bjensen", "emails": []any{map[string]any{"value": "bjensen@example.com", "primary": true}},
		scim.EnterpriseUserSchema: map[string]any{"department": "Tour Operations"},
	}}
	u := scim.UserFromResource(res)
	if u.Enterprise != nil {
		fmt.Println(u.UserName, u.IsActive(), u.PrimaryEmail(), u.Enterprise.Department)
	}
	u.Title = "Tour Guide"
	res = u.Resource() // all the rest comes back as it was
	fmt.Println(res.Attributes["title"])
	// Output:
	// bjensen true bjensen@example.com Tour Operations
	// Tour Guide
}

// Example_passwords is the README's "Passwords".
func Example_passwords() {
	store := memstore.New()
	storedHash, _ := scim.Argon2id{}.Hash("correct horse")
	typedPassword := "correct horse"

	ok, err := scim.VerifyPassword(storedHash, typedPassword)
	fmt.Println(ok, err)

	// Your own hasher, or no passwords at all:
	hostHash := func(p string) (string, error) { return "…", nil }
	_, _ = scim.New(store, scim.NewBearerTokens(), scim.WithPasswordHasher(scim.PasswordHasherFunc(hostHash)))
	_, _ = scim.New(store, scim.NewBearerTokens(), scim.WithoutPasswords())
	// Output: true <nil>
}

// ExampleNewTokens is the README's "Tokens".
func ExampleNewTokens() {
	ctx := context.Background()
	store := memstore.New()
	tokens := scim.NewTokens(memstore.NewTokenStore()) // or a postgres.Store: they survive a restart
	secret, info, err := tokens.Issue(ctx, scim.Principal{ID: "entra", Tenant: "acme"}, 365*24*time.Hour,
		scim.TokenName("Entra ID, production"))
	if err != nil {
		return
	}
	fmt.Println(strings.HasPrefix(secret, "scim_")) // show it once; keep info.ID to revoke
	h, err := scim.New(store, tokens)
	if err != nil {
		return
	}
	err = tokens.Revoke(ctx, "acme", info.ID) // the caller's own tenant, never one from the request
	fmt.Println(h != nil, err)
	// Output:
	// true
	// true <nil>
}

// Example_postgres is the README's "PostgreSQL in production"; it runs
// nothing without $SCIM_POSTGRES_DSN.
func Example_postgres() {
	ctx := context.Background()
	if os.Getenv("SCIM_POSTGRES_DSN") == "" {
		return
	}
	production := func() error {
		pool, err := pgxpool.New(ctx, os.Getenv("SCIM_POSTGRES_DSN"))
		if err != nil {
			return err
		}
		defer pool.Close()
		store, err := postgres.New(ctx, pool, postgres.WithSchema("scim"))
		if err != nil {
			return err
		}
		tokens := scim.NewTokens(store) // tokens in the same database, shared by every replica
		h, err := scim.New(store, tokens)
		_ = h
		return err
	}
	if err := production(); err != nil {
		fmt.Println(err)
	}
	// Output:
}

// Example_me is the README's "/Me".
func Example_me() {
	store := memstore.New()
	type session struct{ Name, Company, SCIMUserID string }
	lookupSession := func(r *http.Request) (session, error) {
		return session{"bjensen", "acme", "2819c223"}, nil
	}

	auth := scim.AuthenticatorFunc(func(r *http.Request) (scim.Principal, error) {
		s, err := lookupSession(r) // your own sign-in
		if err != nil {
			return scim.Principal{}, scim.ErrUnauthenticated
		}
		return scim.Principal{ID: s.Name, Tenant: s.Company, UserID: s.SCIMUserID}, nil
	})
	h, err := scim.New(store, auth)
	if err != nil {
		return
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/scim/v2/Me", nil))
	fmt.Println(w.Code) // no User 2819c223 in the store yet
	// Output: 404
}

// TestREADMESamples checks that each Go sample of README.md is in one of
// the functions above (or, for the complete store, in storetest, and for
// the identity-provider kit, in idptest), so that a
// change that breaks a sample breaks the build.
func TestREADMESamples(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var corpus strings.Builder
	for _, f := range []string{"readme_examples_test.go", "storetest/example_test.go", "idptest/example_test.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		corpus.WriteString("\n" + normalize(string(b)))
	}
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	if len(blocks) == 0 {
		t.Fatal(errors.New("README.md has no Go samples"))
	}
	for _, b := range blocks {
		sample := b[1]
		switch { // a whole file: its body is checked
		case strings.HasPrefix(sample, "// Package "):
			_, sample, _ = strings.Cut(sample, "\n)\n")
		case strings.HasPrefix(sample, "package "):
			_, sample, _ = strings.Cut(sample, "\n")
		}
		if !strings.Contains(corpus.String(), "\n"+normalize(sample)) {
			t.Errorf("this README sample is in no compiled example; add it to readme_examples_test.go:\n%s", b[1])
		}
	}
}

// normalize drops blank lines and folds white space, which gofmt aligns
// differently in a README than in a function.
func normalize(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			out = append(out, strings.Join(f, " "))
		}
	}
	return strings.Join(out, "\n") + "\n"
}

// Example_consumer is the README's "The change feed and durable consumers".
func Example_consumer() {
	store := memstore.New()
	sent := make(chan string, 1)
	sendInvite := func(ctx context.Context, id string) error { sent <- id; return nil }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	inviter := &events.Consumer{
		Name:  "invite-sender",
		Store: store, // memstore or postgres: both keep a feed
		Handle: func(ctx context.Context, c scim.Change) error {
			if c.Op != scim.ChangeCreate || c.Type != "User" {
				return nil
			}
			return sendInvite(ctx, c.ID) // idempotent: a change may come twice
		},
	}
	go inviter.Run(ctx) // on every replica: one of them runs it at a time

	_, _ = store.Create(ctx, &scim.Resource{Type: "User", ID: "u1", Attributes: map[string]any{"userName": "ada"}})
	fmt.Println(<-sent)
	// Output: u1
}

// readmeTxHook is the README's "In-transaction hooks on PostgreSQL".
func readmeTxHook(ctx context.Context, pool *pgxpool.Pool) (*postgres.Store, error) {
	store, err := postgres.New(ctx, pool, postgres.WithTxHook(
		func(ctx context.Context, tx pgx.Tx, w postgres.TxWrite) error {
			if w.Change.Op != scim.ChangeCreate || w.Change.Type != "User" {
				return nil
			}
			tag, err := tx.Exec(ctx, `UPDATE seats SET used = used + 1 WHERE used < total`)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return &scim.Error{Status: http.StatusForbidden, Detail: "no licence seat is left"}
			}
			_, err = tx.Exec(ctx, `INSERT INTO accounts (scim_id) VALUES ($1)`, w.Change.ID)
			return err
		}))
	return store, err
}

var _ = readmeTxHook

// readmeSecurityEvents is the README's "Security events for other systems (RFC 9967)".
func readmeSecurityEvents(ctx context.Context, store scim.Store, tokens scim.Authenticator, mux *http.ServeMux,
	requireReceiver func(http.Handler) http.Handler, privateKey any, mirrorToken string) error {
	siem := &events.Publisher{
		Issuer:   "https://app.example.com/scim/v2",
		Audience: []string{"https://siem.example.com"}, // one audience per receiver: their jti values differ
	}
	signer, err := events.JWS("ES256", privateKey, "key-2026")
	if err != nil {
		return err
	}
	mirror := &events.Publisher{
		Issuer:   "https://app.example.com/scim/v2",
		Audience: []string{"https://mirror.example.com"},
		Mode:     events.Full, // the resource in each event, read from the store
		Store:    store,
		Signer:   signer,
	}
	h, err := scim.New(store, tokens, scim.WithSecurityEvents(append(siem.EventURIs(), mirror.EventURIs()...)...))
	if err != nil {
		return err
	}
	mux.Handle("/scim/v2/", h)

	// Poll (RFC 8936), behind the host's own authentication of the receiver.
	mux.Handle("/events", requireReceiver(&events.PollHandler{Name: "receiver:siem", Store: store, Publisher: siem}))

	// Push (RFC 8935).
	pusher := &events.Pusher{
		Name:      "receiver:mirror",
		Store:     store,
		URL:       "https://mirror.example.com/events",
		Header:    http.Header{"Authorization": {"Bearer " + mirrorToken}},
		Publisher: mirror,
	}
	go func() {
		err := pusher.Run(ctx) // on every replica: one of them pushes at a time
		slog.ErrorContext(ctx, "push to the mirror stopped", "err", err)
	}()
	return nil
}

var _ = readmeSecurityEvents

// readmeFilters is the README's "Filters in Go".
func readmeFilters(ctx context.Context, store scim.Store, name string) error {
	expr := scim.Eq("userName", name).And(scim.Eq("active", true))
	filter, err := expr.Filter(scim.UserResourceType()) // checked against the schema, for store.Query
	if err != nil {
		return err
	}
	page, err := store.Query(ctx, "User", scim.Query{Filter: filter, StartIndex: 1, Count: 100})
	if err == nil && page.TotalResults != 0 {
		err = fmt.Errorf("%d Users on an empty store", page.TotalResults)
	}
	return err
}

func TestREADMEFilters(t *testing.T) {
	if err := readmeFilters(context.Background(), memstore.New(), `a "quoted" name`); err != nil {
		t.Fatalf("the README's filter sample: %v", err)
	}
}
