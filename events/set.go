package events

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/scimkit/scim"
)

// The provisioning event URIs of RFC 9967 (§2.4.1–§2.4.6), spelt as its
// registry (§7.4) spells them: all lower case.
const (
	EventCreateNotice = "urn:ietf:params:scim:event:prov:create:notice"
	EventCreateFull   = "urn:ietf:params:scim:event:prov:create:full"
	EventPatchNotice  = "urn:ietf:params:scim:event:prov:patch:notice"
	EventPatchFull    = "urn:ietf:params:scim:event:prov:patch:full"
	EventPutNotice    = "urn:ietf:params:scim:event:prov:put:notice"
	EventPutFull      = "urn:ietf:params:scim:event:prov:put:full"
	EventDelete       = "urn:ietf:params:scim:event:prov:delete"
	EventActivate     = "urn:ietf:params:scim:event:prov:activate"
	EventDeactivate   = "urn:ietf:params:scim:event:prov:deactivate"
)

// ErrUnrenderable: a change the Publisher cannot render as a SET (a
// resource type it was not told the endpoint of, an unknown operation).
// It is a configuration error, not a passing one: a Pusher stops on it,
// and a PollHandler answers 500 until the configuration is fixed.
var ErrUnrenderable = errors.New("events: change cannot be rendered as a SET")

// Mode is what a receiver is told of a create, replace or patch: the
// names of the attributes that changed (Notice) or the resource (Full).
type Mode int

const (
	// Notice events (…:notice) carry "attributes", the names of the
	// attributes the write changed; a receiver that wants the values
	// reads the resource (RFC 9967's Co-ordinated Provisioning, Appendix
	// A.2). The default.
	Notice Mode = iota
	// Full events (…:full) carry "data", the resource as the store holds
	// it when the SET is rendered (RFC 9967's Domain Based Replication,
	// Appendix A.1). See Publisher for what that means.
	Full
)

// String returns "notice" or "full", the event URIs' qualifier.
func (m Mode) String() string {
	if m == Full {
		return "full"
	}
	return "notice"
}

