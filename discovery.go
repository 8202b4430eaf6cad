package scim

import (
	"net/http"
	"strings"
)

// Discovery schema URNs (RFC 7643 §5–7).
const (
	ServiceProviderConfigSchema = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	ResourceTypeSchema          = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	SchemaSchema                = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// serveServiceProviderConfig describes what this handler supports (RFC 7643
// §5), its paging (RFC 9865 §4) unless WithoutPaginationDiscovery, and the
// security events the host serves (RFC 9967 §4) with WithSecurityEvents.
func (h *Handler) serveServiceProviderConfig(req *request) error {
	config := map[string]any{
		"schemas":          []string{ServiceProviderConfigSchema},
		"documentationUri": "https://pkg.go.dev/github.com/scimkit/scim",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": h.bulkMaxOps > 0, "maxOperations": h.bulkMaxOps, "maxPayloadSize": h.bulkMaxBytes},
		"filter":           map[string]any{"supported": true, "maxResults": h.maxResults},
		"changePassword":   map[string]any{"supported": !h.dropPasswords},
		"sort":             map[string]any{"supported": true},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []map[string]any{{
			"type":        "oauthbearertoken",
			"name":        "OAuth Bearer Token",
			"description": "Authentication with a bearer token issued by the service provider",
			"specUri":     "https://www.rfc-editor.org/rfc/rfc6750",
			"primary":     true,
		}},
		"meta": map[string]any{
			"resourceType": "ServiceProviderConfig",
			"location":     req.base + "/ServiceProviderConfig",
		},
	}
	if !h.noPagination {
		config["pagination"] = map[string]any{ // RFC 9865 §4
			"cursor": true, "index": true, "defaultPaginationMethod": "index",
			"defaultPageSize": h.maxResults, "maxPageSize": h.maxResults,
		}
	}
	if h.eventURIs != nil {
		config["securityEvents"] = map[string]any{ // RFC 9967 §4
			"asyncRequest": "none", // no request is answered asynchronously (RFC 9967 §2.5.1)
			"eventUris":    h.eventURIs,
		}
	}
	writeJSON(req.w, http.StatusOK, config)
	return nil
}

// serveResourceTypes answers /ResourceTypes and /ResourceTypes/{name} (RFC 7643 §6).
func (h *Handler) serveResourceTypes(req *request, rest []string) error {
	describe := func(rt *resourceType) map[string]any {
		exts := []map[string]any{}
		for _, e := range rt.Extensions {
			exts = append(exts, map[string]any{"schema": e.Schema.ID, "required": e.Required})
		}
		return map[string]any{
			"schemas":          []string{ResourceTypeSchema},
			"id":               rt.Name,
			"name":             rt.Name,
			"endpoint":         rt.Endpoint,
			"description":      rt.Description,
			"schema":           rt.Schema.ID,
			"schemaExtensions": exts,
			"meta": map[string]any{
				"resourceType": "ResourceType",
				"location":     req.base + "/ResourceTypes/" + rt.Name,
			},
		}
	}
	if len(rest) == 0 {
		var all []map[string]any
		for _, rt := range h.types {
			all = append(all, describe(rt))
		}
		writeObjects(req.w, all)
		return nil
	}
	for _, rt := range h.types {
		if strings.EqualFold(rt.Name, rest[0]) {
			writeJSON(req.w, http.StatusOK, describe(rt))
			return nil
		}
	}
	return &Error{Status: http.StatusNotFound, Detail: "no resource type " + rest[0]}
}

// serveSchemas answers /Schemas and /Schemas/{id} (RFC 7643 §7): the core
// schema and extensions of every served resource type, each once.
func (h *Handler) serveSchemas(req *request, rest []string) error {
	var all []map[string]any
	seen := map[string]bool{}
	for _, rt := range h.types {
		for _, s := range append([]*schemaDef{rt.core}, rt.extensions...) {
			if seen[s.urn] {
				continue
			}
			seen[s.urn] = true
			m := s.describe()
			m["meta"] = map[string]any{"resourceType": "Schema", "location": req.base + "/Schemas/" + s.urn}
			if len(rest) > 0 && strings.EqualFold(rest[0], s.urn) {
				writeJSON(req.w, http.StatusOK, m)
				return nil
			}
			all = append(all, m)
		}
	}
	if len(rest) > 0 {
		return &Error{Status: http.StatusNotFound, Detail: "no schema " + rest[0]}
	}
	writeObjects(req.w, all)
	return nil
}

// describe renders a compiled schema as RFC 7643 §7 describes it: the
// characteristics the handler enforces, which may be stricter than the
// source schema's (ids in references are case-exact; configured uniqueness).
func (s *schemaDef) describe() map[string]any {
	return map[string]any{
		"schemas":     []string{SchemaSchema},
		"id":          s.urn,
		"name":        s.src.Name.Value(),
		"description": s.src.Description.Value(),
		"attributes":  describeAttrs(s.attrs),
	}
}

func describeAttrs(defs []*attrDef) []map[string]any {
	out := make([]map[string]any, 0, len(defs))
	for _, d := range defs {
		m := map[string]any{
			"name":        d.name,
			"type":        d.typ,
			"multiValued": d.multi,
			"description": d.description,
			"required":    d.required,
			"mutability":  d.mutability,
			"returned":    d.returned,
		}
		if d.typ != TypeComplex && d.typ != TypeBoolean {
			m["caseExact"] = d.caseExact
			m["uniqueness"] = d.uniqueness
		}
		if len(d.canonical) > 0 {
			m["canonicalValues"] = d.canonical
		}
		if len(d.refTypes) > 0 {
			m["referenceTypes"] = d.refTypes
		}
		if len(d.subs) > 0 {
			m["subAttributes"] = describeAttrs(d.subs)
		}
		out = append(out, m)
	}
	return out
}
