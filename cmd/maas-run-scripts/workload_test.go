package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"maasgo/agent"
	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// These tests play the user guide's "machines already running a workload": the real agent
// binary (through the region's launcher where the guide downloads it) against the real region
// on loopback, on this very machine.

// workloadRegion starts a region that serves this build of the agent on loopback.
func workloadRegion(t *testing.T) *regiontest.Region {
	t.Helper()
	dir, _ := regiontest.AgentDir(t)
	return regiontest.Start(t, storetest.SQLite(t), "--agent-dir", dir)
}

// seedRegion starts a region like workloadRegion, listening on port 5240 of a loopback
// address of its own (127.x.y.z; the whole of 127/8 is loopback), so the guide's URLs, which
// name port 5240, work as written. It returns the region, that address (the guide's
// $MAAS_IP) and the port: 5240, or another when a region listens on 5240 of every address
// (`make run` on this machine).
func seedRegion(t *testing.T) (r *regiontest.Region, ip, port string) {
	t.Helper()
	dir, _ := regiontest.AgentDir(t)
	ip = fmt.Sprintf("127.%d.%d.%d", 1+rand.IntN(250), rand.IntN(256), 1+rand.IntN(250))
	port = "5240"
	if ln, err := net.Listen("tcp", ip+":5240"); err != nil {
		t.Logf("port 5240 is taken (%v), by `make run` perhaps: the guide's commands run with another port", err)
		port = "0"
	} else {
		ln.Close()
	}
	r = regiontest.StartListening(t, storetest.SQLite(t), ip+":"+port, "--agent-dir", dir)
	u, err := url.Parse(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	return r, ip, u.Port()
}

// shell runs a command line with sh in dir and returns its output and exit status.
func shell(t *testing.T, dir string, env []string, line string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	t.Logf("$ %s\n%s%s(exit %d)", line, o.String(), e.String(), code)
	return o.String(), e.String(), code
}

// agentBin runs the agent binary with args in dir.
func agentBin(t *testing.T, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	line := shellQuote(regiontest.Build(t, "maasgo/cmd/maas-run-scripts"))
	for _, a := range args {
		line += " " + shellQuote(a)
	}
	return shell(t, dir, env, line)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// machineNamed reads the one machine with that hostname.
func machineNamed(t *testing.T, r *regiontest.Region, hostname string) map[string]any {
	t.Helper()
	ms := r.Client().Must(t, 200, "GET", "api/2.0/machines/", url.Values{"hostname": {hostname}}).([]any)
	if len(ms) != 1 {
		t.Fatalf("%d machines named %s; want 1", len(ms), hostname)
	}
	return ms[0].(map[string]any)
}

// currentResults reads a machine's current commissioning results by name.
func currentResults(t *testing.T, r *regiontest.Region, id string) map[string]map[string]any {
	t.Helper()
	s := r.Client().Must(t, 200, "GET", "api/2.0/nodes/"+id+"/results/current-commissioning/", url.Values{"include_output": {"true"}}).(map[string]any)
	out := map[string]map[string]any{}
	for _, x := range s["results"].([]any) {
		res := x.(map[string]any)
		out[res["name"].(string)] = res
	}
	return out
}

// deployInfo are the built-in scripts report-results runs.
var deployInfo = []string{"20-maas-03-machine-resources", "50-maas-01-commissioning", "maas-list-modaliases",
	"maas-lshw", "maas-serial-ports", "maas-support-info"}

func readSys(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// checkLiveHardware compares the machine the region shows with the running machine's own
// views: /proc/cpuinfo, /proc/meminfo, /sys/devices/system/node, /sys/block and
// /sys/class/net.
func checkLiveHardware(t *testing.T, m map[string]any) {
	t.Helper()
	cpuinfo := readSys(t, "/proc/cpuinfo")
	cpus := 0
	for _, l := range strings.Split(cpuinfo, "\n") {
		if k, _, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "processor" {
			cpus++
		}
	}
	if got := int(m["cpu_count"].(float64)); got != cpus {
		t.Errorf("cpu_count %d; /proc/cpuinfo lists %d processors", got, cpus)
	}

	var memTotalKiB int64
	for _, l := range strings.Split(readSys(t, "/proc/meminfo"), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
			memTotalKiB, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	// The inventory counts installed memory, which is MemTotal plus what the kernel keeps
	// for itself (as collectors/live_test.go allows).
	lo, hi := memTotalKiB/1024, memTotalKiB/1024+memTotalKiB/1024/4+512
	if got := int64(m["memory"].(float64)); got < lo || got > hi {
		t.Errorf("memory %d MiB; MemTotal is %d MiB (want %d–%d)", got, lo, lo, hi)
	}

	nodes, _ := filepath.Glob("/sys/devices/system/node/node[0-9]*")
	if len(nodes) == 0 {
		nodes = []string{"node0"}
	}
	if got := len(m["numanode_set"].([]any)); got != len(nodes) {
		t.Errorf("%d NUMA nodes; /sys/devices/system/node has %d", got, len(nodes))
	}

	disks := map[string]int64{}
	for _, d := range m["physicalblockdevice_set"].([]any) {
		disk := d.(map[string]any)
		disks[disk["name"].(string)] = int64(disk["size"].(float64))
	}
	ents, err := os.ReadDir("/sys/block")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	for _, e := range ents {
		if _, err := os.Stat("/sys/block/" + e.Name() + "/device"); err != nil {
			continue
		}
		sectors, _ := strconv.ParseInt(readSys(t, "/sys/block/"+e.Name()+"/size"), 10, 64)
		if ro := readSys(t, "/sys/block/"+e.Name()+"/removable"); sectors == 0 && ro == "1" {
			continue // an empty removable drive (a CD-ROM without a disc)
		}
		want[e.Name()] = sectors * 512
	}
	for name, size := range want {
		if got, ok := disks[name]; !ok || got != size {
			t.Errorf("disk %s: region has %d bytes (listed %v); sysfs says %d", name, got, ok, size)
		}
	}
	for name := range disks {
		if _, ok := want[name]; !ok {
			t.Errorf("the region lists disk %s, which /sys/block does not have as a device", name)
		}
	}
	if len(want) == 0 {
		t.Log("this machine has no disk with a device in /sys/block; nothing to compare")
	}

	ifaces := map[string]map[string]any{}
	for _, i := range m["interface_set"].([]any) {
		iface := i.(map[string]any)
		ifaces[iface["name"].(string)] = iface
	}
	nets, err := os.ReadDir("/sys/class/net")
	if err != nil {
		t.Fatal(err)
	}
	physical := 0
	for _, e := range nets {
		dir := "/sys/class/net/" + e.Name()
		if _, err := os.Stat(dir + "/device"); err != nil || readSys(t, dir+"/type") != "1" {
			continue
		}
		physical++
		iface, ok := ifaces[e.Name()]
		if !ok {
			t.Errorf("interface %s is missing from the region", e.Name())
			continue
		}
		if mac := readSys(t, dir+"/address"); iface["mac_address"] != mac {
			t.Errorf("%s: MAC %v; sysfs says %s", e.Name(), iface["mac_address"], mac)
		}
		up := readSys(t, dir+"/operstate") == "up" && readSys(t, dir+"/carrier") == "1"
		if iface["link_connected"] != up {
			t.Errorf("%s: link_connected %v; sysfs says up=%v", e.Name(), iface["link_connected"], up)
		}
		if speed, err := strconv.ParseInt(readSys(t, dir+"/speed"), 10, 64); err == nil && speed > 0 && up {
			if got := int64(iface["link_speed"].(float64)); got != speed {
				t.Errorf("%s: link_speed %d; sysfs says %d Mb/s", e.Name(), got, speed)
			}
		}
	}
	if physical == 0 {
		t.Log("this machine has no physical network interface; nothing to compare")
	}
}

// TestSeedRegisterAndReport runs the user guide's commands for a machine already running a
// workload, as written, on this machine: fetch the launcher, register the machine, report its
// hardware. The region then shows this machine's CPUs, NUMA nodes, memory, disks and
// interfaces, every deploy-info result passed, and the machine still deployed.
func TestSeedRegisterAndReport(t *testing.T) {
	r, ip, port := seedRegion(t)
	work := t.TempDir()
	env := []string{"MAAS_IP=" + ip, "MAAS_API_TOKEN=" + r.Admin.String(), "MAAS_RUN_SCRIPTS_STATE_DIR=" + t.TempDir()}
	fetch := "wget http://$MAAS_IP:5240/MAAS/maas-run-scripts"
	if _, err := exec.LookPath("wget"); err != nil {
		t.Log("wget is missing: fetching the launcher with curl instead")
		fetch = "curl -fsSO http://$MAAS_IP:5240/MAAS/maas-run-scripts"
	}
	for _, line := range []string{
		fetch,
		"chmod 755 maas-run-scripts",
		"./maas-run-scripts register-machine --hostname mymachine http://$MAAS_IP:5240/MAAS $MAAS_API_TOKEN",
		"./maas-run-scripts report-results --config mymachine-creds.yaml",
	} {
		line = strings.ReplaceAll(line, ":5240/", ":"+port+"/")
		if _, _, code := shell(t, work, env, line); code != 0 {
			t.Fatalf("%s: exit %d", line, code)
		}
	}

	m := machineNamed(t, r, "mymachine")
	id := m["system_id"].(string)
	if m["status_name"] != "Deployed" {
		t.Errorf("status %v; the machine must stay Deployed", m["status_name"])
	}
	uname, _ := agent.UnameMachine()
	arch, _ := wire.MachineArch(uname)
	if m["architecture"] != arch+"/generic" {
		t.Errorf("architecture %v; uname -m says %s (%s)", m["architecture"], uname, arch)
	}
	checkLiveHardware(t, m)

	fi, err := os.Stat(filepath.Join(work, "mymachine-creds.yaml"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("creds file: %v %v", fi, err)
	}
	data, _ := os.ReadFile(filepath.Join(work, "mymachine-creds.yaml"))
	creds, err := agent.ParseCreds(data)
	if err != nil || creds.Endpoint != r.URL+"/metadata/status/"+id || creds.TokenSecret == "" {
		t.Errorf("creds file %q: %+v %v", data, creds, err)
	}

	res := currentResults(t, r, id)
	for _, name := range deployInfo {
		x, ok := res[name]
		if !ok {
			t.Errorf("no result of %s", name)
			continue
		}
		if x["status_name"] != "Passed" || x["exit_status"] != 0.0 || x["started"] == nil || x["ended"] == nil {
			t.Errorf("%s: %v, exit %v, %v–%v", name, x["status_name"], x["exit_status"], x["started"], x["ended"])
		}
	}

	// Reporting again (the guide's "update hardware information") works on the same machine.
	if _, _, code := shell(t, work, env, "./maas-run-scripts report-results --config mymachine-creds.yaml"); code != 0 {
		t.Fatalf("second report: exit %d", code)
	}
	if m := machineNamed(t, r, "mymachine"); m["status_name"] != "Deployed" {
		t.Errorf("after the second report: %v", m["status_name"])
	}
}

// pathWithout makes a directory of links to every program on PATH except those named: the
// PATH of a machine that lacks them.
func pathWithout(t *testing.T, missing ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range filepath.SplitList("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") {
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if slices.Contains(missing, e.Name()) {
				continue
			}
			if _, err := os.Lstat(filepath.Join(dir, e.Name())); err == nil {
				continue
			}
			if err := os.Symlink(filepath.Join(d, e.Name()), filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// TestReportResultsFailingScript reports a machine created through the API as the guide
// shows (machines create deployed=true …), with credentials from get-machine-token, on a
// machine without sort(1): maas-list-modaliases and maas-serial-ports end their pipelines
// with sort, so the shell answers 127 (command not found). The agent exits non-zero, the
// region shows both results failed with exit status 127 and their stderr, the other results
// passed (the hardware is there), and the machine is still deployed.
func TestReportResultsFailingScript(t *testing.T) {
	r := workloadRegion(t)
	admin := r.Client()
	m := admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"deployed": {"true"}, "hostname": {"mymachine"},
		"architecture": {"amd64"}, "mac_addresses": {"00:16:3e:df:35:bb"}, "power_type": {"manual"}}).(map[string]any)
	id := m["system_id"].(string)
	work := t.TempDir()
	if _, _, code := agentBin(t, work, nil, "get-machine-token", r.URL, r.Admin.String(), id, "mymachine-creds.yaml"); code != 0 {
		t.Fatalf("get-machine-token: exit %d", code)
	}
	// "-" prints the file, also when standard output is a file (upstream writes a file named
	// "<stdout>" then).
	if _, _, code := shell(t, work, nil, shellQuote(regiontest.Build(t, "maasgo/cmd/maas-run-scripts"))+
		" get-machine-token "+r.URL+" "+r.Admin.String()+" "+id+" - > stdout.yaml"); code != 0 {
		t.Fatalf("get-machine-token -: exit %d", code)
	}
	a, _ := os.ReadFile(filepath.Join(work, "mymachine-creds.yaml"))
	b, _ := os.ReadFile(filepath.Join(work, "stdout.yaml"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("file %q and stdout %q differ", a, b)
	}
	if _, err := os.Stat(filepath.Join(work, "<stdout>")); err == nil {
		t.Errorf("a file named <stdout> was written")
	}

	env := []string{"PATH=" + pathWithout(t, "sort")}
	stdout, stderr, code := agentBin(t, work, env, "report-results", "--config", "mymachine-creds.yaml", "--storage-dir", t.TempDir())
	if code == 0 || !strings.Contains(stderr, "scripts failed: 2 of 7") {
		t.Errorf("exit %d, stderr %q; want a failure naming 2 of 7 scripts", code, stderr)
	}
	for _, name := range []string{"maas-list-modaliases", "maas-serial-ports"} {
		if !strings.Contains(stdout, name+" ... failed (exit 127)") {
			t.Errorf("the progress does not show %s failing with 127", name)
		}
	}
	res := currentResults(t, r, id)
	for _, name := range deployInfo {
		x := res[name]
		want, exit := "Passed", 0.0
		if name == "maas-list-modaliases" || name == "maas-serial-ports" {
			want, exit = "Failed", 127
			if errOut := decode(t, x["stderr"]); !strings.Contains(errOut, "sort") {
				t.Errorf("%s stderr %q does not name the missing sort", name, errOut)
			}
		}
		if x["status_name"] != want || x["exit_status"] != exit {
			t.Errorf("%s: %v, exit %v; want %s, exit %v", name, x["status_name"], x["exit_status"], want, exit)
		}
	}
	m = machineStatusOf(t, r, id)
	if m["status_name"] != "Deployed" || m["cpu_count"].(float64) < 1 || len(m["physicalblockdevice_set"].([]any)) == 0 {
		t.Errorf("after the report: %v, %v CPUs, %d disks", m["status_name"], m["cpu_count"], len(m["physicalblockdevice_set"].([]any)))
	}
}

func machineStatusOf(t *testing.T, r *regiontest.Region, id string) map[string]any {
	t.Helper()
	return r.Client().Must(t, 200, "GET", "api/2.0/machines/"+id+"/", nil).(map[string]any)
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestWorkloadBadInputs checks that each mistake gives one line saying what is wrong and a
// non-zero exit status, and that a refused registration creates no machine.
func TestWorkloadBadInputs(t *testing.T) {
	r := workloadRegion(t)
	admin := r.Client()
	key := r.Admin.String()
	work := t.TempDir()
	if _, _, code := agentBin(t, work, nil, "register-machine", "--hostname", "mymachine", "--mac", "52:54:00:00:00:01", r.URL, key); code != 0 {
		t.Fatalf("register-machine: exit %d", code)
	}
	id := machineNamed(t, r, "mymachine")["system_id"].(string)
	gone := admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"deployed": {"true"}, "hostname": {"gone"}}).(map[string]any)["system_id"].(string)
	if _, _, code := agentBin(t, work, nil, "get-machine-token", r.URL, key, gone, "gone-creds.yaml"); code != 0 {
		t.Fatal("get-machine-token gone")
	}
	admin.Must(t, 204, "DELETE", "api/2.0/machines/"+gone+"/", nil)
	os.WriteFile(filepath.Join(work, "bad.yaml"), []byte("reporting:\n  maas: [\n"), 0o600)
	os.WriteFile(filepath.Join(work, "empty.yaml"), []byte("reporting:\n  maas:\n    endpoint: "+r.URL+"/metadata/status/x\n"), 0o600)
	notDir := filepath.Join(work, "file")
	os.WriteFile(notDir, nil, 0o600)
	closed := "http://" + closedPort(t) + "/MAAS"
	wrongKey := "aaaaaaaaaaaaaaaaaa:bbbbbbbbbbbbbbbbbb:cccccccccccccccccccccccccccccccc"

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"wrong API key", []string{"register-machine", "--hostname", "x1", "--mac", "52:54:00:00:00:02", r.URL, wrongKey},
			[]string{"machine creation failed", "the region refused the API key (401)", "Invalid access token"}},
		{"malformed API key", []string{"register-machine", r.URL, "nokey"}, []string{"invalid API key"}},
		{"unreachable region", []string{"register-machine", "--hostname", "x2", closed, key},
			[]string{"cannot reach the region at " + closed, "connection refused"}},
		{"not a URL", []string{"register-machine", "--hostname", "x3", "10.0.0.2:5240", key}, []string{`invalid MAAS URL "10.0.0.2:5240"`}},
		{"unwritable creds path", []string{"register-machine", "--hostname", "x4", "--base-dir", filepath.Join(notDir, "sub"), r.URL, key},
			[]string{"cannot write the credentials file", "not a directory"}},
		{"hostname taken", []string{"register-machine", "--hostname", "mymachine", "--mac", "52:54:00:00:00:03", r.URL, key},
			[]string{"hostname: Node with this Hostname already exists.", "mymachine is already machine " + id, "get-machine-token"}},
		{"MAC taken", []string{"register-machine", "--hostname", "x5", "--mac", "52:54:00:00:00:01", r.URL, key},
			[]string{"mac_addresses: MAC address 52:54:00:00:00:01 already in use on mymachine."}},
		{"token: wrong API key", []string{"get-machine-token", r.URL, wrongKey, id, "t.yaml"}, []string{"failed getting machine credentials", "refused the API key"}},
		{"token: unknown machine", []string{"get-machine-token", r.URL, key, "nosuch", "-"}, []string{`no machine with system id "nosuch"`}},
		{"token: unwritable path", []string{"get-machine-token", r.URL, key, id, filepath.Join(notDir, "t.yaml")},
			[]string{"cannot write the credentials file", "not a directory"}},
		{"token: unreachable region", []string{"get-machine-token", closed, key, id, "-"}, []string{"cannot reach the region", "connection refused"}},
		{"report: malformed creds", []string{"report-results", "--config", "bad.yaml"}, []string{"the credentials file bad.yaml is malformed", "invalid YAML"}},
		{"report: creds without a token", []string{"report-results", "--config", "empty.yaml"}, []string{"no machine credentials", "empty.yaml lacks"}},
		{"report: missing creds file", []string{"report-results", "--config", "nosuch.yaml"}, []string{"read the credentials file", "no such file"}},
		{"report: no credentials at all", []string{"report-results"}, []string{"no machine credentials: give --config"}},
		{"report: malformed token", []string{"report-results", "--machine-token", "a:b", "--metadata-url", r.URL + "/metadata/"}, []string{"--machine-token: malformed credentials"}},
		{"report: deleted machine", []string{"report-results", "--config", "gone-creds.yaml"},
			[]string{"the region refused the machine's credentials", "401: Invalid access token", "get-machine-token"}},
	}
	machines := len(admin.Must(t, 200, "GET", "api/2.0/machines/", nil).([]any))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := []string{"MAAS_RUN_SCRIPTS_STATE_DIR=" + t.TempDir()}
			start := time.Now()
			_, stderr, code := agentBin(t, work, env, tt.args...)
			if code == 0 {
				t.Errorf("exit 0; want a failure")
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "Error: ") {
				t.Errorf("stderr %q; want one Error: line", stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
	if n := len(admin.Must(t, 200, "GET", "api/2.0/machines/", nil).([]any)); n != machines {
		t.Errorf("%d machines after the refused registrations; want %d", n, machines)
	}
	if _, err := os.Stat(filepath.Join(work, "t.yaml")); err == nil {
		t.Errorf("a refused get-machine-token wrote its file")
	}

	// A region that cannot be reached is a transient failure for report-results: it retries
	// until --give-up-after, then says so.
	creds := agent.NewCreds(closed, id, r.Admin)
	data, _ := creds.Marshal()
	os.WriteFile(filepath.Join(work, "closed.yaml"), data, 0o600)
	_, stderr, code := agentBin(t, work, []string{"MAAS_RUN_SCRIPTS_STATE_DIR=" + t.TempDir()},
		"report-results", "--config", "closed.yaml", "--give-up-after", "2s")
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if last := lines[len(lines)-1]; code == 0 || !strings.Contains(last, "download scripts: gave up after 2s") || !strings.Contains(last, "connection refused") {
		t.Errorf("unreachable report: exit %d, last line %q", code, last)
	}
}
