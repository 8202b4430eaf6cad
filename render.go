package scim

import (
	"strings"
	"time"

	"github.com/scimkit/scim/internal/compact"
)

// projection is a client's choice of attributes (RFC 7644 §3.4.2.5):
// either an attributes list or an excludedAttributes list, resolved.
type projection struct {
	include map[string]map[string]bool // attribute key → sub-attributes (nil: all)
	exclude map[string]map[string]bool
	paths   []AttrPath // include as paths, the store's hint
	exPaths []AttrPath
}

// attrKey names a top-level attribute across schemas.
func attrKey(urn, name string) string {
	return strings.ToLower(urn) + "|" + strings.ToLower(name)
}

// parseProjection resolves the attributes and excludedAttributes lists.
// Names that are not attributes of the type are ignored (RFC 7644 leaves
// them undefined, and clients ask for attributes across types in /.search).
// A value filter in a name (`emails[type eq "work"]`) selects the attribute.
func (rt *resourceType) parseProjection(attributes, excluded []string) projection {
	var p projection
	add := func(set *map[string]map[string]bool, paths *[]AttrPath, raw string) {
		raw = strings.TrimSpace(raw)
		if i := strings.IndexByte(raw, '['); i >= 0 {
			rest := ""
			if j := strings.LastIndexByte(raw, ']'); j > i {
				rest = raw[j+1:]
			}
			raw = raw[:i] + rest
		}
		if raw == "" {
			return
		}
		if *set == nil {
			*set = map[string]map[string]bool{}
		}
		if ext := rt.schemaByURN(raw); ext != nil && ext != rt.core {
			for _, a := range ext.attrs {
				(*set)[attrKey(ext.urn, a.name)] = nil
				*paths = append(*paths, AttrPath{URN: ext.urn, Name: a.name, Type: a.typ})
			}
			return
		}
		path, _, err := rt.resolve(raw, false)
		if err != nil {
			return
		}
		*paths = append(*paths, path)
		k := attrKey(path.URN, path.Name)
		subs, seen := (*set)[k]
		switch {
		case path.Sub == "":
			(*set)[k] = nil
		case !seen:
			(*set)[k] = map[string]bool{strings.ToLower(path.Sub): true}
		case subs != nil:
			subs[strings.ToLower(path.Sub)] = true
		}
	}
	for _, a := range attributes {
		add(&p.include, &p.paths, a)
	}
	if p.include != nil {
		return p // attributes wins over excludedAttributes
	}
	for _, a := range excluded {
		add(&p.exclude, &p.exPaths, a)
	}
	return p
}

// key is attrKey(urn, name) when the projection lists attributes, which
// returns then looks up by it; "" otherwise, to spare the allocation.
func (p projection) key(urn, name string) string {
	if p.include == nil && p.exclude == nil {
		return ""
	}
	return attrKey(urn, name)
}

// returns reports whether the attribute def (with key attrKey of it) is
// returned, or, when sub is set, whether that sub-attribute of it is.
func (p projection) returns(key string, def *attrDef, sub *attrDef) bool {
	if sub != nil {
		switch sub.returned {
		case "never":
			return false
		case "always":
			return true
		}
		if p.include != nil {
			if subs := p.include[key]; subs != nil {
				return subs[strings.ToLower(sub.name)]
			}
			return sub.returned != "request"
		}
		if subs, ok := p.exclude[key]; ok && subs != nil && subs[strings.ToLower(sub.name)] {
			return false
		}
		return sub.returned != "request"
	}
	switch def.returned {
	case "never":
		return false
	case "always":
		return true
	}
	if p.include != nil {
		return hasKey(p.include, key)
	}
	if subs, ok := p.exclude[key]; ok && subs == nil {
		return false
	}
	return def.returned != "request"
}

func hasKey(m map[string]map[string]bool, k string) bool {
	_, ok := m[k]
	return ok
}

// appendResource appends the JSON representation of a stored resource to
// b: schemas, id, the projected attributes in schema order, the extensions
// and meta, with $ref values for members and groups made absolute from
// base, the URL of the handler's root. It reads res without keeping or
// changing any of it, so a store may lend its own copy.
func (rt *resourceType) appendResource(b []byte, res *Resource, base string, p projection) ([]byte, error) {
	// The extensions are written first, past the end of b, to learn which
	// have attributes to show: "schemas" lists only those. The resource is
	// then written after them, and moved into place at the end.
	start := len(b)
	type span struct {
		urn        string
		start, end int
	}
	var small [2]span
	exts := small[:0]
	for _, e := range rt.extensions {
		src, ok := res.Attributes[e.urn]
		if !ok || !compact.IsObject(src) {
			continue
		}
		s := len(b)
		b = append(b, '{')
		var err error
		if b, err = rt.appendAttrs(b, e.urn, e.attrs, src, base, p); err != nil {
			return b[:start], err
		}
		if len(b) == s+1 {
			b = b[:s]
			continue
		}
		b = append(b, '}')
		exts = append(exts, span{e.urn, s, len(b)})
	}
	body := len(b)
	b = append(b, `{"schemas":[`...)
	b = appendString(b, rt.core.urn)
	for _, e := range exts {
		b = append(b, ',')
		b = appendString(b, e.urn)
	}
	b = append(b, `],"id":`...)
	b = appendString(b, res.ID)
	var err error
	if b, err = rt.appendAttrs(b, "", rt.topLevel, res.Attributes, base, p); err != nil {
		return b[:start], err
	}
	for _, e := range exts {
		b = appendKey(b, e.urn)
		b = append(b, b[e.start:e.end]...)
	}
	if meta := rt.common.attr("meta"); meta != nil && p.returns(p.key("", "meta"), meta, nil) {
		b = rt.appendMeta(b, res, meta, base, p)
	}
	b = append(b, '}')
	n := copy(b[start:], b[body:])
	return b[:start+n], nil
}

