package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"maasgo/wire"
)

// execute is a script's execute step: its process runs with its argv, environment and
// timeout (runProcess), its output streamed into capped files and its process group watched
// (reaper.go). closeErr says the output could not be kept whole (the storage directory is
// full, say). ok is false when there is nothing to capture: the runner itself is ending
// (resume runs the script again), or the script could not be started (its failed result is
// recorded).
func (r *run) execute(ctx context.Context, pc *phaseCtx, s *Script, o outputFiles, inv invocation, hasStarted bool) (res procResult, closeErr error, ok bool) {
	sink, err := openSink(o, r.maxOutput())
	if err != nil {
		r.fail(pc, s, o, err.Error(), 2, "Failed to execute %s: 2", nil)
		return res, nil, false
	}
	run := func() procResult {
		return runProcess(ctx, inv.Argv, r.env(pc, s, o, inv, hasStarted), inv.Timeout, r.a.TimeoutGrace, sink, r.a.NiceScripts,
			r.track(pc, s))
	}
	if ag := r.aggregateOf(s, inv); ag != nil {
		res = r.runRounds(ctx, ag, o, run, sink)
	} else {
		res = run()
	}
	closeErr = sink.Close()
	if ctx.Err() != nil {
		return res, closeErr, false // interrupted: resume runs it again
	}
	if res.StartErr != nil {
		diag := fmt.Sprintf("Unable to execute %s: %s\n", s.Path, res.Diagnosis)
		r.fail(pc, s, o, diag, 2, "Failed to execute %s: 2", &res)
		return res, closeErr, false
	}
	return res, closeErr, true
}

// env is a script's environment (protocol.md §6.4): the runner's, plus the paths and
// settings of this result.
func (r *run) env(pc *phaseCtx, s *Script, o outputFiles, inv invocation, hasStarted bool) []string {
	base := r.a.Env
	if base == nil {
		base = os.Environ()
	}
	env := append([]string(nil), base...)
	hasFrontend := false
	for _, kv := range base {
		if strings.HasPrefix(kv, "DEBIAN_FRONTEND=") {
			hasFrontend = true
		}
	}
	if !hasFrontend {
		env = append(env, "DEBIAN_FRONTEND=noninteractive")
	}
	if u := BaseURL(r.a.Endpoint.MetadataURL); u != "" {
		env = append(env, "MAAS_BASE_URL="+u)
	}
	started := "False"
	if hasStarted {
		started = "True"
	}
	env = append(env,
		"MAAS_RESOURCES_FILE="+r.resources,
		"MAAS_HARDWARE_SNAPSHOT_FILE="+r.snapshot,
		"MAAS_MACHINE_EXTRA_FILE=/machine-extra.json",
		"MAAS_STORAGE_CONFIG_FILE=/storage-config.json",
		"OUTPUT_COMBINED_PATH="+o.Combined,
		"OUTPUT_STDOUT_PATH="+o.Stdout,
		"OUTPUT_STDERR_PATH="+o.Stderr,
		"RESULT_PATH="+o.Result,
		"DOWNLOAD_PATH="+r.downloadPath(s),
		"RUNTIME="+inv.Runtime,
		"HAS_STARTED="+started,
	)
	if r.a.Self != "" {
		env = append(env, "MAAS_RUN_SCRIPTS="+r.a.Self)
	}
	if r.a.MachineRoot != "" {
		env = append(env, "MAAS_MACHINE_ROOT="+r.a.MachineRoot)
	}
	if pc.allowBMC && s.Parallel == wire.ParallelDisabled {
		env = append(env, "BMC_CONFIG_PATH="+r.bmcConfigPath())
	}
	return env
}

// procResult is how a script's process ended.
type procResult struct {
	ExitStatus int
	TimedOut   bool
	// StartErr says the script could not be started; Diagnosis explains why in words.
	StartErr  error
	Diagnosis string
	Runtime   time.Duration
}

// pipeWait is how long the runner keeps reading a script's output after the script exited,
// while processes it left behind still hold the pipes.
const pipeWait = 2 * time.Second

