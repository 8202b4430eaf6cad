package idptest_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/idptest"
	"github.com/scimkit/scim/memstore"
)

// TestProvisioning is the README's "Test your integration before you
// point Entra ID or Okta at it": a host's test, word for word.
func TestProvisioning(t *testing.T) {
	h, _ := scim.New(memstore.New(), scim.NewBearerTokens(scim.Token{Secret: "s3cret"})) // yours, hooks and all
	idptest.Entra(t, h, idptest.Options{Token: "s3cret"})
	idptest.Okta(t, h, idptest.Options{Token: "s3cret"})
}

// Run plays a cycle without a testing.TB; here Okta's, for a host that
// maps the userName, active and the work email only.
func ExampleRun() {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, _ := scim.New(memstore.New(), scim.NewBearerTokens(scim.Token{Secret: "s3cret"}), scim.WithLogger(quiet))
	r, err := idptest.Run(context.Background(), idptest.CycleOkta, h, idptest.Options{
		Token:      "s3cret",
		Attributes: []idptest.Attribute{idptest.UserName, idptest.Active, idptest.Emails},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range r.Steps {
		fmt.Println(s.Number, s.Name+":", s.Status)
	}
	fmt.Println("cleanup deleted", r.Cleanup.Deleted, "error:", r.Err())
	// Output:
	// 1 Test API Credentials: passed
	// 2 A user the app already has (set up): passed
	// 3 Import users: passed
	// 4 Push new users: passed
	// 5 Link a userName the app already has: passed
	// 6 Push profile updates: passed
	// 7 Deactivate users: passed
	// 8 Reactivate users: passed
	// 9 Sync passwords: skipped
	// 10 Deactivate users (PUT): passed
	// 11 Reactivate users (PUT): passed
	// 12 Push groups: skipped
	// 13 Rename pushed groups: skipped
	// 14 Push group memberships: skipped
	// 15 Update group memberships: skipped
	// 16 Update pushed groups (PUT): skipped
	// 17 Import users and groups: passed
	// 18 Unassign users: passed
	// 19 Unlink pushed groups (delete in the app): skipped
	// cleanup deleted 4 error: <nil>
}

// A host whose company's only owner may not be deactivated declares the
// refusal: the kit checks that Entra ID gets a SCIM error it can show,
// with the host's detail, and that the owner stays active. AfterStep
// makes the first user the owner once it exists.
func ExampleRefusal() {
	var mu sync.Mutex
	owner := ""
	isOwner := func(id string) bool { mu.Lock(); defer mu.Unlock(); return id == owner }
	hooks := scim.Hooks{BeforeUpdate: func(ctx context.Context, u *scim.Update) error {
		if u.Deactivated() && isOwner(u.Old.ID) {
			return &scim.Error{Status: http.StatusConflict, Detail: "the only owner cannot be deactivated"}
		}
		return nil
	}}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, _ := scim.New(memstore.New(), scim.NewBearerTokens(scim.Token{Secret: "s3cret"}), scim.WithHooks(hooks), scim.WithLogger(quiet))

	r, _ := idptest.Run(context.Background(), idptest.CycleEntra, h, idptest.Options{
		Token:    "s3cret",
		Refusals: []idptest.Refusal{{Action: idptest.Deactivate, User: 0, Status: http.StatusConflict, Detail: "only owner"}},
		AfterStep: func(ctx context.Context, s *idptest.Step) error {
			if s.Action == idptest.Create && s.Number == 2 {
				mu.Lock()
				owner = s.Users[0].ID
				mu.Unlock()
			}
			return nil
		},
	})
	for _, s := range r.Steps {
		if len(s.Refused) > 0 {
			fmt.Printf("%s: %s, %d refused as declared\n", s.Name, s.Status, len(s.Refused))
		}
	}
	fmt.Println("error:", r.Err())
	// Output:
	// Disable users: passed, 1 refused as declared
	// Soft delete users: passed, 1 refused as declared
	// error: <nil>
}
