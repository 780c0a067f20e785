package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"maasgo/agent/journal"
	"maasgo/wire"
)

// Journal record kinds.
const (
	kindSignal = "signal" // a signal to deliver
	kindMark   = "mark"   // a step the runner took that sends nothing
)

// signalRecord is the payload of a signal record. Outcome is set on the record that finishes
// a script, so that a resumed run knows the script's result without running it again.
type signalRecord struct {
	Signal  Signal   `json:"signal"`
	Outcome *Outcome `json:"outcome,omitempty"`
}

// run is one invocation of Run or Resume.
type run struct {
	a          *Agent
	info       RunInfo
	dir        string // runs/<id>
	j          *journal.Journal
	up         *uploader // nil with NoSend
	watch      *watchdog // nil without one
	scriptsDir string
	outDir     string
	configDir  string
	resources  string // MAAS_RESOURCES_FILE
	start      time.Time

	resMu sync.Mutex
	res   *resolver

	mu       sync.Mutex
	outcomes []Outcome
	fatal    error
	cancel   context.CancelFunc
	final    string
	// unrecorded counts the signals that could not be journaled, so are not delivered.
	unrecorded int
}

// phaseCtx names the phase of a round that a step belongs to.
type phaseCtx struct {
	round    int
	phase    *Phase
	allowBMC bool
}

// key names a step of a script; keys make a resumed run skip what is done.
func (pc *phaseCtx) key(s *Script, step string) string {
	return fmt.Sprintf("r%d/%s/%s/%s", pc.round, pc.phase.Name(), s.ID, step)
}

