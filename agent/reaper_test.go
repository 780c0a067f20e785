package agent

import (
	"bytes"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"maasgo/agent/journal"
)

func TestParseProcStat(t *testing.T) {
	line := "4242 (a (weird) name) S 1 4240 4100 0 -1 4194560 105 0 0 0 0 0 0 0 20 0 1 0 987654 2461696 192 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	st, err := parseProcStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if st != (procStat{State: 'S', PGID: 4240, SID: 4100, Start: 987654}) {
		t.Errorf("%+v", st)
	}
	if _, err := parseProcStat([]byte("4242 (x) S 1 2")); err == nil {
		t.Error("a short line parsed")
	}
}

// scriptGroup starts a process group like a script's: a shell with a background child and a
// foreground one. It returns the group, and kills it when the test ends.
func scriptGroup(t *testing.T) (procGroup, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command("sh", "-c", "sleep 300 & sleep 300")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	g, err := groupOf(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(g.members()) < 3 { // sh and its two sleeps
		if time.Now().After(deadline) {
			t.Fatalf("the group has %v", g.members())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return g, cmd
}

func waitGone(t *testing.T, g procGroup, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for len(g.members()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("processes %v of group %d still alive after %s", g.members(), g.PGID, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReaper drives the watchdog through its pipe: a runner that ends without "done" has its
// running groups killed; one that says "done", or whose scripts ended, has nothing killed.
func TestReaper(t *testing.T) {
	run := func(lines func(g procGroup) string) (procGroup, string) {
		g, _ := scriptGroup(t)
		var log bytes.Buffer
		if err := RunReaper(strings.NewReader(lines(g)), &log); err != nil {
			t.Fatal(err)
		}
		return g, log.String()
	}
	start := func(g procGroup) string {
		return "start " + itoa(g.PGID) + " " + itoa(g.SID) + " " + itoa(g.Start) + "\n"
	}
	g, log := run(func(g procGroup) string { return start(g) })
	waitGone(t, g, 2*time.Second)
	if !strings.Contains(log, "the runner died; killed the scripts' process group "+itoa(g.PGID)) {
		t.Errorf("log %q", log)
	}
	for name, lines := range map[string]func(procGroup) string{
		"done":  func(g procGroup) string { return start(g) + "done\n" },
		"ended": func(g procGroup) string { return start(g) + "end " + itoa(g.PGID) + "\n" },
		"another start time (PID reuse)": func(g procGroup) string {
			g.Start += 1000
			return start(g)
		},
	} {
		g, log := run(lines)
		time.Sleep(100 * time.Millisecond)
		if len(g.members()) != 3 || log != "" {
			t.Errorf("%s: the group has %v left, log %q; want it untouched", name, g.members(), log)
		}
	}
}

// TestReapSurvivors records script groups in a journal as the runner does and has resume's
// check find them: the group of a script without a result is killed and waited for; a
// finished script's group, a group recorded on another boot and one whose recorded start
// time is not its leader's (its pid reused) are left alone.
func TestReapSurvivors(t *testing.T) {
	j, err := journal.Open(filepath.Join(t.TempDir(), "j"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	unfinished, _ := scriptGroup(t)
	finished, _ := scriptGroup(t)
	otherBoot, _ := scriptGroup(t)
	reused, _ := scriptGroup(t)
	recorded := []procGroup{unfinished, finished, otherBoot, reused}
	recorded[2].Boot = "not-this-boot"
	recorded[3].Start += 1000 // the group recorded started after these processes: not them
	for i, g := range recorded {
		if _, err := j.Append(kindProc, "", procRecord{Script: "t-" + itoa(i), Finish: "r0/testing/" + itoa(i) + "/finish", Group: g}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := j.Append(kindSignal, "r0/testing/1/finish", nil, nil); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	a := &Agent{Out: &out, Log: slog.New(slog.DiscardHandler)}
	start := time.Now()
	if err := a.reapSurvivors(j, "the interrupted run"); err != nil {
		t.Fatal(err)
	}
	if left := unfinished.members(); len(left) != 0 {
		t.Errorf("reapSurvivors returned with %v alive", left)
	}
	t.Logf("killed a group and saw it gone in %s", time.Since(start))
	if !strings.Contains(out.String(), "The interrupted run left t-0 running (process group "+itoa(unfinished.PGID)) {
		t.Errorf("output %q", out.String())
	}
	for name, g := range map[string]procGroup{"finished": finished, "other boot": otherBoot, "reused pid": reused} {
		if n := len(g.members()); n != 3 {
			t.Errorf("%s: group %d has %d processes left; want it untouched", name, g.PGID, n)
		}
	}
}

func itoa[T int | uint64](n T) string { return strconv.FormatUint(uint64(n), 10) }
