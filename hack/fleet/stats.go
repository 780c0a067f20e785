package main

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"maasgo/client"
)

// Request kinds the fleet records, in the order the report lists them.
const (
	kindCreate    = "create"    // POST machines/ (with commissioning, or deployed=true)
	kindToken     = "token"     // GET machines/<id>/?op=get_token
	kindHeartbeat = "heartbeat" // signal WORKING without a result
	kindTar       = "tar"       // GET maas-scripts
	kindStart     = "start"     // signal WORKING "Starting <script>"
	kindResult    = "result"    // signal WORKING "Finished <script>: 0" with four files
	kindPhase     = "phase"     // signal TESTING (or RELEASING) before a phase's scripts
	kindOK        = "ok"        // signal OK "All scripts successfully ran"
	kindRead      = "read"      // GET machines/ and results read back at the end
	kindFlow      = "flow"      // not a request: a machine whose sequence went wrong
)

var kindOrder = []string{kindCreate, kindToken, kindHeartbeat, kindTar, kindStart, kindResult, kindPhase, kindOK, kindRead, kindFlow}

// signalKinds are the kinds that are op=signal requests.
var signalKinds = []string{kindHeartbeat, kindStart, kindResult, kindPhase, kindOK}

// recorder collects the latency of every request by kind, and errors by kind and cause. It is
// safe for concurrent use.
type recorder struct {
	mu   sync.Mutex
	lat  map[string][]time.Duration
	errs map[string]*errorCount
}

// errorCount is how many times one kind of request failed one way, and the first message.
type errorCount struct {
	Kind  string
	Cause string // "HTTP 409", or "transport" for a request without an answer
	Count int
	First string
}

func newRecorder() *recorder {
	return &recorder{lat: map[string][]time.Duration{}, errs: map[string]*errorCount{}}
}

// observe records one request of kind that took d; err is its failure or nil.
func (r *recorder) observe(kind string, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.lat[kind] = append(r.lat[kind], d)
		return
	}
	cause := errorCause(err)
	k := kind + "\x00" + cause
	e := r.errs[k]
	if e == nil {
		e = &errorCount{Kind: kind, Cause: cause, First: err.Error()}
		r.errs[k] = e
	}
	e.Count++
}

// errorCause names how a request failed: its HTTP status, or "transport".
func errorCause(err error) string {
	var he *client.Error
	if errors.As(err, &he) {
		return "HTTP " + strconv.Itoa(he.StatusCode)
	}
	var fe *flowError
	if errors.As(err, &fe) {
		return "sequence"
	}
	return "transport"
}

// flowError is a machine whose sequence went wrong although each request succeeded (a region
// that lists the same scripts again, say).
type flowError struct{ msg string }

func (e *flowError) Error() string { return e.msg }

// kindStats are the figures of one kind of request.
type kindStats struct {
	Kind          string
	Count         int
	P50, P95, P99 time.Duration
	Max           time.Duration
	Mean          time.Duration
}

// stats returns the figures of every kind that had a successful request, in report order.
func (r *recorder) stats() []kindStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []kindStats
	for _, k := range kindOrder {
		if l := r.lat[k]; len(l) > 0 {
			out = append(out, summarize(k, l))
		}
	}
	return out
}

// combined is the figures of the kinds' requests taken together (Kind names them).
func (r *recorder) combined(name string, kinds ...string) kindStats {
	r.mu.Lock()
	var l []time.Duration
	for _, k := range kinds {
		l = append(l, r.lat[k]...)
	}
	r.mu.Unlock()
	if len(l) == 0 {
		return kindStats{Kind: name}
	}
	return summarize(name, l)
}

// count is how many requests of the kinds succeeded.
func (r *recorder) count(kinds ...string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, k := range kinds {
		n += len(r.lat[k])
	}
	return n
}

// errors lists the failures by kind (report order), then by cause.
func (r *recorder) errors() []errorCount {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]errorCount, 0, len(r.errs))
	for _, e := range r.errs {
		out = append(out, *e)
	}
	rank := func(k string) int { return slices.Index(kindOrder, k) }
	sort.Slice(out, func(i, j int) bool {
		if a, b := rank(out[i].Kind), rank(out[j].Kind); a != b {
			return a < b
		}
		return out[i].Cause < out[j].Cause
	})
	return out
}

// errorTotal is how many requests failed.
func (r *recorder) errorTotal() int {
	n := 0
	for _, e := range r.errors() {
		n += e.Count
	}
	return n
}

// summarize sorts l (in place) and returns its figures.
func summarize(kind string, l []time.Duration) kindStats {
	slices.Sort(l)
	var sum time.Duration
	for _, d := range l {
		sum += d
	}
	return kindStats{Kind: kind, Count: len(l), P50: percentile(l, 50), P95: percentile(l, 95), P99: percentile(l, 99),
		Max: l[len(l)-1], Mean: sum / time.Duration(len(l))}
}

// percentile is the nearest-rank p-th percentile of sorted: the smallest value at or under
// which p percent of the values lie. Zero for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// ms renders d in milliseconds with a precision that suits it.
func ms(d time.Duration) string {
	f := float64(d) / float64(time.Millisecond)
	switch {
	case f < 10:
		return fmt.Sprintf("%.2f", f)
	case f < 100:
		return fmt.Sprintf("%.1f", f)
	}
	return fmt.Sprintf("%.0f", f)
}

// oneLine shortens a message to one line of at most n bytes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}
