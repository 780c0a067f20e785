package agent

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procGroup identifies the process group of a running script so that it can be found again,
// by the watchdog or by a later resume, without mistaking another group for it after PID
// reuse. A group's id is its leader's pid; the kernel does not hand that number out again
// while any member is alive, but it may once the group is empty. So a process counts as a
// member only when its group and session are the recorded ones and it started no earlier
// than the leader (start times are clock ticks since boot, /proc/<pid>/stat field 22), and
// nothing counts after a reboot (another boot id).
type procGroup struct {
	PGID  int    `json:"pgid"`
	SID   int    `json:"sid"`
	Start uint64 `json:"start"`
	Boot  string `json:"boot,omitempty"`
}

// procStat is what the runner reads of /proc/<pid>/stat.
type procStat struct {
	State byte
	PGID  int
	SID   int
	Start uint64
}

// readProcStat reads /proc/<pid>/stat.
func readProcStat(pid int) (procStat, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(data)
}

// parseProcStat parses a stat line: "pid (comm) state ppid pgrp session … starttime …"; comm
// may hold spaces and parentheses, so the fields are counted from the last ')'.
func parseProcStat(data []byte) (procStat, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, errors.New("malformed stat line")
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, errors.New("malformed stat line")
	}
	pgid, err1 := strconv.Atoi(f[2])
	sid, err2 := strconv.Atoi(f[3])
	start, err3 := strconv.ParseUint(f[19], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return procStat{}, fmt.Errorf("malformed stat line: %w", err)
	}
	return procStat{State: f[0][0], PGID: pgid, SID: sid, Start: start}, nil
}

// bootID is the kernel's id of this boot ("" when unknown).
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// groupOf identifies the process group that process pid (just started as its leader) leads.
func groupOf(pid int) (procGroup, error) {
	st, err := readProcStat(pid)
	if err != nil {
		return procGroup{}, fmt.Errorf("read the process of pid %d: %w", pid, err)
	}
	return procGroup{PGID: st.PGID, SID: st.SID, Start: st.Start, Boot: bootID()}, nil
}

// members lists the live processes of the group (zombies are dead: they only wait to be
// reaped by whoever inherited them).
func (g procGroup) members() []int {
	if g.PGID <= 1 || (g.Boot != "" && g.Boot != bootID()) {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readProcStat(pid)
		if err != nil || st.PGID != g.PGID || st.SID != g.SID || st.Start < g.Start || st.State == 'Z' || st.State == 'X' {
			continue
		}
		out = append(out, pid)
	}
	sort.Ints(out)
	return out
}

// kill sends SIGKILL to the group when it still has members, and returns them.
func (g procGroup) kill() []int {
	m := g.members()
	if len(m) > 0 {
		_ = syscall.Kill(-g.PGID, syscall.SIGKILL)
	}
	return m
}

// killAndWait kills the group and waits up to patience for every member to be gone; it
// returns the members it killed, and an error naming those that outlived the wait (a
// process in uninterruptible sleep, say).
func (g procGroup) killAndWait(patience time.Duration) ([]int, error) {
	killed := g.kill()
	if len(killed) == 0 {
		return nil, nil
	}
	deadline := time.Now().Add(patience)
	for {
		left := g.members()
		if len(left) == 0 {
			return killed, nil
		}
		if time.Now().After(deadline) {
			return killed, fmt.Errorf("processes %v of group %d are still alive %s after SIGKILL", left, g.PGID, patience)
		}
		_ = syscall.Kill(-g.PGID, syscall.SIGKILL)
		time.Sleep(20 * time.Millisecond)
	}
}
