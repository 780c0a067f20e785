package lldp

import (
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"maasgo/wire"
)

// The test's own LLDP encoder: TLVs as a switch writes them.

type tlv struct {
	typ int
	val []byte
}

func (t tlv) encode() []byte {
	h := uint16(t.typ)<<9 | uint16(len(t.val))
	return append(binary.BigEndian.AppendUint16(nil, h), t.val...)
}

func lldpdu(tlvs ...tlv) []byte {
	var b []byte
	for _, t := range tlvs {
		b = append(b, t.encode()...)
	}
	return b
}

var switchMAC = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x01}

// frame wraps TLVs in an Ethernet frame from src to the nearest-bridge address.
func frame(src net.HardwareAddr, tlvs ...tlv) []byte {
	b := append(append([]byte{}, Multicast[0]...), src...)
	b = binary.BigEndian.AppendUint16(b, EtherType)
	return append(b, lldpdu(tlvs...)...)
}

func idTLV(typ int, sub byte, id []byte) tlv { return tlv{typ, append([]byte{sub}, id...)} }
func chassisMAC(mac net.HardwareAddr) tlv    { return idTLV(tlvChassisID, 4, mac) }
func chassisLocal(s string) tlv              { return idTLV(tlvChassisID, 7, []byte(s)) }
func portName(s string) tlv                  { return idTLV(tlvPortID, 5, []byte(s)) }
func ttl(n uint16) tlv                       { return tlv{tlvTTL, binary.BigEndian.AppendUint16(nil, n)} }
func portDesc(s string) tlv                  { return tlv{tlvPortDesc, []byte(s)} }
func sysName(s string) tlv                   { return tlv{tlvSystemName, []byte(s)} }
func sysDesc(s string) tlv                   { return tlv{tlvSystemDesc, []byte(s)} }
func end() tlv                               { return tlv{tlvEnd, nil} }

func pvid(v uint16) tlv {
	return tlv{tlvOrgSpecific, binary.BigEndian.AppendUint16([]byte{0x00, 0x80, 0xc2, 1}, v)}
}

// mgmt is a management address TLV: family 1 (IPv4) or 2 (IPv6), ifIndex numbering, no OID.
func mgmt(ip net.IP) tlv {
	fam, a := byte(2), ip.To16()
	if v4 := ip.To4(); v4 != nil {
		fam, a = 1, v4
	}
	v := append([]byte{byte(1 + len(a)), fam}, a...)
	v = append(v, 2, 0, 0, 0, 7, 0)
	return tlv{tlvMgmtAddress, v}
}

// switchFrame is what a switch port sends: every TLV the parser reads, plus system
// capabilities and another organisation's TLV, which it skips.
func switchFrame(name string, port string, vlan uint16, ttlSecs uint16) []byte {
	return frame(switchMAC,
		chassisMAC(switchMAC), portName(port), ttl(ttlSecs),
		portDesc("uplink to "+name), sysName(name), sysDesc("Test switch OS 1.0"),
		tlv{7, []byte{0x00, 0x14, 0x00, 0x14}},
		tlv{tlvOrgSpecific, []byte{0x00, 0x12, 0x0f, 1, 3, 0x6c, 0x00, 0x00, 0x10}},
		pvid(vlan), mgmt(net.ParseIP("192.0.2.10")), end())
}

