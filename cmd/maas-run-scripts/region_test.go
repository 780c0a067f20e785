package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"maasgo/agent/agenttest"
	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
)

// These tests run the real agent binary against the real region on loopback.

type machine struct {
	r     *regiontest.Region
	id    string
	creds string // path of the machine's datasource config
}

// readyMachine adds a machine and makes it Ready (created deployed, then released), so tests
// run on it without the built-in commissioning scripts.
func readyMachine(t *testing.T, r *regiontest.Region, host string) *machine {
	t.Helper()
	admin := r.Client()
	m := admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"hostname": {host}, "deployed": {"true"}, "architecture": {"amd64"}}).(map[string]any)
	id := m["system_id"].(string)
	admin.Must(t, 200, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"release"}})
	return &machine{r: r, id: id, creds: writeCreds(t, r, id)}
}

// writeCreds writes the machine's token as upstream's cloud-init datasource config.
func writeCreds(t *testing.T, r *regiontest.Region, id string) string {
	t.Helper()
	tok := r.Client().Must(t, 200, "GET", "api/2.0/machines/"+id+"/", url.Values{"op": {"get_token"}}).(map[string]any)
	p := filepath.Join(t.TempDir(), "creds.yaml")
	cfg := fmt.Sprintf("datasource:\n  MAAS:\n    metadata_url: %s/metadata/\n    consumer_key: %s\n    token_key: %s\n    token_secret: %s\n",
		r.URL, tok["consumer_key"], tok["token_key"], tok["token_secret"])
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func script(name, meta, body string) string {
	return "#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: " + name + "\n# script_type: testing\n" + meta +
		"# --- End MAAS 1.0 script metadata ---\n" + body + "\n"
}

// offer uploads testing scripts and starts testing the machine with them.
func (m *machine) offer(t *testing.T, scripts ...string) {
	t.Helper()
	admin := m.r.Client()
	var names []string
	for _, s := range scripts {
		out := admin.Must(t, 200, "POST", "api/2.0/scripts/", url.Values{"script": {s}}).(map[string]any)
		names = append(names, out["name"].(string))
	}
	admin.Must(t, 200, "POST", "api/2.0/machines/"+m.id+"/", url.Values{"op": {"test"}, "testing_scripts": {strings.Join(names, ",")}})
}

// agentCmd prepares `maas-run-scripts ARGS…`.
func agentCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(regiontest.Build(t, "maasgo/cmd/maas-run-scripts"), args...)
	cmd.Env = append(os.Environ(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin")
	return cmd
}

// run runs the agent on the machine and returns its output and exit status.
func (m *machine) run(t *testing.T, storage string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := agentCmd(t, append(append([]string{"run", "--config", m.creds}, args...), storage)...)
	cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	cmd.Env = append(os.Environ(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin")
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("agent: %v\n%s", err, out)
	}
	return string(out), code
}

// results reads the machine's current testing results by name.
func (m *machine) results(t *testing.T, set string) map[string]map[string]any {
	t.Helper()
	s := m.r.Client().Must(t, 200, "GET", "api/2.0/nodes/"+m.id+"/results/"+set+"/", url.Values{"include_output": {"true"}}).(map[string]any)
	out := map[string]map[string]any{}
	for _, x := range s["results"].([]any) {
		res := x.(map[string]any)
		out[res["name"].(string)] = res
	}
	return out
}

// stores counts the times the region stored a result of the script (one event each).
func (m *machine) stores(t *testing.T, name string) int {
	t.Helper()
	evs := m.r.Client().Must(t, 200, "GET", "api/2.0/events/", url.Values{"op": {"query"}, "id": {m.id}, "limit": {"1000"}, "level": {"DEBUG"}}).(map[string]any)
	n := 0
	for _, e := range evs["events"].([]any) {
		ev := e.(map[string]any)
		if ev["type"] == "Script result" && strings.HasPrefix(ev["description"].(string), name+" ") {
			n++
		}
	}
	return n
}

func (m *machine) status(t *testing.T) string {
	t.Helper()
	return m.r.Client().Must(t, 200, "GET", "api/2.0/machines/"+m.id+"/", nil).(map[string]any)["status_name"].(string)
}

func decode(t *testing.T, v any) string {
	t.Helper()
	s, _ := v.(string)
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("output is not base64: %v", err)
	}
	return string(b)
}

func TestAgentAgainstRegion(t *testing.T) {
	agentDir, _ := regiontest.AgentDir(t)
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			r := regiontest.Start(t, e, "--agent-dir", agentDir)
			t.Run("statuses", func(t *testing.T) {
				m := readyMachine(t, r, "statuses")
				m.offer(t,
					script("t-pass", "", "echo hello; echo oops >&2"),
					script("t-fail", "", "echo bad >&2; exit 1"),
					script("t-degraded", "", `echo "status: degraded" > "$RESULT_PATH"`),
					script("t-skipped", "", `printf 'status: skipped\nresults: {a: 1}\n' > "$RESULT_PATH"`),
					script("t-badyaml", "", `echo "status: maybe" > "$RESULT_PATH"`),
					"#!/nonexistent/interpreter\n# --- Start MAAS 1.0 script metadata ---\n# name: t-nointerp\n# script_type: testing\n# --- End MAAS 1.0 script metadata ---\n",
				)
				out, code := m.run(t, t.TempDir())
				if code == 0 {
					t.Errorf("agent exited 0 with failed scripts:\n%s", out)
				}
				res := m.results(t, "current-testing")
				for name, want := range map[string]string{"t-pass": "Passed", "t-fail": "Failed", "t-degraded": "Degraded",
					"t-skipped": "Skipped", "t-badyaml": "Failed", "t-nointerp": "Failed"} {
					if got := res[name]["status_name"]; got != want {
						t.Errorf("%s: %v; want %s", name, got, want)
					}
					if n := m.stores(t, name); n != 1 {
						t.Errorf("%s stored %d times; want once", name, n)
					}
				}
				if decode(t, res["t-pass"]["stdout"]) != "hello\n" || decode(t, res["t-pass"]["stderr"]) != "oops\n" {
					t.Errorf("t-pass output: %q %q", decode(t, res["t-pass"]["stdout"]), decode(t, res["t-pass"]["stderr"]))
				}
				if res["t-fail"]["exit_status"] != 1.0 || res["t-nointerp"]["exit_status"] != 2.0 {
					t.Errorf("exit statuses: t-fail %v, t-nointerp %v", res["t-fail"]["exit_status"], res["t-nointerp"]["exit_status"])
				}
				if msg := decode(t, res["t-nointerp"]["output"]); !strings.Contains(msg, "/nonexistent/interpreter") {
					t.Errorf("no word on the missing interpreter: %q", msg)
				}
				if decode(t, res["t-badyaml"]["result"]) != "status: maybe\n" {
					t.Errorf("the bad result YAML was not kept: %q", decode(t, res["t-badyaml"]["result"]))
				}
				if st := m.status(t); st != "Failed testing" {
					t.Errorf("machine: %s", st)
				}
				if !strings.Contains(out, "t-pass") || !strings.Contains(out, "passed in") {
					t.Errorf("no progress lines:\n%s", out)
				}
			})
			t.Run("timeout kills the group", func(t *testing.T) {
				m := readyMachine(t, r, "hangs")
				m.offer(t, script("t-hang", "# timeout: 1\n", `echo $$ > "$DOWNLOAD_PATH/leader.pid"
sh -c 'sleep 600' &
echo $! > "$DOWNLOAD_PATH/child.pid"
echo started
sleep 600`))
				storage := t.TempDir()
				start := time.Now()
				m.run(t, storage)
				if d := time.Since(start); d > 30*time.Second {
					t.Errorf("a 1 s timeout took %s", d)
				}
				res := m.results(t, "current-testing")["t-hang"]
				if res["status_name"] != "Timed out" || res["exit_status"] != 124.0 || !strings.Contains(decode(t, res["stdout"]), "started") {
					t.Errorf("t-hang: %v exit %v", res["status_name"], res["exit_status"])
				}
				for _, f := range []string{"leader.pid", "child.pid"} {
					b, err := os.ReadFile(filepath.Join(storage, "scripts", "downloads", "t-hang", f))
					if err != nil {
						t.Fatal(err)
					}
					pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
					if pid > 0 && agenttest.Alive(pid) {
						t.Errorf("process %d (%s) survived the timeout", pid, f)
					}
				}
			})
			t.Run("packages fail to install", func(t *testing.T) {
				m := readyMachine(t, r, "packages")
				m.offer(t, script("t-pkg", "# packages: {url: 'http://127.0.0.1:1/missing.tar.gz'}\n", "echo never"))
				m.run(t, t.TempDir())
				res := m.results(t, "current-testing")["t-pkg"]
				if res["status_name"] != "Failed installing dependencies" {
					t.Errorf("t-pkg: %v", res["status_name"])
				}
			})
		})
	}
}

