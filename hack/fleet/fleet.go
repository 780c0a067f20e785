package main

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"maasgo/client"
	"maasgo/wire"
)

// Modes: what the machines do.
const (
	modeCommission = "commission" // created, commissioned and tested, as maas-run-remote-scripts does
	modeDeployed   = "deployed"   // registered deployed, reporting deploy-info (maas-run-scripts report-results)
)

// Runners: whose request sequence the machines play.
const (
	runnerProject  = "project"  // cmd/maas-run-scripts: an Idempotency-Key on every journaled signal
	runnerUpstream = "upstream" // maas-run-remote-scripts / maas_run_scripts.py: no key; no start signal in deployed mode
)

// config is one fleet run.
type config struct {
	URLs        []string // region URLs (http://host:port/MAAS); machine i uses URLs[i % len]
	Admin       wire.Credentials
	Machines    int
	Concurrency int           // machines playing their sequence at once
	RampUp      time.Duration // machine i starts no earlier than RampUp*i/Machines into the play
	Heartbeat   time.Duration // periodic heartbeat while a machine plays; 0: only the first one
	FileSize    int           // bytes of each uploaded file (the fixture documents keep their size)
	Resources   []byte        // machine-resources fixture
	Mode        string
	Runner      string
	Extra       int           // extra commissioning scripts each machine runs (fleet-extra-NN)
	Verify      bool          // read every machine's results back and compare with what was sent
	Prefix      string        // hostname prefix
	Timeout     time.Duration // for each request
	MaxConns    int           // connections open at once to each region (0: no bound)
}

// machine is one simulated machine.
type machine struct {
	index    int
	base     string // region URL
	systemID string
	token    wire.Credentials
	sent     map[int64]string // script_result_id → name of every result uploaded
	done     bool             // played its sequence to the end
}

// fleet runs a config's machines against the regions.
type fleet struct {
	cfg      config
	rec      *recorder
	hc       *http.Client
	admin    *client.Client
	content  *content
	runID    string
	machines []*machine
	played   atomic.Int64 // machines that finished their sequence
}

func newFleet(cfg config) *fleet {
	hc := client.NewHTTPClient(client.Options{Idle: cfg.Timeout})
	tr := hc.Transport.(*http.Transport)
	// One keep-alive connection per machine in flight (and its heartbeat), as machines running
	// the project's runner keep theirs.
	tr.MaxIdleConnsPerHost = 2*cfg.Concurrency + 8
	tr.MaxIdleConns = tr.MaxIdleConnsPerHost * len(cfg.URLs)
	// Every simulated machine dials from the same address, which the region bounds
	// (maas-region serve --max-connections-per-address); real machines each have their own.
	tr.MaxConnsPerHost = cfg.MaxConns
	now := time.Now().UnixNano()
	return &fleet{cfg: cfg, rec: newRecorder(), hc: hc, admin: client.New(cfg.Admin, hc),
		content: newContent(cfg.FileSize, cfg.Resources, uint16(now>>10)), runID: strconv.FormatInt(now, 36)}
}

// timed runs one request of kind, records its latency or failure and returns its error. A
// request cut short because ctx ended (a heartbeat when its machine is done, or an interrupt)
// is not recorded.
func (f *fleet) timed(ctx context.Context, kind string, fn func() error) error {
	t0 := time.Now()
	err := fn()
	if err == nil || ctx.Err() == nil {
		f.rec.observe(kind, time.Since(t0), err)
	}
	return err
}

// api sends an API 2.0 request with the admin key to region base and decodes its JSON answer
// into out (nil: ignored).
func (f *fleet) api(ctx context.Context, base, method, path, op string, parts []client.Part, out any) error {
	r, err := client.NewAPIRequest(method, strings.TrimSuffix(base, "/")+"/api/2.0/"+path, op, parts)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	b, err := f.admin.Call(ctx, r)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
	}
	return nil
}

// extraScriptNames are the names of the extra commissioning scripts.
func (f *fleet) extraScriptNames() []string {
	var out []string
	for n := 1; n <= f.cfg.Extra; n++ {
		out = append(out, fmt.Sprintf("fleet-extra-%02d", n))
	}
	return out
}

