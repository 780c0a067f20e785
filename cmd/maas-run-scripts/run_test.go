package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"maasgo/agent"
	"maasgo/agent/agenttest"
	"maasgo/wire"
)

// agentCommands is the part of the command tree this file tests; root.go adds the same
// constructors.
func agentCommands() *cobra.Command {
	root := &cobra.Command{Use: "maas-run-scripts", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newRunCmd(), newResumeCmd(), newSendCmd())
	return root
}

// helperEnv makes the test binary act as the agent (see TestAgentProcess).
const helperEnv = "MAAS_RUN_SCRIPTS_TEST_AGENT"

// TestAgentProcess is not a test: run as a child process with helperEnv set, the test binary
// runs the agent's commands with the arguments after "--", so the tests can kill it and
// measure its memory as a process of its own.
func TestAgentProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("runs only as a child process of the agent tests")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	root := agentCommands()
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// agentProcess prepares the agent as a child process.
func agentProcess(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestAgentProcess$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	return cmd, &out
}

// connArgs are the flags that point the agent at a fake region.
func connArgs(f *agenttest.Fake) []string {
	c := f.Credentials()
	return []string{"--config", "", "--url", f.MetadataURL(), "--ckey", c.ConsumerKey, "--tkey", c.TokenKey, "--tsec", c.TokenSecret}
}

func execCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := agentCommands()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	root.SetContext(context.Background())
	err := root.Execute()
	t.Logf("maas-run-scripts %s:\n%s", strings.Join(args, " "), out.String())
	return out.String(), err
}

func TestRunAndSendCLI(t *testing.T) {
	f := agenttest.NewFake(t)
	f.Offer(t,
		agenttest.Script{Body: agenttest.NewScript("t-ok", wire.ScriptTypeTesting, "", `echo "$MAAS_RUN_SCRIPTS"`)},
		agenttest.Script{Body: agenttest.NewScript("t-bad", wire.ScriptTypeTesting, "", "exit 3")},
	)
	storage := t.TempDir()
	out, err := execCLI(t, append([]string{"run"}, append(connArgs(f), storage)...)...)
	if !errors.Is(err, agent.ErrScriptsFailed) {
		t.Fatalf("run: %v; want a failure exit", err)
	}
	for _, want := range []string{"[1/2] t-bad ... failed (exit 3)", "[2/2] t-ok ... passed in", "Summary: 2 scripts: 1 failed, 1 passed", "All results are delivered."} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	res := agenttest.ByName(f.Results(t))
	self, _ := os.Executable()
	if got := strings.TrimSpace(string(res["t-ok"].Files["t-ok.out"].Head)); got != self {
		t.Errorf("MAAS_RUN_SCRIPTS=%q; want %q", got, self)
	}

	// --no-send --no-download on the same storage directory against another region: no
	// connection, then send delivers.
	other := agenttest.NewFake(t)
	if _, err := execCLI(t, append([]string{"run", "--no-send", "--no-download"}, append(connArgs(other), storage)...)...); !errors.Is(err, agent.ErrScriptsFailed) {
		t.Fatalf("run --no-send: %v", err)
	}
	if n := other.Connections(); n != 0 {
		t.Fatalf("--no-send opened %d connections", n)
	}
	out, err = execCLI(t, append([]string{"send"}, append(connArgs(other), storage)...)...)
	if err != nil || !strings.Contains(out, "signals sent") {
		t.Fatalf("send: %v", err)
	}
	if len(other.Received()) == 0 || other.Duplicates() != 0 {
		t.Errorf("send delivered %d signals, %d repeated", len(other.Received()), other.Duplicates())
	}
}

func TestRunRefusesWithoutCredentials(t *testing.T) {
	_, err := execCLI(t, "run", "--config", "", "--url", "http://127.0.0.1:1/MAAS/metadata/", "--ckey", "CK", "--tkey", "TK", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "incomplete machine credentials") {
		t.Errorf("err %v", err)
	}
	_, err = execCLI(t, "run", "--config", filepath.Join(t.TempDir(), "missing.cfg"), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "missing.cfg") {
		t.Errorf("missing explicit config: %v", err)
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "creds.cfg")
	os.WriteFile(cfg, []byte(`datasource:
  MAAS: {metadata_url: "http://10.0.0.2:5248/MAAS/metadata/", consumer_key: CK, token_key: TK, token_secret: TS}
`), 0o600)
	fl := pflag.NewFlagSet("run", pflag.ContinueOnError)
	var o connOpts
	o.addFlags(fl, agent.DefaultConfigPath)
	fl.Parse([]string{"--config=" + cfg, "--tkey", "FLAG"})
	ep, err := o.endpoint(context.Background(), fl, false, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := agent.Endpoint{MetadataURL: "http://10.0.0.2:5248/MAAS/metadata/2012-03-01/", Credentials: wire.Credentials{ConsumerKey: "CK", TokenKey: "FLAG", TokenSecret: "TS"}}
	if ep != want {
		t.Errorf("endpoint %+v; want %+v", ep, want)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"64MiB": 64 << 20, "1G": 1 << 30, "1.5KiB": 1536, "10MB": 10e6, "4096": 4096, "0": 0} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "3 parsecs", "1e30"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q): no error", bad)
		}
	}
	if _, err := parseMaxOutput("100"); err == nil {
		t.Error("a cap below the minimum is accepted")
	}
	if n, _ := parseMaxOutput("0"); n != -1 {
		t.Errorf("0 → %d; want no cap", n)
	}
}

