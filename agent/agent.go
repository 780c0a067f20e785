// Package agent is the in-machine script runner: it downloads the region's scripts tar,
// plans the scripts (order, parallelism, parameters), runs each in its own process group with
// its timeout, streams the output to capped files, and reports every result through a durable
// journal whose entries are uploaded, with retries, until the region has them.
//
// The storage directory follows upstream's layout (protocol.md §6.1): scripts/ (the extracted
// tar), out/<name>.<result id>/ (the output), config/ (netplan.yaml, bmc-config.yaml). The
// runner adds runs/<run id>/ (the run's settings, journal, index snapshots and resources
// file) and runs/current (the id of the latest run).
package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"maasgo/client"
	"maasgo/collectors"
	"maasgo/wire"
)

// DefaultHeartbeat is upstream's heartbeat interval.
const DefaultHeartbeat = 120 * time.Second

// DefaultIdleTimeout is how long a download or an upload may go without a byte moving before
// it fails and is retried: long enough for a loaded region to start answering, short enough
// that a stalled connection does not hold the run. It bounds stalls, not transfers: a large
// download over a slow link goes on as long as bytes keep coming.
const DefaultIdleTimeout = 2 * time.Minute

// DefaultMaxOutput is the default cap of each stored output file. Four capped files fit
// in the region's default request limit (128 MiB).
const DefaultMaxOutput = 16 << 20

// Endpoint is where the region is and how to sign requests to it. It is saved with a run so
// that resume and send reach the same region (run.json: metadata_url, then the credentials'
// consumer_key, token_key, token_secret and consumer_secret).
type Endpoint struct {
	// MetadataURL is the versioned metadata URL, e.g.
	// http://10.0.0.2:5248/MAAS/metadata/2012-03-01/.
	MetadataURL string `json:"metadata_url,omitempty"`
	wire.Credentials
	// TLS checks the region's certificate (tls_ca, tls_fingerprint of the config, --tls-ca,
	// --tls-fingerprint, --insecure). Saved with a run but for Insecure.
	TLS client.Trust `json:"tls,omitzero"`
}

// Backoff is the retry policy of uploads and downloads: the delay doubles from Initial up to
// Max, and each delay is drawn at random from its upper half (jitter).
type Backoff struct {
	Initial, Max time.Duration
}

// DefaultBackoff starts at 1 s, as upstream, and never waits more than a minute.
var DefaultBackoff = Backoff{Initial: time.Second, Max: time.Minute}