// addExtraScripts uploads the extra commissioning scripts the region does not have yet.
func (f *fleet) addExtraScripts(ctx context.Context) error {
	for _, name := range f.extraScriptNames() {
		var existing any
		err := f.api(ctx, f.cfg.URLs[0], http.MethodGet, "scripts/"+name+"/", "", nil, &existing)
		var he *client.Error
		switch {
		case err == nil:
			continue
		case errors.As(err, &he) && he.StatusCode == http.StatusNotFound:
		default:
			return fmt.Errorf("look up script %s: %w", name, err)
		}
		body := "#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: " + name +
			"\n# script_type: commissioning\n# parallel: any\n# timeout: 60\n# --- End MAAS 1.0 script metadata ---\necho fleet\n"
		parts := []client.Part{{Name: "name", Value: name}, {Name: "type", Value: "commissioning"},
			{Name: "script", Value: body, File: true}}
		if err := f.api(ctx, f.cfg.URLs[0], http.MethodPost, "scripts/", "", parts, nil); err != nil {
			return fmt.Errorf("add script %s: %w", name, err)
		}
	}
	return nil
}

// setup creates the machines (commissioning them, or deployed) and reads their tokens,
// Concurrency at a time. Machines that cannot be set up are left out of the play.
func (f *fleet) setup(ctx context.Context) {
	all := make([]*machine, f.cfg.Machines)
	f.each(ctx, f.cfg.Machines, 0, func(i int) {
		m := &machine{index: i, base: f.cfg.URLs[i%len(f.cfg.URLs)], sent: map[int64]string{}}
		if err := f.create(ctx, m); err != nil {
			return
		}
		all[i] = m
	})
	for _, m := range all {
		if m != nil {
			f.machines = append(f.machines, m)
		}
	}
}

// create adds machine m and reads its token.
func (f *fleet) create(ctx context.Context, m *machine) error {
	host := fmt.Sprintf("%s-%s-%05d", f.cfg.Prefix, f.runID, m.index)
	var parts []client.Part
	if f.cfg.Mode == modeDeployed {
		// As maas-run-scripts register-machine sends it.
		parts = []client.Part{{Name: "hostname", Value: host}, {Name: "deployed", Value: "true"}}
	} else {
		parts = []client.Part{{Name: "hostname", Value: host}, {Name: "architecture", Value: "amd64/generic"},
			{Name: "mac_addresses", Value: f.content.bootMAC(m.index)}, {Name: "power_type", Value: "manual"}}
		if f.cfg.Extra > 0 {
			parts = append(parts, client.Part{Name: "commissioning_scripts", Value: strings.Join(f.extraScriptNames(), ",")})
		}
	}
	var created struct {
		SystemID string `json:"system_id"`
	}
	err := f.timed(ctx, kindCreate, func() error {
		return f.api(ctx, m.base, http.MethodPost, "machines/", "", parts, &created)
	})
	if err != nil {
		return err
	}
	m.systemID = created.SystemID
	var tok struct {
		TokenKey    string `json:"token_key"`
		TokenSecret string `json:"token_secret"`
		ConsumerKey string `json:"consumer_key"`
	}
	err = f.timed(ctx, kindToken, func() error {
		return f.api(ctx, m.base, http.MethodGet, "machines/"+m.systemID+"/", "get_token", nil, &tok)
	})
	if err != nil {
		return err
	}
	m.token = wire.Credentials{ConsumerKey: tok.ConsumerKey, TokenKey: tok.TokenKey, TokenSecret: tok.TokenSecret}
	return nil
}

// each runs fn(i) for i in [0, n), conc at a time (f.cfg.Concurrency); with ramp > 0, call i
// starts no earlier than ramp*i/n after each starts.
func (f *fleet) each(ctx context.Context, n int, ramp time.Duration, fn func(i int)) {
	start := time.Now()
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(f.cfg.Concurrency, n) {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		if ramp > 0 {
			if d := time.Until(start.Add(ramp * time.Duration(i) / time.Duration(n))); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
		}
		next <- i
	}
	close(next)
	wg.Wait()
}

// play runs every machine's sequence.
func (f *fleet) play(ctx context.Context) {
	f.each(ctx, len(f.machines), f.cfg.RampUp, func(i int) {
		m := f.machines[i]
		var err error
		if f.cfg.Mode == modeDeployed {
			err = f.playDeployed(ctx, m)
		} else {
			err = f.playCommissioning(ctx, m)
		}
		if err == nil {
			m.done = true
			f.played.Add(1)
		}
	})
}

// session is one machine's metadata client while it plays.
type session struct {
	f   *fleet
	m   *machine
	md  *client.Metadata
	seq atomic.Int64
}

func (f *fleet) session(m *machine) *session {
	md := client.NewMetadata(strings.TrimSuffix(m.base, "/")+"/metadata/2012-03-01/", m.token, f.hc)
	return &session{f: f, m: m, md: md}
}

