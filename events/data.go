package events

import (
	"strings"
	"time"

	"github.com/elimity-com/scim/schema"

	"github.com/scimkit/scim"
)

// representation returns the SCIM representation of a stored resource
// for a full event's "data": schemas, id, the attributes a GET returns by
// default, and meta. Attributes whose schema says returned "never" or
// "request" are left out, at any depth; attributes no schema describes
// (a store's own) are kept, as the store holds them.
func representation(rt scim.ResourceType, res *scim.Resource, baseURL string) map[string]any {
	out := map[string]any{"id": res.ID}
	schemas := []string{rt.Schema.ID}
	exts := map[string]schema.Attributes{}
	for _, e := range rt.Extensions {
		exts[strings.ToLower(e.Schema.ID)] = e.Schema.Attributes
	}
	for k, v := range res.Attributes {
		if attrs, ok := exts[strings.ToLower(k)]; ok {
			m, isObject := v.(map[string]any)
			if !isObject {
				continue
			}
			if kept := returnedObject(attrs, m); len(kept) > 0 {
				out[k] = kept
				schemas = append(schemas, k)
			}
			continue
		}
		if kept, ok := returned(rt.Schema.Attributes, k, v); ok {
			out[k] = kept
		}
	}
	// The extensions in the resource type's order, as the handler lists them.
	ordered := []string{rt.Schema.ID}
	for _, e := range rt.Extensions {
		for _, s := range schemas[1:] {
			if strings.EqualFold(s, e.Schema.ID) {
				ordered = append(ordered, s)
			}
		}
	}
	out["schemas"] = ordered
	meta := map[string]any{"resourceType": rt.Name}
	if !res.Meta.Created.IsZero() {
		meta["created"] = res.Meta.Created.UTC().Format(time.RFC3339Nano)
	}
	if !res.Meta.LastModified.IsZero() {
		meta["lastModified"] = res.Meta.LastModified.UTC().Format(time.RFC3339Nano)
	}
	if res.Meta.Version != "" {
		meta["version"] = `W/"` + res.Meta.Version + `"`
	}
	if baseURL != "" {
		meta["location"] = strings.TrimRight(baseURL, "/") + "/" + strings.Trim(rt.Endpoint, "/") + "/" + res.ID
	}
	out["meta"] = meta
	return out
}

// returned returns v, attribute name of attrs, with what a GET leaves
// out removed, and whether it is returned at all.
func returned(attrs schema.Attributes, name string, v any) (any, bool) {
	def, ok := find(attrs, name)
	if !ok {
		return v, true
	}
	switch def.Returned() {
	case "never", "request":
		return nil, false
	}
	subs := def.SubAttributes()
	if len(subs) == 0 {
		return v, true
	}
	switch v := v.(type) {
	case map[string]any:
		return returnedObject(subs, v), true
	case []any:
		out := make([]any, 0, len(v))
		for _, e := range v {
			if m, ok := e.(map[string]any); ok {
				out = append(out, returnedObject(subs, m))
			} else {
				out = append(out, e)
			}
		}
		return out, true
	}
	return v, true
}

// returnedObject applies returned to each member of m.
func returnedObject(attrs schema.Attributes, m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if kept, ok := returned(attrs, k, v); ok {
			out[k] = kept
		}
	}
	return out
}

// find returns the attribute of attrs named name, case-insensitively.
func find(attrs schema.Attributes, name string) (schema.CoreAttribute, bool) {
	for _, a := range attrs {
		if strings.EqualFold(a.Name(), name) {
			return a, true
		}
	}
	return schema.CoreAttribute{}, false
}