// Delay is the wait before retry number attempt (1 for the first retry).
func (b Backoff) Delay(attempt int) time.Duration {
	if b.Initial <= 0 {
		b = DefaultBackoff
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	d := b.Max
	if attempt < 62 {
		if f := float64(b.Initial) * math.Pow(2, float64(attempt-1)); f < float64(b.Max) {
			d = time.Duration(f)
		}
	}
	half := d / 2
	return half + time.Duration(mrand.Int64N(int64(d-half)+1))
}

// Agent runs the scripts of a storage directory and reports their results. Fields left zero
// take the defaults noted; StorageDir, and Region unless NoSend, are required.
type Agent struct {
	// StorageDir is the runner's directory (upstream's storage_directory).
	StorageDir string
	// Roots are the machine directories read to resolve devices and changed for configured
	// networking. Zero: the running machine's.
	Roots Roots
	// Region is the region's metadata API. Unused with NoSend.
	Region Region
	// Endpoint is where Region points; it is saved with the run (for resume and send) and
	// gives the scripts MAAS_BASE_URL.
	Endpoint Endpoint
	// Seams answer what sysfs does not about the interfaces network tests run on (carrier,
	// speeds, addresses; see linkstate.go). Nil: the running kernel's when Roots are the
	// running machine's, the recorded answers under MachineRoot when it is set, else none
	// (sysfs alone).
	Seams *collectors.Seams
	// Commands runs package installers and network tools. Nil: ExecRunner.
	Commands CommandRunner
	// Network is the network stack configured networking and aggregates' member rounds
	// change (network.go). Nil: the running kernel's when Roots.Sys is /sys, else none.
	Network Network
	// Out receives the progress lines meant for a person. Nil: discarded.
	Out io.Writer
	// Log receives warnings and retries. Nil: discarded.
	Log *slog.Logger
	// MachineRoot, when set, is the machine tree Roots point into; scripts get it as
	// MAAS_MACHINE_ROOT so the inventory script reads that tree too.
	MachineRoot string
	// Self is the path of the running agent binary, given to scripts as MAAS_RUN_SCRIPTS.
	Self string
	// Watchdog is the command line of the watchdog process that kills the scripts when the
	// runner dies, even by SIGKILL (see reaper.go): the agent binary with ReaperCommand. Nil:
	// no watchdog; scripts outlive a runner killed with SIGKILL until resume (or the next
	// run) finds and kills them.
	Watchdog []string
	// Env is the environment scripts start from. Nil: the runner's own.
	Env []string
	// MaxOutput caps each stored output file in bytes; past it the head and the tail are
	// kept. Zero: DefaultMaxOutput; negative: no cap.
	MaxOutput int64
	// TimeoutGrace is added to every script's timeout before it is killed (upstream: 5 min).
	TimeoutGrace time.Duration
	// GiveUpAfter stops retrying an upload or download after this long. Zero: never.
	GiveUpAfter time.Duration
	// IdleTimeout fails a download that receives nothing for this long, so that it is
	// retried. The Region's HTTP client has its own (NewRegion); this one is
	// for the URL packages wget fetches. Zero: DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Heartbeat is the interval of WORKING signals. Zero: DefaultHeartbeat.
	Heartbeat time.Duration
	// Backoff is the retry policy. Zero: DefaultBackoff.
	Backoff Backoff
	// NetconfProbe bounds the wait for the region after applying configured networking.
	// Zero: DefaultNetconfProbe.
	NetconfProbe time.Duration
	// InterfaceWait are the pauses while waiting for netplan's interfaces to appear.
	// Nil: upstream's (about 5 s in all).
	InterfaceWait []time.Duration
	// NoDownload runs the scripts already in the storage directory.
	NoDownload bool
	// NoSend records the results in the journal without any network request.
	NoSend bool
	// Held says why a NoSend run's results are kept (e.g. the machine is not enlisted
	// yet), for the summary; empty means --no-send.
	Held string
	// NiceScripts runs scripts at nice 19, as upstream.
	NiceScripts bool
	// Sudo runs installers and network tools through sudo -n (for a runner that is not
	// root).
	Sudo bool
	// Workload reports the hardware of a machine that already runs a workload
	// (report-results, see workloadFlow): only the default deploy-info commissioning scripts
	// run, once, and the machine's network, disks, packages and power settings are left
	// alone.
	Workload bool
}

// RunInfo is a run's settings, saved in runs/<id>/run.json when it starts.
type RunInfo struct {
	ID           string        `json:"id"`
	Started      time.Time     `json:"started"`
	Endpoint     Endpoint      `json:"endpoint"`
	NoSend       bool          `json:"no_send,omitempty"`
	NoDownload   bool          `json:"no_download,omitempty"`
	MaxOutput    int64         `json:"max_output"`
	TimeoutGrace time.Duration `json:"timeout_grace,omitempty"`
	Workload     bool          `json:"workload,omitempty"`
}

// Outcome is the result of one script as the runner saw it.
type Outcome struct {
	Phase      wire.ScriptType   `json:"phase"`
	Name       string            `json:"name"`
	ID         string            `json:"id"`
	Status     wire.ScriptStatus `json:"status"`
	ExitStatus int               `json:"exit_status"`
	Runtime    time.Duration     `json:"runtime"`
	OutDir     string            `json:"out_dir"`
	// Note explains a problem worth a person's attention (an invalid result file).
	Note string `json:"note,omitempty"`
	// OutputLost says the script's output could not be kept whole (the storage directory
	// was full): the outcome is a failure whatever the script's exit status.
	OutputLost bool `json:"output_lost,omitempty"`
	// Resumed says the outcome was recorded by an earlier, interrupted invocation.
	Resumed bool `json:"-"`
}

// Failed reports whether the outcome counts as a failure.
func (o Outcome) Failed() bool { return o.Status.Failed() }

// Summary is what a run did.
type Summary struct {
	RunID    string
	Outcomes []Outcome
	// Final is the last signal of the run: OK or FAILED ("" if the run did not get there).
	Final string
	// Unsent counts the journal's signals not delivered (all of them with NoSend).
	Unsent int
	// Unrecorded counts the signals that could not even be journaled (a full or broken
	// storage directory): they are not delivered either. The run ends with an error then.
	Unrecorded int
	// Elapsed is the wall time of this invocation.
	Elapsed time.Duration
}

// Failed counts the failed outcomes.
func (s Summary) Failed() int {
	n := 0
	for _, o := range s.Outcomes {
		if o.Failed() {
			n++
		}
	}
	return n
}

// ErrScriptsFailed is returned (wrapped) when a run finished and some scripts failed or timed
// out.
var ErrScriptsFailed = errors.New("scripts failed")

// ErrScriptsRefused is returned (wrapped) when the runner refused the region's scripts (a
// malformed or unsafe tar, a bad index.json); the region was sent FAILED with the reason.
var ErrScriptsRefused = errors.New("scripts refused")

// ErrNotSent is returned (wrapped) when signals stayed unsent because the runner gave up.
var ErrNotSent = errors.New("results not sent")

// ErrBusy says another runner process is using the storage directory.
var ErrBusy = errors.New("another maas-run-scripts is using the storage directory")

// lockStorage takes the storage directory's lock for the life of this run, resume or send:
// two runners in one directory would overwrite each other's scripts and output.
func lockStorage(storage string) (unlock func(), err error) {
	if err := os.MkdirAll(runsDir(storage), 0o700); err != nil {
		return nil, fmt.Errorf("lock %s: %w", storage, err)
	}
	f, err := os.OpenFile(filepath.Join(runsDir(storage), "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", storage, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrBusy, storage)
		}
		return nil, fmt.Errorf("lock %s: %w", storage, err)
	}
	return func() { f.Close() }, nil
}

