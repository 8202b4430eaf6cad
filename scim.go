// Package scim turns a Go program into a SCIM 2.0 service provider
// (RFC 7643, RFC 7644).
//
// New builds one http.Handler from a Store, which keeps the data, and an
// Authenticator, which decides who is calling and which tenant they write
// to. The handler owns the protocol: routing, schema validation,
// mutability, filtering, sorting, paging, projection, ETags and SCIM error
// bodies. Mount it under any path:
//
//	h, err := scim.New(memstore.New(), scim.NewBearerTokens(scim.Token{Secret: secret}))
//	mux.Handle("/scim/v2/", h)
package scim

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Handler serves the SCIM protocol over a Store. Create it with New; it is
// safe for concurrent use and shares nothing with other Handlers.
type Handler struct {
	store      Store
	recorded   bool // the store keeps a change feed: its writes are described (describe)
	auth       Authenticator
	types      []*resourceType
	baseURL    string
	logger     *slog.Logger
	maxResults int
	limits     Limits
	strict     bool
	now        func() time.Time

	patchResponse bool
	hooks         Hooks
	passwords     PasswordHasher
	dropPasswords bool
	bulkMaxOps    int
	bulkMaxBytes  int64
	noPagination  bool     // RFC 9865's "pagination" left out of /ServiceProviderConfig
	eventURIs     []string // RFC 9967's "securityEvents" advertised when not nil

	resourceTypes []ResourceType
	uniqueGroup   bool

	buffers  buffers                   // response bodies, reused
	basePath string                    // the path of baseURL, with a trailing slash
	lastBase atomic.Pointer[baseCache] // the root URL of the latest request without baseURL
}

// baseCache is the root URL derived for one scheme, host and mount prefix:
// most handlers see one, so it is built once, not per request.
type baseCache struct {
	tls    bool
	host   string
	prefix []string
	url    string
}

// Option configures a Handler.
type Option func(*Handler)

// WithBaseURL sets the absolute URL of the handler's root, used in
// meta.location, Location headers and $ref values, for example
// "https://app.example.com/scim/v2". Without it the URL is derived from
// each request's Host and the path the handler is mounted under, which is
// right unless a proxy rewrites them. New fails on a URL that does not
// parse.
func WithBaseURL(u string) Option {
	return func(h *Handler) { h.baseURL = strings.TrimRight(u, "/") }
}

// WithLogger sets the logger for errors and recovered panics; the default
// is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(h *Handler) { h.logger = l }
}

// WithMaxResults sets the largest page a list or search returns (default
// 1000), advertised as filter.maxResults; a larger count is clamped.
func WithMaxResults(n int) Option {
	return func(h *Handler) { h.maxResults = n }
}

// WithoutPaginationDiscovery leaves RFC 9865's "pagination" object out of
// /ServiceProviderConfig; cursor paging (cursor, count, nextCursor) is still
// answered, and index paging is unchanged. RFC 7643 §5 does not define the
// attribute, and clients whose models refuse attributes they do not know —
// the Python scim2-models, and so every tool built on scim2-client — fail
// to read a ServiceProviderConfig that carries it, and with it the whole
// service. By default the object is advertised, as RFC 9865 §4 asks; use
// this option when such clients must discover the service.
func WithoutPaginationDiscovery() Option {
	return func(h *Handler) { h.noPagination = true }
}

// WithSecurityEvents makes /ServiceProviderConfig advertise RFC 9967's
// "securityEvents" (§4): the SET event URIs the host delivers to
// receivers ("eventUris", typically events.Publisher.EventURIs, and the
// union of them for several receivers), and "asyncRequest": "none", since
// the handler answers every request synchronously (it never honours
// Prefer: respond-async). Without this option the attribute is absent,
// which RFC 9967 §4 reads as "does not support or is not currently
// configured for Security Events": use it only when the host really
// serves SETs (an events.PollHandler mounted, or an events.Pusher
// running). Where receivers poll, and how streams are configured, is out
// of the attribute's scope (RFC 9967 §4), so it does not say. A URI
// given twice is listed once; no URI at all advertises nothing.
func WithSecurityEvents(eventURIs ...string) Option {
	return func(h *Handler) {
		h.eventURIs = nil
		for _, u := range eventURIs {
			if !slices.Contains(h.eventURIs, u) {
				h.eventURIs = append(h.eventURIs, u)
			}
		}
	}
}

