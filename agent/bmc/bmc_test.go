package bmc

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"maasgo/agent"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// recorded is a Transport answering from recorded "ipmitool lan print" outputs, by
// channel; a channel without one fails as ipmitool does on a channel that is not LAN.
type recorded struct {
	t       *testing.T
	answers map[int]string // channel -> testdata file
	asked   []int
}

func (r *recorded) LANPrint(_ context.Context, ch int) (string, error) {
	r.asked = append(r.asked, ch)
	f, ok := r.answers[ch]
	if !ok {
		return "", fmt.Errorf("ipmitool lan print %d: exit status 1: Invalid channel %d", ch, ch)
	}
	data, err := os.ReadFile(filepath.Join("testdata", f))
	if err != nil {
		r.t.Fatal(err)
	}
	return string(data), nil
}

// Type42 builds an SMBIOS type 42 structure, as /sys/firmware/dmi/entries/42-0/raw holds
// it, for a USB network host interface with one Redfish over IP record.
func Type42(format byte, addr string, port uint16, hostname string) []byte {
	rec := make([]byte, redfishRecordMin, redfishRecordMin+len(hostname))
	rec[0x10], rec[0x11] = 2, 1 // host IP by DHCP, IPv4
	rec[0x32], rec[0x33] = 1, format
	if a, err := netip.ParseAddr(addr); err == nil {
		if a.Is4() {
			b := a.As4()
			copy(rec[0x34:], b[:])
		} else {
			b := a.As16()
			copy(rec[0x34:], b[:])
		}
	}
	binary.LittleEndian.PutUint16(rec[0x54:], port)
	rec[0x5a] = byte(len(hostname))
	rec = append(rec, hostname...)
	devSpecific := []byte{0x02, 0x6b, 0x04, 0x01, 0x00, 0x00} // USB: vendor 0x046b, product 0x0001, no serial
	s := []byte{42, 0, 0x2a, 0x00, networkHostIface, byte(len(devSpecific))}
	s = append(s, devSpecific...)
	s = append(s, 1, redfishOverIP, byte(len(rec)))
	s = append(s, rec...)
	s[1] = byte(len(s))
	return append(s, 0, 0) // no strings
}

// machine writes a fake machine tree: files maps a path below the root to its content.
func machine(t *testing.T, files map[string][]byte) string {
	t.Helper()
	root := t.TempDir()
	for p, data := range files {
		full := filepath.Join(root, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

var (
	physicalCPU = []byte("processor\t: 0\nflags\t\t: fpu vme de pse msr vmx\n\n")
	virtualCPU  = []byte("processor\t: 0\nflags\t\t: fpu vme de pse msr hypervisor\n\n")
	ipmiDev     = []byte{}
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string][]byte
		answers map[int]string // nil: no ipmitool
		want    Found
		golden  string // the Config golden file
		none    string // the error wraps ErrNone and says this
		err     string // another error saying this
	}{
		{name: "virtual", files: map[string][]byte{"proc/cpuinfo": virtualCPU, "dev/ipmi0": ipmiDev}, none: "the machine is virtual"},
		{name: "nothing", files: map[string][]byte{"proc/cpuinfo": physicalCPU},
			none: "no Redfish host interface (SMBIOS type 42), and no IPMI device (/dev/ipmi0, /dev/ipmi/0, /dev/ipmidev/0)"},
		{name: "redfish", files: map[string][]byte{"proc/cpuinfo": physicalCPU, "dev/ipmi0": ipmiDev,
			"sys/firmware/dmi/entries/42-0/raw": Type42(1, "10.0.0.9", 443, "bmc")},
			want: Found{PowerType: "redfish", Address: "10.0.0.9"}, golden: "redfish.yaml"},
		{name: "redfish ipv6 port", files: map[string][]byte{"sys/firmware/dmi/entries/42-0/raw": Type42(2, "2001:db8::9", 8443, "")},
			want: Found{PowerType: "redfish", Address: "[2001:db8::9]:8443"}},
		{name: "redfish link-local, no ipmi", files: map[string][]byte{"sys/firmware/dmi/entries/42-0/raw": Type42(1, "169.254.95.118", 443, "")},
			none: "a Redfish host interface whose service address 169.254.95.118 is link-local, and no IPMI device"},
		{name: "redfish without address", files: map[string][]byte{"sys/firmware/dmi/entries/42-0/raw": Type42(0, "", 0, "")},
			none: "a Redfish host interface without a service address"},
		{name: "redfish link-local, ipmi", files: map[string][]byte{"dev/ipmi/0": ipmiDev,
			"sys/firmware/dmi/entries/42-0/raw": Type42(1, "169.254.95.118", 443, "")},
			answers: map[int]string{1: "ipmitool-lan-print-1.txt"},
			want:    Found{PowerType: "ipmi", Address: "10.245.143.4", MAC: "0c:c4:7a:3e:b0:a1", Channel: 1, BootType: "auto"}},
		{name: "ipmi efi", files: map[string][]byte{"proc/cpuinfo": physicalCPU, "dev/ipmi0": ipmiDev, "sys/firmware/efi/": nil},
			answers: map[int]string{0: "ipmitool-lan-print-unset.txt", 1: "ipmitool-lan-print-1.txt"},
			want:    Found{PowerType: "ipmi", Address: "10.245.143.4", MAC: "0c:c4:7a:3e:b0:a1", Channel: 1, BootType: "efi"}, golden: "ipmi.yaml"},
		{name: "ipmi without ipmitool", files: map[string][]byte{"dev/ipmidev/0": ipmiDev},
			err: "IPMI device /dev/ipmidev/0 found, but ipmitool is not installed"},
		{name: "ipmi without address", files: map[string][]byte{"dev/ipmi0": ipmiDev},
			answers: map[int]string{1: "ipmitool-lan-print-unset.txt"},
			err:     "no LAN channel has a usable IP address"},
		{name: "malformed type 42", files: map[string][]byte{"sys/firmware/dmi/entries/42-0/raw": {42, 200, 0, 0}},
			err: "shorter than its header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := machine(t, tt.files)
			var tr Transport
			rec := &recorded{t: t, answers: tt.answers}
			if tt.answers != nil {
				tr = rec
			}
			got, err := Detect(t.Context(), root, tr)
			switch {
			case tt.none != "":
				if !errors.Is(err, ErrNone) || !strings.Contains(err.Error(), tt.none) {
					t.Fatalf("Detect: %v; want no BMC: %q", err, tt.none)
				}
				return
			case tt.err != "":
				if err == nil || errors.Is(err, ErrNone) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Detect: %v; want %q", err, tt.err)
				}
				return
			case err != nil:
				t.Fatalf("Detect: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Detect (-want +got):\n%s", diff)
			}
			// The runner must read what the script writes.
			typ, params, err := agent.ParseBMCConfig([]byte(got.Config()))
			if err != nil || typ != tt.want.PowerType || !strings.Contains(params, `"power_address": "`+tt.want.Address+`"`) {
				t.Errorf("ParseBMCConfig(%q) = %q %q %v", got.Config(), typ, params, err)
			}
			if tt.golden != "" {
				golden(t, tt.golden, got.Config())
			}
		})
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", p, diff)
	}
}

