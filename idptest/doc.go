// Package idptest plays the provisioning cycles of Microsoft Entra ID and
// Okta against a SCIM service, so that a host application learns in
// go test, not forty minutes into a real tenant's cycle, whether those
// identity providers will provision it — with its own hooks, store,
// attribute mapping and refusals — without errors in their logs:
//
//	func TestProvisioning(t *testing.T) {
//		h := newYourSCIMHandler(t) // as you mount it, hooks and all
//		idptest.Entra(t, h, idptest.Options{Token: "s3cret"})
//		idptest.Okta(t, h, idptest.Options{Token: "s3cret"})
//	}
//
// The handler is called in process; with a nil handler the requests go
// over the network to Options.TenantURL (cmd/idpcheck does that against a
// deployed service). Run plays a cycle without a testing.TB and returns
// the report.
//
// # What a cycle is
//
// The identity providers' request sequences and shapes, as the scimkit
// project's replays of them know them: the same filters, PATCH shapes,
// batches and paging. The lifecycle steps play on the first three users
// (Options.Users); the rest are created, grouped, imported and, at the
// end, deleted by the kit's cleanup. Every write is read back, as the
// identity provider's next cycle would see it, and compared with what
// was sent, in the attributes the host maps (Options.Attributes): a
// service that answers 204 and keeps nothing fails where it drops the
// value.
//
// Microsoft Entra ID (with Options.AADOptSCIM062020, the shapes of the
// aadOptscim062020 flag: lowercase operations, JSON booleans, several
// attributes in one path-less replace, members removed by value filter;
// without it "Replace", "True"/"False", an operation per attribute and
// members removed by value list):
//
//  1. Test Connection: the matching attribute filtered by a random GUID,
//     and a group's displayName, must answer an empty ListResponse; a
//     wrong Secret Token must be refused with 401.
//  2. Initial cycle: users: for each user, the match (its matching
//     attribute, eq) finds nobody, then POST answers 201 with an id and
//     what was sent.
//  3. Initial cycle: groups: the match by displayName (members excluded)
//     finds nothing, then POST without members (with Entra ID's own
//     group schema beside the core one).
//  4. Initial cycle: group members: PATCH "add members" in batches (two
//     operations of 50 members a request), one member added again, the
//     membership check (id eq … and members eq …), the members read back.
//  5. A user the app already has (set up): the kit, as the application's
//     own admin, creates a user whose userName differs in case only.
//  6. Create a userName the app already has: Entra ID's create must be
//     409 with scimType uniqueness and a detail, the app's user
//     untouched; Entra ID's next match (any case) must find it, and it
//     adds what the app's user lacks and replaces what differs.
//  7. Update user attributes: a PATCH of every mapped attribute.
//  8. Change userName: the new one matches, the old one no longer does.
//  9. Set, change and remove the manager (when mapped): the manager check
//     (id eq … and manager eq …), "manager" without its URN and an array
//     value, the URN path and a plain id, removal by value filter.
//  10. Disable users: active "False" (false); the user stays, and the
//     match still finds it with active false.
//  11. Enable users: active "True" (true).
//  12. Provision on demand: a new user: match, then create with null for
//     the attributes its source leaves empty (title, phone).
//  13. Provision on demand: an assigned user: the match finds it, and
//     "add" sends what it lacked.
//  14. Rename groups: PATCH displayName; the new name matches; members
//     stay.
//  15. Remove group members: in batches, by value lists (or, flagged,
//     value filters); the membership check no longer finds them; removing
//     a member already gone changes nothing.
//  16. Soft delete users: active false again.
//  17. Delete users: DELETE answers 204, the user reads 404 and no longer
//     matches.
//  18. Delete groups: DELETE answers 204, the group reads 404.
//
// Okta:
//
//  1. Test API Credentials: /Users?startIndex=1&count=2 and
//     /Groups?startIndex=1&count=100 answer ListResponses with numbers for
//     numbers; a wrong API token is refused with 401.
//  2. A user the app already has (set up), as for Entra ID.
//  3. Import users: /Users 100 at a time until totalResults, each user
//     seen once, the app's user among them.
//  4. Push new users: the existence check (userName eq …,
//     startIndex=1&count=100) finds nobody, then POST with an empty
//     groups list and the password, never returned.
//  5. Link a userName the app already has: Okta's create must be 409
//     uniqueness with a detail; the existence check (any case) must find
//     the app's user, which gets Okta's profile by PUT.
//  6. Push profile updates: GET, the changed profile, PUT of it all
//     (echoing id, meta and groups) answering 200 with it.
//  7. Deactivate users: a path-less PATCH {"active": false}; the user
//     stays, found by the existence check with active false.
//  8. Reactivate users: {"active": true}.
//  9. Sync passwords: a path-less PATCH {"password": …}.
//  10. Deactivate users (PUT) and 11. Reactivate users (PUT), as App
//     Integration Wizard integrations do.
//  12. Push groups: POST with an empty member list.
//  13. Rename pushed groups: a path-less replace carrying the group's own
//     id and the new displayName.
//  14. Push group memberships: "add members" (value and display) 100 a
//     request, then the name Okta sends along, which changes nothing.
//  15. Update group memberships: one PATCH removing a member by value
//     filter and adding another, then a replace of all members.
//  16. Update pushed groups (PUT): the whole group with its members.
//  17. Import users and groups: both paged 100 at a time, each seen once.
//  18. Unassign users: deactivated (Okta never deletes users).
//  19. Unlink pushed groups (delete in the app): DELETE answers 204.
//
// Then, unless Options.Keep, the kit's cleanup deletes every group and
// user the run created that is still there, and whatever else a filter
// on the run's prefix (Options.Prefix, on userName and displayName)
// finds, even after a failure or an interruption.
//
// # Failures
//
// A request answered 503 or 429 is sent again, as the identity providers
// do, up to three times after what Retry-After says (at most 5 s); the
// report counts the retries. A cycle stops at the first failed step (the
// later ones are "not run")
// and reports it as the identity provider's log would show it: Entra ID's
// provisioning log action and status, with "StatusCode" and "Web
// Response" for a refusal; Okta's task error ("Error while deactivating
// user …"); then why, and every request and response involved, the token
// never shown. Entra and Okta report it to t and return the Report;
// Report.Failure is the *StepError.
//
// # Refusals, callbacks
//
// A host whose rules refuse some requests declares them
// (Options.Refusals): the kit then checks that each is a 4xx SCIM error
// with the Error schema and a detail the identity provider can show,
// matching what is declared, and that it changed nothing. Options.AfterStep
// is called after each step, with the users and groups it acted on, for
// the host to check its own state (the invite sent, the seat freed);
// its error fails the step.
//
// # Size
//
// Options.Users, Groups and GroupMembers size the cycle, and
// Options.Concurrency sends the per-user steps that many at a time. On
// one machine of two cores, 10,000 users and two groups of 5,000 members
// take 4 to 6 seconds a cycle on the memory store and about a minute on
// PostgreSQL, half of it the cleanup's deletes (on a busy machine, several
// minutes: the cleanup is not bounded unless the run is interrupted). Okta pushes a password
// with each user, which the library hashes with Argon2id at about 50 ms
// each: at that size, give the handler under test a cheaper
// scim.PasswordHasher, or leave Password out of Options.Attributes.
package idptest
