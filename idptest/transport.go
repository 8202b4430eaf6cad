package idptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"time"
)

// Exchange is one request the kit sent and the response it got.
type Exchange struct {
	// Phase is the part of the identity provider's work the request
	// belongs to, in its words: "Match user between source and target
	// system", "Perform action", or the kit's own read-back.
	Phase          string
	Method         string
	URL            string
	RequestBody    []byte
	Status         int // 0 when no response came
	ResponseHeader http.Header
	ResponseBody   []byte
	Duration       time.Duration
	// Retries counts the times the request was sent again after a 503 or
	// 429, as identity providers do; the response is the last one.
	Retries int
	// Err is why no response came (a network error, a panic in the
	// handler).
	Err error
}

// maxBody bounds a response the kit reads: a page of 100 users or a group
// of 100,000 members fits.
const maxBody = 256 << 20

// sender sends requests to the handler in process, or over the network.
type sender struct {
	h      http.Handler
	client *http.Client
	base   string // the tenant URL, without a trailing slash
	token  string
	// contentType is what the identity provider sends with a body.
	contentType string
}

// Identity providers retry a request answered 503 or 429 after a while;
// the kit does too, up to maxRetries times, waiting what Retry-After says
// (at most maxRetryWait; retryWait without it).
const (
	maxRetries   = 3
	retryWait    = time.Second
	maxRetryWait = 5 * time.Second
)

// do sends a request to the tenant URL joined with path (which may carry a
// query); body, when not nil, is sent as JSON. token overrides the
// configured one when not nil. A 503 or 429 is retried as identity
// providers retry it; Retries counts the retries.
func (s *sender) do(ctx context.Context, phase, method, path string, body any, token *string) *Exchange {
	start := time.Now()
	for retries := 0; ; retries++ {
		ex := s.once(ctx, phase, method, path, body, token)
		ex.Retries = retries
		if retries == maxRetries || ex.Err != nil || (ex.Status != http.StatusServiceUnavailable && ex.Status != http.StatusTooManyRequests) {
			ex.Duration = time.Since(start)
			return ex
		}
		wait := retryWait
		if secs, err := strconv.Atoi(ex.ResponseHeader.Get("Retry-After")); err == nil && secs >= 0 {
			wait = min(time.Duration(secs)*time.Second, maxRetryWait)
		}
		select {
		case <-ctx.Done():
			ex.Duration = time.Since(start)
			return ex
		case <-time.After(wait):
		}
	}
}

// once sends the request once.
func (s *sender) once(ctx context.Context, phase, method, path string, body any, token *string) *Exchange {
	ex := &Exchange{Phase: phase, Method: method, URL: s.base + path}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			ex.Err = err
			return ex
		}
		ex.RequestBody = b
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, ex.URL, rd)
	if err != nil {
		ex.Err = err
		return ex
	}
	tok := s.token
	if token != nil {
		tok = *token
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Accept", "application/scim+json")
	if body != nil {
		req.Header.Set("Content-Type", s.contentType)
	}
	if s.h != nil {
		s.serve(req, ex)
	} else {
		s.send(req, ex)
	}
	return ex
}

// serve calls the handler in process, as a server would.
func (s *sender) serve(req *http.Request, ex *Exchange) {
	req.RequestURI = req.URL.RequestURI()
	req.RemoteAddr = "192.0.2.1:49152" // TEST-NET-1
	rec := httptest.NewRecorder()
	func() {
		defer func() {
			if p := recover(); p != nil {
				ex.Err = fmt.Errorf("the handler panicked: %v", p)
			}
		}()
		s.h.ServeHTTP(rec, req)
	}()
	if ex.Err != nil {
		return
	}
	res := rec.Result()
	ex.Status = res.StatusCode
	ex.ResponseHeader = res.Header
	ex.ResponseBody = rec.Body.Bytes()
}

// send sends the request over the network.
func (s *sender) send(req *http.Request, ex *Exchange) {
	res, err := s.client.Do(req)
	if err != nil {
		ex.Err = err
		return
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	ex.Status = res.StatusCode
	ex.ResponseHeader = res.Header
	ex.ResponseBody = b
	if err != nil {
		ex.Err = fmt.Errorf("reading the response: %w", err)
	}
}

// decode reads a JSON object, keeping numbers as json.Number.
func decode(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("null, not an object")
	}
	return m, nil
}

// q escapes a filter or another query value.
func q(s string) string { return url.QueryEscape(s) }

// quote is a filter's string literal.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// guid is a random version-4 GUID, as Entra ID's object ids are.
func guid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b[:])
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// oktaID is an Okta user id: "00u" and 17 base62 characters, case-exact.
func oktaID() string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var b [17]byte
	_, _ = rand.Read(b[:])
	out := []byte("00u")
	for _, c := range b {
		out = append(out, alphabet[int(c)%len(alphabet)])
	}
	return string(out)
}
