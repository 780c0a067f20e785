package main

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
)

// TestRunEstimateAgainstRegion: tested a second time, a machine's progress lines say how long
// the phase has left (the region's estimates from the first run), and the machine's
// current_run_eta is set while it runs and cleared after.
func TestRunEstimateAgainstRegion(t *testing.T) {
	r := regiontest.Start(t, storetest.SQLite(t))
	m := readyMachine(t, r, "eta")
	names := m.offerSleepers(t, "t-eta", 3, "0.6")
	if out, code := m.run(t, t.TempDir()); code != 0 || strings.Contains(out, " left in testing)") {
		t.Fatalf("first run (no history, so no estimate): exit %d\n%s", code, out)
	}
	admin := r.Client()
	admin.Must(t, 200, "POST", "api/2.0/machines/"+m.id+"/", url.Values{"op": {"test"}, "testing_scripts": {strings.Join(names, ",")}})
	eta := admin.Must(t, 200, "GET", "api/2.0/machines/"+m.id+"/", nil).(map[string]any)["current_run_eta"]
	at, err := time.Parse(time.RFC3339, eta.(string))
	if err != nil {
		t.Fatalf("current_run_eta while testing: %v (%v)", eta, err)
	}
	if d := time.Until(at); d < 0 || d > 5*time.Second {
		t.Errorf("current_run_eta %v is %v away; the three scripts took about 1.8 s", at, d)
	}
	out, code := m.run(t, t.TempDir())
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s", code, out)
	}
	var left []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, " left in testing)") {
			left = append(left, line)
		}
	}
	// The last script leaves nothing: the first two say what is left.
	if len(left) != 2 || !strings.Contains(left[0], "[1/3] t-eta0 ... passed in") || !strings.Contains(left[0], "(about ") {
		t.Errorf("progress with estimates:\n%s", out)
	}
	if v := admin.Must(t, 200, "GET", "api/2.0/machines/"+m.id+"/", nil).(map[string]any)["current_run_eta"]; v != nil {
		t.Errorf("current_run_eta after the run: %v, want null", v)
	}
}
