// Package inventory turns a machine-resources document (as 50-maas-01-commissioning sends
// it, from this project's collector or from upstream's machine-resources binary) into the
// machine facts the region stores, following the rules of MAAS's commissioning hooks
// (spec/hardware.md §2.5, §3.1 and §4.1). It is pure: it imports only the wire schema, wire
// and the standard library, and it reads and writes nothing.
package inventory

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"maasgo/collectors/schema"
	"maasgo/wire"
)

// Errors for documents the upstream region refuses.
var (
	ErrInvalidJSON       = errors.New("invalid commissioning data")
	ErrAPIVersion        = errors.New("data not from the LXD API 1.0")
	ErrMissingExtensions = errors.New("missing required LXD API extensions")
	ErrMissingSection    = errors.New("missing section")
	ErrUnknownArch       = wire.ErrUnknownArch // a kernel architecture the region takes no machines of
	ErrUnknownNUMANode   = errors.New("reference to an unknown NUMA node")
)

// MinBlockDeviceSize is the size at or under which a new disk is not modelled (4 MiB).
const MinBlockDeviceSize = 4 * 1024 * 1024

// Facts are the machine fields the region derives from one commissioning document.
type Facts struct {
	Architecture string            `json:"architecture"`
	CPUCount     uint64            `json:"cpu_count"`
	CPUSpeed     uint64            `json:"cpu_speed"`
	Memory       uint64            `json:"memory"` // MiB
	NUMANodes    []NUMANode        `json:"numanode_set"`
	HardwareUUID *string           `json:"hardware_uuid"`
	HardwareInfo map[string]string `json:"hardware_info"`
	Tags         []string          `json:"tags"`
	BlockDevices []BlockDevice     `json:"physicalblockdevice_set"`
	Storage      float64           `json:"storage"` // MB (10^6 bytes)
	Interfaces   []Interface       `json:"interface_set"`
}

// NUMANode is one NUMA node: its logical CPUs, memory in MiB and hugepages. Upstream
// stores the hugepages only for deployed machines; the caller decides.
type NUMANode struct {
	Index     uint64      `json:"index"`
	Cores     []int64     `json:"cores"`
	Memory    uint64      `json:"memory"`
	Hugepages []Hugepages `json:"hugepages_set"`
}

// Hugepages is the hugepage total (bytes) of one page size on a node.
type Hugepages struct {
	PageSize uint64 `json:"page_size"`
	Total    uint64 `json:"total"`
}

// BlockDevice is one physical block device.
type BlockDevice struct {
	Name            string   `json:"name"`
	IDPath          string   `json:"id_path"`
	Model           string   `json:"model"`
	Serial          string   `json:"serial"`
	Size            uint64   `json:"size"`
	BlockSize       uint64   `json:"block_size"`
	FirmwareVersion string   `json:"firmware_version"`
	NUMANode        uint64   `json:"numa_node"`
	Tags            []string `json:"tags"`
}

// Interface is one network interface: physical, bond, bridge or vlan.
type Interface struct {
	Name            string   `json:"name"`
	Type            string   `json:"type"`
	MACAddress      string   `json:"mac_address"`
	Parents         []string `json:"parents"`
	VID             *uint64  `json:"vid,omitempty"`
	Vendor          string   `json:"vendor"`
	Product         string   `json:"product"`
	FirmwareVersion string   `json:"firmware_version"`
	LinkConnected   bool     `json:"link_connected"`
	LinkSpeed       uint64   `json:"link_speed"`
	InterfaceSpeed  uint64   `json:"interface_speed"`
	NUMANode        uint64   `json:"numa_node"`
	SRIOVMaxVF      uint64   `json:"sriov_max_vf"`
	Tags            []string `json:"tags"`
	MTU             int      `json:"mtu"`
	Enabled         bool     `json:"enabled"`
	Links           []string `json:"links"` // global addresses as address/prefix
	// Params are a bond's or a bridge's settings as upstream's interface params (bond_mode,
	// bridge_stp, …); nil for other interfaces.
	Params map[string]any `json:"params,omitempty"`
}