// signal sends sig as the runner does: its fields in upstream's order, then its files. A
// journaled signal (every one but the heartbeat) carries an Idempotency-Key when the fleet
// plays the project's runner.
func (s *session) signal(ctx context.Context, kind string, sig wire.Signal) error {
	fields := sig.Fields()
	body := make(client.Multipart, 0, len(fields)+len(sig.Files))
	for _, fl := range fields {
		body = append(body, client.Part{Name: fl.Name, Value: fl.Value})
	}
	for _, fl := range sig.Files {
		body = append(body, client.Part{Name: fl.Name, File: true, Value: string(fl.Data)})
	}
	key := ""
	if kind != kindHeartbeat && s.f.cfg.Runner == runnerProject {
		key = s.f.runID + "-" + strconv.Itoa(s.m.index) + "-" + strconv.FormatInt(s.seq.Add(1), 10)
	}
	return s.f.timed(ctx, kind, func() error {
		ctx, cancel := context.WithTimeout(ctx, s.f.cfg.Timeout)
		defer cancel()
		if err := s.md.Signal(ctx, body, key); err != nil {
			return fmt.Errorf("machine %s: signal %s: %w", s.m.systemID, sig.Status, err)
		}
		return nil
	})
}

// index downloads the scripts tar and reads its index.json; ok is false on 204 No Content.
func (s *session) index(ctx context.Context) (idx *wire.Index, ok bool, err error) {
	err = s.f.timed(ctx, kindTar, func() error {
		ctx, cancel := context.WithTimeout(ctx, s.f.cfg.Timeout)
		defer cancel()
		body, has, err := s.md.Scripts(ctx)
		if err != nil {
			return fmt.Errorf("machine %s: download scripts: %w", s.m.systemID, err)
		}
		if !has {
			return nil
		}
		defer body.Close()
		idx, err = readIndex(body)
		if err != nil {
			return fmt.Errorf("machine %s: scripts tar: %w", s.m.systemID, err)
		}
		ok = true
		return nil
	})
	return idx, ok, err
}

// readIndex reads a scripts tar to its end (as the runner extracts all of it) and decodes its
// index.json.
func readIndex(r io.Reader) (*wire.Index, error) {
	tr := tar.NewReader(r)
	var idx *wire.Index
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read the tar: %w", err)
		}
		if h.Name != "index.json" {
			if _, err := io.Copy(io.Discard, tr); err != nil {
				return nil, fmt.Errorf("read %s: %w", h.Name, err)
			}
			continue
		}
		idx = &wire.Index{}
		if err := json.NewDecoder(tr).Decode(idx); err != nil {
			return nil, fmt.Errorf("decode index.json: %w", err)
		}
	}
	if idx == nil {
		return nil, errors.New("no index.json in the tar")
	}
	return idx, nil
}

// heartbeats sends WORKING every interval until ctx ends, as the runner's heartbeat does.
func (s *session) heartbeats(ctx context.Context, started time.Time) {
	t := time.NewTicker(s.f.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.signal(ctx, kindHeartbeat, wire.Signal{Status: wire.SignalWorking,
				Error: fmt.Sprintf("Elapsed time (real): %.1fs", time.Since(started).Seconds())})
		}
	}
}

// playCommissioning plays maas-run-remote-scripts (protocol.md §6.2): heartbeat, download,
// the commissioning scripts, download again, TESTING and the testing scripts, OK.
func (f *fleet) playCommissioning(ctx context.Context, m *machine) error {
	s := f.session(m)
	started := time.Now()
	if err := s.signal(ctx, kindHeartbeat, wire.Signal{Status: wire.SignalWorking}); err != nil {
		return err
	}
	if f.cfg.Heartbeat > 0 {
		hctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { s.heartbeats(hctx, started) })
		defer func() { stop(); wg.Wait() }()
	}
	ran := map[int64]bool{} // commissioning results already run
	for round := 0; ; round++ {
		if round > 3 {
			return f.flowErr(m, "the region still lists scripts to run after %d downloads", round)
		}
		idx, ok, err := s.index(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return s.signal(ctx, kindOK, wire.Signal{Status: wire.SignalOK, Error: "All scripts successfully ran"})
		}
		if c := idx.V1.Commissioning; len(c) > 0 {
			// New ones (for_hardware scripts the inventory matched) run as the runner runs
			// them; one that ran before would make the 3.x runner loop forever (§4.2).
			for _, e := range c {
				if e.ScriptResultID != nil && ran[*e.ScriptResultID] {
					return f.flowErr(m, "the region lists commissioning result %d (%s) again after it ran", *e.ScriptResultID, e.Name)
				}
			}
			if err := s.runScripts(ctx, c); err != nil {
				return err
			}
			for _, e := range c {
				if e.ScriptResultID != nil {
					ran[*e.ScriptResultID] = true
				}
			}
			continue // download again: the testing scripts come next
		}
		for _, ph := range []struct {
			list   []wire.IndexEntry
			status string
		}{{idx.V1.Testing, wire.SignalTesting}, {idx.V1.Release, wire.SignalReleasing}} {
			if len(ph.list) == 0 {
				continue
			}
			if err := s.signal(ctx, kindPhase, wire.Signal{Status: ph.status}); err != nil {
				return err
			}
			if err := s.runScripts(ctx, ph.list); err != nil {
				return err
			}
		}
		return s.signal(ctx, kindOK, wire.Signal{Status: wire.SignalOK, Error: "All scripts successfully ran"})
	}
}

