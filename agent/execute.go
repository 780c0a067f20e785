package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// outputFiles are the files of one script result under out/<name>.<id>/.
type outputFiles struct {
	Dir      string
	Combined string // <name>
	Stdout   string // <name>.out
	Stderr   string // <name>.err
	Result   string // <name>.yaml
}

func newOutputFiles(outDir string, s *Script) outputFiles {
	dir := filepath.Join(outDir, s.OutName())
	return outputFiles{
		Dir:      dir,
		Combined: filepath.Join(dir, s.Name),
		Stdout:   filepath.Join(dir, s.Name+".out"),
		Stderr:   filepath.Join(dir, s.Name+".err"),
		Result:   filepath.Join(dir, s.Name+".yaml"),
	}
}

// reset prepares an empty output directory. The old files are removed, never rewritten in
// place, so that the journal's links to them keep their content.
func (o outputFiles) reset() error {
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	for _, p := range []string{o.Combined, o.Stdout, o.Stderr, o.Result} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("clear output: %w", err)
		}
	}
	return nil
}

// writeDiagnostic replaces the combined and stderr files with msg (and makes an empty stdout file).
func (o outputFiles) writeDiagnostic(msg string) error {
	for _, p := range []string{o.Combined, o.Stderr, o.Stdout} {
		data := []byte(msg)
		if p == o.Stdout {
			data = nil
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// outputSink is the set of capped files a process writes to: stdout and stderr each to its
// own file, both to the combined one.
type outputSink struct {
	stdout, stderr, combined *cappedFile
	Stdout, Stderr           io.Writer
}

func openSink(o outputFiles, max int64) (*outputSink, error) {
	var s outputSink
	var err error
	if s.combined, err = createCapped(o.Combined, max); err != nil {
		return nil, fmt.Errorf("create output: %w", err)
	}
	if s.stdout, err = createCapped(o.Stdout, max); err != nil {
		s.combined.Close()
		return nil, fmt.Errorf("create output: %w", err)
	}
	if s.stderr, err = createCapped(o.Stderr, max); err != nil {
		s.combined.Close()
		s.stdout.Close()
		return nil, fmt.Errorf("create output: %w", err)
	}
	combined := &lockedWriter{w: s.combined}
	s.Stdout = teeWriter{s.stdout, combined}
	s.Stderr = teeWriter{s.stderr, combined}
	return &s, nil
}

// Close closes the three files. Its error, on one line, names every file that could not be
// kept, and wraps the first one's.
func (s *outputSink) Close() error {
	var first error
	var more []string
	for _, c := range []*cappedFile{s.stdout, s.stderr, s.combined} {
		if err := c.Close(); err != nil {
			if first == nil {
				first = err
			} else {
				more = append(more, err.Error())
			}
		}
	}
	if len(more) > 0 {
		return fmt.Errorf("%w; %s", first, strings.Join(more, "; "))
	}
	return first
}

// Truncated reports whether any file lost output to the cap.
func (s *outputSink) Truncated() bool {
	return s.stdout.Truncated() || s.stderr.Truncated() || s.combined.Truncated()
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
