package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"maasgo/agent/journal"
)

// run is one invocation of Run or Resume: its settings, its journal, where its files go, and
// what it learnt so far. flow.go is its sequence of steps.
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
	snapshot   string // MAAS_HARDWARE_SNAPSHOT_FILE
	start      time.Time

	resMu sync.Mutex
	res   *resolver

	net networkState // network.go

	mu       sync.Mutex
	outcomes []Outcome
	fatal    error
	cancel   context.CancelFunc
	final    string
	// unrecorded counts the signals that could not be journaled, so are not delivered.
	unrecorded int
}

// invoke is what Run and Resume do once the run's settings are saved: open the run's journal
// and directories, kill what an interrupted invocation left running (resumed), start the
// watchdog and the uploads, put back the ephemeral networking a crash left changed, go
// through the flow (flow.go), wait until the region has every result, and print the summary.
func (a *Agent) invoke(parent context.Context, info RunInfo, resumed bool) (Summary, error) {
	start := time.Now()
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
	r, err := a.newRun(info, j, start, cancel)
	if err != nil {
		return Summary{RunID: info.ID}, err
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
	stopUploads := r.startUploads(ctx)
	// A crash while custom networking was applied leaves the backup behind.
	r.restoreNetconf(ctx)

	err = r.flow(ctx)
	if ferr := r.fatalErr(); ferr != nil {
		err = ferr
	}
	if err == nil || errors.Is(err, ErrScriptsFailed) || errors.Is(err, ErrScriptsRefused) {
		if werr := r.awaitDelivery(ctx); werr != nil {
			err = werr
		}
	}
	stopUploads()

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
	if !errors.Is(err, ErrUnauthorized) && !errors.Is(err, ErrUntrustedRegion) {
		r.printSummary(sum, err)
	}
	return sum, err
}

// newRun is run info's state, with its storage subdirectories made and its resources file
// (MAAS_RESOURCES_FILE, which the inventory script fills) created.
func (a *Agent) newRun(info RunInfo, j *journal.Journal, start time.Time, cancel context.CancelFunc) (*run, error) {
	dir := RunDir(a.StorageDir, info.ID)
	r := &run{
		a: a, info: info, dir: dir, j: j, start: start, cancel: cancel,
		scriptsDir: filepath.Join(a.StorageDir, "scripts"),
		outDir:     filepath.Join(a.StorageDir, "out"),
		configDir:  filepath.Join(a.StorageDir, "config"),
		resources:  filepath.Join(dir, "resources.json"),
		snapshot:   filepath.Join(dir, "hardware-snapshot.tar.xz"),
		res:        &resolver{roots: a.Roots, naps: a.InterfaceWait},
	}
	for _, d := range []string{r.scriptsDir, r.outDir, r.configDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	if f, err := os.OpenFile(r.resources, os.O_WRONLY|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
	return r, nil
}

// stopped is the reason the run must not start anything more: a fatal error (a journal that
// cannot be written) or the end of ctx.
func (r *run) stopped(ctx context.Context) error {
	if err := r.fatalErr(); err != nil {
		return err
	}
	return ctx.Err()
}

// setFatal stops the run with err (the first one wins).
func (r *run) setFatal(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fatal == nil {
		r.fatal = err
		r.cancel()
	}
}

// fatalErr is the error that stopped the run, if any.
func (r *run) fatalErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fatal
}

// addOutcome adds a script's outcome to the run's summary.
func (r *run) addOutcome(oc Outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outcomes = append(r.outcomes, oc)
}

// sortedOutcomes are the run's outcomes, by phase.
func (r *run) sortedOutcomes() []Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]Outcome(nil), r.outcomes...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Phase < out[j].Phase })
	return out
}

// noDownload says the run uses the scripts already in the storage directory.
func (r *run) noDownload() bool { return r.a.NoDownload || r.a.NoSend }

// outputs are the output files of script s.
func (r *run) outputs(s *Script) outputFiles { return newOutputFiles(r.outDir, s) }

// downloadPath is script s's DOWNLOAD_PATH, where its URL packages go.
func (r *run) downloadPath(s *Script) string {
	return filepath.Join(r.scriptsDir, "downloads", s.Name)
}

// maxOutput is the cap of each output file (0: none).
func (r *run) maxOutput() int64 {
	if r.a.MaxOutput < 0 {
		return 0
	}
	return r.a.MaxOutput
}

// commands runs the installers and network tools.
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

// sleepCtx waits d, or until ctx ends.
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
