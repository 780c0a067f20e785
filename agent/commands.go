package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
)

// CommandRunner runs the programs the runner needs besides the scripts themselves: package
// installers (apt-get, snap, wget, dpkg) and the network configuration tools (ip, netplan,
// systemctl). Tests replace it to record the commands and choose their outcome.
type CommandRunner interface {
	// Run runs argv with the runner's environment plus env and its output going to stdout and
	// stderr, and returns the program's exit status. err is set only when the program could
	// not be run at all (it is missing, say).
	Run(ctx context.Context, argv, env []string, stdout, stderr io.Writer) (exitStatus int, err error)
}

// ExecRunner runs commands as child processes, each in its own process group, which is
// killed when ctx ends.
type ExecRunner struct{}

// Run implements CommandRunner.
func (ExecRunner) Run(ctx context.Context, argv, env []string, stdout, stderr io.Writer) (int, error) {
	if len(argv) == 0 {
		return 0, errors.New("empty command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return cmd.Process.Kill()
	}
	cmd.WaitDelay = pipeWait
	if err := cmd.Start(); err != nil {
		return 127, fmt.Errorf("run %s: %w", argv[0], err)
	}
	err := cmd.Wait()
	if ctx.Err() != nil {
		return -int(syscall.SIGKILL), fmt.Errorf("run %s: %w", argv[0], ctx.Err())
	}
	return exitStatus(cmd.ProcessState, err), nil
}