// ErrNoRun says the storage directory has no run to resume.
var ErrNoRun = errors.New("no run to resume")

func (a *Agent) validate() error {
	if a.StorageDir == "" {
		return errors.New("agent: StorageDir must be set")
	}
	if !a.NoSend && a.Region == nil {
		return errors.New("agent: Region must be set unless NoSend")
	}
	if a.Roots == (Roots{}) {
		a.Roots = collectors.HostRoots()
	}
	if a.Out == nil {
		a.Out = io.Discard
	}
	if a.Log == nil {
		a.Log = slog.New(slog.DiscardHandler)
	}
	if a.Heartbeat <= 0 {
		a.Heartbeat = DefaultHeartbeat
	}
	if a.Backoff.Initial <= 0 {
		a.Backoff = DefaultBackoff
	}
	if a.MaxOutput == 0 {
		a.MaxOutput = DefaultMaxOutput
	}
	if a.IdleTimeout <= 0 {
		a.IdleTimeout = DefaultIdleTimeout
	}
	if a.InterfaceWait == nil {
		a.InterfaceWait = []time.Duration{100, 100, 100, 200, 200, 300, 500, 500, 1000, 2000}
		for i := range a.InterfaceWait {
			a.InterfaceWait[i] *= time.Millisecond
		}
	}
	abs, err := filepath.Abs(a.StorageDir)
	if err != nil {
		return fmt.Errorf("storage directory: %w", err)
	}
	a.StorageDir = abs
	return nil
}

