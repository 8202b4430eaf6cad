package scim

import (
	"net/http"
	"strconv"
	"sync"
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

// writeJSON answers with v's JSON encoding.
func writeJSON(w http.ResponseWriter, status int, v any) {
	writeEncoded(w, status, func(b []byte) ([]byte, error) { return appendJSON(b, v) })
}

// buffers keeps response buffers between requests, so that a response
// does not allocate its body: the allocation, and the garbage collection
// it costs, are most of what a read spends besides the network. Reusing a
// buffer once Write returned is safe: io.Writer must not retain it.
type buffers struct{ pool sync.Pool }

// buffer is one response body being written.
type buffer struct{ b []byte }

// maxKeptBuffer is the largest buffer kept for reuse: a page of large
// groups should not stay allocated.
const maxKeptBuffer = 64 << 10

func (p *buffers) get() *buffer {
	if b, ok := p.pool.Get().(*buffer); ok {
		b.b = b.b[:0]
		return b
	}
	return &buffer{b: make([]byte, 0, 4096)}
}

func (p *buffers) put(b *buffer) {
	if cap(b.b) <= maxKeptBuffer {
		p.pool.Put(b)
	}
}

// writeEncoded answers with the JSON body encode appends to an empty
// buffer (see send).
func writeEncoded(w http.ResponseWriter, status int, encode func([]byte) ([]byte, error)) {
	body, err := encode(make([]byte, 0, 2048))
	send(w, status, body, err)
}

// send answers with a JSON body, or with a 500 when encoding it failed
// with err.
func send(w http.ResponseWriter, status int, body []byte, err error) {
	sendResource(w, status, "", body, err)
}

// sendResource is send for a resource at version, which it gives as its
// ETag.
func sendResource(w http.ResponseWriter, status int, version string, body []byte, err error) {
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"schemas":["` + ErrorSchema + `"],"status":"500","detail":"cannot encode response"}`)
		version = ""
	}
	// One string for the length and the ETag, and one array for the header
	// values: their slices are cut from them.
	var buf [64]byte // room for the length and a version of this module's stores
	text := strconv.AppendInt(buf[:0], int64(len(body)), 10)
	n := len(text)
	s := string(appendETag(text, version))
	values := []string{mediaType, s[:n], s[n:]}
	h := w.Header()
	h["Content-Type"] = values[0:1:1]
	h["Content-Length"] = values[1:2:2]
	if len(s) > n {
		h["Etag"] = values[2:3:3]
	}
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
	setRetryAfter(w.Header(), e.Status)
	writeJSON(w, e.Status, body)
}

// listHead is what a ListResponse (RFC 7644 §3.4.2) says besides its
// Resources.
type listHead struct {
	total      int    // totalResults
	items      int    // itemsPerPage: how many Resources follow
	startIndex int    // 0 on a cursor page, which has none (RFC 9865)
	next       string // nextCursor; "" when none
}

// appendList appends a ListResponse whose Resources items appends, each
// element after a comma unless it is the first (b ends with '[').
func appendList(b []byte, head listHead, items func([]byte) ([]byte, error)) ([]byte, error) {
	b = append(b, `{"schemas":["`+ListResponseSchema+`"],"totalResults":`...)
	b = strconv.AppendInt(b, int64(head.total), 10)
	b = append(b, `,"itemsPerPage":`...)
	b = strconv.AppendInt(b, int64(head.items), 10)
	if head.startIndex > 0 {
		b = append(b, `,"startIndex":`...)
		b = strconv.AppendInt(b, int64(head.startIndex), 10)
	}
	if head.next != "" {
		b = append(b, `,"nextCursor":`...)
		b = appendString(b, head.next)
	}
	b = append(b, `,"Resources":[`...)
	b, err := items(b)
	return append(b, "]}"...), err
}

// writeObjects answers with a ListResponse of objects, all on one page.
func writeObjects(w http.ResponseWriter, objects []map[string]any) {
	head := listHead{total: len(objects), items: len(objects), startIndex: 1}
	writeEncoded(w, http.StatusOK, func(b []byte) ([]byte, error) {
		return appendList(b, head, func(b []byte) ([]byte, error) {
			var err error
			for i, o := range objects {
				if i > 0 {
					b = append(b, ',')
				}
				if b, err = appendObject(b, o); err != nil {
					break
				}
			}
			return b, err
		})
	})
}
