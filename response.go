package scim

import (
	"net/http"
	"strconv"
)

// Message schema URNs (RFC 7644 §3.1).
const (
	ListResponseSchema  = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	SearchRequestSchema = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	PatchOpSchema       = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	ErrorSchema         = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// mediaType is the SCIM media type (RFC 7644 §8.1).
const mediaType = "application/scim+json"

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := appendJSON(make([]byte, 0, 1024), v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"schemas":["` + ErrorSchema + `"],"status":"500","detail":"cannot encode response"}`)
	}
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// reported returns the SCIM error a client gets for err. A server error
// (5xx but 501, which is an answer, not a failure) is logged with its
// cause and a request id, which the client gets in the detail instead of
// the cause: store, SQL and Go errors never reach a response.
func (h *Handler) reported(r *http.Request, err error) *Error {
	e := toError(err)
	if e.Status >= 500 && e.Status != http.StatusNotImplemented {
		id := RequestIDFrom(r.Context())
		h.logger.ErrorContext(r.Context(), "scim: request failed", "request_id", id, "method", r.Method,
			"path", r.URL.Path, "status", e.Status, "detail", e.Detail, "err", e.Err)
		e = &Error{Status: e.Status, SCIMType: e.SCIMType, Detail: e.Detail + " (request id " + id + ")"}
	}
	return e
}

// writeError sends err as a SCIM error body (see reported).
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := h.reported(r, err)
	body := map[string]any{"schemas": []string{ErrorSchema}, "status": strconv.Itoa(e.Status)}
	if e.SCIMType != "" {
		body["scimType"] = e.SCIMType
	}
	if e.Detail != "" {
		body["detail"] = e.Detail
	}
	writeJSON(w, e.Status, body)
}

// listResponse is the body of a list or search answer.
func listResponse(resources []map[string]any, total, startIndex int) map[string]any {
	if resources == nil {
		resources = []map[string]any{}
	}
	return map[string]any{
		"schemas":      []string{ListResponseSchema},
		"totalResults": total,
		"itemsPerPage": len(resources),
		"startIndex":   startIndex,
		"Resources":    resources,
	}
}
