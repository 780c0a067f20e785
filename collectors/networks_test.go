package collectors

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"maasgo/collectors/schema"
)

func TestNetworksCollector(t *testing.T) {
	tr := newTree(t)
	tr.file("proc/net/dev", "Inter-| Receive | Transmit\n face |bytes packets|bytes\n  br0:10 1 0 0 0 0 0 0 20 2 0 0 0 0 0 0\neth0:123456789012 3 0 0 0 0 0 0 4 5 0 0 0 0 0 0\n")
	bond := tr.virtualNetdev("bond0", "02:00:00:00:00:01")
	tr.files(bond+"/bonding", map[string]string{"mode": "active-backup 1", "xmit_hash_policy": "layer2 0", "miimon": "100", "updelay": "200", "downdelay": "0", "mii_status": "up", "slaves": ""})
	br := tr.virtualNetdev("br0", "02:00:00:00:00:02")
	tr.files(br+"/bridge", map[string]string{"bridge_id": "8000.020000000002", "stp_state": "1", "forward_delay": "1500", "default_pvid": "1", "vlan_filtering": "0"})
	tr.dir(br + "/brif/eth0")
	nl := fakeNetlink{
		links: []Link{
			{Index: 1, Name: "lo", MTU: 65536, Flags: unix.IFF_UP | unix.IFF_LOOPBACK},
			{Index: 2, Name: "eth0", MTU: 1500, Flags: unix.IFF_BROADCAST, HardwareAddr: "02:00:00:00:00:03"},
			{Index: 3, Name: "bond0", Kind: "bond", MTU: 1500, Flags: unix.IFF_UP | unix.IFF_BROADCAST, HardwareAddr: "02:00:00:00:00:01"},
			{Index: 4, Name: "br0", Kind: "bridge", MTU: 1500, Flags: unix.IFF_UP | unix.IFF_BROADCAST, HardwareAddr: "02:00:00:00:00:02"},
			{Index: 5, Name: "eth0.7", Kind: "vlan", MTU: 1500, Flags: unix.IFF_UP | unix.IFF_BROADCAST, ParentIndex: 2, VlanID: 7},
			{Index: 6, Name: "wg0", MTU: 1420, Flags: unix.IFF_UP | unix.IFF_POINTOPOINT},
		},
		addrs: []Addr{
			{LinkIndex: 1, IP: "127.0.0.1", PrefixLen: 8},
			{LinkIndex: 4, IP: "192.0.2.10", PrefixLen: 24},
			{LinkIndex: 4, IP: "fe80::1", PrefixLen: 64},
			{LinkIndex: 4, IP: "bogus", PrefixLen: 64},
		},
	}
	doc := tr.run(networksCollector{}, Seams{Netlink: nl})
	n := doc.Networks
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"lo type and scope", []string{n["lo"].Type, n["lo"].Addresses[0].Scope}, []string{"loopback", "local"}},
		{"eth0 admin down, counters", []any{n["eth0"].State, n["eth0"].Counters}, []any{"down", schema.NetworkCounters{BytesReceived: 123456789012, PacketsReceived: 3, BytesSent: 4, PacketsSent: 5}}},
		{"bond", n["bond0"].Bond, &schema.NetworkBond{Mode: "active-backup", TransmitPolicy: "layer2", UpDelay: 200, MIIFrequency: 100, MIIState: "up", LowerDevices: []string{}}},
		{"bridge", n["br0"].Bridge, &schema.NetworkBridge{ID: "8000.020000000002", STP: true, ForwardDelay: 1500, VLANDefault: 1, UpperDevices: []string{"eth0"}}},
		{"bridge addresses", n["br0"].Addresses, []schema.NetworkAddress{{Family: "inet", Address: "192.0.2.10", Netmask: "24", Scope: "global"}, {Family: "inet6", Address: "fe80::1", Netmask: "64", Scope: "link"}}},
		{"vlan", n["eth0.7"].VLAN, &schema.NetworkVLAN{LowerDevice: "eth0", VID: 7}},
		{"point-to-point", n["wg0"].Type, "point-to-point"},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}
