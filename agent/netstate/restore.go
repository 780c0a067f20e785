package netstate

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// madeKinds are the kinds of link the runner makes (for configured networking) and therefore
// deletes and makes again when it restores a state. Other links (devices, veth pairs, tunnels)
// are never deleted: the runner could not make them again.
var madeKinds = map[string]bool{"bond": true, "bridge": true, "vlan": true}

// settableAddrFlags are the address flags a caller may set (IFA_F_NODAD, IFA_F_MANAGETEMPADDR,
// IFA_F_NOPREFIXROUTE, IFA_F_MCAUTOJOIN); the others are the kernel's.
const settableAddrFlags = unix.IFA_F_NODAD | unix.IFA_F_MANAGETEMPADDR | unix.IFA_F_NOPREFIXROUTE | unix.IFA_F_MCAUTOJOIN

// Restore puts the namespace back into state want: links are matched by index (then, for
// devices, by name) and renamed back; bonds, bridges and VLANs that want lacks are deleted and
// those it has are made again; memberships, MTUs, MAC addresses, bridge settings and up/down
// states are set; addresses and routes are removed and added until they are want's. It goes
// on past errors, then checks the result and reports every difference that is left.
func (s *Stack) Restore(want *State) error {
	var errs []error
	err := s.run(func(h *netlink.Handle) error {
		errs = restoreWith(h, want)
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore the network: %w", err)
	}
	got, err := s.Take()
	if err != nil {
		return fmt.Errorf("restore the network: %w", errors.Join(append(errs, err)...))
	}
	if diff := Diff(want, got); len(diff) > 0 {
		errs = append(errs, fmt.Errorf("still different: %s", strings.Join(diff, "; ")))
	}
	if len(errs) > 0 {
		return fmt.Errorf("restore the network: %w", errors.Join(errs...))
	}
	return nil
}

func restoreWith(h *netlink.Handle, want *State) []error {
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	cur, err := h.LinkList()
	if err != nil {
		return []error{fmt.Errorf("list links: %w", err)}
	}
	byIndex := map[int]netlink.Link{}
	for _, l := range cur {
		byIndex[l.Attrs().Index] = l
	}
	// Match: the same index and kind is the same link; a device may also be found by name.
	matched := map[string]netlink.Link{}
	used := map[int]bool{}
	for _, w := range want.Links {
		if l, ok := byIndex[w.Index]; ok && kindOf(l) == w.Kind {
			matched[w.Name], used[w.Index] = l, true
		}
	}
	for _, w := range want.Links {
		if _, ok := matched[w.Name]; ok || madeKinds[w.Kind] {
			continue
		}
		for _, l := range cur {
			if a := l.Attrs(); !used[a.Index] && a.Name == w.Name && kindOf(l) == w.Kind {
				matched[w.Name], used[a.Index] = l, true
			}
		}
	}
	// Delete the links the runner made that want lacks; the others stay.
	for _, l := range cur {
		if a := l.Attrs(); !used[a.Index] && madeKinds[kindOf(l)] {
			if err := h.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
				note(fmt.Errorf("delete %s %s: %w", kindOf(l), a.Name, err))
			}
		}
	}
	// Rename in two steps, so that names can be swapped.
	var renamed []string
	for _, w := range want.Links {
		l, ok := matched[w.Name]
		if !ok || l.Attrs().Name == w.Name {
			continue
		}
		if err := h.LinkSetDown(l); err != nil {
			note(fmt.Errorf("take %s down to rename it %s: %w", l.Attrs().Name, w.Name, err))
			continue
		}
		if err := h.LinkSetName(l, fmt.Sprintf("mgtmp%d", l.Attrs().Index)); err != nil {
			note(fmt.Errorf("rename %s to %s: %w", l.Attrs().Name, w.Name, err))
			continue
		}
		renamed = append(renamed, w.Name)
	}
	for _, name := range renamed {
		if err := h.LinkSetName(matched[name], name); err != nil {
			note(fmt.Errorf("rename link %d to %s: %w", matched[name].Attrs().Index, name, err))
		}
	}
	// Make the missing bonds and bridges, then the VLANs on what exists.
	missing := map[string]Link{}
	for _, w := range want.Links {
		if _, ok := matched[w.Name]; !ok {
			missing[w.Name] = w
		}
	}
	for progress := true; progress && len(missing) > 0; {
		progress = false
		links, err := linksByName(h)
		if err != nil {
			return append(errs, err)
		}
		for _, name := range sortedKeys(missing) {
			w := missing[name]
			if w.Kind == "vlan" && links[w.Parent] == nil {
				continue
			}
			delete(missing, name)
			progress = true
			note(makeLink(h, w, links))
		}
	}
	for _, name := range sortedKeys(missing) {
		note(fmt.Errorf("cannot make %s %s again: its parent %s is missing", orDevice(missing[name].Kind), name, missing[name].Parent))
	}
	links, err := linksByName(h)
	if err != nil {
		return append(errs, err)
	}
	note(restoreLinks(h, want, links))
	links, err = linksByName(h)
	if err != nil {
		return append(errs, err)
	}
	errs = append(errs, restoreAddrs(h, want, links)...)
	errs = append(errs, restoreRoutes(h, want, links)...)
	return errs
}

