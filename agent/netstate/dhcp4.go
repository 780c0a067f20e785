package netstate

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// A minimal DHCPv4 client (RFC 2131) for configured networking applied without netplan: it
// gets one lease (DISCOVER, OFFER, REQUEST, ACK) through a packet socket bound to the link,
// so that the link needs no address and no route, and nothing else on the machine hears it.
// It neither renews nor releases the lease: configured networking lasts one batch of network
// tests, and the previous state is restored afterwards.

// Lease is what a DHCPv4 server gave.
type Lease struct {
	Addr     netip.Prefix
	Router   netip.Addr // zero when the server named none
	DNS      []netip.Addr
	Server   netip.Addr
	Lifetime time.Duration // 0: infinite
}

const (
	dhcpDiscover = 1
	dhcpOffer    = 2
	dhcpRequest  = 3
	dhcpAck      = 5
	dhcpNak      = 6

	optSubnetMask  = 1
	optRouter      = 3
	optDNS         = 6
	optRequestedIP = 50
	optLeaseTime   = 51
	optMessageType = 53
	optServerID    = 54
	optParamList   = 55
	optClientID    = 61
	optEnd         = 255

	bootpMinLen  = 300
	dhcpMagic    = 0x63825363
	clientPort   = 68
	serverPort   = 67
	ipHeaderLen  = 20
	udpHeaderLen = 8
)

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// CarrierWait bounds the wait for a link's carrier before its DHCP exchange: a link brought
// up negotiates for a few seconds; one without a cable never gets it, and is not asked for
// a lease for the whole DHCP timeout.
var CarrierWait = 10 * time.Second

// DHCP4 gets a lease for link name once it has carrier (within CarrierWait), trying until
// ctx ends.
func (s *Stack) DHCP4(ctx context.Context, name string) (*Lease, error) {
	return s.dhcp4(ctx, name, CarrierWait)
}

func (s *Stack) dhcp4(ctx context.Context, name string, carrierWait time.Duration) (*Lease, error) {
	var index int
	var mac net.HardwareAddr
	var carrier bool
	for wait := time.Now().Add(carrierWait); ; {
		if err := s.run(func(h *netlink.Handle) error {
			l, err := h.LinkByName(name)
			if err != nil {
				return fmt.Errorf("find link %s: %w", name, err)
			}
			index, mac = l.Attrs().Index, l.Attrs().HardwareAddr
			carrier = l.Attrs().RawFlags&unix.IFF_LOWER_UP != 0
			return nil
		}); err != nil {
			return nil, fmt.Errorf("dhcp on %s: %w", name, err)
		}
		if carrier {
			break
		}
		if time.Now().After(wait) {
			return nil, fmt.Errorf("dhcp on %s: no carrier after %s", name, carrierWait)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dhcp on %s: no carrier: %w", name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	if len(mac) != 6 {
		return nil, fmt.Errorf("dhcp on %s: the link has no Ethernet address", name)
	}
	var fd int
	if err := s.socket(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_IP)))
		if err != nil {
			return fmt.Errorf("open a packet socket: %w", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: index}); err != nil {
			unix.Close(fd)
			return fmt.Errorf("bind a packet socket to %s: %w", name, err)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("dhcp on %s: %w", name, err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 200000}); err != nil {
		return nil, fmt.Errorf("dhcp on %s: set a receive timeout: %w", name, err)
	}
	c := &dhcpClient{fd: fd, index: index, mac: mac}
	lease, err := c.lease(ctx)
	if err != nil {
		return nil, fmt.Errorf("dhcp on %s: %w", name, err)
	}
	return lease, nil
}

type dhcpClient struct {
	fd    int
	index int
	mac   net.HardwareAddr
	xid   uint32
}

// lease runs DISCOVER/OFFER then REQUEST/ACK, retransmitting with a doubling wait (2 s to
// 16 s), and starts again after a NAK.
func (c *dhcpClient) lease(ctx context.Context) (*Lease, error) {
	var buf [4]byte
	if _, err := rand.Read(buf[:]); err != nil {
		return nil, err
	}
	c.xid = binary.BigEndian.Uint32(buf[:])
	for {
		offer, err := c.exchange(ctx, c.message(dhcpDiscover, netip.Addr{}, netip.Addr{}), dhcpOffer)
		if err != nil {
			return nil, fmt.Errorf("no offer: %w", err)
		}
		ack, err := c.exchange(ctx, c.message(dhcpRequest, offer.yiaddr, offer.serverID()), dhcpAck)
		if errors.Is(err, errNak) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("no acknowledgement of %s: %w", offer.yiaddr, err)
		}
		return ack.lease()
	}
}

var errNak = errors.New("the server refused the request (NAK)")

// exchange sends msg until a reply of type want (or a NAK) comes or ctx ends.
func (c *dhcpClient) exchange(ctx context.Context, msg []byte, want byte) (*dhcpReply, error) {
	wait := 2 * time.Second
	for {
		if err := c.send(msg); err != nil {
			return nil, err
		}
		deadline := time.Now().Add(wait)
		for time.Now().Before(deadline) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			r, err := c.receive()
			if err != nil {
				return nil, err
			}
			switch {
			case r == nil:
			case r.msgType() == want:
				return r, nil
			case r.msgType() == dhcpNak && want == dhcpAck:
				return nil, errNak
			}
		}
		if wait < 16*time.Second {
			wait *= 2
		}
	}
}

