package scim

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// patchOp is one parsed PATCH operation (RFC 7644 §3.5.2).
type patchOp struct {
	op       string // "add", "remove" or "replace"
	path     *patchPath
	rawPath  string
	value    any
	hasValue bool
}

// patchPath is a parsed PATCH path: an attribute, optionally narrowed to
// the values a filter selects and to one sub-attribute of them.
type patchPath struct {
	urn    string   // extension URN; "" for core and common attributes
	def    *attrDef // the top-level attribute; nil when the path is a whole extension
	filter Filter   // value selection filter, or nil
	sub    *attrDef // sub-attribute, or nil
	vpath  AttrPath // the attribute as a canonical path (for filter evaluation)
}

// patch is PATCH (RFC 7644 §3.5.2): read, apply, conditional write,
// retried on conflict (see update). Group membership changes go to the
// store natively when it is a MembershipPatcher. The answer is 204 unless
// the client asked for attributes or WithPatchResponse is set.
func (h *Handler) patch(req *request, rt *resourceType, id string) error {
	ops, err := h.parsePatch(req, rt)
	if err != nil {
		return err
	}
	var stored *Resource
	if change, ok := h.membershipChange(req, rt, ops); ok {
		stored, err = h.patchMembers(req, rt, id, change)
	} else {
		dec := h.decoder(rt)
		dec.patch = true
		assignsSecret := rt.patchAssignsNeverReturned(ops)
		stored, err = h.update(req, rt, id, ChangePatch, assignsSecret, func(old *Resource) (map[string]any, error) {
			attrs := cloneMap(rt.stored(old.Attributes))
			if err := rt.applyPatch(req.r.Context(), dec, old.ID, attrs, ops); err != nil {
				return nil, err
			}
			if assignsSecret && !equalValues(attrs["password"], old.Attributes["password"]) {
				return attrs, h.securePassword(rt, attrs)
			}
			return attrs, nil
		})
	}
	if err != nil {
		return err
	}
	q := req.query()
	if !h.patchResponse && queryParam(q, "attributes") == "" && queryParam(q, "excludedAttributes") == "" {
		if v := etag(stored.Meta.Version); v != "" {
			req.w.Header().Set("ETag", v)
		}
		req.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if stored.Attributes == nil { // a native membership change returns meta only
		if stored, err = h.store.Get(req.r.Context(), rt.Name, id); err != nil {
			return err
		}
	}
	return h.writeResource(req, rt, stored, http.StatusOK)
}

// parsePatch reads and validates a PatchOp request body.
func (h *Handler) parsePatch(req *request, rt *resourceType) ([]patchOp, error) {
	body, err := readObject(req.r, h.limits)
	if err != nil {
		return nil, err
	}
	var rawOps any
	var schemas any
	for k, v := range body {
		switch {
		case k == "Operations" || (!h.strict && strings.EqualFold(k, "operations")):
			rawOps = v
		case strings.EqualFold(k, "schemas"):
			schemas = v
		}
	}
	if h.strict && !containsAny(schemas, PatchOpSchema) {
		return nil, badRequest(SCIMTypeInvalidValue, "\"schemas\" must be [%q]", PatchOpSchema)
	}
	list, ok := rawOps.([]any)
	if !ok {
		return nil, badRequest(SCIMTypeInvalidValue, "a PATCH request needs an \"Operations\" array")
	}
	if len(list) == 0 {
		return nil, badRequest(SCIMTypeInvalidValue, "\"Operations\" is empty")
	}
	if len(list) > h.limits.PatchOperations {
		return nil, badRequest(SCIMTypeTooMany, "at most %d operations per PATCH request", h.limits.PatchOperations)
	}
	ops := make([]patchOp, 0, len(list))
	for i, raw := range list {
		op, err := h.parsePatchOp(rt, raw)
		if err != nil {
			if e, ok := err.(*Error); ok {
				e.Detail = "operation " + strconv.Itoa(i+1) + ": " + e.Detail
			}
			return nil, err
		}
		ops = append(ops, op)
	}
	return ops, nil
}

func containsAny(list any, s string) bool {
	l, _ := list.([]any)
	for _, e := range l {
		if str, ok := e.(string); ok && strings.EqualFold(str, s) {
			return true
		}
	}
	return false
}

func (h *Handler) parsePatchOp(rt *resourceType, raw any) (patchOp, error) {
	m, ok := raw.(map[string]any)
	if !ok {
		return patchOp{}, badRequest(SCIMTypeInvalidSyntax, "an operation must be a JSON object")
	}
	var op patchOp
	for k, v := range m {
		switch strings.ToLower(k) {
		case "op":
			s, _ := v.(string)
			op.op = s
		case "path":
			s, ok := v.(string)
			if !ok && v != nil {
				return op, badRequest(SCIMTypeInvalidPath, "\"path\" must be a string")
			}
			op.rawPath = strings.TrimSpace(s)
		case "value":
			op.value, op.hasValue = v, true
		}
	}
	switch {
	case op.op == "add" || op.op == "remove" || op.op == "replace":
	case !h.strict && (strings.EqualFold(op.op, "add") || strings.EqualFold(op.op, "remove") || strings.EqualFold(op.op, "replace")):
		op.op = strings.ToLower(op.op) // Entra ID sends "Add", "Replace", "Remove"
	default:
		return op, badRequest(SCIMTypeInvalidSyntax, "unknown op %q (want add, remove or replace)", op.op)
	}
	if op.rawPath != "" {
		p, err := rt.parsePatchPath(op.rawPath, h.strict)
		if err != nil {
			return op, err
		}
		op.path = p
	}
	switch {
	case op.op == "remove" && op.path == nil:
		return op, badRequest(SCIMTypeNoTarget, "remove needs a path")
	case op.op != "remove" && !op.hasValue:
		return op, badRequest(SCIMTypeInvalidValue, "%s needs a value", op.op)
	}
	return op, nil
}

// parsePatchPath parses `attr`, `attr.sub`, `attr[filter]`,
// `attr[filter].sub`, each optionally URN-qualified, or a bare extension URN.
func (rt *resourceType) parsePatchPath(raw string, strict bool) (*patchPath, error) {
	invalid := func(format string, args ...any) error {
		return badRequest(SCIMTypeInvalidPath, "path %q: "+format, append([]any{raw}, args...)...)
	}
	if ext := rt.schemaByURN(raw); ext != nil && ext != rt.core {
		return &patchPath{urn: ext.urn}, nil
	}
	if i := strings.IndexByte(raw, '['); i >= 0 {
		j := strings.LastIndexByte(raw, ']')
		if j < i {
			return nil, invalid("unbalanced brackets")
		}
		f, err := rt.parseFilter(raw[:j+1], strict)
		if err != nil {
			return nil, invalid("%s", toError(err).Detail)
		}
		vp, ok := f.(*ValuePathExpr)
		if !ok {
			return nil, invalid("not a value path")
		}
		p := &patchPath{urn: vp.Path.URN, def: rt.topDef(vp.Path), filter: vp.Filter, vpath: vp.Path}
		if rest := raw[j+1:]; rest != "" {
			name, dotted := strings.CutPrefix(rest, ".")
			p.sub = p.def.sub(name)
			if p.sub == nil && !strict {
				p.sub = p.def.alias(name) // RFC 7644 §3.5.2 writes members[…].displayName
			}
			if !dotted || p.sub == nil {
				return nil, invalid("unknown sub-attribute %q", name)
			}
		}
		return p, nil
	}
	ap, leaf, err := rt.resolve(raw, strict)
	if err != nil {
		return nil, invalid("%v", err)
	}
	p := &patchPath{urn: ap.URN, def: rt.topDef(ap), vpath: AttrPath{URN: ap.URN, Name: ap.Name, Type: TypeComplex, MultiValued: ap.MultiValued}}
	if ap.Sub != "" {
		p.sub = leaf
	}
	return p, nil
}

// patchAssignsNeverReturned reports whether an operation addresses a
// never-returned attribute (a password), with a path or as a key of a
// path-less value.
func (rt *resourceType) patchAssignsNeverReturned(ops []patchOp) bool {
	hidden := func(p *patchPath) bool {
		return p.def != nil && (p.def.returned == "never" || p.sub != nil && p.sub.returned == "never")
	}
	for _, op := range ops {
		switch {
		case op.path != nil && op.path.def == nil: // a whole extension
			if m, ok := op.value.(map[string]any); ok && rt.holdsNeverReturned(map[string]any{op.path.urn: m}) {
				return true
			}
		case op.path != nil:
			if hidden(op.path) {
				return true
			}
		default:
			m, _ := op.value.(map[string]any)
			for k, v := range m {
				if ext := rt.schemaByURN(k); ext != nil && ext != rt.core {
					if vm, ok := v.(map[string]any); ok && rt.holdsNeverReturned(map[string]any{ext.urn: vm}) {
						return true
					}
					continue
				}
				if p, err := rt.parsePatchPath(k, false); err == nil && hidden(p) {
					return true
				}
			}
		}
	}
	return false
}

// patcher applies operations to a copy of a resource's attributes.
type patcher struct {
	rt    *resourceType
	dec   decoder
	id    string
	attrs map[string]any
	// indexes holds the multi-valued attributes that operations add
	// values to or remove values from, indexed once per request; their
	// lists in attrs are stale until flush.
	indexes map[attrRef]*valueIndex
	// touched lists the multi-valued attributes operations changed, for
	// the final pass that merges duplicates and counts values.
	touched map[attrRef]bool
	// scanned counts the values filtered operations examined, which
	// scanBudget bounds.
	scanned int
	// indexUses counts, per attribute, the operations with a path that
	// would go through its index.
	indexUses map[attrRef]int
}

// attrRef names an attribute: its schema's URN ("" for core and common
// attributes) and its definition.
type attrRef struct {
	urn string
	def *attrDef
}

// scanBudget is how many values the filtered operations of one PATCH may
// examine in all: a filter is evaluated against each value of its
// attribute, so without a budget a request's cost would grow with
// operations × values. Removing members by id goes through the index and
// is not counted.
const scanBudget = 1_000_000

// index returns the index of the multi-valued attribute def in c, building
// it on first use.
func (p *patcher) index(urn string, def *attrDef, c map[string]any) *valueIndex {
	ref := attrRef{urn, def}
	if ix := p.indexes[ref]; ix != nil {
		return ix
	}
	cur, _ := c[def.name].([]any)
	ix := newValueIndex(def, cur)
	if p.indexes == nil {
		p.indexes = map[attrRef]*valueIndex{}
	}
	p.indexes[ref] = ix
	return ix
}

// flush writes the indexed list of def back to c and drops its index, so
// that operations that walk or rewrite the list see it whole.
func (p *patcher) flush(urn string, def *attrDef) {
	ref := attrRef{urn, def}
	ix := p.indexes[ref]
	if ix == nil {
		return
	}
	delete(p.indexes, ref)
	if c := p.container(urn, false); c != nil {
		setOrDelete(c, def.name, ix.values())
	}
	if ix.dups {
		p.touched[ref] = true // stored before duplicates were merged
	}
}

// finish flushes every index, merges duplicate values of the attributes
// the operations rewrote (RFC 7643 §2.4: a multi-valued attribute holds a
// value once) and checks their number against Limits.Values (indexed adds
// check it as they go).
func (p *patcher) finish() error {
	for ref := range p.indexes {
		p.flush(ref.urn, ref.def)
	}
	for ref := range p.touched {
		c := p.container(ref.urn, false)
		list, ok := c[ref.def.name].([]any)
		if !ok {
			continue
		}
		list = dedupeValues(ref.def, list)
		if err := p.rt.limits.checkValueCount(ref.def.name, len(list)); err != nil {
			return err
		}
		setOrDelete(c, ref.def.name, list)
	}
	return nil
}

// applyPatch applies ops in order to attrs (which it changes) and checks
// the result. One failing operation fails them all; the caller discards
// attrs. It stops when ctx ends: each operation may walk a large list.
func (rt *resourceType) applyPatch(ctx context.Context, dec decoder, id string, attrs map[string]any, ops []patchOp) error {
	p := &patcher{rt: rt, dec: dec, id: id, attrs: attrs, touched: map[attrRef]bool{}, indexUses: map[attrRef]int{}}
	for _, op := range ops {
		if op.path != nil && op.path.def != nil && op.path.def.multi && p.indexable(op.op, op.path, op.value) {
			p.indexUses[attrRef{op.path.urn, op.path.def}]++
		}
	}
	for i, op := range ops {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		if op.path == nil {
			err = p.applyNoPath(op)
		} else {
			err = p.applyPath(op.op, op.path, op.value, op.hasValue)
		}
		if err != nil {
			if e, ok := err.(*Error); ok && len(ops) > 1 {
				e.Detail = "operation " + strconv.Itoa(i+1) + ": " + e.Detail
			}
			return err
		}
	}
	if err := p.finish(); err != nil {
		return err
	}
	for _, e := range rt.extensions {
		if m, ok := attrs[e.urn].(map[string]any); ok && len(m) == 0 {
			delete(attrs, e.urn)
		}
	}
	if err := dec.checkRequired(attrs); err != nil {
		// RFC 7644 §3.5.2: unassigning a required attribute is a mutability error.
		e := *toError(err)
		e.SCIMType = SCIMTypeMutability
		return &e
	}
	return nil
}

// applyNoPath applies an add or replace whose value is a partial resource.
// Leniently its keys may be paths themselves ("name.givenName",
// "urn:…:User:department"), and an "id" equal to the resource's own is
// ignored (Okta sends it). A replace that sets no attribute at all changes
// nothing (see emptyReplacement).
func (p *patcher) applyNoPath(op patchOp) error {
	obj, ok := op.value.(map[string]any)
	if !ok {
		return badRequest(SCIMTypeInvalidValue, "%s without a path needs an object value", op.op)
	}
	applied := 0
	for k, v := range obj {
		switch lk := strings.ToLower(k); {
		case lk == "schemas" || lk == "meta":
			if p.dec.strict && lk == "meta" {
				return &Error{Status: http.StatusBadRequest, SCIMType: SCIMTypeMutability, Detail: "meta is read-only"}
			}
			continue
		case lk == "id":
			if s, _ := v.(string); s == p.id && !p.dec.strict {
				continue
			}
			return &Error{Status: http.StatusBadRequest, SCIMType: SCIMTypeMutability, Detail: "id is read-only"}
		}
		if ext := p.rt.schemaByURN(k); ext != nil && ext != p.rt.core {
			if err := p.applyPath(op.op, &patchPath{urn: ext.urn}, v, true); err != nil {
				return err
			}
			applied++
			continue
		}
		if p.dec.strict && strings.ContainsAny(k, ".:") {
			return badRequest(SCIMTypeInvalidPath, "attribute %q: a path as a key needs a \"path\" instead", k)
		}
		path, err := p.rt.parsePatchPath(k, p.dec.strict)
		if err != nil {
			if p.dec.strict {
				return err
			}
			continue // lenient: unknown attributes are ignored, as on PUT
		}
		if !p.dec.strict && (path.def.mutability == "readOnly" || path.sub != nil && path.sub.mutability == "readOnly") {
			continue // echoed back by the client
		}
		if err := p.applyPath(op.op, path, v, true); err != nil {
			return err
		}
		applied++
	}
	if applied == 0 && op.op == "replace" {
		return p.emptyReplacement("the resource")
	}
	return nil
}

// container returns the map an attribute of urn lives in, creating an
// extension's map when create is set.
func (p *patcher) container(urn string, create bool) map[string]any {
	if urn == "" {
		return p.attrs
	}
	m, ok := p.attrs[urn].(map[string]any)
	if !ok && create {
		m = map[string]any{}
		p.attrs[urn] = m
	}
	return m
}

func mutabilityError(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, SCIMType: SCIMTypeMutability, Detail: fmt.Sprintf(format, args...)}
}

