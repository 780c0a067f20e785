package wire

import (
	"bytes"
	"fmt"
	"sort"

	"gopkg.in/yaml.v3"
)

// Netplan is the netplan version 2 document of a machine's configured networking: the region
// renders it (upstream's NodeNetworkConfiguration, version 2) into the scripts tar as
// config/netplan.yaml, and the agent applies it for apply_configured_networking scripts
// (protocol.md §6.7). Devices are keyed by interface name.
type Netplan struct {
	Network NetplanNetwork `yaml:"network"`
}

// NetplanNetwork is the network section. The fields are in the order PyYAML's safe_dump
// writes upstream's keys (sorted).
type NetplanNetwork struct {
	Bonds     map[string]NetplanDevice `yaml:"bonds,omitempty"`
	Bridges   map[string]NetplanDevice `yaml:"bridges,omitempty"`
	Ethernets map[string]NetplanDevice `yaml:"ethernets,omitempty"`
	Version   int                      `yaml:"version"`
	VLANs     map[string]NetplanDevice `yaml:"vlans,omitempty"`
}

// NetplanDevice is one device of any kind; each kind uses its own keys (ethernets: Match and
// SetName; vlans: ID and Link; bonds and bridges: Interfaces, MACAddress and Parameters). The
// fields are sorted by key, as upstream's YAML is.
type NetplanDevice struct {
	Addresses   []string            `yaml:"addresses,omitempty"`
	DHCP4       bool                `yaml:"dhcp4,omitempty"`
	DHCP6       bool                `yaml:"dhcp6,omitempty"`
	Gateway4    string              `yaml:"gateway4,omitempty"`
	Gateway6    string              `yaml:"gateway6,omitempty"`
	ID          int                 `yaml:"id,omitempty"`
	Interfaces  []string            `yaml:"interfaces,omitempty"`
	Link        string              `yaml:"link,omitempty"`
	MACAddress  string              `yaml:"macaddress,omitempty"`
	Match       *NetplanMatch       `yaml:"match,omitempty"`
	MTU         int                 `yaml:"mtu,omitempty"`
	Nameservers *NetplanNameservers `yaml:"nameservers,omitempty"`
	// Parameters are a bond's (mode, mii-monitor-interval, …) or a bridge's (stp,
	// forward-delay, …) parameters with netplan's names.
	Parameters map[string]any `yaml:"parameters,omitempty"`
	Routes     []NetplanRoute `yaml:"routes,omitempty"`
	SetName    string         `yaml:"set-name,omitempty"`
}

// NetplanMatch selects the physical device an ethernet entry configures.
type NetplanMatch struct {
	MACAddress string `yaml:"macaddress,omitempty"`
	Name       string `yaml:"name,omitempty"`
}

// NetplanNameservers are a device's DNS settings.
type NetplanNameservers struct {
	Addresses []string `yaml:"addresses,omitempty"`
	Search    []string `yaml:"search,omitempty"`
}

// NetplanRoute is a static route of a device.
type NetplanRoute struct {
	Metric *int   `yaml:"metric,omitempty"`
	To     string `yaml:"to"`
	Via    string `yaml:"via,omitempty"`
}

// netplanDeviceKeys are the device keys NetplanDevice holds; DecodeNetplan names the others.
var netplanDeviceKeys = map[string]bool{
	"addresses": true, "dhcp4": true, "dhcp6": true, "gateway4": true, "gateway6": true, "id": true,
	"interfaces": true, "link": true, "macaddress": true, "match": true, "mtu": true, "nameservers": true,
	"parameters": true, "routes": true, "set-name": true,
}

// EncodeNetplan writes doc as YAML with every mapping's keys sorted, as upstream's
// yaml.safe_dump does.
func EncodeNetplan(doc *Netplan) ([]byte, error) {
	var root yaml.Node
	if err := root.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode netplan: %w", err)
	}
	sortMappings(&root)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return nil, fmt.Errorf("encode netplan: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode netplan: %w", err)
	}
	return b.Bytes(), nil
}

// sortMappings orders the keys of every mapping below n.
func sortMappings(n *yaml.Node) {
	for _, c := range n.Content {
		sortMappings(c)
	}
	if n.Kind != yaml.MappingNode {
		return
	}
	type pair struct{ k, v *yaml.Node }
	pairs := make([]pair, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		pairs = append(pairs, pair{n.Content[i], n.Content[i+1]})
	}
	sort.SliceStable(pairs, func(i, j int) bool { return pairs[i].k.Value < pairs[j].k.Value })
	for i, p := range pairs {
		n.Content[2*i], n.Content[2*i+1] = p.k, p.v
	}
}

// maxNetplan bounds the netplan document DecodeNetplan reads.
const maxNetplan = 4 << 20

// DecodeNetplan reads a netplan version 2 document. Besides the document it returns the keys
// it does not model ("bonds.bond0.routing-policy", "network.wifis"), which a caller applying
// the document without netplan cannot apply.
func DecodeNetplan(data []byte) (*Netplan, []string, error) {
	if len(data) > maxNetplan {
		return nil, nil, fmt.Errorf("decode netplan: larger than %d bytes", maxNetplan)
	}
	var doc Netplan
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("decode netplan: %w", err)
	}
	if doc.Network.Version != 2 {
		return nil, nil, fmt.Errorf("decode netplan: network.version is %d, not 2", doc.Network.Version)
	}
	var raw struct {
		Network map[string]yaml.Node `yaml:"network"`
	}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, nil, fmt.Errorf("decode netplan: %w", err)
	}
	var unknown []string
	for section, node := range raw.Network {
		switch section {
		case "version", "renderer":
			continue
		case "ethernets", "vlans", "bonds", "bridges":
		default:
			unknown = append(unknown, "network."+section)
			continue
		}
		var devices map[string]map[string]yaml.Node
		if err := node.Decode(&devices); err != nil {
			return nil, nil, fmt.Errorf("decode netplan: network.%s: %w", section, err)
		}
		for name, keys := range devices {
			for k := range keys {
				if !netplanDeviceKeys[k] && k != "renderer" {
					unknown = append(unknown, section+"."+name+"."+k)
				}
			}
		}
	}
	sort.Strings(unknown)
	return &doc, unknown, nil
}
