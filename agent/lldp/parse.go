// Package lldp hears the LLDP neighbours of a machine's interfaces without lldpd: it listens
// on a raw packet socket per interface for a bounded time, parses the frames (IEEE
// 802.1AB) and reports each neighbour's chassis, port, names, VLAN and management addresses
// as wire.Neighbour values.
package lldp

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"unicode"
	"unicode/utf8"

	"maasgo/wire"
)

// EtherType is LLDP's Ethernet type.
const EtherType = 0x88cc

// Multicast addresses LLDP agents send to: the nearest bridge (the one switches use), the
// nearest non-TPMR bridge and the nearest customer bridge.
var Multicast = []net.HardwareAddr{
	{0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e},
	{0x01, 0x80, 0xc2, 0x00, 0x00, 0x03},
	{0x01, 0x80, 0xc2, 0x00, 0x00, 0x00},
}

// TLV types (IEEE 802.1AB-2016 table 8-1).
const (
	tlvEnd         = 0
	tlvChassisID   = 1
	tlvPortID      = 2
	tlvTTL         = 3
	tlvPortDesc    = 4
	tlvSystemName  = 5
	tlvSystemDesc  = 6
	tlvMgmtAddress = 8
	tlvOrgSpecific = 127
)

// Bounds of one frame: an LLDPDU fits one Ethernet frame; the parser reads at most
// maxFrame bytes and keeps at most wire.MaxManagementAddresses addresses.
const (
	ethHeaderLen = 14
	maxFrame     = 9216
)

// oui8021 is the IEEE 802.1 organisationally unique identifier; its subtype 1 is the Port
// VLAN ID TLV.
var oui8021 = [3]byte{0x00, 0x80, 0xc2}

// chassisIDTypes and portIDTypes name the ID subtypes (802.1AB-2016 tables 8-2 and 8-3).
var chassisIDTypes = map[byte]string{
	1: "chassis_component", 2: "interface_alias", 3: "port_component", 4: "mac",
	5: "network_address", 6: "interface_name", 7: "local",
}

var portIDTypes = map[byte]string{
	1: "interface_alias", 2: "port_component", 3: "mac", 4: "network_address",
	5: "interface_name", 6: "agent_circuit_id", 7: "local",
}

// errMalformed is the error of every frame the parser rejects.
var errMalformed = errors.New("malformed LLDP frame")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
}

// ParseFrame parses an Ethernet frame carrying an LLDPDU (destination, source, EtherType
// 0x88cc, then the TLVs).
func ParseFrame(frame []byte) (wire.Neighbour, error) {
	if len(frame) < ethHeaderLen {
		return wire.Neighbour{}, malformed("%d bytes, shorter than an Ethernet header", len(frame))
	}
	if t := binary.BigEndian.Uint16(frame[12:14]); t != EtherType {
		return wire.Neighbour{}, malformed("EtherType %#04x, not LLDP", t)
	}
	return ParseLLDPDU(frame[ethHeaderLen:])
}

