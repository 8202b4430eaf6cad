package idptest

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// StepError is a failed step: what the identity provider's log would show,
// why, and the requests and responses that show it.
type StepError struct {
	Cycle  Cycle
	Step   string
	Number int
	Of     int
	Action Action
	// LogAs is the action as the identity provider's log names it.
	LogAs string
	// Subject is the user's userName or the group's displayName.
	Subject string
	Reason  string
	// Exchanges are the requests that show the failure, last the one that
	// did.
	Exchanges []Exchange
}

// maxShownBody is how much of a body a failure shows.
const maxShownBody = 2000

// Error renders the failure as the identity provider's log would report
// it, then the exchanges.
func (e *StepError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s, step %d of %d %q: ", e.Cycle, e.Number, e.Of, e.Step)
	subject := ""
	if e.Subject != "" {
		subject = " " + e.Subject
	}
	if e.Cycle == CycleEntra {
		fmt.Fprintf(&b, "the provisioning log shows Action %q, Status \"Failure\"", e.LogAs)
		if e.Subject != "" {
			fmt.Fprintf(&b, " for %s", e.Subject)
		}
		fmt.Fprintf(&b, "\n  reason:   %s", e.Reason)
	} else {
		fmt.Fprintf(&b, "Okta's task fails: \"Error while %s%s\"\n  reason:   %s", e.LogAs, subject, e.Reason)
	}
	for _, ex := range e.Exchanges {
		b.WriteString("\n")
		writeExchange(&b, &ex)
	}
	return b.String()
}

// writeExchange renders a request and its response; the token is never
// shown.
func writeExchange(b *strings.Builder, ex *Exchange) {
	fmt.Fprintf(b, "  request:  %s %s", ex.Method, ex.URL)
	if ex.Phase != "" {
		fmt.Fprintf(b, "   (%s)", ex.Phase)
	}
	if len(ex.RequestBody) > 0 {
		fmt.Fprintf(b, "\n            %s", clip(ex.RequestBody, maxShownBody))
	}
	switch {
	case ex.Err != nil:
		fmt.Fprintf(b, "\n  response: none: %v", ex.Err)
	default:
		fmt.Fprintf(b, "\n  response: %s", statusText(ex.Status))
		if ct := ex.ResponseHeader.Get("Content-Type"); ct != "" {
			fmt.Fprintf(b, " (%s)", ct)
		}
		if len(ex.ResponseBody) > 0 {
			fmt.Fprintf(b, "\n            %s", clip(ex.ResponseBody, maxShownBody))
		}
	}
}

// fail makes the step's failure.
func (st *stepRun) fail(subject, reason string, exs ...*Exchange) *StepError {
	e := &StepError{Cycle: st.r.cycle, Step: st.step.Name, Number: st.step.Number, Of: st.of,
		Action: st.step.Action, LogAs: st.def.logAs, Subject: subject, Reason: reason}
	for _, ex := range exs {
		if ex != nil {
			e.Exchanges = append(e.Exchanges, *ex)
		}
	}
	return e
}

// WriteTable writes the report as a table, a line per step, then the
// cleanup and the failure, if any.
func (r *Report) WriteTable(w io.Writer) error {
	title := string(r.Cycle)
	if r.AADOptSCIM062020 {
		title += " with aadOptscim062020"
	}
	if _, err := fmt.Fprintf(w, "%s (prefix %s)\n", title, r.Prefix); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "#\tstep\trequests\ttime\tresult\n")
	for _, s := range r.Steps {
		result := string(s.Status)
		switch {
		case s.Status == Skipped && s.Note != "":
			result += ": " + s.Note
		case s.Status == Passed && len(s.Refused) > 0:
			result += fmt.Sprintf(" (%d refused as declared)", len(s.Refused))
		case s.Status == Failed:
			result += ": " + firstLine(s.Err.Reason)
		}
		if s.Retries > 0 {
			result += fmt.Sprintf(" (%d retried after 503 or 429)", s.Retries)
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\n", s.Number, s.Name, s.Requests, round(s.Duration), result)
	}
	c := r.Cleanup
	cl := fmt.Sprintf("%d deleted", c.Deleted)
	if len(c.Left) > 0 {
		cl += fmt.Sprintf(", %d left: %s", len(c.Left), strings.Join(c.Left, "; "))
	}
	if len(c.Errors) > 0 {
		cl += fmt.Sprintf(", %d errors", len(c.Errors))
	}
	fmt.Fprintf(tw, "\tcleanup\t\t%s\t%s\n", round(c.Duration), cl)
	fmt.Fprintf(tw, "\ttotal\t%d\t%s\t%s\n", r.requests(), round(r.Duration), r.verdict())
	if err := tw.Flush(); err != nil {
		return err
	}
	if f := r.Failure(); f != nil {
		if _, err := fmt.Fprintf(w, "\n%s\n", f.Error()); err != nil {
			return err
		}
	}
	for _, err := range c.Errors {
		if _, err := fmt.Fprintf(w, "cleanup: %v\n", err); err != nil {
			return err
		}
	}
	return nil
}

func (r *Report) requests() int {
	n := 0
	for _, s := range r.Steps {
		n += s.Requests
	}
	return n
}

func (r *Report) verdict() string {
	switch {
	case r.Failure() != nil:
		return "FAILED"
	case len(r.Cleanup.Errors) > 0:
		return "passed, cleanup FAILED"
	}
	return "passed"
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

func round(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}
