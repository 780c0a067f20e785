package agent

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"syscall"
)

// UnameMachine is the running kernel's machine name, as uname -m prints it;
// wire.MachineArch turns it into the Debian architecture the region takes.
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
