package lifecycle_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"

	"maasgo/region/inventory"
	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

func facts(t *testing.T, fixture string) *inventory.Facts {
	t.Helper()
	b, err := os.ReadFile("../../testdata/machines/" + fixture + "/machine-resources.json")
	if err != nil {
		t.Fatal(err)
	}
	f, err := inventory.FromJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestRecommissionKeepsIdentities applies the same inventory twice with a change in between:
// disks and interfaces keep their ids when their identity is unchanged, vanished ones go,
// and tags a person added survive.
func TestRecommissionKeepsIdentities(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			st, err := store.Open(context.Background(), e.DSN, e.StateDir)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var m *store.Machine
			first := facts(t, "two-socket-server")
			err = st.Update(context.Background(), func(tx *store.Tx) error {
				u := &store.User{Username: "admin", IsAdmin: true}
				if err := tx.CreateUser(u); err != nil {
					return err
				}
				m, err = lifecycle.CreateMachine(tx, lifecycle.CreateOptions{Hostname: "server", Architecture: "amd64",
					MACs: []string{"3c:fd:fe:00:00:01"}}, u)
				if err != nil {
					return err
				}
				if err := lifecycle.ApplyInventory(tx, m, first); err != nil {
					return err
				}
				return tx.UpdateMachine(m)
			})
			if err != nil {
				t.Fatal(err)
			}
			snapshot := func() (map[string]store.BlockDevice, map[string]store.Interface) {
				disks := map[string]store.BlockDevice{}
				ifaces := map[string]store.Interface{}
				st.View(context.Background(), func(tx *store.Tx) error {
					ds, _ := tx.BlockDevices(m.ID)
					for _, d := range ds[m.ID] {
						disks[d.Serial] = d
					}
					is, _ := tx.Interfaces(m.ID)
					for _, i := range is[m.ID] {
						ifaces[i.Name] = i
					}
					return nil
				})
				return disks, ifaces
			}
			disks1, ifaces1 := snapshot()
			if len(disks1) != 3 || len(ifaces1) < 4 {
				t.Fatalf("first inventory: %d disks, %d interfaces", len(disks1), len(ifaces1))
			}
			// The interface created with the machine (eth0, by MAC) became ens1f0, same id.
			var created store.Interface
			st.View(context.Background(), func(tx *store.Tx) error {
				i, err := tx.InterfaceByMAC("3c:fd:fe:00:00:01")
				if err == nil {
					created = *i
				}
				return err
			})
			if created.Name != "ens1f0" || created.ID != ifaces1["ens1f0"].ID || created.SRIOVMaxVF != 64 {
				t.Errorf("the created interface: %+v", created)
			}

			// A person tags a disk and an interface; then one disk is pulled and a NIC renamed.
			var pulled string
			err = st.Update(context.Background(), func(tx *store.Tx) error {
				for _, d := range disks1 {
					d.Tags = append(d.Tags, "fast-scratch")
					if err := tx.UpdateBlockDevice(&d); err != nil {
						return err
					}
				}
				i := ifaces1["ens1f1"]
				i.Tags = append(i.Tags, "uplink")
				return tx.UpdateInterface(&i)
			})
			if err != nil {
				t.Fatal(err)
			}
			second := facts(t, "two-socket-server")
			pulled = second.BlockDevices[len(second.BlockDevices)-1].Serial
			second.BlockDevices = second.BlockDevices[:len(second.BlockDevices)-1]
			for k := range second.Interfaces {
				if second.Interfaces[k].Name == "ens1f1" {
					second.Interfaces[k].Name = "ens1f9"
				}
			}
			err = st.Update(context.Background(), func(tx *store.Tx) error {
				m, err = tx.MachineByID(m.ID)
				if err != nil {
					return err
				}
				if err := lifecycle.ApplyInventory(tx, m, second); err != nil {
					return err
				}
				return tx.UpdateMachine(m)
			})
			if err != nil {
				t.Fatal(err)
			}
			disks2, ifaces2 := snapshot()
			if _, ok := disks2[pulled]; ok || len(disks2) != 2 {
				t.Errorf("the pulled disk %s is still there: %d disks", pulled, len(disks2))
			}
			for serial, d := range disks2 {
				if d.ID != disks1[serial].ID {
					t.Errorf("disk %s changed id %d → %d", serial, disks1[serial].ID, d.ID)
				}
				if !slices.Contains(d.Tags, "fast-scratch") {
					t.Errorf("disk %s lost the person's tag: %v", serial, d.Tags)
				}
			}
			renamed, ok := ifaces2["ens1f9"]
			if !ok || renamed.ID != ifaces1["ens1f1"].ID || !slices.Contains(renamed.Tags, "uplink") {
				t.Errorf("renamed interface: %+v (was %d)", renamed, ifaces1["ens1f1"].ID)
			}
			if _, ok := ifaces2["ens1f1"]; ok {
				t.Error("the old name is still there")
			}
			if b, _ := json.Marshal(m.NUMANodes); len(m.NUMANodes) != 2 {
				t.Errorf("NUMA nodes: %s", b)
			}
			if m.CPUCount != 8 || m.Status != wire.NodeNew {
				t.Errorf("machine: %d CPUs, %s", m.CPUCount, m.Status.Label())
			}
		})
	}
}
