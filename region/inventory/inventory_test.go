package inventory

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"maasgo/collectors/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const machinesDir = "../../testdata/machines"

// TestGolden derives the facts of every fixture machine's collector document.
func TestGolden(t *testing.T) {
	ents, err := os.ReadDir(machinesDir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		in := filepath.Join(machinesDir, e.Name(), "machine-resources.json")
		if _, err := os.Stat(in); err != nil {
			continue
		}
		n++
		t.Run(e.Name(), func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			f, err := FromJSON(data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(f, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join(machinesDir, e.Name(), "inventory.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("facts differ from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
	if n < 3 {
		t.Fatalf("want at least 3 machines, found %d", n)
	}
}

func minimal() map[string]any {
	return map[string]any{
		"api_version":    "1.0",
		"api_extensions": []string{"resources", "resources_v2", "api_os", "resources_system", "resources_usb_pci"},
		"environment":    map[string]any{"kernel_architecture": "aarch64"},
		"resources":      map[string]any{"memory": map[string]any{"total": 3 << 30}},
		"networks":       map[string]any{},
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m map[string]any)
		raw    string
		want   error
	}{
		{name: "not json", raw: "{", want: ErrInvalidJSON},
		{name: "not an object", raw: "[]", want: ErrInvalidJSON},
		{name: "wrong api version", mutate: func(m map[string]any) { m["api_version"] = "2.0" }, want: ErrAPIVersion},
		{name: "no api version", mutate: func(m map[string]any) { delete(m, "api_version") }, want: ErrAPIVersion},
		{name: "missing extension", mutate: func(m map[string]any) { m["api_extensions"] = []string{"resources"} }, want: ErrMissingExtensions},
		{name: "no resources", mutate: func(m map[string]any) { delete(m, "resources") }, want: ErrMissingSection},
		{name: "null networks", mutate: func(m map[string]any) { m["networks"] = nil }, want: ErrMissingSection},
		{name: "mips is refused as at registration", mutate: func(m map[string]any) { m["environment"] = map[string]any{"kernel_architecture": "mips"} }, want: ErrUnknownArch},
		{name: "accepted", mutate: func(map[string]any) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.raw)
			if tt.mutate != nil {
				m := minimal()
				tt.mutate(m)
				data, _ = json.Marshal(m)
			}
			f, err := FromJSON(data)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if err == nil && (f.Architecture != "arm64/generic" || f.Memory != 3072 || len(f.NUMANodes) != 1 || f.NUMANodes[0].Memory != 3072) {
				t.Errorf("facts = %+v", f)
			}
		})
	}
}

func TestCPUFacts(t *testing.T) {
	sock := func(name string, freq, turbo uint64) schema.CPUSocket {
		return schema.CPUSocket{Name: name, Frequency: freq, FrequencyTurbo: turbo}
	}
	tests := []struct {
		name      string
		sockets   []schema.CPUSocket
		wantSpeed uint64
		wantModel string
	}{
		{"speed from the name", []schema.CPUSocket{sock("Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz", 1000, 3700), sock("Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz", 0, 0)}, 2100, "Intel(R) Xeon(R) Gold 6130 CPU"},
		{"different names: max turbo", []schema.CPUSocket{sock("A @ 2.00GHz", 0, 3000), sock("B @ 2.00GHz", 0, 3500)}, 3500, ""},
		{"no turbo: average rounded to 100, half to even", []schema.CPUSocket{sock("AMD EPYC", 2250, 0), sock("AMD EPYC", 2250, 0)}, 2200, "AMD EPYC"},
		{"average counts sockets without frequency", []schema.CPUSocket{sock("X", 3000, 0), sock("X", 0, 0)}, 1500, "X"},
		{"no name no frequency", []schema.CPUSocket{{}}, 0, ""},
		{"float truncation like upstream", []schema.CPUSocket{sock("P @ 1.10GHz", 0, 0)}, 1100, "P"},
	}
	for _, tt := range tests {
		_, speed, model := cpuFacts(schema.CPU{Sockets: tt.sockets})
		if speed != tt.wantSpeed || model != tt.wantModel {
			t.Errorf("%s: speed %d model %q, want %d %q", tt.name, speed, model, tt.wantSpeed, tt.wantModel)
		}
	}
}

func TestHardwareUUIDAndInfo(t *testing.T) {
	for in, ok := range map[string]bool{
		"4c4c4544-0058-5110-8032-b7c04f4a3933": true, "F677A842571C4E65ADC911E2CF92D363": true,
		"": false, "Not Settable": false, "4c4c4544-0058-5110-8032-b7c04f4a393": false,
	} {
		if got := hardwareUUID(in) != nil; got != ok {
			t.Errorf("hardwareUUID(%q) valid = %v, want %v", in, got, ok)
		}
	}
	info := hardwareInfo(schema.System{Vendor: "None", Serial: "0123456789", Product: "X", Chassis: &schema.SystemChassis{Type: "Rack Mount Chassis"}}, "")
	if len(info) != 18 || info["system_vendor"] != "Unknown" || info["system_serial"] != "Unknown" || info["system_product"] != "X" || info["chassis_type"] != "Rack Mount Chassis" || info["cpu_model"] != "Unknown" {
		t.Errorf("hardware_info = %v", info)
	}
}

func TestBootIFMAC(t *testing.T) {
	for in, want := range map[string]string{
		"ro root=squash:http://x BOOTIF=01-52-54-00-15-36-f2 quiet": "52:54:00:15:36:f2",
		"BOOTIF=01-aa:bb:cc:dd:ee:ff":                               "aa:bb:cc:dd:ee:ff",
		"BOOTIF=01-AA-BB-CC-DD-EE-FF":                               "",
		"console=ttyS0":                                             "",
	} {
		if got := BootIFMAC(in); got != want {
			t.Errorf("BootIFMAC(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBlockDevices(t *testing.T) {
	disks := []schema.StorageDisk{
		{ID: "sdb", Serial: "LUN1", DevicePath: "pci-0000:00:1f.0-sas-0x5000c500a1b2c3d4-lun-0", Size: 10 << 30, RPM: 0},
		{ID: "sda", Serial: "LUN1", DevicePath: "pci-0000:00:1f.0-sas-0x5000c500a1b2c3d5-lun-0", DeviceID: "wwn-0x1", Size: 10 << 30},
		{ID: "sr0", Type: "cdrom", Size: 1 << 30},
		{ID: "sdc", ReadOnly: true, Size: 1 << 30},
		{ID: "sdd", Size: 4 << 20},
		{ID: "bcache0", Size: 1 << 30},
		{ID: "sde", Type: "sata", RPM: 7200, Removable: true, DeviceID: "ata-x", Size: 1 << 30},
	}
	got, storage, err := blockDevices(disks, map[uint64]bool{0: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []BlockDevice{
		{Name: "sda", IDPath: "/dev/disk/by-id/wwn-0x1", Serial: "LUN1", Size: 10 << 30, BlockSize: 512, Tags: []string{"multipath"}},
		{Name: "sde", IDPath: "/dev/sde", Size: 1 << 30, BlockSize: 512, Tags: []string{"rotary", "7200rpm", "removable", "sata"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("block devices (-want +got):\n%s", diff)
	}
	if storage != float64(11<<30)/1e6 {
		t.Errorf("storage = %v", storage)
	}
	if _, _, err := blockDevices([]schema.StorageDisk{{ID: "sda", Size: 1 << 30, NUMANode: 3}}, map[uint64]bool{0: true}); !errors.Is(err, ErrUnknownNUMANode) {
		t.Errorf("unknown node error = %v", err)
	}
}

func TestInterfaces(t *testing.T) {
	up := func(mac string) schema.NetworkState {
		return schema.NetworkState{Type: "broadcast", State: "up", Hwaddr: mac, Mtu: 1500}
	}
	nets := map[string]schema.NetworkState{
		"lo":      {Type: "loopback", State: "up"},
		"eth0":    up("02:00:00:00:00:0a"),
		"eth1":    {Type: "broadcast", State: "down", Hwaddr: "02:00:00:00:00:0b"},
		"bmc":     up("02:00:00:00:00:02"),
		"ib0":     up("80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03"),
		"bond0":   {Type: "broadcast", State: "up", Hwaddr: "02:00:00:00:00:0a", Bond: &schema.NetworkBond{LowerDevices: []string{"eth0", "eth1", "gone"}}},
		"bondx":   {Type: "broadcast", State: "up", Bond: &schema.NetworkBond{LowerDevices: []string{}}},
		"br0":     {Type: "broadcast", State: "up", Bridge: &schema.NetworkBridge{UpperDevices: []string{"bond0.5"}}, Addresses: []schema.NetworkAddress{{Address: "192.0.2.1", Netmask: "24", Scope: "global"}, {Address: "fe80::1", Netmask: "64", Scope: "link"}}},
		"bond0.5": {Type: "broadcast", State: "up", VLAN: &schema.NetworkVLAN{LowerDevice: "bond0", VID: 5}},
		"bond1":   {Type: "broadcast", State: "up", Bond: &schema.NetworkBond{LowerDevices: []string{"eth1"}}},
		"eth1.7":  {Type: "broadcast", State: "up", VLAN: &schema.NetworkVLAN{LowerDevice: "eth1", VID: 7}},
		"br1":     {Type: "broadcast", State: "up", Bridge: &schema.NetworkBridge{UpperDevices: []string{"tap0"}}},
	}
	cards := []schema.NetworkCard{{
		Vendor: "Intel", Product: "X710", FirmwareVersion: "9.0", NUMANode: 1, SRIOV: &schema.NetworkCardSRIOV{MaximumVFs: 32},
		Ports: []schema.NetworkCardPort{
			{ID: "eth0", Address: "02:00:00:00:00:01", LinkDetected: true, LinkSpeed: 10000, SupportedModes: []string{"1000baseT/Full", "10000baseT/Full"}},
			{ID: "eth1", Address: "02:00:00:00:00:02", LinkDetected: true, LinkSpeed: 1000},
		},
	}}
	doc := &schema.Document{Networks: nets, Resources: schema.Resources{Network: schema.Network{Cards: cards}}}
	got, err := interfaces(doc, map[uint64]bool{0: true, 1: true})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range got {
		names = append(names, i.Name)
	}
	if diff := cmp.Diff([]string{"br1", "eth0", "eth1", "bond0", "bond1", "eth1.7", "bond0.5", "br0"}, names); diff != "" {
		t.Fatalf("modelled interfaces (-want +got):\n%s", diff)
	}
	eth0, eth1, bond, vlan, br := got[1], got[2], got[3], got[6], got[7]
	// Aggregates and VLANs are connected as their members are: bond0 through eth0, bond1
	// and eth1.7 not (eth1 is down), br1 (no modelled ports) as it is up.
	for _, i := range got {
		want := map[string]bool{"eth0": true, "bond0": true, "bond0.5": true, "br0": true, "br1": true}[i.Name]
		if i.LinkConnected != want {
			t.Errorf("%s: link_connected %v; want %v", i.Name, i.LinkConnected, want)
		}
	}
	if eth0.MACAddress != "02:00:00:00:00:01" || !eth0.LinkConnected || eth0.LinkSpeed != 10000 || eth0.InterfaceSpeed != 10000 ||
		eth0.NUMANode != 1 || eth0.SRIOVMaxVF != 32 || len(eth0.Tags) != 1 || eth0.Tags[0] != "sriov" {
		t.Errorf("eth0 = %+v", eth0)
	}
	if eth1.LinkConnected || eth1.LinkSpeed != 0 || eth1.InterfaceSpeed != 1000 {
		t.Errorf("eth1 (admin down) = %+v", eth1)
	}
	if bond.Type != "bond" || cmp.Diff([]string{"eth0", "eth1"}, bond.Parents) != "" {
		t.Errorf("bond0 = %+v", bond)
	}
	if vlan.Type != "vlan" || *vlan.VID != 5 || vlan.Parents[0] != "bond0" {
		t.Errorf("vlan = %+v", vlan)
	}
	if br.Type != "bridge" || cmp.Diff([]string{"192.0.2.1/24"}, br.Links) != "" {
		t.Errorf("br0 = %+v", br)
	}
	if _, err := interfaces(doc, map[uint64]bool{0: true}); !errors.Is(err, ErrUnknownNUMANode) {
		t.Errorf("unknown node error = %v", err)
	}
}

// TestInterfacesWithoutPort: an interface no card port describes (a veth) is connected as
// the collector's link extension says, with its speed; without the extension, as it is up.
func TestInterfacesWithoutPort(t *testing.T) {
	nets := map[string]schema.NetworkState{
		"veth0": {Type: "broadcast", State: "up", Hwaddr: "02:00:00:00:01:00", Link: &schema.NetworkLink{LinkDetected: true, LinkSpeed: 10000}},
		"veth1": {Type: "broadcast", State: "up", Hwaddr: "02:00:00:00:01:01", Link: &schema.NetworkLink{LinkDetected: false}},
		"veth2": {Type: "broadcast", State: "down", Hwaddr: "02:00:00:00:01:02", Link: &schema.NetworkLink{LinkDetected: true, LinkSpeed: 10000}},
		"tap0":  {Type: "broadcast", State: "up", Hwaddr: "02:00:00:00:01:03"},
	}
	got, err := interfaces(&schema.Document{Networks: nets}, map[uint64]bool{0: true})
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, i := range got {
		states = append(states, fmt.Sprintf("%s %v %d", i.Name, i.LinkConnected, i.LinkSpeed))
	}
	if diff := cmp.Diff([]string{"tap0 true 0", "veth0 true 10000", "veth1 false 0", "veth2 false 0"}, states); diff != "" {
		t.Errorf("link state of interfaces without a port (-want +got):\n%s", diff)
	}
}

func TestMachineExtraPlatform(t *testing.T) {
	m := minimal()
	m["machine-extra"] = map[string]any{"platform": "nvidia-dgx", "tags": []string{}}
	data, _ := json.Marshal(m)
	f, err := FromJSON(data)
	if err != nil || f.Architecture != "arm64/nvidia-dgx" {
		t.Errorf("architecture = %v, %v", f, err)
	}
}

func FuzzFromJSON(f *testing.F) {
	seed, _ := json.Marshal(minimal())
	f.Add(seed)
	if data, err := os.ReadFile(filepath.Join(machinesDir, "two-socket-server", "machine-resources.json")); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"api_version":"1.0"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		facts, err := FromJSON(data)
		if err == nil && len(facts.HardwareInfo) != 18 {
			t.Fatalf("hardware_info has %d keys", len(facts.HardwareInfo))
		}
	})
}

func FuzzBootIFMAC(f *testing.F) {
	f.Add("BOOTIF=01-52-54-00-15-36-f2")
	f.Fuzz(func(t *testing.T, s string) {
		if m := BootIFMAC(s); m != "" && len(m) != 17 {
			t.Fatalf("mac %q", m)
		}
	})
}
