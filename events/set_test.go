package events_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/events"
	"github.com/scimkit/scim/memstore"
)

// directory is a SCIM handler over a store, so that tests write as an
// identity provider does and the feed records described changes (txn,
// attributes, activation).
type directory struct {
	t     *testing.T
	store scim.Store
	h     http.Handler
}

func newDirectory(t *testing.T, s scim.Store) *directory {
	t.Helper()
	tokens := scim.NewBearerTokens(
		scim.Token{Secret: "idp", Principal: scim.Principal{ID: "idp"}},
		scim.Token{Secret: "idp-acme", Principal: scim.Principal{ID: "idp", Tenant: "acme"}},
	)
	h, err := scim.New(s, tokens, scim.WithLogger(quiet))
	require.NoError(t, err)
	return &directory{t: t, store: s, h: h}
}

// do sends a SCIM request with token, and returns the status and body.
func (d *directory) as(token, method, path, body string) (int, map[string]any) {
	d.t.Helper()
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, "/scim/v2"+path, nil)
	} else {
		r = httptest.NewRequest(method, "/scim/v2"+path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/scim+json")
	}
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	d.h.ServeHTTP(w, r)
	var out map[string]any
	if w.Body.Len() > 0 {
		require.NoError(d.t, json.Unmarshal(w.Body.Bytes(), &out), w.Body.String())
	}
	return w.Code, out
}

func (d *directory) do(method, path, body string) (int, map[string]any) {
	d.t.Helper()
	return d.as("idp", method, path, body)
}

// user creates a User and returns its id.
func (d *directory) user(userName string, extra string) string {
	d.t.Helper()
	status, body := d.do(http.MethodPost, "/Users",
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+userName+`"`+extra+`}`)
	require.Equal(d.t, http.StatusCreated, status, body)
	return body["id"].(string)
}

// changes returns the feed's changes (all tenants).
func (d *directory) changes() []scim.Change {
	d.t.Helper()
	cs, err := d.store.(scim.ChangeFeed).Changes(context.Background(), scim.ChangeQuery{AllTenants: true, Limit: 10_000})
	require.NoError(d.t, err)
	return cs
}

// last returns the feed's newest change.
func (d *directory) last() scim.Change {
	d.t.Helper()
	cs := d.changes()
	require.NotEmpty(d.t, cs)
	return cs[len(cs)-1]
}

// decode returns the header and the claims of a compact JWT, unverified.
func decode(t *testing.T, token string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3, token)
	for i, into := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, into), string(raw))
	}
	return header, claims
}

const userSchema = "urn:ietf:params:scim:schemas:core:2.0:User"