// Publisher renders the changes of a store's feed as the Security Event
// Tokens of RFC 9967 for one receiver (RFC 9967 calls it the Event
// Publisher). Set Issuer and Audience; the other fields have defaults. A
// PollHandler or a Pusher delivers what it renders.
//
// # One SET per change
//
// Each change becomes one SET: its "sub_id" (RFC 9493 format "scim",
// RFC 9967 §2.1) names the resource by "uri" (the endpoint and id,
// relative to the service's base URL) and "externalId"; "txn" is the
// change's transaction (one per request, "txn:index" per /Bulk
// operation, as the handler records it); "events" holds one event per
// thing that happened: prov:create, prov:put (a PUT), prov:patch (a
// PATCH, and the removal of a deleted member from a Group) or
// prov:delete, and besides it prov:activate or prov:deactivate when the
// write flipped "active". RFC 9967 §2.1 gives several event URIs in one
// SET exactly this meaning, "the events arise from the same transaction
// or resource state change for a single resource", and RFC 8417 §2.2
// allows it for one logical event; a second SET would give the receiver
// two jti values to acknowledge for one write, and two orders to reconcile.
// A create does not carry prov:activate: the created resource's "active"
// is in its attributes or data.
//
// # Identifiers, and re-delivery
//
// "jti" is derived from the issuer, the audience, the change's tenant and
// position, and its operation (see JTI): a SET delivered again — after a
// lost acknowledgement, a retried push, a restart — carries the jti it
// had the first time, so a receiver drops repeats by jti, as RFC 8935 §2
// and RFC 8936 §2.4 expect it to. Give each receiver its own Audience: it
// is what makes their jti values differ (RFC 9967 §2.2: one jti per SET,
// one txn per transaction). "iat" is the time the store recorded the
// change, the moment the SET was, in effect, issued; it too stays the
// same on re-delivery.
//
// # Where RFC 9967's text and its examples disagree
//
//   - "version" (§2.2) is an ETag, "the Etag version of the resource ...
//     [that] corresponds to the Etag response header", while the figures
//     of §2.4 show a bare token ("a330bc54f0671c9") and those of §2.5 an
//     ETag (W/"huJj29dMNgu3WXPD"). We send the ETag, W/"…", exactly as
//     the ETag header and meta.version carry it, so that a receiver can
//     compare it with what a GET returns and send it in If-Match. It goes
//     in the payload of the create, put or patch event, where every
//     figure puts it (§2.2 does not say).
//   - "data" of prov:patch:full and prov:put:full: §2.4 says it holds "the
//     final representation of the resource (such as would be returned in
//     a SCIM protocol response)", where §2.4.3 and Figures 6 and 8 show
//     the PUT body and the PATCH request. We follow §2.4, for every event
//     alike: the feed records what a write did, not the request, and a
//     replica applies a representation without replaying SCIM operations.
//   - "aud" is a string in Figure 1 and an array in all the others: we
//     always send an array, which RFC 7519 §4.1.3 allows too.
//   - Figure 5 lists "id" among a create's attributes: a create notice
//     lists "id" and the attributes the resource was created with.
//
// # Full mode
//
// The feed keeps what a write did, not a snapshot of the resource: "data"
// is read from Store when the SET is rendered, for delivery. When the
// resource's version is still the change's, data is the resource as it
// was after that write: the schemas, id, attributes a GET returns by
// default (never "password", nor any attribute whose schema says
// returned "never" or "request"), and meta (with location when BaseURL
// is set). When the resource has changed again since, or is gone, that
// state no longer exists anywhere, and the SET says so honestly: it is a
// notice (…:notice, with "attributes") rather than a full event with
// data of another version. A replica loses nothing by it: the later
// change comes next, with its own SET. A SET delivered again after the
// resource changed may so go out once as full and once as notice, under
// one jti. Members' "$ref" values, which the handler makes absolute from
// each request's URL, are not in data.
//
// # Signing
//
// SETs are unsecured by default (Unsecured), for delivery over TLS
// between the service and the receiver; set Signer to JWS(…) to sign
// them with the host's key.
type Publisher struct {
	// Issuer is "iss": the service, typically its base URL, as the
	// receiver knows it. Required.
	Issuer string
	// Audience is "aud": the receiver, as it names itself (its push URL,
	// its client id, a feed URI).
	Audience []string
	// Mode is what create, put and patch events carry: Notice (the
	// default) or Full.
	Mode Mode
	// Store is where Full mode reads the resources; required for Full.
	Store scim.Store
	// ResourceTypes maps a change's resource type to the endpoint of its
	// sub_id uri, and tells Full mode the attributes to leave out. By
	// default scim.UserResourceType and scim.GroupResourceType: set it as
	// the handler's (scim.WithResourceTypes).
	ResourceTypes []scim.ResourceType
	// BaseURL, when set, makes meta.location of Full mode's data absolute
	// (BaseURL + endpoint + "/" + id), as the handler's WithBaseURL does.
	BaseURL string
	// Signer secures each SET; Unsecured() when nil.
	Signer Signer
}

// SET is a change rendered as a Security Event Token.
type SET struct {
	// Position and Tenant are the change's.
	Position, Tenant string
	// Claims are the token's claims.
	Claims Claims
	// Token is the SET as a compact JWT: what a receiver is sent.
	Token string
}

