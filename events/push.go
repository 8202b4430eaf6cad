package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/scimkit/scim"
)

// The defaults of a Pusher's zero fields.
const (
	DefaultPushBatch   = 10
	DefaultPushTimeout = 30 * time.Second
)

// maxReceiverBody bounds what is read of a receiver's answer.
const maxReceiverBody = 64 << 10

// Pusher delivers one receiver's SETs by push (RFC 8935): it POSTs each
// SET, in feed order, to URL with Content-Type application/secevent+jwt
// and Accept application/json, and goes on with the next once the
// receiver answered 202 Accepted (any 2xx). Set Name, Store, Publisher
// and URL, then call Run.
//
// A Pusher is a durable consumer (Consumer) named Name: its position is
// kept in the store after every Batch SETs (and before it stops on a
// refusal), so a process that stops, however it stops, sends again at
// most the batch it was sending; with
// several replicas, one pushes at a time (a lease). Nothing is skipped:
//
//   - a network error, a timeout, or an answer 5xx, 408, 425 or 429 is
//     passing: the SET is sent again after a backoff that doubles from
//     MinBackoff to MaxBackoff, for as long as it takes, each failure
//     logged at Warn level;
//   - any other answer (a 400 with RFC 8935 §2.3's {"err", "description"},
//     a 401 or 403, a 404, a redirect, which is not followed) is the
//     receiver refusing the SET, and sending it again would not change
//     its mind: Run logs the refusal at Error level and returns a
//     *ReceiverError naming the SET and the receiver's answer. The
//     position stays before that SET, so the next Run (once the key, the
//     audience or the URL is fixed) sends it first.
//
// A SET sent again carries the jti it had (Publisher.JTI), as RFC 8935
// §2 lets a transmitter send a SET more than once, and asks a receiver to
// answer a repeat as it answered the first. Receivers drop repeats by jti.
type Pusher struct {
	// Name names the receiver's consumer in the store's ledger, per
	// tenant. Required, and used by nothing else.
	Name string
	// Store is the feed and the ledger (memstore's and postgres' stores
	// are both).
	Store scim.Store
	// Publisher renders the SETs. Required.
	Publisher *Publisher
	// URL is the receiver's push endpoint. Required; use https (RFC 9967
	// §5).
	URL string
	// Header is sent with every push: the receiver's Authorization, say.
	Header http.Header
	// Client sends the pushes; by default one with a DefaultPushTimeout
	// timeout that does not follow redirects.
	Client *http.Client
	// AllTenants pushes every tenant's changes; else those of the tenant
	// of Run's context.
	AllTenants bool
	// Batch is the number of changes read, and SETs pushed, between two
	// keepings of the position (DefaultPushBatch).
	Batch int
	// Lease, Owner, MinBackoff, MaxBackoff and Expired are the
	// Consumer's (see Consumer).
	Lease                  time.Duration
	Owner                  string
	MinBackoff, MaxBackoff time.Duration
	Expired                func(ctx context.Context) (position string, err error)
	// Logger receives the Pusher's reports; slog.Default() by default.
	Logger *slog.Logger
}

// ReceiverError is a receiver's refusal of a pushed SET: an answer that
// is neither a success nor a passing failure.
type ReceiverError struct {
	// URL is the receiver's endpoint, Status the HTTP status it answered.
	URL    string
	Status int
	// Code and Description are the "err" and "description" of its RFC
	// 8935 §2.3 error body ("invalid_audience", …), when it sent one.
	Code, Description string
	// JTI and Position identify the SET and its change.
	JTI, Position string
}

// Error names the receiver, its answer and the SET.
func (e *ReceiverError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "events: receiver %s refused SET %s (change %s): %d %s", e.URL, e.JTI, e.Position, e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		fmt.Fprintf(&b, ": %s", e.Code)
	}
	if e.Description != "" {
		fmt.Fprintf(&b, ": %q", e.Description)
	}
	return b.String()
}