func kindOf(l netlink.Link) string {
	if t := l.Type(); t != "device" {
		return t
	}
	return ""
}

// makeLink makes a bond, a bridge or a VLAN of a state again, down and without members.
func makeLink(h *netlink.Handle, w Link, links map[string]netlink.Link) error {
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.MTU = w.Name, w.MTU
	if w.MAC != "" {
		mac, err := net.ParseMAC(w.MAC)
		if err != nil {
			return fmt.Errorf("make %s %s again: MAC %q: %w", w.Kind, w.Name, w.MAC, err)
		}
		attrs.HardwareAddr = mac
	}
	var l netlink.Link
	switch w.Kind {
	case "bond":
		b := netlink.NewLinkBond(attrs)
		if w.Bond != nil {
			applyBondAttrs(b, *w.Bond)
		}
		l = b
	case "bridge":
		l = &netlink.Bridge{LinkAttrs: attrs}
	case "vlan":
		attrs.ParentIndex = links[w.Parent].Attrs().Index
		l = &netlink.Vlan{LinkAttrs: attrs, VlanId: w.VLANID}
	default:
		return fmt.Errorf("link %s (%s) is gone and cannot be made again", w.Name, orDevice(w.Kind))
	}
	if err := h.LinkAdd(l); err != nil {
		return fmt.Errorf("make %s %s again: %w", w.Kind, w.Name, err)
	}
	if w.Kind == "bridge" && w.Bridge != nil {
		return setBridgeSTP(l.Attrs().Index, *w.Bridge)
	}
	return nil
}

// applyBondAttrs sets a bond's settings before it is made.
func applyBondAttrs(b *netlink.Bond, a BondAttrs) {
	b.Mode = netlink.StringToBondMode(a.Mode)
	b.Miimon, b.UpDelay, b.DownDelay = a.Miimon, a.UpDelay, a.DownDelay
	if a.XmitHashPolicy != "" {
		b.XmitHashPolicy = netlink.StringToBondXmitHashPolicy(a.XmitHashPolicy)
	}
	if a.LacpRate != "" {
		b.LacpRate = netlink.StringToBondLacpRate(a.LacpRate)
	}
}

// linkDepth orders links for changes: devices first, then bonds, bridges, and VLANs.
func linkDepth(kind string) int {
	switch kind {
	case "bond":
		return 1
	case "bridge":
		return 2
	case "vlan":
		return 3
	}
	return 0
}

