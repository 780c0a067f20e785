package agent

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"maasgo/agent/journal"
)

// Scripts must die with the runner, even when the runner is killed with SIGKILL and cannot
// clean up: a script left running would be run again by resume beside itself (destructive
// tests twice at once). Each script runs in a process group of its own (runProcess), and two
// mechanisms cover it:
//
//   - The watchdog (RunReaper): at the start of every run the runner starts a small process,
//     itself with the hidden subcommand __reaper, which holds the read end of a pipe. The
//     runner writes each script's group to the pipe as it starts and again when it ends. When
//     the pipe reaches end of file without "done", the runner died, however it died (the
//     kernel closes a killed process's descriptors), and the watchdog kills every group still
//     running with SIGKILL. PR_SET_PDEATHSIG was not enough: it reaches only the direct child,
//     not the processes a script starts, and in Go it fires when the OS thread that forked
//     exits rather than the process. A cgroup would hold every descendant but needs a
//     writable cgroup v2 hierarchy, which an ephemeral environment or a container may not
//     give.
//   - The journal: each script's group (with its leader's start time and the boot id, against
//     PID reuse) is recorded as it starts. When resume (or a new run in the same storage
//     directory) finds a group of a script whose result was not recorded still alive, the
//     watchdog died too; it kills the group and waits for it to be gone before anything runs
//     again, and says so.
//
// Processes that leave their script's group (setsid, a double-forked daemon) escape both, as
// they escape the timeout's kill.

// ReaperCommand is the hidden subcommand that runs the watchdog: Agent.Watchdog is usually
// the agent binary and this.
const ReaperCommand = "__reaper"

// watchdogPatience bounds the wait for killed survivors to be gone.
const watchdogPatience = 10 * time.Second

// RunReaper is the watchdog: it reads the runner's messages from in ("start PGID SID START",
// "end PGID", "done") and, when in ends without "done", kills every group started and not
// ended. It reports what it killed to log. The caller ignores SIGINT, SIGTERM, SIGHUP and
// SIGPIPE first: the watchdog ends with the runner, not with a signal meant for the runner's
// terminal or process group.
func RunReaper(in io.Reader, log io.Writer) error {
	active := map[int]procGroup{}
	boot := bootID()
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 4 && f[0] == "start":
			pgid, err1 := strconv.Atoi(f[1])
			sid, err2 := strconv.Atoi(f[2])
			start, err3 := strconv.ParseUint(f[3], 10, 64)
			if err1 == nil && err2 == nil && err3 == nil {
				active[pgid] = procGroup{PGID: pgid, SID: sid, Start: start, Boot: boot}
			}
		case len(f) == 2 && f[0] == "end":
			if pgid, err := strconv.Atoi(f[1]); err == nil {
				delete(active, pgid)
			}
		case len(f) == 1 && f[0] == "done":
			return nil
		}
	}
	// The runner is gone. Kill first, report after: the report may fail (the runner's
	// standard error may have gone with it).
	killed := map[int][]int{}
	for pgid, g := range active {
		if m := g.kill(); len(m) > 0 {
			killed[pgid] = m
		}
	}
	for pgid, m := range killed {
		fmt.Fprintf(log, "maas-run-scripts watchdog: the runner died; killed the scripts' process group %d (pids %v)\n", pgid, m)
	}
	return sc.Err()
}

// watchdog is the runner's end of the watchdog process. Its methods do nothing on nil.
type watchdog struct {
	log *slog.Logger

	mu  sync.Mutex
	w   *os.File
	cmd *exec.Cmd
}

// startWatchdog starts argv as the watchdog, its standard input the read end of a pipe whose
// write end only the runner holds (os.Pipe's descriptors are close-on-exec, so no script
// inherits it).
func startWatchdog(argv []string, log *slog.Logger) (*watchdog, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start the watchdog: %w", err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = pr
	cmd.Stderr = os.Stderr
	// A group of its own: a signal to the runner's group (Ctrl-C) does not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	pr.Close()
	if err != nil {
		pw.Close()
		return nil, fmt.Errorf("start the watchdog %s: %w", argv[0], err)
	}
	return &watchdog{log: log, w: pw, cmd: cmd}, nil
}

