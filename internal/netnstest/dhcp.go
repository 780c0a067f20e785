package netnstest

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// DHCPServer is a DHCPv4 server for tests: on one link of a namespace it answers every
// DISCOVER with Offer, and every REQUEST for it with an ACK (a NAK otherwise), naming Router
// as the gateway and Server as the DNS server and itself. Configured networking renders the
// addresses a machine had while commissioning as DHCP, as upstream does: a test machine whose
// configured networking is applied needs one on each such link.
type DHCPServer struct {
	Offer  netip.Prefix
	Router netip.Addr // zero: none
	Server netip.Addr // the server's address on the link
	Lease  uint32     // seconds
}

// Serve answers on ifname inside ns until the test ends.
func (d DHCPServer) Serve(t testing.TB, ns *Netns, ifname string) {
	t.Helper()
	var conn net.PacketConn
	err := ns.Do(func() error {
		lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1); serr == nil {
					serr = unix.BindToDevice(int(fd), ifname)
				}
			})
			if err != nil {
				return err
			}
			return serr
		}}
		var err error
		conn, err = lc.ListenPacket(context.Background(), "udp4", "0.0.0.0:67")
		return err
	})
	if err != nil {
		t.Fatalf("dhcp server on %s in %s: %v", ifname, ns.Name, err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if reply := d.answer(buf[:n]); reply != nil {
				conn.WriteTo(reply, &net.UDPAddr{IP: net.IPv4bcast, Port: 68})
			}
		}
	}()
}

func (d DHCPServer) answer(req []byte) []byte {
	if len(req) < 240 || req[0] != 1 || binary.BigEndian.Uint32(req[236:]) != 0x63825363 {
		return nil
	}
	opts := map[byte][]byte{}
	for o := req[240:]; len(o) >= 2 && o[0] != 255; o = o[2+int(o[1]):] {
		if len(o) < 2+int(o[1]) {
			break
		}
		opts[o[0]] = o[2 : 2+int(o[1])]
	}
	var t byte
	switch mt := opts[53]; {
	case len(mt) == 1 && mt[0] == 1:
		t = 2 // OFFER
	case len(mt) == 1 && mt[0] == 3:
		t = 5 // ACK
		if ip := opts[50]; len(ip) != 4 || netip.AddrFrom4([4]byte(ip)) != d.Offer.Addr() {
			t = 6 // NAK
		}
	default:
		return nil
	}
	r := make([]byte, 240)
	r[0], r[1], r[2] = 2, 1, 6
	copy(r[4:8], req[4:8])     // xid
	copy(r[10:12], req[10:12]) // flags
	copy(r[28:44], req[28:44]) // chaddr
	ip := d.Offer.Addr().As4()
	copy(r[16:20], ip[:])
	binary.BigEndian.PutUint32(r[236:], 0x63825363)
	srv := d.Server.As4()
	r = append(r, 53, 1, t, 54, 4)
	r = append(r, srv[:]...)
	if t != 6 {
		r = append(r, 1, 4)
		r = append(r, net.CIDRMask(d.Offer.Bits(), 32)...)
		if d.Router.IsValid() {
			router := d.Router.As4()
			r = append(r, 3, 4)
			r = append(r, router[:]...)
		}
		r = append(r, 6, 4)
		r = append(r, srv[:]...)
		r = append(r, 51, 4)
		r = binary.BigEndian.AppendUint32(r, d.Lease)
	}
	return append(r, 255)
}