// WithPatchResponse makes PATCH answer 200 with the resource instead of
// 204 No Content, whether or not the client asked for attributes.
func WithPatchResponse() Option {
	return func(h *Handler) { h.patchResponse = true }
}

// WithStrict rejects what identity providers send beyond RFC 7643/7644
// (string booleans, bare values, unknown attributes, missing schemas, …)
// instead of accepting it. Use it for conformance testing.
func WithStrict() Option {
	return func(h *Handler) { h.strict = true }
}

// WithResourceTypes replaces the served resource types (by default
// UserResourceType and GroupResourceType, in that order).
func WithResourceTypes(types ...ResourceType) Option {
	return func(h *Handler) { h.resourceTypes = types }
}

// WithUniqueGroupDisplayName makes Group displayName unique per tenant,
// case-insensitively, as userName is.
func WithUniqueGroupDisplayName() Option {
	return func(h *Handler) { h.uniqueGroup = true }
}

// WithClock sets the source of meta.created and meta.lastModified times;
// tests use it for reproducible output.
func WithClock(now func() time.Time) Option {
	return func(h *Handler) { h.now = now }
}

// New returns a Handler serving store, with callers authenticated by auth.
func New(store Store, auth Authenticator, opts ...Option) (*Handler, error) {
	if store == nil || auth == nil {
		return nil, errors.New("scim: New needs a Store and an Authenticator")
	}
	_, recorded := store.(ChangeFeed)
	h := &Handler{
		store:         store,
		recorded:      recorded,
		auth:          auth,
		logger:        slog.Default(),
		maxResults:    1000,
		limits:        DefaultLimits(),
		now:           time.Now,
		resourceTypes: []ResourceType{UserResourceType(), GroupResourceType()},
		passwords:     Argon2id{},
		bulkMaxOps:    1000,
		bulkMaxBytes:  1 << 20,
	}
	for _, o := range opts {
		o(h)
	}
	switch {
	case h.maxResults < 1 || h.bulkMaxOps < 0 || h.bulkMaxBytes < 1:
		return nil, errors.New("scim: max results and the bulk payload size must be positive, bulk operations not negative")
	case h.logger == nil || h.now == nil || h.passwords == nil:
		return nil, errors.New("scim: the logger, the clock and the password hasher must not be nil")
	}
	if err := h.limits.check(); err != nil {
		return nil, err
	}
	if h.baseURL != "" {
		u, err := url.Parse(h.baseURL)
		if err != nil {
			return nil, fmt.Errorf("scim: base URL: %w", err)
		}
		h.basePath = u.Path + "/"
	}
	names, endpoints := map[string]bool{}, map[string]bool{}
	for _, rt := range h.resourceTypes {
		var unique []string
		if h.uniqueGroup && rt.Name == "Group" {
			unique = append(unique, "displayName")
		}
		c, err := compileResourceType(rt, unique...)
		if err != nil {
			return nil, err
		}
		c.limits = h.limits
		name, endpoint := strings.ToLower(rt.Name), strings.ToLower(strings.TrimPrefix(rt.Endpoint, "/"))
		switch {
		case endpoint == "" || strings.Contains(endpoint, "/"):
			return nil, fmt.Errorf("scim: resource type %q: endpoint %q must be one path segment, like \"/Users\"", rt.Name, rt.Endpoint)
		case reservedEndpoints[endpoint]:
			return nil, fmt.Errorf("scim: resource type %q: endpoint %q is one of SCIM's own", rt.Name, rt.Endpoint)
		case names[name] || endpoints[endpoint]:
			return nil, fmt.Errorf("scim: resource type %q or endpoint %q served twice", rt.Name, rt.Endpoint)
		}
		names[name], endpoints[endpoint] = true, true
		h.types = append(h.types, c)
	}
	byName := map[string]string{}
	for _, rt := range h.types {
		byName[strings.ToLower(rt.Name)] = rt.Endpoint
		rt.endpoints = byName
	}
	return h, nil
}

