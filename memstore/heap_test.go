package memstore_test

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

var heapUsers = flag.String("heapusers", "200000",
	"comma-separated store sizes BenchmarkHeapPerUser fills, e.g. 200000,1000000")

// typicalUserJSON is a User as Entra ID provisions one: userName, externalId
// (the Entra object id), displayName, name parts, two emails, active and an
// enterprise department.
const typicalUserJSON = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
"externalId":"%08x-5e1a-4c3b-9d2f-%012x","userName":"user%07d@contoso.example","active":true,
"displayName":"Barbara Jensen %07[3]d","name":{"givenName":"Barbara","familyName":"Jensen %07[3]d"},
"emails":[{"value":"user%07[3]d@contoso.example","type":"work","primary":true},{"value":"barbara.%07[3]d@home.example","type":"home"}],
"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Tour Operations"}}`

// discard is a ResponseWriter that keeps the status and drops the body, so
// the GET load allocates what the handler allocates and little more.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

// BenchmarkHeapPerUser reports the heap a typical user costs in the store,
// and the GC's pauses with that heap live. Users are POSTed through the
// handler, so their strings are as the JSON decoder makes them (each value
// its own allocation), not the literals of a test. For each size of
// -heapusers it reports:
//
//   - heapB/user: HeapAlloc after a GC, less the empty store's, per user;
//     it includes the change feed (bounded: its default 10,000 changes);
//   - ns/op: one GET of a user by id through the handler, from two
//     goroutines;
//   - pause-p50-µs, pause-p99-µs, pause-max-µs: the stop-the-world pauses
//     of the GC (runtime/metrics /gc/pauses:seconds, bucket upper bounds)
//     during the GET load and three forced GCs made under it;
//   - gc-cycle-ms: the median wall time of one forced, complete GC cycle,
//     marking the whole live heap.
//
// go test -run '^$' -bench HeapPerUser -heapusers 200000,1000000 ./memstore
func BenchmarkHeapPerUser(b *testing.B) {
	for _, f := range strings.Split(*heapUsers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("-heapusers %q: %q is not a positive count", *heapUsers, f)
		}
		heapPerUser(b, n)
	}
}

func heapPerUser(b *testing.B, n int) {
	h, err := scim.New(memstore.New(), scim.NewBearerTokens(scim.Token{Secret: "t"}),
		scim.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		b.Fatal(err)
	}
	const idLen = 36 // the handler's ids are UUIDs
	ids := make([]byte, 0, n*idLen)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		body := fmt.Sprintf(typicalUserJSON, i, i, i)
		r := httptest.NewRequest(http.MethodPost, "/scim/v2/Users", strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer t")
		r.Header.Set("Content-Type", "application/scim+json")
		w := &discard{h: http.Header{}}
		h.ServeHTTP(w, r)
		loc := w.h.Get("Location")
		if w.code != http.StatusCreated || len(loc) < idLen {
			b.Fatalf("POST user %d: %d %q", i, w.code, loc)
		}
		ids = append(ids, loc[len(loc)-idLen:]...)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perUser := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)

	b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
		get := func(i int) {
			k := i % n * idLen
			r := httptest.NewRequest(http.MethodGet, "/scim/v2/Users/"+string(ids[k:k+idLen]), nil)
			r.Header.Set("Authorization", "Bearer t")
			w := &discard{h: http.Header{}}
			h.ServeHTTP(w, r)
			if w.code != http.StatusOK {
				panic(fmt.Sprintf("GET user %d: %d", i%n, w.code))
			}
		}
		pauses0 := gcPauses()
		b.ResetTimer()
		var wg sync.WaitGroup
		per := (b.N + 1) / 2
		for g := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g * per; i < min(b.N, (g+1)*per); i++ {
					get(i * 7919) // a prime stride: spread over the store
				}
			}()
		}
		wg.Wait()
		b.StopTimer()

		// Forced cycles, under a GET load, mark the whole live heap.
		stop := make(chan struct{})
		loadDone := make(chan struct{})
		go func() {
			defer close(loadDone)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
					get(i * 104729)
				}
			}
		}()
		var cycles []time.Duration
		for range 3 {
			t := time.Now()
			runtime.GC()
			cycles = append(cycles, time.Since(t))
		}
		close(stop)
		<-loadDone
		pauses := gcPauses()
		for i := range pauses.Counts {
			pauses.Counts[i] -= pauses0.Counts[i]
		}
		slices.Sort(cycles)

		b.ReportMetric(perUser, "heapB/user")
		b.ReportMetric(quantile(pauses, 0.50)*1e6, "pause-p50-µs")
		b.ReportMetric(quantile(pauses, 0.99)*1e6, "pause-p99-µs")
		b.ReportMetric(quantile(pauses, 1)*1e6, "pause-max-µs")
		b.ReportMetric(float64(cycles[len(cycles)/2])/1e6, "gc-cycle-ms")
	})
}

// gcPauses returns the histogram of the GC's stop-the-world pauses so far.
func gcPauses() *metrics.Float64Histogram {
	s := []metrics.Sample{{Name: "/gc/pauses:seconds"}}
	metrics.Read(s)
	h := s[0].Value.Float64Histogram()
	return &metrics.Float64Histogram{Counts: slices.Clone(h.Counts), Buckets: h.Buckets}
}

// quantile returns the upper bound of the bucket holding the q-quantile
// of h (its lower bound for the last, unbounded bucket); 0 when h is
// empty.
func quantile(h *metrics.Float64Histogram, q float64) float64 {
	var total uint64
	for _, c := range h.Counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range h.Counts {
		seen += c
		if seen >= max(rank, 1) {
			if hi := h.Buckets[i+1]; !math.IsInf(hi, 1) {
				return hi
			}
			return h.Buckets[i]
		}
	}
	return h.Buckets[len(h.Buckets)-1]
}
