package lifecycle

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"maasgo/region/inventory"
	"maasgo/region/store"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

var updateNetplan = flag.Bool("update-netplan", false, "rewrite the golden netplan files")

func vid(v int) *int { return &v }

// TestNetplan renders machines' configured networking and compares it with golden YAML.
func TestNetplan(t *testing.T) {
	boot := int64(1)
	for _, tc := range []struct {
		name    string
		machine *store.Machine
		ifaces  []store.Interface
	}{
		{"none", &store.Machine{Domain: "maas"}, nil},
		{"physical", &store.Machine{Domain: "maas"}, []store.Interface{
			{ID: 1, Name: "eth0", Type: "physical", Enabled: true, MACAddress: "52:54:00:00:00:01", MTU: 1500,
				Links: []store.Link{{Mode: "auto", Address: "10.0.0.5", Subnet: "10.0.0.5/24"}}},
			{ID: 2, Name: "eth1", Type: "physical", Enabled: false, MACAddress: "52:54:00:00:00:02", MTU: 1500},
			{ID: 3, Name: "eth2", Type: "physical", Enabled: true, MTU: 1500},
			{ID: 4, Name: "eth: 3", Type: "physical", Enabled: true, MACAddress: "52:54:00:00:00:04", MTU: 9000,
				Links: []store.Link{{Mode: "link_up"}}},
		}},
		// A bond with a VLAN on it, a bridge, a static address with its gateway, DNS servers
		// and a route, DHCP on IPv4 and IPv6, a link left up, a disabled NIC.
		{"aggregates", &store.Machine{Domain: "maas", BootInterfaceID: &boot}, []store.Interface{
			{ID: 1, Name: "eth0", Type: "physical", Enabled: true, MACAddress: "52:54:00:00:00:01", MTU: 1500,
				Links: []store.Link{{Mode: "static", Address: "10.0.0.5", Subnet: "10.0.0.0/24", Gateway: "10.0.0.1",
					DNSServers: []string{"10.0.0.2", "10.0.0.3"},
					Routes:     []store.Route{{Destination: "10.10.0.0/16", Gateway: "10.0.0.254", Metric: 0}}}}},
			{ID: 2, Name: "eth1", Type: "physical", Enabled: true, MACAddress: "52:54:00:00:00:02", MTU: 9000},
			{ID: 3, Name: "eth2", Type: "physical", Enabled: true, MACAddress: "52:54:00:00:00:03", MTU: 9000},
			{ID: 4, Name: "eth3", Type: "physical", Enabled: true, MACAddress: "52:54:00:00:00:04", MTU: 1500},
			{ID: 5, Name: "eth4", Type: "physical", Enabled: true, MACAddress: "52:54:00:00:00:05", MTU: 1500},
			{ID: 6, Name: "eth5", Type: "physical", Enabled: false, MACAddress: "52:54:00:00:00:06", MTU: 1500},
			{ID: 7, Name: "eth6", Type: "physical", Enabled: true, MACAddress: "52:54:00:00:00:07", MTU: 1500,
				Links: []store.Link{{Mode: "link_up"}}},
			{ID: 8, Name: "bond0", Type: "bond", Enabled: true, MACAddress: "52:54:00:00:00:02", MTU: 9000,
				Parents: []string{"eth2", "eth1"},
				Params: `{"bond_mode": "802.3ad", "bond_miimon": 100, "bond_lacp_rate": "fast", "bond_num_grat_arp": 1,
					"bond_xmit_hash_policy": "layer3+4", "bond_primary": "eth1", "mtu": 9000}`,
				Links: []store.Link{{Mode: "static", Address: "192.168.10.5", Subnet: "192.168.10.0/24", Gateway: "192.168.10.1"}}},
			{ID: 9, Name: "bond0.100", Type: "vlan", Enabled: true, VID: vid(100), MTU: 9000, Parents: []string{"bond0"},
				Links: []store.Link{{Mode: "dhcp", Subnet: "172.16.100.0/24"}}},
			{ID: 10, Name: "br0", Type: "bridge", Enabled: true, MACAddress: "52:54:00:00:00:04", MTU: 1500,
				Parents: []string{"eth4", "eth3"}, Params: `{"bridge_stp": false, "bridge_fd": 15, "bridge_type": "standard"}`,
				Links: []store.Link{{Mode: "auto", Address: "10.20.0.7", Subnet: "10.20.0.7/24"}, {Mode: "dhcp", Subnet: "2001:db8::/64"},
					{Mode: "static", Address: "2001:db8:1::7", Subnet: "2001:db8:1::/64", Gateway: "2001:db8:1::1"}}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Netplan(tc.machine, tc.ifaces)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "netplan", tc.name+".yaml")
			if *updateNetplan {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update-netplan to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("netplan differs from %s (-want +got):\n%s", golden, diff)
			}
			// What the region renders, the agent reads back whole.
			doc, unknown, err := wire.DecodeNetplan(got)
			if err != nil || len(unknown) > 0 {
				t.Fatalf("decode: %v, unknown keys %v", err, unknown)
			}
			again, err := wire.EncodeNetplan(doc)
			if err != nil || string(again) != string(got) {
				t.Errorf("round trip: %v\n%s", err, again)
			}
		})
	}
}

