package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
)

// scrape reads /MAAS/metrics with the Prometheus text parser.
func scrape(t *testing.T, r *regiontest.Region, bearer string) (int, map[string]*dto.MetricFamily) {
	t.Helper()
	req, _ := http.NewRequest("GET", r.URL+"/metrics", nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return resp.StatusCode, nil
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("metrics content type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse the metrics: %v", err)
	}
	return resp.StatusCode, fams
}

// value is the value of the family's series whose labels include want; -1 when none.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

func TestMetrics(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			r := regiontest.Start(t, e)
			admin := r.Client()
			_, fams := scrape(t, r, "")
			before := value(fams, "maas_machines", map[string]string{"status": "commissioning"})
			if before != 0 {
				t.Fatalf("maas_machines{status=commissioning} before any machine = %v, want 0 (every status is reported)", before)
			}
			_, mc, idx := commissioned(t, r, "metered", nil)
			ent := entry(t, idx.V1.Commissioning, "maas-list-modaliases")
			if resp := finish(mc, ent, "WORKING", 0, []part{{ent.Name, "pci:v1\n"}}); resp.Status != 200 {
				t.Fatalf("signal: %d %s", resp.Status, resp.Body)
			}
			// A journal re-send: the same idempotency key twice is applied once.
			for range 2 {
				mc.key = "resend-1"
				if resp := mc.signal([]part{{"status", "WORKING"}, {"error", "progress"}}, nil); resp.Status != 200 {
					t.Fatalf("signal: %d %s", resp.Status, resp.Body)
				}
			}
			admin.Must(t, 200, "GET", "api/2.0/machines/", nil)
			time.Sleep(1100 * time.Millisecond) // the database counts are read at most once a second
			code, fams := scrape(t, r, "")
			if code != 200 {
				t.Fatalf("scrape: %d", code)
			}
			checks := []struct {
				name   string
				labels map[string]string
				min    float64
				max    float64
			}{
				{"maas_machines", map[string]string{"status": "commissioning"}, 1, 1},
				{"maas_machines", map[string]string{"status": "ready"}, 0, 0},
				{"maas_script_results", map[string]string{"status": "passed"}, 1, 1},
				{"maas_script_results", map[string]string{"status": "pending"}, 1, 1000},
				{"maas_signals_total", map[string]string{"status": "WORKING", "outcome": "stored"}, 2, 2},
				{"maas_signals_total", map[string]string{"status": "WORKING", "outcome": "repeat"}, 1, 1},
				{"maas_http_request_duration_seconds", map[string]string{"route": "metadata.signal", "code": "2xx"}, 3, 3},
				{"maas_http_request_duration_seconds", map[string]string{"route": "metadata.scripts", "code": "2xx"}, 1, 1},
				{"maas_http_request_duration_seconds", map[string]string{"route": "MachinesHandler.read", "code": "2xx"}, 1, 1},
				{"maas_http_request_duration_seconds", map[string]string{"route": "MachineHandler.commission", "code": "2xx"}, 1, 1},
				{"maas_db_transaction_seconds", map[string]string{"kind": "write"}, 3, 1e9},
				{"maas_db_transaction_seconds", map[string]string{"kind": "commit"}, 1, 1e9},
				{"maas_db_transaction_seconds", map[string]string{"kind": "read"}, 1, 1e9},
				{"go_goroutines", nil, 1, 1e6},
				{"process_resident_memory_bytes", nil, 1 << 20, 1 << 40},
			}
			for _, c := range checks {
				if v := value(fams, c.name, c.labels); v < c.min || v > c.max {
					t.Errorf("%s%v = %v, want %v to %v", c.name, c.labels, v, c.min, c.max)
				}
			}
			if fams["maas_status_monitor_runs_total"] == nil || fams["maas_status_monitor_timeouts_total"] == nil {
				t.Error("the status monitor's counters are missing")
			}

			// With metrics_token set, a scrape needs it.
			admin.Must(t, 200, "POST", "api/2.0/maas/", url.Values{"op": {"set_config"}, "name": {"metrics_token"}, "value": {"s3cret"}})
			// The token is an administrator's to read.
			user := &regiontest.Client{Base: r.URL, Creds: newUser(t, r, "scraper", false)}
			if resp := user.Do(t, "GET", "api/2.0/maas/", url.Values{"op": {"get_config"}, "name": {"metrics_token"}}); resp.Status != http.StatusForbidden {
				t.Errorf("a user reading metrics_token: %d %s, want 403", resp.Status, resp.Body)
			}
			if code, _ := scrape(t, r, ""); code != http.StatusUnauthorized {
				t.Errorf("scrape without the token: %d, want 401", code)
			}
			if code, _ := scrape(t, r, "wrong"); code != http.StatusUnauthorized {
				t.Errorf("scrape with a wrong token: %d, want 401", code)
			}
			if code, fams := scrape(t, r, "s3cret"); code != 200 || fams["maas_machines"] == nil {
				t.Errorf("scrape with the token: %d", code)
			}
		})
	}
}

