package wire

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func statusPtr(s ScriptStatus) *ScriptStatus { return &s }

func boolPtr(b bool) *bool { return &b }

func int64Ptr(n int64) *int64 { return &n }

func TestParseResult(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want *Result
	}{
		{"empty", "", nil},
		{"blank", " \n\t\n", nil},
		{"comments only", "# nothing\n", nil},
		{"skipped", "status: skipped\n", &Result{Status: statusPtr(ScriptSkipped)}},
		{"every status", "status: PASSED", &Result{Status: statusPtr(ScriptPassed)}},
		{"failed", "status: failed", &Result{Status: statusPtr(ScriptFailed)}},
		{"degraded", "status: degraded", &Result{Status: statusPtr(ScriptDegraded)}},
		{"timedout", "status: timedout", &Result{Status: statusPtr(ScriptTimedOut)}},
		{"link down", "link_connected: false\n", &Result{LinkConnected: boolPtr(false)}},
		{"link YAML 1.1", "link_connected: yes\n", &Result{LinkConnected: boolPtr(true)}},
		{"link speeds", "status: failed\nlink_connected: true\nlink_speed: 100\ninterface_speed: 10000\n",
			&Result{Status: statusPtr(ScriptFailed), LinkConnected: boolPtr(true), LinkSpeed: int64Ptr(100), InterfaceSpeed: int64Ptr(10000)}},
		{"unknown speed", "link_speed: 0\n", &Result{LinkSpeed: int64Ptr(0)}},
		{"badblocks", "results:\n  badblocks: 0\n  read_errors: 1\n", &Result{Results: map[string]any{"badblocks": int64(0), "read_errors": int64(1)}}},
		{"fio", "status: passed\nresults:\n  random_read: 1200 KB/s\n  iops: 3.5\n  ok: true\n  words: off\n  quoted: 'no'\n  tagged: !!str yes\n",
			&Result{Status: statusPtr(ScriptPassed), Results: map[string]any{"random_read": "1200 KB/s", "iops": 3.5, "ok": true, "words": false, "quoted": "no", "tagged": "yes"}}},
		{"lists", "results:\n  temps: [30, 31.5, hot, true]\n  none: []\n",
			&Result{Results: map[string]any{"temps": []any{int64(30), 31.5, "hot", true}, "none": []any{}}}},
		{"odd numbers", "results:\n  big: 123456789012345678901234567890\n  inf: .inf\n  hex: 0x10\n  date: 2024-01-02\n",
			&Result{Results: map[string]any{"big": 1.2345678901234568e+29, "inf": ".inf", "hex": int64(16), "date": "2024-01-02"}}},
		{"null results", "results: ~\n", &Result{}},
		{"unknown keys", "status: passed\nextra: 1\nnotes: [a]\n", &Result{Status: statusPtr(ScriptPassed), Ignored: []string{"extra", "notes"}}},
		{"anchors", "a: &s skipped\nstatus: *s\n", &Result{Status: statusPtr(ScriptSkipped), Ignored: []string{"a"}}},
		{"flow mapping", `{"status": "failed", "results": {"x": "y"}}`, &Result{Status: statusPtr(ScriptFailed), Results: map[string]any{"x": "y"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseResult([]byte(tc.in))
			if err != nil {
				t.Fatalf("ParseResult: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseResult mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseResultErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"scalar document", "passed", `result: want a mapping, got "passed"`},
		{"null document", "~", "result: want a mapping, got null"},
		{"list document", "- a", "result: want a mapping, got a list"},
		{"invalid YAML", "status: [", "result: invalid YAML: yaml: line 1: did not find expected node content"},
		{"complex key", "? [a]\n: b\n", "result: keys must be strings, got a list"},
		{"unknown status", "status: broken", `status: unknown result status "broken" (want passed, failed, degraded, timedout or skipped)`},
		{"status list", "status: [passed]", "status: want one of passed, failed, degraded, timedout or skipped, got a list"},
		{"status null", "status:", "status: want one of passed, failed, degraded, timedout or skipped, got null"},
		{"link string", "link_connected: maybe", `link_connected: want a boolean, got "maybe"`},
		{"link quoted", "link_connected: 'yes'", `link_connected: want a boolean, got "yes"`},
		{"speed with a unit", "link_speed: 1000 Mbit/s", `link_speed: want a whole number of Mbit/s, 0 or more, got "1000 Mbit/s"`},
		{"negative speed", "interface_speed: -1", `interface_speed: want a whole number of Mbit/s, 0 or more, got "-1"`},
		{"fractional speed", "link_speed: 2.5", `link_speed: want a whole number of Mbit/s, 0 or more, got "2.5"`},
		{"quoted speed", "link_speed: '100'", `link_speed: want a whole number of Mbit/s, 0 or more, got "100"`},
		{"huge speed", "link_speed: 99999999999999999999", `link_speed: want a whole number of Mbit/s, 0 or more, got "99999999999999999999"`},
		{"speed list", "link_speed: [1]", "link_speed: want a whole number of Mbit/s, 0 or more, got a list"},
		{"results list", "results: [1, 2]", "results: want a mapping, got a list"},
		{"results nested map", "results:\n  a: {b: 1}", "results.a: want a string, number, boolean or a list of them, got a mapping"},
		{"results nested list", "results:\n  a: [[1]]", "results.a[0]: want a string, number or boolean, got a list"},
		{"results null value", "results:\n  a: ~", "results.a: want a string, number or boolean, got null"},
		{"results null item", "results:\n  a: [1, null]", "results.a[1]: want a string, number or boolean, got null"},
		{"results complex key", "results:\n  ? [a]\n  : 1", "results: keys must be strings, got a list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseResult([]byte(tc.in))
			if err == nil || err.Error() != tc.want {
				t.Errorf("ParseResult(%q) = %+v, %v; want error %q", tc.in, got, err, tc.want)
			}
		})
	}
}

// TestParseResultAliasBudget checks that aliases cannot blow a short file up.
func TestParseResultAliasBudget(t *testing.T) {
	var b strings.Builder
	b.WriteString("l: &l [" + strings.Repeat("1, ", 1000) + "1]\nresults:\n")
	for i := range 100 {
		fmt.Fprintf(&b, "  k%d: *l\n", i)
	}
	if _, err := ParseResult([]byte(b.String())); err == nil || err.Error() != "results: more than 65536 values" {
		t.Errorf("ParseResult = %v; want the values bound", err)
	}
}

func TestParseResultStatus(t *testing.T) {
	for in, want := range map[string]ScriptStatus{"passed": ScriptPassed, " Failed ": ScriptFailed, "DEGRADED": ScriptDegraded, "timedout": ScriptTimedOut, "skipped": ScriptSkipped} {
		if got, err := ParseResultStatus(in); err != nil || got != want {
			t.Errorf("ParseResultStatus(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "pending", "timed out", "aborted"} {
		if _, err := ParseResultStatus(in); err == nil {
			t.Errorf("ParseResultStatus(%q): want an error", in)
		}
	}
}

// FuzzParseResult checks that ParseResult never panics and that what it accepts has only
// the documented value types and can be stored as JSON.
func FuzzParseResult(f *testing.F) {
	for _, s := range []string{
		"", "status: passed\n", "status: skipped", "link_connected: false\n", "link_connected: on",
		"link_connected: true\nlink_speed: 100\ninterface_speed: 1000\n", "link_speed: -0\ninterface_speed: 0x10\n",
		"results:\n  badblocks: 0\n  read_errors: 0\n  write_errors: 0\n  comparison_errors: 0\n",
		"status: passed\nresults:\n  compression_ru_mips: '4674'\n  x: [1, 2.5, a, yes]\n",
		"results: {inf: .inf, nan: .nan, big: 99999999999999999999999, hex: 0x1f, oct: 0o17, t: 2001-12-14t21:59:43.10-05:00}",
		"a: &a [*a]\nresults: *a\n", "? [a]\n: b\n", "status: [", "- a\n", "~", "x: !!binary aGVsbG8=\n",
		"results:\n  <<: {a: 1}\n", "%YAML 1.1\n---\nstatus: failed\n", "status: passed\n---\nstatus: failed\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseResult(data)
		if err != nil || r == nil {
			return
		}
		if r.Status != nil {
			switch *r.Status {
			case ScriptPassed, ScriptFailed, ScriptDegraded, ScriptTimedOut, ScriptSkipped:
			default:
				t.Fatalf("unexpected status %v", *r.Status)
			}
		}
		for _, n := range []*int64{r.LinkSpeed, r.InterfaceSpeed} {
			if n != nil && *n < 0 {
				t.Fatalf("negative speed %d", *n)
			}
		}
		for k, v := range r.Results {
			items, isList := v.([]any)
			if !isList {
				items = []any{v}
			}
			for _, item := range items {
				switch item.(type) {
				case string, int64, float64, bool:
				default:
					t.Fatalf("results.%s: value %#v of type %T", k, item, item)
				}
			}
		}
		if _, err := json.Marshal(r.Results); err != nil {
			t.Fatalf("results cannot be stored as JSON: %v", err)
		}
	})
}

// The fast path answers only what yaml.v3 answers the same: wherever it takes a file, the
// full parser gives the same result, without error.
func FuzzParseResultFast(f *testing.F) {
	for _, s := range []string{
		"status: passed\n", "status: passed\nresults:\n  metric_00000: 10000.000\n  metric_00001: 10037.001\n",
		"status: failed\nresults:\n    a: 1\n    b: -2\n    c: x-y.z\n    d: -0.0\n", "results:\n", "foo: bar\nstatus: skipped",
		"results:\n  a: yes\n", "results:\n  a: 0x10\n", "results:\n  a: 1e5\n", "results:\n  a: 012\n", "results:\n  a: .5\n",
		"results:\n  a: 1\n   b: 2\n", "status: passed\nstatus: failed\n", "results:\n  a: 1\n  a: 2\n", "a:b\n", "1: 2\n",
		"results:\n  a: 1\n\n  b: 2\nx: y\n", "results:\n  true: 1\n  1.5: null_\n", "status: passed \n", "status:  passed\n",
		"results:\n  a: 99999999999999999999\n", "results:\n  a: 123456789012345678\n", "x: NULL\n", "x: _\n", "results:\n  a: -\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := parseResultFast(data)
		if !ok {
			return
		}
		slow, err := parseResultYAML(data)
		if err != nil {
			t.Fatalf("fast path took %q, yaml.v3 refuses it: %v", data, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q:\nfast %s\nyaml %s", data, describeResult(fast), describeResult(slow))
		}
	})
}

func describeResult(r *Result) string {
	if r == nil {
		return "nil"
	}
	st := "nil"
	if r.Status != nil {
		st = r.Status.Label()
	}
	return fmt.Sprintf("status %s results %#v ignored %#v link %v %v %v", st, r.Results, r.Ignored, r.LinkConnected, r.LinkSpeed, r.InterfaceSpeed)
}

// The shapes the fast path takes, and what it gives.
func TestParseResultFast(t *testing.T) {
	passed := ScriptPassed
	tests := []struct {
		in   string
		want *Result // nil: the fast path declines
	}{
		{"status: passed\n", &Result{Status: &passed}},
		{"status: passed\nresults:\n  m: 12345.678\n  n: 7\n  s: ok-1\n", &Result{Status: &passed,
			Results: map[string]any{"m": 12345.678, "n": int64(7), "s": "ok-1"}}},
		{"other: 1\nresults:\n", &Result{Ignored: []string{"other"}}},
		{"status: Passed\n", nil},
		{"results:\n  a: yes\n", nil},
		{"results:\n  a: 0x10\n", nil},
		{"results:\n  a: [1, 2]\n", nil},
		{"results:\n  a: 'q'\n", nil},
		{"# comment\nstatus: passed\n", nil},
		{"link_connected: true\n", nil},
		{"status: passed\nstatus: failed\n", nil},
	}
	for _, tt := range tests {
		got, ok := parseResultFast([]byte(tt.in))
		if tt.want == nil {
			if ok {
				t.Errorf("%q: fast path took it: %s", tt.in, describeResult(got))
			}
			continue
		}
		if !ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %s (ok %v); want %s", tt.in, describeResult(got), ok, describeResult(tt.want))
		}
	}
}
