package netcheck

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// binder ties sockets to the interface under test: SO_BINDTODEVICE, and the interface's
// own source address of the destination's family, so that the kernel routes through that
// interface (its routes, or on-link when it has none) and source-based routing rules apply.
// An empty ifname binds nothing: the machine's routes decide.
type binder struct {
	ifname     string
	src4, src6 netip.Addr // global-scope addresses of the interface; zero when it has none
	// stubConf is the resolv.conf that lists the real name servers when /etc/resolv.conf
	// names only a local stub resolver (systemd-resolved's 127.0.0.53).
	stubConf string
}

// bindFD binds socket fd for a connection to dst.
func (b *binder) bindFD(fd int, dst netip.Addr) error {
	if b.ifname == "" {
		return nil
	}
	if err := unix.BindToDevice(fd, b.ifname); err != nil {
		return fmt.Errorf("bind a socket to %s: %w", b.ifname, err)
	}
	src := b.source(dst)
	if !src.IsValid() {
		return nil
	}
	var sa unix.Sockaddr
	if src.Is4() {
		sa = &unix.SockaddrInet4{Addr: src.As4()}
	} else {
		sa = &unix.SockaddrInet6{Addr: src.As16()}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("bind a socket to %s's address %s: %w", b.ifname, src, err)
	}
	return nil
}

// source is the address a socket to dst is bound to: the interface's global address of
// dst's family. A link-local destination gets none (the kernel picks the link-local
// address of the bound interface).
func (b *binder) source(dst netip.Addr) netip.Addr {
	dst = dst.Unmap()
	switch {
	case dst.Is4():
		return b.src4
	case dst.IsLinkLocalUnicast() || dst.IsLoopback():
		return netip.Addr{}
	}
	return b.src6
}

// control is a net.Dialer's Control: it binds every socket the dialer opens.
func (b *binder) control(network, address string, c syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s %s: %w", network, address, err)
	}
	var berr error
	if err := c.Control(func(fd uintptr) { berr = b.bindFD(int(fd), ap.Addr()) }); err != nil {
		return err
	}
	return berr
}

// dialer returns a dialer whose sockets are bound to the interface and which resolves names
// through it.
func (b *binder) dialer() *net.Dialer {
	return &net.Dialer{Control: b.control, Resolver: b.resolver()}
}

// resolver resolves names through the interface: Go's own resolver (it reads
// /etc/resolv.conf and /etc/hosts) whose connections to the name servers are bound to the
// interface. A name server on the loopback (a local stub resolver) cannot be reached through
// another interface: the real servers behind it are asked instead (systemd-resolved lists
// them in stubConf), or, without such a list, the stub itself, unbound.
func (b *binder) resolver() *net.Resolver {
	if b.ifname == "" {
		return &net.Resolver{PreferGo: true}
	}
	bound := &net.Dialer{Control: b.control}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(address)
		if err == nil && ap.Addr().Unmap().IsLoopback() && b.ifname != "lo" {
			servers := nameServers(b.stubConf)
			if len(servers) == 0 {
				var d net.Dialer
				return d.DialContext(ctx, network, address)
			}
			address = netip.AddrPortFrom(servers[0], ap.Port()).String()
		}
		return bound.DialContext(ctx, network, address)
	}}
}

// lookup resolves host to addresses through the interface, those of a family the interface
// has an address of first. An IP literal is its own answer.
func (b *binder) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{b.withZone(a)}, nil
	}
	addrs, err := b.resolver().LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s%s: %w", host, b.through(), err)
	}
	var first, rest []netip.Addr
	for _, a := range addrs {
		a = a.Unmap()
		if b.ifname == "" || b.source(a).IsValid() {
			first = append(first, a)
		} else {
			rest = append(rest, a)
		}
	}
	return append(first, rest...), nil
}

// withZone gives a link-local IPv6 address without a zone the interface's.
func (b *binder) withZone(a netip.Addr) netip.Addr {
	if a.Is6() && a.Zone() == "" && (a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast()) && b.ifname != "" {
		return a.WithZone(b.ifname)
	}
	return a
}

// through is " through <interface>" for messages, or "".
func (b *binder) through() string {
	if b.ifname == "" {
		return ""
	}
	return " through " + b.ifname
}

// maxResolvConf bounds the resolv.conf read.
const maxResolvConf = 1 << 20

// nameServers reads the name servers of a resolv.conf file, leaving out loopback ones.
// A missing or unreadable file gives none.
func nameServers(path string) []netip.Addr {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []netip.Addr
	sc := bufio.NewScanner(io.LimitReader(f, maxResolvConf))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "nameserver" {
			continue
		}
		if a, err := netip.ParseAddr(fields[1]); err == nil && !a.Unmap().IsLoopback() {
			out = append(out, a.Unmap())
		}
	}
	return out
}