// reservedEndpoints are the SCIM endpoints no resource type may take.
var reservedEndpoints = map[string]bool{
	"serviceproviderconfig": true, "resourcetypes": true, "schemas": true, "bulk": true, ".search": true, "me": true,
}

// request is one routed request.
type request struct {
	w    http.ResponseWriter
	r    *http.Request
	base string // absolute URL of the handler's root

	q       url.Values // the query parameters, once parsed
	qParsed bool

	afterFailed []string // the after hooks whose error was logged, for the write's log line
}

// query returns the request's query parameters, parsed once.
func (req *request) query() url.Values {
	if !req.qParsed {
		req.q, req.qParsed = req.r.URL.Query(), true
	}
	return req.q
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := &requestContext{Context: r.Context(), id: requestID(r)}
	rc.idHeader[0] = rc.id
	w.Header()[RequestIDHeader] = rc.idHeader[:] // echoed
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rc.txn = newID()
	}
	r = r.WithContext(rc)
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.writeError(w, r, &Error{Status: http.StatusInternalServerError, Detail: "internal server error", Err: fmt.Errorf("panic: %v", v)})
		}
	}()
	p, err := h.auth.Authenticate(r)
	if errors.Is(err, ErrAuthUnavailable) || errors.Is(err, ErrUnavailable) {
		w.Header().Set("Retry-After", "5")
		h.writeError(w, r, &Error{Status: http.StatusServiceUnavailable, Detail: "authentication is unavailable; retry later", Err: err})
		return
	}
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scim"`)
		detail := "authentication required"
		if errors.Is(err, ErrTokenExpired) {
			detail = "token expired"
		}
		h.writeError(w, r, &Error{Status: http.StatusUnauthorized, Detail: detail, Err: err})
		return
	}
	rc.authenticate(p)
	query, err := checkRequestText(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	rt, rest, prefix := h.route(r)
	req := &request{w: w, r: r, base: h.base(r, prefix), q: query, qParsed: true}
	if !isWrite(r.Method, rest) {
		if err := h.dispatch(req, p, rt, rest); err != nil {
			h.writeError(w, r, err)
		}
		return
	}
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	req.w = sw
	if err := h.dispatch(req, p, rt, rest); err != nil {
		h.writeError(sw, r, err)
	}
	typ := strings.Join(rest[:min(len(rest), 1)], "")
	if rt != nil {
		typ = rt.Name
	}
	h.logWrite(r.Context(), r.Method, typ, writtenID(sw, rest), sw.status, time.Since(start), req.afterFailed)
}

