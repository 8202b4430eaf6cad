package main

// The tables: a row per scenario and side, with the target
// beside it.

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// verdict is a row's target and whether the run met it.
type verdict struct {
	target string
	met    bool
	judged bool
}

// judge gives the targets of issue #21 for r; rows holds the table's
// rows by scenario and side, for targets relative to another row.
func judge(r row, rows map[[2]string]row) verdict {
	ratio := r.median().ratio
	at := func(t float64) verdict {
		return verdict{target: fmt.Sprintf("≥ %.2f", t), met: ratio >= t, judged: true}
	}
	other := func(sc, sd string) (float64, bool) {
		o, ok := rows[[2]string{sc, sd}]
		if !ok {
			return 0, false
		}
		return o.median().ratio, true
	}
	switch [2]string{r.scenario, r.side} {
	case [2]string{scGet, "bare"}:
		v := at(0.85)
		if e, ok := other(scGet, "elimity"); ok {
			v.target += fmt.Sprintf(", > elimity (%.2f)", e)
			v.met = v.met && ratio > e
		}
		return v
	case [2]string{scGet, "shipped"}:
		return at(0.80)
	case [2]string{scFilter, "bare"}:
		return at(0.80)
	case [2]string{scPost, "bare"}:
		return at(0.50)
	case [2]string{scPatchBig, "bare"}:
		return at(0.45)
	case [2]string{scPatchTiny, "bare"}:
		big, ok := other(scPatchBig, "bare")
		if !ok {
			return verdict{}
		}
		// The large group must cost no more than 1.1× the small one.
		return verdict{target: fmt.Sprintf("10,000-member row within 1.1× (%.2f)", ratio/big), met: ratio/big <= 1.1, judged: true}
	case [2]string{scGet, "postgres"}, [2]string{scFilter, "postgres"}:
		sel, ok := other(scGet, "SELECT")
		if !ok {
			return verdict{}
		}
		return verdict{target: fmt.Sprintf("≥ 0.80 of SELECT (%.2f)", ratio/sel), met: ratio/sel >= 0.8, judged: true}
	}
	return verdict{}
}

// printTable writes one store's table.
func printTable(w io.Writer, title string, rows []row, buckets []float64) {
	byKey := map[[2]string]row{}
	for _, r := range rows {
		byKey[[2]string{r.scenario, r.side}] = r
	}
	fmt.Fprintf(w, "\n%s\n", title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tside\treq/s\tp50\tp99\tfailures\tratio\ttarget\t\tallocs/req\tGC p99\tCPU wrk/server\t")
	for _, r := range rows {
		m := r.median()
		v := judge(r, byKey)
		met := ""
		if v.judged {
			met = "not met"
			if v.met {
				met = "met"
			}
		}
		target := v.target
		if r.note != "" {
			target = r.note
		}
		allocs, gc := "-", "-"
		if r.inProcess {
			allocs = fmt.Sprintf("%.0f", r.allocsPerRequest())
			gc = r.gcPauseP99(buckets).Round(time.Microsecond).String()
		}
		secs := m.elapsed().Seconds()
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%d\t%.2f\t%s\t%s\t%s\t%s\t%.0f%%/%.0f%%\t\n", r.scenario, r.side, m.rps(),
			usec(m.P50US), usec(m.P99US), r.failures(), m.ratio, target, met, allocs, gc,
			100*m.cpu.Seconds()/secs, 100*m.serverCPU.Seconds()/secs)
	}
	_ = tw.Flush()
}

func usec(us float64) string {
	return (time.Duration(us) * time.Microsecond).Round(time.Microsecond).String()
}
