package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/scimkit/scim/idptest"
)

// progress is the line that says where a run is: rewritten in place on a
// terminal, a line per step (and every few seconds of a long one)
// elsewhere, as in CI logs.
type progress struct {
	w     io.Writer
	tty   bool
	mu    sync.Mutex
	step  string
	last  time.Time
	shown bool
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	tty := false
	if ok {
		if st, err := f.Stat(); err == nil {
			tty = st.Mode()&os.ModeCharDevice != 0
		}
	}
	return &progress{w: w, tty: tty}
}

// update is idptest.Options.Progress.
func (p *progress) update(pr idptest.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := fmt.Sprintf("%s/%d", pr.Cycle, pr.Number)
	now := time.Now()
	every := 100 * time.Millisecond
	if !p.tty {
		every = 5 * time.Second
	}
	if key == p.step && now.Sub(p.last) < every {
		return
	}
	p.step, p.last = key, now
	where := fmt.Sprintf("[%s %d/%d] %s", pr.Cycle, pr.Number, pr.Steps, pr.Step)
	if pr.Number == 0 {
		where = fmt.Sprintf("[%s] %s", pr.Cycle, pr.Step)
	}
	line := where + "…"
	if pr.Requests > 0 {
		line = fmt.Sprintf("%s: %d requests", where, pr.Requests)
		if pr.Expected > 0 {
			line += fmt.Sprintf(" of about %d", pr.Expected)
		}
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.shown = true
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// done clears the line before a table is printed.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
	p.step = ""
}
