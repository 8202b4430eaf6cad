package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/scimkit/scim"
)

// The defaults of a PollHandler's zero fields.
const (
	DefaultMaxEvents = 100
	DefaultPollWait  = 30 * time.Second
	// DefaultPollOwner is the owner a PollHandler holds its consumer's
	// lease as (PollHandler.Owner).
	DefaultPollOwner = "events.PollHandler"
)

// maxPollBody bounds a poll request's body.
const maxPollBody = 1 << 20

// maxWindow bounds the changes one poll reads after the receiver's
// position.
const maxWindow = 10_000

// PollHandler serves one receiver's SETs by poll-based delivery (RFC
// 8936): the receiver POSTs a JSON poll request and gets the SETs it has
// not acknowledged yet. It is an http.Handler the host mounts where the
// receiver was told to poll, behind the host's own authentication of
// that receiver (RFC 8936 §3 requires it; SETs carry personal data): the
// handler itself lets every request through.
//
// A poll request may carry the members RFC 8936 §2.2 defines:
//
//   - "ack": the jti values of SETs the receiver has kept;
//   - "setErrs": jti → {"err", "description"} for SETs it could not
//     parse or validate, logged at Warn level and then treated as
//     acknowledged (sending the same bytes again would not help);
//   - "maxEvents": the largest number of SETs to return (at most
//     MaxEvents; 0 only acknowledges, and answers at once);
//   - "returnImmediately": answer at once even when there is nothing to
//     deliver. Without it, a poll that finds nothing waits for the next
//     change (ChangeFeed.WaitChanges, no busy polling) up to MaxWait or
//     until the request's context ends (RFC 8936 §2.5 long polling), then
//     answers with what it found, perhaps nothing.
//
// The answer is {"sets": {jti: SET, …}, "moreAvailable": bool}, the SETs
// in feed order, oldest first.
//
// # Durability
//
// The receiver is a durable consumer of the feed, named Name in the
// store's ledger (scim.ConsumerLedger): its position is the last change
// up to which every SET has been acknowledged, and it is kept in the
// store as the acknowledgements come. Every poll delivers the oldest SETs
// after that position that have not been acknowledged, so a SET delivered
// but not acknowledged (a lost response, a receiver that crashed before
// keeping it) comes again in the next poll, with the same jti. A SET
// acknowledged while an older one is not is remembered in this process,
// and not delivered again while it runs; after a restart it may be, once
// (at-least-once delivery; receivers drop repeats by jti, and RFC 8936
// §2.4 asks them to accept and acknowledge repeats). Nothing
// acknowledged is lost, and nothing unacknowledged is skipped, across
// restarts, crashes and deploys; on PostgreSQL, across replicas too:
// the handler holds the consumer's lease as Owner, which every replica
// shares (DefaultPollOwner), so any of them may serve the receiver.
//
// Polls of one receiver are served one at a time in a process (the wait
// of a long poll excepted). A long poll on PostgreSQL holds a connection
// of the pool while it waits.
//
// Tenants: the handler consumes the changes of the tenant in the request's
// context (scim.TenantFrom, which the host's authentication sets), or of
// all tenants with AllTenants; the ledger keeps a position per tenant.
type PollHandler struct {
	// Name names the receiver's consumer in the store's ledger, per
	// tenant: "receiver:siem", say. Required, and used by nothing else.
	Name string
	// Store is the feed and the ledger (a scim.ChangeFeed and a
	// scim.ConsumerLedger: memstore's and postgres' stores are both).
	Store scim.Store
	// Publisher renders the SETs. Required.
	Publisher *Publisher
	// AllTenants delivers every tenant's changes.
	AllTenants bool
	// MaxEvents is the most SETs one answer carries (DefaultMaxEvents);
	// a request's maxEvents may lower it.
	MaxEvents int
	// MaxWait bounds a long poll's wait (DefaultPollWait).
	MaxWait time.Duration
	// Owner is who holds the consumer's lease (DefaultPollOwner); keep it
	// the same across restarts and replicas.
	Owner string
	// Expired is called when the receiver's position is older than the
	// feed keeps (scim.ErrPositionExpired): SETs were lost to it. It
	// returns the position to go on from (typically the feed's Head, after
	// the receiver was told to resynchronise out of band). Without it,
	// polls answer 500 and log the error.
	Expired func(ctx context.Context) (position string, err error)
	// Logger receives the handler's reports; slog.Default() by default.
	Logger *slog.Logger

	mu    sync.Mutex
	acked map[string]map[string]bool // per ledger tenant: positions acknowledged past the first unacknowledged one
}

