package bmc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// LAN is the part of "ipmitool lan print" the script reports.
type LAN struct {
	IP  string // a usable IPv4 address (not 0.0.0.0), or ""
	MAC string // lower-case, or ""
}

// ParseLANPrint reads "ipmitool lan print" output: "Key : value" lines.
func ParseLANPrint(out string) LAN {
	var lan LAN
	for line := range strings.SplitSeq(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "IP Address":
			if a, err := netip.ParseAddr(v); err == nil && a.Is4() && !a.IsUnspecified() {
				lan.IP = a.String()
			}
		case "MAC Address":
			// The MAC's own colons were cut at the first one.
			if mac := strings.ToLower(v); validMAC(mac) {
				lan.MAC = mac
			}
		}
	}
	return lan
}

// validMAC reports whether s is six colon-separated hex bytes.
func validMAC(s string) bool {
	parts := strings.Split(s, ":")
	if len(parts) != 6 {
		return false
	}
	for _, p := range parts {
		if len(p) != 2 {
			return false
		}
		if _, err := strconv.ParseUint(p, 16, 8); err != nil {
			return false
		}
	}
	return true
}

// HostInterface is one Redfish-over-IP protocol record of an SMBIOS type 42 (Management
// Controller Host Interface) structure (DSP0134 §7.43, DSP0270).
type HostInterface struct {
	DeviceType byte   // 2: USB network, 3: PCI network, 4: USB v2, 5: PCI v2
	Address    string // the Redfish service's power_address, "" when the record gives none
	LinkLocal  bool   // the address is link-local: reachable from this machine only
	Hostname   string
}

const (
	smbiosHostInterface = 42
	networkHostIface    = 0x40 // interface type: Network Host Interface
	redfishOverIP       = 0x04 // protocol type
	redfishRecordMin    = 0x5b // a Redfish over IP record up to its hostname
)

// ParseHostInterface reads an SMBIOS type 42 structure as /sys/firmware/dmi/entries/42-N/raw
// holds it (the formatted area, then its strings). It returns the Redfish-over-IP records
// of a network host interface; other interface or protocol types give none.
func ParseHostInterface(raw []byte) ([]HostInterface, error) {
	if len(raw) < 6 {
		return nil, errors.New("SMBIOS type 42: shorter than its header")
	}
	if raw[0] != smbiosHostInterface {
		return nil, fmt.Errorf("SMBIOS type 42: the structure is of type %d", raw[0])
	}
	n := int(raw[1])
	if n < 6 || n > len(raw) {
		return nil, fmt.Errorf("SMBIOS type 42: length %d of %d bytes", n, len(raw))
	}
	d := raw[:n]
	if d[4] != networkHostIface {
		return nil, nil
	}
	specific := int(d[5])
	off := 6 + specific
	if off >= len(d) {
		return nil, errors.New("SMBIOS type 42: no protocol records")
	}
	var devType byte
	if specific > 0 {
		devType = d[6]
	}
	records := int(d[off])
	off++
	var out []HostInterface
	for i := 0; i < records; i++ {
		if off+2 > len(d) {
			return nil, fmt.Errorf("SMBIOS type 42: protocol record %d past the end", i)
		}
		typ, l := d[off], int(d[off+1])
		off += 2
		if off+l > len(d) {
			return nil, fmt.Errorf("SMBIOS type 42: protocol record %d: %d bytes past the end", i, l)
		}
		rec := d[off : off+l]
		off += l
		if typ != redfishOverIP {
			continue
		}
		hi, err := parseRedfishRecord(rec)
		if err != nil {
			return nil, fmt.Errorf("SMBIOS type 42: protocol record %d: %w", i, err)
		}
		hi.DeviceType = devType
		out = append(out, hi)
	}
	return out, nil
}

// parseRedfishRecord reads a Redfish over IP protocol record (DSP0270 table 5).
func parseRedfishRecord(rec []byte) (HostInterface, error) {
	if len(rec) < redfishRecordMin {
		return HostInterface{}, fmt.Errorf("redfish over IP record: %d bytes, want at least %d", len(rec), redfishRecordMin)
	}
	var hi HostInterface
	if a, ok := ipAt(rec[0x33], rec[0x34:0x44]); ok {
		hi.LinkLocal = a.IsLinkLocalUnicast()
		port := binary.LittleEndian.Uint16(rec[0x54:0x56])
		switch {
		case port == 0 || port == 443:
			hi.Address = a.String()
			if a.Is6() {
				hi.Address = "[" + hi.Address + "]"
			}
		default:
			hi.Address = netip.AddrPortFrom(a, port).String()
		}
	}
	hl := int(rec[0x5a])
	if redfishRecordMin+hl > len(rec) {
		return HostInterface{}, fmt.Errorf("redfish over IP record: hostname of %d bytes past the end", hl)
	}
	hi.Hostname = strings.TrimRight(string(rec[redfishRecordMin:redfishRecordMin+hl]), "\x00")
	return hi, nil
}

// ipAt decodes a Redfish service address in format f (1: IPv4 in the first 4 bytes, 2:
// IPv6); an unknown format or an unspecified address gives false.
func ipAt(f byte, b []byte) (netip.Addr, bool) {
	var a netip.Addr
	switch f {
	case 1:
		a = netip.AddrFrom4([4]byte(b[:4]))
	case 2:
		a = netip.AddrFrom16([16]byte(b[:16]))
	default:
		return a, false
	}
	if a.IsUnspecified() {
		return a, false
	}
	return a, true
}