// TestSETRendering renders each kind of change as RFC 9967 shows it (its
// Figures 4–11): the header of an unsecured SET, iss, aud, iat, jti,
// txn, sub_id {format, uri, externalId}, and the events with their
// payloads, notice and full.
func TestSETRendering(t *testing.T) {
	type setup struct {
		d  *directory
		id string // the resource the last change is about
	}
	etag := func(v string) string { return `W/"` + v + `"` }
	tests := []struct {
		name  string
		mode  events.Mode
		write func(d *directory) string
		// want returns the expected "events" claim, given the change and
		// the resource as the store holds it now.
		want func(t *testing.T, c scim.Change, ev map[string]any)
	}{
		{"create notice (Figure 5)", events.Notice,
			func(d *directory) string {
				return d.user("bjensen", `,"externalId":"bjensen-ext","name":{"givenName":"Barbara"},"password":"t1meMachine"`)
			},
			func(t *testing.T, c scim.Change, ev map[string]any) {
				assert.Equal(t, map[string]any{events.EventCreateNotice: map[string]any{
					"version":    etag(c.Version),
					"attributes": []any{"id", "externalId", "name", "password", "userName"},
				}}, ev)
			}},
		{"create full (Figure 4)", events.Full,
			func(d *directory) string {
				return d.user("bjensen", `,"externalId":"bjensen-ext","name":{"givenName":"Barbara"},"password":"t1meMachine"`)
			},
			func(t *testing.T, c scim.Change, ev map[string]any) {
				require.Contains(t, ev, events.EventCreateFull)
				require.Len(t, ev, 1)
				p := ev[events.EventCreateFull].(map[string]any)
				assert.Equal(t, etag(c.Version), p["version"])
				assert.NotContains(t, p, "attributes", "exactly one of data and attributes (RFC 9967 §2.4)")
				data := p["data"].(map[string]any)
				assert.Equal(t, []any{userSchema}, data["schemas"])
				assert.Equal(t, c.ID, data["id"])
				assert.Equal(t, "bjensen", data["userName"])
				assert.Equal(t, "bjensen-ext", data["externalId"])
				assert.Equal(t, map[string]any{"givenName": "Barbara"}, data["name"])
				assert.NotContains(t, data, "password", "returned never")
				meta := data["meta"].(map[string]any)
				assert.Equal(t, "User", meta["resourceType"])
				assert.Equal(t, etag(c.Version), meta["version"])
				assert.Equal(t, "https://app.example.com/scim/v2/Users/"+c.ID, meta["location"])
			}},
		{"put notice (Figure 9)", events.Notice,
			func(d *directory) string {
				id := d.user("jdoe", `,"externalId":"jdoe"`)
				status, body := d.do(http.MethodPut, "/Users/"+id,
					`{"schemas":["`+userSchema+`"],"userName":"jdoe","externalId":"jdoe","displayName":"Jon Doe"}`)
				require.Equal(t, http.StatusOK, status, body)
				return id
			},
			func(t *testing.T, c scim.Change, ev map[string]any) {
				assert.Equal(t, map[string]any{events.EventPutNotice: map[string]any{
					"version": etag(c.Version), "attributes": []any{"displayName"},
				}}, ev)
			}},
		{"put full (Figure 8), the final representation", events.Full,
			func(d *directory) string {
				id := d.user("jdoe", "")
				status, body := d.do(http.MethodPut, "/Users/"+id,
					`{"schemas":["`+userSchema+`"],"userName":"jdoe","displayName":"Jon Doe"}`)
				require.Equal(t, http.StatusOK, status, body)
				return id
			},
			func(t *testing.T, c scim.Change, ev map[string]any) {
				p := ev[events.EventPutFull].(map[string]any)
				require.NotNil(t, p, ev)
				assert.Equal(t, etag(c.Version), p["version"])
				data := p["data"].(map[string]any)
				assert.Equal(t, "Jon Doe", data["displayName"])
				assert.Equal(t, "jdoe", data["userName"])
			}},
		{"patch notice (Figure 7) with deactivate", events.Notice,
			func(d *directory) string {
				id := d.user("jdoe", `,"active":true`)
				status, body := d.do(http.MethodPatch, "/Users/"+id,
					`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`)
				require.Equal(t, http.StatusNoContent, status, body)
				return id
			},
			func(t *testing.T, c scim.Change, ev map[string]any) {
				assert.Equal(t, map[string]any{
					events.EventPatchNotice: map[string]any{"version": etag(c.Version), "attributes": []any{"active"}},
					events.EventDeactivate:  map[string]any{},
				}, ev, "one SET: the events of one state change of one resource (RFC 9967 §2.1)")
			}},
		{"patch full with activate", events.Full,
			func(d *directory) string {
				id := d.user("jdoe", `,"active":false`)
				status, body := d.do(http.MethodPatch, "/Users/"+id,
					`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":true}]}`)
				require.Equal(t, http.StatusNoContent, status, body)
				return id
			},
			func(t *testing.T, c scim.Change, ev map[string]any) {
				require.Len(t, ev, 2, ev)
				assert.Equal(t, map[string]any{}, ev[events.EventActivate])
				data := ev[events.EventPatchFull].(map[string]any)["data"].(map[string]any)
				assert.Equal(t, true, data["active"])
			}},
		{"delete (Figure 10)", events.Full,
			func(d *directory) string {
				id := d.user("jdoe", `,"externalId":"jDoe"`)
				status, body := d.do(http.MethodDelete, "/Users/"+id, "")
				require.Equal(t, http.StatusNoContent, status, body)
				return id
			},
			func(t *testing.T, c scim.Change, ev map[string]any) {
				assert.Equal(t, map[string]any{events.EventDelete: map[string]any{}}, ev, "no payload, no full or notice")
			}},
		{"a deleted member leaves its Group: a patch of the Group's members", events.Notice,
			func(d *directory) string {
				member := d.user("babs", "")
				status, body := d.do(http.MethodPost, "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
					"displayName":"crmUsers","externalId":"crmUsers","members":[{"value":"`+member+`"}]}`)
				require.Equal(t, http.StatusCreated, status, body)
				status, _ = d.do(http.MethodDelete, "/Users/"+member, "")
				require.Equal(t, http.StatusNoContent, status)
				for _, c := range d.changes() {
					if c.Cascade {
						return c.ID
					}
				}
				t.Fatal("no cascade change")
				return ""
			},
			func(t *testing.T, c scim.Change, ev map[string]any) {
				assert.Equal(t, map[string]any{events.EventPatchNotice: map[string]any{
					"version": etag(c.Version), "attributes": []any{"members"},
				}}, ev)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDirectory(t, memstore.New())
			id := tt.write(d)
			var c scim.Change
			for _, ch := range d.changes() {
				if ch.ID == id {
					c = ch // the resource's last change
				}
			}
			require.NotEmpty(t, c.Position)
			p := &events.Publisher{Issuer: "https://app.example.com/scim/v2", Audience: []string{"https://receiver.example.com/Feeds/98d5"},
				Mode: tt.mode, Store: d.store, BaseURL: "https://app.example.com/scim/v2"}
			set, err := p.Render(context.Background(), c)
			require.NoError(t, err)
			header, claims := decode(t, set.Token)
			assert.Equal(t, map[string]any{"alg": "none", "typ": "secevent+jwt"}, header)
			assert.Equal(t, "https://app.example.com/scim/v2", claims["iss"])
			assert.Equal(t, []any{"https://receiver.example.com/Feeds/98d5"}, claims["aud"])
			assert.Equal(t, float64(c.Time.Unix()), claims["iat"])
			assert.Equal(t, p.JTI(c), claims["jti"])
			assert.Regexp(t, `^[0-9a-f]{32}$`, claims["jti"])
			assert.NotEmpty(t, c.Txn)
			assert.Equal(t, c.Txn, claims["txn"], "the transaction of the request that wrote")
			assert.NotContains(t, claims, "sub", "RFC 9967 §2.1: sub MUST NOT be used")
			endpoint := map[string]string{"User": "/Users/", "Group": "/Groups/"}[c.Type]
			sub := map[string]any{"format": "scim", "uri": endpoint + c.ID}
			if c.ExternalID != "" {
				sub["externalId"] = c.ExternalID
			}
			assert.Equal(t, sub, claims["sub_id"])
			ev, _ := claims["events"].(map[string]any)
			tt.want(t, c, ev)
			assert.Equal(t, set.Claims.JTI, claims["jti"])
			assert.Equal(t, c.Position, set.Position)
		})
	}
}

// TestSETFullFallsBackToNotice: Full mode reads the resource when it
// renders; when the resource changed again since the change, or is
// gone, the change's state is nowhere, and the SET is a notice.
func TestSETFullFallsBackToNotice(t *testing.T) {
	d := newDirectory(t, memstore.New())
	id := d.user("jdoe", "")
	created := d.last()
	status, _ := d.do(http.MethodPatch, "/Users/"+id,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"J"}]}`)
	require.Equal(t, http.StatusNoContent, status)
	patched := d.last()
	p := &events.Publisher{Issuer: "iss", Mode: events.Full, Store: d.store}

	set, err := p.Render(context.Background(), created)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"version": `W/"` + created.Version + `"`, "attributes": []string{"id", "userName"}},
		set.Claims.Events[events.EventCreateNotice], "changed since: a notice")

	set, err = p.Render(context.Background(), patched)
	require.NoError(t, err)
	assert.Contains(t, set.Claims.Events, events.EventPatchFull, "still the resource's version: full")

	status, _ = d.do(http.MethodDelete, "/Users/"+id, "")
	require.Equal(t, http.StatusNoContent, status)
	set, err = p.Render(context.Background(), patched)
	require.NoError(t, err)
	assert.Contains(t, set.Claims.Events, events.EventPatchNotice, "gone: a notice")
}

