// Package bmc finds the machine's BMC for the 30-maas-01-bmc-config commissioning script: a
// Redfish service behind an SMBIOS type 42 host interface, or an IPMI BMC behind the kernel's
// IPMI device. It reads the machine below a root passed in and talks to the IPMI BMC only
// through a Transport, so tests use recorded answers and never touch a real BMC.
//
// Unlike upstream's bmc_config.py it creates no BMC user and changes no BMC setting: it
// reports the BMC's address, with empty credentials for the administrator to fill in.
package bmc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Transport is the seam to an IPMI BMC.
type Transport interface {
	// LANPrint returns what "ipmitool lan print CHANNEL" prints, or an error when the
	// channel is not a LAN channel.
	LANPrint(ctx context.Context, channel int) (string, error)
}

// Ipmitool is the real Transport: it runs ipmitool, which talks to the local BMC through
// the kernel's IPMI device.
type Ipmitool struct {
	Path    string        // the ipmitool binary
	Timeout time.Duration // per call; 0: one minute
}

// LookIpmitool returns the ipmitool Transport, or nil when ipmitool is not installed.
func LookIpmitool() Transport {
	p, err := exec.LookPath("ipmitool")
	if err != nil {
		return nil
	}
	return Ipmitool{Path: p}
}

// LANPrint runs "ipmitool lan print CHANNEL".
func (t Ipmitool) LANPrint(ctx context.Context, channel int) (string, error) {
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, t.Path, "lan", "print", fmt.Sprint(channel))
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("ipmitool lan print %d: %w: %s", channel, err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// Found is a BMC found on the machine.
type Found struct {
	PowerType string // "ipmi" or "redfish"
	Address   string // the power_address: an IP address; an IPv6 one in brackets; ":port" added for a Redfish port other than 443
	MAC       string // the BMC's MAC address, when known
	Channel   int    // the IPMI LAN channel
	BootType  string // IPMI: "efi" or "auto"
}

// Config is the BMC configuration as the runner reads it from BMC_CONFIG_PATH: power_type
// then the power parameters, in this order.
func (f Found) Config() string {
	var b strings.Builder
	fmt.Fprintf(&b, "power_type: %s\n", f.PowerType)
	fmt.Fprintf(&b, "power_address: %s\n", quote(f.Address))
	b.WriteString("power_user: ''\npower_pass: ''\n")
	if f.PowerType == "ipmi" {
		fmt.Fprintf(&b, "power_boot_type: %s\n", quote(f.BootType))
		fmt.Fprintf(&b, "mac_address: %s\n", quote(f.MAC))
	}
	return b.String()
}

// quote renders s as a single-quoted YAML string.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// ErrNone is wrapped by Detect's error when the machine has no BMC to report: the script is
// then skipped, with the error as its reason.
var ErrNone = errors.New("no BMC")

// ipmiDevices are the kernel IPMI device nodes, below the machine root.
var ipmiDevices = []string{"dev/ipmi0", "dev/ipmi/0", "dev/ipmidev/0"}

// maxChannel is the last IPMI channel tried for LAN settings, as upstream tries 0 to 8.
const maxChannel = 8

// Detect looks for a BMC on the machine below root. A Redfish host interface wins over
// IPMI, as it needs no tool. t may be nil when ipmitool is not installed. The error wraps
// ErrNone when there is nothing to report (a virtual machine, or no BMC).
func Detect(ctx context.Context, root string, t Transport) (Found, error) {
	if virtual(root) {
		return Found{}, fmt.Errorf("%w: the machine is virtual (hypervisor flag in /proc/cpuinfo)", ErrNone)
	}
	his, err := readHostInterfaces(root)
	if err != nil {
		return Found{}, err
	}
	why := "no Redfish host interface (SMBIOS type 42)"
	for _, hi := range his {
		switch {
		case hi.Address == "":
			why = "a Redfish host interface without a service address"
		case hi.LinkLocal:
			// The service is reachable from this machine only; its network address would
			// have to be asked of the BMC over Redfish, which is not implemented.
			why = "a Redfish host interface whose service address " + hi.Address + " is link-local"
		default:
			return Found{PowerType: "redfish", Address: hi.Address}, nil
		}
	}
	dev := ""
	for _, d := range ipmiDevices {
		if _, err := os.Stat(filepath.Join(root, d)); err == nil {
			dev = "/" + d
			break
		}
	}
	if dev == "" {
		return Found{}, fmt.Errorf("%w: %s, and no IPMI device (/%s)", ErrNone, why, strings.Join(ipmiDevices, ", /"))
	}
	if t == nil {
		return Found{}, fmt.Errorf("IPMI device %s found, but ipmitool is not installed to read the BMC's LAN settings", dev)
	}
	var errs []error
	for ch := 0; ch <= maxChannel; ch++ {
		out, err := t.LANPrint(ctx, ch)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		lan := ParseLANPrint(out)
		if lan.IP == "" {
			errs = append(errs, fmt.Errorf("channel %d: no usable IP address", ch))
			continue
		}
		boot := "auto"
		if _, err := os.Stat(filepath.Join(root, "sys/firmware/efi")); err == nil {
			boot = "efi"
		}
		return Found{PowerType: "ipmi", Address: lan.IP, MAC: lan.MAC, Channel: ch, BootType: boot}, nil
	}
	return Found{}, fmt.Errorf("IPMI device %s found, but no LAN channel has a usable IP address: %w", dev, errors.Join(errs...))
}

// virtual reports whether /proc/cpuinfo below root has the hypervisor flag.
func virtual(root string) bool {
	data, err := os.ReadFile(filepath.Join(root, "proc/cpuinfo"))
	if err != nil {
		return false
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) != "flags" {
			continue
		}
		for _, f := range strings.Fields(v) {
			if f == "hypervisor" {
				return true
			}
		}
	}
	return false
}

// readHostInterfaces parses every SMBIOS type 42 entry below root.
func readHostInterfaces(root string) ([]HostInterface, error) {
	paths, _ := filepath.Glob(filepath.Join(root, "sys/firmware/dmi/entries/42-*/raw"))
	sort.Strings(paths)
	var out []HostInterface
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read the SMBIOS host interface: %w", err)
		}
		hi, err := ParseHostInterface(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, hi...)
	}
	return out, nil
}