// appendMeta appends the meta attribute of res, with the sub-attributes p
// returns.
func (rt *resourceType) appendMeta(b []byte, res *Resource, meta *attrDef, base string, p projection) []byte {
	key := p.key("", "meta")
	b = appendKey(b, "meta")
	b = append(b, '{')
	for _, sub := range meta.subs {
		if !p.returns(key, meta, sub) {
			continue
		}
		switch sub.name {
		case "resourceType":
			b = appendJSONKey(b, sub.jsonName)
			b = appendString(b, rt.Name)
		case "created", "lastModified":
			t := res.Meta.Created
			if sub.name == "lastModified" {
				t = res.Meta.LastModified
			}
			b = appendJSONKey(b, sub.jsonName)
			b = append(b, '"')
			b = t.UTC().AppendFormat(b, time.RFC3339Nano)
			b = append(b, '"')
		case "location":
			b = appendJSONKey(b, sub.jsonName)
			b = append(b, '"')
			b = appendStringContent(b, base)
			b = appendStringContent(b, rt.Endpoint)
			b = append(b, '/')
			b = appendStringContent(b, res.ID)
			b = append(b, '"')
		case "version": // etag(version), written without making it
			b = appendJSONKey(b, sub.jsonName)
			b = append(b, '"')
			if v := res.Meta.Version; v != "" {
				b = append(b, `W/\"`...)
				b = appendStringContent(b, v)
				b = append(b, `\"`...)
			}
			b = append(b, '"')
		}
	}
	return append(b, '}')
}

// appendKey appends the key of an object member, after a comma unless it
// is the object's first.
func appendKey(b []byte, key string) []byte {
	return append(appendString(memberComma(b), key), ':')
}

// appendJSONKey is appendKey for a key already written as a JSON string
// (attrDef.jsonName): attribute names are escaped once, not per response.
func appendJSONKey(b []byte, jsonKey string) []byte {
	return append(append(memberComma(b), jsonKey...), ':')
}

// memberComma appends the comma before an object member unless it is the
// object's first: b ends with the opening brace (no value ends so).
func memberComma(b []byte) []byte {
	if b[len(b)-1] != '{' {
		return append(b, ',')
	}
	return b
}

// appendAttrs appends, as members of the object b is writing, the
// attributes of defs that src holds and p returns. An attribute left with
// no value (a complex value none of whose sub-attributes are returned) is
// not written.
func (rt *resourceType) appendAttrs(b []byte, urn string, defs []*attrDef, src any, base string, p projection) ([]byte, error) {
	for _, def := range defs {
		v, ok := compact.Get(src, def.name)
		if !ok || def.name == "id" || def.name == "meta" {
			continue
		}
		key := p.key(urn, def.name)
		if !p.returns(key, def, nil) {
			continue
		}
		mark := len(b)
		b = appendJSONKey(b, def.jsonName)
		var err error
		switch {
		case def.typ != TypeComplex:
			if b, err = appendJSON(b, v); err != nil {
				return b, err
			}
			continue
		case def.multi:
			b = append(b, '[')
			open := len(b)
			vals, _ := v.([]any)
			for _, e := range vals {
				if !compact.IsObject(e) {
					continue
				}
				s := len(b)
				if s > open {
					b = append(b, ',')
				}
				if b, err = rt.appendComplex(b, def, e, key, base, p); err != nil {
					return b, err
				}
				if b[len(b)-2] == '{' { // nothing of it is returned
					b = b[:s]
				}
			}
			if len(b) == open {
				b = b[:mark]
				continue
			}
			b = append(b, ']')
		case compact.IsObject(v):
			if b, err = rt.appendComplex(b, def, v, key, base, p); err != nil {
				return b, err
			}
			if b[len(b)-2] == '{' {
				b = b[:mark]
			}
		default:
			b = b[:mark]
		}
	}
	return b, nil
}

// appendComplex appends one complex value, projected, filling a missing
// $ref of a member, group or manager from its value.
func (rt *resourceType) appendComplex(b []byte, def *attrDef, m any, key, base string, p projection) ([]byte, error) {
	b = append(b, '{')
	for _, sub := range def.subs {
		v, ok := compact.Get(m, sub.name)
		if !ok && sub.name == "$ref" {
			if ref := rt.refFor(def.name, m, base); ref != "" {
				v, ok = ref, true
			}
		}
		if !ok || !p.returns(key, def, sub) {
			continue
		}
		b = appendJSONKey(b, sub.jsonName)
		var err error
		if b, err = appendJSON(b, v); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// refFor derives the URI of the resource a member, group or manager value
// points to, at the endpoint its type is served on; "" if it is not served.
func (rt *resourceType) refFor(attr string, m any, base string) string {
	v, _ := compact.Get(m, "value")
	id, _ := v.(string)
	if id == "" {
		return ""
	}
	target := "user"
	switch attr {
	case "groups":
		target = "group"
	case "members":
		typ, _ := compact.Get(m, "type")
		if t, _ := typ.(string); t != "" {
			target = strings.ToLower(t)
		}
	case "manager":
	default:
		return ""
	}
	endpoint, ok := rt.endpoints[target]
	if !ok {
		return ""
	}
	return base + endpoint + "/" + id
}

func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// etag renders a store version as a weak entity tag.
func etag(version string) string {
	return string(appendETag(nil, version))
}

// appendETag appends etag(version) to b.
func appendETag(b []byte, version string) []byte {
	if version == "" {
		return b
	}
	return append(append(append(b, `W/"`...), version...), '"')
}
