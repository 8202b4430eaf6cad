package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// membershipChange recognises a PATCH that only adds members (`add` with
// path "members") and removes them (`remove` with path
// `members[value eq "id"]`, or leniently path "members" with the values to
// remove) when the store can apply such a change natively.
func (h *Handler) membershipChange(req *request, rt *resourceType, ops []patchOp) (MembershipChange, bool) {
	var change MembershipChange
	if _, ok := h.store.(MembershipPatcher); !ok {
		return change, false
	}
	if _, ok := ifMatchVersion(req.r.Header.Get("If-Match")); !ok {
		return change, false
	}
	def := rt.core.attr("members")
	if def == nil || !def.multi || def.sub("value") == nil {
		return change, false
	}
	dec := h.decoder(rt)
	dec.patch = true
	added, removed := map[string]bool{}, map[string]bool{}
	for _, op := range ops {
		if op.path == nil || op.path.def != def || op.path.sub != nil {
			return change, false
		}
		switch {
		case op.op == "add" && op.path.filter == nil:
			members, ok := memberValues(dec, def, op.value)
			if !ok {
				return change, false // the generic path reports the error
			}
			for _, m := range members {
				id := m["value"].(string)
				if removed[id] {
					return change, false
				}
				added[id] = true
				change.Add = append(change.Add, m)
			}
		case op.op == "remove" && op.path.filter != nil:
			// Only `members[value eq "id"]` names one member by its id.
			c, ok := op.path.filter.(*CompareExpr)
			if !ok || c.Op != OpEqual || !strings.EqualFold(c.Path.Sub, "value") {
				return change, false
			}
			id, isStr := c.Value.(string)
			if !isStr || added[id] || removed[id] {
				return change, false // the generic path applies them in order
			}
			removed[id] = true
			change.Remove = append(change.Remove, id)
		case op.op == "remove" && op.hasValue && op.value != nil && !h.strict:
			members, ok := memberValues(dec, def, op.value)
			if !ok {
				return change, false
			}
			for _, m := range members {
				id := m["value"].(string)
				if added[id] || removed[id] {
					return change, false
				}
				removed[id] = true
				change.Remove = append(change.Remove, id)
			}
		default:
			return change, false
		}
	}
	change.MustBeMembers = h.strict
	return change, true
}

// memberValues decodes a PATCH value as member values, each with a string
// "value"; false when it is anything else.
func memberValues(dec decoder, def *attrDef, raw any) ([]map[string]any, bool) {
	vals, err := dec.value(def, raw)
	if err != nil {
		return nil, false
	}
	list, _ := vals.([]any)
	out := make([]map[string]any, 0, len(list))
	for _, v := range list {
		m, _ := v.(map[string]any)
		if id, _ := m["value"].(string); id == "" {
			return nil, false
		}
		out = append(out, m)
	}
	return out, true
}

// patchMembers applies a membership change through the store's
// MembershipPatcher, with the membership hooks. The resource it returns
// carries only ID and Meta. The Group is not read, except for its
// displayName when BeforeMembers is registered (the store reports it for
// AfterMembers, atomically with the change).
func (h *Handler) patchMembers(req *request, rt *resourceType, id string, change MembershipChange) (*Resource, error) {
	ctx := req.r.Context()
	version, _ := ifMatchVersion(req.r.Header.Get("If-Match"))
	change.LastModified = h.now().UTC()
	if h.hooks.BeforeMembers != nil {
		// The request's ids: the store alone knows which of them change.
		m := &Membership{Group: id, Removed: slices.Clone(change.Remove)}
		for _, a := range change.Add {
			m.Added = append(m.Added, a["value"].(string))
		}
		var err error
		if m.DisplayName, err = h.storedDisplayName(ctx, rt, id); err != nil {
			return nil, err
		}
		if err := h.beforeMembers(ctx, m); err != nil {
			return nil, err
		}
	}
	described := h.describe(ctx, func() Change { return Change{Op: ChangePatch, Attributes: []string{"members"}} })
	res, err := h.store.(MembershipPatcher).PatchMembers(described, rt.Name, id, change, version)
	if errors.Is(err, ErrVersionMismatch) {
		return nil, &Error{Status: http.StatusPreconditionFailed, Detail: "resource version does not match If-Match", Err: err}
	}
	if err != nil {
		return nil, err
	}
	m := &Membership{Group: id, DisplayName: res.DisplayName, Added: res.Added, Removed: res.Removed}
	if m.DisplayName == "" && h.hooks.AfterMembers != nil && (len(m.Added) > 0 || len(m.Removed) > 0) {
		// A store that does not report it (see MembershipResult).
		actx := afterContext(ctx)
		if m.DisplayName, err = h.storedDisplayName(actx, rt, id); err != nil {
			h.logger.WarnContext(actx, "scim: reading a Group's displayName for AfterMembers", "id", id, "err", err)
		}
	}
	h.afterMembers(req, rt.Name, m)
	return &Resource{Type: rt.Name, ID: id, Meta: res.Meta}, nil
}

// storedDisplayName reads the displayName of the resource rt/id, without
// its members.
func (h *Handler) storedDisplayName(ctx context.Context, rt *resourceType, id string) (string, error) {
	var name string
	err := h.view(ctx, rt.Name, Query{
		Filter:             &CompareExpr{Path: AttrPath{Name: "id", Type: TypeString, CaseExact: true}, Op: OpEqual, Value: id},
		StartIndex:         1,
		Count:              1,
		ExcludedAttributes: []AttrPath{{Name: "members", Type: TypeComplex, MultiValued: true}},
	}, func(p *Page) error {
		if len(p.Resources) == 0 {
			return fmt.Errorf("scim: %s %q: %w", rt.Name, id, ErrNotFound)
		}
		name = displayNameOf(p.Resources[0].Attributes)
		return nil
	})
	return name, err
}

// ifMatchVersion returns the version an If-Match header names, "" for none
// or "*". PatchMembers checks one version, so a header listing several is
// not ok: the generic path, which checks them all, serves it.
func ifMatchVersion(header string) (version string, ok bool) {
	header = strings.TrimSpace(header)
	switch {
	case header == "" || header == "*":
		return "", true
	case strings.Contains(header, ","):
		return "", false
	}
	version = strings.Trim(strings.TrimPrefix(header, "W/"), `"`)
	return version, version != "" // W/"" names no version: the generic path answers 412
}