// Claims are the claims of a SCIM SET (RFC 8417 §2.2, RFC 9967 §2).
type Claims struct {
	// JTI is the SET's identifier, "jti": Publisher.JTI of the change.
	JTI string `json:"jti"`
	// Issuer is "iss", IssuedAt "iat" (in seconds since the epoch).
	Issuer   string `json:"iss"`
	IssuedAt int64  `json:"iat"`
	// Audience is "aud".
	Audience []string `json:"aud,omitempty"`
	// Txn is "txn": the transaction that made the change (Change.Txn),
	// or "change:" and the change's position for a write no handler
	// described (host code calling the store itself), which is a
	// transaction of its own.
	Txn string `json:"txn,omitempty"`
	// SubID is "sub_id", the resource the events are about.
	SubID SubjectID `json:"sub_id"`
	// Events maps each event URI to its payload: "version" (an ETag),
	// and "attributes" ([]string) or "data" (the resource, a
	// map[string]any) for create, put and patch events; empty for delete,
	// activate and deactivate.
	Events map[string]map[string]any `json:"events"`
}

// SubjectID is a SCIM subject identifier (RFC 9967 §2.1, RFC 9493).
type SubjectID struct {
	// Format is "scim".
	Format string `json:"format"`
	// URI is the resource's path relative to the service's base URL:
	// "/Users/2819c223…".
	URI string `json:"uri"`
	// ExternalID is the resource's externalId, when it has one.
	ExternalID string `json:"externalId,omitempty"`
}

// EventURIs returns the event URIs the Publisher may put in its SETs,
// for /ServiceProviderConfig's securityEvents.eventUris
// (scim.WithSecurityEvents). In Full mode the notice events are among
// them: a change whose resource has changed again since is sent as one.
func (p *Publisher) EventURIs() []string {
	uris := []string{EventCreateNotice, EventPutNotice, EventPatchNotice}
	if p.Mode == Full {
		uris = append([]string{EventCreateFull, EventPutFull, EventPatchFull}, uris...)
	}
	return append(uris, EventDelete, EventActivate, EventDeactivate)
}

