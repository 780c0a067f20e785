// Command fleet simulates a fleet of machines commissioning against one or more regions, and
// measures the regions: it creates N machines through API 2.0 with an administrator's key
// (commissioning at once, or registered deployed), reads each machine's token, then makes
// each machine play the in-machine runner's exact request sequence (protocol.md §6.2) with the
// project's own client and wire code: a heartbeat, the scripts tar, a start and a result
// signal per script (four files each, and a fixture's machine-resources document where the
// region reads it), the tar again, the testing scripts, OK. In -mode deployed the machines
// play maas-run-scripts report-results instead (protocol.md §7).
//
//	go run ./hack/fleet -url http://127.0.0.1:5240/MAAS -key CK:TK:TS -machines 100 -concurrency 100 -pid $(pidof maas-region)
//
// It reports signals per second, latency percentiles by request kind, errors by kind, the
// machines' final states read back through the API and, given the regions' pids, their CPU
// time per signal and peak RSS. Several -url values, comma-separated, spread the machines
// round-robin.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"maasgo/wire"
)

func main() {
	var o options
	flag.StringVar(&o.urls, "url", "http://127.0.0.1:5240/MAAS", "region URL(s), comma-separated; machines are spread round-robin")
	flag.StringVar(&o.key, "key", "", "an administrator's API key, consumer:token:secret")
	flag.IntVar(&o.cfg.Machines, "machines", 100, "machines to create and play")
	flag.IntVar(&o.cfg.Concurrency, "concurrency", 100, "machines playing their sequence at once (and requests at once while setting up)")
	flag.DurationVar(&o.cfg.RampUp, "ramp-up", 0, "spread the machines' starts over this long")
	flag.DurationVar(&o.cfg.Heartbeat, "heartbeat", 120*time.Second, "heartbeat interval while a machine plays (the runner's is 120s); 0: only the first heartbeat")
	flag.IntVar(&o.cfg.MaxConns, "max-conns", 500, "connections open at once to each region: all machines dial from one address, which the region bounds (512 by default); 0 for no bound")
	flag.IntVar(&o.cfg.FileSize, "file-size", 4096, "bytes of each uploaded file: combined output, stdout, stderr, result YAML")
	flag.StringVar(&o.resources, "resources", "", "machine-resources JSON fixture (default: testdata/machines/qemu-1g/machine-resources.json of this module)")
	flag.StringVar(&o.cfg.Mode, "mode", modeCommission, "commission (maas-run-remote-scripts) or deployed (maas-run-scripts report-results)")
	flag.StringVar(&o.cfg.Runner, "runner", runnerProject, "project (cmd/maas-run-scripts: Idempotency-Key on journaled signals) or upstream (no keys; no start signals in deployed mode)")
	flag.IntVar(&o.cfg.Extra, "extra-scripts", 0, "extra commissioning scripts every machine runs (fleet-extra-NN, added to the region if missing), to raise the results per machine")
	flag.BoolVar(&o.cfg.Verify, "verify", false, "read every machine's results back and check each uploaded result is stored once, passed")
	flag.StringVar(&o.cfg.Prefix, "prefix", "fleet", "hostname prefix")
	flag.DurationVar(&o.cfg.Timeout, "timeout", 2*time.Minute, "longest a request may take")
	flag.StringVar(&o.pids, "pid", "", "the regions' process ids (comma-separated), to report their CPU time and peak RSS")
	flag.BoolVar(&o.figures, "figures", false, "also print FIGURE lines for scripts")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	s, err := run(ctx, o)
	if s != nil {
		s.print(os.Stdout)
		if o.figures {
			s.figures(os.Stdout)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "fleet: %v\n", err)
		os.Exit(1)
	}
	if s.errorTotal > 0 {
		os.Exit(2)
	}
}

// options are the command line before it is checked.
type options struct {
	cfg       config
	urls      string
	key       string
	resources string
	pids      string
	figures   bool
}