// TestRequestLog: with --log-format json every request is logged once, as one JSON object
// with its id (also sent back as X-Request-Id), route, status, duration and machine.
func TestRequestLog(t *testing.T) {
	r := regiontest.Start(t, storetest.SQLite(t), "--log-format", "json")
	id, mc, idx := commissioned(t, r, "logged", nil)
	ent := entry(t, idx.V1.Commissioning, "maas-list-modaliases")
	resp := finish(mc, ent, "WORKING", 0, []part{{ent.Name, "x\n"}})
	if resp.Status != 200 {
		t.Fatalf("signal: %d %s", resp.Status, resp.Body)
	}
	reqID := resp.Header.Get("X-Request-Id")
	if reqID == "" {
		t.Fatal("no X-Request-Id in the answer")
	}
	// A caller's own plain id is kept; one with other characters is replaced.
	req, _ := http.NewRequest("GET", r.URL+"/api/2.0/version/", nil)
	req.Header.Set("X-Request-Id", "proxy-42.a_b")
	if got := r.Client().Send(t, req).Header.Get("X-Request-Id"); got != "proxy-42.a_b" {
		t.Errorf("X-Request-Id %q, want the caller's proxy-42.a_b", got)
	}
	req, _ = http.NewRequest("GET", r.URL+"/api/2.0/version/", nil)
	req.Header.Set("X-Request-Id", "evil\" id")
	if got := r.Client().Send(t, req).Header.Get("X-Request-Id"); got == "" || strings.ContainsAny(got, "\" ") {
		t.Errorf("X-Request-Id %q: a caller's id with quotes and spaces must be replaced", got)
	}
	// The query string is not logged: it may carry a PLAINTEXT signature.
	if resp, err := http.Get(r.URL + "/api/2.0/version/?oauth_signature=leaked-signature"); err == nil {
		resp.Body.Close()
	}
	var found []map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for len(found) == 0 && time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(r.Logs()))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "{") {
				continue
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("a log line is not JSON: %v\n%s", err, line)
			}
			if rec["msg"] == "request" && rec["id"] == reqID {
				found = append(found, rec)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(found) != 1 {
		t.Fatalf("%d log lines for request %s, want 1\n%s", len(found), reqID, r.Logs())
	}
	rec := found[0]
	want := map[string]any{"level": "INFO", "method": "POST", "route": "metadata.signal", "status": 200.0, "machine": id, "path": "/MAAS/metadata//2012-03-01/"}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("log %s = %v, want %v", k, rec[k], v)
		}
	}
	if d, ok := rec["duration"].(float64); !ok || d <= 0 {
		t.Errorf("log duration %v, want nanoseconds > 0", rec["duration"])
	}
	if _, ok := rec["remote"].(string); !ok {
		t.Errorf("log has no remote address: %v", rec)
	}
	if strings.Contains(r.Logs(), "leaked-signature") {
		t.Error("the log holds a query string's OAuth signature")
	}
}
