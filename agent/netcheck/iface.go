package netcheck

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// iface is what netcheck knows of the interface under test, read over rtnetlink.
type iface struct {
	name      string
	index     int
	operState string
	carrier   bool // IFF_LOWER_UP
	adminUp   bool // IFF_UP
	addrs     []netip.Prefix
	src4      netip.Addr
	src6      netip.Addr
}

// lookupIface reads the interface's index, state and addresses. The source addresses are
// its first usable global-scope ones: not link-local, not tentative (IPv6 duplicate address
// detection still running), not deprecated unless nothing else is left.
func lookupIface(name string) (*iface, error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("find interface %s: %w", name, err)
	}
	a := link.Attrs()
	ifc := &iface{name: a.Name, index: a.Index, operState: a.OperState.String(),
		carrier: a.RawFlags&unix.IFF_LOWER_UP != 0, adminUp: a.RawFlags&unix.IFF_UP != 0}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list the addresses of %s: %w", name, err)
	}
	var dep4, dep6 netip.Addr
	for _, ad := range addrs {
		if ad.IPNet == nil {
			continue
		}
		ip, ok := netip.AddrFromSlice(ad.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		ones, _ := ad.Mask.Size()
		ifc.addrs = append(ifc.addrs, netip.PrefixFrom(ip, ones))
		if ip.IsLinkLocalUnicast() || ip.IsLoopback() || ad.Flags&unix.IFA_F_TENTATIVE != 0 || ad.Flags&unix.IFA_F_DADFAILED != 0 {
			continue
		}
		deprecated := ad.Flags&unix.IFA_F_DEPRECATED != 0
		switch {
		case ip.Is4() && !deprecated && !ifc.src4.IsValid():
			ifc.src4 = ip
		case ip.Is4() && deprecated && !dep4.IsValid():
			dep4 = ip
		case ip.Is6() && !deprecated && !ifc.src6.IsValid():
			ifc.src6 = ip
		case ip.Is6() && deprecated && !dep6.IsValid():
			dep6 = ip
		}
	}
	if !ifc.src4.IsValid() {
		ifc.src4 = dep4
	}
	if !ifc.src6.IsValid() {
		ifc.src6 = dep6
	}
	return ifc, nil
}

// connected reports whether the link is up with a carrier.
func (i *iface) connected() bool {
	return i.adminUp && i.carrier && (i.operState == "up" || i.operState == "unknown")
}

// state describes the interface for a failure message: "m0: lowerlayerdown, no carrier".
func (i *iface) state() string {
	var parts []string
	if !i.adminUp {
		parts = append(parts, "administratively down")
	} else if i.operState != "" {
		parts = append(parts, i.operState)
	}
	if !i.carrier {
		parts = append(parts, "no carrier")
	}
	if !i.src4.IsValid() && !i.src6.IsValid() {
		parts = append(parts, "no address")
	}
	return i.name + ": " + strings.Join(parts, ", ")
}

// Gateway is a next hop that routes through the interface.
type Gateway struct {
	Addr netip.Addr
	// Dst is the destination of the first route found through it ("default" for 0.0.0.0/0
	// and ::/0).
	Dst string
}

// Gateways lists the gateways of every route through interface ifname (all interfaces
// when ""), IPv4 then IPv6, each once, in every routing table but the local one: the main
// table's default routes and the tables of source-based routing rules alike. Multipath
// routes count the next hops through the interface.
func Gateways(ifname string) ([]Gateway, error) {
	index := 0
	if ifname != "" {
		link, err := netlink.LinkByName(ifname)
		if err != nil {
			return nil, fmt.Errorf("find interface %s: %w", ifname, err)
		}
		index = link.Attrs().Index
	}
	var out []Gateway
	seen := map[netip.Addr]bool{}
	add := func(gw net.IP, dst *net.IPNet, linkIndex int) {
		a, ok := netip.AddrFromSlice(gw)
		if !ok || !a.IsValid() || a.IsUnspecified() || (index != 0 && linkIndex != index) {
			return
		}
		a = a.Unmap()
		if a.Is6() && a.IsLinkLocalUnicast() {
			if l, err := netlink.LinkByIndex(linkIndex); err == nil {
				a = a.WithZone(l.Attrs().Name)
			}
		}
		if seen[a] {
			return
		}
		seen[a] = true
		d := "default"
		if dst != nil {
			if ones, _ := dst.Mask.Size(); ones != 0 {
				d = dst.String()
			}
		}
		out = append(out, Gateway{Addr: a, Dst: d})
	}
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := netlink.RouteListFiltered(family, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
		if err != nil {
			return nil, fmt.Errorf("list routes: %w", err)
		}
		// Routes of the main table first, then the others by table number.
		sort.SliceStable(routes, func(i, j int) bool {
			return tableRank(routes[i].Table) < tableRank(routes[j].Table)
		})
		for _, r := range routes {
			if r.Table == unix.RT_TABLE_LOCAL {
				continue
			}
			add(r.Gw, r.Dst, r.LinkIndex)
			for _, nh := range r.MultiPath {
				add(nh.Gw, r.Dst, nh.LinkIndex)
			}
		}
	}
	return out, nil
}

func tableRank(t int) int {
	if t == unix.RT_TABLE_MAIN {
		return -1
	}
	return t
}
