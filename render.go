package scim

import (
	"strings"
	"time"
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

// render turns a stored resource into its JSON representation: schemas,
// id, the projected attributes and meta, with $ref values for members and
// groups made absolute from base, the URL of the handler's root.
func (rt *resourceType) render(res *Resource, base string, p projection) map[string]any {
	out := map[string]any{"id": res.ID}
	schemas := []string{rt.core.urn}
	rt.renderAttrs(out, "", rt.topLevel, res.Attributes, base, p)
	for _, e := range rt.extensions {
		src, ok := res.Attributes[e.urn].(map[string]any)
		if !ok {
			continue
		}
		ext := map[string]any{}
		rt.renderAttrs(ext, e.urn, e.attrs, src, base, p)
		if len(ext) > 0 {
			out[e.urn] = ext
			schemas = append(schemas, e.urn)
		}
	}
	out["schemas"] = schemas
	if meta := rt.common.attr("meta"); meta != nil && p.returns(p.key("", "meta"), meta, nil) {
		m := map[string]any{
			"resourceType": rt.Name,
			"created":      formatTime(res.Meta.Created),
			"lastModified": formatTime(res.Meta.LastModified),
			"location":     base + rt.Endpoint + "/" + res.ID,
			"version":      etag(res.Meta.Version),
		}
		for _, sub := range meta.subs {
			if !p.returns(p.key("", "meta"), meta, sub) {
				delete(m, sub.name)
			}
		}
		out["meta"] = m
	}
	return out
}

func (rt *resourceType) renderAttrs(out map[string]any, urn string, defs []*attrDef, src map[string]any, base string, p projection) {
	for _, def := range defs {
		v, ok := src[def.name]
		if !ok || def.name == "id" || def.name == "meta" {
			continue
		}
		key := p.key(urn, def.name)
		if !p.returns(key, def, nil) {
			continue
		}
		if def.typ != TypeComplex {
			out[def.name] = cloneValue(v)
			continue
		}
		if def.multi {
			vals, _ := v.([]any)
			list := make([]any, 0, len(vals))
			for _, e := range vals {
				if m, ok := e.(map[string]any); ok {
					if c := rt.renderComplex(def, m, key, base, p); len(c) > 0 {
						list = append(list, c)
					}
				}
			}
			if len(list) > 0 {
				out[def.name] = list
			}
			continue
		}
		if m, ok := v.(map[string]any); ok {
			if c := rt.renderComplex(def, m, key, base, p); len(c) > 0 {
				out[def.name] = c
			}
		}
	}
}

// renderComplex projects one complex value and fills a missing $ref of a
// member, group or manager from its value.
func (rt *resourceType) renderComplex(def *attrDef, m map[string]any, key, base string, p projection) map[string]any {
	c := make(map[string]any, len(m)+1)
	for _, sub := range def.subs {
		v, ok := m[sub.name]
		if !ok && sub.name == "$ref" {
			if ref := rt.refFor(def.name, m, base); ref != "" {
				v, ok = ref, true
			}
		}
		if ok && p.returns(key, def, sub) {
			c[sub.name] = cloneValue(v)
		}
	}
	return c
}

// refFor derives the URI of the resource a member, group or manager value
// points to, at the endpoint its type is served on; "" if it is not served.
func (rt *resourceType) refFor(attr string, m map[string]any, base string) string {
	id, _ := m["value"].(string)
	if id == "" {
		return ""
	}
	target := "user"
	switch attr {
	case "groups":
		target = "group"
	case "members":
		if t, _ := m["type"].(string); t != "" {
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
	if version == "" {
		return ""
	}
	return `W/"` + version + `"`
}
