package agent

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// debianArches maps uname -m to Debian's architecture names, which the region takes.
var debianArches = map[string]string{
	"x86_64": "amd64", "amd64": "amd64",
	"aarch64": "arm64", "arm64": "arm64",
	"armv7l": "armhf", "armv8l": "armhf", "armhf": "armhf",
	"i386": "i386", "i486": "i386", "i586": "i386", "i686": "i386",
	"ppc64le": "ppc64el", "ppc64el": "ppc64el",
	"s390x":   "s390x",
	"riscv64": "riscv64",
}

// DebianArch is the Debian architecture of a uname -m machine name (x86_64 → amd64).
func DebianArch(machine string) (string, error) {
	if a, ok := debianArches[strings.TrimSpace(machine)]; ok {
		return a, nil
	}
	return "", fmt.Errorf("no Debian architecture for machine type %q", machine)
}

// UnameMachine is the running kernel's machine name, as uname -m prints it.
func UnameMachine() (string, error) {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return "", fmt.Errorf("uname: %w", err)
	}
	b := make([]byte, 0, len(u.Machine))
	for _, c := range u.Machine {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b), nil
}

// arphrdEther is the link type of Ethernet interfaces (/sys/class/net/*/type).
const arphrdEther = "1"

// PhysicalMACs lists the MAC addresses of the machine's physical Ethernet interfaces, sorted:
// those under sys/class/net with a device (not bridges, bonds, VLANs, tunnels or the loopback)
// and a non-zero address; none is not an error. A bond's member reports the bond's address in "address"; its own
// is the permanent one in bonding_slave/perm_hwaddr.
func PhysicalMACs(r Roots) ([]string, error) {
	dir := filepath.Join(r.Sys, "class", "net")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range entries {
		nd := filepath.Join(dir, e.Name())
		if _, err := os.Stat(filepath.Join(nd, "device")); err != nil {
			continue
		}
		if readTrim(filepath.Join(nd, "type")) != arphrdEther {
			continue
		}
		addr := readTrim(filepath.Join(nd, "bonding_slave", "perm_hwaddr"))
		if addr == "" {
			addr = readTrim(filepath.Join(nd, "address"))
		}
		hw, err := net.ParseMAC(addr)
		if err != nil || len(hw) != 6 || isZero(hw) {
			continue
		}
		mac := hw.String()
		if !seen[mac] {
			seen[mac] = true
			out = append(out, mac)
		}
	}
	sort.Strings(out)
	return out, nil
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