// Run starts a new run: it downloads the scripts (unless NoDownload), runs them and reports
// the results, and returns once every result is delivered (or recorded, with NoSend). It
// returns an error wrapping ErrScriptsFailed when scripts failed; the summary is valid then.
func (a *Agent) Run(ctx context.Context) (Summary, error) {
	if err := a.validate(); err != nil {
		return Summary{}, err
	}
	unlock, err := lockStorage(a.StorageDir)
	if err != nil {
		return Summary{}, err
	}
	defer unlock()
	if old, _ := CurrentRun(a.StorageDir); old != "" {
		// A run killed with its watchdog may have left scripts running: they must not run
		// beside the new run's copies.
		if err := a.reapRun(old); err != nil {
			return Summary{}, err
		}
		if n, err := countUnsent(a.StorageDir, old); err == nil && n > 0 {
			a.Log.Warn("an earlier run has unsent results; maas-run-scripts send uploads them", "run", old, "unsent", n)
			fmt.Fprintf(a.Out, "Note: run %s has %d unsent signals; `maas-run-scripts send %s` uploads them.\n", old, n, a.StorageDir)
		}
	}
	info := RunInfo{
		ID: newRunID(), Started: time.Now().UTC(), Endpoint: a.Endpoint,
		NoSend: a.NoSend, NoDownload: a.NoDownload, MaxOutput: a.MaxOutput, TimeoutGrace: a.TimeoutGrace,
		Workload: a.Workload,
	}
	if err := createRun(a.StorageDir, info); err != nil {
		return Summary{}, err
	}
	return a.invoke(ctx, info, false)
}

// Resume finishes the latest run of the storage directory after a crash or reboot: it
// uploads what is unsent and runs only the scripts whose result was not recorded. The run's
// saved settings (NoSend, NoDownload, MaxOutput, TimeoutGrace, Workload) apply; a's Region, Endpoint
// and the rest are used as given.
func (a *Agent) Resume(ctx context.Context) (Summary, error) {
	if err := a.validate(); err != nil {
		return Summary{}, err
	}
	unlock, err := lockStorage(a.StorageDir)
	if err != nil {
		return Summary{}, err
	}
	defer unlock()
	id, err := CurrentRun(a.StorageDir)
	if err != nil {
		return Summary{}, err
	}
	info, err := LoadRun(a.StorageDir, id)
	if err != nil {
		return Summary{}, err
	}
	a.NoDownload, a.MaxOutput, a.TimeoutGrace, a.Workload = info.NoDownload, info.MaxOutput, info.TimeoutGrace, info.Workload
	if info.NoSend {
		a.NoSend = true
	}
	if !a.NoSend && a.Region == nil {
		return Summary{}, errors.New("agent: Region must be set unless NoSend")
	}
	return a.invoke(ctx, info, true)
}

func newRunID() string {
	var b [4]byte
	rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

func runsDir(storage string) string { return filepath.Join(storage, "runs") }

// RunDir is the directory of run id.
func RunDir(storage, id string) string { return filepath.Join(runsDir(storage), id) }

func createRun(storage string, info RunInfo) error {
	dir := RunDir(storage, info.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, "run.json"), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(runsDir(storage), "current"), []byte(info.ID+"\n"), 0o600); err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	return nil
}

// CurrentRun returns the id of the storage directory's latest run.
func CurrentRun(storage string) (string, error) {
	data, err := os.ReadFile(filepath.Join(runsDir(storage), "current"))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w in %s", ErrNoRun, storage)
	}
	if err != nil {
		return "", fmt.Errorf("read current run: %w", err)
	}
	id := strings.TrimSpace(string(data))
	if checkName(id) != nil || strings.HasPrefix(id, ".") {
		return "", fmt.Errorf("read current run: malformed run id %q", id)
	}
	return id, nil
}

// Runs lists the ids of the storage directory's runs, oldest first.
func Runs(storage string) ([]string, error) {
	entries, err := os.ReadDir(runsDir(storage))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(runsDir(storage), e.Name(), "run.json")); err == nil {
				ids = append(ids, e.Name())
			}
		}
	}
	return ids, nil // ReadDir sorts by name, and ids start with their start time
}

// LoadRun reads a run's settings.
func LoadRun(storage, id string) (RunInfo, error) {
	var info RunInfo
	data, err := os.ReadFile(filepath.Join(RunDir(storage, id), "run.json"))
	if err != nil {
		return info, fmt.Errorf("read run %s: %w", id, err)
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return info, fmt.Errorf("read run %s: %w", id, err)
	}
	if info.ID != id {
		return info, fmt.Errorf("read run %s: run.json names run %q", id, info.ID)
	}
	return info, nil
}

// writeFileAtomic writes data to path through a temporary file that is fsynced and renamed,
// then fsyncs the directory.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