// JTI returns the "jti" of the SET of change c: 32 hex digits of a
// SHA-256 digest of the issuer, the audience, the change's tenant,
// position and operation. The same change always gets the same jti from
// the same Publisher (so re-delivery is recognisable); two changes, or
// two receivers with different audiences, never share one.
func (p *Publisher) JTI(c scim.Change) string {
	h := sha256.New()
	for _, s := range append(append([]string{"scimkit SET v1", p.Issuer}, p.Audience...), "", c.Tenant, c.Position, string(c.Op)) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// check reports a Publisher that cannot render anything.
func (p *Publisher) check() error {
	switch {
	case p == nil:
		return errors.New("events: no Publisher")
	case p.Issuer == "":
		return errors.New("events: a Publisher needs an Issuer (the SETs' iss)")
	case p.Mode == Full && p.Store == nil:
		return errors.New("events: a Full mode Publisher needs the Store to read resources from")
	case p.Mode != Notice && p.Mode != Full:
		return fmt.Errorf("events: unknown Publisher mode %d", int(p.Mode))
	}
	return nil
}

// Render renders change c as a SET: its claims, and the token the
// Signer makes of them. A change the Publisher cannot render is
// ErrUnrenderable; in Full mode, an error reading the resource is
// returned as it is (a passing one, typically: try again).
func (p *Publisher) Render(ctx context.Context, c scim.Change) (SET, error) {
	if err := p.check(); err != nil {
		return SET{}, err
	}
	rt, err := p.resourceType(c.Type)
	if err != nil {
		return SET{}, err
	}
	iat := c.Time
	if iat.IsZero() {
		iat = time.Now()
	}
	claims := Claims{
		JTI:      p.JTI(c),
		Issuer:   p.Issuer,
		IssuedAt: iat.Unix(),
		Audience: slices.Clone(p.Audience),
		Txn:      c.Txn,
		SubID:    SubjectID{Format: "scim", URI: "/" + strings.Trim(rt.Endpoint, "/") + "/" + c.ID, ExternalID: c.ExternalID},
		Events:   map[string]map[string]any{},
	}
	if claims.Txn == "" { // a write no handler described: the change is its own transaction
		claims.Txn = "change:" + c.Position
	}
	switch c.Op {
	case scim.ChangeCreate, scim.ChangeReplace, scim.ChangePatch:
		uri, payload, err := p.provEvent(ctx, c, rt)
		if err != nil {
			return SET{}, err
		}
		claims.Events[uri] = payload
	case scim.ChangeDelete:
		claims.Events[EventDelete] = map[string]any{}
	default:
		return SET{}, fmt.Errorf("%w: change %s has the unknown operation %q", ErrUnrenderable, c.Position, c.Op)
	}
	if c.Activated {
		claims.Events[EventActivate] = map[string]any{}
	}
	if c.Deactivated {
		claims.Events[EventDeactivate] = map[string]any{}
	}
	body, err := json.Marshal(claims)
	if err != nil {
		return SET{}, fmt.Errorf("events: encoding the SET of change %s: %w", c.Position, err)
	}
	signer := p.Signer
	if signer == nil {
		signer = Unsecured()
	}
	token, err := signer.Sign(body)
	if err != nil {
		return SET{}, fmt.Errorf("events: the SET of change %s: %w", c.Position, err)
	}
	return SET{Position: c.Position, Tenant: c.Tenant, Claims: claims, Token: token}, nil
}

// provEvent returns the event URI and payload of a create, replace or
// patch.
func (p *Publisher) provEvent(ctx context.Context, c scim.Change, rt scim.ResourceType) (string, map[string]any, error) {
	var notice, full string
	switch c.Op {
	case scim.ChangeCreate:
		notice, full = EventCreateNotice, EventCreateFull
	case scim.ChangeReplace:
		notice, full = EventPutNotice, EventPutFull
	default:
		notice, full = EventPatchNotice, EventPatchFull
	}
	payload := map[string]any{}
	if c.Version != "" {
		payload["version"] = `W/"` + c.Version + `"`
	}
	if p.Mode == Full {
		res, err := p.Store.Get(withTenant(ctx, c.Tenant), c.Type, c.ID)
		switch {
		case err == nil && res.Meta.Version == c.Version:
			payload["data"] = representation(rt, res, p.BaseURL)
			return full, payload, nil
		case err != nil && !errors.Is(err, scim.ErrNotFound):
			return "", nil, fmt.Errorf("events: reading %s %s for the SET of change %s: %w", c.Type, c.ID, c.Position, err)
		}
		// Changed again, or gone: this change's state is nowhere to be
		// read, and a notice says what it did.
	}
	attrs := make([]string, 0, len(c.Attributes)+1)
	if c.Op == scim.ChangeCreate && !slices.Contains(c.Attributes, "id") {
		attrs = append(attrs, "id")
	}
	payload["attributes"] = append(attrs, c.Attributes...)
	return notice, payload, nil
}

// resourceType returns the resource type named name.
func (p *Publisher) resourceType(name string) (scim.ResourceType, error) {
	types := p.ResourceTypes
	if types == nil {
		types = []scim.ResourceType{scim.UserResourceType(), scim.GroupResourceType()}
	}
	for _, rt := range types {
		if strings.EqualFold(rt.Name, name) && strings.Trim(rt.Endpoint, "/") != "" {
			return rt, nil
		}
	}
	return scim.ResourceType{}, fmt.Errorf("%w: resource type %q has no endpoint in Publisher.ResourceTypes", ErrUnrenderable, name)
}

// withTenant returns ctx for reading the store as tenant: its principal,
// with tenant as its tenant.
func withTenant(ctx context.Context, tenant string) context.Context {
	p, ok := scim.PrincipalFrom(ctx)
	if ok && p.Tenant == tenant {
		return ctx
	}
	if !ok {
		p = scim.Principal{ID: "events"}
	}
	p.Tenant = tenant
	return scim.WithPrincipal(ctx, p)
}