// TestAgentInstanceParallel gives a machine three disks (its inventory comes from the
// two-socket fixture through the real commissioning scripts, with --machine-root) and runs an
// instance-parallel storage test: one result per disk, all running together.
func TestAgentInstanceParallel(t *testing.T) {
	agentDir, _ := regiontest.AgentDir(t)
	r := regiontest.Start(t, storetest.SQLite(t), "--agent-dir", agentDir)
	admin := r.Client()
	root, err := filepath.Abs("../../testdata/machines/two-socket-server/root")
	if err != nil {
		t.Fatal(err)
	}
	dm := admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"hostname": {"bigbox"}, "deployed": {"true"}}).(map[string]any)
	m := &machine{r: r, id: dm["system_id"].(string)}
	m.creds = writeCreds(t, r, m.id)
	// A deployed machine runs its deploy-info scripts: the inventory is the fixture's.
	if out, _ := m.run(t, t.TempDir(), "--machine-root", root); !strings.Contains(out, "50-maas-01-commissioning") {
		t.Fatalf("deploy-info run:\n%s", out)
	}
	got := admin.Must(t, 200, "GET", "api/2.0/machines/"+m.id+"/", nil).(map[string]any)
	disks := got["physicalblockdevice_set"].([]any)
	if len(disks) < 3 {
		t.Fatalf("the fixture's disks did not arrive: %d disks", len(disks))
	}
	if got["status_name"] != "Ready" {
		admin.Must(t, 200, "POST", "api/2.0/machines/"+m.id+"/", url.Values{"op": {"release"}})
	}
	m.offer(t, script("t-disk", "# hardware_type: storage\n# parallel: instance\n# parameters: {storage: {type: storage, argument_format: '{path}'}}\n",
		`echo "testing $1"; sleep 2`))
	start := time.Now()
	out, code := m.run(t, t.TempDir(), "--machine-root", root)
	took := time.Since(start)
	if code != 0 {
		t.Fatalf("agent exited %d:\n%s", code, out)
	}
	set := admin.Must(t, 200, "GET", "api/2.0/nodes/"+m.id+"/results/current-testing/", nil).(map[string]any)
	rs := set["results"].([]any)
	if len(rs) != len(disks) {
		t.Fatalf("%d results for %d disks", len(rs), len(disks))
	}
	for _, x := range rs {
		if x.(map[string]any)["status_name"] != "Passed" {
			t.Errorf("result %v: %v", x.(map[string]any)["id"], x.(map[string]any)["status_name"])
		}
	}
	// Serially this would take 2 s per disk.
	if limit := time.Duration(len(disks))*2*time.Second - time.Second; took > limit {
		t.Errorf("%d instance-parallel 2 s scripts took %s; they did not run together", len(disks), took)
	}
	t.Logf("%d instances of a 2 s script in %s", len(disks), took.Round(10*time.Millisecond))
}