func TestParseFrame(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    wire.Neighbour
		wantErr string
	}{
		{name: "a switch port", in: switchFrame("sw1", "Ethernet7", 100, 120),
			want: wire.Neighbour{ChassisID: "02:00:5e:10:00:01", ChassisIDType: "mac", PortID: "Ethernet7", PortIDType: "interface_name",
				PortDescription: "uplink to sw1", SystemName: "sw1", SystemDesc: "Test switch OS 1.0", VLAN: 100, TTL: 120,
				ManagementAddresses: []string{"192.0.2.10"}}},
		{name: "mandatory TLVs only, no End TLV", in: frame(switchMAC, chassisLocal("rack-3"), portName("p1"), ttl(30)),
			want: wire.Neighbour{ChassisID: "rack-3", ChassisIDType: "local", PortID: "p1", PortIDType: "interface_name", TTL: 30}},
		{name: "network-address chassis, MAC port, IPv6 management",
			in: frame(switchMAC, idTLV(tlvChassisID, 5, []byte{1, 10, 0, 0, 1}), idTLV(tlvPortID, 3, switchMAC), ttl(5),
				mgmt(net.ParseIP("2001:db8::1")), end()),
			want: wire.Neighbour{ChassisID: "10.0.0.1", ChassisIDType: "network_address", PortID: "02:00:5e:10:00:01", PortIDType: "mac",
				TTL: 5, ManagementAddresses: []string{"2001:db8::1"}}},
		{name: "binary and unknown-subtype IDs in hex", in: frame(switchMAC, idTLV(tlvChassisID, 7, []byte{0, 1, 0xff}), idTLV(tlvPortID, 9, []byte("x")), ttl(1)),
			want: wire.Neighbour{ChassisID: "0001ff", ChassisIDType: "local", PortID: "x", PortIDType: "subtype_9", TTL: 1}},
		{name: "texts: NUL-terminated, invalid UTF-8, padding after End",
			in: append(frame(switchMAC, chassisLocal("c"), portName("p"), ttl(9), sysName("sw\x00"), portDesc("a\xffb"), end()), 0, 0, 0, 0),
			want: wire.Neighbour{ChassisID: "c", ChassisIDType: "local", PortID: "p", PortIDType: "interface_name", TTL: 9,
				SystemName: "sw", PortDescription: "a\uFFFDb"}},
		{name: "PVID 0 and 4095 mean none; the first valid PVID counts; repeated texts: the first",
			in:   frame(switchMAC, chassisLocal("c"), portName("p"), ttl(9), pvid(0), pvid(4095), pvid(7), pvid(8), sysName("a"), sysName("b")),
			want: wire.Neighbour{ChassisID: "c", ChassisIDType: "local", PortID: "p", PortIDType: "interface_name", TTL: 9, VLAN: 7, SystemName: "a"}},
		{name: "TTL 0 (shutdown)", in: frame(switchMAC, chassisLocal("c"), portName("p"), ttl(0), end()),
			want: wire.Neighbour{ChassisID: "c", ChassisIDType: "local", PortID: "p", PortIDType: "interface_name"}},

		{name: "short frame", in: []byte{1, 2, 3}, wantErr: "shorter than an Ethernet header"},
		{name: "not LLDP", in: append(append([]byte{}, switchFrame("s", "p", 1, 1)[:12]...), 0x08, 0x00), wantErr: "not LLDP"},
		{name: "empty LLDPDU", in: frame(switchMAC), wantErr: "no chassis ID"},
		{name: "port ID first", in: frame(switchMAC, portName("p"), chassisLocal("c"), ttl(1)), wantErr: "TLV 1 is type 2, want type 1"},
		{name: "no TTL", in: frame(switchMAC, chassisLocal("c"), portName("p"), end()), wantErr: "TLV 3 is type 0, want type 3"},
		{name: "second chassis ID", in: frame(switchMAC, chassisLocal("c"), portName("p"), ttl(1), chassisLocal("d")), wantErr: "a second TLV of type 1"},
		{name: "TLV longer than the frame", in: append(frame(switchMAC, chassisLocal("c"), portName("p"), ttl(1)), 0x0a, 0x10, 'x'), wantErr: "length 16, only 1 bytes left"},
		{name: "TLV header cut short", in: append(frame(switchMAC, chassisLocal("c"), portName("p"), ttl(1)), 0x0a), wantErr: "cut short"},
		{name: "empty chassis ID", in: frame(switchMAC, tlv{tlvChassisID, []byte{7}}, portName("p"), ttl(1)), wantErr: "ID TLV of 1 bytes"},
		{name: "chassis ID of 256 bytes", in: frame(switchMAC, chassisLocal(strings.Repeat("c", 256)), portName("p"), ttl(1)), wantErr: "ID TLV of 257 bytes"},
		{name: "one-byte TTL", in: frame(switchMAC, chassisLocal("c"), portName("p"), tlv{tlvTTL, []byte{1}}), wantErr: "TTL TLV of 1 bytes"},
		{name: "End TLV with a value", in: frame(switchMAC, chassisLocal("c"), portName("p"), ttl(1), tlv{tlvEnd, []byte{1}}), wantErr: "End TLV with length 1"},
		{name: "short organisation TLV", in: frame(switchMAC, chassisLocal("c"), portName("p"), ttl(1), tlv{tlvOrgSpecific, []byte{0, 0x80}}), wantErr: "organisation-specific TLV of 2 bytes"},
		{name: "PVID of 3 bytes", in: frame(switchMAC, chassisLocal("c"), portName("p"), ttl(1), tlv{tlvOrgSpecific, []byte{0, 0x80, 0xc2, 1, 0, 1, 0}}), wantErr: "Port VLAN ID TLV of 7 bytes"},
		{name: "management address length beyond the TLV", in: frame(switchMAC, chassisLocal("c"), portName("p"), ttl(1), tlv{tlvMgmtAddress, []byte{5, 1, 10, 0}}), wantErr: "management address of length 5"},
		{name: "management OID length wrong", in: frame(switchMAC, chassisLocal("c"), portName("p"), ttl(1), tlv{tlvMgmtAddress, []byte{5, 1, 10, 0, 0, 1, 2, 0, 0, 0, 7, 3}}), wantErr: "its fields say 15"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFrame(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, errMalformed) {
					t.Fatalf("ParseFrame: error %v, want a malformed-frame error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFrame: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseFrame (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParseLLDPDU checks that the parser never panics and that every neighbour it accepts is
// one the region accepts too.
func FuzzParseLLDPDU(f *testing.F) {
	f.Add(switchFrame("sw1", "Ethernet7", 100, 120)[ethHeaderLen:])
	f.Add(frame(switchMAC, chassisLocal("c"), portName("p"), ttl(1), pvid(7), mgmt(net.ParseIP("::1")))[ethHeaderLen:])
	f.Add(frame(switchMAC, idTLV(tlvChassisID, 7, []byte{0xff, 0}), idTLV(tlvPortID, 4, []byte{2, 1}), ttl(1), sysDesc(strings.Repeat("\xff", 511)))[ethHeaderLen:])
	f.Add([]byte{0x02, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ParseLLDPDU(b)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error %v is not a malformed-frame error", err)
			}
			return
		}
		doc := wire.Neighbours{Interfaces: map[string][]wire.Neighbour{"eth0": {n}}}
		if err := doc.Validate(); err != nil {
			t.Fatalf("parsed neighbour %+v does not validate: %v", n, err)
		}
	})
}
