package scim

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Bulk message schema URNs (RFC 7644 §3.7).
const (
	BulkRequestSchema  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	BulkResponseSchema = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
)

// WithBulk sets the most operations one /Bulk request may carry and its
// largest body, in bytes (defaults 1000 and 1 MiB), as advertised in
// /ServiceProviderConfig. maxOperations 0 turns /Bulk off.
func WithBulk(maxOperations int, maxPayloadBytes int64) Option {
	return func(h *Handler) { h.bulkMaxOps, h.bulkMaxBytes = maxOperations, maxPayloadBytes }
}

// bulkOp is one operation of a bulk request, as parsed.
type bulkOp struct {
	index   int
	method  string
	path    string
	bulkID  string
	version string
	data    any
	hasData bool
	refs    []string // the bulkIds its path and data refer to
	result  map[string]any
	done    bool

	// undefined is a bulkId it refers to that no operation of the request
	// defines, or "": the operation fails on its own (RFC 7644 §3.7.3).
	undefined string
}

const bulkIDPrefix = "bulkId:"

// serveBulk answers POST /Bulk (RFC 7644 §3.7). Each operation goes
// through the same code path as the single request it stands for —
// validation, limits, If-Match (its version), hooks and the caller's
// scope — in an order that creates what a bulkId names before the
// operations that refer to it. Operations whose references form a cycle,
// or refer to an operation that failed, are answered 409 and not run; one
// that refers to a bulkId no operation defines is answered 400 and not
// run, and the others go on (RFC 7644 §3.7.3).
func (h *Handler) serveBulk(req *request, p Principal) error {
	if h.bulkMaxOps == 0 {
		return &Error{Status: http.StatusNotImplemented, Detail: "bulk operations are not supported"}
	}
	limits := h.limits // each operation meets them again on its own path
	limits.BodyBytes = h.bulkMaxBytes
	body, err := readObject(req.r, limits)
	if err != nil {
		return err
	}
	if h.strict && !containsAny(body["schemas"], BulkRequestSchema) {
		return badRequest(SCIMTypeInvalidValue, "\"schemas\" must be [%q]", BulkRequestSchema)
	}
	ops, failOnErrors, err := h.parseBulk(body)
	if err != nil {
		return err
	}
	order, cyclic := bulkOrder(ops)
	created := map[string]string{} // bulkId → id
	failed := map[string]bool{}    // bulkIds whose operation failed
	errs := 0
	for _, op := range cyclic {
		op.result = bulkError(op, &Error{Status: http.StatusConflict, SCIMType: SCIMTypeInvalidValue,
			Detail: "the operation's references to bulkIds " + strings.Join(op.refs, ", ") + " are part of, or wait on, a cycle of references; nothing of it was created"})
		op.done = true
		errs++
	}
	for _, op := range order {
		if failOnErrors > 0 && errs >= failOnErrors {
			break
		}
		if op.undefined != "" {
			op.result = bulkError(op, badRequest(SCIMTypeInvalidValue,
				"bulkId %q is not defined by any operation of the request", op.undefined))
		} else if missing := unresolved(op, created, failed); missing != "" {
			op.result = bulkError(op, &Error{Status: http.StatusConflict, SCIMType: SCIMTypeInvalidValue,
				Detail: fmt.Sprintf("bulkId %q names no resource: its operation failed or did not run", missing)})
		} else {
			op.result = h.runBulkOp(req, p, op, created)
		}
		op.done = true
		status, _ := strconv.Atoi(op.result["status"].(string))
		switch {
		case status >= 400:
			errs++
			if op.bulkID != "" {
				failed[op.bulkID] = true
			}
		case op.bulkID != "" && op.method == http.MethodPost:
			loc, _ := op.result["location"].(string)
			created[op.bulkID] = loc[strings.LastIndexByte(loc, '/')+1:]
		}
	}
	results := make([]map[string]any, 0, len(ops))
	for _, op := range ops { // in the request's order; those not run are left out
		if op.done {
			results = append(results, op.result)
		}
	}
	writeJSON(req.w, http.StatusOK, map[string]any{"schemas": []string{BulkResponseSchema}, "Operations": results})
	return nil
}