// restoreLinks sets memberships, MTUs, MACs, bridge settings and up/down states.
func restoreLinks(h *netlink.Handle, want *State, links map[string]netlink.Link) error {
	var errs []error
	ordered := append([]Link(nil), want.Links...)
	sort.SliceStable(ordered, func(i, j int) bool { return linkDepth(ordered[i].Kind) < linkDepth(ordered[j].Kind) })
	masterOf := func(l netlink.Link) string {
		for name, m := range links {
			if m.Attrs().Index == l.Attrs().MasterIndex && l.Attrs().MasterIndex != 0 {
				return name
			}
		}
		return ""
	}
	// Memberships first: a bond sets its members' MTU and MAC.
	for _, w := range ordered {
		l := links[w.Name]
		if l == nil || masterOf(l) == w.Master {
			continue
		}
		var err error
		if w.Master == "" {
			err = h.LinkSetNoMaster(l)
		} else if m := links[w.Master]; m == nil {
			err = fmt.Errorf("its master %s is missing", w.Master)
		} else {
			if kindOf(m) == "bond" {
				_ = h.LinkSetDown(l)
			}
			err = h.LinkSetMasterByIndex(l, m.Attrs().Index)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("set the master of %s to %q: %w", w.Name, w.Master, err))
		}
	}
	for _, w := range ordered {
		l := links[w.Name]
		if l == nil {
			continue
		}
		a := l.Attrs()
		if w.MTU > 0 && a.MTU != w.MTU {
			if err := h.LinkSetMTU(l, w.MTU); err != nil {
				errs = append(errs, fmt.Errorf("set the MTU of %s to %d: %w", w.Name, w.MTU, err))
			}
		}
		if w.MAC != "" && a.HardwareAddr.String() != w.MAC {
			if err := setMAC(h, l, w.MAC); err != nil {
				errs = append(errs, err)
			}
		}
		if w.Kind == "bridge" && w.Bridge != nil {
			if err := setBridgeSTP(a.Index, *w.Bridge); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, w := range ordered {
		l := links[w.Name]
		if l == nil || (l.Attrs().Flags&net.FlagUp != 0) == w.Up {
			continue
		}
		var err error
		if w.Up {
			err = h.LinkSetUp(l)
		} else {
			err = h.LinkSetDown(l)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("set %s up=%v: %w", w.Name, w.Up, err))
		}
	}
	return errors.Join(errs...)
}

// setMAC sets a link's MAC address, taking it down for drivers that refuse to change it while
// it is up.
func setMAC(h *netlink.Handle, l netlink.Link, mac string) error {
	hw, err := net.ParseMAC(mac)
	if err != nil {
		return fmt.Errorf("set the MAC of %s: %w", l.Attrs().Name, err)
	}
	if err := h.LinkSetHardwareAddr(l, hw); err == nil {
		return nil
	}
	if err := h.LinkSetDown(l); err != nil {
		return fmt.Errorf("take %s down to set its MAC: %w", l.Attrs().Name, err)
	}
	if err := h.LinkSetHardwareAddr(l, hw); err != nil {
		return fmt.Errorf("set the MAC of %s to %s: %w", l.Attrs().Name, mac, err)
	}
	return nil
}

