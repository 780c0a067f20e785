package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
)

// TestFleetAgainstRegion runs a small fleet against the real maas-region binary on SQLite:
// every machine commissions to Ready with no error, each uploaded result is stored once and
// passed, and the region's CPU and memory are read; then deployed machines report their
// deploy-info scripts and stay Deployed.
func TestFleetAgainstRegion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the region")
	}
	r := regiontest.Start(t, storetest.SQLite(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n = 5
	o := options{urls: r.URL, key: r.Admin.String(), pids: strconv.Itoa(r.Pid()), cfg: config{
		Machines: n, Concurrency: n, Heartbeat: 200 * time.Millisecond, FileSize: 4096,
		Mode: modeCommission, Runner: runnerProject, Extra: 2, Verify: true, Prefix: "ft", Timeout: 30 * time.Second}}
	s, err := run(ctx, o)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	out := report(s)
	t.Logf("\n%s", out)
	if s.errorTotal != 0 || s.played != n {
		t.Errorf("%d errors, %d of %d machines played", s.errorTotal, s.played, n)
	}
	if len(s.states) != 1 || s.states["Ready"] != n {
		t.Errorf("final states %v; want Ready %d", s.states, n)
	}
	// Each machine: the built-in commissioning scripts, the two extra ones, and the default
	// tests; the same number for each, every one stored once.
	if s.sent == 0 || s.sent%n != 0 || s.sent/n < 3 || s.stored != s.sent {
		t.Errorf("results: %d stored of %d uploaded by %d machines", s.stored, s.sent, n)
	}
	perMachine := s.sent / n
	if got := s.signals; got < n*(2*perMachine+3) {
		t.Errorf("%d signals; want at least %d (heartbeat, a start and a result per script, TESTING, OK)", got, n*(2*perMachine+3))
	}
	if len(s.regions) != 1 || s.regions[0].after.CPU <= s.regions[0].before.CPU || s.regions[0].after.HWMKB == 0 {
		t.Errorf("region figures: %+v", s.regions)
	}
	for _, want := range []string{"signals/s", "result ", "final states: Ready 5", "CPU per signal", "peak RSS"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q", want)
		}
	}

	o.cfg.Mode, o.cfg.Prefix, o.cfg.Extra = modeDeployed, "fd", 0
	s, err = run(ctx, o)
	if err != nil {
		t.Fatalf("run deployed: %v", err)
	}
	if s.errorTotal != 0 || s.states["Deployed"] != n || s.stored != s.sent || s.sent == 0 {
		t.Errorf("deployed: %d errors, states %v, %d stored of %d\n%s", s.errorTotal, s.states, s.stored, s.sent, report(s))
	}
}
