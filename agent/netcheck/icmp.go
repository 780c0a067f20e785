package netcheck

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ICMP message types (RFC 792, RFC 4443).
const (
	icmp4EchoReply   = 0
	icmp4Unreachable = 3
	icmp4Echo        = 8
	icmp4TimeExceed  = 11
	icmp6Unreachable = 1
	icmp6TimeExceed  = 3
	icmp6Echo        = 128
	icmp6EchoReply   = 129
)

// pingInterval is the time between echo requests while no reply came.
const pingInterval = time.Second

// echoPayload is the size of an echo request's data, as ping's default.
const echoPayload = 56

// pinger is an ICMP socket bound to the interface under test.
type pinger struct {
	conn net.PacketConn
	v6   bool
	// raw says the socket is a raw one: it sees every ICMP message of the machine, and
	// the echo identifier is ours to choose and check. An unprivileged datagram socket
	// ("ping socket") gets only the replies to its own requests, with an identifier the
	// kernel chose.
	raw bool
	id  uint16
}

// openPinger opens an ICMP socket for dst: an unprivileged ICMP datagram socket where
// net.ipv4.ping_group_range allows one, else a raw socket (root, or CAP_NET_RAW).
func (b *binder) openPinger(dst netip.Addr) (*pinger, error) {
	family, proto := unix.AF_INET, unix.IPPROTO_ICMP
	if !dst.Is4() {
		family, proto = unix.AF_INET6, unix.IPPROTO_ICMPV6
	}
	raw := false
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		var rerr error
		fd, rerr = unix.Socket(family, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
		if rerr != nil {
			return nil, fmt.Errorf("open an ICMP socket: datagram: %v; raw: %w (needs root, CAP_NET_RAW or net.ipv4.ping_group_range)", err, rerr)
		}
		raw = true
	}
	p, err := b.setupPinger(fd, dst, raw)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return p, nil
}

func (b *binder) setupPinger(fd int, dst netip.Addr, raw bool) (*pinger, error) {
	if err := b.bindFD(fd, dst); err != nil {
		return nil, err
	}
	if !raw {
		// ICMP errors about our requests (host unreachable) end the read with an error.
		if dst.Is4() {
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVERR, 1)
		} else {
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVERR, 1)
		}
	}
	f := os.NewFile(uintptr(fd), "icmp")
	conn, err := net.FilePacketConn(f)
	f.Close() // FilePacketConn has its own copy of the descriptor
	if err != nil {
		return nil, fmt.Errorf("open an ICMP socket: %w", err)
	}
	var idb [2]byte
	_, _ = rand.Read(idb[:])
	return &pinger{conn: conn, v6: !dst.Is4(), raw: raw, id: binary.BigEndian.Uint16(idb[:])}, nil
}

func (p *pinger) Close() error { return p.conn.Close() }

// ping sends echo requests to dst, one every pingInterval, until a reply comes (its round
// trip time is returned), an ICMP error says dst cannot be reached, or ctx ends.
func (b *binder) ping(ctx context.Context, dst netip.Addr) (time.Duration, error) {
	dst = b.withZone(dst.Unmap())
	p, err := b.openPinger(dst)
	if err != nil {
		return 0, err
	}
	defer p.Close()
	stop := context.AfterFunc(ctx, func() { p.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	var to net.Addr = &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	if !p.raw {
		to = &net.UDPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	}
	token := make([]byte, echoPayload)
	_, _ = rand.Read(token)
	sent := map[uint16]time.Time{}
	buf := make([]byte, 1500)
	for seq := uint16(1); ; seq++ {
		if ctx.Err() != nil {
			return 0, noReply(ctx, dst, len(sent))
		}
		sent[seq] = time.Now()
		if _, err := p.conn.WriteTo(echoRequest(p.v6, p.id, seq, token), to); err != nil {
			return 0, fmt.Errorf("send an echo request to %s%s: %w", dst, b.through(), err)
		}
		next := time.Now().Add(pingInterval)
		for {
			p.conn.SetReadDeadline(next)
			if ctx.Err() != nil {
				return 0, noReply(ctx, dst, len(sent))
			}
			n, from, err := p.conn.ReadFrom(buf)
			if err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					break // time for the next request, unless ctx ended
				}
				if errno := syscall.Errno(0); errors.As(err, &errno) {
					// An ICMP error about a request (IP_RECVERR), or the kernel's own.
					return 0, fmt.Errorf("%s%s: %w", dst, b.through(), errno)
				}
				return 0, fmt.Errorf("read an echo reply from %s%s: %w", dst, b.through(), err)
			}
			m, ok := parseICMP(p.v6, buf[:n])
			if !ok {
				continue
			}
			switch {
			case m.echoReply && (!p.raw || m.id == p.id) && bytes.Equal(m.data, token):
				if t, ok := sent[m.seq]; ok {
					return time.Since(t), nil
				}
			case m.err != "" && p.raw && m.id == p.id && m.echoTo == dst.WithZone(""):
				return 0, fmt.Errorf("%s from %s%s", m.err, addrOf(from), b.through())
			}
		}
	}
}

