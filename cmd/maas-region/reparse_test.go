package main

import (
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"maasgo/collectors/schema"
	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
)

// TestReparse: a machine whose inventory was read by an older parser (here: one that missed
// a disk) gets the disk from its hardware snapshot on op=reparse, recorded as a change the
// parser caused; a second re-parse changes nothing; and the next commissioning, with the same
// hardware, reports no hardware change. maas-region reparse does the same from the command line.
func TestReparse(t *testing.T) {
	agent := regiontest.Build(t, "maasgo/cmd/maas-run-scripts")
	dir := t.TempDir()
	snapFile := filepath.Join(dir, "snap.tar.xz")
	cmd := exec.Command(agent, "machine-resources", "--root", "../../testdata/machines/two-socket-server/root", "--snapshot-out", snapFile)
	full, err := cmd.Output()
	if err != nil {
		t.Fatalf("machine-resources: %v", err)
	}
	snapshot, err := os.ReadFile(snapFile)
	if err != nil {
		t.Fatal(err)
	}
	// What an older parser made of the same machine: no sdb.
	var doc schema.Document
	if err := json.Unmarshal(full, &doc); err != nil {
		t.Fatal(err)
	}
	doc.Resources.Storage.Disks = slices.DeleteFunc(doc.Resources.Storage.Disks, func(d schema.StorageDisk) bool { return d.ID == "sdb" })
	old, _ := json.Marshal(doc)
	bin := regiontest.Build(t, "maasgo/cmd/maas-region")

	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			r := regiontest.Start(t, e)
			admin := r.Client()
			disks := func(id string) int {
				return len(machineStatus(t, admin, id)["physicalblockdevice_set"].([]any))
			}
			id, mc, _ := commissioned(t, r, "reparsed", url.Values{"testing_scripts": {"none"}})
			commissionWith(t, mc, "FAILED", old, snapshot)
			if n := disks(id); n != 2 {
				t.Fatalf("%d disks from the older parser's inventory, want 2", n)
			}
			rep := admin.Must(t, 200, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"reparse"}}).(map[string]any)
			changes, _ := rep["changes"].([]any)
			if rep["applied"] != true || len(changes) != 1 || changes[0].(map[string]any)["item"] != "sdb (ZC1A2B3C)" || changes[0].(map[string]any)["action"] != "added" {
				t.Fatalf("re-parse: %v", rep)
			}
			if n := disks(id); n != 3 {
				t.Errorf("%d disks after the re-parse, want 3", n)
			}
			hc := machineStatus(t, admin, id)["hardware_changes"].(map[string]any)
			if hc["cause"] != "parser" || len(hc["changes"].([]any)) != 1 {
				t.Errorf("hardware_changes after the re-parse: %v", hc)
			}
			again := admin.Must(t, 200, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"reparse"}}).(map[string]any)
			if again["applied"] != false || len(again["changes"].([]any)) != 0 {
				t.Errorf("second re-parse: %v", again)
			}
			// The next commissioning sends what the current parser reads: no hardware changed.
			admin.Must(t, 200, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"commission"}, "testing_scripts": {"none"}})
			commissionWith(t, mc, "FAILED", full, snapshot)
			hc = machineStatus(t, admin, id)["hardware_changes"].(map[string]any)
			if hc["cause"] != "hardware" || len(hc["changes"].([]any)) != 0 {
				t.Errorf("hardware_changes after recommissioning the same hardware: %v", hc)
			}

			// The command line, on a machine with no snapshot.
			bare := admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"hostname": {"bare"}, "architecture": {"amd64"}, "commission": {"false"}}).(map[string]any)
			args := []string{"reparse", "--state-dir", e.StateDir, id, bare["system_id"].(string)}
			if e.DSN != "" {
				args = append(args, "--database", e.DSN)
			}
			out, err := exec.Command(bin, args...).CombinedOutput()
			if err != nil || !strings.Contains(string(out), id+": unchanged") || !strings.Contains(string(out), "not re-parsed: the machine was never commissioned") {
				t.Errorf("maas-region reparse: %v\n%s", err, out)
			}
		})
	}
}