func TestParseLANPrint(t *testing.T) {
	tests := []struct {
		in   string
		want LAN
	}{
		{"IP Address : 10.0.0.1\nMAC Address : AA:BB:CC:DD:EE:FF\n", LAN{IP: "10.0.0.1", MAC: "aa:bb:cc:dd:ee:ff"}},
		{"IP Address Source : DHCP Address\nIP Address : 0.0.0.0\n", LAN{}},
		{"IP Address : fe80::1\nMAC Address : 1:2:3\n", LAN{}},
		{"", LAN{}},
	}
	for _, tt := range tests {
		if got := ParseLANPrint(tt.in); got != tt.want {
			t.Errorf("ParseLANPrint(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseHostInterface(t *testing.T) {
	// The cmd tests put this structure in their machine trees.
	golden(t, "type42-usb-redfish.raw", string(Type42(1, "10.0.0.9", 443, "bmc")))
	got, err := ParseHostInterface(Type42(1, "192.168.1.2", 5000, "bmc.example"))
	want := []HostInterface{{DeviceType: 2, Address: "192.168.1.2:5000", Hostname: "bmc.example"}}
	if err != nil || !cmp.Equal(want, got) {
		t.Errorf("ParseHostInterface = %+v, %v; want %+v", got, err, want)
	}
	// A KCS host interface (type 2) has no Redfish record to report.
	kcs := []byte{42, 9, 0, 0, 0x02, 0x01, 0x00, 0x00, 0x00, 0, 0}
	if got, err := ParseHostInterface(kcs); err != nil || len(got) != 0 {
		t.Errorf("ParseHostInterface(KCS) = %+v, %v; want none", got, err)
	}
	full := Type42(1, "192.168.1.2", 443, "")
	for _, bad := range [][]byte{nil, {41, 6, 0, 0, 0x40, 0}, full[:20], append([]byte{42, 7}, full[2:7]...)} {
		if got, err := ParseHostInterface(bad); err == nil && len(got) > 0 {
			t.Errorf("ParseHostInterface(% x) = %+v; want an error or nothing", bad, got)
		}
	}
}

func FuzzParseHostInterface(f *testing.F) {
	f.Add(Type42(1, "10.0.0.9", 443, "bmc"))
	f.Add(Type42(2, "2001:db8::9", 8443, ""))
	f.Add([]byte{42, 9, 0, 0, 0x02, 0x01, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		his, err := ParseHostInterface(data)
		if err != nil && len(his) > 0 {
			t.Errorf("records with an error: %+v", his)
		}
		for _, hi := range his {
			if hi.Address != "" && strings.ContainsAny(hi.Address, " \n'") {
				t.Errorf("address %q", hi.Address)
			}
		}
	})
}

func FuzzParseLANPrint(f *testing.F) {
	for _, name := range []string{"ipmitool-lan-print-1.txt", "ipmitool-lan-print-unset.txt"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Fuzz(func(t *testing.T, out string) {
		lan := ParseLANPrint(out)
		if lan.IP != "" {
			if a, err := netip.ParseAddr(lan.IP); err != nil || !a.Is4() {
				t.Errorf("IP %q", lan.IP)
			}
		}
		if lan.MAC != "" && !validMAC(lan.MAC) {
			t.Errorf("MAC %q", lan.MAC)
		}
		// What the script writes, the runner reads.
		found := Found{PowerType: "ipmi", Address: lan.IP, MAC: lan.MAC, BootType: "auto"}
		if _, _, err := agent.ParseBMCConfig([]byte(found.Config())); err != nil {
			t.Errorf("ParseBMCConfig: %v", err)
		}
	})
}