// restoreAddrs removes the addresses want lacks and adds those it has.
func restoreAddrs(h *netlink.Handle, want *State, links map[string]netlink.Link) []error {
	var errs []error
	wanted := map[string]map[string]Addr{}
	for _, a := range want.Addrs {
		if wanted[a.Link] == nil {
			wanted[a.Link] = map[string]Addr{}
		}
		wanted[a.Link][a.CIDR] = a
	}
	for _, w := range want.Links {
		l := links[w.Name]
		if l == nil {
			continue
		}
		have, err := h.AddrList(l, unix.AF_UNSPEC)
		if err != nil {
			errs = append(errs, fmt.Errorf("list the addresses of %s: %w", w.Name, err))
			continue
		}
		present := map[string]bool{}
		for _, a := range have {
			if kernelLinkLocal(a.IPNet) {
				continue
			}
			cidr := a.IPNet.String()
			if _, ok := wanted[w.Name][cidr]; ok {
				present[cidr] = true
				continue
			}
			if err := h.AddrDel(l, &a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
				errs = append(errs, fmt.Errorf("remove %s from %s: %w", cidr, w.Name, err))
			}
		}
		for _, cidr := range sortedKeys(wanted[w.Name]) {
			if present[cidr] {
				continue
			}
			a := wanted[w.Name][cidr]
			ip, ipnet, err := net.ParseCIDR(a.CIDR)
			if err != nil {
				errs = append(errs, fmt.Errorf("address %q of %s: %w", a.CIDR, w.Name, err))
				continue
			}
			ipnet.IP = ip
			na := &netlink.Addr{IPNet: ipnet, Scope: a.Scope, Flags: a.Flags & settableAddrFlags, Label: a.Label,
				ValidLft: a.ValidLft, PreferedLft: a.PreferedLft}
			if err := h.AddrAdd(l, na); err != nil && !errors.Is(err, unix.EEXIST) {
				errs = append(errs, fmt.Errorf("add %s to %s: %w", a.CIDR, w.Name, err))
			}
		}
	}
	return errs
}

// restoreRoutes removes the routes want lacks and adds those it has, but for the routes the
// kernel makes from addresses (they came back with them).
func restoreRoutes(h *netlink.Handle, want *State, links map[string]netlink.Link) []error {
	var errs []error
	names := map[int]string{}
	for name, l := range links {
		names[l.Attrs().Index] = name
	}
	var have []netlink.Route
	if err := retryDump(func() (err error) {
		have, err = h.RouteListFiltered(unix.AF_UNSPEC, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
		return err
	}); err != nil {
		return []error{fmt.Errorf("list routes: %w", err)}
	}
	wanted := map[string]Route{}
	for _, r := range want.Routes {
		wanted[r.key()] = r
	}
	present := map[string]bool{}
	for _, nr := range have {
		if nr.Table == unix.RT_TABLE_LOCAL || (nr.Protocol == unix.RTPROT_KERNEL && nr.Dst != nil && kernelLinkLocal(nr.Dst)) {
			continue
		}
		r := routeOf(nr, names)
		if w, ok := wanted[r.key()]; ok && w.String() == r.String() {
			present[r.key()] = true
			continue
		}
		if r.kernelRoute() {
			continue
		}
		if err := h.RouteDel(&nr); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("remove route %s: %w", r, err))
		}
	}
	var add []Route
	for _, r := range want.Routes {
		if !present[r.key()] && !r.kernelRoute() {
			add = append(add, r)
		}
	}
	// Routes to the link first, then routes through gateways on it.
	sort.SliceStable(add, func(i, j int) bool { return add[i].Scope > add[j].Scope })
	for _, r := range add {
		if r.Multipath != "" {
			errs = append(errs, fmt.Errorf("route %s: multipath routes are not restored", r))
			continue
		}
		nr, err := netlinkRoute(r, links)
		if err == nil {
			err = h.RouteAppend(nr) // several default routes at one metric are kept so
		}
		if err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("add route %s: %w", r, err))
		}
	}
	return errs
}

func netlinkRoute(r Route, links map[string]netlink.Link) (*netlink.Route, error) {
	_, dst, err := net.ParseCIDR(r.Dst)
	if err != nil {
		return nil, err
	}
	nr := &netlink.Route{Dst: dst, Table: r.Table, Family: r.Family, Priority: r.Priority, Scope: netlink.Scope(r.Scope),
		Type: r.Type, Protocol: netlink.RouteProtocol(r.Protocol)}
	if r.Dev != "" {
		l := links[r.Dev]
		if l == nil {
			return nil, fmt.Errorf("its link %s is missing", r.Dev)
		}
		nr.LinkIndex = l.Attrs().Index
	}
	if r.Gw != "" {
		nr.Gw = net.ParseIP(r.Gw)
	}
	if r.Src != "" {
		nr.Src = net.ParseIP(r.Src)
	}
	return nr, nil
}