// offerSleepers offers n testing scripts named prefix0… that each sleep for secs.
func (m *machine) offerSleepers(t *testing.T, prefix string, n int, secs string) []string {
	t.Helper()
	var names, scripts []string
	for i := 0; i < n; i++ {
		names = append(names, fmt.Sprintf("%s%d", prefix, i))
		scripts = append(scripts, script(names[i], "", "sleep "+secs+"; echo done"))
	}
	m.offer(t, scripts...)
	return names
}

// passedOnce checks that every named result passed and that the region stored it once.
func (m *machine) passedOnce(t *testing.T, names []string) {
	t.Helper()
	res := m.results(t, "current-testing")
	for _, name := range names {
		if n := m.stores(t, name); res[name]["status_name"] != "Passed" || n != 1 {
			t.Errorf("%s: %v, stored %d times", name, res[name]["status_name"], n)
		}
	}
}

// TestAgentSurvivesRegionRestart stops the region in the middle of a run and starts it again
// a while later: every result arrives, exactly once.
func TestAgentSurvivesRegionRestart(t *testing.T) {
	agentDir, _ := regiontest.AgentDir(t)
	r := regiontest.Start(t, storetest.SQLite(t), "--agent-dir", agentDir)
	m := readyMachine(t, r, "patient")
	names := m.offerSleepers(t, "t-step", 6, "0.5")
	storage := t.TempDir()
	cmd := agentCmd(t, "run", "--config", m.creds, storage)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond)
	r.Stop()
	time.Sleep(3 * time.Second)
	r.Restart()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent: %v\n%s", err, out.String())
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("agent did not finish after the region came back\n%s", out.String())
	}
	m.passedOnce(t, names)
	if st := m.status(t); st != "Ready" {
		t.Errorf("machine: %s", st)
	}
}