// TestSETIdentifiers: a change rendered again is the same SET (jti, iat,
// token); another change or another receiver's audience gets another jti.
func TestSETIdentifiers(t *testing.T) {
	d := newDirectory(t, memstore.New())
	d.user("a", "")
	d.user("b", "")
	cs := d.changes()
	p := &events.Publisher{Issuer: "https://app.example.com", Audience: []string{"siem"}}
	first, err := p.Render(context.Background(), cs[0])
	require.NoError(t, err)
	again, err := p.Render(context.Background(), cs[0])
	require.NoError(t, err)
	assert.Equal(t, first, again, "re-delivery carries the same SET")
	other, err := p.Render(context.Background(), cs[1])
	require.NoError(t, err)
	assert.NotEqual(t, first.Claims.JTI, other.Claims.JTI)
	assert.NotEqual(t, first.Claims.Txn, other.Claims.Txn, "one transaction per request")
	q := &events.Publisher{Issuer: "https://app.example.com", Audience: []string{"mirror"}}
	assert.NotEqual(t, p.JTI(cs[0]), q.JTI(cs[0]), "each receiver its own jti")

	// A write no handler described is its own transaction.
	bare := cs[0]
	bare.Txn = ""
	set, err := p.Render(context.Background(), bare)
	require.NoError(t, err)
	assert.Equal(t, "change:"+bare.Position, set.Claims.Txn)
}

