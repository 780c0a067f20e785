package agent

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"maasgo/collectors"
	"maasgo/wire"
)

// Roots are the machine's directories the runner reads to map parameters to devices and the
// ones it changes for configured networking (Etc) or checks (Var): the collectors' roots, so
// that the runner reads the machine through collectors.FS like the inventory does, and a
// recording of what it read replays.
type Roots = collectors.Roots

// resolver maps storage and interface parameters to the machine's current devices. It reads
// the machine through collectors.FS once per phase and again after the network
// configuration changes.
type resolver struct {
	roots    Roots
	rec      *collectors.Recorder // records what is read, for a snapshot; nil: nothing
	naps     []time.Duration
	fs       *collectors.FS
	disks    []collectors.BlockDevice
	disksErr error
	ifaces   map[string]string
	loaded   bool
}

// load reads the machine's disks and interfaces, once until reset, and gives netplan's
// interfaces time to appear.
func (r *resolver) load() {
	if r.loaded {
		return
	}
	r.loaded = true
	r.fs = collectors.NewFS(r.roots, r.rec)
	r.disks, r.disksErr = collectors.BlockDevices(r.fs)
	r.ifaces = InterfaceNames(r.fs)
	waitForInterfaces(r.fs, r.ifaces, r.naps)
}

// reset forgets what was read: a phase starts, or the network configuration changed.
func (r *resolver) reset() { r.loaded = false }

// forgetDevices makes the next parameter read the machine's devices again: a phase starts,
// or the network configuration changed.
func (r *run) forgetDevices() {
	r.resMu.Lock()
	defer r.resMu.Unlock()
	r.res.reset()
}

// storageArg formats a storage parameter: the disk whose model and serial match the value's,
// else its id_path when that exists (or when there is no model or serial to match).
func (r *resolver) storageArg(p wire.ResolvedParam) (string, error) {
	if str, ok := p.Value.(string); ok && str == "all" {
		//lint:ignore ST1005 upstream runner's message, word for word
		return "", errors.New("MAAS did not detect any storage devices during commissioning!")
	}
	vals, ok := deviceValues(p.Value)
	if !ok {
		return "", fmt.Errorf("storage parameter value %s is not a device", pyStr(p.Value))
	}
	model, serial := vals["model"], vals["serial"]
	m, _ := p.Value.(map[string]any)
	hasModel := m["model"] != nil && model != ""
	hasSerial := m["serial"] != nil && serial != ""
	hasIDPath := vals["id_path"] != "" && m["id_path"] != nil
	if !hasModel || !hasSerial {
		// Without a model or serial the id_path is trusted (VirtIO disks).
		if hasIDPath {
			vals["path"], vals["input"] = vals["id_path"], vals["id_path"]
		}
	} else {
		r.load()
		if r.disksErr != nil {
			return "", r.disksErr
		}
		for _, d := range r.disks {
			if contains(d.Models, model) && contains(d.Serials, serial) {
				vals["path"], vals["input"] = "/dev/"+d.Name, "/dev/"+d.Name
			}
		}
		if _, found := vals["path"]; !found && hasIDPath && r.devExists(vals["id_path"]) {
			// Some controllers report several serials; trust an id_path that exists then.
			vals["path"], vals["input"] = vals["id_path"], vals["id_path"]
		}
	}
	format := p.ArgumentFormat
	if format == "" {
		format = "--storage={path}"
	}
	out, err := pyFormat(format, vals)
	if err != nil {
		//lint:ignore ST1005 upstream runner's message, word for word
		return "", fmt.Errorf("Storage device '%s' with serial '%s' not found!\n\n"+
			"This indicates the storage device has been removed or the OS is unable to find it due "+
			"to a hardware failure. Please re-commission this node to re-discover the storage "+
			"devices, or delete this device manually.", model, serial)
	}
	return out, nil
}

// devExists reports whether a /dev path exists on the machine (a dangling link does).
func (r *resolver) devExists(p string) bool {
	p = path.Clean(p)
	return strings.HasPrefix(p, "/dev/") && r.fs.Lexists(p)
}

// interfaceArg formats an interface parameter with the name of the interface that has the
// value's MAC address, and returns that name.
func (r *resolver) interfaceArg(p wire.ResolvedParam) (string, string, error) {
	if str, ok := p.Value.(string); ok && str == "all" {
		//lint:ignore ST1005 upstream runner's message, word for word
		return "", "", errors.New("MAAS did not detect any interfaces during commissioning!")
	}
	vals, ok := deviceValues(p.Value)
	if !ok {
		return "", "", fmt.Errorf("interface parameter value %s is not a device", pyStr(p.Value))
	}
	r.load()
	name, found := r.ifaces[strings.ToLower(vals["mac_address"])]
	if !found {
		//lint:ignore ST1005 upstream runner's message, word for word
		return "", "", fmt.Errorf("Interface device %s (vendor: %s product: %s) with MAC address %s has not been found!\n\n"+
			"This indicates the interface has been removed or the OS is unable to find it due to a "+
			"hardware failure. Please re-commision this node to re-discover the interfaces or "+
			"delete this interface manually.", vals["name"], vals["vendor"], vals["product"], vals["mac_address"])
	}
	vals["name"], vals["input"] = name, name
	format := p.ArgumentFormat
	if format == "" {
		format = "--interface={name}"
	}
	out, err := pyFormat(format, vals)
	if err != nil {
		return "", "", err
	}
	return out, name, nil
}

// describe lists what the resolver found, for the diagnostic of a failed resolution.
func (r *resolver) describe() string {
	r.load()
	var b strings.Builder
	b.WriteString("Discovered storage devices:\n")
	if r.disksErr != nil {
		fmt.Fprintf(&b, "  (%v)\n", r.disksErr)
	}
	for _, d := range r.disks {
		fmt.Fprintf(&b, "  %s (%s): model %q, serial %q\n", d.Name, d.MajMin, strings.Join(d.Models, `" or "`), strings.Join(d.Serials, `" or "`))
	}
	b.WriteString("Discovered interfaces:\n")
	macs := make([]string, 0, len(r.ifaces))
	for mac := range r.ifaces {
		macs = append(macs, mac)
	}
	sort.Strings(macs)
	for _, mac := range macs {
		fmt.Fprintf(&b, "  %s: %s\n", mac, r.ifaces[mac])
	}
	return b.String()
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
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
