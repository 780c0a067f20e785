package agent

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Roots are the machine's directories the runner reads to map parameters to devices and the
// one it changes for configured networking. Each field is the real directory that stands for
// the machine path in its comment; tests point them at fixture trees.
type Roots struct {
	Sys  string // /sys
	Dev  string // /dev
	Udev string // /run/udev
	Etc  string // /etc (netplan)
	Var  string // /var (the apt cache)
}

// HostRoots are the running machine's directories.
func HostRoots() Roots {
	return Roots{Sys: "/sys", Dev: "/dev", Udev: "/run/udev", Etc: "/etc", Var: "/var"}
}

// RootsAt lays the roots out below dir like a machine's root directory.
func RootsAt(dir string) Roots {
	return Roots{
		Sys:  filepath.Join(dir, "sys"),
		Dev:  filepath.Join(dir, "dev"),
		Udev: filepath.Join(dir, "run", "udev"),
		Etc:  filepath.Join(dir, "etc"),
		Var:  filepath.Join(dir, "var"),
	}
}

// BlockDevice is a disk as lsblk --exclude 1,2,7 -d shows it, with the model names udev
// knows.
type BlockDevice struct {
	Name     string   // sda, nvme0n1
	MajMin   string   // 8:0
	Models   []string // ID_MODEL, decoded ID_MODEL_ENC and the sysfs model
	Serials  []string // ID_SCSI_SERIAL, ID_SERIAL_SHORT, ID_SERIAL and the sysfs serial
	RawModel string   // for messages
}

// excludedMajors are the block majors lsblk --exclude 1,2,7 leaves out: RAM disks, floppies
// and loop devices.
var excludedMajors = map[string]bool{"1": true, "2": true, "7": true}

// BlockDevices lists the whole disks (not partitions) under /sys/class/block with their udev model and serial.
func BlockDevices(r Roots) ([]BlockDevice, error) {
	// /sys/class/block lists disks and partitions (the collector reads it too, so machine
	// trees have it); partitions have a "partition" file.
	dir := filepath.Join(r.Sys, "class", "block")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list block devices: %w", err)
	}
	var out []BlockDevice
	for _, e := range entries {
		name := e.Name()
		devDir := filepath.Join(dir, name)
		if _, err := os.Stat(filepath.Join(devDir, "partition")); err == nil {
			continue
		}
		mm := readTrim(filepath.Join(devDir, "dev"))
		major, _, _ := strings.Cut(mm, ":")
		if mm == "" || excludedMajors[major] {
			continue
		}
		d := BlockDevice{Name: name, MajMin: mm}
		props := readUdevProps(filepath.Join(r.Udev, "data", "b"+mm))
		add := func(list *[]string, v string) {
			v = strings.TrimSpace(v)
			if v == "" {
				return
			}
			for _, x := range *list {
				if x == v {
					return
				}
			}
			*list = append(*list, v)
		}
		add(&d.Models, props["ID_MODEL"])
		add(&d.Models, UdevDecode(props["ID_MODEL_ENC"]))
		add(&d.Models, readTrim(filepath.Join(devDir, "device", "model")))
		add(&d.Serials, props["ID_SCSI_SERIAL"])
		add(&d.Serials, props["ID_SERIAL_SHORT"])
		add(&d.Serials, props["ID_SERIAL"])
		add(&d.Serials, readTrim(filepath.Join(devDir, "device", "serial")))
		if len(d.Models) > 0 {
			d.RawModel = d.Models[0]
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// readUdevProps reads the E: lines of a udev database file.
func readUdevProps(path string) map[string]string {
	props := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return props
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "E:"), "="); ok && strings.HasPrefix(sc.Text(), "E:") {
			props[k] = v
		}
	}
	return props
}

// UdevDecode undoes udev's \xNN escaping (ID_MODEL_ENC) and trims the result, as upstream's
// udev_decode does.
func UdevDecode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if n, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 4
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return strings.TrimSpace(b.String())
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// InterfaceNames maps MAC addresses (lower case) to interface names the way upstream's
// get_interfaces does: from the netplan files in /etc/netplan, the devices that match a MAC
// and have addresses or DHCP (set-name wins over the key); if there are none, from
// /sys/class/net/*/address.
func InterfaceNames(r Roots) map[string]string {
	ifaces := map[string]string{}
	dir := filepath.Join(r.Etc, "netplan")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
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
	netDir := filepath.Join(r.Sys, "class", "net")
	devs, _ := os.ReadDir(netDir)
	for _, d := range devs {
		mac := strings.ToLower(readTrim(filepath.Join(netDir, d.Name(), "address")))
		if mac != "" && mac != "00:00:00:00:00:00" {
			ifaces[mac] = d.Name()
		}
	}
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
func waitForInterfaces(r Roots, ifaces map[string]string, naps []time.Duration) []string {
	missing := func() []string {
		var out []string
		for _, name := range ifaces {
			if _, err := os.Stat(filepath.Join(r.Sys, "class", "net", name)); err != nil {
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
	return readTrim(filepath.Join(r.Sys, "class", "net", iface, "operstate"))
}
