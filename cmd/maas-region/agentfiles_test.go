package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
)

func get(t *testing.T, u string) *regiontest.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	return (&regiontest.Client{}).Send(t, req)
}

func TestAgentDownloads(t *testing.T) {
	dir, sum := regiontest.AgentDir(t)
	r := regiontest.Start(t, storetest.SQLite(t), "--agent-dir", dir)
	bin := get(t, r.URL+"/maas-run-scripts/amd64")
	h := sha256.Sum256(bin.Body)
	if bin.Status != 200 || hex.EncodeToString(h[:]) != sum || bin.Header.Get("X-Agent-SHA256") != sum {
		t.Fatalf("amd64 agent: %d, %d bytes, header %q", bin.Status, len(bin.Body), bin.Header.Get("X-Agent-SHA256"))
	}
	if mr := get(t, r.URL+"/machine-resources/amd64"); !bytes.Equal(mr.Body, bin.Body) {
		t.Error("machine-resources/amd64 is not the agent")
	}
	if miss := get(t, r.URL+"/maas-run-scripts/arm64"); miss.Status != 404 || !strings.Contains(string(miss.Body), "architecture arm64") {
		t.Errorf("missing arm64 build: %d %s", miss.Status, miss.Body)
	}
	// The launcher, as the user guide fetches it, runs the agent of this machine's architecture.
	l := get(t, r.URL+"/maas-run-scripts")
	if l.Status != 200 || !strings.HasPrefix(string(l.Body), "#!/bin/sh") || !strings.Contains(string(l.Body), sum) {
		t.Fatalf("launcher: %d %s", l.Status, l.Body)
	}
	work := t.TempDir()
	launcher := filepath.Join(work, "maas-run-scripts")
	if err := os.WriteFile(launcher, l.Body, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(launcher, "machine-resources", "--root", "../../testdata/machines/qemu-1g/root").Output()
	if err != nil {
		t.Fatalf("launcher machine-resources: %v", err)
	}
	if !bytes.Contains(out, []byte(`"api_version"`)) {
		t.Errorf("launcher output: %.200s", out)
	}
	if _, err := os.Stat(filepath.Join(work, ".maas-run-scripts-amd64-"+sum)); err != nil {
		t.Errorf("the launcher did not keep the agent beside itself: %v", err)
	}
	// A launcher whose agent the region replaced refuses the new one.
	stale := strings.Replace(string(l.Body), sum, strings.Repeat("0", 64), 1)
	os.WriteFile(launcher, []byte(stale), 0o755)
	cmd := exec.Command(launcher, "--help")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), "SHA-256") {
		t.Errorf("stale launcher: %v %s", err, stderr.String())
	}
}

func TestUserData(t *testing.T) {
	dir, sum := regiontest.AgentDir(t)
	e := storetest.SQLite(t)
	r := regiontest.Start(t, e, "--agent-dir", dir)
	admin := r.Client()
	regionCmd := func(args ...string) (string, error) {
		args = append(args, "--state-dir", e.StateDir, "--agent-dir", dir)
		out, err := exec.Command(regiontest.Build(t, "maasgo/cmd/maas-region"), args...).CombinedOutput()
		return string(out), err
	}
	m := admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"hostname": {"booted"}, "architecture": {"amd64"}}).(map[string]any)
	id := m["system_id"].(string)
	// Without --url, the user data names the URL the region serves at.
	script, err := regionCmd("user-data", id)
	if err != nil {
		t.Fatalf("user-data: %v %s", err, script)
	}
	if !strings.HasPrefix(script, "#!/bin/sh") || !strings.Contains(script, sum) || !strings.Contains(script, r.URL+"/metadata/") {
		t.Errorf("commissioning user data:\n%s", script)
	}
	if out, err := exec.Command("sh", "-n", "-c", script).CombinedOutput(); err != nil {
		t.Errorf("user data is not valid sh: %v %s", err, out)
	}
	// The metadata API serves the same script to the machine.
	mc := newMachineClient(t, r, id)
	req, _ := http.NewRequest("GET", r.URL+"/metadata/latest/user-data", nil)
	if got := mc.do(req); got.Status != 200 || !strings.Contains(string(got.Body), sum) {
		t.Errorf("metadata user-data: %d %.100s", got.Status, got.Body)
	}
	if out, err := regionCmd("user-data", "nosuch"); err == nil || !strings.Contains(out, "nosuch") {
		t.Errorf("unknown machine: %v %s", err, out)
	}

	// Deployment: cloud-config whose command reports the end of the installation.
	admin.Must(t, 200, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"abort"}})
	d := admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"hostname": {"deploying"}, "deployed": {"true"}}).(map[string]any)
	did := d["system_id"].(string)
	admin.Must(t, 200, "POST", "api/2.0/machines/"+did+"/", url.Values{"op": {"release"}})
	admin.Must(t, 200, "POST", "api/2.0/machines/"+did+"/", url.Values{"op": {"deploy"}, "install_kvm": {"True"}})
	cfg, err := regionCmd("user-data", did)
	if err != nil || !strings.HasPrefix(cfg, "#cloud-config") {
		t.Fatalf("deploy user data: %v\n%s", err, cfg)
	}
	var doc struct {
		RunCmd [][]string `yaml:"runcmd"`
	}
	if err := yaml.Unmarshal([]byte(cfg), &doc); err != nil || len(doc.RunCmd) != 1 || doc.RunCmd[0][0] != "sh" {
		t.Fatalf("deploy cloud-config: %v %+v", err, doc)
	}
	if st := machineStatus(t, admin, did); st["status"] != 9.0 {
		t.Fatalf("before the report: %v", st["status_name"])
	}
	if out, err := exec.Command(doc.RunCmd[0][0], doc.RunCmd[0][1:]...).CombinedOutput(); err != nil {
		t.Fatalf("completion report: %v %s", err, out)
	}
	if st := machineStatus(t, admin, did); st["status"] != 6.0 || st["status_name"] != "Deployed" ||
		!strings.Contains(fmt.Sprint(st["tag_names"]), "kvm-host") || st["install_kvm"] != true {
		t.Errorf("after the report: %v, tags %v, install_kvm %v", st["status_name"], st["tag_names"], st["install_kvm"])
	}
}
