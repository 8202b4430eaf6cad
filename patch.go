package scim

import (
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
	if change, ok := h.membershipChange(rt, ops); ok {
		stored, err = h.patchMembers(req, rt, id, change)
	} else {
		dec := h.decoder(rt)
		stored, err = h.update(req, rt, id, func(old *Resource) (map[string]any, error) {
			attrs := cloneMap(rt.stored(old.Attributes))
			return attrs, rt.applyPatch(dec, old.ID, attrs, ops)
		})
	}
	if err != nil {
		return err
	}
	q := req.r.URL.Query()
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
	body, err := readObject(req.r, h.maxBodyBytes)
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
		return nil, badRequest(ErrTypeInvalidValue, "\"schemas\" must be [%q]", PatchOpSchema)
	}
	list, ok := rawOps.([]any)
	if !ok {
		return nil, badRequest(ErrTypeInvalidValue, "a PATCH request needs an \"Operations\" array")
	}
	if len(list) == 0 {
		return nil, badRequest(ErrTypeInvalidValue, "\"Operations\" is empty")
	}
	if len(list) > h.maxPatchOps {
		return nil, badRequest(ErrTypeTooMany, "at most %d operations per PATCH request", h.maxPatchOps)
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
		return patchOp{}, badRequest(ErrTypeInvalidSyntax, "an operation must be a JSON object")
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
				return op, badRequest(ErrTypeInvalidPath, "\"path\" must be a string")
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
		return op, badRequest(ErrTypeInvalidSyntax, "unknown op %q (want add, remove or replace)", op.op)
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
		return op, badRequest(ErrTypeNoTarget, "remove needs a path")
	case op.op != "remove" && !op.hasValue:
		return op, badRequest(ErrTypeInvalidValue, "%s needs a value", op.op)
	}
	return op, nil
}

// parsePatchPath parses `attr`, `attr.sub`, `attr[filter]`,
// `attr[filter].sub`, each optionally URN-qualified, or a bare extension URN.
func (rt *resourceType) parsePatchPath(raw string, strict bool) (*patchPath, error) {
	invalid := func(format string, args ...any) error {
		return badRequest(ErrTypeInvalidPath, "path %q: "+format, append([]any{raw}, args...)...)
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
			if !strings.HasPrefix(rest, ".") || p.def.sub(rest[1:]) == nil {
				return nil, invalid("unknown sub-attribute %q", strings.TrimPrefix(rest, "."))
			}
			p.sub = p.def.sub(rest[1:])
		}
		return p, nil
	}
	ap, leaf, err := rt.resolve(raw)
	if err != nil {
		return nil, invalid("%v", err)
	}
	p := &patchPath{urn: ap.URN, def: rt.topDef(ap), vpath: AttrPath{URN: ap.URN, Name: ap.Name, Type: TypeComplex, MultiValued: ap.MultiValued}}
	if ap.Sub != "" {
		p.sub = leaf
	}
	return p, nil
}

// patcher applies operations to a copy of a resource's attributes.
type patcher struct {
	rt    *resourceType
	dec   decoder
	id    string
	attrs map[string]any
}

