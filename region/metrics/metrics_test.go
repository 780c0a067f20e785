package metrics

import (
	"testing"
	"time"
)

func TestLabel(t *testing.T) {
	for in, want := range map[string]string{
		"Passed":                         "passed",
		"Timed out":                      "timed_out",
		"Failed installing dependencies": "failed_installing_dependencies",
		"Failed - installing":            "failed_installing",
		" odd  spacing ":                 "odd_spacing",
	} {
		if got := label(in); got != want {
			t.Errorf("label(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCodeClass(t *testing.T) {
	for code, want := range map[int]string{200: "2xx", 204: "2xx", 302: "3xx", 404: "4xx", 503: "5xx", 0: "other", 999: "other"} {
		if got := codeClass(code); got != want {
			t.Errorf("codeClass(%d) = %q, want %q", code, got, want)
		}
	}
}

// TestNilRegion: a server built without metrics records nothing and does not panic.
func TestNilRegion(t *testing.T) {
	var m *Region
	m.Request("x", 200, time.Millisecond)
	m.Signal("OK", "stored")
	m.MonitorRun(3)
}

// TestSignalStatusBounded: a status outside the protocol's set is counted as invalid, so a
// caller cannot mint label values.
func TestSignalStatusBounded(t *testing.T) {
	m := New(nil)
	m.Signal("OK", "stored")
	m.Signal("made-up-1", "error")
	m.Signal("made-up-2", "error")
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "maas_signals_total" {
			continue
		}
		got := map[string]float64{}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "status" {
					got[l.GetValue()] += s.GetCounter().GetValue()
				}
			}
		}
		if len(got) != 2 || got["OK"] != 1 || got["invalid"] != 2 {
			t.Errorf("signals by status %v, want OK 1 and invalid 2", got)
		}
		return
	}
	t.Error("no maas_signals_total")
}
