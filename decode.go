package scim

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// decoder turns client JSON into stored attributes for one resource type:
// canonical names, values of the attribute's type, readOnly attributes
// dropped. Lenient mode accepts what Entra ID and Okta send beyond the RFC.
type decoder struct {
	rt     *resourceType
	strict bool
	// patch is set for PATCH values, where a bare id may stand for a
	// member list (Microsoft's SCIM validator sends "value": "id").
	patch bool
	// owned is set when the decoded body is the decoder's to change and is
	// read once (POST and PUT): complex values are then made canonical in
	// place instead of copied.
	owned bool
}

// resource decodes a POST or PUT body into Resource.Attributes.
// id, meta and schemas are the server's and are ignored.
func (d decoder) resource(body map[string]any) (map[string]any, error) {
	if err := d.checkSchemas(body); err != nil {
		return nil, err
	}
	attrs := make(map[string]any, len(body))
	for key, raw := range body {
		switch strings.ToLower(key) {
		case "schemas", "id", "meta":
			continue
		}
		if ext := d.rt.schemaByURN(key); ext != nil && ext != d.rt.core {
			obj, ok := raw.(map[string]any)
			if raw == nil {
				continue
			}
			if !ok {
				return nil, badRequest(SCIMTypeInvalidValue, "extension %q must be a JSON object", ext.urn)
			}
			sub := map[string]any{}
			for k, v := range obj {
				if err := d.put(sub, ext.attr(k), k, v); err != nil {
					return nil, err
				}
			}
			if len(sub) > 0 {
				attrs[ext.urn] = sub
			}
			continue
		}
		def := d.rt.core.attr(key)
		if def == nil {
			def = d.rt.common.attr(key)
		}
		if err := d.put(attrs, def, key, raw); err != nil {
			return nil, err
		}
	}
	return attrs, d.checkRequired(attrs)
}

// put stores the decoded value of one attribute in m under its canonical
// name. Unknown attributes are an error in strict mode and dropped
// otherwise; readOnly ones are dropped (RFC 7643 §2.2: the server ignores
// them); null removes the attribute.
func (d decoder) put(m map[string]any, def *attrDef, key string, raw any) error {
	if def == nil {
		if d.strict {
			return badRequest(SCIMTypeInvalidValue, "unknown attribute %q", key)
		}
		return nil
	}
	if def.mutability == "readOnly" {
		return nil
	}
	v, err := d.value(def, raw)
	if err != nil {
		return err
	}
	if v == nil {
		delete(m, def.name)
		return nil
	}
	m[def.name] = v
	return nil
}