// base returns the absolute URL of the handler's root for a request.
func (h *Handler) base(r *http.Request, prefix []string) string {
	if h.baseURL != "" {
		return h.baseURL
	}
	tls := r.TLS != nil
	if c := h.lastBase.Load(); c != nil && c.tls == tls && c.host == r.Host && slices.Equal(c.prefix, prefix) {
		return c.url
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	u := scheme + "://" + r.Host
	if p := strings.Join(prefix, "/"); p != "" {
		u += "/" + p
	}
	h.lastBase.Store(&baseCache{tls: tls, host: r.Host, prefix: slices.Clone(prefix), url: u})
	return u
}

func (h *Handler) dispatch(req *request, p Principal, rt *resourceType, segs []string) error {
	method := req.r.Method
	write := method != http.MethodGet && method != http.MethodHead
	if write && p.ReadOnly && !(isSearch(segs) && method == http.MethodPost) {
		return &Error{Status: http.StatusForbidden, Detail: "the token is read-only"}
	}
	if write && method != http.MethodDelete {
		if err := checkContentType(req.r); err != nil {
			return err
		}
	}
	if rt != nil {
		switch {
		case len(segs) == 1:
			return h.serveCollection(req, rt)
		case segs[1] == ".search":
			return allow(req, func(req *request) error { return h.serveSearch(req, rt) }, http.MethodPost)
		default:
			return h.serveResource(req, rt, segs[1])
		}
	}
	if len(segs) == 0 { // the service root (RFC 7644 §3.4.2.1): every type
		return allow(req, h.serveRootList, http.MethodGet)
	}
	switch strings.ToLower(segs[0]) {
	case ".search":
		return allow(req, func(req *request) error { return h.serveSearch(req, nil) }, http.MethodPost)
	case "serviceproviderconfig":
		if len(segs) == 1 {
			return allow(req, h.serveServiceProviderConfig, http.MethodGet)
		}
	case "resourcetypes":
		return allow(req, func(req *request) error { return h.serveResourceTypes(req, segs[1:]) }, http.MethodGet)
	case "schemas":
		return allow(req, func(req *request) error { return h.serveSchemas(req, segs[1:]) }, http.MethodGet)
	case "bulk":
		return allow(req, func(req *request) error { return h.serveBulk(req, p) }, http.MethodPost)
	case "me":
		return h.serveMe(req, p, segs)
	}
	return &Error{Status: http.StatusNotFound, Detail: "no such endpoint: " + req.r.URL.Path}
}

// serveMe serves /Me as /Users/{id} for the User the caller is (RFC 7644
// §3.11), when the Authenticator says which one.
func (h *Handler) serveMe(req *request, p Principal, segs []string) error {
	var users *resourceType
	for _, rt := range h.types {
		if rt.Name == "User" {
			users = rt
		}
	}
	switch {
	case len(segs) > 1:
		return &Error{Status: http.StatusNotFound, Detail: "no such endpoint: " + req.r.URL.Path}
	case p.UserID == "" || users == nil:
		return &Error{Status: http.StatusNotImplemented, Detail: "/Me needs an authenticator that maps the caller to a User (Principal.UserID); this caller is not mapped"}
	case req.r.Method == http.MethodPost:
		return &Error{Status: http.StatusNotImplemented, Detail: "self-registration through POST /Me is not supported"}
	}
	return h.serveResource(req, users, p.UserID)
}

func isSearch(segs []string) bool { return len(segs) > 0 && segs[len(segs)-1] == ".search" }

// allow runs serve if the request's method is the allowed one, else answers 405.
func allow(req *request, serve func(*request) error, method string) error {
	if req.r.Method != method && !(method == http.MethodGet && req.r.Method == http.MethodHead) {
		req.w.Header().Set("Allow", method)
		return &Error{Status: http.StatusMethodNotAllowed, Detail: "method " + req.r.Method + " is not allowed here"}
	}
	return serve(req)
}

func checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if cs, ok := params["charset"]; err == nil && ok && !strings.EqualFold(cs, "utf-8") {
		// RFC 8259 §8.1: JSON exchanged between systems is UTF-8.
		return &Error{Status: http.StatusUnsupportedMediaType, Detail: "the only charset accepted is utf-8"}
	}
	switch mt {
	case "application/scim+json", "application/json":
		return nil
	}
	return &Error{Status: http.StatusUnsupportedMediaType, Detail: "content type must be application/scim+json or application/json"}
}

func (h *Handler) serveCollection(req *request, rt *resourceType) error {
	switch req.r.Method {
	case http.MethodGet, http.MethodHead:
		return h.serveList(req, rt)
	case http.MethodPost:
		return h.create(req, rt)
	}
	req.w.Header().Set("Allow", "GET, POST")
	return &Error{Status: http.StatusMethodNotAllowed, Detail: "method " + req.r.Method + " is not allowed on " + rt.Endpoint}
}

func (h *Handler) serveResource(req *request, rt *resourceType, id string) error {
	switch req.r.Method {
	case http.MethodGet, http.MethodHead:
		return h.get(req, rt, id)
	case http.MethodPut:
		return h.replace(req, rt, id)
	case http.MethodPatch:
		return h.patch(req, rt, id)
	case http.MethodDelete:
		return h.delete(req, rt, id)
	}
	req.w.Header().Set("Allow", "GET, PUT, PATCH, DELETE")
	return &Error{Status: http.StatusMethodNotAllowed, Detail: "method " + req.r.Method + " is not allowed on a " + rt.Name}
}

// newID returns a random UUID (version 4).
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	hex.Encode(s[9:13], b[4:6])
	hex.Encode(s[14:18], b[6:8])
	hex.Encode(s[19:23], b[8:10])
	hex.Encode(s[24:], b[10:])
	s[8], s[13], s[18], s[23] = '-', '-', '-', '-'
	return string(s[:])
}