func (p *patcher) applyPath(op string, path *patchPath, value any, hasValue bool) error {
	if path.def == nil {
		return p.applyExtension(op, path.urn, value)
	}
	def := path.def
	target := def
	if path.sub != nil {
		target = path.sub
	}
	if def.mutability == "readOnly" || target.mutability == "readOnly" {
		return mutabilityError("attribute %q is read-only", target.name)
	}
	c := p.container(path.urn, op != "remove")
	if c == nil { // removing from an absent extension
		return nil
	}
	if def.multi && (!p.indexable(op, path, value) || def.mutability == "immutable") {
		// The operation reads or rewrites the whole list, which finish
		// then checks for duplicates; the index keeps values unique itself.
		p.flush(path.urn, def)
		p.touched[attrRef{path.urn, def}] = true
	}
	// An immutable attribute may be set once (RFC 7643 §2.2): whatever the
	// operation and its path, a value it had must come out unchanged.
	before, had := c[def.name]
	immutable := had && def.mutability == "immutable"
	if immutable {
		before = cloneValue(before)
	}
	if err := p.apply(op, path, c, value, hasValue); err != nil {
		return err
	}
	if immutable {
		p.flush(path.urn, def) // an add went through the index
	}
	if immutable && !equalValues(before, c[def.name]) {
		return mutabilityError("attribute %q is immutable", def.name)
	}
	return nil
}