func noReply(ctx context.Context, dst netip.Addr, sent int) error {
	return fmt.Errorf("no echo reply from %s (%d requests sent): %w", dst, sent, context.Cause(ctx))
}

func addrOf(a net.Addr) string {
	switch a := a.(type) {
	case *net.IPAddr:
		return a.IP.String()
	case *net.UDPAddr:
		return a.IP.String()
	}
	return "?"
}

// echoRequest builds an ICMP (or ICMPv6) echo request. The IPv4 checksum is computed here;
// the kernel computes ICMPv6 checksums, and those of datagram sockets.
func echoRequest(v6 bool, id, seq uint16, data []byte) []byte {
	b := make([]byte, 8+len(data))
	b[0] = icmp4Echo
	if v6 {
		b[0] = icmp6Echo
	}
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	copy(b[8:], data)
	if !v6 {
		binary.BigEndian.PutUint16(b[2:], checksum(b))
	}
	return b
}

// checksum is the Internet checksum (RFC 1071) of b.
func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// icmpMessage is what the pinger needs of a received ICMP message.
type icmpMessage struct {
	echoReply bool
	id, seq   uint16
	data      []byte
	// err names an error message (destination unreachable, time exceeded) about one of our
	// echo requests, whose identifier is id and destination echoTo.
	err    string
	echoTo netip.Addr
}

// parseICMP reads an ICMP message (without the IP header) received on an ICMP socket.
func parseICMP(v6 bool, b []byte) (icmpMessage, bool) {
	if len(b) < 8 {
		return icmpMessage{}, false
	}
	typ, code := b[0], b[1]
	var m icmpMessage
	switch {
	case (!v6 && typ == icmp4EchoReply) || (v6 && typ == icmp6EchoReply):
		m.echoReply = true
		m.id, m.seq = binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:])
		m.data = b[8:]
		return m, true
	case !v6 && (typ == icmp4Unreachable || typ == icmp4TimeExceed):
		m.err = icmp4Error(typ, code)
		inner := b[8:]
		if len(inner) < 20 || inner[0]>>4 != 4 {
			return m, false
		}
		ihl := int(inner[0]&0x0f) * 4
		if ihl < 20 || len(inner) < ihl+8 || inner[9] != unix.IPPROTO_ICMP || inner[ihl] != icmp4Echo {
			return m, false
		}
		m.echoTo = netip.AddrFrom4([4]byte(inner[16:20]))
		m.id, m.seq = binary.BigEndian.Uint16(inner[ihl+4:]), binary.BigEndian.Uint16(inner[ihl+6:])
		return m, true
	case v6 && (typ == icmp6Unreachable || typ == icmp6TimeExceed):
		m.err = icmp6Error(typ, code)
		inner := b[8:]
		if len(inner) < 48 || inner[0]>>4 != 6 || inner[6] != unix.IPPROTO_ICMPV6 || inner[40] != icmp6Echo {
			return m, false
		}
		m.echoTo = netip.AddrFrom16([16]byte(inner[24:40]))
		m.id, m.seq = binary.BigEndian.Uint16(inner[44:]), binary.BigEndian.Uint16(inner[46:])
		return m, true
	}
	return m, false
}

func icmp4Error(typ, code byte) string {
	if typ == icmp4TimeExceed {
		return "time exceeded"
	}
	switch code {
	case 0:
		return "network unreachable"
	case 1:
		return "host unreachable"
	case 3:
		return "port unreachable"
	case 9, 10, 13:
		return "communication administratively prohibited"
	}
	return fmt.Sprintf("destination unreachable (code %d)", code)
}

func icmp6Error(typ, code byte) string {
	if typ == icmp6TimeExceed {
		return "time exceeded"
	}
	switch code {
	case 0:
		return "no route to destination"
	case 1:
		return "communication administratively prohibited"
	case 3:
		return "address unreachable"
	case 4:
		return "port unreachable"
	}
	return fmt.Sprintf("destination unreachable (code %d)", code)
}
