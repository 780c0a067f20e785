package lifecycle

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"maasgo/region/store"
	"maasgo/wire"
)

// Netplan renders the configured networking of machine m (upstream's NodeNetworkConfiguration,
// version 2) for the scripts tar: every enabled interface, physical ones matched by MAC and
// renamed with set-name, VLANs on their parent, bonds and bridges over their parents with
// their parameters; each with its MTU and its links' addresses. Links render as upstream
// renders them while a machine commissions or tests:
//
//   - static: the address with its subnet's prefix; the subnet's routes; its DNS servers
//     (with the machine's domain to search); the subnet's gateway as gateway4/gateway6 on the
//     machine's default-gateway interface only (the boot interface's first, else the first
//     interface with one);
//   - dhcp: dhcp4 or dhcp6 by the subnet's family, both when it has none;
//   - auto: DHCP as well. Upstream assigns an AUTO link its address when the machine deploys
//     and, until then, renders DHCP on the boot interface; this region allocates no
//     addresses, so every AUTO link (the inventory records what a machine's interfaces had
//     as AUTO) gets its address the way it got it while commissioning;
//   - link_up: no address; the link is only brought up.
//
// The keys are sorted, as upstream's YAML is.
func Netplan(m *store.Machine, ifaces []store.Interface) ([]byte, error) {
	doc, err := netplanDoc(m, ifaces)
	if err != nil {
		return nil, err
	}
	return wire.EncodeNetplan(doc)
}

func netplanDoc(m *store.Machine, ifaces []store.Interface) (*wire.Netplan, error) {
	if m == nil {
		m = &store.Machine{}
	}
	doc := &wire.Netplan{Network: wire.NetplanNetwork{Version: 2}}
	gw := defaultGateways(m, ifaces)
	for _, i := range ifaces {
		if !i.Enabled {
			continue
		}
		d := wire.NetplanDevice{MTU: i.MTU}
		params, err := interfaceParams(i)
		if err != nil {
			return nil, err
		}
		section := &doc.Network.Ethernets
		switch i.Type {
		case "physical":
			if i.MACAddress == "" {
				continue
			}
			d.Match, d.SetName = &wire.NetplanMatch{MACAddress: i.MACAddress}, i.Name
		case "vlan":
			if i.VID == nil || len(i.Parents) == 0 {
				return nil, fmt.Errorf("render netplan: VLAN interface %s has no VLAN id or no parent", i.Name)
			}
			d.ID, d.Link = *i.VID, i.Parents[0]
			section = &doc.Network.VLANs
		case "bond":
			d.MACAddress, d.Interfaces = i.MACAddress, sortedNames(i.Parents)
			d.Parameters = bondParameters(params)
			section = &doc.Network.Bonds
		case "bridge":
			d.MACAddress, d.Interfaces = i.MACAddress, sortedNames(i.Parents)
			d.Parameters = bridgeParameters(params)
			section = &doc.Network.Bridges
		default:
			return nil, fmt.Errorf("render netplan: interface %s has unknown type %q", i.Name, i.Type)
		}
		if err := renderLinks(&d, i, gw, m.Domain); err != nil {
			return nil, err
		}
		if *section == nil {
			*section = map[string]wire.NetplanDevice{}
		}
		(*section)[i.Name] = d
	}
	return doc, nil
}

// gatewayChoice is the interface and gateway of one address family's default route.
type gatewayChoice struct {
	ifaceID int64
	gateway string
}

// defaultGateways picks the machine's default gateway of each family (upstream's
// Node.get_default_gateways): the first static link with a gateway, on the boot interface
// first, then on the interfaces in order.
func defaultGateways(m *store.Machine, ifaces []store.Interface) map[int]gatewayChoice {
	ordered := slices.Clone(ifaces)
	if m.BootInterfaceID != nil {
		slices.SortStableFunc(ordered, func(a, b store.Interface) int {
			ab, bb := a.ID == *m.BootInterfaceID, b.ID == *m.BootInterfaceID
			switch {
			case ab && !bb:
				return -1
			case bb && !ab:
				return 1
			}
			return 0
		})
	}
	out := map[int]gatewayChoice{}
	for _, i := range ordered {
		if !i.Enabled {
			continue
		}
		for _, l := range i.Links {
			if l.Mode != "static" || l.Gateway == "" {
				continue
			}
			gw, err := netip.ParseAddr(l.Gateway)
			if err != nil {
				continue
			}
			fam := family(gw)
			if _, ok := out[fam]; !ok {
				out[fam] = gatewayChoice{ifaceID: i.ID, gateway: gw.String()}
			}
		}
	}
	return out
}

func family(a netip.Addr) int {
	if a.Unmap().Is4() {
		return 4
	}
	return 6
}

