package agenttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"maasgo/agent"
	"maasgo/collectors"
	"maasgo/wire"
)

// NewScript builds a shell script with a metadata block: name, script_type, then meta (more
// "key: value" lines, without the leading "# "), then body.
func NewScript(name string, typ wire.ScriptType, meta, body string) []byte {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n")
	fmt.Fprintf(&b, "# name: %s\n# script_type: %s\n", name, typ.Dir())
	for _, l := range strings.Split(strings.TrimSpace(meta), "\n") {
		if l != "" {
			b.WriteString("# " + l + "\n")
		}
	}
	b.WriteString("# --- End MAAS 1.0 script metadata ---\n")
	b.WriteString(body)
	b.WriteString("\n")
	return []byte(b.String())
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Harness is the runner set up in-process against a region: a fresh storage directory, an
// empty machine tree, fast retries.
type Harness struct {
	Region  Region
	Storage string
	Agent   *agent.Agent
	Out     *SyncBuffer
	Log     *SyncBuffer
}

// NewHarness prepares a runner for region.
func NewHarness(t testing.TB, region Region) *Harness {
	t.Helper()
	mdURL, err := agent.MetadataURL(region.MetadataURL(), agent.DefaultAPIVersion)
	if err != nil {
		t.Fatal(err)
	}
	ep := agent.Endpoint{MetadataURL: mdURL, Credentials: region.Credentials()}
	h := &Harness{Region: region, Storage: t.TempDir(), Out: &SyncBuffer{}, Log: &SyncBuffer{}}
	h.Agent = &agent.Agent{
		StorageDir:    h.Storage,
		Roots:         collectors.RootsAt(t.TempDir()),
		Region:        agent.NewRegion(ep, 0),
		Endpoint:      ep,
		Out:           h.Out,
		Log:           slog.New(slog.NewTextHandler(h.Log, nil)),
		Backoff:       agent.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		InterfaceWait: []time.Duration{},
		Env:           []string{"PATH=" + os.Getenv("PATH")},
	}
	return h
}

// SetIdleTimeout makes the runner's downloads and uploads fail (and be retried) after idle
// without a byte moving, instead of the default's minutes.
func (h *Harness) SetIdleTimeout(idle time.Duration) {
	h.Agent.Region = agent.NewRegion(h.Agent.Endpoint, idle)
	h.Agent.IdleTimeout = idle
}

// Run runs the runner with a deadline.
func (h *Harness) Run(t testing.TB) (agent.Summary, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := h.Agent.Run(ctx)
	t.Logf("runner output:\n%s", h.Out.String())
	if l := h.Log.String(); l != "" {
		t.Logf("runner log:\n%s", l)
	}
	return sum, err
}

// ByName indexes results by name (the last one of each name).
func ByName(rs []Result) map[string]Result {
	m := map[string]Result{}
	for _, r := range rs {
		m[r.Name] = r
	}
	return m
}

// Scenarios runs the runner against regions open returns (a fresh machine each time) and
// checks what the region stored. It needs nothing from the region beyond the Region
// interface, so a real region can be plugged in.
func Scenarios(t *testing.T, open func(t *testing.T) Region) {
	t.Run("Statuses", func(t *testing.T) { scenarioStatuses(t, open(t)) })
	t.Run("TimeoutKillsTheGroup", func(t *testing.T) { scenarioTimeout(t, open(t)) })
	t.Run("MissingInterpreter", func(t *testing.T) { scenarioMissingInterpreter(t, open(t)) })
	t.Run("InstanceScriptsRunTogether", func(t *testing.T) { scenarioInstance(t, open(t)) })
	t.Run("PackagesFailToInstall", func(t *testing.T) { scenarioPackages(t, open(t)) })
}

func scenarioStatuses(t *testing.T, r Region) {
	r.Offer(t,
		Script{Body: NewScript("c-pass", wire.ScriptTypeCommissioning, "", "echo hello; echo oops >&2")},
		Script{Body: NewScript("t-pass", wire.ScriptTypeTesting, "", "echo ok")},
		Script{Body: NewScript("t-fail", wire.ScriptTypeTesting, "", "echo bad >&2; exit 1")},
		Script{Body: NewScript("t-degraded", wire.ScriptTypeTesting, "", `echo "status: degraded" > "$RESULT_PATH"`)},
		Script{Body: NewScript("t-skipped", wire.ScriptTypeTesting, "", `printf 'status: skipped\nresults: {a: 1}\n' > "$RESULT_PATH"`)},
		Script{Body: NewScript("t-badyaml", wire.ScriptTypeTesting, "", `echo "status: maybe" > "$RESULT_PATH"`)},
	)
	h := NewHarness(t, r)
	sum, err := h.Run(t)
	if !errors.Is(err, agent.ErrScriptsFailed) {
		t.Fatalf("run: %v; want ErrScriptsFailed", err)
	}
	if sum.Failed() != 1 || sum.Final != wire.SignalFailed || sum.Unsent != 0 {
		t.Errorf("summary: %d failed, final %q, %d unsent; want 1, FAILED, 0", sum.Failed(), sum.Final, sum.Unsent)
	}
	res := ByName(r.Results(t))
	want := map[string]wire.ScriptStatus{
		"c-pass": wire.ScriptPassed, "t-pass": wire.ScriptPassed, "t-fail": wire.ScriptFailed,
		"t-degraded": wire.ScriptDegraded, "t-skipped": wire.ScriptSkipped, "t-badyaml": wire.ScriptPassed,
	}
	for name, st := range want {
		got := res[name]
		if got.Status != st {
			t.Errorf("%s: status %s; want %s", name, got.Status.Label(), st.Label())
		}
		if got.Stores != 1 {
			t.Errorf("%s: stored %d times; want once", name, got.Stores)
		}
	}
	if f := res["c-pass"].Files; string(f["c-pass.out"].Head) != "hello\n" || string(f["c-pass.err"].Head) != "oops\n" ||
		!strings.Contains(string(f["c-pass"].Head), "hello") {
		t.Errorf("c-pass files: %+v", f)
	}
	if e := res["t-fail"].ExitStatus; e == nil || *e != 1 {
		t.Errorf("t-fail exit status %v; want 1", e)
	}
	if y := res["t-badyaml"].Files["t-badyaml.yaml"]; string(y.Head) != "status: maybe\n" {
		t.Errorf("the invalid result file was not uploaded as written: %q", y.Head)
	}
	if !strings.Contains(h.Out.String(), "the result file t-badyaml.yaml is invalid") {
		t.Errorf("the invalid result file is not reported on the console")
	}
	if st := r.NodeStatus(t); st != wire.NodeFailedTesting {
		t.Errorf("node status %s; want Failed testing", st.Label())
	}
}

func scenarioTimeout(t *testing.T, r Region) {
	r.Offer(t, Script{Body: NewScript("t-hang", wire.ScriptTypeTesting, "timeout: 1",
		`echo $$ > "$DOWNLOAD_PATH/leader.pid"
sh -c 'sleep 600' &
echo $! > "$DOWNLOAD_PATH/child.pid"
echo started
sleep 600`)})
	h := NewHarness(t, r)
	start := time.Now()
	_, err := h.Run(t)
	if !errors.Is(err, agent.ErrScriptsFailed) {
		t.Fatalf("run: %v; want ErrScriptsFailed", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the run took %s for a 1 s timeout", d)
	}
	res := ByName(r.Results(t))["t-hang"]
	if res.Status != wire.ScriptTimedOut {
		t.Errorf("status %s; want Timed out", res.Status.Label())
	}
	if !strings.Contains(string(res.Files["t-hang.out"].Head), "started") {
		t.Errorf("the output before the timeout is lost: %q", res.Files["t-hang.out"].Head)
	}
	dl := filepath.Join(h.Storage, "scripts", "downloads", "t-hang")
	leader := readPID(t, filepath.Join(dl, "leader.pid"))
	child := readPID(t, filepath.Join(dl, "child.pid"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		alive := GroupMembers(leader)
		if len(alive) == 0 && !Alive(child) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes of the script's group survive the timeout: %v (child %d alive: %v)", alive, child, Alive(child))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func readPID(t testing.TB, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// GroupMembers lists the live (non-zombie) processes whose process group is pgid.
func GroupMembers(pgid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid {
			out = append(out, pid)
		}
	}
	return out
}

// Alive reports whether pid is a live, non-zombie process.
func Alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || !bytes.HasPrefix(bytes.TrimSpace(stat[i+1:]), []byte("Z"))
}

func scenarioMissingInterpreter(t *testing.T, r Region) {
	r.Offer(t,
		Script{Body: []byte(strings.Replace(string(NewScript("t-nointerp", wire.ScriptTypeTesting, "", "echo never")),
			"#!/bin/sh", "#!/nonexistent/interpreter", 1))},
		Script{Body: NewScript("t-after", wire.ScriptTypeTesting, "", "echo still running")},
	)
	h := NewHarness(t, r)
	if _, err := h.Run(t); !errors.Is(err, agent.ErrScriptsFailed) {
		t.Fatalf("run: %v; want ErrScriptsFailed", err)
	}
	res := ByName(r.Results(t))
	got := res["t-nointerp"]
	if got.Status != wire.ScriptFailed || got.ExitStatus == nil || *got.ExitStatus != 2 {
		t.Errorf("t-nointerp: %s exit %v; want Failed, exit 2", got.Status.Label(), got.ExitStatus)
	}
	if msg := string(got.Files["t-nointerp"].Head); !strings.Contains(msg, "/nonexistent/interpreter") || !strings.Contains(msg, "missing") {
		t.Errorf("t-nointerp output does not say why: %q", msg)
	}
	if res["t-after"].Status != wire.ScriptPassed {
		t.Errorf("the runner did not go on: t-after %s", res["t-after"].Status.Label())
	}
}

func scenarioInstance(t *testing.T, r Region) {
	params := func(v string) map[string]wire.ResolvedParam {
		return map[string]wire.ResolvedParam{"tag": {Type: "string", Value: v}}
	}
	r.Offer(t, Script{
		Body:    NewScript("t-par", wire.ScriptTypeTesting, "parallel: instance\nparameters: {tag: {type: string}}", `sleep 1; echo "$@"`),
		Results: []map[string]wire.ResolvedParam{params("a"), params("b"), params("c")},
	})
	h := NewHarness(t, r)
	sum, err := h.Run(t)
	if err != nil {
		t.Fatal(err)
	}
	var scripts time.Duration
	for _, o := range sum.Outcomes {
		scripts += o.Runtime
	}
	if len(sum.Outcomes) != 3 || scripts < 3*time.Second {
		t.Fatalf("%d outcomes, %s of script time; want 3 of 1 s", len(sum.Outcomes), scripts)
	}
	if sum.Elapsed > 2800*time.Millisecond {
		t.Errorf("three 1 s instance scripts took %s: they did not run together", sum.Elapsed)
	}
	seen := map[string]bool{}
	for _, res := range r.Results(t) {
		seen[strings.TrimSpace(string(res.Files["t-par.out"].Head))] = true
	}
	for _, want := range []string{"--string=a", "--string=b", "--string=c"} {
		if !seen[want] {
			t.Errorf("no result printed %q: %v", want, seen)
		}
	}
}

// FakeCommands is a CommandRunner that records the commands and answers from a table: the
// first entry whose Match is a prefix of the command line decides the exit status and output.
type FakeCommands struct {
	mu    sync.Mutex
	Calls [][]string
	Rules []CommandRule
}

// CommandRule is one answer of FakeCommands.
type CommandRule struct {
	Match  string
	Exit   int
	Stdout string
	Stderr string
	// Do, when set, runs before the answer (to create the files a command would).
	Do func(argv []string) error
}

// Run implements agent.CommandRunner.
func (f *FakeCommands) Run(_ context.Context, argv, _ []string, stdout, stderr io.Writer) (int, error) {
	f.mu.Lock()
	f.Calls = append(f.Calls, argv)
	f.mu.Unlock()
	line := strings.Join(argv, " ")
	for _, r := range f.Rules {
		if strings.HasPrefix(line, r.Match) {
			if r.Do != nil {
				if err := r.Do(argv); err != nil {
					return 127, err
				}
			}
			io.WriteString(stdout, r.Stdout)
			io.WriteString(stderr, r.Stderr)
			return r.Exit, nil
		}
	}
	return 0, nil
}

// Lines returns the recorded command lines.
func (f *FakeCommands) Lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.Calls {
		out = append(out, strings.Join(c, " "))
	}
	return out
}

func scenarioPackages(t *testing.T, r Region) {
	r.Offer(t,
		Script{Body: NewScript("t-fio", wire.ScriptTypeTesting, "packages: {apt: [fio, nonexistent-pkg]}", `touch "$DOWNLOAD_PATH/ran"`)},
		Script{Body: NewScript("t-plain", wire.ScriptTypeTesting, "", "true")},
	)
	h := NewHarness(t, r)
	cmds := &FakeCommands{Rules: []CommandRule{
		{Match: "apt-get -qy update", Stdout: "Reading package lists...\n"},
		{Match: "apt-get -qy --no-install-recommends install", Exit: 100, Stderr: "E: Unable to locate package nonexistent-pkg\n"},
	}}
	h.Agent.Commands = cmds
	if _, err := h.Run(t); !errors.Is(err, agent.ErrScriptsFailed) {
		t.Fatalf("run: %v; want ErrScriptsFailed", err)
	}
	res := ByName(r.Results(t))
	got := res["t-fio"]
	if got.Status != wire.ScriptFailedInstalling || got.ExitStatus == nil || *got.ExitStatus != 100 {
		t.Errorf("t-fio: %s exit %v; want Failed installing dependencies, exit 100", got.Status.Label(), got.ExitStatus)
	}
	if !strings.Contains(string(got.Files["t-fio.err"].Head), "Unable to locate package") {
		t.Errorf("the installer's output is not uploaded: %+v", got.Files)
	}
	if _, err := os.Stat(filepath.Join(h.Storage, "scripts", "downloads", "t-fio", "ran")); err == nil {
		t.Error("the script ran although its packages failed to install")
	}
	if res["t-plain"].Status != wire.ScriptPassed {
		t.Errorf("t-plain: %s", res["t-plain"].Status.Label())
	}
	want := []string{"apt-get -qy update", "apt-get -qy --no-install-recommends install fio nonexistent-pkg"}
	if got := cmds.Lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
