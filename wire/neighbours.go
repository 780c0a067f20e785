package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Neighbours is what the maas-lldp-neighbours commissioning script prints: for each
// interface the agent listened on, the LLDP neighbours it heard (none is an empty list).
// The agent encodes it with encoding/json; the region reads it with DecodeNeighbours.
type Neighbours struct {
	Interfaces map[string][]Neighbour `json:"interfaces"`
}

// Neighbour is one LLDP agent heard on an interface: the switch (chassis) and its port, as
// the switch describes them. Text fields are the TLVs' text; identifiers that are not text
// (a MAC address, a network address) are written in their usual notation, and other binary
// values in hex.
type Neighbour struct {
	ChassisID       string `json:"chassis_id"`
	ChassisIDType   string `json:"chassis_id_type,omitempty"` // mac, network_address, interface_name, local, ...
	PortID          string `json:"port_id"`
	PortIDType      string `json:"port_id_type,omitempty"` // mac, interface_name, local, ...
	PortDescription string `json:"port_description,omitempty"`
	SystemName      string `json:"system_name,omitempty"`
	SystemDesc      string `json:"system_description,omitempty"`
	// VLAN is the port's VLAN ID (IEEE 802.1 Port VLAN ID TLV); 0 when the switch did not
	// say.
	VLAN int `json:"vlan,omitempty"`
	// TTL is how long, in seconds, the switch said its information stays valid.
	TTL int `json:"ttl"`
	// ManagementAddresses are the switch's management addresses (IPv4, IPv6 or MAC).
	ManagementAddresses []string `json:"management_addresses,omitempty"`
}

// Bounds on a neighbours document. The LLDP TLVs bound the text fields (a TLV carries at
// most 511 bytes, a chassis or port ID at most 255, shown in hex at most 510 characters).
const (
	MaxNeighboursSize         = 1 << 20
	MaxNeighbourInterfaces    = 4096
	MaxNeighboursPerInterface = 64
	MaxNeighbourText          = 512
	MaxManagementAddresses    = 16
	maxIfname                 = 15 // IFNAMSIZ - 1
)

// DecodeNeighbours reads a neighbours document, checking its bounds: at most
// MaxNeighboursSize bytes, MaxNeighbourInterfaces interfaces with valid Linux names, at most
// MaxNeighboursPerInterface neighbours each, each with a chassis and a port ID, a VLAN in
// 0-4094, a TTL in 0-65535 and texts of valid UTF-8 no longer than MaxNeighbourText bytes.
// Fields it does not know are ignored; an interface without neighbours has an empty list.
func DecodeNeighbours(data []byte) (*Neighbours, error) {
	if len(data) > MaxNeighboursSize {
		return nil, fmt.Errorf("neighbours: %d bytes, more than %d", len(data), MaxNeighboursSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var n Neighbours
	if err := dec.Decode(&n); err != nil {
		return nil, fmt.Errorf("neighbours: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("neighbours: data after the document")
	}
	if n.Interfaces == nil {
		return nil, errors.New("neighbours: interfaces: missing")
	}
	if err := n.Validate(); err != nil {
		return nil, err
	}
	for name, list := range n.Interfaces {
		if list == nil {
			n.Interfaces[name] = []Neighbour{}
		}
		for i := range list {
			if len(list[i].ManagementAddresses) == 0 {
				list[i].ManagementAddresses = nil
			}
		}
	}
	return &n, nil
}

// Validate checks the bounds DecodeNeighbours enforces; the agent checks what it prints.
func (n *Neighbours) Validate() error {
	if len(n.Interfaces) > MaxNeighbourInterfaces {
		return fmt.Errorf("neighbours: %d interfaces, more than %d", len(n.Interfaces), MaxNeighbourInterfaces)
	}
	for name, list := range n.Interfaces {
		if !validIfname(name) {
			return fmt.Errorf("neighbours: interfaces: %q is not an interface name", name)
		}
		if len(list) > MaxNeighboursPerInterface {
			return fmt.Errorf("neighbours: interfaces.%s: %d neighbours, more than %d", name, len(list), MaxNeighboursPerInterface)
		}
		for i, nb := range list {
			if err := nb.validate(); err != nil {
				return fmt.Errorf("neighbours: interfaces.%s[%d].%w", name, i, err)
			}
		}
	}
	return nil
}

func (nb *Neighbour) validate() error {
	for _, f := range []struct{ name, v string }{
		{"chassis_id", nb.ChassisID}, {"chassis_id_type", nb.ChassisIDType},
		{"port_id", nb.PortID}, {"port_id_type", nb.PortIDType},
		{"port_description", nb.PortDescription}, {"system_name", nb.SystemName},
		{"system_description", nb.SystemDesc},
	} {
		if err := checkText(f.v); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	if nb.ChassisID == "" {
		return errors.New("chassis_id: missing")
	}
	if nb.PortID == "" {
		return errors.New("port_id: missing")
	}
	if nb.VLAN < 0 || nb.VLAN > 4094 {
		return fmt.Errorf("vlan: %d is not in 0-4094", nb.VLAN)
	}
	if nb.TTL < 0 || nb.TTL > 65535 {
		return fmt.Errorf("ttl: %d is not in 0-65535", nb.TTL)
	}
	if len(nb.ManagementAddresses) > MaxManagementAddresses {
		return fmt.Errorf("management_addresses: %d, more than %d", len(nb.ManagementAddresses), MaxManagementAddresses)
	}
	for j, a := range nb.ManagementAddresses {
		if err := checkText(a); err != nil || a == "" {
			if err == nil {
				err = errors.New("empty")
			}
			return fmt.Errorf("management_addresses[%d]: %w", j, err)
		}
	}
	return nil
}

func checkText(s string) error {
	if len(s) > MaxNeighbourText {
		return fmt.Errorf("%d bytes, more than %d", len(s), MaxNeighbourText)
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	return nil
}

// validIfname reports whether s may name a Linux network interface (the kernel's
// dev_valid_name): 1 to 15 bytes, not "." or "..", without '/', ':' or white space.
func validIfname(s string) bool {
	if s == "" || len(s) > maxIfname || s == "." || s == ".." {
		return false
	}
	return !strings.ContainsAny(s, "/: \t\n\v\f\r\x00")
}
