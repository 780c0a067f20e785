package netstate_test

import (
	"strings"
	"testing"

	"maasgo/agent/netstate"
	"maasgo/internal/netnstest"
)

// machine makes a namespace playing a machine: eth1 and eth2 are veths whose peers sit in a
// router namespace, br0 bridges eth3 and eth4 (veths too), and there are addresses, a
// default route and a static route.
func machine(t *testing.T) (*netnstest.Netns, *netnstest.Netns, *netstate.Stack) {
	m, r := netnstest.New(t), netnstest.New(t)
	netnstest.Veth(t, m, "eth1", "10.1.0.2/24", r, "r1", "10.1.0.1/24")
	netnstest.Veth(t, m, "eth2", "", r, "r2", "")
	netnstest.Veth(t, m, "eth3", "", r, "r3", "")
	netnstest.Veth(t, m, "eth4", "", r, "r4", "")
	m.IP(t, "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "400")
	m.IP(t, "link", "set", "eth3", "master", "br0")
	m.IP(t, "link", "set", "eth4", "master", "br0")
	m.IP(t, "addr", "add", "10.3.0.2/24", "dev", "br0")
	m.IP(t, "addr", "add", "2001:db8:3::2/64", "dev", "br0", "nodad")
	m.IP(t, "link", "set", "br0", "up")
	m.IP(t, "link", "set", "eth2", "mtu", "1400")
	m.IP(t, "route", "add", "default", "via", "10.1.0.1")
	m.IP(t, "route", "add", "10.9.0.0/16", "via", "10.3.0.1", "metric", "7")
	return m, r, &netstate.Stack{Do: m.Do}
}

// TestRestoreExactly takes a namespace apart the way configured networking does (links
// renamed, down, a bridge deleted, another made, addresses and routes changed) and restores
// it: nothing differs from before.
func TestRestoreExactly(t *testing.T) {
	m, _, st := machine(t)
	before, err := st.Take()
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := before.Link("eth3"); !ok || l.Master != "br0" {
		t.Fatalf("eth3: %+v", l)
	}
	if l, ok := before.Link("br0"); !ok || l.Bridge == nil || l.Bridge.ForwardDelay != 400 {
		t.Fatalf("br0: %+v", l)
	}
	m.IP(t, "link", "del", "br0")
	m.IP(t, "link", "set", "eth1", "down")
	m.IP(t, "link", "set", "eth1", "name", "ens3")
	m.IP(t, "link", "set", "eth2", "name", "eth1x")
	m.IP(t, "link", "set", "eth1x", "mtu", "9000")
	m.IP(t, "addr", "flush", "dev", "ens3")
	m.IP(t, "link", "add", "br1", "type", "bridge")
	m.IP(t, "link", "set", "eth4", "master", "br1")
	m.IP(t, "link", "set", "br1", "up")
	m.IP(t, "addr", "add", "192.168.5.5/24", "dev", "br1")
	m.IP(t, "route", "add", "10.77.0.0/16", "via", "192.168.5.1")
	if diff := netstate.Diff(before, mustTake(t, st)); len(diff) == 0 {
		t.Fatal("nothing changed")
	}
	if err := st.Restore(before); err != nil {
		t.Fatal(err)
	}
	if diff := netstate.Diff(before, mustTake(t, st)); len(diff) > 0 {
		t.Errorf("after restore:\n%s", strings.Join(diff, "\n"))
	}
}

func mustTake(t *testing.T, st *netstate.Stack) *netstate.State {
	t.Helper()
	s, err := st.Take()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