// parseBulk reads the operations and failOnErrors of a bulk request.
func (h *Handler) parseBulk(body map[string]any) ([]*bulkOp, int, error) {
	var rawOps any
	failOnErrors := 0
	for k, v := range body {
		switch strings.ToLower(k) {
		case "operations":
			rawOps = v
		case "failonerrors":
			n, ok := v.(json.Number)
			i, err := n.Int64()
			if !ok || err != nil || i < 1 {
				return nil, 0, badRequest(SCIMTypeInvalidValue, "\"failOnErrors\" must be a positive integer")
			}
			failOnErrors = int(min(i, int64(h.bulkMaxOps)+1))
		}
	}
	list, ok := rawOps.([]any)
	if !ok || len(list) == 0 {
		return nil, 0, badRequest(SCIMTypeInvalidValue, "a bulk request needs a non-empty \"Operations\" array")
	}
	if len(list) > h.bulkMaxOps {
		return nil, 0, &Error{Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("the bulk request has %d operations, more than maxOperations (%d)", len(list), h.bulkMaxOps)}
	}
	ops := make([]*bulkOp, len(list))
	bulkIDs := map[string]bool{}
	for i, raw := range list {
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, 0, badRequest(SCIMTypeInvalidSyntax, "operation %d is not an object", i+1)
		}
		op := &bulkOp{index: i}
		for k, v := range m {
			s, _ := v.(string)
			switch strings.ToLower(k) {
			case "method":
				op.method = strings.ToUpper(s)
			case "path":
				op.path = s
			case "bulkid":
				op.bulkID = s
			case "version":
				op.version = s
			case "data":
				op.data, op.hasData = v, true
			}
		}
		switch {
		case op.method != http.MethodPost && op.method != http.MethodPut && op.method != http.MethodPatch && op.method != http.MethodDelete:
			return nil, 0, badRequest(SCIMTypeInvalidValue, "operation %d: method must be POST, PUT, PATCH or DELETE", i+1)
		case !strings.HasPrefix(op.path, "/"):
			return nil, 0, badRequest(SCIMTypeInvalidValue, "operation %d: \"path\" must be a resource path such as /Users or /Users/{id}", i+1)
		case op.method == http.MethodPost && op.bulkID == "":
			return nil, 0, badRequest(SCIMTypeInvalidValue, "operation %d: a POST needs a \"bulkId\"", i+1)
		case op.bulkID != "" && bulkIDs[op.bulkID]:
			return nil, 0, badRequest(SCIMTypeInvalidValue, "operation %d: bulkId %q is used twice", i+1, op.bulkID)
		case op.method != http.MethodDelete && !op.hasData:
			return nil, 0, badRequest(SCIMTypeInvalidValue, "operation %d: %s needs \"data\"", i+1, op.method)
		}
		if op.bulkID != "" {
			bulkIDs[op.bulkID] = true
		}
		op.refs = bulkRefs(op)
		ops[i] = op
	}
	for _, op := range ops {
		for _, ref := range op.refs {
			if !bulkIDs[ref] {
				op.undefined = ref
				break
			}
		}
	}
	return ops, failOnErrors, nil
}

// bulkRefs lists the bulkIds an operation's path and data name.
func bulkRefs(op *bulkOp) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if id, ok := strings.CutPrefix(s, bulkIDPrefix); ok && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, seg := range strings.Split(op.path, "/") {
		add(seg)
	}
	walkStrings(op.data, func(s string) string { add(s); return s })
	return out
}

// walkStrings calls f on every string in v and puts back what it returns.
func walkStrings(v any, f func(string) string) any {
	switch v := v.(type) {
	case string:
		return f(v)
	case map[string]any:
		for k, e := range v {
			v[k] = walkStrings(e, f)
		}
	case []any:
		for i, e := range v {
			v[i] = walkStrings(e, f)
		}
	}
	return v
}

// bulkOrder orders the operations so that each runs after those whose
// bulkIds it refers to, and otherwise in the request's order; it returns
// apart the operations on or behind a cycle of references.
func bulkOrder(ops []*bulkOp) (order, cyclic []*bulkOp) {
	creator := map[string]*bulkOp{}
	for _, op := range ops {
		if op.bulkID != "" {
			creator[op.bulkID] = op
		}
	}
	waiting := make([]int, len(ops)) // references not yet ordered
	dependents := make([][]*bulkOp, len(ops))
	for _, op := range ops {
		for _, ref := range op.refs {
			c := creator[ref]
			if c == nil || c == op {
				// No operation defines it: nothing to wait for, the
				// operation fails (see undefined). A resource cannot refer
				// to itself before it exists; the handler answers that.
				continue
			}
			waiting[op.index]++
			dependents[c.index] = append(dependents[c.index], op)
		}
	}
	// Kahn's algorithm, taking the ready operation that comes first.
	ready := &byIndex{}
	for _, op := range ops {
		if waiting[op.index] == 0 {
			heap.Push(ready, op)
		}
	}
	for ready.Len() > 0 {
		op := heap.Pop(ready).(*bulkOp)
		order = append(order, op)
		for _, d := range dependents[op.index] {
			if waiting[d.index]--; waiting[d.index] == 0 {
				heap.Push(ready, d)
			}
		}
	}
	for _, op := range ops {
		if waiting[op.index] > 0 {
			cyclic = append(cyclic, op)
		}
	}
	return order, cyclic
}