// pollRequest is an RFC 8936 §2.2 poll request.
type pollRequest struct {
	MaxEvents         *int              `json:"maxEvents"`
	ReturnImmediately bool              `json:"returnImmediately"`
	Ack               []string          `json:"ack"`
	SetErrs           map[string]setErr `json:"setErrs"`
}

// setErr is a receiver's report of a SET it could not accept (RFC 8935
// §2.3's error object).
type setErr struct {
	Err         string `json:"err"`
	Description string `json:"description"`
}

// pollResponse is an RFC 8936 §2.3 poll response.
type pollResponse struct {
	Sets          map[string]string `json:"sets"`
	MoreAvailable bool              `json:"moreAvailable"`
}

// errBusy: another owner holds the receiver's lease.
var errBusy = errors.New("events: another owner holds the receiver's lease")

// ServeHTTP implements http.Handler: one RFC 8936 poll.
func (h *PollHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	log := h.logger().With("receiver", h.Name, "tenant", scim.TenantFrom(ctx))
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writePollError(w, http.StatusMethodNotAllowed, "invalid_request", "poll with POST (RFC 8936 §2.1)")
		return
	}
	req, err := readPoll(r)
	if err != nil {
		writePollError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	resp, err := h.poll(ctx, log, req)
	switch {
	case err == nil:
	case errors.Is(err, errBusy):
		log.WarnContext(ctx, "events: poll refused: another owner holds the receiver's lease (a Consumer or Pusher under the same Name?)", "owner", h.owner())
		w.Header().Set("Retry-After", "5")
		writePollError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the receiver's feed is held by another owner")
		return
	case ctx.Err() != nil:
		return // the receiver went away
	default:
		log.ErrorContext(ctx, "events: poll failed", "err", err)
		writePollError(w, http.StatusInternalServerError, "server_error", "the poll could not be answered")
		return
	}
	body, err := json.Marshal(resp)
	if err != nil {
		log.ErrorContext(ctx, "events: encoding a poll response", "err", err)
		writePollError(w, http.StatusInternalServerError, "server_error", "the poll could not be answered")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// readPoll reads and checks a poll request; an empty body is a poll with
// the defaults.
func readPoll(r *http.Request) (pollRequest, error) {
	var req pollRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPollBody+1))
	switch {
	case err != nil:
		return req, fmt.Errorf("reading the poll request: %w", err)
	case len(body) > maxPollBody:
		return req, fmt.Errorf("the poll request is larger than %d bytes", maxPollBody)
	case strings.TrimSpace(string(body)) == "":
		return req, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("the poll request is not a poll object (RFC 8936 §2.2): %w", err)
	}
	if dec.More() {
		return req, errors.New("the poll request has data after its JSON object")
	}
	if req.MaxEvents != nil && *req.MaxEvents < 0 {
		return req, fmt.Errorf("maxEvents %d is negative", *req.MaxEvents)
	}
	for jti, e := range req.SetErrs {
		if e.Err == "" {
			return req, fmt.Errorf("setErrs[%q] has no err code", jti)
		}
	}
	return req, nil
}