// indexable reports whether an operation on a multi-valued attribute
// adds or removes whole values, which it does through the attribute's
// index: add without a filter, leniently remove with a value list, and
// remove of `members[value eq "id"]` (any attribute whose values reference
// resources).
func (p *patcher) indexable(op string, path *patchPath, value any) bool {
	switch {
	case path.sub != nil:
		return false
	case path.filter == nil:
		return op == "add" || op == "remove" && value != nil && !p.dec.strict
	default:
		_, ok := p.refEquality(op, path)
		return ok
	}
}

// refEquality returns the key of the value a `remove` of
// `attr[value eq "id"]` names, for an attribute whose values reference
// resources (keyed by id, see valueKeys).
func (p *patcher) refEquality(op string, path *patchPath) (string, bool) {
	c, ok := path.filter.(*CompareExpr)
	if op != "remove" || path.sub != nil || !ok || c.Op != OpEqual || c.Path.Sub != "value" || path.def.sub("$ref") == nil {
		return "", false
	}
	id, ok := c.Value.(string)
	return id, ok // the key of a reference value, see valueKeys
}

// applyExtension applies an operation whose path is a whole extension:
// remove drops it, add and replace apply each attribute of the value.
func (p *patcher) applyExtension(op, urn string, value any) error {
	ext := p.rt.schemaByURN(urn)
	for ref := range p.indexes {
		if ref.urn == urn {
			p.flush(ref.urn, ref.def)
		}
	}
	if op == "remove" {
		m, _ := p.attrs[urn].(map[string]any)
		for _, a := range ext.attrs {
			if _, has := m[a.name]; has && a.mutability == "immutable" {
				return mutabilityError("attribute %q of %q is immutable", a.name, urn)
			}
		}
		delete(p.attrs, urn)
		return nil
	}
	obj, ok := value.(map[string]any)
	if !ok {
		return badRequest(SCIMTypeInvalidValue, "extension %q needs an object value", urn)
	}
	applied := 0
	for k, v := range obj {
		def := ext.attr(k)
		if def == nil {
			if p.dec.strict {
				return badRequest(SCIMTypeInvalidPath, "unknown attribute %q of %q", k, urn)
			}
			continue
		}
		sub := &patchPath{urn: ext.urn, def: def, vpath: AttrPath{URN: ext.urn, Name: def.name, Type: TypeComplex, MultiValued: def.multi}}
		if err := p.applyPath(op, sub, v, true); err != nil {
			return err
		}
		applied++
	}
	if applied == 0 && op == "replace" {
		return p.emptyReplacement("extension %q", urn)
	}
	return nil
}