// value decodes the value of one attribute, multi-valued or not. It returns
// nil for null, an empty array or an empty complex value: all mean
// "unassigned" (RFC 7643 §2.5).
func (d decoder) value(def *attrDef, raw any) (any, error) {
	if raw == nil {
		return nil, nil
	}
	if !def.multi {
		if arr, ok := raw.([]any); ok && def.typ == TypeComplex && !d.strict {
			// Entra ID sends single-valued complex values (manager) as an array.
			switch len(arr) {
			case 0:
				return nil, nil
			case 1:
				raw = arr[0]
			}
		}
		return d.single(def, raw)
	}
	arr, ok := raw.([]any)
	if !ok {
		// Leniently one value stands for a list of it: an object (a
		// single email), or in PATCH a member's bare id. Other scalars
		// ("emails": "x") are refused: no identity provider sends them.
		_, isObject := raw.(map[string]any)
		_, isString := raw.(string)
		if d.strict || !(isObject || isString && d.patch && referencesResources(def)) {
			return nil, badRequest(SCIMTypeInvalidValue, "attribute %q is multi-valued and needs an array", def.name)
		}
		arr = []any{raw}
	}
	if err := d.rt.limits.checkValueCount(def.name, len(arr)); err != nil {
		return nil, err
	}
	out := make([]any, 0, len(arr))
	primary := false
	key := valueKeys(def)
	seen := make(map[string]int, len(arr))
	for _, e := range arr {
		v, err := d.single(def, e)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		if m, ok := v.(map[string]any); ok && m["primary"] == true && primary {
			if d.strict {
				return nil, badRequest(SCIMTypeInvalidValue, "more than one value of %q is primary", def.name)
			}
			delete(m, "primary") // keep the first primary value
			if len(m) == 0 {
				continue
			}
		}
		// A value given twice is one value (RFC 7643 §2.4).
		k := key(v)
		if i, dup := seen[k]; dup {
			if dst, ok := out[i].(map[string]any); ok {
				mergeInto(def, dst, v)
				primary = primary || isPrimary(dst)
			}
			continue
		}
		seen[k] = len(out)
		primary = primary || isPrimary(v)
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// single decodes one value of an attribute.
func (d decoder) single(def *attrDef, raw any) (any, error) {
	if raw == nil {
		return nil, nil
	}
	if def.typ == TypeComplex {
		obj, isObj := raw.(map[string]any)
		if !isObj {
			if s, isStr := raw.(string); isStr && !d.strict && referencesResources(def) {
				// A bare id for a value that references a resource:
				// Entra ID's members and manager.
				obj = map[string]any{"value": s}
			} else {
				return nil, badRequest(SCIMTypeInvalidValue, "attribute %q needs a JSON object", def.name)
			}
		}
		// With an owned body the value is made canonical where it is:
		// what is dropped is deleted, and what is renamed is set after the
		// loop, so that the loop never meets a key it added.
		inPlace := d.owned && isObj
		out := obj
		if !inPlace {
			out = make(map[string]any, len(obj))
		}
		type rename struct {
			name  string
			value any
		}
		var renames []rename
		for k, v := range obj {
			if v == nil && def.multi && d.strict {
				// A value of a multi-valued attribute lists what it has;
				// identity providers send "$ref": null in members.
				return nil, badRequest(SCIMTypeInvalidValue, "sub-attribute %q of a %q value is null; leave it out", k, def.name)
			}
			sub := def.sub(k)
			if sub == nil && !d.strict {
				sub = def.alias(k)
			}
			if sub == nil && d.strict {
				return nil, badRequest(SCIMTypeInvalidValue, "unknown sub-attribute %q of %q", k, def.name)
			}
			var sv any
			if sub != nil && sub.mutability != "readOnly" {
				var err error
				if sv, err = d.single(sub, v); err != nil {
					return nil, err
				}
			}
			switch {
			case sv == nil:
				if inPlace {
					delete(out, k)
				}
			case sub.name != k: // another case, or an alias
				if inPlace {
					delete(out, k)
				}
				renames = append(renames, rename{sub.name, sv})
			default:
				out[k] = sv
			}
		}
		for _, r := range renames {
			if _, taken := out[r.name]; !taken { // the canonical name wins over an alias
				out[r.name] = r.value
			}
		}
		if _, marked := out["primary"]; len(out) == 0 || marked && len(out) == 1 {
			// Nothing but "primary" marks nothing: an empty value.
			return nil, nil
		}
		return out, nil
	}
	return d.simple(def, raw)
}

// simple decodes a value of a simple type.
func (d decoder) simple(def *attrDef, raw any) (any, error) {
	bad := func() (any, error) {
		return nil, badRequest(SCIMTypeInvalidValue, "attribute %q needs a %s value, got %s", def.name, def.typ, jsonKind(raw))
	}
	switch def.typ {
	case TypeString, TypeReference:
		s, ok := raw.(string)
		if !ok {
			return bad()
		}
		if def.required && strings.TrimSpace(s) == "" {
			// RFC 7643 §2.2: a required attribute needs a value, and ""
			// (or blanks) is none.
			return nil, badRequest(SCIMTypeInvalidValue, "attribute %q is required and cannot be empty", def.name)
		}
		return s, nil
	case TypeBinary:
		s, ok := raw.(string)
		if !ok {
			return bad()
		}
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			if _, err := base64.RawStdEncoding.DecodeString(s); err != nil {
				return nil, badRequest(SCIMTypeInvalidValue, "attribute %q needs base64 data", def.name)
			}
		}
		return s, nil
	case TypeBoolean:
		switch v := raw.(type) {
		case bool:
			return v, nil
		case string:
			if !d.strict { // Entra ID sends "True" and "False".
				if b, ok := parseBoolString(v); ok {
					return b, nil
				}
			}
		}
		return bad()
	case TypeInteger:
		n, ok := d.number(raw)
		if !ok {
			return bad()
		}
		i, err := n.Int64()
		if err != nil {
			return nil, badRequest(SCIMTypeInvalidValue, "attribute %q needs an integer, got %s", def.name, n)
		}
		return i, nil
	case TypeDecimal:
		n, ok := d.number(raw)
		if !ok {
			return bad()
		}
		f, err := n.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, badRequest(SCIMTypeInvalidValue, "attribute %q needs a decimal, got %s", def.name, n)
		}
		return f, nil
	case TypeDateTime:
		s, ok := raw.(string)
		if !ok {
			return bad()
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return nil, badRequest(SCIMTypeInvalidValue, "attribute %q needs an RFC 3339 date-time, got %q", def.name, s)
		}
		return s, nil
	}
	return bad()
}

