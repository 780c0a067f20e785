package collectors

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// portSeams answers ReadPortState's seam questions from a table.
type portSeams struct {
	addrs    []Addr
	glink    map[string]bool
	settings map[string]LinkSettings
}

func (p portSeams) Links() ([]Link, error) { return nil, nil }
func (p portSeams) Addrs() ([]Addr, error) { return p.addrs, nil }
func (p portSeams) DriverInfo(string) (DriverInfo, error) {
	return DriverInfo{}, unix.EOPNOTSUPP
}
func (p portSeams) PermAddr(string) (string, error) { return "", unix.EOPNOTSUPP }
func (p portSeams) LinkDetected(name string) (bool, error) {
	up, ok := p.glink[name]
	if !ok {
		return false, unix.EOPNOTSUPP
	}
	return up, nil
}
func (p portSeams) LinkSettings(name string) (LinkSettings, error) {
	s, ok := p.settings[name]
	if !ok {
		return s, unix.EOPNOTSUPP
	}
	return s, nil
}

func TestReadPortState(t *testing.T) {
	root := t.TempDir()
	write := func(p, data string) {
		t.Helper()
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// eth0: up, 25G of 100G, in bond0, with addresses; eth1: no carrier file (GLINK
	// answers), no sysfs speed; eth2: operstate only; eth3: nothing readable.
	write("sys/class/net/eth0/operstate", "up\n")
	write("sys/class/net/eth0/carrier", "1\n")
	write("sys/class/net/eth0/ifindex", "2\n")
	write("sys/class/net/eth0/speed", "10\n")
	write("sys/devices/virtual/net/bond0/ifindex", "7\n")
	if err := os.Symlink("../../../devices/virtual/net/bond0", filepath.Join(root, "sys/class/net/eth0/master")); err != nil {
		t.Fatal(err)
	}
	write("sys/class/net/eth1/operstate", "unknown\n")
	write("sys/class/net/eth1/speed", "1000\n")
	write("sys/class/net/eth1/ifindex", "3\n")
	write("sys/class/net/eth2/operstate", "dormant\n")
	write("sys/class/net/eth3/address", "52:54:00:00:00:03\n")
	seams := Seams{
		Netlink: portSeams{addrs: []Addr{{LinkIndex: 2, IP: "10.0.0.2", PrefixLen: 24}, {LinkIndex: 2, IP: "fe80::1", PrefixLen: 64},
			{LinkIndex: 2, IP: "2001:db8::2", PrefixLen: 64}, {LinkIndex: 3, IP: "10.0.1.2", PrefixLen: 24}}},
		Ethtool: portSeams{glink: map[string]bool{"eth1": true},
			settings: map[string]LinkSettings{"eth0": {Speed: 25000, Supported: []uint32{0, 1 << (38 - 32)}}}},
	}
	f := NewFS(RootsAt(root), nil)

	p, err := ReadPortState(f, seams, "eth0")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24"), netip.MustParsePrefix("2001:db8::2/64")}
	if c, known := p.Connected(); !c || !known || p.LinkSpeed != 25000 || p.InterfaceSpeed != 100000 || p.Master != "bond0" ||
		!p.AddressesKnown || !slices.Equal(p.Addresses, want) || p.Describe() != "up, carrier, 25000 Mbit/s" {
		t.Errorf("eth0: %+v (%s)", p, p.Describe())
	}
	p, err = ReadPortState(f, seams, "eth1")
	if c, known := p.Connected(); err != nil || !c || !known || p.LinkSpeed != 1000 || p.InterfaceSpeed != 0 || len(p.Addresses) != 1 || !p.AddressesKnown {
		t.Errorf("eth1: %+v, %v", p, err)
	}
	p, err = ReadPortState(f, Seams{}, "eth2")
	if c, known := p.Connected(); err != nil || c || !known || p.AddressesKnown || p.Describe() != "dormant" {
		t.Errorf("eth2: %+v, %v", p, err)
	}
	p, err = ReadPortState(f, Seams{}, "eth3")
	if _, known := p.Connected(); err != nil || known || p.Describe() != "link state unknown" {
		t.Errorf("eth3: %+v, %v", p, err)
	}
	for _, bad := range []string{"eth9", "", "..", "a/b"} {
		if _, err := ReadPortState(f, seams, bad); err == nil {
			t.Errorf("ReadPortState(%q): no error", bad)
		}
	}
}
