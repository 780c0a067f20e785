package inventory

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"maasgo/collectors/schema"
)

// switchOpenBMCMAC is the MAC every OpenBMC interface of some switches shares; upstream
// never models it.
const switchOpenBMCMAC = "02:00:00:00:00:02"

// interfaces models the broadcast interfaces of networks, parents first, following
// update_node_interfaces: VLANs, bonds and bridges from their relations, everything else
// physical with the details of its card port. A physical interface is connected when it is
// up and its port has carrier (an interface without a port, a veth: when it is up and the
// collector's link extension says it has carrier, or says nothing); a VLAN when it is up and its parent is connected; a bond or a
// bridge when it is up and one of its members is (a bridge without modelled ports: when it is
// up). Upstream leaves the aggregates and VLANs connected whatever their members found.
func interfaces(doc *schema.Document, nodes map[uint64]bool) ([]Interface, error) {
	out := []Interface{}
	modelled := map[string]bool{}
	connected := map[string]bool{}
	for _, name := range processOrder(doc.Networks) {
		n := doc.Networks[name]
		if n.Type != "broadcast" || n.Hwaddr == switchOpenBMCMAC {
			continue
		}
		iface := Interface{
			Name: name, MACAddress: n.Hwaddr, Parents: []string{}, Tags: []string{}, MTU: n.Mtu,
			Enabled: true, LinkConnected: true, Links: globalLinks(n),
		}
		switch {
		case n.VLAN != nil:
			if !modelled[n.VLAN.LowerDevice] {
				continue
			}
			vid := n.VLAN.VID
			iface.Type, iface.VID, iface.Parents = "vlan", &vid, []string{n.VLAN.LowerDevice}
			iface.LinkConnected = n.State == "up" && connected[n.VLAN.LowerDevice]
		case n.Bond != nil || n.Bridge != nil:
			var parents []string
			if n.Bridge != nil {
				iface.Type, parents = "bridge", n.Bridge.UpperDevices
				iface.Params = bridgeParams(n.Bridge)
			} else {
				iface.Type, parents = "bond", n.Bond.LowerDevices
				iface.Params = bondParams(n.Bond)
			}
			anyUp := false
			for _, p := range parents {
				if modelled[p] {
					iface.Parents = append(iface.Parents, p)
					anyUp = anyUp || connected[p]
				}
			}
			if len(iface.Parents) == 0 && n.Bridge == nil {
				continue
			}
			iface.LinkConnected = n.State == "up" && (anyUp || len(iface.Parents) == 0)
		default:
			card, port := cardPort(doc.Resources.Network.Cards, name)
			iface.Type = "physical"
			if port != nil && port.Address != "" {
				iface.MACAddress = port.Address
			}
			if len(iface.MACAddress) > 17 { // IPoIB
				continue
			}
			iface.LinkConnected = n.State == "up" && (port == nil || port.LinkDetected)
			if port == nil && n.Link != nil {
				// No card port (a veth): the collector's own reading of its link.
				iface.LinkConnected = n.State == "up" && n.Link.LinkDetected
				if iface.LinkConnected {
					iface.LinkSpeed = n.Link.LinkSpeed
				}
			}
			if port != nil {
				if !nodes[card.NUMANode] {
					return nil, fmt.Errorf("%w: interface %s is on node %d", ErrUnknownNUMANode, name, card.NUMANode)
				}
				iface.Vendor, iface.Product, iface.FirmwareVersion = card.Vendor, card.Product, card.FirmwareVersion
				iface.NUMANode = card.NUMANode
				if card.SRIOV != nil {
					iface.SRIOVMaxVF = card.SRIOV.MaximumVFs
				}
				if iface.SRIOVMaxVF > 0 {
					iface.Tags = append(iface.Tags, "sriov")
				}
				iface.InterfaceSpeed = interfaceSpeed(port)
				if iface.LinkConnected {
					iface.LinkSpeed = port.LinkSpeed
				}
			}
		}
		modelled[name] = true
		connected[name] = iface.LinkConnected
		out = append(out, iface)
	}
	return out, nil
}

// cardPort finds the card and port of an interface, among the cards and their VFs.
func cardPort(cards []schema.NetworkCard, name string) (*schema.NetworkCard, *schema.NetworkCardPort) {
	for i := range cards {
		c := &cards[i]
		for j := range c.Ports {
			if c.Ports[j].ID == name {
				return c, &c.Ports[j]
			}
		}
		if c.SRIOV != nil {
			if vc, vp := cardPort(c.SRIOV.VFs, name); vp != nil {
				return vc, vp
			}
		}
	}
	return nil, nil
}

// interfaceSpeed is the largest speed among the supported modes; without modes it falls
// back to the link speed (upstream reports 0 there).
func interfaceSpeed(p *schema.NetworkCardPort) uint64 {
	var best uint64
	for _, m := range p.SupportedModes {
		n, _, _ := strings.Cut(m, "base")
		if v, err := strconv.ParseUint(n, 10, 64); err == nil && v > best {
			best = v
		}
	}
	if best == 0 {
		return p.LinkSpeed
	}
	return best
}

func globalLinks(n schema.NetworkState) []string {
	out := []string{}
	for _, a := range n.Addresses {
		if a.Scope == "global" {
			out = append(out, a.Address+"/"+a.Netmask)
		}
	}
	return out
}

// processOrder sorts interface names topologically, parents first, names sorted within
// each level (upstream's sorttop order).
func processOrder(networks map[string]schema.NetworkState) []string {
	deps := map[string]map[string]bool{}
	for name, n := range networks {
		var parents []string
		switch {
		case n.Bridge != nil:
			parents = n.Bridge.UpperDevices
		case n.Bond != nil:
			parents = n.Bond.LowerDevices
		case n.VLAN != nil:
			parents = []string{n.VLAN.LowerDevice}
		}
		deps[name] = map[string]bool{}
		for _, p := range parents {
			if _, ok := networks[p]; ok && p != name {
				deps[name][p] = true
			}
		}
	}
	var out []string
	done := map[string]bool{}
	for len(done) < len(deps) {
		var level []string
		for name, d := range deps {
			if done[name] {
				continue
			}
			ready := true
			for p := range d {
				if !done[p] {
					ready = false
					break
				}
			}
			if ready {
				level = append(level, name)
			}
		}
		if len(level) == 0 { // a cycle: take what is left in name order
			for name := range deps {
				if !done[name] {
					level = append(level, name)
				}
			}
		}
		sort.Strings(level)
		for _, n := range level {
			done[n] = true
		}
		out = append(out, level...)
	}
	return out
}

// bondParams are a bond's settings as upstream's interface params (bond_mode, bond_miimon,
// …), so that the configured networking renders the bond as the machine had it; upstream
// leaves a commissioned bond's params empty, which netplan renders as a balance-rr bond.
func bondParams(b *schema.NetworkBond) map[string]any {
	p := map[string]any{
		"bond_miimon":    b.MIIFrequency,
		"bond_updelay":   b.UpDelay,
		"bond_downdelay": b.DownDelay,
	}
	if b.Mode != "" {
		p["bond_mode"] = b.Mode
	}
	if b.TransmitPolicy != "" {
		p["bond_xmit_hash_policy"] = b.TransmitPolicy
	}
	return p
}

// bridgeParams are a bridge's settings as upstream's interface params: STP and the forward
// delay in seconds (sysfs has centiseconds).
func bridgeParams(b *schema.NetworkBridge) map[string]any {
	return map[string]any{"bridge_stp": b.STP, "bridge_fd": b.ForwardDelay / 100}
}
