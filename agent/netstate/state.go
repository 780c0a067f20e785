package netstate

import (
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// State is a network namespace's configuration as the runner changes it: its links with their
// memberships, its addresses and its routes. It is what Restore puts back, and what the runner
// saves in its storage directory while configured networking is applied, so that a runner
// that crashed restores it when it starts again.
type State struct {
	Links  []Link  `json:"links"`
	Addrs  []Addr  `json:"addrs"`
	Routes []Route `json:"routes"`
}

// Link is a network link.
type Link struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
	// Kind is the link's rtnetlink kind: "" for a device, or bond, bridge, vlan, veth, dummy…
	Kind   string `json:"kind,omitempty"`
	MTU    int    `json:"mtu"`
	MAC    string `json:"mac,omitempty"`
	Up     bool   `json:"up"` // administratively
	Master string `json:"master,omitempty"`
	// Parent and VLANID are a VLAN's.
	Parent string       `json:"parent,omitempty"`
	VLANID int          `json:"vlan_id,omitempty"`
	Bond   *BondAttrs   `json:"bond,omitempty"`
	Bridge *BridgeAttrs `json:"bridge,omitempty"`
	// OperState ("up", "down", "lowerlayerdown"…) and PortState (a bridge port's STP state:
	// "forwarding", "blocking"…) are read, never restored or compared.
	OperState string `json:"oper_state,omitempty"`
	PortState string `json:"port_state,omitempty"`
}

// BondAttrs are the settings a bond is made again with.
type BondAttrs struct {
	Mode           string `json:"mode"`
	Miimon         int    `json:"miimon"`
	UpDelay        int    `json:"updelay"`
	DownDelay      int    `json:"downdelay"`
	XmitHashPolicy string `json:"xmit_hash_policy,omitempty"`
	LacpRate       string `json:"lacp_rate,omitempty"`
}

// BridgeAttrs are the settings a bridge is made again with.
type BridgeAttrs struct {
	STP bool `json:"stp"`
	// ForwardDelay is in centiseconds, as the kernel keeps it.
	ForwardDelay uint32 `json:"forward_delay"`
}

// Addr is an address of a link, but for IPv6 link-local ones (the kernel's, from the MAC).
type Addr struct {
	Link  string `json:"link"`
	CIDR  string `json:"cidr"`
	Scope int    `json:"scope"`
	Flags int    `json:"flags"`
	Label string `json:"label,omitempty"`
	// ValidLft and PreferedLft are the lifetimes in seconds the address had left (a DHCP
	// lease's); 0 for a permanent address.
	ValidLft    int `json:"valid_lft,omitempty"`
	PreferedLft int `json:"prefered_lft,omitempty"`
}

// Route is a route of any table but the local one (which the kernel derives from the
// addresses), and but the IPv6 link-local routes (the kernel's, for every link that is up).
type Route struct {
	Table    int    `json:"table"`
	Family   int    `json:"family"`
	Dst      string `json:"dst"` // CIDR; 0.0.0.0/0 or ::/0 for a default route
	Gw       string `json:"gw,omitempty"`
	Dev      string `json:"dev,omitempty"`
	Src      string `json:"src,omitempty"`
	Priority int    `json:"priority"`
	Scope    int    `json:"scope"`
	Type     int    `json:"type"`
	Protocol int    `json:"protocol"`
	// Multipath routes are compared but not restored.
	Multipath string `json:"multipath,omitempty"`
}

// kernelRoute reports whether the kernel makes the route itself from an address (a prefix
// route): it is compared, but comes back with its address instead of being added.
func (r Route) kernelRoute() bool { return r.Protocol == unix.RTPROT_KERNEL }

// key identifies a route in its table.
func (r Route) key() string {
	return fmt.Sprintf("table %d %s via %s dev %s metric %d type %d", r.Table, r.Dst, orNone(r.Gw), orNone(r.Dev), r.Priority, r.Type)
}