// playDeployed plays report-results on a deployed machine (protocol.md §7): one download, then
// the default deploy-info commissioning scripts one after the other; no heartbeat, no OK.
func (f *fleet) playDeployed(ctx context.Context, m *machine) error {
	s := f.session(m)
	idx, ok, err := s.index(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return f.flowErr(m, "the region has no scripts for the deployed machine")
	}
	var run []wire.IndexEntry
	for _, e := range idx.V1.Commissioning {
		if e.Default != nil && *e.Default && slices.Contains(e.Tags, "deploy-info") {
			run = append(run, e)
		}
	}
	if len(run) == 0 {
		return f.flowErr(m, "the region lists no default deploy-info scripts")
	}
	for _, e := range run {
		if f.cfg.Runner == runnerProject {
			if err := s.signal(ctx, kindStart, e.ScriptSignal(wire.SignalWorking, "Starting "+e.MsgName())); err != nil {
				return err
			}
		}
		if err := s.signal(ctx, kindResult, s.resultSignal(e)); err != nil {
			return err
		}
	}
	return nil
}

// runScripts plays one list of scripts in the runner's order (protocol.md §6.3): the serial
// ones first, each started and finished before the next; then the parallel ones, all started,
// then all finished. Each result uploads four files.
func (s *session) runScripts(ctx context.Context, list []wire.IndexEntry) error {
	sorted := slices.Clone(list)
	slices.SortStableFunc(sorted, func(a, b wire.IndexEntry) int {
		if ha, hb := hwRank(a.HardwareType), hwRank(b.HardwareType); ha != hb {
			return ha - hb
		}
		return strings.Compare(a.Name, b.Name)
	})
	var serial, parallel []wire.IndexEntry
	for _, e := range sorted {
		if e.Parallel == wire.ParallelDisabled {
			serial = append(serial, e)
		} else {
			parallel = append(parallel, e)
		}
	}
	for _, e := range serial {
		if err := s.signal(ctx, kindStart, e.ScriptSignal(wire.SignalWorking, "Starting "+e.MsgName())); err != nil {
			return err
		}
		if err := s.signal(ctx, kindResult, s.resultSignal(e)); err != nil {
			return err
		}
	}
	for _, e := range parallel {
		if err := s.signal(ctx, kindStart, e.ScriptSignal(wire.SignalWorking, "Starting "+e.MsgName())); err != nil {
			return err
		}
	}
	for _, e := range parallel {
		if err := s.signal(ctx, kindResult, s.resultSignal(e)); err != nil {
			return err
		}
	}
	return nil
}

// hwRank orders hardware types as the runner does: node (0) last.
func hwRank(h wire.HardwareType) int {
	if h == 0 {
		return 99
	}
	return int(h)
}

// resultSignal is e's result: exit status 0, a runtime, and its four files.
func (s *session) resultSignal(e wire.IndexEntry) wire.Signal {
	sig := e.ScriptSignal(wire.SignalWorking, "Finished "+e.MsgName()+": 0")
	exit := 0
	rt := 0.5 + float64(len(e.Name)%10)/10
	sig.ExitStatus, sig.Runtime = &exit, &rt
	sig.Files = s.f.content.forScript(s.m.index, e.Name).files(e.Name)
	if e.ScriptResultID != nil {
		s.m.sent[*e.ScriptResultID] = e.Name
	}
	return sig
}

// flowErr records and returns a sequence error of machine m.
func (f *fleet) flowErr(m *machine, format string, args ...any) error {
	err := &flowError{msg: fmt.Sprintf("machine %s: ", m.systemID) + fmt.Sprintf(format, args...)}
	f.rec.observe(kindFlow, 0, err)
	return err
}