// parse checks the options and completes the config.
func (o options) parse() (config, []string, error) {
	cfg := o.cfg
	for u := range strings.SplitSeq(o.urls, ",") {
		if u = strings.TrimSuffix(strings.TrimSpace(u), "/"); u != "" {
			cfg.URLs = append(cfg.URLs, u)
		}
	}
	if len(cfg.URLs) == 0 {
		return cfg, nil, errors.New("-url: no region URL")
	}
	creds, err := wire.ParseCredentials(o.key)
	if err != nil {
		return cfg, nil, fmt.Errorf("-key: %w", err)
	}
	cfg.Admin = creds
	switch {
	case cfg.Machines < 1 || cfg.Machines > 1<<24:
		return cfg, nil, errors.New("-machines must be between 1 and 2^24")
	case cfg.Concurrency < 1:
		return cfg, nil, errors.New("-concurrency must be at least 1")
	case cfg.FileSize < 0:
		return cfg, nil, errors.New("-file-size must not be negative")
	case cfg.Mode != modeCommission && cfg.Mode != modeDeployed:
		return cfg, nil, fmt.Errorf("-mode %q: want %s or %s", cfg.Mode, modeCommission, modeDeployed)
	case cfg.Runner != runnerProject && cfg.Runner != runnerUpstream:
		return cfg, nil, fmt.Errorf("-runner %q: want %s or %s", cfg.Runner, runnerProject, runnerUpstream)
	case cfg.Extra < 0 || cfg.Extra > 99:
		return cfg, nil, errors.New("-extra-scripts must be between 0 and 99")
	case cfg.Timeout <= 0:
		return cfg, nil, errors.New("-timeout must be positive")
	}
	path := o.resources
	if path == "" {
		path = defaultResources()
	}
	if cfg.Resources, err = os.ReadFile(path); err != nil {
		return cfg, nil, fmt.Errorf("-resources: %w", err)
	}
	if n := len(newContent(0, cfg.Resources, 0).macs); n > 16 {
		return cfg, nil, fmt.Errorf("-resources %s: %d MAC addresses; the fleet gives a machine at most 16", path, n)
	}
	var pids []string
	for p := range strings.SplitSeq(o.pids, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if _, err := strconv.Atoi(p); err != nil {
			return cfg, nil, fmt.Errorf("-pid %q: not a process id", p)
		}
		pids = append(pids, p)
	}
	return cfg, pids, nil
}

// defaultResources is the qemu-1g fixture of this module, found from the working directory
// (the module root or below it) or from this source file's place.
func defaultResources() string {
	const rel = "testdata/machines/qemu-1g/machine-resources.json"
	if dir, err := os.Getwd(); err == nil {
		for d := dir; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, rel)); err == nil {
				return filepath.Join(d, rel)
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		return filepath.Join(filepath.Dir(file), "..", "..", rel)
	}
	return rel
}

// run sets the fleet up, plays it, reads the machines back and sums up. A summary is returned
// whenever the machines were set up, also with an error.
func run(ctx context.Context, o options) (*summary, error) {
	cfg, pids, err := o.parse()
	if err != nil {
		return nil, err
	}
	f := newFleet(cfg)
	if cfg.Extra > 0 && cfg.Mode == modeCommission {
		if err := f.addExtraScripts(ctx); err != nil {
			return nil, err
		}
	}
	t0 := time.Now()
	f.setup(ctx)
	s := &summary{cfg: cfg, setupWall: time.Since(t0), machines: len(f.machines)}
	if len(f.machines) == 0 {
		s.errors, s.errorTotal, s.states = f.rec.errors(), f.rec.errorTotal(), map[string]int{}
		return s, errors.New("no machine could be set up")
	}
	for _, p := range pids {
		sample, err := readProc(p)
		if err != nil {
			return nil, err
		}
		s.regions = append(s.regions, regionProc{pid: p, before: sample})
	}
	self0, _ := readProc("self")
	t1 := time.Now()
	f.play(ctx)
	s.playWall = time.Since(t1)
	self1, _ := readProc("self")
	s.selfCPUDuring = self1.CPU - self0.CPU
	for i := range s.regions {
		if s.regions[i].after, err = readProc(s.regions[i].pid); err != nil {
			return nil, err
		}
	}
	s.played = int(f.played.Load())
	s.signals = f.rec.count(signalKinds...)
	s.requests = s.signals + f.rec.count(kindTar)
	s.allSignals = f.rec.combined("signals", signalKinds...)
	s.states = f.finalStates(ctx)
	if cfg.Verify {
		s.stored, s.sent = f.verifyResults(ctx)
		s.verified = true
	}
	s.stats = f.rec.stats()
	s.errors, s.errorTotal = f.rec.errors(), f.rec.errorTotal()
	return s, ctx.Err()
}

// report is run's summary as text (for tests).
func report(s *summary) string {
	var b strings.Builder
	s.print(&b)
	return b.String()
}