func (r Route) String() string {
	s := r.key() + fmt.Sprintf(" scope %d proto %d", r.Scope, r.Protocol)
	if r.Src != "" {
		s += " src " + r.Src
	}
	if r.Multipath != "" {
		s += " nexthops " + r.Multipath
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Take reads the namespace's state.
func (s *Stack) Take() (*State, error) {
	st := &State{}
	err := s.run(func(h *netlink.Handle) error {
		var links []netlink.Link
		if err := retryDump(func() (err error) { links, err = h.LinkList(); return err }); err != nil {
			return fmt.Errorf("list links: %w", err)
		}
		names := map[int]string{}
		for _, l := range links {
			names[l.Attrs().Index] = l.Attrs().Name
		}
		bridges, ports, err := bridgeDetails()
		if err != nil {
			return err
		}
		for _, l := range links {
			st.Links = append(st.Links, linkOf(l, names, bridges, ports))
		}
		var addrs []netlink.Addr
		if err := retryDump(func() (err error) { addrs, err = h.AddrList(nil, unix.AF_UNSPEC); return err }); err != nil {
			return fmt.Errorf("list addresses: %w", err)
		}
		for _, a := range addrs {
			if a.IPNet == nil || kernelLinkLocal(a.IPNet) {
				continue
			}
			st.Addrs = append(st.Addrs, Addr{Link: names[a.LinkIndex], CIDR: a.IPNet.String(), Scope: a.Scope,
				Flags: a.Flags, Label: a.Label, ValidLft: lifetime(a.ValidLft), PreferedLft: lifetime(a.PreferedLft)})
		}
		var routes []netlink.Route
		if err := retryDump(func() (err error) {
			routes, err = h.RouteListFiltered(unix.AF_UNSPEC, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
			return err
		}); err != nil {
			return fmt.Errorf("list routes: %w", err)
		}
		for _, r := range routes {
			if r.Table == unix.RT_TABLE_LOCAL || (r.Protocol == unix.RTPROT_KERNEL && r.Dst != nil && kernelLinkLocal(r.Dst)) {
				continue
			}
			st.Routes = append(st.Routes, routeOf(r, names))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	st.sort()
	return st, nil
}

// kernelLinkLocal reports whether n is an IPv6 link-local /64, which the kernel gives every
// link that comes up (its address from the link's MAC, with a route): they are left out of a
// state, and come back with the links.
func kernelLinkLocal(n *net.IPNet) bool {
	ones, bits := n.Mask.Size()
	return bits == 128 && ones == 64 && n.IP.IsLinkLocalUnicast()
}

// lifetime turns the kernel's "forever" into 0.
func lifetime(v int) int {
	if uint32(v) == ^uint32(0) || v < 0 {
		return 0
	}
	return v
}

func linkOf(l netlink.Link, names map[int]string, bridges map[int]BridgeAttrs, ports map[int]string) Link {
	a := l.Attrs()
	out := Link{Index: a.Index, Name: a.Name, MTU: a.MTU, Up: a.Flags&net.FlagUp != 0, OperState: a.OperState.String(),
		PortState: ports[a.Index]}
	if len(a.HardwareAddr) > 0 {
		out.MAC = a.HardwareAddr.String()
	}
	if a.MasterIndex != 0 {
		out.Master = names[a.MasterIndex]
	}
	switch t := l.Type(); t {
	case "device":
	default:
		out.Kind = t
	}
	switch v := l.(type) {
	case *netlink.Vlan:
		out.Parent, out.VLANID = names[a.ParentIndex], v.VlanId
	case *netlink.Bond:
		out.Bond = &BondAttrs{Mode: v.Mode.String(), Miimon: v.Miimon, UpDelay: v.UpDelay, DownDelay: v.DownDelay}
		if v.XmitHashPolicy != netlink.BOND_XMIT_HASH_POLICY_UNKNOWN {
			out.Bond.XmitHashPolicy = v.XmitHashPolicy.String()
		}
		if v.Mode == netlink.BOND_MODE_802_3AD && v.LacpRate != netlink.BOND_LACP_RATE_UNKNOWN {
			out.Bond.LacpRate = v.LacpRate.String()
		}
	case *netlink.Bridge:
		b := bridges[a.Index]
		out.Bridge = &b
	}
	return out
}

func routeOf(r netlink.Route, names map[int]string) Route {
	out := Route{Table: r.Table, Family: r.Family, Dev: names[r.LinkIndex], Priority: r.Priority, Scope: int(r.Scope),
		Type: r.Type, Protocol: int(r.Protocol)}
	switch {
	case r.Dst != nil:
		out.Dst = r.Dst.String()
	case r.Family == unix.AF_INET6:
		out.Dst = "::/0"
	default:
		out.Dst = "0.0.0.0/0"
	}
	if r.Gw != nil {
		out.Gw = r.Gw.String()
	}
	if r.Src != nil {
		out.Src = r.Src.String()
	}
	var hops []string
	for _, nh := range r.MultiPath {
		hops = append(hops, fmt.Sprintf("%s@%s", nh.Gw, names[nh.LinkIndex]))
	}
	out.Multipath = strings.Join(hops, ",")
	return out
}

func (st *State) sort() {
	sort.Slice(st.Links, func(i, j int) bool { return st.Links[i].Name < st.Links[j].Name })
	sort.Slice(st.Addrs, func(i, j int) bool {
		if st.Addrs[i].Link != st.Addrs[j].Link {
			return st.Addrs[i].Link < st.Addrs[j].Link
		}
		return st.Addrs[i].CIDR < st.Addrs[j].CIDR
	})
	sort.Slice(st.Routes, func(i, j int) bool { return st.Routes[i].String() < st.Routes[j].String() })
}

// Link finds a link by name.
func (st *State) Link(name string) (Link, bool) {
	for _, l := range st.Links {
		if l.Name == name {
			return l, true
		}
	}
	return Link{}, false
}

// Diff lists how b differs from a, one line each, empty when they are the same: links (by
// name: kind, MTU, MAC, up, master, VLAN, bond and bridge settings), addresses (by link and
// CIDR, with their scope) and routes. Operational state, address flags and lifetimes and
// interface indexes are left out: the kernel changes them by itself.
func Diff(a, b *State) []string {
	var out []string
	al, bl := map[string]Link{}, map[string]Link{}
	for _, l := range a.Links {
		al[l.Name] = l
	}
	for _, l := range b.Links {
		bl[l.Name] = l
	}
	for _, name := range sortedKeys(al, bl) {
		x, inA := al[name]
		y, inB := bl[name]
		switch {
		case !inB:
			out = append(out, fmt.Sprintf("link %s is gone", name))
		case !inA:
			out = append(out, fmt.Sprintf("link %s (%s) is new", name, orDevice(y.Kind)))
		default:
			if d := x.compared(); d != y.compared() {
				out = append(out, fmt.Sprintf("link %s was %s, is %s", name, d, y.compared()))
			}
		}
	}
	aa, ba := map[string]bool{}, map[string]bool{}
	for _, x := range a.Addrs {
		aa[fmt.Sprintf("%s on %s scope %d", x.CIDR, x.Link, x.Scope)] = true
	}
	for _, x := range b.Addrs {
		ba[fmt.Sprintf("%s on %s scope %d", x.CIDR, x.Link, x.Scope)] = true
	}
	out = append(out, setDiff("address", aa, ba)...)
	ar, br := map[string]bool{}, map[string]bool{}
	for _, r := range a.Routes {
		ar[r.String()] = true
	}
	for _, r := range b.Routes {
		br[r.String()] = true
	}
	out = append(out, setDiff("route", ar, br)...)
	return out
}

func orDevice(kind string) string {
	if kind == "" {
		return "device"
	}
	return kind
}

// compared is what Diff compares of a link.
func (l Link) compared() string {
	s := fmt.Sprintf("%s mtu %d mac %s up %v master %s", orDevice(l.Kind), l.MTU, orNone(l.MAC), l.Up, orNone(l.Master))
	if l.Kind == "vlan" {
		s += fmt.Sprintf(" vlan %d on %s", l.VLANID, l.Parent)
	}
	if l.Bond != nil {
		s += fmt.Sprintf(" bond %+v", *l.Bond)
	}
	if l.Bridge != nil {
		s += fmt.Sprintf(" bridge %+v", *l.Bridge)
	}
	return s
}

func sortedKeys[V any](maps ...map[string]V) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range maps {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

func setDiff(what string, a, b map[string]bool) []string {
	var out []string
	for _, k := range sortedKeys(a, b) {
		switch {
		case a[k] && !b[k]:
			out = append(out, fmt.Sprintf("%s %s is gone", what, k))
		case b[k] && !a[k]:
			out = append(out, fmt.Sprintf("%s %s is new", what, k))
		}
	}
	return out
}
