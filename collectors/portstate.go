package collectors

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"strconv"
	"strings"
)

// PortState is the state of one network interface's link as the runner reports it with a
// network test's result (link_connected, link_speed, interface_speed: protocol.md §6.8,
// hardware.md §3.4) and as it decides whether the interface can be tested.
type PortState struct {
	Name string
	// OperState is the RFC 2863 operational state (/sys/class/net/<name>/operstate: up,
	// down, lowerlayerdown, dormant, unknown, ...); "" when it could not be read.
	OperState string
	// Carrier says the physical link is detected (carrier, or ETHTOOL_GLINK where sysfs has
	// no answer); CarrierKnown says one of them answered. An interface that is
	// administratively down has no carrier.
	Carrier, CarrierKnown bool
	// LinkSpeed is the speed the link runs at in Mbit/s while it is connected; 0 when
	// unknown or not connected.
	LinkSpeed uint64
	// InterfaceSpeed is the fastest supported link mode in Mbit/s (ethtool); 0 when unknown.
	InterfaceSpeed uint64
	// Master is the bond or bridge the interface is a port of; "" when none.
	Master string
	// Addresses are the interface's addresses other than loopback and link-local ones;
	// AddressesKnown says they could be listed (the Netlink seam answered).
	Addresses      []netip.Prefix
	AddressesKnown bool
}

// Connected reports whether the link is connected: a carrier and the operational state up
// (or unknown, which some drivers report while their link works). known is false when
// neither the carrier nor the operational state could be read: nothing is assumed then.
func (p PortState) Connected() (connected, known bool) {
	if p.CarrierKnown {
		return p.Carrier && (p.OperState == "up" || p.OperState == "unknown" || p.OperState == ""), true
	}
	if p.OperState == "" || p.OperState == "unknown" {
		return false, false
	}
	return p.OperState == "up", true
}

// Describe says in words what the link is like, for a person reading a test's output:
// "up, carrier, 10000 Mbit/s", "lowerlayerdown, no carrier".
func (p PortState) Describe() string {
	var parts []string
	if p.OperState != "" {
		parts = append(parts, p.OperState)
	}
	if p.CarrierKnown {
		if p.Carrier {
			parts = append(parts, "carrier")
		} else {
			parts = append(parts, "no carrier")
		}
	}
	if p.LinkSpeed > 0 {
		parts = append(parts, strconv.FormatUint(p.LinkSpeed, 10)+" Mbit/s")
	}
	if len(parts) == 0 {
		return "link state unknown"
	}
	return strings.Join(parts, ", ")
}

// ReadPortState reads the link state of interface name from sysfs (operstate, carrier,
// speed, master, ifindex) and the seams: ETHTOOL_GLINK when sysfs has no carrier answer,
// ETHTOOL_GLINKSETTINGS for the speeds, and the addresses from the Netlink seam. A seam
// that is nil or does not answer leaves its part unknown.
//
// Reads: /sys/class/net/<name>/{operstate,carrier,speed,master,ifindex}.
func ReadPortState(f *FS, seams Seams, name string) (PortState, error) {
	p := PortState{Name: name}
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return p, fmt.Errorf("read link state: bad interface name %q", name)
	}
	nd := sysClassNet + "/" + name
	if !f.Exists(nd) {
		return p, fmt.Errorf("read link state of %s: no such interface in %s", name, sysClassNet)
	}
	p.OperState, _ = readOptString(f, nd+"/operstate")
	switch c, err := f.ReadString(nd + "/carrier"); {
	case err == nil && (c == "0" || c == "1"):
		p.Carrier, p.CarrierKnown = c == "1", true
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		// The kernel answers EINVAL while the interface is administratively down.
		p.Carrier, p.CarrierKnown = false, true
	case seams.Ethtool != nil:
		if up, err := seams.Ethtool.LinkDetected(name); err == nil {
			p.Carrier, p.CarrierKnown = up, true
		}
	}
	connected, _ := p.Connected()
	if seams.Ethtool != nil {
		if s, err := seams.Ethtool.LinkSettings(name); err == nil {
			for _, m := range supportedModes(s.Supported) {
				p.InterfaceSpeed = max(p.InterfaceSpeed, ModeSpeed(m))
			}
			if connected && speedKnown(s.Speed) {
				p.LinkSpeed = uint64(s.Speed)
			}
		}
	}
	if connected && p.LinkSpeed == 0 {
		if v, ok, err := readInt(f, nd+"/speed"); err == nil && ok && v > 0 && v <= 0x7fffffff && speedKnown(uint32(v)) {
			p.LinkSpeed = uint64(v)
		}
	}
	p.Master = f.LinkBase(nd + "/master")
	if seams.Netlink != nil {
		idx, ok, err := readUint(f, nd+"/ifindex")
		if err == nil && ok {
			if addrs, err := seams.Netlink.Addrs(); err == nil {
				p.AddressesKnown = true
				for _, a := range addrs {
					if uint64(a.LinkIndex) != idx {
						continue
					}
					ip, err := netip.ParseAddr(a.IP)
					if err != nil || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
						continue
					}
					if pfx := netip.PrefixFrom(ip, a.PrefixLen); pfx.IsValid() {
						p.Addresses = append(p.Addresses, pfx)
					}
				}
			}
		}
	}
	return p, nil
}