// TestNetplanErrors checks what the renderer refuses.
func TestNetplanErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		iface store.Interface
		want  string
	}{
		{"vlan without id", store.Interface{Name: "v", Type: "vlan", Enabled: true, Parents: []string{"eth0"}}, "no VLAN id"},
		{"bad params", store.Interface{Name: "b", Type: "bond", Enabled: true, Params: "mode=4"}, "not a JSON object"},
		{"bad static", store.Interface{Name: "e", Type: "physical", MACAddress: "52:54:00:00:00:01", Enabled: true,
			Links: []store.Link{{Mode: "static", Address: "10.0.0.300", Subnet: "10.0.0.0/24"}}}, "address"},
		{"bad mode", store.Interface{Name: "e", Type: "physical", MACAddress: "52:54:00:00:00:01", Enabled: true,
			Links: []store.Link{{Mode: "sticky"}}}, "unknown mode"},
		{"bad type", store.Interface{Name: "x", Type: "ovs", Enabled: true}, "unknown type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Netplan(&store.Machine{}, []store.Interface{tc.iface})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestNetplanFromInventory commissions a machine with a bond of two ports and a VLAN on the
// bond from its machine-resources, and renders its configured networking: the bond keeps the
// mode the machine had, the VLAN its id, and the addresses it had come by DHCP.
func TestNetplanFromInventory(t *testing.T) {
	st, err := store.Open(context.Background(), storetest.SQLite(t).DSN, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var got []byte
	err = st.Update(context.Background(), func(tx *store.Tx) error {
		u := &store.User{Username: "admin", IsAdmin: true}
		if err := tx.CreateUser(u); err != nil {
			return err
		}
		m, err := CreateMachine(tx, CreateOptions{Hostname: "server", Architecture: "amd64", MACs: []string{"3c:fd:fe:00:00:01"}}, u)
		if err != nil {
			return err
		}
		if err := ApplyInventory(tx, m, inventoryFacts(t, "two-socket-server")); err != nil {
			return err
		}
		if err := tx.UpdateMachine(m); err != nil {
			return err
		}
		sc, err := LoadScripts(tx, m.ID)
		if err != nil {
			return err
		}
		got, err = Netplan(sc.Machine, sc.Interfaces)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "netplan", "two-socket-server.yaml")
	if *updateNetplan {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update-netplan to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("netplan differs from %s (-want +got):\n%s", golden, diff)
	}
}

func inventoryFacts(t *testing.T, fixture string) *inventory.Facts {
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
