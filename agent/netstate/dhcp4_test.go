package netstate_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"maasgo/agent/netstate"
	"maasgo/internal/netnstest"
)

// TestDHCP4 gets a lease from a server in another namespace over a veth pair.
func TestDHCP4(t *testing.T) {
	m, r := netnstest.New(t), netnstest.New(t)
	netnstest.Veth(t, m, "eth1", "", r, "r1", "10.50.0.1/24")
	netnstest.DHCPServer{Offer: netip.MustParsePrefix("10.50.0.77/24"), Router: netip.MustParseAddr("10.50.0.1"),
		Server: netip.MustParseAddr("10.50.0.1"), Lease: 600}.Serve(t, r, "r1")
	st := &netstate.Stack{Do: m.Do}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	lease, err := st.DHCP4(ctx, "eth1")
	if err != nil {
		t.Fatal(err)
	}
	if lease.Addr.String() != "10.50.0.77/24" || lease.Router.String() != "10.50.0.1" || lease.Server.String() != "10.50.0.1" ||
		lease.Lifetime != 600*time.Second || len(lease.DNS) != 1 {
		t.Errorf("lease %+v", lease)
	}
}

// TestDHCP4NoServer gives up when ctx ends.
func TestDHCP4NoServer(t *testing.T) {
	m, r := netnstest.New(t), netnstest.New(t)
	netnstest.Veth(t, m, "eth1", "", r, "r1", "")
	st := &netstate.Stack{Do: m.Do}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if _, err := st.DHCP4(ctx, "eth1"); err == nil {
		t.Fatal("a lease without a server")
	}
}