// number accepts a JSON number, and in lenient mode a numeric string.
func (d decoder) number(raw any) (json.Number, bool) {
	switch v := raw.(type) {
	case json.Number:
		return v, true
	case float64:
		return json.Number(strconv.FormatFloat(v, 'g', -1, 64)), true
	case int64:
		return json.Number(strconv.FormatInt(v, 10)), true
	case string:
		// Only JSON's own number syntax: no NaN, Inf or hex floats, which
		// could be stored but not sent back.
		if s := strings.TrimSpace(v); !d.strict && isJSONNumber(s) {
			return json.Number(s), true
		}
	}
	return "", false
}

// referencesResources reports whether values of def reference resources
// by id: complex, with "value" and "$ref" sub-attributes (members, groups,
// manager).
func referencesResources(def *attrDef) bool {
	return def.typ == TypeComplex && def.sub("value") != nil && def.sub("$ref") != nil
}

// alias maps a sub-attribute name clients use by mistake to the one the
// schema has: "displayName" for "display" (sent for group members).
func (a *attrDef) alias(name string) *attrDef {
	if strings.EqualFold(name, "displayName") {
		return a.sub("display")
	}
	return nil
}

func parseBoolString(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64, int64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "an unknown value"
}

// checkSchemas verifies the body's "schemas". Strict mode requires it and
// the core schema in it; every URN listed must belong to the resource type.
func (d decoder) checkSchemas(body map[string]any) error {
	var raw any
	found := false
	for k, v := range body {
		if strings.EqualFold(k, "schemas") {
			raw, found = v, true
		}
	}
	if !found {
		if d.strict {
			return badRequest(SCIMTypeInvalidValue, "the request has no \"schemas\"")
		}
		return nil
	}
	list, ok := raw.([]any)
	if !ok {
		return badRequest(SCIMTypeInvalidValue, "\"schemas\" must be an array of URNs")
	}
	core := false
	for _, u := range list {
		s, ok := u.(string)
		if !ok {
			return badRequest(SCIMTypeInvalidValue, "\"schemas\" must be an array of URNs")
		}
		sd := d.rt.schemaByURN(s)
		if sd == nil {
			if d.strict {
				return badRequest(SCIMTypeInvalidValue, "schema %q is not one of resource type %s", s, d.rt.Name)
			}
			continue
		}
		core = core || sd == d.rt.core
	}
	if !core && d.strict {
		return badRequest(SCIMTypeInvalidValue, "\"schemas\" must include %q", d.rt.core.urn)
	}
	return nil
}