func (w *watchdog) send(format string, args ...any) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.w == nil {
		return
	}
	if _, err := fmt.Fprintf(w.w, format+"\n", args...); err != nil {
		w.log.Warn("the watchdog is gone: scripts would outlive a runner killed with SIGKILL", "error", err)
		w.w.Close()
		w.w = nil
	}
}

// started tells the watchdog that a script's group is running.
func (w *watchdog) started(g procGroup) { w.send("start %d %d %d", g.PGID, g.SID, g.Start) }

// ended tells the watchdog that a script's group is over.
func (w *watchdog) ended(g procGroup) { w.send("end %d", g.PGID) }

// stop tells the watchdog that the runner is done and waits for it to exit.
func (w *watchdog) stop() {
	if w == nil {
		return
	}
	w.send("done")
	w.mu.Lock()
	if w.w != nil {
		w.w.Close()
		w.w = nil
	}
	w.mu.Unlock()
	if err := w.cmd.Wait(); err != nil {
		w.log.Warn("watchdog", "error", err)
	}
}

// kindProc records the process group of a running script.
const kindProc = "proc"

// procRecord is the payload of a proc record.
type procRecord struct {
	Script string    `json:"script"`
	Finish string    `json:"finish"` // the key of the script's result record
	Group  procGroup `json:"group"`
}

// track returns the hooks of a script's process: when it has started, its group is told to
// the watchdog and recorded in the journal; when it is over, the watchdog forgets it.
func (r *run) track(pc *phaseCtx, s *Script) func(pid int) (ended func()) {
	return func(pid int) func() {
		g, err := groupOf(pid)
		if err != nil {
			r.a.Log.Warn("the script's process group is not watched", "script", s.Name, "error", err)
			return func() {}
		}
		r.watch.started(g)
		if _, err := r.j.Append(kindProc, "", procRecord{Script: s.Name, Finish: pc.key(s, "finish"), Group: g}, nil); err != nil {
			r.a.Log.Warn("the script's process group is not recorded for resume", "script", s.Name, "error", err)
		}
		return func() { r.watch.ended(g) }
	}
}

// reapSurvivors kills the processes that an interrupted invocation left running: the groups
// recorded in journal j for scripts whose result j does not have. It waits for them to be
// gone, and fails when they are not, so that a script never runs beside an old copy of
// itself. what names the interrupted invocation in the messages.
func (a *Agent) reapSurvivors(j *journal.Journal, what string) error {
	for _, rec := range j.Records(kindProc) {
		var pr procRecord
		if err := json.Unmarshal(rec.Data, &pr); err != nil {
			continue
		}
		if _, finished := j.Lookup(pr.Finish); finished {
			continue
		}
		killed, err := pr.Group.killAndWait(watchdogPatience)
		if len(killed) > 0 {
			a.Log.Warn(what+" left a script running; killed it before running anything", "script", pr.Script,
				"pgid", pr.Group.PGID, "pids", fmt.Sprint(killed))
			fmt.Fprintf(a.Out, "%s left %s running (process group %d, pids %v): killed it before running anything again\n",
				capitalize(what), pr.Script, pr.Group.PGID, killed)
		}
		if err != nil {
			return fmt.Errorf("%s left %s running and it does not die (%w): nothing runs beside it", what, pr.Script, err)
		}
	}
	return nil
}

// reapRun is reapSurvivors for run id, whose journal is not open. A journal that cannot be
// read is only warned about: it must not stop a new run.
func (a *Agent) reapRun(id string) error {
	j, err := journal.Open(journalDir(a.StorageDir, id))
	if err != nil {
		a.Log.Warn("cannot check the previous run for scripts left running", "run", id, "error", err)
		return nil
	}
	defer j.Close()
	return a.reapSurvivors(j, "the previous run "+id)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
