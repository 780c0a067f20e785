package collectors

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"maasgo/collectors/schema"
)

// nicTree builds one PCI NIC port named eth0 (optionally behind a virtio device).
func nicTree(t *testing.T, virtio bool) tree {
	tr := newTree(t)
	pci := tr.pciDev("sys/devices/pci0000:00", "0000:00:03.0", "0x8086", "0x10d3", "0x020000", "e1000e", 1)
	dev := pci
	if virtio {
		dev = pci + "/virtio0"
		tr.files(dev, map[string]string{"vendor": "0x1af4", "device": "0x0001"})
		tr.dir("sys/bus/virtio/drivers/virtio_net")
		tr.link(dev+"/driver", "sys/bus/virtio/drivers/virtio_net")
	}
	tr.netdev(dev, "eth0", "02:00:00:00:00:09", 0)
	return tr
}

func TestNetworkPort(t *testing.T) {
	up := Link{Name: "eth0", Flags: unix.IFF_UP | unix.IFF_LOWER_UP}
	tests := []struct {
		name   string
		virtio bool
		et     fakeEthtool
		links  []Link
		want   schema.NetworkCardPort
		check  func(t *testing.T, c schema.NetworkCard)
	}{
		{
			name: "link up at 400G with modes beyond 100G and permanent MAC",
			et: fakeEthtool{
				perm:     map[string]string{"eth0": "02:00:00:00:00:01"},
				link:     map[string]bool{"eth0": true},
				settings: map[string]LinkSettings{"eth0": {Speed: 400000, Duplex: 1, Port: 0x05, Autoneg: 1, Supported: bits(4, 89, 120, 10)}},
			},
			want: schema.NetworkCardPort{
				ID: "eth0", Address: "02:00:00:00:00:01", Protocol: "ethernet",
				SupportedModes: []string{"400000baseCR4/Full", "800000baseVR4/Full"}, SupportedPorts: []string{"fibre"},
				PortType: "direct attach", TransceiverType: "internal", AutoNegotiation: true,
				LinkDetected: true, LinkSpeed: 400000, LinkDuplex: "full",
			},
		},
		{
			name: "unknown speed is not reported",
			et: fakeEthtool{
				link:     map[string]bool{"eth0": true},
				settings: map[string]LinkSettings{"eth0": {Speed: 0xffffffff, Duplex: 0xff, Port: 0xff}},
			},
			want: schema.NetworkCardPort{ID: "eth0", Address: "02:00:00:00:00:09", Protocol: "ethernet", PortType: "other", TransceiverType: "internal", LinkDetected: true},
		},
		{
			name: "no link: no speed or duplex",
			et: fakeEthtool{
				link:     map[string]bool{"eth0": false},
				settings: map[string]LinkSettings{"eth0": {Speed: 1000, Duplex: 1, Supported: bits(1, 5, 7)}},
			},
			want: schema.NetworkCardPort{
				ID: "eth0", Address: "02:00:00:00:00:09", Protocol: "ethernet", SupportedModes: []string{"1000baseT/Full"},
				SupportedPorts: []string{"twisted pair"}, PortType: "twisted pair", TransceiverType: "internal",
			},
		},
		{
			name:  "driver answers nothing: port kept, carrier from netlink",
			links: []Link{up},
			want:  schema.NetworkCardPort{ID: "eth0", Address: "02:00:00:00:00:09", Protocol: "ethernet", LinkDetected: true},
		},
		{
			name:   "virtio: PCI address from bus info, ids from the virtio device",
			virtio: true,
			et:     fakeEthtool{drv: map[string]DriverInfo{"eth0": {Driver: "virtio_net", BusInfo: "0000:00:03.0"}}},
			want:   schema.NetworkCardPort{ID: "eth0", Address: "02:00:00:00:00:09", Protocol: "ethernet"},
			check: func(t *testing.T, c schema.NetworkCard) {
				if c.PCIAddress != "0000:00:03.0" || c.VendorID != "1af4" || c.ProductID != "0001" || c.Driver != "virtio_net" || c.NUMANode != 1 {
					t.Errorf("card = %+v", c)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := nicTree(t, tt.virtio)
			doc := tr.run(networkCollector{}, Seams{Ethtool: tt.et, Netlink: fakeNetlink{links: tt.links}})
			cards := doc.Resources.Network.Cards
			if len(cards) != 1 || len(cards[0].Ports) != 1 {
				t.Fatalf("cards = %+v", cards)
			}
			if diff := cmp.Diff(tt.want, cards[0].Ports[0]); diff != "" {
				t.Errorf("port (-want +got):\n%s", diff)
			}
			if tt.check != nil {
				tt.check(t, cards[0])
			}
		})
	}
}

func TestModeSpeed(t *testing.T) {
	for in, want := range map[string]uint64{"800000baseDR8_2/Full": 800000, "10baseT/Half": 10, "Autoneg": 0, "xbaseT": 0} {
		if got := ModeSpeed(in); got != want {
			t.Errorf("ModeSpeed(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestLinkModeTableIsOrdered(t *testing.T) {
	for i := 1; i < len(linkModes); i++ {
		if linkModes[i].bit <= linkModes[i-1].bit {
			t.Errorf("link mode bit %d follows %d", linkModes[i].bit, linkModes[i-1].bit)
		}
		if ModeSpeed(linkModes[i].name) == 0 {
			t.Errorf("mode %q has no speed", linkModes[i].name)
		}
	}
}

func TestInterfacesByMAC(t *testing.T) {
	tr := newTree(t)
	tr.file("sys/devices/pci0000:00/0000:00:03.0/net/ens3/address", "52:54:00:AA:BB:CC\n")
	tr.link("sys/class/net/ens3", "sys/devices/pci0000:00/0000:00:03.0/net/ens3")
	tr.file("sys/class/net/bond0/address", "52:54:00:aa:bb:cc\n") // shares ens3's; ens3 sorts last
	tr.file("sys/class/net/lo/address", "00:00:00:00:00:00\n")
	tr.file("sys/class/net/tun0/address", "\n")
	tr.dir("sys/class/net/noaddr")
	got, err := InterfacesByMAC(NewFS(RootsAt(tr.root), nil))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"52:54:00:aa:bb:cc": "ens3"}, got); diff != "" {
		t.Errorf("InterfacesByMAC (-want +got):\n%s", diff)
	}
	if got, err := InterfacesByMAC(NewFS(RootsAt(t.TempDir()), nil)); err != nil || len(got) != 0 {
		t.Errorf("without /sys/class/net: %v, %v", got, err)
	}
}

func TestPhysicalMACs(t *testing.T) {
	tr := newTree(t)
	nic := func(dir, name, mac, typ string, device bool) {
		tr.files(dir+"/"+name, map[string]string{"address": mac, "type": typ})
		if device {
			tr.file(dir+"/"+name+"/device/vendor", "0x8086\n")
		}
	}
	const pci = "sys/devices/pci0000:00/0000:00:03.0/net"
	nic(pci, "ens4", "52:54:00:DD:EE:FF", "1", true)
	tr.link("sys/class/net/ens4", pci+"/ens4")
	nic("sys/class/net", "ens3", "52:54:00:aa:bb:cc", "1", true)
	nic("sys/class/net", "lo", "00:00:00:00:00:00", "772", false)
	nic("sys/class/net", "br0", "52:54:00:aa:bb:cc", "1", false)
	nic("sys/class/net", "ib0", "80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0d:6b:13", "32", true)
	nic("sys/class/net", "ens5", "00:00:00:00:00:00", "1", true)
	nic("sys/class/net", "ens6", "52:54:00:11:11:11", "1", true) // a bond member: address is the bond's
	tr.file("sys/class/net/ens6/bonding_slave/perm_hwaddr", "52:54:00:22:22:22\n")
	got, err := PhysicalMACs(NewFS(RootsAt(tr.root), nil))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"52:54:00:22:22:22", "52:54:00:aa:bb:cc", "52:54:00:dd:ee:ff"}, got); diff != "" {
		t.Errorf("PhysicalMACs (-want +got):\n%s", diff)
	}
	if _, err := PhysicalMACs(NewFS(RootsAt(t.TempDir()), nil)); err == nil {
		t.Errorf("no error without /sys/class/net")
	}
}