func (a *Agent) execute(parent context.Context, info RunInfo, resumed bool) (Summary, error) {
	start := time.Now()
	dir := RunDir(a.StorageDir, info.ID)
	j, err := journal.Open(journalDir(a.StorageDir, info.ID))
	if err != nil {
		return Summary{RunID: info.ID}, err
	}
	defer j.Close()
	for _, w := range j.Warnings {
		a.Log.Warn("journal: skipped a damaged entry", "detail", w)
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	r := &run{
		a: a, info: info, dir: dir, j: j, start: start, cancel: cancel,
		scriptsDir: filepath.Join(a.StorageDir, "scripts"),
		outDir:     filepath.Join(a.StorageDir, "out"),
		configDir:  filepath.Join(a.StorageDir, "config"),
		resources:  filepath.Join(dir, "resources.json"),
		res:        &resolver{roots: a.Roots, naps: a.InterfaceWait},
	}
	for _, d := range []string{r.scriptsDir, r.outDir, r.configDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return Summary{RunID: info.ID}, fmt.Errorf("create %s: %w", d, err)
		}
	}
	if f, err := os.OpenFile(r.resources, os.O_WRONLY|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
	if resumed {
		fmt.Fprintf(a.Out, "Resuming run %s in %s\n", info.ID, a.StorageDir)
		if err := a.reapSurvivors(j, "the interrupted run"); err != nil {
			return Summary{RunID: info.ID}, err
		}
	}
	if len(a.Watchdog) > 0 {
		w, err := startWatchdog(a.Watchdog, a.Log)
		if err != nil {
			a.Log.Warn("no watchdog: scripts would outlive a runner killed with SIGKILL", "error", err)
		}
		r.watch = w
		defer w.stop()
	}

	var bg sync.WaitGroup
	bgCtx, stopBG := context.WithCancel(ctx)
	if !a.NoSend {
		r.up = newUploader(j, a.Region, info.ID, a.Backoff, a.GiveUpAfter, a.Log)
		bg.Add(1)
		go func() { defer bg.Done(); r.up.loop(bgCtx) }()
		if !info.Workload {
			bg.Add(1)
			go func() { defer bg.Done(); r.heartbeat(bgCtx) }()
		}
	}
	// A crash while custom networking was applied leaves the backup behind.
	r.restoreNetconf(ctx)

	err = r.flow(ctx)
	if ferr := r.fatalErr(); ferr != nil {
		err = ferr
	}
	if r.up != nil && (err == nil || errors.Is(err, ErrScriptsFailed) || errors.Is(err, ErrScriptsRefused)) {
		if werr := r.up.waitIdle(ctx); werr != nil {
			err = werr
		}
	}
	stopBG()
	bg.Wait()

	r.mu.Lock()
	unrecorded := r.unrecorded
	r.mu.Unlock()
	sum := Summary{RunID: info.ID, Outcomes: r.sortedOutcomes(), Final: r.final,
		Unsent: len(j.Unsent(kindSignal)), Unrecorded: unrecorded, Elapsed: time.Since(start)}
	if err == nil && sum.Failed() > 0 {
		err = fmt.Errorf("%w: %d of %d", ErrScriptsFailed, sum.Failed(), len(sum.Outcomes))
	}
	if parent.Err() != nil && err != nil && !errors.Is(err, ErrScriptsFailed) {
		err = fmt.Errorf("interrupted: %w", parent.Err())
	}
	if !errors.Is(err, ErrUnauthorized) {
		r.printSummary(sum, err)
	}
	return sum, err
}

// flow is upstream's main loop (protocol.md §6.2): download, run the commissioning scripts,
// download again while commissioning passes, then the testing and release scripts, then OK
// or FAILED.
func (r *run) flow(ctx context.Context) error {
	if r.info.Workload {
		return r.workloadFlow(ctx)
	}
	for round := 0; ; round++ {
		idx, ok, err := r.index(ctx, round)
		if err != nil {
			return err
		}
		if !ok {
			return r.finalSignal(wire.SignalOK, "All scripts successfully ran")
		}
		again, err := r.runRound(ctx, round, idx)
		if err != nil || !again {
			return err
		}
		// The region must have the commissioning results before it is asked again, or it
		// lists them again.
		if r.up != nil {
			if err := r.up.waitIdle(ctx); err != nil {
				return err
			}
		}
	}
}

// runRound runs the scripts of one index. It reports whether the scripts must be downloaded
// again (the commissioning scripts passed and downloads are allowed).
func (r *run) runRound(ctx context.Context, round int, idx *Index) (bool, error) {
	if p := idx.Phase(wire.ScriptTypeCommissioning); p != nil && r.ranBefore(round, p) {
		// A region that lists finished commissioning results again would make upstream's
		// runner loop forever (protocol.md §4.2); run them once only.
		r.logf("the region listed commissioning results that already ran; going on with the other scripts")
	} else if p != nil {
		fmt.Fprintln(r.a.Out, "Starting commissioning scripts...")
		pc := &phaseCtx{round: round, phase: p, allowBMC: true}
		fails, err := r.runPhase(ctx, pc)
		if err != nil {
			return false, err
		}
		if fails > 0 {
			return false, r.finalSignal(wire.SignalFailed, r.failedMsg(pc, "%d commissioning scripts failed to run", fails))
		}
		if !r.noDownload() && len(p.Scripts) > 0 {
			return true, nil
		}
	}
	for _, ph := range []struct {
		t      wire.ScriptType
		status string
		start  string
		failed string
	}{
		{wire.ScriptTypeTesting, wire.SignalTesting, "Starting testing scripts...", "%d test scripts failed to run"},
		{wire.ScriptTypeRelease, wire.SignalReleasing, "Starting release scripts...", "%d release scripts failed to run"},
	} {
		p := idx.Phase(ph.t)
		if p == nil {
			continue
		}
		r.emit(fmt.Sprintf("r%d/%s/begin", round, p.Name()), kindSignal, Signal{Status: ph.status}, nil)
		fmt.Fprintln(r.a.Out, ph.start)
		pc := &phaseCtx{round: round, phase: p}
		fails, err := r.runPhase(ctx, pc)
		if err != nil {
			return false, err
		}
		if fails > 0 {
			return false, r.finalSignal(wire.SignalFailed, r.failedMsg(pc, ph.failed, fails))
		}
	}
	return false, r.finalSignal(wire.SignalOK, "All scripts successfully ran")
}

// ranBefore reports whether every commissioning result of round's phase p already finished
// in an earlier round.
func (r *run) ranBefore(round int, p *Phase) bool {
	if round == 0 || len(p.Scripts) == 0 {
		return false
	}
	for _, s := range p.Scripts {
		found := false
		for prev := 0; prev < round && !found; prev++ {
			_, found = r.j.Lookup((&phaseCtx{round: prev, phase: p}).key(s, "finish"))
		}
		if !found {
			return false
		}
	}
	return true
}

func (r *run) noDownload() bool { return r.a.NoDownload || r.a.NoSend }

// finalSignal records the run's last signal.
func (r *run) finalSignal(status, msg string) error {
	r.final = status
	fmt.Fprintln(r.a.Out, msg)
	r.emit("final", kindSignal, Signal{Status: status, Error: msg}, nil)
	return r.fatalErr()
}

// failedMsg is the final FAILED message of a phase with fails failures: upstream's count
// (format), then the scripts whose output could not be kept, which the region would
// otherwise not learn.
func (r *run) failedMsg(pc *phaseCtx, format string, fails int) string {
	msg := fmt.Sprintf(format, fails)
	var lost []string
	for _, s := range pc.phase.Scripts {
		if oc, ok := r.recorded(pc, s); ok && oc.OutputLost {
			lost = append(lost, s.Name)
		}
	}
	if len(lost) > 0 {
		msg += "; the output of " + strings.Join(lost, ", ") + " could not be kept"
	}
	return msg
}

// runPhase runs one phase's batches and returns how many scripts failed.
func (r *run) runPhase(ctx context.Context, pc *phaseCtx) (int, error) {
	r.resMu.Lock()
	r.res.reset()
	r.resMu.Unlock()
	for _, b := range Plan(pc.phase.Scripts) {
		if err := r.stopped(ctx); err != nil {
			return 0, err
		}
		r.runBatch(ctx, pc, b)
	}
	if err := r.stopped(ctx); err != nil {
		return 0, err
	}
	fails := 0
	for _, s := range pc.phase.Scripts {
		oc, ok := r.recorded(pc, s)
		if !ok {
			return 0, fmt.Errorf("%s: no result recorded", s.Name)
		}
		if oc.Failed() {
			fails++
		}
	}
	return fails, nil
}

func (r *run) stopped(ctx context.Context) error {
	if err := r.fatalErr(); err != nil {
		return err
	}
	return ctx.Err()
}

// runBatch runs a batch: its network configuration, its packages, then its scripts, all
// together. Scripts whose result is already recorded are left out.
func (r *run) runBatch(ctx context.Context, pc *phaseCtx, b Batch) {
	var todo []*Script
	for _, s := range b.Scripts {
		if oc, ok := r.recorded(pc, s); ok {
			oc.Resumed = true
			r.addOutcome(oc)
			continue
		}
		todo = append(todo, s)
	}
	if len(todo) == 0 {
		return
	}
	if b.Netconf && !r.info.Workload {
		if !r.applyNetconf(ctx, pc, todo) {
			return
		}
		defer r.restoreNetconf(ctx)
	}
	var wg sync.WaitGroup
	if r.info.Workload {
		// Nothing is installed on a machine running a workload: the scripts use what it has.
		for _, s := range todo {
			wg.Add(1)
			go func() { defer wg.Done(); r.runScript(ctx, pc, s) }()
		}
	} else if b.SharedInstall {
		if !r.install(ctx, pc, todo) {
			return
		}
		for _, s := range todo {
			wg.Add(1)
			go func() { defer wg.Done(); r.runScript(ctx, pc, s) }()
		}
	} else {
		for _, s := range todo {
			if ctx.Err() != nil {
				break
			}
			if !r.install(ctx, pc, []*Script{s}) {
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); r.runScript(ctx, pc, s) }()
		}
	}
	wg.Wait()
}