// emptyReplacement answers a replace whose value sets nothing: {}, [{}],
// or a value that holds only attributes the schema does not know (dropped
// leniently). RFC 7644 §3.5.2.3 replaces the sub-attributes a value gives,
// and it gives none, so the operation changes nothing, whether its path
// has a value filter or not; null (or remove) is how a client unassigns.
// WithStrict refuses it as 400 invalidValue. what and args name the target.
func (p *patcher) emptyReplacement(what string, args ...any) error {
	if !p.dec.strict {
		return nil
	}
	return badRequest(SCIMTypeInvalidValue, "replace of "+what+" with a value that sets nothing; to unassign, send null or use remove", args...)
}

// objectsOnly reports whether a value is a JSON object or a non-empty
// array of them: a complex value, or values, that decoded to nothing only
// because they set nothing. An empty array is a list of no values, which a
// replace assigns.
func objectsOnly(raw any) bool {
	switch v := raw.(type) {
	case map[string]any:
		return true
	case []any:
		for _, e := range v {
			if _, ok := e.(map[string]any); !ok {
				return false
			}
		}
		return len(v) > 0
	}
	return false
}

// apply carries out one operation on the attribute of path in c, the map
// the attribute lives in.
func (p *patcher) apply(op string, path *patchPath, c map[string]any, value any, hasValue bool) error {
	def := path.def
	if k, ok := p.refEquality(op, path); ok && def.multi {
		ref := attrRef{path.urn, def}
		if p.indexes[ref] == nil && p.indexUses[ref] < 2 {
			// One removal by id: a scan costs less than an index.
			cur, _ := c[def.name].([]any)
			kept := make([]any, 0, len(cur))
			for _, e := range cur {
				if m, _ := e.(map[string]any); m == nil || m["value"] != k {
					kept = append(kept, e)
				}
			}
			if len(kept) == len(cur) && p.dec.strict {
				return badRequest(SCIMTypeNoTarget, "no value of %q matches the filter", def.name)
			}
			setOrDelete(c, def.name, kept)
			return nil
		}
		ix := p.index(path.urn, def, c)
		if _, found := ix.pos[k]; !found && p.dec.strict {
			return badRequest(SCIMTypeNoTarget, "no value of %q matches the filter", def.name)
		}
		ix.removeKey(k)
		return nil
	}
	switch {
	case path.filter != nil:
		return p.applyFiltered(op, path, c, value)
	case op == "remove":
		return p.remove(path, c, value, hasValue)
	case path.sub != nil:
		return p.setSub(path, c, value)
	}
	v, err := p.dec.value(def, value)
	if err != nil {
		return err
	}
	switch {
	case v == nil && op == "add" && (def.multi || def.typ == TypeComplex):
		// Adding no values, or no sub-attributes, adds nothing; a
		// single-valued attribute is replaced, by null too (below).
	case v == nil && op == "replace" && def.typ == TypeComplex && objectsOnly(value):
		// RFC 7644 §3.5.2.3: replacing a complex attribute with {} (or
		// [{}]) sets none of its sub-attributes, so it is left as it is;
		// null and [] unassign it.
		return p.emptyReplacement("attribute %q", def.name)
	case def.multi && op == "add":
		ix := p.index(path.urn, def, c)
		for _, e := range v.([]any) {
			ix.add(e)
		}
		if err := p.rt.limits.checkValueCount(def.name, ix.live()); err != nil {
			return err
		}
	case def.typ == TypeComplex && !def.multi && v != nil:
		// RFC 7644 §3.5.2.1/3: sub-attributes not given are left as they are.
		m, _ := c[def.name].(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		for k, sv := range v.(map[string]any) {
			if err := setSubValue(def, m, def.sub(k), sv); err != nil {
				return err
			}
		}
		setOrDelete(c, def.name, m)
	default: // replace, or add to a single-valued attribute; null unassigns
		setOrDelete(c, def.name, v)
	}
	return nil
}

// remove removes an attribute, or a sub-attribute of every value. With a
// value list on a multi-valued attribute (Entra ID's way of removing group
// members) it removes just those values.
func (p *patcher) remove(path *patchPath, c map[string]any, value any, hasValue bool) error {
	def := path.def
	if path.sub != nil {
		switch cur := c[def.name].(type) {
		case map[string]any:
			if err := setSubValue(def, cur, path.sub, nil); err != nil {
				return err
			}
			setOrDelete(c, def.name, cur)
		case []any:
			for _, e := range cur {
				if m, ok := e.(map[string]any); ok {
					if err := setSubValue(def, m, path.sub, nil); err != nil {
						return err
					}
				}
			}
			setOrDelete(c, def.name, dropEmpty(cur))
		}
		return nil
	}
	if hasValue && value != nil && def.multi {
		if p.dec.strict {
			return badRequest(SCIMTypeInvalidValue, "remove takes no value; select values with a filter in the path")
		}
		vals, err := p.dec.value(def, value)
		if err != nil {
			return err
		}
		list, _ := vals.([]any)
		ix := p.index(path.urn, def, c)
		for _, e := range list {
			ix.remove(e)
		}
		return nil
	}
	if _, has := c[def.name]; has && def.required {
		return mutabilityError("attribute %q is required", def.name)
	}
	delete(c, def.name)
	return nil
}

// setSub sets one sub-attribute: of a single complex value, or of every
// value of a multi-valued one (creating a value if there is none).
func (p *patcher) setSub(path *patchPath, c map[string]any, value any) error {
	v, err := p.dec.single(path.sub, value)
	if err != nil {
		return err
	}
	def := path.def
	if !def.multi {
		m, _ := c[def.name].(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		if err := setSubValue(def, m, path.sub, v); err != nil {
			return err
		}
		setOrDelete(c, def.name, m)
		return nil
	}
	cur, _ := c[def.name].([]any)
	if len(cur) == 0 {
		cur = []any{map[string]any{}}
	}
	primary := -1
	for i, e := range cur {
		if m, ok := e.(map[string]any); ok {
			if err := setSubValue(def, m, path.sub, v); err != nil {
				return err
			}
			if isPrimary(m) {
				primary = i
			}
		}
	}
	clearOtherPrimaries(cur, primary)
	setOrDelete(c, def.name, dropEmpty(cur))
	return nil
}

// applyFiltered applies an operation to the values a filter selects
// (`emails[type eq "work"]`, `members[value eq "…"]`, optionally `.sub`).
func (p *patcher) applyFiltered(op string, path *patchPath, c map[string]any, value any) error {
	def := path.def
	var cur []any
	switch v := c[def.name].(type) {
	case []any:
		cur = v
	case map[string]any:
		cur = []any{v}
	}
	// The operation's value, decoded once: a sub-attribute's or a whole value's.
	var nv any
	if op != "remove" {
		var err error
		if path.sub != nil {
			nv, err = p.dec.single(path.sub, value)
		} else {
			nv, err = p.dec.single(def, value)
		}
		if err != nil {
			return err
		}
	}
	if op == "replace" && path.sub == nil && nv == nil && value != nil {
		// The value decoded to nothing: {}, or only sub-attributes the
		// schema does not know. As without a filter, it replaces nothing;
		// null (value == nil) still replaces the matches with nothing.
		return p.emptyReplacement("the values of %q the filter selects", def.name)
	}
	nvm, _ := nv.(map[string]any)
	p.scanned += len(cur)
	if p.scanned > scanBudget {
		return limitError(SCIMTypeTooMany, "the filtered operations of this PATCH examine more than %d values; send fewer of them per request", scanBudget)
	}
	matched, primary := 0, -1
	var out []any // copied from cur on the first match only: most filters on a large list match little
	for i, e := range cur {
		m, ok := e.(map[string]any)
		if !ok || !valueMatches(path.vpath, path.filter, m) {
			if out != nil {
				out = append(out, e)
			}
			continue
		}
		if out == nil {
			out = append(make([]any, 0, len(cur)+1), cur[:i]...)
		}
		matched++
		switch {
		case op == "remove" && path.sub == nil:
			continue // dropped
		case path.sub != nil: // remove sets nv nil
			if err := setSubValue(def, m, path.sub, cloneValue(nv)); err != nil {
				return err
			}
		case op == "replace":
			// The value is replaced whole, but its immutable
			// sub-attributes (a member's value) may not change.
			nm := cloneMap(nvm)
			for _, sub := range def.subs {
				old, had := m[sub.name]
				if sub.mutability != "immutable" || !had {
					continue
				}
				if nsv, has := nm[sub.name]; has && !equalValues(old, nsv) {
					return mutabilityError("sub-attribute %q of %q is immutable", sub.name, def.name)
				}
				nm[sub.name] = old
			}
			m = nm
		default: // add merges into the selected value
			for k, sv := range nvm {
				if err := setSubValue(def, m, def.sub(k), cloneValue(sv)); err != nil {
					return err
				}
			}
		}
		if isPrimary(m) {
			primary = len(out)
		}
		out = append(out, m)
	}
	if matched == 0 {
		out = cur
		switch {
		case op == "remove" && !p.dec.strict:
			return nil // already absent
		case op == "remove", op == "replace" && p.dec.strict, !def.multi && len(cur) > 0:
			// RFC 7644 §3.5.2.3: a replace whose filter matches nothing is noTarget.
			return badRequest(SCIMTypeNoTarget, "no value of %q matches the filter", def.name)
		}
		// add, or leniently a replace (Entra ID replaces
		// emails[type eq "work"].value on users without one): create the
		// value the filter describes.
		m := eqConditions(path.filter)
		if m == nil {
			return badRequest(SCIMTypeNoTarget, "no value of %q matches the filter", def.name)
		}
		if path.sub != nil {
			setOrDelete(m, path.sub.name, nv)
		} else {
			for k, sv := range nvm {
				m[k] = sv
			}
		}
		if isPrimary(m) {
			primary = len(out)
		}
		out = append(out, m)
	}
	if !def.multi {
		if len(out) == 0 {
			delete(c, def.name)
		} else {
			setOrDelete(c, def.name, out[0])
		}
		return nil
	}
	clearOtherPrimaries(out, primary)
	setOrDelete(c, def.name, dropEmpty(out))
	return nil
}

// valueMatches evaluates a value filter against one value of the attribute at path.
func valueMatches(path AttrPath, f Filter, value map[string]any) bool {
	path.Sub = ""
	return evalFilter(f, nil, &scopeElem{path: path, elem: value})
}

// eqConditions returns the value a filter of `sub eq "x"` terms joined by
// "and" describes, or nil if the filter is anything else.
func eqConditions(f Filter) map[string]any {
	out := map[string]any{}
	var walk func(Filter) bool
	walk = func(f Filter) bool {
		switch f := f.(type) {
		case *CompareExpr:
			if f.Op != OpEqual || f.Path.Sub == "" || f.Value == nil {
				return false
			}
			if t, ok := f.Value.(time.Time); ok {
				out[f.Path.Sub] = formatTime(t)
			} else {
				out[f.Path.Sub] = f.Value
			}
			return true
		case *LogicalExpr:
			return f.Op == And && walk(f.Left) && walk(f.Right)
		}
		return false
	}
	if !walk(f) {
		return nil
	}
	return out
}

// setSubValue sets sub-attribute sub of m, a value of the complex attribute
// def, to v; nil removes it. An immutable sub-attribute (a member's value,
// display, type and $ref) may be set once and a required one not removed.
func setSubValue(def *attrDef, m map[string]any, sub *attrDef, v any) error {
	if sub == nil { // decoded values hold known sub-attributes only
		return nil
	}
	old, had := m[sub.name]
	switch {
	case had && v == nil && sub.required:
		return mutabilityError("sub-attribute %q of %q is required", sub.name, def.name)
	case had && sub.mutability == "immutable" && !equalValues(old, v):
		return mutabilityError("sub-attribute %q of %q is immutable", sub.name, def.name)
	}
	setOrDelete(m, sub.name, v)
	return nil
}

func isPrimary(v any) bool {
	m, _ := v.(map[string]any)
	return m["primary"] == true
}

// clearOtherPrimaries leaves "primary" on list[keep] only, the value an
// operation just made primary (RFC 7643 §2.4: at most one primary value).
// A negative keep changes nothing.
func clearOtherPrimaries(list []any, keep int) {
	if keep < 0 {
		return
	}
	for i, e := range list {
		if m, ok := e.(map[string]any); ok && i != keep && m["primary"] == true {
			delete(m, "primary")
		}
	}
}

func withoutPrimary(m map[string]any) map[string]any {
	if _, ok := m["primary"]; !ok {
		return m
	}
	c := make(map[string]any, len(m))
	for k, v := range m {
		if k != "primary" {
			c[k] = v
		}
	}
	return c
}

func setOrDelete(m map[string]any, k string, v any) {
	switch x := v.(type) {
	case nil:
		delete(m, k)
		return
	case []any:
		if len(x) == 0 {
			delete(m, k)
			return
		}
	case map[string]any:
		if len(x) == 0 {
			delete(m, k)
			return
		}
	}
	m[k] = v
}

// dropEmpty removes empty complex values from a list.
func dropEmpty(list []any) []any {
	out := list[:0]
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && len(m) == 0 {
			continue
		}
		out = append(out, e)
	}
	return out
}