// Parse decodes a commissioning document and checks what the region checks first: the
// environment, resources and networks sections, api_version "1.0" and the required API
// extensions.
func Parse(data []byte) (*schema.Document, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil || top == nil {
		if err == nil {
			err = errors.New("not a JSON object")
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	var version string
	if err := json.Unmarshal(top["api_version"], &version); err != nil || version != schema.APIVersion {
		return nil, fmt.Errorf("%w: api_version is %s", ErrAPIVersion, strings.TrimSpace(string(top["api_version"])))
	}
	var exts []string
	if raw, ok := top["api_extensions"]; ok {
		if err := json.Unmarshal(raw, &exts); err != nil {
			return nil, fmt.Errorf("%w: api_extensions: %v", ErrInvalidJSON, err)
		}
	}
	have := map[string]bool{}
	for _, e := range exts {
		have[e] = true
	}
	var missing []string
	for _, e := range schema.RequiredExtensions {
		if !have[e] {
			missing = append(missing, e)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("%w %v", ErrMissingExtensions, missing)
	}
	for _, k := range []string{"environment", "resources", "networks"} {
		if raw, ok := top[k]; !ok || string(raw) == "null" {
			return nil, fmt.Errorf("%w: %s", ErrMissingSection, k)
		}
	}
	var doc schema.Document
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	return &doc, nil
}

// FromJSON parses data and derives the facts.
func FromJSON(data []byte) (*Facts, error) {
	doc, err := Parse(data)
	if err != nil {
		return nil, err
	}
	return FromDocument(doc)
}

// FromDocument derives the machine facts from a parsed document.
func FromDocument(doc *schema.Document) (*Facts, error) {
	arch, err := DebianArchitecture(doc.Environment.KernelArchitecture)
	if err != nil {
		return nil, err
	}
	if len(doc.MachineExtra) > 0 {
		var extra struct {
			Platform *string `json:"platform"`
		}
		if json.Unmarshal(doc.MachineExtra, &extra) == nil && extra.Platform != nil {
			arch = strings.SplitN(arch, "/", 2)[0] + "/" + *extra.Platform
		}
	}
	r := doc.Resources
	f := &Facts{Architecture: arch, Tags: []string{}}
	var cpuModel string
	f.CPUCount, f.CPUSpeed, cpuModel = cpuFacts(r.CPU)
	f.Memory, f.NUMANodes = memoryFacts(r.CPU, r.Memory)
	nodes := map[uint64]bool{}
	for _, n := range f.NUMANodes {
		nodes[n.Index] = true
	}
	f.HardwareUUID = hardwareUUID(r.System.UUID)
	f.HardwareInfo = hardwareInfo(r.System, cpuModel)
	if t := r.System.Type; t != "" && t != "physical" {
		f.Tags = append(f.Tags, "virtual")
	}
	if f.BlockDevices, f.Storage, err = blockDevices(r.Storage.Disks, nodes); err != nil {
		return nil, err
	}
	if f.Interfaces, err = interfaces(doc, nodes); err != nil {
		return nil, err
	}
	return f, nil
}

// DebianArchitecture maps a kernel architecture (uname -m) to "<debian arch>/generic" with
// the table the agent and the API use (wire.Arches), so that a machine that could register
// can be commissioned. Upstream's inventory knows mips but no riscv64; the region takes
// riscv64 machines and refuses mips ones, here as at registration.
func DebianArchitecture(kernel string) (string, error) {
	a, err := wire.MachineArch(kernel)
	if err != nil {
		return "", err
	}
	return a + "/generic", nil
}

var (
	ghzRE   = regexp.MustCompile(`(?m)(\s@\s(\d+\.\d+)GHz)$`)
	firstRE = regexp.MustCompile(`.+`)
)

// cpuFacts returns cpu_count, cpu_speed (MHz) and the cpu_model metadata.
func cpuFacts(c schema.CPU) (count, speed uint64, model string) {
	count = c.Total
	var names []string
	for _, s := range c.Sockets {
		if s.Name != "" {
			names = append(names, s.Name)
		}
	}
	same := len(names) > 0
	for _, n := range names {
		same = same && n == names[0]
	}
	if same {
		if m := firstRE.FindString(names[0]); m != "" {
			model = m
			if strings.Contains(model, "@") {
				model = strings.SplitN(model, " @", 2)[0]
			}
		}
		if m := ghzRE.FindStringSubmatch(names[0]); m != nil {
			if ghz, err := strconv.ParseFloat(m[2], 64); err == nil {
				speed = uint64(ghz * 1000)
			}
		}
	}
	if speed == 0 {
		for _, s := range c.Sockets {
			speed = max(speed, s.FrequencyTurbo)
		}
	}
	if speed == 0 && len(c.Sockets) > 0 {
		var sum float64
		for _, s := range c.Sockets {
			sum += float64(s.Frequency)
		}
		if sum > 0 {
			speed = uint64(math.RoundToEven(sum/float64(len(c.Sockets))/100) * 100)
		}
	}
	return count, speed, model
}

// memoryFacts returns the memory in MiB and the NUMA nodes (threads' nodes plus memory
// nodes; without memory nodes all memory is on node 0).
func memoryFacts(c schema.CPU, m schema.Memory) (uint64, []NUMANode) {
	byIndex := map[uint64]*NUMANode{}
	var order []uint64
	node := func(i uint64) *NUMANode {
		n := byIndex[i]
		if n == nil {
			n = &NUMANode{Index: i, Cores: []int64{}, Hugepages: []Hugepages{}}
			byIndex[i] = n
			order = append(order, i)
		}
		return n
	}
	for _, s := range c.Sockets {
		for _, core := range s.Cores {
			for _, t := range core.Threads {
				n := node(t.NUMANode)
				n.Cores = append(n.Cores, t.ID)
			}
		}
	}
	memNodes := m.Nodes
	if memNodes == nil {
		memNodes = []schema.MemoryNode{{NUMANode: 0, Total: m.Total}}
	}
	for _, mn := range memNodes {
		n := node(mn.NUMANode)
		n.Memory = mn.Total >> 20
		if m.HugepagesSize != 0 {
			n.Hugepages = []Hugepages{{PageSize: m.HugepagesSize, Total: mn.HugepagesTotal}}
		}
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	out := make([]NUMANode, 0, len(order))
	for _, i := range order {
		out = append(out, *byIndex[i])
	}
	return m.Total >> 20, out
}

var uuidRE = regexp.MustCompile(`(?i)^[0-9a-f]{8}-?([0-9a-f]{4}-?){3}[0-9a-f]{12}\n?$`)

func hardwareUUID(u string) *string {
	if u == "" || !uuidRE.MatchString(u) {
		return nil
	}
	return &u
}

// HardwareInfoKeys are the keys of the API's hardware_info, in the API's order.
var HardwareInfoKeys = []string{
	"system_vendor", "system_product", "system_family", "system_version", "system_sku", "system_serial",
	"cpu_model", "mainboard_vendor", "mainboard_product", "mainboard_serial", "mainboard_version",
	"mainboard_firmware_vendor", "mainboard_firmware_date", "mainboard_firmware_version",
	"chassis_vendor", "chassis_type", "chassis_serial", "chassis_version",
}

// placeholder reports vendor placeholders that mean "not set".
func placeholder(v string) bool {
	l := strings.ToLower(v)
	return v == "" || l == "0123456789" || l == "none"
}

func hardwareInfo(s schema.System, cpuModel string) map[string]string {
	vals := map[string]string{
		"system_vendor": s.Vendor, "system_product": s.Product, "system_family": s.Family,
		"system_version": s.Version, "system_sku": s.Sku, "system_serial": s.Serial, "cpu_model": cpuModel,
	}
	if b := s.Motherboard; b != nil {
		vals["mainboard_vendor"], vals["mainboard_product"] = b.Vendor, b.Product
		vals["mainboard_serial"], vals["mainboard_version"] = b.Serial, b.Version
	}
	if fw := s.Firmware; fw != nil {
		vals["mainboard_firmware_vendor"], vals["mainboard_firmware_date"] = fw.Vendor, fw.Date
		vals["mainboard_firmware_version"] = fw.Version
	}
	if c := s.Chassis; c != nil {
		vals["chassis_vendor"], vals["chassis_type"] = c.Vendor, c.Type
		vals["chassis_serial"], vals["chassis_version"] = c.Serial, c.Version
	}
	out := make(map[string]string, len(HardwareInfoKeys))
	for _, k := range HardwareInfoKeys {
		v := vals[k]
		if k != "cpu_model" && placeholder(v) || v == "" {
			v = "Unknown"
		}
		out[k] = v
	}
	return out
}

// BootIFMAC returns the MAC address of BOOTIF=01-aa-bb-cc-dd-ee-ff on a kernel command line,
// lowercased with colons, or "" when there is none.
func BootIFMAC(cmdline string) string {
	m := bootifRE.FindStringSubmatch(cmdline)
	if m == nil {
		return ""
	}
	return strings.ToLower(strings.ReplaceAll(m[1], "-", ":"))
}

var bootifRE = regexp.MustCompile(`BOOTIF=\d\d-([0-9a-f]{2}([:-][0-9a-f]{2}){5})`)