// applyPatch applies ops in order to attrs (which it changes) and checks
// the result. One failing operation fails them all; the caller discards attrs.
func (rt *resourceType) applyPatch(dec decoder, id string, attrs map[string]any, ops []patchOp) error {
	p := &patcher{rt: rt, dec: dec, id: id, attrs: attrs}
	for i, op := range ops {
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
	for _, e := range rt.extensions {
		if m, ok := attrs[e.urn].(map[string]any); ok && len(m) == 0 {
			delete(attrs, e.urn)
		}
	}
	return dec.checkRequired(attrs)
}

// applyNoPath applies an add or replace whose value is a partial resource.
// Leniently its keys may be paths themselves ("name.givenName",
// "urn:…:User:department"), and an "id" equal to the resource's own is
// ignored (Okta sends it).
func (p *patcher) applyNoPath(op patchOp) error {
	obj, ok := op.value.(map[string]any)
	if !ok {
		return badRequest(ErrTypeInvalidValue, "%s without a path needs an object value", op.op)
	}
	for k, v := range obj {
		switch lk := strings.ToLower(k); {
		case lk == "schemas" || lk == "meta":
			if p.dec.strict && lk == "meta" {
				return &Error{Status: http.StatusBadRequest, ScimType: ErrTypeMutability, Detail: "meta is read-only"}
			}
			continue
		case lk == "id":
			if s, _ := v.(string); s == p.id && !p.dec.strict {
				continue
			}
			return &Error{Status: http.StatusBadRequest, ScimType: ErrTypeMutability, Detail: "id is read-only"}
		}
		if ext := p.rt.schemaByURN(k); ext != nil && ext != p.rt.core {
			if err := p.applyPath(op.op, &patchPath{urn: ext.urn}, v, true); err != nil {
				return err
			}
			continue
		}
		if p.dec.strict && strings.ContainsAny(k, ".:") {
			return badRequest(ErrTypeInvalidPath, "attribute %q: a path as a key needs a \"path\" instead", k)
		}
		path, err := p.rt.parsePatchPath(k, p.dec.strict)
		if err != nil {
			if p.dec.strict {
				return err
			}
			continue // lenient: unknown attributes are ignored, as on PUT
		}
		if !p.dec.strict && path.def.mutability == "readOnly" {
			continue
		}
		if err := p.applyPath(op.op, path, v, true); err != nil {
			return err
		}
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
	return &Error{Status: http.StatusBadRequest, ScimType: ErrTypeMutability, Detail: fmt.Sprintf(format, args...)}
}

func (p *patcher) applyPath(op string, path *patchPath, value any, hasValue bool) error {
	if path.def == nil { // a whole extension
		if op == "remove" {
			delete(p.attrs, path.urn)
			return nil
		}
		obj, ok := value.(map[string]any)
		if !ok {
			return badRequest(ErrTypeInvalidValue, "extension %q needs an object value", path.urn)
		}
		ext := p.rt.schemaByURN(path.urn)
		for k, v := range obj {
			def := ext.attr(k)
			if def == nil {
				if p.dec.strict {
					return badRequest(ErrTypeInvalidPath, "unknown attribute %q of %q", k, path.urn)
				}
				continue
			}
			sub := &patchPath{urn: ext.urn, def: def, vpath: AttrPath{URN: ext.urn, Name: def.name, Type: TypeComplex, MultiValued: def.multi}}
			if err := p.applyPath(op, sub, v, true); err != nil {
				return err
			}
		}
		return nil
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
	cur, present := c[def.name]
	if def.mutability == "immutable" && present {
		if op == "remove" {
			return mutabilityError("attribute %q is immutable", def.name)
		}
		v, err := p.dec.value(def, value)
		if err != nil {
			return err
		}
		if !jsonEqual(v, cur) {
			return mutabilityError("attribute %q is immutable", def.name)
		}
		return nil
	}

	switch {
	case path.filter != nil:
		return p.applyFiltered(op, path, c, value)
	case op == "remove":
		return p.remove(path, c, value, hasValue)
	case path.sub != nil:
		return p.setSub(op, path, c, value)
	case def.multi:
		vals, err := p.dec.value(def, value)
		if err != nil {
			return err
		}
		list, _ := vals.([]any)
		if op == "replace" {
			setOrDelete(c, def.name, list)
			return nil
		}
		old, _ := cur.([]any)
		setOrDelete(c, def.name, mergeValues(def, old, list))
		return nil
	case def.typ == TypeComplex:
		v, err := p.dec.value(def, value)
		if err != nil {
			return err
		}
		if v == nil {
			if op == "replace" {
				delete(c, def.name)
			}
			return nil
		}
		// RFC 7644 §3.5.2.1/3: sub-attributes not given are left as they are.
		merged, _ := cloneValue(cur).(map[string]any)
		if merged == nil {
			merged = map[string]any{}
		}
		for k, sv := range v.(map[string]any) {
			merged[k] = sv
		}
		c[def.name] = merged
		return nil
	default:
		v, err := p.dec.value(def, value)
		if err != nil {
			return err
		}
		if v == nil {
			delete(c, def.name)
			return nil
		}
		c[def.name] = v
		return nil
	}
}

// remove removes an attribute, or a sub-attribute of every value. With a
// value list on a multi-valued attribute (Entra ID's way of removing group
// members) it removes just those values.
func (p *patcher) remove(path *patchPath, c map[string]any, value any, hasValue bool) error {
	def := path.def
	if path.sub != nil {
		if path.sub.required {
			return mutabilityError("sub-attribute %q of %q is required", path.sub.name, def.name)
		}
		switch cur := c[def.name].(type) {
		case map[string]any:
			delete(cur, path.sub.name)
			setOrDelete(c, def.name, cur)
		case []any:
			for _, e := range cur {
				if m, ok := e.(map[string]any); ok {
					delete(m, path.sub.name)
				}
			}
			setOrDelete(c, def.name, dropEmpty(cur))
		}
		return nil
	}
	if hasValue && value != nil && def.multi {
		if p.dec.strict {
			return badRequest(ErrTypeInvalidValue, "remove takes no value; select values with a filter in the path")
		}
		vals, err := p.dec.value(def, value)
		if err != nil {
			return err
		}
		list, _ := vals.([]any)
		cur, _ := c[def.name].([]any)
		kept := cur[:0:0]
		for _, e := range cur {
			if !containsValue(def, list, e) {
				kept = append(kept, e)
			}
		}
		setOrDelete(c, def.name, kept)
		return nil
	}
	if def.required {
		return mutabilityError("attribute %q is required", def.name)
	}
	delete(c, def.name)
	return nil
}

// setSub sets one sub-attribute: of a single complex value, or of every
// value of a multi-valued one (creating a value if there is none).
func (p *patcher) setSub(op string, path *patchPath, c map[string]any, value any) error {
	v, err := p.dec.single(path.sub, value)
	if err != nil {
		return err
	}
	def := path.def
	if !def.multi {
		m, _ := cloneValue(c[def.name]).(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		setOrDelete(m, path.sub.name, v)
		setOrDelete(c, def.name, m)
		return nil
	}
	cur, _ := c[def.name].([]any)
	if len(cur) == 0 {
		cur = []any{map[string]any{}}
	}
	for _, e := range cur {
		if m, ok := e.(map[string]any); ok {
			setOrDelete(m, path.sub.name, v)
		}
	}
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
	matched := 0
	out := make([]any, 0, len(cur)+1)
	for _, e := range cur {
		m, ok := e.(map[string]any)
		if !ok || !valueMatches(path.vpath, path.filter, m) {
			out = append(out, e)
			continue
		}
		matched++
		switch {
		case op == "remove" && path.sub == nil:
			// dropped
		case op == "remove":
			delete(m, path.sub.name)
			out = append(out, m)
		case path.sub != nil:
			v, err := p.dec.single(path.sub, value)
			if err != nil {
				return err
			}
			setOrDelete(m, path.sub.name, v)
			out = append(out, m)
		default:
			v, err := p.dec.single(def, value)
			if err != nil {
				return err
			}
			nv, _ := v.(map[string]any)
			if op == "add" { // merge into the selected value
				for k, sv := range nv {
					m[k] = sv
				}
				nv = m
			}
			if nv != nil {
				out = append(out, nv)
			}
		}
	}
	if matched == 0 {
		switch {
		case op == "remove" && p.dec.strict, op == "replace" && p.dec.strict && path.sub == nil:
			return badRequest(ErrTypeNoTarget, "no value of %q matches the filter", def.name)
		case op == "remove":
			return nil // already absent
		}
		// add, or a lenient replace: create the value the filter describes.
		nv := eqConditions(path.filter)
		if nv == nil {
			return badRequest(ErrTypeNoTarget, "no value of %q matches the filter", def.name)
		}
		if path.sub != nil {
			v, err := p.dec.single(path.sub, value)
			if err != nil {
				return err
			}
			setOrDelete(nv, path.sub.name, v)
		} else {
			v, err := p.dec.single(def, value)
			if err != nil {
				return err
			}
			vm, _ := v.(map[string]any)
			for k, sv := range vm {
				nv[k] = sv
			}
		}
		out = append(out, nv)
	}
	if !def.multi {
		if len(out) == 0 {
			delete(c, def.name)
		} else {
			c[def.name] = out[0]
		}
		return nil
	}
	clearOtherPrimaries(out, value)
	setOrDelete(c, def.name, dropEmpty(out))
	return nil
}

// valueMatches evaluates a value filter against one value of the attribute at path.
func valueMatches(path AttrPath, f Filter, value map[string]any) bool {
	path.Sub = ""
	attrs := map[string]any{path.Name: []any{value}}
	if path.URN != "" {
		attrs = map[string]any{path.URN: attrs}
	}
	return Matches(&ValuePathExpr{Path: path, Filter: f}, &Resource{Attributes: attrs})
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

// mergeValues adds vals to old, skipping values already present, and lets
// a new primary value take primary from the others.
func mergeValues(def *attrDef, old, vals []any) []any {
	out := append([]any(nil), old...)
	for _, v := range vals {
		if containsValue(def, out, v) {
			continue
		}
		out = append(out, v)
	}
	clearOtherPrimaries(out, vals)
	return out
}

// clearOtherPrimaries keeps "primary": true only on the last value marked
// so in the operation (RFC 7643 §2.4: at most one primary value).
func clearOtherPrimaries(list []any, opValue any) {
	var newest map[string]any
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && m["primary"] == true && introduced(m, opValue) {
			newest = m
		}
	}
	if newest == nil {
		return
	}
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && m["primary"] == true && !sameMap(m, newest) {
			delete(m, "primary")
		}
	}
}

// introduced reports whether value m came in with the operation's value.
func introduced(m map[string]any, opValue any) bool {
	switch v := opValue.(type) {
	case []any:
		for _, e := range v {
			if introduced(m, e) {
				return true
			}
		}
	case map[string]any:
		return sameMap(m, v) || (v["primary"] != nil && m["value"] == v["value"])
	}
	return false
}

func sameMap(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	return jsonEqual(a, b)
}

// containsValue reports whether list holds v. Values that reference a
// resource (those with a $ref sub-attribute, such as members) are the same
// when their "value" is; others when they are equal.
func containsValue(def *attrDef, list []any, v any) bool {
	vm, isMap := v.(map[string]any)
	byValue := isMap && def.sub("$ref") != nil && vm["value"] != nil
	for _, e := range list {
		if byValue {
			if em, ok := e.(map[string]any); ok && em["value"] == vm["value"] {
				return true
			}
			continue
		}
		if jsonEqual(e, v) {
			return true
		}
	}
	return false
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
