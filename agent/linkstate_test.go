package agent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"maasgo/agent/agenttest"
	"maasgo/collectors"
	"maasgo/wire"
)

// fakeLinks answers the runner's link questions for a machine tree: the addresses of each
// interface index, and ethtool's link settings.
type fakeLinks struct {
	addrs    []collectors.Addr
	settings map[string]collectors.LinkSettings
}

func (f fakeLinks) Links() ([]collectors.Link, error) { return nil, nil }
func (f fakeLinks) Addrs() ([]collectors.Addr, error) { return f.addrs, nil }
func (f fakeLinks) DriverInfo(string) (collectors.DriverInfo, error) {
	return collectors.DriverInfo{}, unix.EOPNOTSUPP
}
func (f fakeLinks) PermAddr(string) (string, error)   { return "", unix.EOPNOTSUPP }
func (f fakeLinks) LinkDetected(string) (bool, error) { return false, unix.EOPNOTSUPP }
func (f fakeLinks) LinkSettings(name string) (collectors.LinkSettings, error) {
	s, ok := f.settings[name]
	if !ok {
		return s, unix.EOPNOTSUPP
	}
	return s, nil
}

// TestNetworkLinkState runs a network test on five interfaces of a machine tree: one
// connected with an address (the test runs; its result carries the link state and speeds),
// one connected without an address (skipped, with the reason), one that is a bridge's port
// (skipped), one with an address whose link is down and one without carrier or address (the
// tests run and fail, link_connected: false: the region chose them as connected).
func TestNetworkLinkState(t *testing.T) {
	f := agenttest.NewFake(t)
	iface := func(id int, name, mac string) map[string]wire.ResolvedParam {
		return map[string]wire.ResolvedParam{"interface": {Type: "interface",
			Value: map[string]any{"id": id, "name": name, "mac_address": mac, "vendor": "v", "product": "p"}}}
	}
	f.Offer(t, agenttest.Script{
		Body: agenttest.NewScript("t-net", wire.ScriptTypeTesting, "hardware_type: network\nparallel: instance\nparameters: {interface: {type: interface}}",
			`echo "testing $1"; [ "$1" != --interface=eth3 ] && [ "$1" != --interface=eth4 ]`),
		Results: []map[string]wire.ResolvedParam{
			iface(1, "eth0", "52:54:00:00:00:00"), iface(2, "eth1", "52:54:00:00:00:01"),
			iface(3, "eth2", "52:54:00:00:00:02"), iface(4, "eth3", "52:54:00:00:00:03"),
			iface(5, "eth4", "52:54:00:00:00:04"),
		},
	})
	h := agenttest.NewHarness(t, f)
	root := filepath.Dir(h.Agent.Roots.Sys)
	sysNet := filepath.Join(root, "sys", "class", "net")
	for i, st := range []struct{ operstate, carrier string }{{"up", "1"}, {"up", "1"}, {"up", "1"}, {"lowerlayerdown", "0"}, {"down", "0"}} {
		dir := filepath.Join(sysNet, "eth"+string(rune('0'+i)))
		mustWrite(t, filepath.Join(dir, "address"), "52:54:00:00:00:0"+string(rune('0'+i))+"\n")
		mustWrite(t, filepath.Join(dir, "operstate"), st.operstate+"\n")
		mustWrite(t, filepath.Join(dir, "carrier"), st.carrier+"\n")
		mustWrite(t, filepath.Join(dir, "ifindex"), string(rune('2'+i))+"\n")
	}
	mustWrite(t, filepath.Join(root, "sys", "devices", "virtual", "net", "br0", "ifindex"), "9\n")
	if err := os.Symlink("../../../devices/virtual/net/br0", filepath.Join(sysNet, "eth2", "master")); err != nil {
		t.Fatal(err)
	}
	tenGig := []uint32{1<<5 | 1<<12} // 1000baseT/Full and 10000baseT/Full
	h.Agent.Seams = &collectors.Seams{
		Netlink: fakeLinks{addrs: []collectors.Addr{
			{LinkIndex: 2, IP: "10.0.0.2", PrefixLen: 24}, {LinkIndex: 2, IP: "fe80::1", PrefixLen: 64},
			{LinkIndex: 3, IP: "fe80::2", PrefixLen: 64}, // eth1: link-local only
			{LinkIndex: 5, IP: "2001:db8::5", PrefixLen: 64},
		}},
		Ethtool: fakeLinks{settings: map[string]collectors.LinkSettings{
			"eth0": {Speed: 1000, Supported: tenGig}, "eth3": {Speed: 0xffffffff, Supported: tenGig},
		}},
	}
	if _, err := h.Run(t); err == nil {
		t.Fatal("the run passed; want eth3's test failed")
	}
	byIface := map[string]agenttest.Result{}
	for _, r := range f.Results(t) {
		byIface[string(r.Files["t-net"].Head)] = r
	}
	for _, tt := range []struct {
		out, yaml string
		status    wire.ScriptStatus
	}{
		{"testing --interface=eth0\n", "link_connected: true\nlink_speed: 1000\ninterface_speed: 10000\n", wire.ScriptPassed},
		{"Skipped: eth1 has no IP address (up, carrier): only interfaces with an address are tested\n",
			"status: skipped\nlink_connected: true\n", wire.ScriptSkipped},
		{"Skipped: eth2 is a port of br0: the aggregate is tested, not its ports one by one\n",
			"status: skipped\nlink_connected: true\n", wire.ScriptSkipped},
		{"testing --interface=eth3\n", "link_connected: false\ninterface_speed: 10000\n", wire.ScriptFailed},
		{"testing --interface=eth4\n", "link_connected: false\n", wire.ScriptFailed},
	} {
		r, ok := byIface[tt.out]
		if !ok {
			t.Errorf("no result printed %q; got %q", tt.out, keys(byIface))
			continue
		}
		if got := string(r.Files["t-net.yaml"].Head); got != tt.yaml || r.Status != tt.status {
			t.Errorf("%q: status %v, result file %q; want %v, %q", tt.out, r.Status, got, tt.status, tt.yaml)
		}
		if _, err := wire.ParseResult([]byte(tt.yaml)); err != nil {
			t.Errorf("the region refuses %q: %v", tt.yaml, err)
		}
	}
}

func keys(m map[string]agenttest.Result) []string {
	var out []string
	for k := range m {
		out = append(out, strings.TrimSpace(k))
	}
	return out
}