// recorded returns the outcome recorded for a script, if its result was journaled.
func (r *run) recorded(pc *phaseCtx, s *Script) (Outcome, bool) {
	rec, ok := r.j.Lookup(pc.key(s, "finish"))
	if !ok {
		return Outcome{}, false
	}
	var sr signalRecord
	if err := json.Unmarshal(rec.Data, &sr); err != nil || sr.Outcome == nil {
		return Outcome{Phase: pc.phase.Type, Name: s.Name, ID: s.ID, Status: wire.ScriptFailed}, true
	}
	return *sr.Outcome, true
}

// index returns the index of a round: the snapshot taken when the round started, or a new
// download. ok is false when the region had nothing to run.
func (r *run) index(ctx context.Context, round int) (*Index, bool, error) {
	snap := filepath.Join(r.dir, fmt.Sprintf("index.%d.json", round))
	if data, err := os.ReadFile(snap); err == nil {
		x, err := ParseIndex(data)
		return x, err == nil, err
	}
	noContent := fmt.Sprintf("r%d/no-content", round)
	if _, ok := r.j.Lookup(noContent); ok {
		return nil, false, nil
	}
	if r.noDownload() {
		if round > 0 {
			return nil, false, nil
		}
		if !r.a.NoDownload {
			fmt.Fprintf(r.a.Out, "--no-send makes no network request: running the scripts already in %s\n", r.scriptsDir)
		}
	} else {
		ok, err := r.download(ctx)
		if err != nil {
			return nil, false, err
		}
		if !ok {
			r.emit(noContent, kindMark, Signal{}, nil)
			return nil, false, r.fatalErr()
		}
	}
	indexFile := filepath.Join(r.scriptsDir, "index.json")
	if _, err := os.Stat(indexFile); err != nil && r.noDownload() {
		return nil, false, fmt.Errorf("no scripts to run in %s (%w): run once without --no-download or --no-send", r.scriptsDir, err)
	}
	x, data, err := ReadIndex(indexFile)
	if err != nil {
		return nil, false, r.refuse(err)
	}
	if err := writeFileAtomic(snap, data, 0o600); err != nil {
		return nil, false, fmt.Errorf("save index: %w", err)
	}
	return x, true, nil
}

