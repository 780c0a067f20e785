package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"maasgo/client"
)

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n)*time.Millisecond)
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value, p50", ms(7), 50, 7 * time.Millisecond},
		{"one value, p99", ms(7), 99, 7 * time.Millisecond},
		{"two values, p50 is the lower", ms(1, 9), 50, time.Millisecond},
		{"two values, p51 is the upper", ms(1, 9), 51, 9 * time.Millisecond},
		{"four values, p50", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"four values, p75", ms(1, 2, 3, 4), 75, 3 * time.Millisecond},
		{"four values, p100", ms(1, 2, 3, 4), 100, 4 * time.Millisecond},
		{"four values, p0 is the least", ms(1, 2, 3, 4), 0, time.Millisecond},
		{"1..100, p50", ms(hundred...), 50, 50 * time.Millisecond},
		{"1..100, p95", ms(hundred...), 95, 95 * time.Millisecond},
		{"1..100, p99", ms(hundred...), 99, 99 * time.Millisecond},
		{"1..100, p99.9", ms(hundred...), 99.9, 100 * time.Millisecond},
		{"ten values, p99 is the greatest", ms(1, 1, 1, 1, 1, 1, 1, 1, 1, 500), 99, 500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.sorted, tc.p); got != tc.want {
				t.Errorf("percentile(%v, %v) = %v; want %v", tc.sorted, tc.p, got, tc.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	l := []time.Duration{40, 10, 30, 20}
	got := summarize("result", l)
	want := kindStats{Kind: "result", Count: 4, P50: 20, P95: 40, P99: 40, Max: 40, Mean: 25}
	if got != want {
		t.Errorf("summarize = %+v; want %+v", got, want)
	}
}

func TestRecorder(t *testing.T) {
	r := newRecorder()
	r.observe(kindResult, 3*time.Millisecond, nil)
	r.observe(kindResult, time.Millisecond, nil)
	r.observe(kindStart, 2*time.Millisecond, nil)
	r.observe(kindTar, 5*time.Millisecond, nil)
	r.observe(kindResult, time.Second, &client.Error{StatusCode: 409, Body: "Machine status isn't valid"})
	r.observe(kindResult, time.Second, &client.Error{StatusCode: 409, Body: "second"})
	r.observe(kindResult, time.Second, fmt.Errorf("signal OK: %w", &client.Error{StatusCode: 500, Body: "boom"}))
	r.observe(kindCreate, time.Second, errors.New("connection refused"))
	r.observe(kindFlow, 0, &flowError{msg: "lists again"})

	if n := r.count(signalKinds...); n != 3 {
		t.Errorf("signals counted: %d; want 3 (the tar is not a signal, failures do not count)", n)
	}
	var kinds []string
	for _, k := range r.stats() {
		kinds = append(kinds, fmt.Sprintf("%s:%d", k.Kind, k.Count))
	}
	if got, want := strings.Join(kinds, " "), "tar:1 start:1 result:2"; got != want {
		t.Errorf("stats kinds: %s; want %s", got, want)
	}
	if c := r.combined("signals", signalKinds...); c.Count != 3 || c.P50 != 2*time.Millisecond || c.Max != 3*time.Millisecond {
		t.Errorf("combined signals: %+v", c)
	}
	var errs []string
	for _, e := range r.errors() {
		errs = append(errs, fmt.Sprintf("%s/%s/%d/%s", e.Kind, e.Cause, e.Count, e.First))
	}
	want := []string{
		"create/transport/1/connection refused",
		"result/HTTP 409/2/region answered 409: Machine status isn't valid",
		"result/HTTP 500/1/signal OK: region answered 500: boom",
		"flow/sequence/1/lists again",
	}
	if strings.Join(errs, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(errs, "\n"), strings.Join(want, "\n"))
	}
	if n := r.errorTotal(); n != 5 {
		t.Errorf("errorTotal = %d; want 5", n)
	}
}