// Run pushes until ctx ends, and returns ctx's error; or returns a
// *ReceiverError (wrapped) when the receiver refuses a SET, an
// ErrUnrenderable error when a change cannot be rendered, or a
// configuration error.
func (p *Pusher) Run(ctx context.Context) error {
	if err := p.check(); err != nil {
		return err
	}
	log := p.logger().With("receiver", p.Name, "url", p.URL)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	owner := p.Owner
	if owner == "" {
		owner = defaultOwner()
	}
	ledger, _ := p.Store.(scim.ConsumerLedger) // Consumer.Run checks it
	// Handle runs in this goroutine (Consumer.Run calls it), so these
	// need no lock.
	var (
		stop     error  // the refusal that stops the push
		accepted string // the position of the last SET accepted
	)
	c := &Consumer{
		Name: p.Name, Store: p.Store, AllTenants: p.AllTenants, Batch: p.Batch, Lease: p.Lease, Owner: owner,
		MinBackoff: p.MinBackoff, MaxBackoff: p.MaxBackoff, MaxAttempts: -1, Expired: p.Expired, Logger: p.Logger,
		Handle: func(ctx context.Context, ch scim.Change) error {
			err := p.push(ctx, log, ch)
			var refused *ReceiverError
			switch {
			case err == nil:
				accepted = ch.Position
			case errors.As(err, &refused) || errors.Is(err, ErrUnrenderable):
				// Keep what the receiver accepted of the batch, so that
				// the next Run starts with the refused SET.
				if accepted != "" && ledger != nil {
					if aerr := ledger.Advance(ctx, p.Name, owner, accepted); aerr != nil {
						log.WarnContext(ctx, "events: keeping the pusher's position before it stops", "err", aerr)
					}
				}
				stop = err
				cancel()
			}
			return err
		},
	}
	if c.Batch <= 0 {
		c.Batch = DefaultPushBatch
	}
	err := c.Run(rctx)
	if stop != nil {
		log.ErrorContext(ctx, "events: push stopped: the receiver refused a SET, or it cannot be rendered", "err", stop)
		return fmt.Errorf("events: pusher %q stopped: %w", p.Name, stop)
	}
	return err
}

func (p *Pusher) check() error {
	if p.Name == "" {
		return errors.New("events: a Pusher needs a Name")
	}
	if err := p.Publisher.check(); err != nil {
		return fmt.Errorf("events: pusher %q: %w", p.Name, err)
	}
	u, err := url.Parse(p.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("events: pusher %q: URL %q is no http(s) URL", p.Name, p.URL)
	}
	return nil
}

func (p *Pusher) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}

// defaultClient sends pushes without a Client of the host's.
var defaultClient = &http.Client{
	Timeout:       DefaultPushTimeout,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// push renders change ch and posts its SET once.
func (p *Pusher) push(ctx context.Context, log *slog.Logger, ch scim.Change) error {
	set, err := p.Publisher.Render(ctx, ch)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, strings.NewReader(set.Token))
	if err != nil {
		return fmt.Errorf("events: push request: %w", err)
	}
	for k, v := range p.Header {
		req.Header[k] = append([]string(nil), v...)
	}
	req.Header.Set("Content-Type", "application/"+SETType)
	req.Header.Set("Accept", "application/json")
	client := p.Client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("events: pushing SET %s to %s: %w", set.Claims.JTI, p.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxReceiverBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxReceiverBody)) // let the connection be reused
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		log.DebugContext(ctx, "events: SET pushed", "jti", set.Claims.JTI, "position", ch.Position, "status", s)
		return nil
	case s >= 500, s == http.StatusRequestTimeout, s == http.StatusTooEarly, s == http.StatusTooManyRequests:
		return fmt.Errorf("events: pushing SET %s to %s: %s%s", set.Claims.JTI, p.URL, resp.Status, describeBody(resp, body))
	}
	refused := &ReceiverError{URL: p.URL, Status: resp.StatusCode, JTI: set.Claims.JTI, Position: ch.Position}
	var e setErr
	if json.Unmarshal(body, &e) == nil {
		refused.Code, refused.Description = e.Err, e.Description
	} else if len(body) > 0 && isText(resp) {
		refused.Description = strings.TrimSpace(string(body[:min(len(body), 512)]))
	}
	return refused
}

// describeBody returns the error a receiver's body gives, for a log
// line: ": err: description", or "".
func describeBody(resp *http.Response, body []byte) string {
	var e setErr
	if json.Unmarshal(body, &e) == nil && e.Err != "" {
		return fmt.Sprintf(": %s: %q", e.Err, e.Description)
	}
	if len(body) > 0 && isText(resp) {
		return fmt.Sprintf(": %q", strings.TrimSpace(string(body[:min(len(body), 200)])))
	}
	return ""
}

// isText reports whether resp's body is text a log may quote.
func isText(resp *http.Response) bool {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return strings.HasPrefix(mt, "text/") || mt == "application/json"
}