// TestAgentKilledThenResumed kills the agent mid-run; resume finishes the job without
// duplicates.
func TestAgentKilledThenResumed(t *testing.T) {
	agentDir, _ := regiontest.AgentDir(t)
	r := regiontest.Start(t, storetest.SQLite(t), "--agent-dir", agentDir)
	m := readyMachine(t, r, "interrupted")
	names := m.offerSleepers(t, "t-part", 5, "0.4")
	storage := t.TempDir()
	cmd := agentCmd(t, "run", "--config", m.creds, storage)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once two results are in.
	sc := bufio.NewScanner(stdout)
	passed := 0
	for sc.Scan() {
		if strings.Contains(sc.Text(), "passed in") {
			passed++
		}
		if passed == 2 {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	out, err := agentCmd(t, "resume", storage).CombinedOutput()
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	m.passedOnce(t, names)
	if st := m.status(t); st != "Ready" {
		t.Errorf("machine: %s\n%s", st, out)
	}
}

// TestAgentFloodAgainstRegion prints 1 GiB through a script; the agent's memory stays small
// and the region stores the head and tail of the output.
func TestAgentFloodAgainstRegion(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GiB flood skipped in -short")
	}
	agentDir, _ := regiontest.AgentDir(t)
	r := regiontest.Start(t, storetest.SQLite(t), "--agent-dir", agentDir)
	m := readyMachine(t, r, "chatty")
	m.offer(t, script("t-flood", "", "head -c 1073741824 /dev/zero | tr '\\0' 'x'; echo; echo the end"))
	storage := t.TempDir()
	cmd := agentCmd(t, "run", "--config", m.creds, storage)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var hwm int64 // the agent's own peak RSS, sampled until it exits
	for waiting := true; waiting; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("agent: %v\n%s", err, out.String())
			}
			waiting = false
		case <-time.After(20 * time.Millisecond):
			if kb := vmHWM(cmd.Process.Pid); kb > hwm {
				hwm = kb
			}
		}
	}
	t.Logf("1 GiB of output: agent peak RSS (VmHWM) %d KiB", hwm)
	if hwm == 0 || hwm > 64*1000 {
		t.Errorf("agent peak RSS %d KiB; want < 64 MB", hwm)
	}
	res := m.results(t, "current-testing")["t-flood"]
	stdout := decode(t, res["stdout"])
	if res["status_name"] != "Passed" || len(stdout) > 16<<20 || !strings.HasSuffix(stdout, "the end\n") || !strings.HasPrefix(stdout, "xxxx") {
		t.Errorf("t-flood: %v, %d bytes stored, tail %q", res["status_name"], len(stdout), stdout[max(0, len(stdout)-20):])
	}
}
