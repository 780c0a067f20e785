package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// Prioritize protects the runner as upstream does: it asks the OOM killer to spare the
// process (oom_score_adj -1000) and raises its priority to nice -20 on every thread, so the
// heartbeat keeps going while scripts load the machine. Both need privileges; the errors say
// which failed, and the runner works without them.
func Prioritize() error {
	var errs []error
	if err := os.WriteFile("/proc/self/oom_score_adj", []byte("-1000"), 0); err != nil {
		errs = append(errs, err)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		errs = append(errs, err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, -20); err != nil {
			errs = append(errs, &os.PathError{Op: "setpriority", Path: filepath.Join("/proc/self/task", t.Name()), Err: err})
			break
		}
	}
	return errors.Join(errs...)
}
