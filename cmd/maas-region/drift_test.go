package main

import (
	"encoding/json"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"maasgo/collectors/schema"
	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
)

// TestHardwareChanges: the two-socket server commissioned, then commissioned again with a
// disk pulled, a NIC taken out and a link negotiated down to 1G, shows exactly those changes
// in its hardware_changes, its hardware_changes op and an event.
func TestHardwareChanges(t *testing.T) {
	data, changed := twoSocketChanged(t)
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			reg := regiontest.Start(t, e)
			admin := reg.Client()
			id, mc, _ := commissioned(t, reg, "drifter", url.Values{"testing_scripts": {"none"}})
			commissionWith(t, mc, "FAILED", data, nil)
			if m := machineStatus(t, admin, id); m["hardware_changes"] != nil {
				t.Fatalf("hardware_changes after the first commissioning: %v, want null", m["hardware_changes"])
			}
			none := admin.Must(t, 200, "GET", "api/2.0/machines/"+id+"/", url.Values{"op": {"hardware_changes"}}).(map[string]any)
			if c, ok := none["changes"].([]any); !ok || len(c) != 0 {
				t.Fatalf("op=hardware_changes before a second commissioning: %v", none)
			}
			admin.Must(t, 200, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"commission"}, "testing_scripts": {"none"}})
			commissionWith(t, mc, "FAILED", changed, nil)

			got := admin.Must(t, 200, "GET", "api/2.0/machines/"+id+"/", url.Values{"op": {"hardware_changes"}}).(map[string]any)
			var lines []string
			for _, c := range got["changes"].([]any) {
				c := c.(map[string]any)
				line := c["kind"].(string) + " " + c["action"].(string) + " " + c["item"].(string)
				if f, ok := c["field"].(string); ok {
					line += " " + f + ": " + c["old"].(string) + " -> " + c["new"].(string)
				}
				lines = append(lines, line)
			}
			want := []string{
				"disk removed sdb (ZC1A2B3C)",
				"nic removed enp175s0np0 (b8:3f:d2:00:00:10)",
				"nic changed ens1f1 (3c:fd:fe:00:00:02) link_speed: 25000 Mbit/s -> 1000 Mbit/s of 25000 Mbit/s",
			}
			if strings.Join(lines, "\n") != strings.Join(want, "\n") {
				t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
			}
			if got["script_set_id"] == nil || got["previous_script_set_id"] == nil || got["script_set_id"] == got["previous_script_set_id"] {
				t.Errorf("the changes do not say which commissionings they compare: %v", got)
			}
			m := machineStatus(t, admin, id)
			if hc, ok := m["hardware_changes"].(map[string]any); !ok || len(hc["changes"].([]any)) != 3 {
				t.Errorf("machine hardware_changes: %v", m["hardware_changes"])
			}
			events := admin.Must(t, 200, "GET", "api/2.0/events/", url.Values{"op": {"query"}, "id": {id}, "level": {"WARNING"}}).(map[string]any)
			found := false
			for _, ev := range events["events"].([]any) {
				ev := ev.(map[string]any)
				if ev["type"] == "Hardware changed" && strings.HasPrefix(ev["description"].(string), "3 hardware changes since the previous commissioning: disk sdb (ZC1A2B3C) removed") {
					found = true
				}
			}
			if !found {
				t.Errorf("no Hardware changed event: %v", events["events"])
			}
		})
	}
}

// commissionWith plays the commissioning scripts' results that matter to the inventory: the
// inventory, and the hardware snapshot when one is given; then the run ends with final (OK,
// or FAILED, which leaves the machine ready to commission again).
func commissionWith(t *testing.T, mc *machineClient, final string, inventory, snapshot []byte) {
	t.Helper()
	idx, _ := mc.scriptsTar()
	sends := []struct {
		name string
		data []byte
	}{{"50-maas-01-commissioning", inventory}, {"50-maas-02-hardware-snapshot.tar.xz", snapshot}}
	for _, s := range sends {
		if s.data == nil {
			continue
		}
		ent := entry(t, idx.V1.Commissioning, s.name)
		if resp := finish(mc, ent, "WORKING", 0, []part{{ent.Name + ".out", string(s.data)}, {ent.Name, string(s.data)}}); resp.Status != 200 {
			t.Fatalf("%s: %d %s", s.name, resp.Status, resp.Body)
		}
	}
	mc.mustSignal([]part{{"status", final}, {"error", "stopped after the inventory"}}, nil)
}

// twoSocketChanged gives the two-socket server's machine-resources document, and the same
// machine with sdb pulled, the 400G card taken out and ens1f1 negotiated down to 1G.
func twoSocketChanged(t *testing.T) (before, after []byte) {
	t.Helper()
	before, err := os.ReadFile("../../testdata/machines/two-socket-server/machine-resources.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc schema.Document
	if err := json.Unmarshal(before, &doc); err != nil {
		t.Fatal(err)
	}
	r := &doc.Resources
	r.Storage.Disks = slices.DeleteFunc(r.Storage.Disks, func(d schema.StorageDisk) bool { return d.ID == "sdb" })
	r.Network.Cards = slices.DeleteFunc(r.Network.Cards, func(c schema.NetworkCard) bool { return c.PCIAddress == "0000:af:00.0" })
	r.PCI.Devices = slices.DeleteFunc(r.PCI.Devices, func(d schema.PCIDevice) bool { return d.PCIAddress == "0000:af:00.0" })
	delete(doc.Networks, "enp175s0np0")
	for i := range r.Network.Cards {
		for j := range r.Network.Cards[i].Ports {
			if r.Network.Cards[i].Ports[j].ID == "ens1f1" {
				r.Network.Cards[i].Ports[j].LinkSpeed = 1000
			}
		}
	}
	after, err = json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return before, after
}
