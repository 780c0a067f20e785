package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ulikunitz/xz"

	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
	"maasgo/wire/evidence"
)

var update = flag.Bool("update", false, "rewrite the golden machine files")

// volatile are the machine fields that differ from run to run.
var volatile = map[string]bool{"system_id": true, "hostname": true, "fqdn": true, "resource_uri": true,
	"status_message": true, "current_commissioning_result_id": true, "current_testing_result_id": true,
	"current_installation_result_id": true, "id": true, "last_sync": true, "boot_disk": true, "boot_interface": true}

// normalize drops what changes between runs: ids, names, timestamps.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, val := range x {
			if volatile[k] {
				continue
			}
			out[k] = normalize(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = normalize(val)
		}
		return out
	}
	return v
}

// TestCommissionFixtures commissions a machine through the real agent and region for each
// fixture machine: the agent runs every built-in commissioning script for real inside a
// network namespace of the test's own, reading the fixture tree with --machine-root, and the
// region's machine read must match the golden machine JSON (rewritten with -update).
func TestCommissionFixtures(t *testing.T) {
	ns := regiontest.NewNetns(t)
	agentDir, _ := regiontest.AgentDir(t)
	r := regiontest.StartListening(t, storetest.SQLite(t), ns.HostIP+":0", "--agent-dir", agentDir)
	admin := r.Client()
	fixtures, err := filepath.Glob("../../testdata/machines/*/root")
	if err != nil || len(fixtures) < 3 {
		t.Fatalf("fixtures: %v %v", fixtures, err)
	}
	for _, root := range fixtures {
		dir := filepath.Dir(root)
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			abs, _ := filepath.Abs(root)
			m := admin.Must(t, 200, "POST", "api/2.0/machines/", map[string][]string{"hostname": {name}, "architecture": {"amd64"}, "commission": {"false"}}).(map[string]any)
			id := m["system_id"].(string)
			admin.Must(t, 200, "POST", "api/2.0/machines/"+id+"/", map[string][]string{"op": {"commission"}, "testing_scripts": {"none"}})
			creds := writeCreds(t, r, id)
			bin := regiontest.Build(t, "maasgo/cmd/maas-run-scripts")
			cmd := ns.Command(bin, "run", "--config", creds, "--machine-root", abs, t.TempDir())
			cmd.Env = append(os.Environ(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("agent in the namespace: %v\n%s", err, out)
			}
			got := admin.Must(t, 200, "GET", "api/2.0/machines/"+id+"/", nil).(map[string]any)
			if got["status_name"] != "Ready" {
				t.Fatalf("after commissioning: %v\n%s", got["status_name"], out)
			}
			sortSets(got)
			norm := normalize(got)
			golden := filepath.Join(dir, "machine.json")
			if *update {
				b, _ := json.MarshalIndent(norm, "", "  ")
				if err := os.WriteFile(golden, append(b, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("golden machine: %v (run go test ./cmd/maas-run-scripts -run TestCommissionFixtures -update)", err)
			}
			var want any
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, norm); diff != "" {
				t.Errorf("machine %s differs from %s (-want +got):\n%s", name, golden, diff)
			}
			// The inventory the region used is the fixture's, not this machine's.
			inv, _ := os.ReadFile(filepath.Join(dir, "inventory.json"))
			var facts struct {
				CPUCount float64 `json:"cpu_count"`
				Memory   float64 `json:"memory"`
			}
			json.Unmarshal(inv, &facts)
			if got["cpu_count"] != facts.CPUCount || got["memory"] != facts.Memory {
				t.Errorf("cpu_count %v memory %v; the fixture's inventory says %v and %v", got["cpu_count"], got["memory"], facts.CPUCount, facts.Memory)
			}
			// The commissioning's evidence bundle verifies against the region's key and holds
			// the hardware snapshot the agent sent.
			req, _ := http.NewRequest("GET", r.URL+"/api/2.0/nodes/"+id+"/results/?op=export", nil)
			bundle := admin.Send(t, req)
			if bundle.Status != 200 {
				t.Fatalf("export: %d %s", bundle.Status, bundle.Body)
			}
			key := admin.Must(t, 200, "GET", "api/2.0/nodes/"+id+"/results/", map[string][]string{"op": {"export_key"}}).(map[string]any)
			pub, err := evidence.ParseKey(key["public_key"].(string))
			if err != nil {
				t.Fatal(err)
			}
			xr, err := xz.NewReader(bytes.NewReader(bundle.Body))
			if err != nil {
				t.Fatal(err)
			}
			v, err := evidence.Verify(xr, pub)
			if err != nil {
				t.Fatalf("the bundle does not verify: %v", err)
			}
			snapshot := slices.ContainsFunc(v.Manifest.Results, func(r evidence.Result) bool {
				return r.Name == "50-maas-02-hardware-snapshot.tar.xz" && r.Status == "Passed" && len(r.Files) > 0
			})
			if !snapshot {
				t.Error("the bundle has no passed hardware snapshot")
			}
			t.Logf("evidence bundle of %s: %d bytes, %d results, %d files", name, len(bundle.Body), len(v.Manifest.Results), len(v.Manifest.Files))
		})
	}
}

// sortSets orders lists whose order the region does not promise.
func sortSets(m map[string]any) {
	byName := func(key string) {
		l, _ := m[key].([]any)
		sort.SliceStable(l, func(i, j int) bool {
			a, _ := l[i].(map[string]any)
			b, _ := l[j].(map[string]any)
			return strings.Compare(a["name"].(string), b["name"].(string)) < 0
		})
	}
	for _, k := range []string{"interface_set", "blockdevice_set", "physicalblockdevice_set"} {
		byName(k)
	}
	if tags, ok := m["tag_names"].([]any); ok {
		sort.Slice(tags, func(i, j int) bool { return tags[i].(string) < tags[j].(string) })
	}
}