// message builds a BOOTP request of type t, broadcast from 0.0.0.0:68 to 255.255.255.255:67
// inside its IPv4 and UDP headers.
func (c *dhcpClient) message(t byte, requested, server netip.Addr) []byte {
	b := make([]byte, 240, bootpMinLen)
	b[0], b[1], b[2] = 1, 1, 6 // BOOTREQUEST, Ethernet, hlen
	binary.BigEndian.PutUint32(b[4:], c.xid)
	binary.BigEndian.PutUint16(b[10:], 0x8000) // broadcast replies: the link has no address yet
	copy(b[28:], c.mac)
	binary.BigEndian.PutUint32(b[236:], dhcpMagic)
	b = append(b, optMessageType, 1, t)
	b = append(b, optClientID, 7, 1)
	b = append(b, c.mac...)
	if requested.IsValid() {
		ip := requested.As4()
		b = append(b, optRequestedIP, 4)
		b = append(b, ip[:]...)
	}
	if server.IsValid() {
		ip := server.As4()
		b = append(b, optServerID, 4)
		b = append(b, ip[:]...)
	}
	b = append(b, optParamList, 4, optSubnetMask, optRouter, optDNS, optLeaseTime, optEnd)
	for len(b) < bootpMinLen {
		b = append(b, 0)
	}
	return ipUDP(b)
}

// ipUDP wraps a BOOTP payload in UDP (no checksum, allowed over IPv4) and IPv4 headers.
func ipUDP(payload []byte) []byte {
	total := ipHeaderLen + udpHeaderLen + len(payload)
	p := make([]byte, ipHeaderLen+udpHeaderLen, total)
	p[0], p[8], p[9] = 0x45, 64, unix.IPPROTO_UDP
	binary.BigEndian.PutUint16(p[2:], uint16(total))
	copy(p[16:20], []byte{255, 255, 255, 255})
	binary.BigEndian.PutUint16(p[10:], ipChecksum(p[:ipHeaderLen]))
	binary.BigEndian.PutUint16(p[20:], clientPort)
	binary.BigEndian.PutUint16(p[22:], serverPort)
	binary.BigEndian.PutUint16(p[24:], uint16(udpHeaderLen+len(payload)))
	return append(p, payload...)
}

func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func (c *dhcpClient) send(pkt []byte) error {
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: c.index, Halen: 6,
		Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	if err := unix.Sendto(c.fd, pkt, 0, to); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

// receive reads one packet; nil when it is not a reply to this client or the read timed out.
func (c *dhcpClient) receive() (*dhcpReply, error) {
	buf := make([]byte, 1600)
	n, _, err := unix.Recvfrom(c.fd, buf, 0)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("receive: %w", err)
	}
	return parseReply(buf[:n], c.xid, c.mac), nil
}

// dhcpReply is a BOOTREPLY addressed to this client.
type dhcpReply struct {
	yiaddr netip.Addr
	opts   map[byte][]byte
}

func parseReply(p []byte, xid uint32, mac net.HardwareAddr) *dhcpReply {
	if len(p) < ipHeaderLen || p[0]>>4 != 4 || p[9] != unix.IPPROTO_UDP {
		return nil
	}
	ihl := int(p[0]&0x0f) * 4
	if ihl < ipHeaderLen || len(p) < ihl+udpHeaderLen {
		return nil
	}
	udp := p[ihl:]
	if binary.BigEndian.Uint16(udp[2:]) != clientPort {
		return nil
	}
	b := udp[udpHeaderLen:]
	if len(b) < 240 || b[0] != 2 || binary.BigEndian.Uint32(b[4:]) != xid ||
		!bytes.Equal(b[28:34], mac) || binary.BigEndian.Uint32(b[236:]) != dhcpMagic {
		return nil
	}
	r := &dhcpReply{yiaddr: netip.AddrFrom4([4]byte(b[16:20])), opts: map[byte][]byte{}}
	for o := b[240:]; len(o) > 0; {
		code := o[0]
		if code == optEnd {
			break
		}
		if code == 0 {
			o = o[1:]
			continue
		}
		if len(o) < 2 || len(o) < 2+int(o[1]) {
			break
		}
		r.opts[code] = o[2 : 2+int(o[1])]
		o = o[2+int(o[1]):]
	}
	return r
}

func (r *dhcpReply) msgType() byte {
	if v := r.opts[optMessageType]; len(v) == 1 {
		return v[0]
	}
	return 0
}

func (r *dhcpReply) serverID() netip.Addr {
	if v := r.opts[optServerID]; len(v) == 4 {
		return netip.AddrFrom4([4]byte(v))
	}
	return netip.Addr{}
}

func addrs4(v []byte) []netip.Addr {
	var out []netip.Addr
	for ; len(v) >= 4; v = v[4:] {
		out = append(out, netip.AddrFrom4([4]byte(v[:4])))
	}
	return out
}

func (r *dhcpReply) lease() (*Lease, error) {
	if !r.yiaddr.IsValid() || r.yiaddr.IsUnspecified() {
		return nil, errors.New("the acknowledgement has no address")
	}
	bits := 24
	if m := r.opts[optSubnetMask]; len(m) == 4 {
		ones, size := net.IPMask(m).Size()
		if size == 0 {
			return nil, fmt.Errorf("the subnet mask %v is not a prefix", net.IP(m))
		}
		bits = ones
	} else if r.yiaddr.As4()[0] < 128 {
		bits = 8
	} else if r.yiaddr.As4()[0] < 192 {
		bits = 16
	}
	l := &Lease{Addr: netip.PrefixFrom(r.yiaddr, bits), DNS: addrs4(r.opts[optDNS]), Server: r.serverID()}
	if routers := addrs4(r.opts[optRouter]); len(routers) > 0 {
		l.Router = routers[0]
	}
	if v := r.opts[optLeaseTime]; len(v) == 4 {
		if secs := binary.BigEndian.Uint32(v); secs != ^uint32(0) {
			l.Lifetime = time.Duration(secs) * time.Second
		}
	}
	return l, nil
}