func TestParseStatCPU(t *testing.T) {
	for _, tc := range []struct {
		name string
		stat string
		want time.Duration
		bad  bool
	}{
		{"plain", "1234 (maas-region) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 130 0 0 20 0 9 0 555 1000 200", 3800 * time.Millisecond, false},
		{"name with spaces and parentheses", "77 (a (b) c) R 1 77 77 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 1 1 1", 30 * time.Millisecond, false},
		{"truncated", "77 (x) R 1 2", 0, true},
		{"no name", "garbage", 0, true},
		{"not a number", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 a 2 0", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tc.stat))
			if (err != nil) != tc.bad {
				t.Fatalf("err = %v; want error %v", err, tc.bad)
			}
			if got != tc.want {
				t.Errorf("cpu = %v; want %v", got, tc.want)
			}
		})
	}
}

func TestStatusKB(t *testing.T) {
	status := []byte("Name:\tmaas-region\nVmPeak:\t  900 kB\nVmHWM:\t   51234 kB\nVmRSS:\t   40000 kB\n")
	if got := statusKB(status, "VmHWM:"); got != 51234 {
		t.Errorf("VmHWM = %d", got)
	}
	if got := statusKB(status, "VmRSS:"); got != 40000 {
		t.Errorf("VmRSS = %d", got)
	}
	if got := statusKB(status, "VmSwap:"); got != 0 {
		t.Errorf("VmSwap = %d; want 0 when absent", got)
	}
	self, err := readProc("self")
	if err != nil || self.HWMKB <= 0 || self.CPU < 0 {
		t.Errorf("readProc(self) = %+v, %v", self, err)
	}
}

func TestContent(t *testing.T) {
	fixture := []byte(`{"network": {"cards": [{"ports": [{"address": "52:54:00:15:36:F2"}]}, {"ports": [{"address": "52:54:00:aa:bb:cc"}]}]}, "x": "52:54:00:15:36:f2"}`)
	c := newContent(4096, fixture, 0xbeef)
	if len(c.macs) != 2 {
		t.Fatalf("MACs found: %v; want 2", c.macs)
	}
	seen := map[string]int{}
	for i := range 3 {
		doc := c.resourcesFor(i)
		for _, m := range c.macs {
			if bytes.Contains(bytes.ToLower(doc), []byte(m)) {
				t.Errorf("machine %d still reports the fixture's %s: %s", i, m, doc)
			}
		}
		for _, m := range macPattern.FindAll(doc, -1) {
			seen[string(m)]++
		}
		if !bytes.Contains(doc, []byte(c.bootMAC(i))) {
			t.Errorf("machine %d's document lacks its boot MAC %s", i, c.bootMAC(i))
		}
	}
	if len(seen) != 6 {
		t.Errorf("distinct MACs over 3 machines: %v; want 6", seen)
	}
	if other := newContent(0, fixture, 0x1234); other.bootMAC(0) == c.bootMAC(0) {
		t.Errorf("two runs give machine 0 the same MAC %s", c.bootMAC(0))
	}

	o := c.forScript(1, "maas-lshw")
	if len(o.Combined) != 4096 || len(o.Stdout) != 4096 || len(o.Stderr) != 4096 {
		t.Errorf("filler sizes: %d %d %d; want 4096", len(o.Combined), len(o.Stdout), len(o.Stderr))
	}
	if len(o.Result) > 4096 || len(o.Result) < 4000 {
		t.Errorf("result YAML is %d bytes; want about 4096", len(o.Result))
	}
	var res struct {
		Status  string         `yaml:"status"`
		Results map[string]any `yaml:"results"`
	}
	if err := yaml.Unmarshal(o.Result, &res); err != nil || res.Status != "passed" || len(res.Results) == 0 {
		t.Errorf("result YAML: %v, %+v", err, res)
	}
	files := o.files("maas-lshw")
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, " "); got != "maas-lshw maas-lshw.out maas-lshw.err maas-lshw.yaml" {
		t.Errorf("file parts: %s", got)
	}
	if inv := c.forScript(2, inventoryScript); !bytes.Equal(inv.Stdout, c.resourcesFor(2)) {
		t.Errorf("the inventory script does not upload the machine's document")
	}
	if cl := c.forScript(2, cmdlineScript); !strings.Contains(string(cl.Stdout), "BOOTIF=01-"+strings.ReplaceAll(c.bootMAC(2), ":", "-")) {
		t.Errorf("kernel command line: %s", cl.Stdout)
	}
	if got := len(newContent(0, fixture, 0).resultYAML); got == 0 {
		t.Errorf("a zero size still needs a valid result YAML")
	}
}