// TestSETErrors: what a Publisher cannot render is ErrUnrenderable, and
// a Publisher without what it needs says so.
func TestSETErrors(t *testing.T) {
	c := scim.Change{Position: scim.FormatPosition(1), Type: "Device", ID: "d1", Op: scim.ChangeCreate, Time: time.Now()}
	_, err := (&events.Publisher{Issuer: "iss"}).Render(context.Background(), c)
	assert.ErrorIs(t, err, events.ErrUnrenderable, "a type without an endpoint")
	c.Type, c.Op = "User", "rename"
	_, err = (&events.Publisher{Issuer: "iss"}).Render(context.Background(), c)
	assert.ErrorIs(t, err, events.ErrUnrenderable, "an unknown operation")
	_, err = (&events.Publisher{}).Render(context.Background(), c)
	assert.ErrorContains(t, err, "Issuer")
	_, err = (&events.Publisher{Issuer: "iss", Mode: events.Full}).Render(context.Background(), c)
	assert.ErrorContains(t, err, "Store")
}

// TestEventURIs: the URIs a Publisher advertises are those it emits, as
// RFC 9967 §7.4 registers them.
func TestEventURIs(t *testing.T) {
	notice := []string{
		"urn:ietf:params:scim:event:prov:create:notice", "urn:ietf:params:scim:event:prov:put:notice",
		"urn:ietf:params:scim:event:prov:patch:notice", "urn:ietf:params:scim:event:prov:delete",
		"urn:ietf:params:scim:event:prov:activate", "urn:ietf:params:scim:event:prov:deactivate",
	}
	assert.Equal(t, notice, (&events.Publisher{}).EventURIs())
	full := (&events.Publisher{Mode: events.Full}).EventURIs()
	assert.Subset(t, full, notice, "a full publisher falls back to notices")
	assert.Subset(t, full, []string{"urn:ietf:params:scim:event:prov:create:full",
		"urn:ietf:params:scim:event:prov:put:full", "urn:ietf:params:scim:event:prov:patch:full"})
}
