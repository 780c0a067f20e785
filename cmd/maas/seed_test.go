package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
)

// TestSeedWalk runs hack/seed-walk.sh, the user guide walked top to bottom with this maas
// binary, against the real region on every database engine, with a machine that runs its
// real user data (and so this build of the agent) inside a network namespace of its own.
//
//	go test -run TestSeedWalk -v ./cmd/maas/
//
// It needs root (the namespace) and jq (the guide's commands use it); it takes a little over
// a minute, most of it waiting for a silent machine to reach node_timeout.
func TestSeedWalk(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the region and waits a minute for node_timeout")
	}
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skip("the seed walk needs jq (apt-get install jq)")
	}
	if os.Geteuid() != 0 {
		t.Skip("the seed walk needs root: the machine runs in a network namespace")
	}
	for _, tool := range []string{"bash", "ip", "unshare", "mount", "curl", "tar", "xz"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the seed walk needs %s", tool)
		}
	}
	script, err := filepath.Abs("../../hack/seed-walk.sh")
	if err != nil {
		t.Fatal(err)
	}
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		if out, err := exec.Command(sc, script).CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", script, err, out)
		}
	}
	bin := t.TempDir()
	for _, pkg := range []string{"maasgo/cmd/maas", "maasgo/cmd/maas-region"} {
		if err := os.Symlink(regiontest.Build(t, pkg), filepath.Join(bin, filepath.Base(pkg))); err != nil {
			t.Fatal(err)
		}
	}
	agentDir, _ := regiontest.AgentDir(t)
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			walk(t, e, script, bin, agentDir)
		})
	}
}

func walk(t *testing.T, e storetest.Engine, script, bin, agentDir string) {
	ns := regiontest.NewNetns(t)
	// Whatever the machine left running (a DHCP client, say) goes before the namespace does.
	t.Cleanup(func() { killNetnsProcesses(t, ns) })
	r := regiontest.StartListening(t, e, ns.HostIP+":0", "--agent-dir", agentDir, "--monitor-interval", "1s")
	home := t.TempDir()
	work := t.TempDir()
	env := []string{
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"LANG=C.UTF-8",
		"PROFILE=admin",
		"MAAS_URL=" + r.URL,
		"MAAS_API_KEY=" + r.Admin.String(),
		"MAAS_NETNS=" + ns.Name,
		"MAAS_AGENT_DIR=" + agentDir,
		"MAAS_REGION_DATABASE=" + e.DSN,
		"MAAS_REGION_STATE_DIR=" + e.StateDir,
		"WORK=" + work,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Env = env
	cmd.Dir = work
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("hack/seed-walk.sh (%s, %s):\n%s", e.Name, time.Since(start).Round(time.Second), out.String())
	if err != nil {
		t.Fatalf("the seed walk failed: %v", err)
	}
}

// killNetnsProcesses kills the processes still running in the namespace.
func killNetnsProcesses(t *testing.T, ns *regiontest.Netns) {
	out, err := exec.Command("ip", "netns", "pids", ns.Name).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
			t.Logf("killing process %d left in namespace %s", pid, ns.Name)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