// writePollError answers an error with RFC 8935 §2.3's JSON error object.
func writePollError(w http.ResponseWriter, status int, code, description string) {
	body, _ := json.Marshal(setErr{Err: code, Description: description})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Language", "en")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (h *PollHandler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

func (h *PollHandler) owner() string {
	if h.Owner != "" {
		return h.Owner
	}
	return DefaultPollOwner
}

func (h *PollHandler) maxEvents() int {
	if h.MaxEvents > 0 {
		return h.MaxEvents
	}
	return DefaultMaxEvents
}

// stores returns the Store as a feed and a ledger, or a configuration
// error.
func (h *PollHandler) stores() (scim.ChangeFeed, scim.ConsumerLedger, error) {
	if h.Name == "" {
		return nil, nil, errors.New("events: a PollHandler needs a Name")
	}
	if err := h.Publisher.check(); err != nil {
		return nil, nil, fmt.Errorf("events: PollHandler %q: %w", h.Name, err)
	}
	feed, ok := h.Store.(scim.ChangeFeed)
	if !ok {
		return nil, nil, fmt.Errorf("events: PollHandler %q: %T keeps no change feed (scim.ChangeFeed)", h.Name, h.Store)
	}
	ledger, ok := h.Store.(scim.ConsumerLedger)
	if !ok {
		return nil, nil, fmt.Errorf("events: PollHandler %q: %T keeps no consumer positions (scim.ConsumerLedger)", h.Name, h.Store)
	}
	return feed, ledger, nil
}

// poll answers req: acknowledgements first, then the SETs to deliver,
// waiting for them unless the request says not to.
func (h *PollHandler) poll(ctx context.Context, log *slog.Logger, req pollRequest) (pollResponse, error) {
	feed, ledger, err := h.stores()
	if err != nil {
		return pollResponse{}, err
	}
	limit := h.maxEvents()
	if req.MaxEvents != nil && *req.MaxEvents < limit {
		limit = *req.MaxEvents
	}
	wait := h.MaxWait
	if wait <= 0 {
		wait = DefaultPollWait
	}
	waitCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	mayWait := limit > 0 && !req.ReturnImmediately
	for {
		st, err := h.step(ctx, log, feed, ledger, req, limit, mayWait)
		if err != nil {
			return pollResponse{}, err
		}
		req.Ack, req.SetErrs = nil, nil // kept by the first step
		if len(st.sets) > 0 || !mayWait {
			return st.response(), nil
		}
		err = feed.WaitChanges(waitCtx, scim.ChangeQuery{After: st.waitAfter, AllTenants: h.AllTenants})
		switch {
		case ctx.Err() != nil:
			return pollResponse{}, ctx.Err()
		case waitCtx.Err() != nil: // waited long enough: nothing to deliver
			return st.response(), nil
		case err != nil:
			return pollResponse{}, fmt.Errorf("events: waiting for changes: %w", err)
		}
	}
}

// stepResult is what one step of a poll found.
type stepResult struct {
	sets      []SET
	more      bool
	waitAfter string // the position to wait for changes after
}

func (st stepResult) response() pollResponse {
	resp := pollResponse{Sets: make(map[string]string, len(st.sets)), MoreAvailable: st.more}
	for _, s := range st.sets {
		resp.Sets[s.Claims.JTI] = s.Token
	}
	return resp
}

// step keeps req's acknowledgements, advances the receiver's position
// past every acknowledged SET, and renders the next SETs to deliver (at
// most limit). With head, it reads the feed's head first, for the wait.
func (h *PollHandler) step(ctx context.Context, log *slog.Logger, feed scim.ChangeFeed, ledger scim.ConsumerLedger,
	req pollRequest, limit int, head bool) (stepResult, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	position, ok, err := ledger.Acquire(ctx, h.Name, h.owner(), DefaultLease)
	switch {
	case err != nil:
		return stepResult{}, fmt.Errorf("events: taking the receiver's lease: %w", err)
	case !ok:
		return stepResult{}, errBusy
	}
	var st stepResult
	if head {
		if st.waitAfter, err = feed.Head(ctx); err != nil {
			return stepResult{}, fmt.Errorf("events: reading the feed's head: %w", err)
		}
	}
	acked := h.ackedOf(scim.TenantFrom(ctx))
	if len(acked) > maxWindow/2 {
		// The receiver acknowledges what follows a SET it never
		// acknowledges: forget the later ones (they come again, once)
		// rather than read ever more of the feed to skip them.
		log.WarnContext(ctx, "events: the receiver leaves a SET unacknowledged while acknowledging thousands after it", "position", position)
		clear(acked)
	}
	size := min(2*h.maxEvents()+len(acked)+len(req.Ack)+len(req.SetErrs)+1, maxWindow)
	window, err := h.window(ctx, log, feed, ledger, &position, size)
	if err != nil {
		return stepResult{}, err
	}

	// Keep the acknowledgements and errors of SETs in the window.
	if len(req.Ack)+len(req.SetErrs) > 0 {
		byJTI := make(map[string]scim.Change, len(window))
		for _, c := range window {
			byJTI[h.Publisher.JTI(c)] = c
		}
		for _, jti := range req.Ack {
			if c, ok := byJTI[jti]; ok {
				acked[c.Position] = true
			} else {
				log.DebugContext(ctx, "events: acknowledgement of a SET not outstanding (acknowledged before, or unknown)", "jti", jti)
			}
		}
		for jti, e := range req.SetErrs {
			c, ok := byJTI[jti]
			log.WarnContext(ctx, "events: the receiver could not accept a SET", "jti", jti, "err", e.Err,
				"description", e.Description, "position", c.Position, "resource_type", c.Type, "id", c.ID, "outstanding", ok)
			if ok {
				acked[c.Position] = true
			}
		}
	}

	// Advance past the acknowledged SETs at the window's start.
	start := 0
	for start < len(window) && acked[window[start].Position] {
		delete(acked, window[start].Position)
		start++
	}
	if start > 0 {
		next := window[start-1].Position
		if err := ledger.Advance(ctx, h.Name, h.owner(), next); err != nil {
			return stepResult{}, fmt.Errorf("events: keeping the receiver's position: %w", err)
		}
		log.DebugContext(ctx, "events: receiver acknowledged SETs", "position", next, "acknowledged", start)
		position = next
	}
	for p := range acked { // positions another replica advanced past
		if p <= position {
			delete(acked, p)
		}
	}
	window = window[start:]

	// Render the next SETs.
	for _, c := range window {
		if acked[c.Position] {
			continue
		}
		if len(st.sets) >= limit {
			st.more = true
			break
		}
		set, err := h.Publisher.Render(ctx, c)
		if err != nil {
			return stepResult{}, err
		}
		st.sets = append(st.sets, set)
	}
	if len(window)+start >= size && len(st.sets) >= limit {
		st.more = true // the window was full: there may be more past it
	}
	if n := len(window); n > 0 && window[n-1].Position > st.waitAfter {
		st.waitAfter = window[n-1].Position
	}
	if position > st.waitAfter {
		st.waitAfter = position
	}
	return st, nil
}

// window reads up to size changes after *position, resynchronising an
// expired position through Expired.
func (h *PollHandler) window(ctx context.Context, log *slog.Logger, feed scim.ChangeFeed, ledger scim.ConsumerLedger,
	position *string, size int) ([]scim.Change, error) {
	var out []scim.Change
	after := *position
	for len(out) < size {
		page, err := feed.Changes(ctx, scim.ChangeQuery{After: after, Limit: size - len(out), AllTenants: h.AllTenants})
		if errors.Is(err, scim.ErrPositionExpired) && len(out) == 0 && h.Expired != nil {
			log.WarnContext(ctx, "events: the receiver's position expired; resynchronising", "position", *position)
			next, err := h.Expired(ctx)
			if err != nil {
				return nil, fmt.Errorf("events: resynchronising receiver %q: %w", h.Name, err)
			}
			if err := ledger.Advance(ctx, h.Name, h.owner(), next); err != nil {
				return nil, fmt.Errorf("events: keeping the receiver's position: %w", err)
			}
			clear(h.ackedOf(scim.TenantFrom(ctx))) // what was acknowledged past the old position is moot
			*position, after = next, next
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("events: reading the feed after %q for receiver %q: %w", after, h.Name, err)
		}
		if len(page) == 0 {
			break
		}
		out = append(out, page...)
		after = page[len(page)-1].Position
	}
	return out, nil
}

// ackedOf returns the acknowledged positions of tenant's receiver.
func (h *PollHandler) ackedOf(tenant string) map[string]bool {
	if h.acked == nil {
		h.acked = map[string]map[string]bool{}
	}
	m := h.acked[tenant]
	if m == nil {
		m = map[string]bool{}
		h.acked[tenant] = m
	}
	return m
}
