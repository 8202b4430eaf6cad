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
	attrs, err := h.decoder(rt).resource(body)
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
	members := &Membership{Group: res.ID, Added: added}
	if err := h.beforeMembers(ctx, members); err != nil {
		return err
	}
	stored, err := h.store.Create(ctx, res)
	if err != nil {
		return err
	}
	if h.hooks.AfterCreate != nil {
		h.logAfter(ctx, "AfterCreate", h.hooks.AfterCreate(ctx, stored.Clone()))
	}
	h.afterMembers(ctx, members)
	req.w.Header().Set("Location", req.base+rt.Endpoint+"/"+stored.ID)
	return h.writeResource(req, rt, stored, http.StatusCreated)
}

func (h *Handler) get(req *request, rt *resourceType, id string) error {
	res, err := h.getProjected(req, rt, id)
	if err != nil {
		return err
	}
	if inm := req.r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, res.Meta.Version) {
		req.w.Header().Set("ETag", etag(res.Meta.Version))
		req.w.WriteHeader(http.StatusNotModified)
		return nil
	}
	return h.writeResource(req, rt, res, http.StatusOK)
}

// getProjected reads a resource for GET. With attributes or
// excludedAttributes it asks by a query on the id, which carries them as
// hints, so that a store need not read what the client left out (a large
// group's members); otherwise by Get.
func (h *Handler) getProjected(req *request, rt *resourceType, id string) (*Resource, error) {
	q := req.r.URL.Query()
	attrs, excluded := queryParam(q, "attributes"), queryParam(q, "excludedAttributes")
	if attrs == "" && excluded == "" {
		return h.store.Get(req.r.Context(), rt.Name, id)
	}
	p := rt.parseProjection(splitList(attrs), splitList(excluded))
	page, err := h.store.Query(req.r.Context(), rt.Name, Query{
		Filter:     &CompareExpr{Path: AttrPath{Name: "id", Type: TypeString, CaseExact: true}, Op: OpEqual, Value: id},
		StartIndex: 1, Count: 1,
		Attributes: p.paths, ExcludedAttributes: p.exPaths,
	})
	switch {
	case err != nil:
		return nil, err
	case len(page.Resources) == 0:
		return nil, fmt.Errorf("scim: %s %q: %w", rt.Name, id, ErrNotFound)
	}
	return page.Resources[0], nil
}

// replace is PUT (RFC 7644 §3.5.1).
func (h *Handler) replace(req *request, rt *resourceType, id string) error {
	body, err := readObject(req.r, h.limits)
	if err != nil {
		return err
	}
	dec := h.decoder(rt)
	attrs, err := dec.resource(body)
	if err != nil {
		return err
	}
	if err := h.securePassword(rt, attrs); err != nil {
		return err
	}
	nulls := dec.explicitNulls(body)
	stored, err := h.update(req, rt, id, rt.holdsNeverReturned(attrs), func(old *Resource) (map[string]any, error) {
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
func (h *Handler) update(req *request, rt *resourceType, id string, assignsSecret bool, change func(old *Resource) (map[string]any, error)) (*Resource, error) {
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
		stored, err := h.store.Replace(ctx, res, old.Meta.Version)
		switch {
		case err == nil:
			h.afterUpdate(ctx, w, stored)
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
		err := h.store.Delete(ctx, rt.Name, id, version)
		switch {
		case err == nil:
			if withHooks {
				h.afterDelete(ctx, old, cascade)
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
	q := req.r.URL.Query()
	attributes, excluded := splitList(queryParam(q, "attributes")), splitList(queryParam(q, "excludedAttributes"))
	if err := h.checkAttributeNames(attributes, excluded); err != nil {
		return err
	}
	p := rt.parseProjection(attributes, excluded)
	if v := etag(res.Meta.Version); v != "" {
		req.w.Header().Set("ETag", v)
	}
	writeEncoded(req.w, status, func(b []byte) ([]byte, error) { return rt.appendResource(b, res, req.base, p) })
	return nil
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
