// Package metrics holds the region's Prometheus metrics and serves them in the text
// exposition format at /MAAS/metrics: machines and script results by status (read from the
// database when scraped), signals received, HTTP requests, database transactions and the
// status monitor, beside the Go runtime's and the process's own.
package metrics

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"maasgo/region/config"
	"maasgo/region/store"
	"maasgo/wire"
)

// Region is one region process's metrics. A nil *Region records nothing, so code under test
// can run without one.
type Region struct {
	reg          *prometheus.Registry
	st           *store.Store
	requests     *prometheus.HistogramVec
	signals      *prometheus.CounterVec
	transactions *prometheus.HistogramVec
	monitorRuns  prometheus.Counter
	monitorFails prometheus.Counter
	handler      http.Handler
}

// New builds the metrics of a region serving from st.
func New(st *store.Store) *Region {
	m := &Region{
		reg: prometheus.NewRegistry(),
		st:  st,
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "maas_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route and status class.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "code"}),
		signals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "maas_signals_total",
			Help: "Signals received from machines, by signal status and outcome: stored, repeat (an idempotency key seen before: a journal re-send, acknowledged and not applied again) or error.",
		}, []string{"status", "outcome"}),
		transactions: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "maas_db_transaction_seconds",
			Help:    "Database transaction time, by kind: read, write (an update from its call to its commit, its group's wait included) and commit (one database write transaction, shared by a group of updates).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
		}, []string{"kind"}),
		monitorRuns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "maas_status_monitor_runs_total",
			Help: "Runs of the status monitor in this process (it runs in one region process at a time).",
		}),
		monitorFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "maas_status_monitor_timeouts_total",
			Help: "Machines the status monitor failed for silence or overdue scripts.",
		}),
	}
	m.reg.MustRegister(m.requests, m.signals, m.transactions, m.monitorRuns, m.monitorFails,
		&stateCollector{st: st},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = m.newHandler()
	if st != nil {
		st.ObserveTransactions(func(kind string, d time.Duration) {
			m.transactions.WithLabelValues(kind).Observe(d.Seconds())
		})
	}
	return m
}

// Registry is where the metrics are registered (tests gather from it).
func (m *Region) Registry() *prometheus.Registry { return m.reg }

// Request records one HTTP request: route is one of a fixed set of names (never the path).
func (m *Region) Request(route string, code int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, codeClass(code)).Observe(d.Seconds())
}

// Signal records one signal: status is a valid signal status, outcome stored, repeat or error.
func (m *Region) Signal(status, outcome string) {
	if m == nil {
		return
	}
	if !wire.ValidSignalStatus(status) {
		status = "invalid"
	}
	m.signals.WithLabelValues(status, outcome).Inc()
}

// MonitorRun records one run of the status monitor and the machines it failed.
func (m *Region) MonitorRun(failed int) {
	if m == nil {
		return
	}
	m.monitorRuns.Inc()
	m.monitorFails.Add(float64(failed))
}

func codeClass(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code/100) + "xx"
}

// Handler serves the metrics. When the metrics_token setting is not empty, a scrape must
// send it as "Authorization: Bearer TOKEN". At most two scrapes are answered at once.
func (m *Region) Handler() http.Handler { return m.handler }

func (m *Region) newHandler() http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 2,
		Timeout:             10 * time.Second,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "metrics answer GET and HEAD only", http.StatusMethodNotAllowed)
			return
		}
		want, err := m.token(r.Context())
		if err != nil {
			http.Error(w, "read the metrics_token setting: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if want != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(want)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="maas-metrics"`)
				http.Error(w, "metrics need the metrics_token setting's value as Authorization: Bearer TOKEN", http.StatusUnauthorized)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

func (m *Region) token(ctx context.Context) (string, error) {
	if m.st == nil {
		return "", nil
	}
	var v any
	err := m.st.View(ctx, func(tx *store.Tx) (err error) {
		v, err = config.Get(tx, "metrics_token")
		return err
	})
	if err != nil {
		return "", err
	}
	s, _ := v.(string)
	return s, nil
}

// stateCollector reads machines and script results by status from the database, at most
// once per second however often it is scraped, within a time bound.
type stateCollector struct {
	st *store.Store

	mu       sync.Mutex
	at       time.Time
	machines map[wire.NodeStatus]int64
	results  map[wire.ScriptStatus]int64
	err      error
}

var (
	machinesDesc = prometheus.NewDesc("maas_machines", "Machines by status.", []string{"status"}, nil)
	resultsDesc  = prometheus.NewDesc("maas_script_results", "Script results kept, by status.", []string{"status"}, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- machinesDesc
	ch <- resultsDesc
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	if c.st == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) >= time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c.err = c.st.View(ctx, func(tx *store.Tx) (err error) {
			if c.machines, err = tx.MachinesByStatus(); err != nil {
				return err
			}
			c.results, err = tx.ResultsByStatus()
			return err
		})
		cancel()
		c.at = time.Now()
	}
	if c.err != nil {
		ch <- prometheus.NewInvalidMetric(machinesDesc, c.err)
		return
	}
	// Every status is reported, zero or not, so a dashboard's series do not come and go.
	for s := wire.NodeNew; s <= wire.NodeFailedTesting; s++ {
		ch <- prometheus.MustNewConstMetric(machinesDesc, prometheus.GaugeValue, float64(c.machines[s]), strings.ToLower(s.String()))
	}
	for s := wire.ScriptPending; s <= wire.ScriptFailedApplyingNetconf; s++ {
		ch <- prometheus.MustNewConstMetric(resultsDesc, prometheus.GaugeValue, float64(c.results[s]), label(s.Label()))
	}
}

// label turns a status label ("Failed - installing") into a metric label (failed_installing).
func label(s string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if under && b.Len() > 0 {
				b.WriteByte('_')
			}
			under = false
			b.WriteRune(r)
			continue
		}
		under = true
	}
	return b.String()
}
