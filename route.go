package scim

import (
	"net/http"
	"strings"
)

// route splits a request's path into the host's mount prefix and the SCIM
// path below it ("Users", "Users/{id}", "Users/.search", ".search",
// "Schemas/{id}", …), and finds the resource type it addresses (nil for
// the root and discovery endpoints).
//
// The prefix comes from the ServeMux pattern that routed the request, else
// from the path of WithBaseURL; below it the SCIM path must be exact. With
// neither (another router, no base URL) the endpoint is read from the end
// of the path, so the handler still works under any prefix.
func (h *Handler) route(r *http.Request) (rt *resourceType, rest, prefix []string) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if n, ok := h.mountSegments(r, segs); ok {
		rest = segs[n:]
		if len(rest) == 0 { // the service root
			return nil, rest, segs[:n]
		}
		rt, ok = h.exact(rest)
		if !ok {
			rt, rest = nil, []string{""} // answered 404
		}
		return rt, rest, segs[:n]
	}
	n := len(segs)
	if n >= 2 {
		if rt := h.typeByEndpoint(segs[n-2]); rt != nil {
			return rt, segs[n-2:], segs[:n-2]
		}
		switch strings.ToLower(segs[n-2]) {
		case "resourcetypes", "schemas":
			return nil, segs[n-2:], segs[:n-2]
		}
	}
	if rt := h.typeByEndpoint(segs[n-1]); rt != nil {
		return rt, segs[n-1:], segs[:n-1]
	}
	return nil, segs[n-1:], segs[:n-1]
}

// mountSegments returns how many leading segments of the path belong to
// the host's mount point, if the request's ServeMux pattern or the base
// URL tells and the path agrees with it.
func (h *Handler) mountSegments(r *http.Request, segs []string) (int, bool) {
	if n, ok := prefixMatch(patternPath(r.Pattern), segs); ok {
		return n, true
	}
	if h.baseURL != "" {
		return prefixMatch(h.basePath, segs)
	}
	return 0, false
}

// patternPath returns the path of a ServeMux pattern ("GET host/p/" → "/p/").
func patternPath(pattern string) string {
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = pattern[i+1:]
	}
	if i := strings.IndexByte(pattern, '/'); i >= 0 {
		return pattern[i:]
	}
	return ""
}

// prefixMatch reports whether the path segments begin with the prefix
// pattern p ("/t/{tenant}/scim/v2/"; a {wildcard} matches one segment), and
// how many segments that is. Only a prefix pattern, ending in "/", counts.
func prefixMatch(p string, segs []string) (int, bool) {
	if !strings.HasSuffix(p, "/") {
		return 0, false
	}
	p = strings.Trim(p, "/")
	if p == "" {
		return 0, true
	}
	want := strings.Split(p, "/")
	if len(segs) < len(want) {
		return 0, false
	}
	for i, w := range want {
		switch {
		case strings.HasSuffix(w, "...}") || w == "{$}":
			return 0, false
		case strings.HasPrefix(w, "{") && strings.HasSuffix(w, "}"):
		case w != segs[i]:
			return 0, false
		}
	}
	return len(want), true
}

// exact classifies a SCIM path below the mount point.
func (h *Handler) exact(rest []string) (*resourceType, bool) {
	if len(rest) == 0 || rest[0] == "" {
		return nil, false
	}
	if rt := h.typeByEndpoint(rest[0]); rt != nil {
		return rt, len(rest) <= 2 && (len(rest) == 1 || rest[1] != "")
	}
	switch strings.ToLower(rest[0]) {
	case "resourcetypes", "schemas":
		return nil, len(rest) <= 2
	case ".search", "serviceproviderconfig", "bulk", "me":
		return nil, len(rest) == 1
	}
	return nil, false
}

func (h *Handler) typeByEndpoint(seg string) *resourceType {
	for _, rt := range h.types {
		if strings.EqualFold(strings.Trim(rt.Endpoint, "/"), seg) {
			return rt
		}
	}
	return nil
}