// ParseLLDPDU parses the TLVs of an LLDPDU. The chassis ID, port ID and TTL TLVs must come
// first, in that order, each once; the End TLV (or the end of the data) ends it. Unknown
// TLVs, other organisations' TLVs and a second copy of an optional TLV are skipped.
// Trailing padding after the End TLV is ignored.
func ParseLLDPDU(b []byte) (wire.Neighbour, error) {
	var n wire.Neighbour
	if len(b) > maxFrame {
		return n, malformed("%d bytes, more than %d", len(b), maxFrame)
	}
	seen := map[int]bool{}
	for i := 0; len(b) > 0; i++ {
		if len(b) < 2 {
			return n, malformed("a TLV header cut short")
		}
		typ := int(b[0] >> 1)
		length := int(b[0]&1)<<8 | int(b[1])
		if len(b) < 2+length {
			return n, malformed("TLV type %d: length %d, only %d bytes left", typ, length, len(b)-2)
		}
		v := b[2 : 2+length]
		b = b[2+length:]
		if i < 3 {
			if want := i + 1; typ != want {
				return n, malformed("TLV %d is type %d, want type %d", i+1, typ, want)
			}
		} else if typ == tlvChassisID || typ == tlvPortID || typ == tlvTTL {
			return n, malformed("a second TLV of type %d", typ)
		}
		if typ == tlvEnd {
			if length != 0 {
				return n, malformed("End TLV with length %d", length)
			}
			break
		}
		first := !seen[typ]
		seen[typ] = true
		var err error
		switch typ {
		case tlvChassisID:
			n.ChassisIDType, n.ChassisID, err = parseID(v, chassisIDTypes, 4, 5)
		case tlvPortID:
			n.PortIDType, n.PortID, err = parseID(v, portIDTypes, 3, 4)
		case tlvTTL:
			if len(v) < 2 {
				return n, malformed("TTL TLV of %d bytes", len(v))
			}
			n.TTL = int(binary.BigEndian.Uint16(v))
		case tlvPortDesc:
			if first {
				n.PortDescription = text(v)
			}
		case tlvSystemName:
			if first {
				n.SystemName = text(v)
			}
		case tlvSystemDesc:
			if first {
				n.SystemDesc = text(v)
			}
		case tlvMgmtAddress:
			var a string
			if a, err = parseMgmtAddress(v); err == nil && len(n.ManagementAddresses) < wire.MaxManagementAddresses {
				n.ManagementAddresses = append(n.ManagementAddresses, a)
			}
		case tlvOrgSpecific:
			if len(v) < 4 {
				return n, malformed("organisation-specific TLV of %d bytes", len(v))
			}
			if [3]byte(v[:3]) == oui8021 && v[3] == 1 {
				if len(v) != 6 {
					return n, malformed("Port VLAN ID TLV of %d bytes", len(v))
				}
				if vid := int(binary.BigEndian.Uint16(v[4:])); vid >= 1 && vid <= 4094 && n.VLAN == 0 {
					n.VLAN = vid
				}
			}
		}
		if err != nil {
			return n, err
		}
	}
	if !seen[tlvTTL] {
		return n, malformed("no chassis ID, port ID and TTL")
	}
	return n, nil
}

// parseID reads a chassis or port ID TLV: a subtype, then 1 to 255 bytes. MAC addresses and
// network addresses are written in their notation, other IDs as text when they are
// printable, else in hex.
func parseID(v []byte, types map[byte]string, macType, addrType byte) (string, string, error) {
	if len(v) < 2 || len(v) > 256 {
		return "", "", malformed("ID TLV of %d bytes", len(v))
	}
	sub, id := v[0], v[1:]
	name := types[sub]
	if name == "" {
		name = fmt.Sprintf("subtype_%d", sub)
	}
	switch {
	case sub == macType && len(id) == 6:
		return name, net.HardwareAddr(id).String(), nil
	case sub == addrType:
		if a, ok := networkAddress(id); ok {
			return name, a, nil
		}
	}
	if printable(id) {
		return name, string(id), nil
	}
	return name, hex.EncodeToString(id), nil
}

// networkAddress reads an IANA address family number and an address: IPv4 (1), IPv6 (2)
// or an 802 MAC address (6).
func networkAddress(b []byte) (string, bool) {
	if len(b) < 1 {
		return "", false
	}
	switch a := b[1:]; {
	case b[0] == 1 && len(a) == 4, b[0] == 2 && len(a) == 16:
		return net.IP(a).String(), true
	case b[0] == 6 && len(a) == 6:
		return net.HardwareAddr(a).String(), true
	}
	return "", false
}

// parseMgmtAddress reads a management address TLV: the address string length (subtype and
// address, 2 to 32 bytes), the address subtype and address, then the interface numbering
// and an OID, which are not kept. Addresses of other families are given in hex.
func parseMgmtAddress(v []byte) (string, error) {
	if len(v) < 1 {
		return "", malformed("empty management address TLV")
	}
	l := int(v[0])
	if l < 2 || l > 32 || len(v) < 1+l+6 {
		return "", malformed("management address of length %d in a TLV of %d bytes", l, len(v))
	}
	addr := v[1 : 1+l]
	oidLen := int(v[1+l+5])
	if len(v) != 1+l+6+oidLen {
		return "", malformed("management address TLV of %d bytes, its fields say %d", len(v), 1+l+6+oidLen)
	}
	if a, ok := networkAddress(addr); ok {
		return a, nil
	}
	return hex.EncodeToString(addr), nil
}

// text turns a TLV's bytes into a string: invalid UTF-8 replaced, trailing NUL bytes and
// white space removed, and never longer than wire.MaxNeighbourText.
func text(v []byte) string {
	s := strings.TrimRight(strings.ToValidUTF8(string(v), "\uFFFD"), "\x00 \t\r\n")
	for len(s) > wire.MaxNeighbourText {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// printable reports whether an ID is text worth showing as it is: valid UTF-8 of printable
// characters.
func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