// checkRequired verifies that required attributes and extensions are
// present (RFC 7643 §2.2 "required").
func (d decoder) checkRequired(attrs map[string]any) error {
	for _, a := range d.rt.core.attrs {
		if a.required && a.mutability != "readOnly" && attrs[a.name] == nil {
			return badRequest(SCIMTypeInvalidValue, "attribute %q is required", a.name)
		}
	}
	for _, e := range d.rt.extensions {
		ext, present := attrs[e.urn].(map[string]any)
		if d.rt.required[e.urn] && !present {
			return badRequest(SCIMTypeInvalidValue, "extension %q is required", e.urn)
		}
		for _, a := range e.attrs {
			if present && a.required && a.mutability != "readOnly" && ext[a.name] == nil {
				return badRequest(SCIMTypeInvalidValue, "attribute %q of %q is required", a.name, e.urn)
			}
		}
	}
	return nil
}

// errImmutable reports a change to an immutable attribute.
var errImmutable = errors.New("immutable attribute changed")

// carryOver applies RFC 7644 §3.5.1 to a replacement: immutable attributes
// may be set once and not changed, and writeOnly ones the client cannot
// read back (passwords) are kept when the client leaves them out — but not
// when it sets them to null (nulls, by attrKey, from explicitNulls).
func (d decoder) carryOver(old, repl map[string]any, nulls map[string]bool) error {
	check := func(defs []*attrDef, o, n map[string]any, urn string) error {
		where := ""
		if urn != "" {
			where = urn + ":"
		}
		for _, a := range defs {
			ov, had := o[a.name]
			nv, has := n[a.name]
			switch a.mutability {
			case "immutable":
				if had && has && !equalValues(ov, nv) {
					return &Error{Status: http.StatusBadRequest, SCIMType: SCIMTypeMutability, Detail: "attribute " + where + a.name + " is immutable", Err: errImmutable}
				}
				if had && !has {
					n[a.name] = cloneValue(ov)
				}
			case "writeOnly":
				if had && !has && !nulls[attrKey(urn, a.name)] {
					n[a.name] = cloneValue(ov)
				}
			}
		}
		return nil
	}
	if err := check(d.rt.topLevel, old, repl, ""); err != nil {
		return err
	}
	for _, e := range d.rt.extensions {
		o, _ := old[e.urn].(map[string]any)
		n, _ := repl[e.urn].(map[string]any)
		if o == nil {
			continue
		}
		if n == nil {
			n = map[string]any{}
		}
		if err := check(e.attrs, o, n, e.urn); err != nil {
			return err
		}
		if len(n) > 0 {
			repl[e.urn] = n
		}
	}
	return nil
}

// explicitNulls lists, by attrKey, the attributes a body sets to null.
func (d decoder) explicitNulls(body map[string]any) map[string]bool {
	out := map[string]bool{}
	for k, v := range body {
		if ext := d.rt.schemaByURN(k); ext != nil && ext != d.rt.core {
			m, _ := v.(map[string]any)
			for sk, sv := range m {
				if sv == nil {
					out[attrKey(ext.urn, sk)] = true
				}
			}
		} else if v == nil {
			out[attrKey("", k)] = true
		}
	}
	return out
}

// uniqueKeys lists the values of attrs the store must keep unique.
func (rt *resourceType) uniqueKeys(attrs map[string]any) []UniqueKey {
	var keys []UniqueKey
	for _, p := range rt.uniqueAttrs {
		m := attrs
		if p.URN != "" {
			m, _ = attrs[p.URN].(map[string]any)
		}
		s, ok := m[p.Name].(string)
		if !ok {
			continue
		}
		if !p.CaseExact {
			s = FoldCase(s) // as the filter evaluator compares
		}
		keys = append(keys, UniqueKey{Attribute: p.String(), Value: s})
	}
	return keys
}