// unresolved returns a bulkId op refers to that names no created
// resource, or "".
func unresolved(op *bulkOp, created map[string]string, failed map[string]bool) string {
	for _, ref := range op.refs {
		if _, ok := created[ref]; !ok && (failed[ref] || ref != op.bulkID) {
			return ref
		}
	}
	return ""
}

// runBulkOp serves one operation as the single request it stands for and
// returns its entry of the bulk response.
func (h *Handler) runBulkOp(outer *request, p Principal, op *bulkOp, created map[string]string) map[string]any {
	resolve := func(s string) string {
		if ref, ok := strings.CutPrefix(s, bulkIDPrefix); ok {
			if id, ok := created[ref]; ok {
				return id
			}
		}
		return s
	}
	segs := strings.Split(strings.Trim(op.path, "/"), "/")
	for i, s := range segs {
		segs[i] = resolve(s)
	}
	var body []byte
	if op.hasData {
		var err error
		if body, err = json.Marshal(walkStrings(op.data, resolve)); err != nil {
			return bulkError(op, badRequest(SCIMTypeInvalidSyntax, "operation data cannot be encoded: %v", err))
		}
	}
	// Each operation is a transaction of its own (Change.Txn "txn:index").
	ctx := context.WithValue(outer.r.Context(), txnKey{}, txnFrom(outer.r.Context())+":"+strconv.Itoa(op.index))
	r, err := http.NewRequestWithContext(ctx, op.method, outer.base+"/"+strings.Join(segs, "/"), bytes.NewReader(body))
	if err != nil {
		return bulkError(op, badRequest(SCIMTypeInvalidValue, "operation path %q is not a valid path", op.path))
	}
	r.Header.Set("Content-Type", mediaType)
	if op.version != "" {
		r.Header.Set("If-Match", op.version)
	}
	w := &bulkWriter{header: http.Header{}}
	inner := &request{w: w, r: r, base: outer.base}
	start := time.Now()
	rt, ok := h.exact(segs)
	switch {
	case !ok || rt == nil:
		err = &Error{Status: http.StatusNotFound, Detail: "operation path " + op.path + " is no resource endpoint"}
	case op.method == http.MethodPost && len(segs) != 1:
		err = badRequest(SCIMTypeInvalidValue, "a POST operation's path must be a resource type endpoint such as /Users")
	case op.method != http.MethodPost && len(segs) != 2:
		err = badRequest(SCIMTypeInvalidValue, "a %s operation's path must name a resource, such as /Users/{id}", op.method)
	default:
		err = h.dispatch(inner, p, rt, segs)
	}
	typ := ""
	if rt != nil {
		typ = rt.Name
	}
	if err != nil {
		out := bulkError(op, h.reported(r, err))
		status, _ := strconv.Atoi(out["status"].(string))
		h.logWrite(r.Context(), op.method, typ, writtenID(w, segs), status, time.Since(start), inner.afterFailed)
		return out
	}
	h.logWrite(r.Context(), op.method, typ, writtenID(w, segs), w.status, time.Since(start), inner.afterFailed)
	out := map[string]any{"method": op.method, "status": strconv.Itoa(w.status)}
	if op.bulkID != "" {
		out["bulkId"] = op.bulkID
	}
	if loc := w.header.Get("Location"); loc != "" {
		out["location"] = loc
	} else {
		out["location"] = outer.base + "/" + strings.Join(segs, "/")
	}
	if v := w.header.Get("ETag"); v != "" {
		out["version"] = v
	}
	return out
}

// bulkError is the bulk response entry of an operation that failed.
func bulkError(op *bulkOp, err error) map[string]any {
	e := toError(err)
	body := map[string]any{"schemas": []string{ErrorSchema}, "status": strconv.Itoa(e.Status)}
	if e.SCIMType != "" {
		body["scimType"] = e.SCIMType
	}
	if e.Detail != "" {
		body["detail"] = e.Detail
	}
	out := map[string]any{"method": op.method, "status": strconv.Itoa(e.Status), "response": body}
	if op.bulkID != "" {
		out["bulkId"] = op.bulkID
	}
	return out
}

// bulkWriter records what the single request of an operation answered;
// the body is not kept, since a bulk response carries only errors'.
type bulkWriter struct {
	header http.Header
	status int
}

func (w *bulkWriter) Header() http.Header { return w.header }

func (w *bulkWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(b), nil
}

func (w *bulkWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

// byIndex is a container/heap of operations, least index first.
type byIndex []*bulkOp

func (q byIndex) Len() int           { return len(q) }
func (q byIndex) Less(i, j int) bool { return q[i].index < q[j].index }
func (q byIndex) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *byIndex) Push(x any)        { *q = append(*q, x.(*bulkOp)) }
func (q *byIndex) Pop() any {
	old := *q
	op := old[len(old)-1]
	*q = old[:len(old)-1]
	return op
}
