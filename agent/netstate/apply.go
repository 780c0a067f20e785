package netstate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"maasgo/wire"
)

// DefaultDHCPTimeout bounds the wait for one link's DHCP lease.
const DefaultDHCPTimeout = 30 * time.Second

// dhcpRouteMetric is the metric of a default route learnt by DHCP (netplan's default for
// networkd).
const dhcpRouteMetric = 100

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// Log receives one line per change and per setting that is not applied.
	Log io.Writer
	// DHCPTimeout bounds each link's DHCP exchange. Zero: DefaultDHCPTimeout.
	DHCPTimeout time.Duration
}

func (o ApplyOptions) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// Apply configures the namespace as doc says, as netplan apply would with networkd, for what
// the region renders: it deletes the bonds, bridges and VLANs there are, takes every link but
// lo down and clears its addresses (upstream takes all links down before netplan applies),
// then finds the ethernets by MAC (or name) and renames them (set-name), makes the bonds,
// VLANs and bridges over them with their parameters, sets MTUs and MACs, brings the
// configured links up and gives them their static addresses, gateways and routes, and their
// DHCPv4 leases from the built-in client (a link that gets none stays without an address, as
// with networkd). What it cannot apply (DHCPv6, nameservers, keys it does not model) it names
// in the log and leaves alone. The caller restores the state it took before, whatever Apply
// did.
func (s *Stack) Apply(ctx context.Context, doc *wire.Netplan, opt ApplyOptions) error {
	n := doc.Network
	var dhcp []string
	// Links that were up without carrier before: taking them down and up again gives no
	// cable back, so their DHCP exchange does not wait CarrierWait for one.
	dead := map[string]bool{}
	err := s.run(func(h *netlink.Handle) error {
		ethernets, err := findEthernets(h, n.Ethernets)
		if err != nil {
			return err
		}
		deadIndex := map[int]bool{}
		for _, l := range ethernets {
			if a := l.Attrs(); a.RawFlags&unix.IFF_UP != 0 && a.RawFlags&unix.IFF_LOWER_UP == 0 {
				deadIndex[a.Index] = true
			}
		}
		if err := clearLinks(h, opt); err != nil {
			return err
		}
		names := ethernetNames(ethernets, n.Ethernets)
		if err := renameEthernets(h, ethernets, names, opt); err != nil {
			return err
		}
		order, err := makeVirtual(h, n, names, opt)
		if err != nil {
			return err
		}
		links, err := linksByName(h)
		if err != nil {
			return err
		}
		for _, id := range order {
			dev, name := deviceOf(n, id), names[id]
			l := links[name]
			if l == nil {
				return fmt.Errorf("apply %s: the link is missing", name)
			}
			if dev.MTU > 0 && l.Attrs().MTU != dev.MTU {
				if err := h.LinkSetMTU(l, dev.MTU); err != nil {
					return fmt.Errorf("set the MTU of %s to %d: %w", name, dev.MTU, err)
				}
			}
			if err := h.LinkSetUp(l); err != nil {
				return fmt.Errorf("bring %s up: %w", name, err)
			}
			opt.logf("%s: up", name)
		}
		for _, id := range order {
			dev, name := deviceOf(n, id), names[id]
			if err := addAddresses(h, links[name], dev, opt); err != nil {
				return err
			}
			if dev.DHCP4 {
				dhcp = append(dhcp, name)
				dead[name] = deadIndex[links[name].Attrs().Index]
			}
			if dev.DHCP6 {
				opt.logf("%s: dhcp6 not applied: the runner has no DHCPv6 client (netplan is not installed); IPv6 router advertisements still configure the link", name)
			}
			if dev.Nameservers != nil {
				opt.logf("%s: nameservers %v not applied: the runner leaves resolv.conf alone", name, dev.Nameservers.Addresses)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("apply the configured networking: %w", err)
	}
	s.leases(ctx, dhcp, dead, doc, opt)
	return nil
}

// leases runs the DHCPv4 client on links, all at once, and gives each link its lease (dead:
// the links that had no carrier while up before, which get a second for one). A link
// without a lease is named in the log and left without an address, as networkd leaves it:
// the test of that link fails or is skipped, the others go on.
func (s *Stack) leases(ctx context.Context, links []string, dead map[string]bool, doc *wire.Netplan, opt ApplyOptions) {
	timeout := opt.DHCPTimeout
	if timeout <= 0 {
		timeout = DefaultDHCPTimeout
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range links {
		wg.Go(func() {
			dctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			wait := CarrierWait
			if dead[name] {
				wait = time.Second
			}
			lease, err := s.dhcp4(dctx, name, wait)
			if err == nil {
				err = s.addLease(name, lease, doc, opt, &mu)
			}
			if err != nil {
				mu.Lock()
				opt.logf("%s: no DHCPv4 address: %v", name, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// deviceOf finds a device of any section.
func deviceOf(n wire.NetplanNetwork, name string) wire.NetplanDevice {
	for _, section := range []map[string]wire.NetplanDevice{n.Ethernets, n.Bonds, n.VLANs, n.Bridges} {
		if d, ok := section[name]; ok {
			return d
		}
	}
	return wire.NetplanDevice{}
}

// findEthernets maps each ethernets entry to its link: by MAC (the permanent one, as a bond
// member's current MAC is its bond's), by match.name, else by the entry's name.
func findEthernets(h *netlink.Handle, ethernets map[string]wire.NetplanDevice) (map[string]netlink.Link, error) {
	links, err := linksByName(h)
	if err != nil {
		return nil, err
	}
	out := map[string]netlink.Link{}
	for _, id := range sortedKeys(ethernets) {
		dev := ethernets[id]
		var found netlink.Link
		switch {
		case dev.Match != nil && dev.Match.MACAddress != "":
			want, err := net.ParseMAC(dev.Match.MACAddress)
			if err != nil {
				return nil, fmt.Errorf("ethernets.%s: match.macaddress: %w", id, err)
			}
			for _, name := range sortedKeys(links) {
				l := links[name]
				a := l.Attrs()
				mac := a.PermHWAddr
				if len(mac) == 0 {
					mac = a.HardwareAddr
				}
				if !madeKinds[kindOf(l)] && mac.String() == want.String() {
					found = l
					break
				}
			}
			if found == nil {
				return nil, fmt.Errorf("ethernets.%s: no link has the MAC address %s", id, want)
			}
		case dev.Match != nil && dev.Match.Name != "":
			if strings.ContainsAny(dev.Match.Name, "*?[") {
				return nil, fmt.Errorf("ethernets.%s: match.name %q: patterns are not supported without netplan", id, dev.Match.Name)
			}
			if found = links[dev.Match.Name]; found == nil {
				return nil, fmt.Errorf("ethernets.%s: no link is named %s", id, dev.Match.Name)
			}
		default:
			if found = links[id]; found == nil {
				return nil, fmt.Errorf("ethernets.%s: no link is named %s", id, id)
			}
		}
		out[id] = found
	}
	return out, nil
}

// clearLinks deletes the bonds, bridges and VLANs and takes every other link but lo down,
// without its addresses.
func clearLinks(h *netlink.Handle, opt ApplyOptions) error {
	links, err := linksByName(h)
	if err != nil {
		return err
	}
	names := sortedKeys(links)
	// VLANs first: deleting their parent first would take them along.
	sort.SliceStable(names, func(i, j int) bool {
		return kindOf(links[names[i]]) == "vlan" && kindOf(links[names[j]]) != "vlan"
	})
	for _, name := range names {
		l := links[name]
		if !madeKinds[kindOf(l)] {
			continue
		}
		if err := h.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
			return fmt.Errorf("delete %s %s: %w", kindOf(l), name, err)
		}
		opt.logf("%s: deleted", name)
	}
	links, err = linksByName(h)
	if err != nil {
		return err
	}
	for _, name := range sortedKeys(links) {
		l := links[name]
		if l.Attrs().Flags&net.FlagLoopback != 0 {
			continue
		}
		if err := h.LinkSetDown(l); err != nil {
			return fmt.Errorf("take %s down: %w", name, err)
		}
		addrs, err := h.AddrList(l, unix.AF_UNSPEC)
		if err != nil {
			return fmt.Errorf("list the addresses of %s: %w", name, err)
		}
		for _, a := range addrs {
			if err := h.AddrDel(l, &a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
				return fmt.Errorf("remove %s from %s: %w", a.IPNet, name, err)
			}
		}
		if l.Attrs().MasterIndex != 0 {
			if err := h.LinkSetNoMaster(l); err != nil {
				return fmt.Errorf("take %s out of its master: %w", name, err)
			}
		}
	}
	return nil
}

// ethernetNames are the kernel names the ethernets get: their set-name, else the name of the
// link they matched (netplan renames a device only with set-name), else their id. Bonds,
// bridges and VLANs name their lower devices by id.
func ethernetNames(found map[string]netlink.Link, ethernets map[string]wire.NetplanDevice) map[string]string {
	names := map[string]string{}
	for id, l := range found {
		names[id] = l.Attrs().Name
		if n := ethernets[id].SetName; n != "" {
			names[id] = n
		}
	}
	return names
}

// renameEthernets gives the ethernets their names, in two steps so that names can be swapped.
func renameEthernets(h *netlink.Handle, found map[string]netlink.Link, names map[string]string, opt ApplyOptions) error {
	var ids []string
	for _, id := range sortedKeys(found) {
		if names[id] != found[id].Attrs().Name {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		if err := h.LinkSetName(found[id], fmt.Sprintf("mgtmp%d", found[id].Attrs().Index)); err != nil {
			return fmt.Errorf("ethernets.%s: rename %s: %w", id, found[id].Attrs().Name, err)
		}
	}
	for _, id := range ids {
		if err := h.LinkSetName(found[id], names[id]); err != nil {
			return fmt.Errorf("ethernets.%s: rename to %s: %w", id, names[id], err)
		}
		opt.logf("%s: renamed from %s", names[id], found[id].Attrs().Name)
	}
	return nil
}

// makeVirtual makes the bonds, VLANs and bridges, each once what it stands on exists, and
// returns every configured device's id with its kernel name, lower ones first.
func makeVirtual(h *netlink.Handle, n wire.NetplanNetwork, names map[string]string, opt ApplyOptions) ([]string, error) {
	order := sortedKeys(n.Ethernets)
	type pending struct {
		kind string
		dev  wire.NetplanDevice
	}
	todo := map[string]pending{}
	for kind, section := range map[string]map[string]wire.NetplanDevice{"bond": n.Bonds, "vlan": n.VLANs, "bridge": n.Bridges} {
		for id, dev := range section {
			if _, dup := names[id]; dup {
				return nil, fmt.Errorf("%s is defined twice", id)
			}
			names[id] = id
			todo[id] = pending{kind, dev}
		}
	}
	lowerName := func(id string) string {
		if n, ok := names[id]; ok {
			return n
		}
		return id
	}
	for len(todo) > 0 {
		links, err := linksByName(h)
		if err != nil {
			return nil, err
		}
		progress := false
		for _, id := range sortedKeys(todo) {
			p := todo[id]
			lower := p.dev.Interfaces
			if p.kind == "vlan" {
				lower = []string{p.dev.Link}
			}
			var members []netlink.Link
			for _, l := range lower {
				members = append(members, links[lowerName(l)])
			}
			if slicesContainNil(members) {
				continue
			}
			if err := makeDevice(h, id, p.kind, p.dev, members, opt); err != nil {
				return nil, err
			}
			delete(todo, id)
			order = append(order, id)
			progress = true
		}
		if !progress {
			return nil, fmt.Errorf("cannot make %s: what they stand on is not defined", strings.Join(sortedKeys(todo), ", "))
		}
	}
	return order, nil
}

func slicesContainNil(links []netlink.Link) bool {
	for _, l := range links {
		if l == nil {
			return true
		}
	}
	return false
}

// makeDevice makes one bond, VLAN or bridge and puts its interfaces in it.
func makeDevice(h *netlink.Handle, name, kind string, dev wire.NetplanDevice, lower []netlink.Link, opt ApplyOptions) error {
	attrs := netlink.NewLinkAttrs()
	attrs.Name = name
	if dev.MACAddress != "" {
		mac, err := net.ParseMAC(dev.MACAddress)
		if err != nil {
			return fmt.Errorf("%ss.%s: macaddress: %w", kind, name, err)
		}
		attrs.HardwareAddr = mac
	}
	var l netlink.Link
	var br *BridgeAttrs
	switch kind {
	case "bond":
		b := netlink.NewLinkBond(attrs)
		a, err := bondAttrs(dev.Parameters, opt, name)
		if err != nil {
			return fmt.Errorf("bonds.%s: %w", name, err)
		}
		applyBondAttrs(b, a)
		l = b
	case "vlan":
		if dev.ID < 1 || dev.ID > 4094 {
			return fmt.Errorf("vlans.%s: id %d is not a VLAN id", name, dev.ID)
		}
		attrs.ParentIndex = lower[0].Attrs().Index
		l = &netlink.Vlan{LinkAttrs: attrs, VlanId: dev.ID}
	case "bridge":
		a, err := bridgeAttrs(dev.Parameters, opt, name)
		if err != nil {
			return fmt.Errorf("bridges.%s: %w", name, err)
		}
		br = &a
		l = &netlink.Bridge{LinkAttrs: attrs}
	}
	if err := h.LinkAdd(l); err != nil {
		return fmt.Errorf("make %s %s: %w", kind, name, err)
	}
	if br != nil {
		if err := setBridgeSTP(l.Attrs().Index, *br); err != nil {
			return err
		}
	}
	var over []string
	for _, m := range lower {
		over = append(over, m.Attrs().Name)
		if kind == "vlan" {
			continue
		}
		if kind == "bond" {
			if err := h.LinkSetDown(m); err != nil {
				return fmt.Errorf("take %s down to put it in bond %s: %w", m.Attrs().Name, name, err)
			}
		}
		if err := h.LinkSetMasterByIndex(m, l.Attrs().Index); err != nil {
			return fmt.Errorf("put %s in %s %s: %w", m.Attrs().Name, kind, name, err)
		}
	}
	opt.logf("%s: made %s over %s", name, kind, strings.Join(over, " "))
	return nil
}

// bondAttrs reads the bond parameters the runner applies; the others are named in the log.
func bondAttrs(params map[string]any, opt ApplyOptions, name string) (BondAttrs, error) {
	a := BondAttrs{Mode: "balance-rr"}
	for _, k := range sortedKeys(params) {
		v := params[k]
		var err error
		switch k {
		case "mode":
			a.Mode = fmt.Sprint(v)
			if netlink.StringToBondMode(a.Mode) == netlink.BOND_MODE_UNKNOWN {
				err = fmt.Errorf("unknown mode %q", a.Mode)
			}
		case "mii-monitor-interval":
			a.Miimon, err = millis(v, time.Millisecond)
		case "up-delay":
			a.UpDelay, err = millis(v, time.Millisecond)
		case "down-delay":
			a.DownDelay, err = millis(v, time.Millisecond)
		case "transmit-hash-policy":
			a.XmitHashPolicy = fmt.Sprint(v)
		case "lacp-rate":
			a.LacpRate = fmt.Sprint(v)
		default:
			opt.logf("%s: bond parameter %s=%v not applied", name, k, v)
		}
		if err != nil {
			return a, fmt.Errorf("parameters.%s: %w", k, err)
		}
	}
	return a, nil
}

// bridgeAttrs reads the bridge parameters the runner applies. STP is on unless stp is false
// and the forward delay 15 s unless forward-delay says otherwise, as netplan has them.
func bridgeAttrs(params map[string]any, opt ApplyOptions, name string) (BridgeAttrs, error) {
	a := BridgeAttrs{STP: true, ForwardDelay: 1500}
	for _, k := range sortedKeys(params) {
		v := params[k]
		switch k {
		case "stp":
			b, ok := v.(bool)
			if !ok {
				return a, fmt.Errorf("parameters.stp: %v is not true or false", v)
			}
			a.STP = b
		case "forward-delay":
			ms, err := millis(v, time.Second)
			if err != nil {
				return a, fmt.Errorf("parameters.forward-delay: %w", err)
			}
			a.ForwardDelay = uint32(ms / 10)
		default:
			opt.logf("%s: bridge parameter %s=%v not applied", name, k, v)
		}
	}
	return a, nil
}

// millis reads a netplan time: a number in unit, or a string with a Go duration suffix.
func millis(v any, unit time.Duration) (int, error) {
	switch x := v.(type) {
	case int:
		return int(time.Duration(x) * unit / time.Millisecond), nil
	case float64:
		return int(time.Duration(x*float64(unit)) / time.Millisecond), nil
	case string:
		if n, err := strconv.Atoi(x); err == nil {
			return int(time.Duration(n) * unit / time.Millisecond), nil
		}
		d, err := time.ParseDuration(x)
		if err != nil {
			return 0, fmt.Errorf("%q is not a time", x)
		}
		return int(d / time.Millisecond), nil
	}
	return 0, fmt.Errorf("%v is not a time", v)
}

// addAddresses gives a link its static addresses, its gateways and its routes.
func addAddresses(h *netlink.Handle, l netlink.Link, dev wire.NetplanDevice, opt ApplyOptions) error {
	name := l.Attrs().Name
	for _, cidr := range dev.Addresses {
		a, err := netlink.ParseAddr(cidr)
		if err != nil {
			return fmt.Errorf("%s: address %q: %w", name, cidr, err)
		}
		if a.IP.To4() == nil {
			a.Flags |= unix.IFA_F_NODAD // the address is usable at once, as networkd's
		}
		if err := h.AddrAdd(l, a); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("add %s to %s: %w", cidr, name, err)
		}
		opt.logf("%s: address %s", name, cidr)
	}
	for _, gw := range []string{dev.Gateway4, dev.Gateway6} {
		if gw == "" {
			continue
		}
		ip := net.ParseIP(gw)
		if ip == nil {
			return fmt.Errorf("%s: gateway %q is not an address", name, gw)
		}
		r := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: ip, Protocol: unix.RTPROT_STATIC}
		if err := h.RouteAppend(r); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("%s: add the default route via %s: %w", name, gw, err)
		}
		opt.logf("%s: default route via %s", name, gw)
	}
	for _, rt := range dev.Routes {
		r := &netlink.Route{LinkIndex: l.Attrs().Index, Protocol: unix.RTPROT_STATIC}
		if rt.To != "default" {
			_, dst, err := net.ParseCIDR(rt.To)
			if err != nil {
				return fmt.Errorf("%s: route to %q: %w", name, rt.To, err)
			}
			r.Dst = dst
		}
		if rt.Via != "" {
			if r.Gw = net.ParseIP(rt.Via); r.Gw == nil {
				return fmt.Errorf("%s: route via %q: not an address", name, rt.Via)
			}
		} else {
			r.Scope = netlink.SCOPE_LINK
		}
		if rt.Metric != nil {
			r.Priority = *rt.Metric
		}
		if err := h.RouteAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("%s: add the route to %s via %s: %w", name, rt.To, rt.Via, err)
		}
		opt.logf("%s: route to %s via %s", name, rt.To, orNone(rt.Via))
	}
	return nil
}

// addLease gives a link the address of its DHCP lease and, unless the document names an IPv4
// gateway, a default route through the lease's router.
func (s *Stack) addLease(name string, lease *Lease, doc *wire.Netplan, opt ApplyOptions, mu *sync.Mutex) error {
	mu.Lock()
	defer mu.Unlock()
	return s.run(func(h *netlink.Handle) error {
		l, err := h.LinkByName(name)
		if err != nil {
			return fmt.Errorf("find link %s: %w", name, err)
		}
		a, err := netlink.ParseAddr(lease.Addr.String())
		if err != nil {
			return err
		}
		if secs := int(lease.Lifetime / time.Second); secs > 0 {
			a.ValidLft, a.PreferedLft = secs, secs
		}
		if err := h.AddrAdd(l, a); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("add the leased %s to %s: %w", lease.Addr, name, err)
		}
		opt.logf("%s: dhcp4 lease %s from %s for %s", name, lease.Addr, lease.Server, lease.Lifetime)
		if !lease.Router.IsValid() || hasGateway4(doc) {
			return nil
		}
		r := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: net.IP(lease.Router.AsSlice()), Priority: dhcpRouteMetric,
			Protocol: unix.RTPROT_DHCP}
		// Appended: every link with a lease gets its own default route at the same metric, as
		// DHCP clients do (adding would refuse all but the first).
		if err := h.RouteAppend(r); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("add the default route via %s on %s: %w", lease.Router, name, err)
		}
		opt.logf("%s: default route via %s (dhcp4)", name, lease.Router)
		return nil
	})
}

func hasGateway4(doc *wire.Netplan) bool {
	n := doc.Network
	for _, section := range []map[string]wire.NetplanDevice{n.Ethernets, n.Bonds, n.VLANs, n.Bridges} {
		for _, d := range section {
			if d.Gateway4 != "" {
				return true
			}
		}
	}
	return false
}
