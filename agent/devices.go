package agent

import (
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"maasgo/collectors"
)

// Roots are the machine's directories the runner reads to map parameters to devices and the
// ones it changes for configured networking (Etc) or checks (Var): the collectors' roots, so
// that the runner reads the machine through collectors.FS like the inventory does, and a
// recording of what it read replays.
type Roots = collectors.Roots

// HostRoots are the running machine's directories (collectors.HostRoots).
func HostRoots() Roots { return collectors.HostRoots() }

// RootsAt lays the roots out below dir like a machine's root directory (collectors.RootsAt).
func RootsAt(dir string) Roots { return collectors.RootsAt(dir) }

// readTrim reads a real file and trims it; an error gives "". Only PhysicalMACs uses it.
func readTrim(file string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// InterfaceNames maps MAC addresses (lower case) to interface names the way upstream's
// get_interfaces does: from the netplan files in /etc/netplan, the devices that match a MAC
// and have addresses or DHCP (set-name wins over the key); if there are none, from
// /sys/class/net/*/address.
func InterfaceNames(f *collectors.FS) map[string]string {
	ifaces := map[string]string{}
	entries, _ := f.ReadDir("/etc/netplan")
	for _, e := range entries {
		data, err := f.ReadFile("/etc/netplan/" + e.Name)
		if err != nil {
			continue
		}
		for mac, name := range ParseNetplan(data) {
			ifaces[mac] = name
		}
	}
	if len(ifaces) > 0 {
		return ifaces
	}
	ifaces, _ = collectors.InterfacesByMAC(f)
	return ifaces
}

// maxNetplanSize bounds a netplan file the runner reads.
const maxNetplanSize = 4 << 20

// ParseNetplan reads one netplan file and returns the MAC → name map of its configured
// devices. A file it cannot read as netplan gives an empty map, as upstream ignores it.
func ParseNetplan(data []byte) map[string]string {
	out := map[string]string{}
	if len(data) > maxNetplanSize {
		return out
	}
	root, err := decodeYAMLDoc(data)
	if err != nil || root == nil {
		return out
	}
	network := mappingValue(root, "network")
	if network == nil || network.Kind != yaml.MappingNode {
		return out
	}
	for i := 1; i < len(network.Content); i += 2 {
		devs := deref(network.Content[i])
		if devs.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(devs.Content); j += 2 {
			key, info := deref(devs.Content[j]), deref(devs.Content[j+1])
			if key.Kind != yaml.ScalarNode || info.Kind != yaml.MappingNode {
				continue
			}
			mac := scalarValue(mappingValue(info, "macaddress"))
			if mac == "" {
				mac = scalarValue(mappingValue(mappingValue(info, "match"), "macaddress"))
			}
			if mac == "" {
				continue
			}
			if mappingValue(info, "addresses") == nil && !truthy(mappingValue(info, "dhcp4")) && !truthy(mappingValue(info, "dhcp6")) {
				continue
			}
			name := key.Value
			if n := scalarValue(mappingValue(info, "set-name")); n != "" {
				name = n
			}
			out[strings.ToLower(mac)] = name
		}
	}
	return out
}

func scalarValue(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		return ""
	}
	return n.Value
}

// truthy is Python's truth of a YAML scalar as netplan files use it (dhcp4: true / yes).
func truthy(n *yaml.Node) bool {
	switch strings.ToLower(scalarValue(n)) {
	case "", "false", "no", "off", "0":
		return false
	}
	return true
}

// waitForInterfaces gives netplan's devices time to appear in /sys/class/net, as upstream
// does after reading the netplan files (netplan applies in the background). It returns the
// names still missing.
func waitForInterfaces(f *collectors.FS, ifaces map[string]string, naps []time.Duration) []string {
	missing := func() []string {
		var out []string
		for _, name := range ifaces {
			if !f.Exists(path.Join("/sys/class/net", name)) {
				out = append(out, name)
			}
		}
		sort.Strings(out)
		return out
	}
	m := missing()
	for _, nap := range naps {
		if len(m) == 0 {
			break
		}
		time.Sleep(nap)
		m = missing()
	}
	return m
}

// operstate reads /sys/class/net/<iface>/operstate.
func operstate(r Roots, iface string) string {
	s, _ := collectors.NewFS(r, nil).ReadString(path.Join("/sys/class/net", iface, "operstate"))
	return s
}
