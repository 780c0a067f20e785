package inventory

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"maasgo/collectors/schema"
)

func fixtureDoc(t *testing.T, machine string) *schema.Document {
	t.Helper()
	data, err := os.ReadFile("../../testdata/machines/" + machine + "/machine-resources.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestDrift: the two-socket server recommissioned with a DIMM, a disk and a NIC removed and
// a NIC whose link came up at 1G gives exactly those differences.
func TestDrift(t *testing.T) {
	before := fixtureDoc(t, "two-socket-server")
	after := fixtureDoc(t, "two-socket-server")
	r := &after.Resources
	// A 512 MiB DIMM of node 1 gone.
	r.Memory.Nodes[1].Total -= 512 << 20
	r.Memory.Total -= 512 << 20
	// sdb pulled.
	r.Storage.Disks = slices.DeleteFunc(r.Storage.Disks, func(d schema.StorageDisk) bool { return d.ID == "sdb" })
	// The 400G card taken out: its PCI function and its interface go with it.
	r.Network.Cards = slices.DeleteFunc(r.Network.Cards, func(c schema.NetworkCard) bool { return c.PCIAddress == "0000:af:00.0" })
	r.PCI.Devices = slices.DeleteFunc(r.PCI.Devices, func(d schema.PCIDevice) bool { return d.PCIAddress == "0000:af:00.0" })
	delete(after.Networks, "enp175s0np0")
	// ens1f1 negotiated down to 1G.
	for i := range r.Network.Cards {
		for j := range r.Network.Cards[i].Ports {
			if r.Network.Cards[i].Ports[j].ID == "ens1f1" {
				r.Network.Cards[i].Ports[j].LinkSpeed = 1000
			}
		}
	}
	got, err := Drift(before, after)
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{
		{Kind: "memory", Action: "changed", Item: "node 1", Field: "size", Old: "1024 MiB", New: "512 MiB"},
		{Kind: "disk", Action: "removed", Item: "sdb (ZC1A2B3C)"},
		{Kind: "nic", Action: "removed", Item: "enp175s0np0 (b8:3f:d2:00:00:10)"},
		{Kind: "nic", Action: "changed", Item: "ens1f1 (3c:fd:fe:00:00:02)", Field: "link_speed", Old: "25000 Mbit/s", New: "1000 Mbit/s of 25000 Mbit/s"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("drift (-want +got):\n%s", diff)
	}
	// The other way round: everything comes back.
	back, err := Drift(after, before)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, c := range back {
		lines = append(lines, c.String())
	}
	wantBack := []string{
		"memory node 1: size 512 MiB → 1024 MiB",
		"disk sdb (ZC1A2B3C) added",
		"nic enp175s0np0 (b8:3f:d2:00:00:10) added",
	}
	if diff := cmp.Diff(wantBack, lines); diff != "" {
		t.Errorf("drift back (-want +got):\n%s", diff)
	}
}

func TestDriftNone(t *testing.T) {
	for _, m := range []string{"two-socket-server", "virtio-vm", "qemu-1g"} {
		got, err := Drift(fixtureDoc(t, m), fixtureDoc(t, m))
		if err != nil || len(got) != 0 {
			t.Errorf("%s against itself: %v %v", m, got, err)
		}
	}
}

func TestDriftParts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*schema.Document)
		want   []string
	}{
		{"cpu count and model", func(d *schema.Document) {
			s := &d.Resources.CPU.Sockets[1]
			d.Resources.CPU.Total -= uint64(len(s.Cores[len(s.Cores)-1].Threads))
			s.Cores = s.Cores[:len(s.Cores)-1]
			s.Name = "Other CPU"
		}, []string{"cpu all: count 8 → 6", "cpu all: model "}},
		{"disk swapped for a bigger one", func(d *schema.Document) {
			for i := range d.Resources.Storage.Disks {
				if d.Resources.Storage.Disks[i].ID == "sda" {
					d.Resources.Storage.Disks[i].Size *= 2
					d.Resources.Storage.Disks[i].FirmwareVersion = "NEWFW"
				}
			}
		}, []string{"disk sda (S45NNE0M000000): firmware ", "disk sda (S45NNE0M000000): size 960197124096 → 1920394248192"}},
		{"extra PCI function", func(d *schema.Document) {
			d.Resources.PCI.Devices = append(d.Resources.PCI.Devices, schema.PCIDevice{PCIAddress: "0000:d8:00.0", VendorID: "10de", ProductID: "20b0", Vendor: "NVIDIA", Product: "A100"})
		}, []string{"pci 0000:d8:00.0 NVIDIA A100 added"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			after := fixtureDoc(t, "two-socket-server")
			tc.mutate(after)
			got, err := Drift(fixtureDoc(t, "two-socket-server"), after)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %d changes like %v", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(got[i].String(), w) {
					t.Errorf("change %d = %q, want it to start %q", i, got[i], w)
				}
			}
		})
	}
}