// TestKillAndResume kills the agent process in the middle of a run; resume finishes it and
// the region gets every result exactly once.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the agent as a process")
	}
	f := agenttest.NewFake(t)
	var list []agenttest.Script
	for i := 0; i < 6; i++ {
		list = append(list, agenttest.Script{Body: agenttest.NewScript(fmt.Sprintf("t-%d", i), wire.ScriptTypeTesting, "",
			`echo x >> "$DOWNLOAD_PATH/runs"; sleep 0.4; echo done`)})
	}
	f.Offer(t, list...)
	storage := t.TempDir()
	cmd, out := agentProcess(t, append([]string{"run"}, append(connArgs(f), storage)...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for countFinished(f) < 2 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no results; agent output:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	t.Logf("killed agent output:\n%s", out)
	if countFinished(f) == 6 {
		t.Fatal("the run finished before it was killed")
	}

	res, out2 := agentProcess(t, "resume", storage)
	if err := res.Run(); err != nil {
		t.Fatalf("resume: %v\n%s", err, out2)
	}
	t.Logf("resume output:\n%s", out2)
	for _, r := range f.Results(t) {
		if r.Status != wire.ScriptPassed || r.Stores != 1 {
			t.Errorf("%s: %s, stored %d times", r.Name, r.Status.Label(), r.Stores)
		}
	}
	keys := map[string]int{}
	for _, r := range f.Received() {
		if r.Key != "" {
			keys[r.Key]++
		}
	}
	for k, n := range keys {
		if n != 1 {
			t.Errorf("key %s stored %d times", k, n)
		}
	}
	if f.NodeStatus(t) != wire.NodeReady {
		t.Errorf("node %s", f.NodeStatus(t).Label())
	}
	reran := 0
	for i := 0; i < 6; i++ {
		b, _ := os.ReadFile(filepath.Join(storage, "scripts", "downloads", fmt.Sprintf("t-%d", i), "runs"))
		if n := strings.Count(string(b), "x"); n > 1 {
			reran++
		} else if n == 0 {
			t.Errorf("t-%d never ran", i)
		}
	}
	if reran > 1 {
		t.Errorf("%d scripts ran twice; only the one interrupted should", reran)
	}
}

func countFinished(f *agenttest.Fake) int {
	n := 0
	for _, r := range f.Results(nil) {
		if !r.Status.Unfinished() {
			n++
		}
	}
	return n
}

// TestFloodMemory pushes 1 GiB through a script's stdout (and 256 MiB through stderr) and
// checks the agent process's peak memory (VmHWM) stays under 64 MB while it stores and
// uploads the capped output.
func TestFloodMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 1.25 GiB through the agent")
	}
	f := agenttest.NewFake(t)
	f.Offer(t, agenttest.Script{Body: agenttest.NewScript("t-flood", wire.ScriptTypeTesting, "",
		`head -c 268435456 /dev/zero >&2 & head -c 1073741824 /dev/zero; wait`)})
	storage := t.TempDir()
	cmd, out := agentProcess(t, append([]string{"run"}, append(connArgs(f), storage)...)...)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var hwm int64
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var err error
loop:
	for {
		select {
		case err = <-done:
			break loop
		case <-tick.C:
			if kb := vmHWM(cmd.Process.Pid); kb > hwm {
				hwm = kb
			}
		}
	}
	if err != nil {
		t.Fatalf("agent: %v\n%s", err, out)
	}
	// ru_maxrss also counts the script's own processes; VmHWM is the agent's alone.
	maxRSS := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB
	t.Logf("flood of 1.25 GiB: %s; agent VmHWM %d KiB (last sample), ru_maxrss of the process tree %d KiB", time.Since(start).Round(time.Millisecond), hwm, maxRSS)
	if hwm == 0 {
		t.Fatal("no VmHWM sample")
	}
	const limit = 64 * 1000 // KiB: 64 MB
	if hwm > limit {
		t.Errorf("agent peak memory VmHWM %d KiB; want < %d KiB", hwm, limit)
	}
	res := agenttest.ByName(f.Results(t))["t-flood"]
	if sz := res.Files["t-flood.out"].Size; res.Status != wire.ScriptPassed || sz > agent.DefaultMaxOutput || sz < agent.DefaultMaxOutput-1<<20 {
		t.Errorf("result %s, stdout %d bytes", res.Status.Label(), res.Files["t-flood.out"].Size)
	}
}

// vmHWM reads the peak resident set size of pid in KiB.
func vmHWM(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}
