package lldp

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"maasgo/internal/netnstest"
	"maasgo/wire"
)

// topology is a machine namespace with eth0 and eth1, each joined by a veth pair to a switch
// namespace (swp1, swp2).
type topology struct {
	machine, sw *netnstest.Netns
}

func newTopology(t *testing.T) topology {
	t.Helper()
	tp := topology{machine: netnstest.New(t), sw: netnstest.New(t)}
	netnstest.Veth(t, tp.machine, "eth0", "", tp.sw, "swp1", "")
	netnstest.Veth(t, tp.machine, "eth1", "", tp.sw, "swp2", "")
	return tp
}

// open opens listeners on the machine's interfaces, closed when the test ends.
func (tp topology) open(t *testing.T, names ...string) []*Conn {
	t.Helper()
	var conns []*Conn
	err := tp.machine.Do(func() error {
		for _, name := range names {
			c, err := Open(name)
			if err != nil {
				return err
			}
			t.Cleanup(func() { c.Close() })
			conns = append(conns, c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return conns
}

// send writes frames on ifname in ns through a packet socket of its own, as a switch does.
func send(t *testing.T, ns *netnstest.Netns, ifname string, frames ...[]byte) {
	t.Helper()
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		for _, f := range frames {
			to := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
			copy(to.Addr[:], f[:6])
			if err := unix.Sendto(fd, f, 0, to); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("send on %s in %s: %v", ifname, ns.Name, err)
	}
}

// TestListenNetns sends LLDP frames from the switch namespace over veth pairs and checks
// what the machine's listeners hear: the neighbour with every field on eth0 (its latest
// frame), nothing on eth1 within the wait, malformed and oversized frames ignored and
// counted, non-LLDP frames and the machine's own outgoing frames never seen.
func TestListenNetns(t *testing.T) {
	tp := newTopology(t)
	conns := tp.open(t, "eth0", "eth1")
	// Jumbo frames, so that one larger than the listener's buffer can be sent.
	tp.sw.IP(t, "link", "set", "swp1", "mtu", "9600")
	tp.machine.IP(t, "link", "set", "eth0", "mtu", "9600")

	machineMAC := net.HardwareAddr{0x02, 0x00, 0x5e, 0x99, 0x00, 0x01}
	other := frame(switchMAC, chassisLocal("gone"), portName("p9"), ttl(120))
	send(t, tp.sw, "swp1",
		switchFrame("sw-old-name", "Ethernet7", 100, 120),
		// Malformed: a TLV longer than the frame, then TLVs out of order.
		[]byte("\x01\x80\xc2\x00\x00\x0e\x02\x00\x5e\x10\x00\x01\x88\xcc\x03\x07garbage"),
		frame(switchMAC, portName("p"), chassisLocal("c"), ttl(1)),
		// A neighbour that shuts down (TTL 0) is forgotten.
		other,
		frame(switchMAC, chassisLocal("gone"), portName("p9"), ttl(0)),
		// Larger than the listener's buffer: truncated, ignored.
		append(frame(switchMAC, chassisLocal("big"), portName("p"), ttl(1), end()), make([]byte, maxFrame)...),
		// The latest frame of a neighbour counts.
		switchFrame("sw1", "Ethernet7", 100, 120),
	)
	// An IPv4-typed frame to the LLDP address: the socket's EtherType filter drops it.
	ipv4 := append(append([]byte{}, other[:12]...), 0x08, 0x00, 0x45)
	send(t, tp.sw, "swp1", ipv4)
	// What the machine sends itself (lldpd on the machine would) is not a neighbour.
	send(t, tp.machine, "eth1", frame(machineMAC, chassisMAC(machineMAC), portName("eth1"), ttl(120)))

	start := time.Now()
	const wait = 400 * time.Millisecond
	got, err := ListenAll(t.Context(), conns, wait)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < wait || el > wait+2*time.Second {
		t.Errorf("ListenAll took %s, want about %s", el, wait)
	}
	want := map[string]Heard{
		"eth0": {Malformed: 3, Neighbours: []wire.Neighbour{{
			ChassisID: "02:00:5e:10:00:01", ChassisIDType: "mac", PortID: "Ethernet7", PortIDType: "interface_name",
			PortDescription: "uplink to sw1", SystemName: "sw1", SystemDesc: "Test switch OS 1.0", VLAN: 100, TTL: 120,
			ManagementAddresses: []string{"192.0.2.10"},
		}}},
		"eth1": {Neighbours: []wire.Neighbour{}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListenAll (-want +got):\n%s", diff)
	}
}

// TestOpenJoinsMulticast checks that an open listener makes its interface a member of the
// LLDP groups without promiscuous mode, and that closing it leaves them.
func TestOpenJoinsMulticast(t *testing.T) {
	tp := newTopology(t)
	maddr := func() string {
		out, err := exec.Command("ip", "-n", tp.machine.Name, "maddr", "show", "dev", "eth0").CombinedOutput()
		if err != nil {
			t.Fatalf("ip maddr: %v\n%s", err, out)
		}
		return string(out)
	}
	link := func() string {
		out, err := exec.Command("ip", "-n", tp.machine.Name, "link", "show", "dev", "eth0").CombinedOutput()
		if err != nil {
			t.Fatalf("ip link: %v\n%s", err, out)
		}
		return string(out)
	}
	before := link()
	c := tp.open(t, "eth0")[0]
	for _, mc := range Multicast {
		if !strings.Contains(maddr(), mc.String()) {
			t.Errorf("eth0 is not a member of %s while listening:\n%s", mc, maddr())
		}
	}
	if l := link(); strings.Contains(l, "PROMISC") || l != before {
		t.Errorf("listening changed the link:\nbefore %s\nafter  %s", before, l)
	}
	c.Close()
	if m := maddr(); strings.Contains(m, Multicast[0].String()) {
		t.Errorf("eth0 is still a member of %s after closing:\n%s", Multicast[0], m)
	}
}

// TestListenCancel checks that a cancelled context ends a long wait at once, with an error.
func TestListenCancel(t *testing.T) {
	tp := newTopology(t)
	conns := tp.open(t, "eth0")
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := ListenAll(ctx, conns, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "lldp on eth0") {
		t.Errorf("ListenAll after cancel: %v, want an error naming eth0", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("ListenAll took %s after cancel", el)
	}
}

func TestOpenMissingInterface(t *testing.T) {
	tp := newTopology(t)
	err := tp.machine.Do(func() error {
		_, err := Open("nosuch0")
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "lldp on nosuch0") {
		t.Errorf("Open(nosuch0): %v, want an error naming it", err)
	}
}
