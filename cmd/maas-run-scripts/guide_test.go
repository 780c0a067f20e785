package main

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"maasgo/agent"
	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// TestGuideDebugCommands runs the user guide's debug commands ("How to run all scripts
// manually", how-to-deploy-machines) as written, shell globs included, on what the real
// commissioning user data of a real region leaves behind: the runner finds the machine's
// credentials without --config, --no-download reports, --no-send downloads again, runs and
// sends nothing, and the send command it prints delivers the kept results as printed.
func TestGuideDebugCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the region, the user data and the agent as processes")
	}
	agentDir, _ := regiontest.AgentDir(t)
	r := regiontest.Start(t, storetest.SQLite(t), "--agent-dir", agentDir)
	m := readyMachine(t, r, "guide")
	work := t.TempDir()
	machineTmp := filepath.Join(work, "tmp") // the machine's /tmp (TMPDIR)
	if err := os.Mkdir(machineTmp, 0o1777); err != nil {
		t.Fatal(err)
	}
	runsFile := filepath.Join(work, "runs") // the script counts its runs here
	env := append(os.Environ(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR="+machineTmp, "GUIDE_RUNS="+runsFile)
	m.offer(t, script("t-guide", "", `echo run >> "$GUIDE_RUNS"; echo guided`))
	runs := func() int {
		b, _ := os.ReadFile(runsFile)
		return strings.Count(string(b), "run\n")
	}
	// machinePosts counts the requests that send something to the region (signals, status
	// events, enlistment), and scriptGets the downloads of the scripts, from the region's log.
	machinePosts := func() int {
		time.Sleep(200 * time.Millisecond) // the region's log lines come through a pipe
		n := 0
		for _, l := range strings.Split(r.Logs(), "\n") {
			if strings.Contains(l, "method=POST") && (strings.Contains(l, "/metadata/") || strings.Contains(l, "path=/MAAS/api/2.0/machines/ ")) {
				n++
			}
		}
		return n
	}
	scriptGets := func() int { return strings.Count(r.Logs(), "maas-scripts") }
	retest := func() {
		t.Helper()
		r.Client().Must(t, 200, "POST", "api/2.0/machines/"+m.id+"/", url.Values{"op": {"test"}, "testing_scripts": {"t-guide"}})
	}
	result := func() string {
		t.Helper()
		return m.results(t, "current-testing")["t-guide"]["status_name"].(string)
	}

	// The machine boots and runs the user data the region serves it.
	tok := r.Client().Must(t, 200, "GET", "api/2.0/machines/"+m.id+"/", url.Values{"op": {"get_token"}}).(map[string]any)
	mc := &regiontest.Client{Creds: wire.Credentials{ConsumerKey: tok["consumer_key"].(string), TokenKey: tok["token_key"].(string), TokenSecret: tok["token_secret"].(string)}}
	req, _ := http.NewRequest("GET", r.URL+"/metadata/latest/user-data", nil)
	ud := mc.Send(t, req)
	if ud.Status != 200 || !strings.HasPrefix(string(ud.Body), "#!/bin/sh") {
		t.Fatalf("user data: %d %.200s", ud.Status, ud.Body)
	}
	udFile := filepath.Join(work, "user-data")
	if err := os.WriteFile(udFile, ud.Body, 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := machineShell(t, env, userDataCommand(udFile)...)
	if err != nil {
		t.Fatalf("user data: %v\n%s", err, out)
	}
	if st := m.status(t); st != "Ready" || result() != "Passed" || runs() != 1 || m.stores(t, "t-guide") != 1 {
		t.Fatalf("after the user data: machine %s, t-guide %s, %d runs, stored %d times\n%s", st, result(), runs(), m.stores(t, "t-guide"), out)
	}
	dirs, _ := filepath.Glob(filepath.Join(machineTmp, "user_data.sh.*"))
	if len(dirs) != 1 {
		t.Fatalf("the user data left %q in the machine's /tmp; want one user_data.sh.XXXXXX", dirs)
	}
	dir := dirs[0]
	if fi, err := os.Stat(filepath.Join(dir, agent.CredsFileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the user data's credentials: %v %v", fi, err)
	}
	bin := filepath.Join(dir, "bin", "maas-run-remote-scripts")

	// "to run all the scripts again without downloading again from MAAS"
	retest()
	posts := machinePosts()
	out, err = machineShell(t, env, "sh", "-c", machineTmp+"/user_data.sh.*/bin/maas-run-remote-scripts --no-download "+machineTmp+"/user_data.sh.*")
	if err != nil {
		t.Fatalf("--no-download: %v\n%s", err, out)
	}
	if st := m.status(t); st != "Ready" || result() != "Passed" || runs() != 2 || m.stores(t, "t-guide") != 2 || machinePosts() == posts {
		t.Fatalf("after --no-download: machine %s, t-guide %s, %d runs, stored %d times\n%s", st, result(), runs(), m.stores(t, "t-guide"), out)
	}

	// "all the scripts are run again after downloading from MAAS, but no output data is
	// sent to MAAS"
	retest()
	posts, gets := machinePosts(), scriptGets()
	out, err = machineShell(t, env, "sh", "-c", machineTmp+"/user_data.sh.*/bin/maas-run-remote-scripts --no-send "+machineTmp+"/user_data.sh.*")
	if err != nil {
		t.Fatalf("--no-send: %v\n%s", err, out)
	}
	if runs() != 3 {
		t.Errorf("--no-send ran the script %d times in all; want 3\n%s", runs(), out)
	}
	if scriptGets() == gets {
		t.Errorf("--no-send did not download the scripts again\n%s", out)
	}
	if n := machinePosts() - posts; n != 0 {
		t.Errorf("--no-send sent %d requests to the region", n)
	}
	if st := m.status(t); st != "Testing" || result() != "Pending" || m.stores(t, "t-guide") != 2 {
		t.Errorf("after --no-send: machine %s, t-guide %s, stored %d times", st, result(), m.stores(t, "t-guide"))
	}
	// What it keeps names its region.
	id, err := agent.CurrentRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := agent.LoadRun(dir, id); err != nil || !strings.HasPrefix(info.Endpoint.MetadataURL, r.URL+"/metadata/") || !info.NoSend {
		t.Errorf("the kept run: %+v, %v; want the region %s", info, err, r.URL)
	}
	// The send command it prints runs as printed, under the binary's name on the machine.
	match := regexp.MustCompile("`([^`]+ send [^`]+)`").FindStringSubmatch(out)
	if match == nil {
		t.Fatalf("--no-send printed no send command:\n%s", out)
	}
	if send := match[1]; send != bin+" send "+dir {
		t.Errorf("send command %q; want %q", send, bin+" send "+dir)
	}
	out, err = machineShell(t, env, "sh", "-c", match[1])
	if err != nil || !strings.Contains(out, "signals sent") {
		t.Fatalf("%s: %v\n%s", match[1], err, out)
	}
	if st := m.status(t); st != "Ready" || result() != "Passed" || m.stores(t, "t-guide") != 3 || runs() != 3 {
		t.Errorf("after send: machine %s, t-guide %s, stored %d times, %d runs", st, result(), m.stores(t, "t-guide"), runs())
	}
}

// userDataCommand runs the user data file as cloud-init would. As root, it runs in a mount
// namespace of its own with an empty /var/log, so that the machine's cloud-init log it
// appends to is not the test host's.
func userDataCommand(file string) []string {
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("unshare"); err == nil && exec.Command("unshare", "-m", "true").Run() == nil {
			return []string{"unshare", "-m", "sh", "-c", `mount -t tmpfs tmpfs /var/log && exec sh "$0"`, file}
		}
	}
	return []string{"sh", file}
}

// machineShell runs a command line on the "machine" (a process with env) and returns its
// output.
func machineShell(t *testing.T, env []string, argv ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	t.Logf("%s:\n%s", strings.Join(argv, " "), out)
	return string(out), err
}

// Without --config or --url, and with no config where the user data leaves one, the runner
// says where it looked.
func TestRunSaysWhereItLookedForCredentials(t *testing.T) {
	if _, err := os.Stat(agent.DefaultConfigPath); err == nil {
		t.Skipf("%s exists on this host", agent.DefaultConfigPath)
	}
	storage := t.TempDir()
	for _, args := range [][]string{{"run", storage}, {"run", "--no-send", storage}} {
		_, err := execCLI(t, args...)
		if err == nil || !strings.Contains(err.Error(), "no metadata URL") ||
			!strings.Contains(err.Error(), filepath.Join(storage, agent.CredsFileName)) || !strings.Contains(err.Error(), agent.DefaultConfigPath) {
			t.Errorf("%q: %v; want where it looked", args, err)
		}
	}
}