// renderLinks adds the addresses, DHCP, gateway, routes and DNS servers of i's links to d.
func renderLinks(d *wire.NetplanDevice, i store.Interface, gw map[int]gatewayChoice, domain string) error {
	var dns []string
	for _, l := range i.Links {
		switch l.Mode {
		case "link_up", "":
		case "dhcp", "auto":
			switch subnetFamily(l) {
			case 4:
				d.DHCP4 = true
			case 6:
				d.DHCP6 = true
			default:
				d.DHCP4, d.DHCP6 = true, true
			}
		case "static":
			addr, err := netip.ParseAddr(l.Address)
			if err != nil {
				return fmt.Errorf("render netplan: static link of %s: address %q: %w", i.Name, l.Address, err)
			}
			subnet, err := netip.ParsePrefix(l.Subnet)
			if err != nil {
				return fmt.Errorf("render netplan: static link of %s: subnet %q: %w", i.Name, l.Subnet, err)
			}
			d.Addresses = append(d.Addresses, netip.PrefixFrom(addr, subnet.Bits()).String())
			fam := family(addr)
			if c, ok := gw[fam]; ok && c.ifaceID == i.ID && c.gateway == l.Gateway {
				if fam == 4 {
					d.Gateway4 = c.gateway
				} else {
					d.Gateway6 = c.gateway
				}
			}
			for _, r := range l.Routes {
				metric := r.Metric
				d.Routes = append(d.Routes, wire.NetplanRoute{To: r.Destination, Via: r.Gateway, Metric: &metric})
			}
			for _, s := range l.DNSServers {
				if !slices.Contains(dns, s) {
					dns = append(dns, s)
				}
			}
		default:
			return fmt.Errorf("render netplan: interface %s has a link of unknown mode %q", i.Name, l.Mode)
		}
	}
	if len(dns) > 0 && len(d.Addresses) > 0 {
		d.Nameservers = &wire.NetplanNameservers{Addresses: dns}
		if domain != "" {
			d.Nameservers.Search = []string{domain}
		}
	}
	return nil
}

// subnetFamily is the address family of a link's subnet (or address), 0 when it has none.
func subnetFamily(l store.Link) int {
	if p, err := netip.ParsePrefix(l.Subnet); err == nil {
		return family(p.Addr())
	}
	if a, err := netip.ParseAddr(l.Address); err == nil {
		return family(a)
	}
	return 0
}

func sortedNames(names []string) []string {
	out := slices.Clone(names)
	slices.Sort(out)
	return out
}

// interfaceParams decodes an interface's params: a JSON object of upstream's keys
// (bond_mode, bridge_stp, mtu, …), or nothing.
func interfaceParams(i store.Interface) (map[string]any, error) {
	if strings.TrimSpace(i.Params) == "" {
		return nil, nil
	}
	var p map[string]any
	dec := json.NewDecoder(strings.NewReader(i.Params))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("render netplan: params of interface %s are not a JSON object: %w", i.Name, err)
	}
	for k, v := range p {
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				p[k] = i
			} else if f, err := n.Float64(); err == nil {
				p[k] = f
			}
		}
	}
	return p, nil
}

// ifenslaveToNetplan maps upstream's bond params (ifenslave's names, "bond-" for "bond_") to
// netplan's bond parameters; "" marks those netplan has no equivalent for
// (provisioningserver/utils/netplan.py).
var ifenslaveToNetplan = map[string]string{
	"bond-ad-select": "ad-select", "bond-arp-interval": "arp-interval", "bond-arp-ip-target": "arp-ip-targets",
	"bond-arp-validate": "arp-validate", "bond-downdelay": "down-delay", "bond-give-a-chance": "up-delay",
	"bond-lacp-rate": "lacp-rate", "bond-miimon": "mii-monitor-interval", "bond-mode": "mode",
	"bond-num-grat-arp": "gratuitious-arp", "bond-num-unsol-na": "gratuitious-arp",
	"bond-primary-reselect": "primary-reselect-policy", "bond-updelay": "up-delay",
	"bond-xmit-hash-policy": "transmit-hash-policy", "bond-packets-per-slave": "packets-per-slave",
	"bond-all-slaves-active": "all-slaves-active", "bond-arp-all-targets": "arp-all-targets",
	"bond-fail-over-mac-policy": "fail-over-mac-policy", "bond-learn-packet-interval": "learn-packet-interval",
	"bond-min-links": "min-links",
}

// bondParameters are the netplan parameters of a bond's params (upstream's _get_bond_params
// and get_netplan_bond_parameters): lacp-rate only for 802.3ad, gratuitous ARP only for
// active-backup, ARP targets as a list.
func bondParameters(params map[string]any) map[string]any {
	mode, _ := params["bond_mode"].(string)
	out := map[string]any{}
	for k, v := range params {
		if !strings.HasPrefix(k, "bond_") {
			continue
		}
		key := ifenslaveToNetplan[strings.ReplaceAll(k, "_", "-")]
		switch {
		case key == "":
			continue
		case key == "lacp-rate" && mode != "" && mode != "802.3ad":
			continue
		case key == "gratuitious-arp" && mode != "" && mode != "active-backup":
			continue
		case key == "arp-ip-targets":
			s, _ := v.(string)
			v = strings.Fields(s)
		}
		out[key] = v
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// bridgeutilsToNetplan maps upstream's bridge params to netplan's bridge parameters.
var bridgeutilsToNetplan = map[string]string{
	"bridge_ageing": "ageing-time", "bridge_bridgeprio": "priority", "bridge_fd": "forward-delay",
	"bridge_hello": "hello-time", "bridge_maxage": "max-age", "bridge_pathcost": "path-cost", "bridge_stp": "stp",
}

// bridgeParameters are the netplan parameters of a bridge's params
// (get_netplan_bridge_parameters).
func bridgeParameters(params map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range params {
		if key := bridgeutilsToNetplan[k]; key != "" {
			out[key] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
