package scim

import (
	"errors"
	"fmt"
	"net/http"
)

// Limits bounds the work one request can ask of a Handler. Each limit a
// request exceeds is answered with a SCIM error, never a 500: 400, 413 for
// the body, before the store sees the request; 503 when a write has used up
// its WriteRetries. A zero field takes the default DefaultLimits gives; a
// negative one is an error from New.
type Limits struct {
	// BodyBytes is the largest request body (default 1 MiB); larger is 413.
	BodyBytes int64
	// JSONDepth is how deeply objects and arrays may nest in a body
	// (default 32; a SCIM resource needs 4, a PATCH request 6).
	JSONDepth int
	// StringBytes is the longest string a body may carry, keys included,
	// in bytes of UTF-8 (default 65,536).
	StringBytes int
	// PatchOperations is the most operations one PATCH may carry (default 1000).
	PatchOperations int
	// Values is the most values one multi-valued attribute may hold, in a
	// request and in a resource written through the handler (default
	// 1,000,000: a group of every employee of a large company).
	// Memberships changed through a store's MembershipPatcher are
	// counted in the request only.
	Values int
	// FilterBytes is the longest filter, in bytes (default 8192).
	FilterBytes int
	// FilterDepth is how deeply a filter may nest brackets, value paths and
	// "not" (default 64).
	FilterDepth int
	// FilterTerms is the most comparisons one filter may hold (default 100).
	FilterTerms int
	// AttributeNames is the most names an attributes or excludedAttributes
	// list may hold (default 100).
	AttributeNames int
	// WriteRetries is how often a write without If-Match that keeps losing
	// its compare-and-swap to concurrent writers is tried in all (default
	// 32); then it is answered 503.
	WriteRetries int
}

// DefaultLimits returns the limits a Handler has unless configured.
func DefaultLimits() Limits {
	return Limits{
		BodyBytes:       1 << 20,
		JSONDepth:       32,
		StringBytes:     64 << 10,
		PatchOperations: 1000,
		Values:          1_000_000,
		FilterBytes:     8192,
		FilterDepth:     64,
		FilterTerms:     100,
		AttributeNames:  100,
		WriteRetries:    32,
	}
}

// WithLimits sets the request limits; zero fields keep their defaults.
func WithLimits(l Limits) Option {
	return func(h *Handler) {
		l.BodyBytes = cmpOr(l.BodyBytes, h.limits.BodyBytes)
		l.JSONDepth = cmpOr(l.JSONDepth, h.limits.JSONDepth)
		l.StringBytes = cmpOr(l.StringBytes, h.limits.StringBytes)
		l.PatchOperations = cmpOr(l.PatchOperations, h.limits.PatchOperations)
		l.Values = cmpOr(l.Values, h.limits.Values)
		l.FilterBytes = cmpOr(l.FilterBytes, h.limits.FilterBytes)
		l.FilterDepth = cmpOr(l.FilterDepth, h.limits.FilterDepth)
		l.FilterTerms = cmpOr(l.FilterTerms, h.limits.FilterTerms)
		l.AttributeNames = cmpOr(l.AttributeNames, h.limits.AttributeNames)
		l.WriteRetries = cmpOr(l.WriteRetries, h.limits.WriteRetries)
		h.limits = l
	}
}

// WithMaxBodyBytes sets the largest request body accepted (default 1 MiB);
// it is Limits.BodyBytes.
func WithMaxBodyBytes(n int64) Option {
	return func(h *Handler) { h.limits.BodyBytes = n }
}

// WithMaxPatchOperations sets the most operations one PATCH request may
// carry (default 1000); it is Limits.PatchOperations.
func WithMaxPatchOperations(n int) Option {
	return func(h *Handler) { h.limits.PatchOperations = n }
}

func cmpOr[T int | int64](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// check reports the first limit that is not positive.
func (l Limits) check() error {
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"BodyBytes", l.BodyBytes}, {"JSONDepth", int64(l.JSONDepth)}, {"StringBytes", int64(l.StringBytes)},
		{"PatchOperations", int64(l.PatchOperations)}, {"Values", int64(l.Values)},
		{"FilterBytes", int64(l.FilterBytes)}, {"FilterDepth", int64(l.FilterDepth)},
		{"FilterTerms", int64(l.FilterTerms)}, {"AttributeNames", int64(l.AttributeNames)},
		{"WriteRetries", int64(l.WriteRetries)},
	} {
		if f.v < 1 {
			return fmt.Errorf("scim: limit %s must be positive, got %d", f.name, f.v)
		}
	}
	return nil
}

// errTooLarge marks a request refused by a limit, for logs.
var errTooLarge = errors.New("request exceeds a configured limit")

// limitError answers a request that exceeds a limit: 400 with scimType
// (tooMany for counts, invalidSyntax, invalidValue or invalidFilter for
// sizes), and the limit in the detail.
func limitError(scimType, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, SCIMType: scimType, Detail: fmt.Sprintf(format, args...), Err: errTooLarge}
}

// checkValueCount refuses a multi-valued attribute of more than l.Values values.
func (l Limits) checkValueCount(name string, n int) error {
	if n > l.Values {
		return limitError(SCIMTypeTooMany, "attribute %q holds %d values, more than the %d allowed", name, n, l.Values)
	}
	return nil
}