// trackingReader remembers the error of the reader it wraps, to tell a broken download from
// a malformed archive.
type trackingReader struct {
	r   io.Reader
	err error
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		t.err = err
	}
	return n, err
}

// download fetches and extracts the scripts tar, retrying transport failures with backoff.
// ok is false on 204.
func (r *run) download(ctx context.Context) (bool, error) {
	fmt.Fprintf(r.a.Out, "Downloading and extracting %smaas-scripts to %s\n", r.a.Endpoint.MetadataURL, r.scriptsDir)
	first := time.Now()
	refused := 0
	for attempt := 1; ; attempt++ {
		body, ok, err := r.a.Region.Scripts(ctx)
		if err == nil {
			if !ok {
				return false, nil
			}
			tr := &trackingReader{r: body}
			err = ExtractScripts(tr, r.scriptsDir, r.configDir)
			body.Close()
			if err == nil {
				return true, nil
			}
			if tr.err == nil {
				return false, r.refuse(fmt.Errorf("scripts tar: %w", err))
			}
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if r.info.Workload && isUnauthorized(err) {
			// The first 401 taught the signer the region's clock; a second one means the
			// credentials themselves are refused, which no retry mends.
			if refused++; refused >= 2 {
				return false, fmt.Errorf("%w: %w", ErrUnauthorized, err)
			}
			continue
		}
		if r.a.GiveUpAfter > 0 && time.Since(first) >= r.a.GiveUpAfter {
			return false, fmt.Errorf("download scripts: gave up after %s: %w", r.a.GiveUpAfter, err)
		}
		d := r.a.Backoff.Delay(attempt)
		r.a.Log.Warn("download scripts failed; retrying", "error", err, "in", d.Round(time.Millisecond))
		if err := sleepCtx(ctx, d); err != nil {
			return false, err
		}
	}
}

// refuse reports scripts the runner will not run (a malformed or unsafe tar, a bad
// index.json): FAILED with the reason, journaled and delivered like every signal, so that the
// region fails the machine now and says why instead of waiting for node_timeout. A workload
// run sends nothing: a deployed machine's FAILED is refused by the region (409) for ever.
func (r *run) refuse(reason error) error {
	msg := "Refused the scripts from the region: " + reason.Error()
	if r.info.Workload {
		fmt.Fprintln(r.a.Out, msg)
	} else if err := r.finalSignal(wire.SignalFailed, msg); err != nil {
		return err
	}
	return fmt.Errorf("%w: %w", ErrScriptsRefused, reason)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// emit journals a signal (or mark) under key. A key already journaled (a resumed run) is
// not journaled again; new reports whether this call added the record. A journal that cannot
// be written stops the run: a result that is not recorded could be lost.
func (r *run) emit(key, kind string, sig Signal, oc *Outcome) (rec journal.Record, isNew bool) {
	if key != "" {
		if rec, ok := r.j.Lookup(key); ok {
			return rec, false
		}
	}
	var data any
	var files []journal.FileSource
	if kind == kindSignal {
		data = signalRecord{Signal: sig, Outcome: oc}
		for _, f := range sig.Files {
			files = append(files, journal.FileSource{Name: f.Name, Src: f.Path})
		}
	}
	rec, err := r.j.Append(kind, key, data, files)
	if err != nil {
		if kind == kindSignal {
			r.mu.Lock()
			r.unrecorded++
			r.mu.Unlock()
		}
		r.setFatal(fmt.Errorf("record %s: %w", key, err))
		return rec, false
	}
	return rec, true
}

// emitStep journals a signal about a script.
func (r *run) emitStep(pc *phaseCtx, s *Script, step string, sig Signal) bool {
	_, isNew := r.emit(pc.key(s, step), kindSignal, sig, nil)
	return isNew
}

// finish journals a script's result and reports it on the console.
func (r *run) finish(pc *phaseCtx, s *Script, sig Signal, oc Outcome) {
	r.emit(pc.key(s, "finish"), kindSignal, sig, &oc)
	r.addOutcome(oc)
	r.progress(s, oc)
}

func (r *run) setFatal(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fatal == nil {
		r.fatal = err
		r.cancel()
	}
}

func (r *run) fatalErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fatal
}

func (r *run) addOutcome(oc Outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outcomes = append(r.outcomes, oc)
}

func (r *run) sortedOutcomes() []Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]Outcome(nil), r.outcomes...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Phase < out[j].Phase })
	return out
}

