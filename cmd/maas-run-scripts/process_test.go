package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"maasgo/agent/agenttest"
	"maasgo/internal/smallfs"
	"maasgo/wire"
)

// These tests run the real agent binary against the fake region and kill it.

// startAgent starts the agent binary with args; its output is in the buffer.
func startAgent(t *testing.T, args ...string) (*exec.Cmd, *agenttest.SyncBuffer) {
	t.Helper()
	cmd := agentCmd(t, args...)
	out := &agenttest.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, out
}

// waitFile waits for a file with a pid in it and returns the pid.
func waitFile(t *testing.T, path string, out *agenttest.SyncBuffer) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				return pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s; agent output:\n%s", path, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// childrenNamed lists the children of pid whose command line has word.
func childrenNamed(pid int, word string) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) && bytes.Contains(cmdline, []byte(word)) {
			out = append(out, child)
		}
	}
	return out
}

// groupGone waits up to within for the script's group (leader and the child it put in the
// background) to be gone and returns how long that took.
func groupGone(t *testing.T, leader, child int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for len(agenttest.GroupMembers(leader)) > 0 || agenttest.Alive(child) {
		if time.Since(start) > within {
			t.Fatalf("the script's processes survive: group %d has %v, child %d alive: %v", leader, agenttest.GroupMembers(leader), child, agenttest.Alive(child))
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// TestKill9KillsScripts kills the agent with SIGKILL while a script runs that has put a child
// in the background: the watchdog kills every process of the script's group at once.
func TestKill9KillsScripts(t *testing.T) {
	f := agenttest.NewFake(t)
	f.Offer(t, agenttest.Script{Body: agenttest.NewScript("t-long", wire.ScriptTypeTesting, "",
		`sleep 300 &
echo $! > "$DOWNLOAD_PATH/child"
echo $$ > "$DOWNLOAD_PATH/leader"
sleep 300`)})
	storage := t.TempDir()
	cmd, out := startAgent(t, append(append([]string{"run"}, connArgs(f)...), storage)...)
	dl := filepath.Join(storage, "scripts", "downloads", "t-long")
	leader := waitFile(t, filepath.Join(dl, "leader"), out)
	child := waitFile(t, filepath.Join(dl, "child"), out)
	if len(agenttest.GroupMembers(leader)) < 2 {
		t.Fatalf("the script's group is %v", agenttest.GroupMembers(leader))
	}
	cmd.Process.Signal(syscall.SIGKILL)
	took := groupGone(t, leader, child, 2*time.Second)
	t.Logf("the script's group was gone %s after the agent's SIGKILL", took)
	cmd.Wait()
	t.Logf("agent output:\n%s", out.String())
	if !strings.Contains(out.String(), "watchdog: the runner died; killed the scripts' process group "+strconv.Itoa(leader)) {
		t.Errorf("the watchdog does not say what it killed")
	}
}

// TestResumeKillsSurvivors kills the agent and its watchdog together (as an OOM killer or a
// `kill -9` of both would), so the script survives; resume (or a new run in the same storage
// directory) must find it, kill it and wait for it to be gone before running it again, and
// never run two copies at once.
func TestResumeKillsSurvivors(t *testing.T) {
	t.Run("resume", func(t *testing.T) { testSurvivors(t, "resume", "The interrupted run left t-dup running") })
	t.Run("new run", func(t *testing.T) { testSurvivors(t, "run", "The previous run ") })
}

func testSurvivors(t *testing.T, then, says string) {
	f := agenttest.NewFake(t)
	f.Offer(t, agenttest.Script{Body: agenttest.NewScript("t-dup", wire.ScriptTypeTesting, "",
		`d="$DOWNLOAD_PATH"
if [ -s "$d/leader" ]; then
	for p in $(cat "$d/child" "$d/leader"); do
		if [ -d /proc/$p ] && ! grep -q '^State:[[:space:]]*Z' /proc/$p/status; then echo "$p" >> "$d/overlap"; fi
	done
	echo rerun >> "$d/runs"
	exit 0
fi
echo first >> "$d/runs"
sleep 300 &
echo $! > "$d/child"
echo $$ > "$d/leader"
sleep 300`)})
	storage := t.TempDir()
	cmd, out := startAgent(t, append(append([]string{"run"}, connArgs(f)...), storage)...)
	dl := filepath.Join(storage, "scripts", "downloads", "t-dup")
	leader := waitFile(t, filepath.Join(dl, "leader"), out)
	child := waitFile(t, filepath.Join(dl, "child"), out)
	watchdogs := childrenNamed(cmd.Process.Pid, "__reaper")
	if len(watchdogs) != 1 {
		t.Fatalf("the agent's watchdogs: %v", watchdogs)
	}
	syscall.Kill(watchdogs[0], syscall.SIGKILL)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	time.Sleep(200 * time.Millisecond)
	if len(agenttest.GroupMembers(leader)) == 0 || !agenttest.Alive(child) {
		t.Fatalf("the script did not survive its agent and watchdog; the test needs it to")
	}

	args := []string{"resume", storage}
	if then == "run" {
		args = append(append([]string{"run"}, connArgs(f)...), storage)
	}
	res := agentCmd(t, args...)
	res.WaitDelay = 10 * time.Second
	b, err := res.CombinedOutput()
	t.Logf("%s output:\n%s", then, b)
	if err != nil {
		t.Fatalf("%s: %v", then, err)
	}
	if !strings.Contains(string(b), says) || !strings.Contains(string(b), "t-dup running (process group "+strconv.Itoa(leader)) {
		t.Errorf("%s does not say it killed the survivors", then)
	}
	if overlap, err := os.ReadFile(filepath.Join(dl, "overlap")); err == nil {
		t.Errorf("the rerun found processes of the first copy alive: %s", overlap)
	}
	if runs, _ := os.ReadFile(filepath.Join(dl, "runs")); string(runs) != "first\nrerun\n" {
		t.Errorf("runs %q; want the first copy, then one rerun", runs)
	}
	groupGone(t, leader, child, 0)
	if r := agenttest.ByName(f.Results(t))["t-dup"]; r.Status != wire.ScriptPassed || r.Stores != 1 {
		t.Errorf("t-dup: %s, stored %d times", r.Status.Label(), r.Stores)
	}
}

// TestFullStorageExitStatus runs the agent binary with its storage directory on a full
// filesystem: it exits non-zero and says the output could not be kept.
func TestFullStorageExitStatus(t *testing.T) {
	storage := smallfs.Mount(t, "256k")
	f := agenttest.NewFake(t)
	f.Offer(t, agenttest.Script{Body: agenttest.NewScript("t-big", wire.ScriptTypeTesting, "", `head -c 1000000 /dev/zero | tr '\0' x`)})
	b, err := agentCmd(t, append(append([]string{"run"}, connArgs(f)...), storage)...).CombinedOutput()
	t.Logf("agent output:\n%s", b)
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() == 0 {
		t.Errorf("agent: %v; want a non-zero exit status", err)
	}
	if !strings.Contains(string(b), "The output of 1 scripts could not be kept") {
		t.Errorf("the output does not say the output was lost")
	}
}
