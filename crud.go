package scim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// maxBackoff caps the wait between two attempts of a contended write.
const maxBackoff = 20 * time.Millisecond

// backoff waits before attempt n+1 of a write that lost its
// compare-and-swap: a random time up to n times the last attempt's
// duration, so that writers colliding on one resource spread out instead of
// colliding again. It returns the context's error if that ends first.
func backoff(ctx context.Context, n int, took time.Duration) error {
	d := min(time.Duration(n)*max(took, 10*time.Microsecond), maxBackoff)
	t := time.NewTimer(rand.N(d) + 1)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (h *Handler) create(req *request, rt *resourceType) error {
	body, err := readObject(req.r, h.limits)
	if err != nil {
		return err
	}
	dec := h.decoder(rt)
	dec.owned = true // the body is read once, here
	attrs, err := dec.resource(body)
	if err != nil {
		return err
	}
	if err := h.securePassword(rt, attrs); err != nil {
		return err
	}
	ctx := req.r.Context()
	now := h.now().UTC()
	res := &Resource{
		Type:       rt.Name,
		ID:         newID(),
		Attributes: attrs,
		Meta:       Meta{Created: now, LastModified: now},
	}
	if h.hooks.BeforeCreate != nil {
		if err := h.hooks.BeforeCreate(ctx, res); err != nil {
			return err
		}
	}
	res.Unique = rt.uniqueKeys(res.Attributes)
	added, _ := memberDiff(rt, nil, res.Attributes)
	members := &Membership{Group: res.ID, DisplayName: displayNameOf(res.Attributes), Added: added}
	if err := h.beforeMembers(ctx, members); err != nil {
		return err
	}
	stored, err := h.store.Create(h.describe(ctx, func() Change {
		return Change{Op: ChangeCreate, Attributes: attributeNames(res.Attributes), Added: added}
	}), res)
	if err != nil {
		return err
	}
	if h.hooks.AfterCreate != nil {
		h.runAfter(req, "AfterCreate", rt.Name, stored.ID, func(ctx context.Context) error { return h.hooks.AfterCreate(ctx, stored.Clone()) })
	}
	members.DisplayName = displayNameOf(stored.Attributes)
	h.afterMembers(req, rt.Name, members)
	req.w.Header().Set("Location", req.base+rt.Endpoint+"/"+stored.ID)
	return h.writeResource(req, rt, stored, http.StatusCreated)
}

// get is GET of one resource. A Viewer store lends it for the time it
// takes to encode; the answer is sent after, so that a slow client never
// holds the store. With attributes or excludedAttributes the resource is
// asked for by a query on its id, which carries them as hints, so that a
// store need not read what the client left out (a large group's members).
func (h *Handler) get(req *request, rt *resourceType, id string) error {
	p, err := h.projectionOf(req, rt)
	if err != nil {
		return err
	}
	ctx := req.r.Context()
	a := &getAnswer{rt: rt, id: id, base: req.base, p: p, inm: req.r.Header.Get("If-None-Match"), body: h.buffers.get()}
	if _, ok := h.store.(Viewer); !ok && p.paths == nil && p.exPaths == nil {
		res, err := h.store.Get(ctx, rt.Name, id)
		if err != nil {
			return err
		}
		a.show(res)
	} else {
		a.filter = CompareExpr{Path: AttrPath{Name: "id", Type: TypeString, CaseExact: true}, Op: OpEqual, Value: id}
		q := Query{Filter: &a.filter, StartIndex: 1, Count: 1, Attributes: p.paths, ExcludedAttributes: p.exPaths}
		if err := h.view(ctx, rt.Name, q, a.showPage); err != nil {
			return err
		}
	}
	if a.notModified {
		req.w.Header().Set("ETag", etag(a.version))
		req.w.WriteHeader(http.StatusNotModified)
		return nil
	}
	sendResource(req.w, http.StatusOK, a.version, a.body.b, a.err)
	h.buffers.put(a.body)
	return nil
}

// getAnswer is the answer to a GET of one resource, made while the store
// lends it.
type getAnswer struct {
	rt     *resourceType
	id     string
	base   string
	p      projection
	inm    string      // If-None-Match
	filter CompareExpr // id eq the id: how a Viewer is asked for it

	version     string
	notModified bool
	body        *buffer
	err         error // from encoding
}

// showPage shows the one resource of page, which a query by id returned.
func (a *getAnswer) showPage(page *Page) error {
	if len(page.Resources) == 0 {
		return fmt.Errorf("scim: %s %q: %w", a.rt.Name, a.id, ErrNotFound)
	}
	a.show(page.Resources[0])
	return nil
}

func (a *getAnswer) show(res *Resource) {
	a.version = res.Meta.Version
	if a.inm != "" && etagMatches(a.inm, a.version) {
		a.notModified = true
		return
	}
	a.body.b, a.err = a.rt.appendResource(a.body.b, res, a.base, a.p)
}

// view calls fn with the page of q: lent by a Viewer store, else queried.
func (h *Handler) view(ctx context.Context, resourceType string, q Query, fn func(*Page) error) error {
	if v, ok := h.store.(Viewer); ok {
		return v.View(ctx, resourceType, q, fn)
	}
	page, err := h.store.Query(ctx, resourceType, q)
	if err != nil {
		return err
	}
	return fn(page)
}

// replace is PUT (RFC 7644 §3.5.1).
func (h *Handler) replace(req *request, rt *resourceType, id string) error {
	body, err := readObject(req.r, h.limits)
	if err != nil {
		return err
	}
	dec := h.decoder(rt)
	dec.owned = true // explicitNulls reads only the top level and extensions, which stay
	attrs, err := dec.resource(body)
	if err != nil {
		return err
	}
	if err := h.securePassword(rt, attrs); err != nil {
		return err
	}
	nulls := dec.explicitNulls(body)
	stored, err := h.update(req, rt, id, ChangeReplace, rt.holdsNeverReturned(attrs), func(old *Resource) (map[string]any, error) {
		repl := cloneMap(attrs)
		if err := dec.carryOver(old.Attributes, repl, nulls); err != nil {
			return nil, err
		}
		return repl, nil
	})
	if err != nil {
		return err
	}
	return h.writeResource(req, rt, stored, http.StatusOK)
}

// update is the read → change → conditional write cycle behind PUT and
// PATCH. With If-Match the client's version must be current (else 412);
// without it a lost compare-and-swap is retried on a fresh read, so
// concurrent writers never lose each other's changes. A change that leaves
// the attributes as they were writes nothing: meta is not touched — unless
// the request assigns a never-returned attribute (a password): then an
// unchanged version would tell the client its guess was right.
func (h *Handler) update(req *request, rt *resourceType, id string, op ChangeOp, assignsSecret bool, change func(old *Resource) (map[string]any, error)) (*Resource, error) {
	ctx := req.r.Context()
	ifMatch := req.r.Header.Get("If-Match")
	for attempt := 1; ; attempt++ {
		start := time.Now()
		old, err := h.store.Get(ctx, rt.Name, id)
		if err != nil {
			return nil, err
		}
		if ifMatch != "" && !etagMatches(ifMatch, old.Meta.Version) {
			return nil, &Error{Status: http.StatusPreconditionFailed, Detail: "resource version does not match If-Match", Err: ErrVersionMismatch}
		}
		attrs, err := change(old)
		if err != nil {
			return nil, err
		}
		if !assignsSecret && equalValues(rt.stored(old.Attributes), attrs) {
			return old, nil
		}
		res := &Resource{
			Type:       rt.Name,
			ID:         old.ID,
			Attributes: attrs,
			Meta:       Meta{Created: old.Meta.Created, LastModified: h.now().UTC()},
		}
		w, err := h.beforeUpdate(ctx, rt, old, res)
		if err != nil {
			return nil, err
		}
		res.Unique = rt.uniqueKeys(res.Attributes)
		stored, err := h.store.Replace(h.describe(ctx, func() Change { return updateChange(rt, op, old, res) }), res, old.Meta.Version)
		switch {
		case err == nil:
			h.afterUpdate(req, w, stored)
			return stored, nil
		case !errors.Is(err, ErrVersionMismatch):
			return nil, err
		case ifMatch != "":
			return nil, &Error{Status: http.StatusPreconditionFailed, Detail: "resource was modified concurrently", Err: err}
		case attempt >= h.limits.WriteRetries: // Limits.WriteRetries bounds a contended write
			return nil, &Error{Status: http.StatusServiceUnavailable, Detail: "resource is being modified by too many clients at once; retry later", Err: err}
		}
		if err := backoff(ctx, attempt, time.Since(start)); err != nil {
			return nil, err
		}
	}
}

// updateChange describes a PUT or PATCH (op) of old into res, for the
// change the store records.
func updateChange(rt *resourceType, op ChangeOp, old, res *Resource) Change {
	added, removed := memberDiff(rt, old.Attributes, res.Attributes)
	return Change{
		Op:          op,
		Attributes:  changedAttributes(rt.stored(old.Attributes), res.Attributes),
		Activated:   !isActive(old) && isActive(res),
		Deactivated: isActive(old) && !isActive(res),
		Added:       added,
		Removed:     removed,
	}
}

// stored returns attrs without what a store computes (readOnly attributes
// such as User.groups), for comparing a stored resource with a new version.
func (rt *resourceType) stored(attrs map[string]any) map[string]any {
	out := make(map[string]any, len(attrs))
	for k, v := range attrs {
		if d := rt.core.attr(k); d != nil && d.mutability == "readOnly" {
			continue
		}
		out[k] = v
	}
	return out
}

func (h *Handler) delete(req *request, rt *resourceType, id string) error {
	ctx := req.r.Context()
	im := strings.TrimSpace(req.r.Header.Get("If-Match"))
	withHooks := h.hooks.BeforeDelete != nil || h.hooks.AfterDelete != nil || h.hasMemberHooks()
	for attempt := 1; ; attempt++ {
		start := time.Now()
		var old *Resource
		version := ""
		if withHooks || im != "" && im != "*" {
			var err error
			if old, err = h.store.Get(ctx, rt.Name, id); err != nil {
				return err
			}
			if im != "" && !etagMatches(im, old.Meta.Version) {
				return &Error{Status: http.StatusPreconditionFailed, Detail: "resource version does not match If-Match", Err: ErrVersionMismatch}
			}
			version = old.Meta.Version
		}
		var cascade []*Membership
		if withHooks {
			var err error
			if cascade, err = h.beforeDelete(ctx, rt, old); err != nil {
				return err
			}
		}
		err := h.store.Delete(h.describe(ctx, func() Change { return Change{Op: ChangeDelete} }), rt.Name, id, version)
		switch {
		case err == nil:
			if withHooks {
				h.afterDelete(req, rt.Name, old, cascade)
			}
			req.w.WriteHeader(http.StatusNoContent)
			return nil
		case !errors.Is(err, ErrVersionMismatch):
			return err
		case im != "":
			return &Error{Status: http.StatusPreconditionFailed, Detail: "resource was modified concurrently", Err: err}
		}
		// The resource changed after the hooks saw it: they see it again.
		if attempt >= h.limits.WriteRetries {
			return &Error{Status: http.StatusServiceUnavailable, Detail: "resource is being modified by too many clients at once; retry later", Err: err}
		}
		if err := backoff(ctx, attempt, time.Since(start)); err != nil {
			return err
		}
	}
}

// writeResource sends one resource, projected by the request's attributes
// and excludedAttributes parameters, with its ETag.
func (h *Handler) writeResource(req *request, rt *resourceType, res *Resource, status int) error {
	p, err := h.projectionOf(req, rt)
	if err != nil {
		return err
	}
	buf := h.buffers.get()
	buf.b, err = rt.appendResource(buf.b, res, req.base, p)
	sendResource(req.w, status, res.Meta.Version, buf.b, err)
	h.buffers.put(buf)
	return nil
}

// projectionOf resolves the request's attributes and excludedAttributes
// for rt.
func (h *Handler) projectionOf(req *request, rt *resourceType) (projection, error) {
	if req.r.URL.RawQuery == "" {
		return projection{}, nil
	}
	q := req.query()
	attributes, excluded := splitList(queryParam(q, "attributes")), splitList(queryParam(q, "excludedAttributes"))
	if err := h.checkAttributeNames(attributes, excluded); err != nil {
		return projection{}, err
	}
	return rt.parseProjection(attributes, excluded), nil
}

func (h *Handler) decoder(rt *resourceType) decoder {
	return decoder{rt: rt, strict: h.strict}
}

// etagMatches reports whether an If-Match or If-None-Match header value
// names version. Weak and strong forms match alike (RFC 7644 §3.14 uses
// weak ETags).
func etagMatches(header, version string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		t = strings.TrimPrefix(t, "W/")
		if strings.Trim(t, `"`) == version && version != "" {
			return true
		}
	}
	return false
}