// scriptSignal is a signal about script s: its result id, name and version.
func (r *run) scriptSignal(s *Script, status, msg string) Signal {
	sig := Signal{Status: status, Error: msg, Name: s.Name}
	if s.ScriptResultID != nil {
		id := *s.ScriptResultID
		sig.ScriptResultID = &id
		if s.ScriptVersionID != 0 {
			v := s.ScriptVersionID
			sig.ScriptVersionID = &v
		}
	}
	return sig
}

func (r *run) outputs(s *Script) outputFiles { return newOutputFiles(r.outDir, s) }

func (r *run) downloadPath(s *Script) string {
	return filepath.Join(r.scriptsDir, "downloads", s.Name)
}

func (r *run) maxOutput() int64 {
	if r.a.MaxOutput < 0 {
		return 0
	}
	return r.a.MaxOutput
}

func (r *run) commands() CommandRunner {
	if r.a.Commands == nil {
		return ExecRunner{}
	}
	return r.a.Commands
}

func (r *run) logf(format string, args ...any) {
	r.a.Log.Warn(fmt.Sprintf(format, args...))
}

// logWriter sends command output to the log, line by line.
type logWriter struct{ r *run }

func (w logWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if l != "" {
			w.r.a.Log.Info(l)
		}
	}
	return len(p), nil
}

// existingFiles are the files of a result that exist, in upstream's order: combined, stdout,
// stderr, result.
func existingFiles(s *Script, o outputFiles, onlyDiagnostic bool) []File {
	var out []File
	for _, f := range []File{{Name: s.Name, Path: o.Combined}, {Name: s.Name + ".out", Path: o.Stdout}, {Name: s.Name + ".err", Path: o.Stderr}, {Name: s.Name + ".yaml", Path: o.Result}} {
		if onlyDiagnostic && f.Path == o.Stdout {
			continue
		}
		if _, err := os.Stat(f.Path); err == nil {
			out = append(out, f)
		}
	}
	return out
}
