package netstate_test

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"maasgo/agent/netstate"
	"maasgo/internal/netnstest"
	"maasgo/wire"
)

// linkMAC reads a link's MAC inside a namespace.
func linkMAC(t *testing.T, st *netstate.Stack, name string) string {
	t.Helper()
	l, ok := mustTake(t, st).Link(name)
	if !ok {
		t.Fatalf("no link %s", name)
	}
	return l.MAC
}

// TestApplyAndRestore applies a netplan document with a renamed ethernet with a static
// address, a gateway and a route, and a bridge over two more ethernets on DHCP, through
// netlink; checks what the namespace became; restores it; and finds it exactly as before.
func TestApplyAndRestore(t *testing.T) {
	m, r, st := machine(t)
	netnstest.DHCPServer{Offer: netip.MustParsePrefix("10.40.0.9/24"), Router: netip.MustParseAddr("10.40.0.1"),
		Server: netip.MustParseAddr("10.40.0.1"), Lease: 900}.Serve(t, r, "r3")
	r.IP(t, "addr", "add", "10.40.0.1/24", "dev", "r3")
	before := mustTake(t, st)
	doc := []byte(`network:
  version: 2
  ethernets:
    ens3:
      match: {macaddress: "` + linkMAC(t, st, "eth1") + `"}
      set-name: ens3
      mtu: 1400
      addresses: [10.1.0.2/24]
      gateway4: 10.1.0.1
      routes:
        - {to: 10.99.0.0/16, via: 10.1.0.254, metric: 5}
    eth3: {match: {macaddress: "` + linkMAC(t, st, "eth3") + `"}, set-name: eth3}
    eth4: {match: {macaddress: "` + linkMAC(t, st, "eth4") + `"}, set-name: eth4}
  bridges:
    br1:
      interfaces: [eth3, eth4]
      macaddress: "02:00:00:00:01:01"
      parameters: {stp: false, forward-delay: 4, priority: 7}
      dhcp4: true
      nameservers: {addresses: [10.40.0.1]}
`)
	np, unknown, err := wire.DecodeNetplan(doc)
	if err != nil || len(unknown) > 0 {
		t.Fatalf("decode: %v %v", err, unknown)
	}
	var log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.Apply(ctx, np, netstate.ApplyOptions{Log: &log, DHCPTimeout: 20 * time.Second}); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	t.Logf("apply:\n%s", log.String())
	got := mustTake(t, st)
	for name, want := range map[string]string{
		"ens3": "veth mtu 1400 up true master -",
		"eth2": "veth mtu 1400 up false master -",
		"eth3": "veth mtu 1500 up true master br1",
		"br1":  "bridge mtu 1500 mac 02:00:00:00:01:01 up true",
	} {
		l, ok := got.Link(name)
		desc := strings.Join([]string{l.Kind, "mtu", itoa(l.MTU), "up", boolS(l.Up), "master", orDash(l.Master)}, " ")
		if l.Kind == "bridge" {
			desc = strings.Join([]string{l.Kind, "mtu", itoa(l.MTU), "mac", l.MAC, "up", boolS(l.Up)}, " ")
		}
		if !ok || desc != want {
			t.Errorf("%s: %q, want %q", name, desc, want)
		}
	}
	if _, ok := got.Link("br0"); ok {
		t.Error("br0 was not deleted")
	}
	if l, _ := got.Link("br1"); l.Bridge == nil || l.Bridge.STP || l.Bridge.ForwardDelay != 400 {
		t.Errorf("br1 settings %+v", l.Bridge)
	}
	addrs := map[string]bool{}
	for _, a := range got.Addrs {
		addrs[a.Link+" "+a.CIDR] = true
	}
	for _, want := range []string{"ens3 10.1.0.2/24", "br1 10.40.0.9/24"} {
		if !addrs[want] {
			t.Errorf("no address %s in %v", want, addrs)
		}
	}
	routes := map[string]bool{}
	for _, rt := range got.Routes {
		routes[rt.Dst+" "+rt.Gw+" "+rt.Dev+" "+itoa(rt.Priority)] = true
	}
	for _, want := range []string{"0.0.0.0/0 10.1.0.1 ens3 0", "10.99.0.0/16 10.1.0.254 ens3 5"} {
		if !routes[want] {
			t.Errorf("no route %s in %v", want, routes)
		}
	}
	if routes["0.0.0.0/0 10.40.0.1 br1 100"] {
		t.Error("a DHCP default route besides gateway4")
	}
	for _, want := range []string{"br1: bridge parameter priority=7 not applied", "br1: nameservers [10.40.0.1] not applied"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	// Real packets: the machine reaches its gateway through the renamed link, and the DHCP
	// server through the bridge.
	for _, target := range []string{"10.1.0.1:7001", "10.40.0.1:7002"} {
		listen(t, r, target)
		if err := dial(m, target); err != nil {
			t.Errorf("connect to %s: %v", target, err)
		}
	}
	if err := st.Restore(before); err != nil {
		t.Fatal(err)
	}
	if diff := netstate.Diff(before, mustTake(t, st)); len(diff) > 0 {
		t.Errorf("after restore:\n%s", strings.Join(diff, "\n"))
	}
}

// TestApplyErrors checks what Apply refuses before it changes anything.
func TestApplyErrors(t *testing.T) {
	_, _, st := machine(t)
	before := mustTake(t, st)
	for _, tc := range []struct{ name, doc, want string }{
		{"unknown MAC", `{network: {version: 2, ethernets: {e: {match: {macaddress: "02:00:00:00:00:99"}}}}}`, "no link has the MAC address"},
		{"pattern", `{network: {version: 2, ethernets: {e: {match: {name: "en*"}}}}}`, "patterns are not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			np, _, err := wire.DecodeNetplan([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			err = st.Apply(context.Background(), np, netstate.ApplyOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if diff := netstate.Diff(before, mustTake(t, st)); len(diff) > 0 {
				t.Errorf("changed:\n%s", strings.Join(diff, "\n"))
			}
		})
	}
}