// runProcess runs argv in its own process group with stdin from /dev/null and the output in
// sink. When timeout (plus grace) passes, the whole group is killed with SIGKILL; so it is
// when ctx ends. nice lowers the group's priority to 19, as upstream runs scripts. started,
// when set, is called with the leader's pid once it runs, and what it returns once the
// process and its group are over (see reaper.go).
func runProcess(ctx context.Context, argv, env []string, timeout, grace time.Duration, sink *outputSink, nice bool,
	started func(pid int) (ended func())) procResult {
	runCtx := ctx
	var cancel context.CancelFunc
	if timeout > 0 {
		runCtx, cancel = context.WithTimeout(ctx, timeout+grace)
	} else {
		runCtx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	cmd := exec.CommandContext(runCtx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout = sink.Stdout
	cmd.Stderr = sink.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var killed atomic.Bool // the context ended while the script ran
	cmd.Cancel = func() error {
		killed.Store(true)
		// The group's id is the leader's pid. Kill the group, then the leader in case it
		// moved to another group.
		gerr := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		perr := cmd.Process.Kill()
		if gerr == nil || perr == nil {
			return nil
		}
		return perr // os.ErrProcessDone when it had already exited
	}
	cmd.WaitDelay = pipeWait
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return procResult{ExitStatus: 2, StartErr: err, Diagnosis: diagnoseStart(argv[0], err),
			Runtime: time.Since(start)}
	}
	if started != nil {
		defer started(cmd.Process.Pid)()
	}
	if nice {
		// Best effort, as upstream's os.nice(40) from nice -20.
		_ = syscall.Setpriority(syscall.PRIO_PGRP, cmd.Process.Pid, 19)
	}
	err := cmd.Wait()
	res := procResult{Runtime: time.Since(start)}
	timedOut := killed.Load() && timeout > 0 && errors.Is(runCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
	if timedOut {
		// Make sure nothing of the group survives, even if the leader had exited.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		res.TimedOut = true
		res.ExitStatus = 124
		return res
	}
	if ctx.Err() != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	res.ExitStatus = exitStatus(cmd.ProcessState, err)
	return res
}

// exitStatus is the process's exit code, or minus the signal that killed it (as Python's
// returncode).
func exitStatus(ps *os.ProcessState, err error) int {
	if ps == nil {
		if err != nil {
			return 1
		}
		return 0
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -int(ws.Signal())
	}
	return ps.ExitCode()
}

// diagnoseStart explains in words why a script could not be started.
func diagnoseStart(path string, err error) string {
	fi, statErr := os.Stat(path)
	switch {
	case statErr != nil:
		return fmt.Sprintf("the script %s does not exist (%v)", path, err)
	case fi.IsDir():
		return fmt.Sprintf("%s is a directory, not a script", path)
	case errors.Is(err, syscall.EACCES) && fi.Mode().Perm()&0o111 == 0:
		return fmt.Sprintf("the script %s is not executable (mode %04o)", path, fi.Mode().Perm())
	}
	head := make([]byte, 256)
	if f, ferr := os.Open(path); ferr == nil {
		n, _ := io.ReadFull(f, head)
		head = head[:n]
		f.Close()
	} else {
		head = nil
	}
	if !bytes.HasPrefix(head, []byte("#!")) {
		if errors.Is(err, syscall.ENOEXEC) || len(head) < 4 || !bytes.HasPrefix(head, []byte("\x7fELF")) {
			return fmt.Sprintf("the script %s has no shebang line (#!) and is not a program the kernel can run (%v)", path, err)
		}
		return fmt.Sprintf("cannot execute %s: %v", path, err)
	}
	line, _, _ := bytes.Cut(head[2:], []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) == 0 {
		return fmt.Sprintf("the script %s has an empty shebang line (%v)", path, err)
	}
	interp := fields[0]
	if errors.Is(err, syscall.ENOENT) {
		return fmt.Sprintf("the interpreter %s named by the shebang line of %s is missing (%v)", interp, path, err)
	}
	if ifi, ierr := os.Stat(interp); ierr != nil {
		return fmt.Sprintf("the interpreter %s named by the shebang line of %s is missing (%v)", interp, path, ierr)
	} else if errors.Is(err, syscall.EACCES) && ifi.Mode().Perm()&0o111 == 0 {
		return fmt.Sprintf("the interpreter %s named by the shebang line of %s is not executable", interp, path)
	}
	return fmt.Sprintf("cannot execute %s: %v", path, err)
}
