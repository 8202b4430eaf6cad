package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// The values of an error's scimType (RFC 7644 §3.12, Table 9; RFC 9865
// §3.1 for cursors), for Error.SCIMType.
const (
	SCIMTypeInvalidFilter = "invalidFilter"
	SCIMTypeTooMany       = "tooMany"
	SCIMTypeUniqueness    = "uniqueness"
	SCIMTypeMutability    = "mutability"
	SCIMTypeInvalidSyntax = "invalidSyntax"
	SCIMTypeInvalidPath   = "invalidPath"
	SCIMTypeNoTarget      = "noTarget"
	SCIMTypeInvalidValue  = "invalidValue"
	SCIMTypeInvalidVers   = "invalidVers"
	SCIMTypeSensitive     = "sensitive"
	SCIMTypeInvalidCursor = "invalidCursor"
)

// ErrUnavailable is the error a Store returns, wrapped
// with %w, when it cannot answer right now for a reason that passes by
// itself: its database cannot be reached, is restarting or shutting down,
// has no connection to spare, or did not answer in time. The handler
// answers 503 with Retry-After, and a /Bulk operation that meets it has
// status "503", so that identity providers back off and retry instead of
// taking the failure for a bad request; the cause is logged, not sent.
// Errors that retrying will not cure (constraint violations, bugs, unknown
// errors) must not wrap it: they stay 500. A request whose client went away
// (context.Canceled) is not unavailability either. (An Authenticator
// that cannot decide returns ErrAuthUnavailable, also a 503.)
//
// The postgres store wraps connection-class errors with it.
var ErrUnavailable = errors.New("scim: service temporarily unavailable")

// retryAfterSeconds is the Retry-After a 503 carries: long enough for a
// database restart or a failover to finish, short enough for an identity
// provider to catch up soon after.
const retryAfterSeconds = "5"

// setRetryAfter gives a 503 a Retry-After header (RFC 9110 §10.2.3), unless
// it has one already.
func setRetryAfter(h http.Header, status int) {
	if status == http.StatusServiceUnavailable && h.Get("Retry-After") == "" {
		h.Set("Retry-After", retryAfterSeconds)
	}
}

// Error is a SCIM error response (RFC 7644 §3.12). Handlers write it with
// the Error schema; Status travels as a string in the body, as the RFC says.
type Error struct {
	Status   int
	SCIMType string
	Detail   string
	// Err is the underlying cause, if any; it is never sent to the client.
	Err error
}

// Error implements error; it includes the cause, which clients never see.
func (e *Error) Error() string {
	s := fmt.Sprintf("scim: %d", e.Status)
	if e.SCIMType != "" {
		s += " " + e.SCIMType
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// newError returns a SCIM error with a formatted detail.
func newError(status int, scimType, format string, args ...any) *Error {
	return &Error{Status: status, SCIMType: scimType, Detail: fmt.Sprintf(format, args...)}
}

func badRequest(scimType, format string, args ...any) *Error {
	return newError(http.StatusBadRequest, scimType, format, args...)
}

// toError maps any error to the SCIM error sent to the client: an *Error
// as it is, store sentinels to their statuses (ErrUnavailable to 503),
// anything else to a 500 whose detail does not leak the cause.
func toError(err error) *Error {
	var se *Error
	var mnf *MemberNotFoundError
	switch {
	case errors.As(err, &se) && se.Status >= 400 && se.Status <= 599:
		return se
	case se != nil: // a store's *Error without an error status
		return &Error{Status: http.StatusInternalServerError, Detail: "internal server error", Err: err}
	case errors.Is(err, ErrNotFound):
		return &Error{Status: http.StatusNotFound, Detail: "resource not found", Err: err}
	case errors.Is(err, ErrVersionMismatch):
		return &Error{Status: http.StatusPreconditionFailed, Detail: "resource version does not match", Err: err}
	case errors.Is(err, ErrNoTarget):
		return &Error{Status: http.StatusBadRequest, SCIMType: SCIMTypeNoTarget, Detail: "no member matches the filter", Err: err}
	case errors.As(err, &mnf):
		return &Error{Status: http.StatusBadRequest, SCIMType: SCIMTypeInvalidValue, Detail: fmt.Sprintf("member %q is not a User or Group", mnf.ID), Err: err}
	case errors.Is(err, ErrMemberNotFound):
		return &Error{Status: http.StatusBadRequest, SCIMType: SCIMTypeInvalidValue, Detail: "a member is not a User or Group", Err: err}
	case errors.Is(err, ErrInvalidCursor):
		return &Error{Status: http.StatusBadRequest, SCIMType: SCIMTypeInvalidCursor, Detail: "the cursor is not one this server handed out for this query", Err: err}
	case errors.Is(err, ErrUniqueness):
		return &Error{Status: http.StatusConflict, SCIMType: SCIMTypeUniqueness, Detail: "one or more attribute values are already in use", Err: err}
	case errors.Is(err, context.Canceled): // the client hung up; before ErrUnavailable, which a store may add
		return &Error{Status: http.StatusServiceUnavailable, Detail: "request cancelled or timed out", Err: err}
	case errors.Is(err, ErrUnavailable):
		return &Error{Status: http.StatusServiceUnavailable, Detail: "the service is temporarily unavailable; retry later", Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusServiceUnavailable, Detail: "request cancelled or timed out", Err: err}
	default:
		return &Error{Status: http.StatusInternalServerError, Detail: "internal server error", Err: err}
	}
}