// TestApplyBondAndVLAN makes a bond and a VLAN on it where the kernel has bonding and 802.1Q.
func TestApplyBondAndVLAN(t *testing.T) {
	m, r := netnstest.New(t), netnstest.New(t)
	for _, kind := range []string{"bond", "vlan"} {
		args := []string{"-n", m.Name, "link", "add", "probe-" + kind, "type", kind}
		if kind == "vlan" {
			netnstest.Veth(t, m, "probe-p", "", r, "probe-q", "")
			args = []string{"-n", m.Name, "link", "add", "link", "probe-p", "name", "probe-vlan", "type", "vlan", "id", "2"}
		}
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Skipf("the kernel cannot make a %s here: %v %s", kind, err, out)
		}
	}
	netnstest.Veth(t, m, "eth1", "", r, "r1", "")
	netnstest.Veth(t, m, "eth2", "", r, "r2", "")
	st := &netstate.Stack{Do: m.Do}
	before := mustTake(t, st)
	np, _, err := wire.DecodeNetplan([]byte(`network:
  version: 2
  ethernets: {eth1: {}, eth2: {}}
  bonds:
    bond0: {interfaces: [eth1, eth2], parameters: {mode: active-backup, mii-monitor-interval: 100}}
  vlans:
    bond0.7: {id: 7, link: bond0, addresses: [10.7.0.2/24]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Apply(context.Background(), np, netstate.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	got := mustTake(t, st)
	if l, ok := got.Link("bond0"); !ok || l.Bond == nil || l.Bond.Mode != "active-backup" || l.Bond.Miimon != 100 {
		t.Errorf("bond0: %+v", l)
	}
	if l, ok := got.Link("eth2"); !ok || l.Master != "bond0" {
		t.Errorf("eth2: %+v", l)
	}
	if l, ok := got.Link("bond0.7"); !ok || l.VLANID != 7 || l.Parent != "bond0" {
		t.Errorf("bond0.7: %+v", l)
	}
	if err := st.Restore(before); err != nil {
		t.Fatal(err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func boolS(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// listen accepts TCP connections on addr inside ns until the test ends.
func listen(t *testing.T, ns *netnstest.Netns, addr string) {
	t.Helper()
	var l net.Listener
	if err := ns.Do(func() (err error) { l, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// dial connects to addr from inside ns.
func dial(ns *netnstest.Netns, addr string) error {
	return ns.Do(func() error {
		c, err := net.DialTimeout("tcp", addr, 3*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
}
