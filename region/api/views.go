package api

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/wire"
)

const apiRoot = "/MAAS/api/2.0"

// The region has one fabric, VLAN, zone, pool and domain; machines point at them as upstream's do.
// Structs, not maps: machines read renders thousands of these.
type vlanJSON struct {
	VID           int    `json:"vid"`
	MTU           int    `json:"mtu"`
	DHCPOn        bool   `json:"dhcp_on"`
	ExternalDHCP  any    `json:"external_dhcp"`
	RelayVLAN     any    `json:"relay_vlan"`
	Fabric        string `json:"fabric"`
	PrimaryRack   any    `json:"primary_rack"`
	Name          string `json:"name"`
	ID            int    `json:"id"`
	Space         string `json:"space"`
	SecondaryRack any    `json:"secondary_rack"`
	FabricID      int    `json:"fabric_id"`
	ResourceURI   string `json:"resource_uri"`
}

type namedJSON struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	ID          int    `json:"id"`
	ResourceURI string `json:"resource_uri"`
}

type domainJSON struct {
	Authoritative       bool   `json:"authoritative"`
	TTL                 *int   `json:"ttl"`
	ResourceRecordCount int    `json:"resource_record_count"`
	Name                string `json:"name"`
	ID                  int    `json:"id"`
	IsDefault           bool   `json:"is_default"`
	ResourceURI         string `json:"resource_uri"`
}

type gatewayJSON struct {
	GatewayIP *string `json:"gateway_ip"`
	LinkID    *int64  `json:"link_id"`
}

type gatewaysJSON struct {
	IPv4 gatewayJSON `json:"ipv4"`
	IPv6 gatewayJSON `json:"ipv6"`
}

var (
	defaultVLAN = &vlanJSON{MTU: 1500, Fabric: "fabric-0", Name: "untagged", ID: 5001, Space: "undefined",
		ResourceURI: apiRoot + "/vlans/5001/"}
	defaultPool = &namedJSON{Name: "default", Description: "Default pool", ID: 0, ResourceURI: apiRoot + "/resourcepool/0/"}
	defaultZone = &namedJSON{Name: "default", ID: 1, ResourceURI: apiRoot + "/zones/default/"}
)

func newDomainJSON(name string) *domainJSON {
	return &domainJSON{Authoritative: true, Name: name, IsDefault: true, ResourceURI: apiRoot + "/domains/0/"}
}

// hardwareInfoJSON has exactly upstream's 18 hardware_info keys, "Unknown" when not known.
type hardwareInfoJSON struct {
	SystemVendor             string `json:"system_vendor"`
	SystemProduct            string `json:"system_product"`
	SystemFamily             string `json:"system_family"`
	SystemVersion            string `json:"system_version"`
	SystemSKU                string `json:"system_sku"`
	SystemSerial             string `json:"system_serial"`
	CPUModel                 string `json:"cpu_model"`
	MainboardVendor          string `json:"mainboard_vendor"`
	MainboardProduct         string `json:"mainboard_product"`
	MainboardSerial          string `json:"mainboard_serial"`
	MainboardVersion         string `json:"mainboard_version"`
	MainboardFirmwareVendor  string `json:"mainboard_firmware_vendor"`
	MainboardFirmwareDate    string `json:"mainboard_firmware_date"`
	MainboardFirmwareVersion string `json:"mainboard_firmware_version"`
	ChassisVendor            string `json:"chassis_vendor"`
	ChassisType              string `json:"chassis_type"`
	ChassisSerial            string `json:"chassis_serial"`
	ChassisVersion           string `json:"chassis_version"`
}

func newHardwareInfo(m map[string]string) *hardwareInfoJSON {
	v := func(k string) string {
		if s := m[k]; s != "" {
			return s
		}
		return "Unknown"
	}
	return &hardwareInfoJSON{
		SystemVendor: v("system_vendor"), SystemProduct: v("system_product"), SystemFamily: v("system_family"),
		SystemVersion: v("system_version"), SystemSKU: v("system_sku"), SystemSerial: v("system_serial"),
		CPUModel: v("cpu_model"), MainboardVendor: v("mainboard_vendor"), MainboardProduct: v("mainboard_product"),
		MainboardSerial: v("mainboard_serial"), MainboardVersion: v("mainboard_version"),
		MainboardFirmwareVendor: v("mainboard_firmware_vendor"), MainboardFirmwareDate: v("mainboard_firmware_date"),
		MainboardFirmwareVersion: v("mainboard_firmware_version"), ChassisVendor: v("chassis_vendor"),
		ChassisType: v("chassis_type"), ChassisSerial: v("chassis_serial"), ChassisVersion: v("chassis_version"),
	}
}

// interfaceJSON is an interface as upstream renders DISPLAYED_INTERFACE_FIELDS.
type interfaceJSON struct {
	SystemID        string    `json:"system_id"`
	ID              int64     `json:"id"`
	Name            string    `json:"name"`
	Type            string    `json:"type"`
	VLAN            *vlanJSON `json:"vlan"`
	MACAddress      string    `json:"mac_address"`
	Parents         []string  `json:"parents"`
	Children        []string  `json:"children"`
	Tags            []string  `json:"tags"`
	Enabled         bool      `json:"enabled"`
	Links           []any     `json:"links"`
	Params          any       `json:"params"`
	Discovered      []any     `json:"discovered"`
	EffectiveMTU    int       `json:"effective_mtu"`
	Vendor          *string   `json:"vendor"`
	Product         *string   `json:"product"`
	FirmwareVersion *string   `json:"firmware_version"`
	LinkConnected   bool      `json:"link_connected"`
	InterfaceSpeed  int64     `json:"interface_speed"`
	LinkSpeed       int64     `json:"link_speed"`
	NUMANode        int       `json:"numa_node"`
	SRIOVMaxVF      int       `json:"sriov_max_vf"`
	ResourceURI     string    `json:"resource_uri"`
	// Beyond upstream: the warning for a link slower than the interface (null when none)
	// and the LLDP neighbours heard on it.
	LinkSpeedWarning *string          `json:"link_speed_warning"`
	Neighbours       []wire.Neighbour `json:"neighbours"`
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func renderInterfaces(m *store.Machine, ifs []store.Interface) []interfaceJSON {
	systemID := m.SystemID
	// As upstream: a deployed machine's addresses are its static links; a commissioned
	// machine's are what commissioning discovered, beside an address-less auto link.
	deployed := m.Status == wire.NodeDeployed || m.Status == wire.NodeDeploying
	children := map[string][]string{}
	for _, i := range ifs {
		for _, p := range i.Parents {
			children[p] = append(children[p], i.Name)
		}
	}
	out := make([]interfaceJSON, 0, len(ifs))
	for _, i := range ifs {
		links := make([]any, 0, len(i.Links))
		discovered := []any{}
		for k, l := range i.Links {
			mode := l.Mode
			if deployed && mode == "auto" && l.Address != "" {
				mode = "static"
			}
			link := map[string]any{"id": i.ID*100 + int64(k), "mode": mode}
			var subnet map[string]any
			if l.Subnet != "" {
				subnet = subnetJSON(l.Subnet)
				link["subnet"] = subnet
			}
			switch {
			case l.Address != "" && !deployed && l.Mode == "auto":
				d := map[string]any{"ip_address": l.Address}
				if subnet != nil {
					d["subnet"] = subnet
				}
				discovered = append(discovered, d)
			case l.Address != "":
				link["ip_address"] = l.Address
			}
			links = append(links, link)
		}
		// A bond's or bridge's params are an object, as upstream's; an interface without
		// any has "".
		var params any = ""
		if i.Params != "" && json.Valid([]byte(i.Params)) {
			params = json.RawMessage(i.Params)
		}
		out = append(out, interfaceJSON{
			SystemID: systemID, ID: i.ID, Name: i.Name, Type: i.Type, VLAN: defaultVLAN, MACAddress: i.MACAddress,
			Parents: orEmpty(i.Parents), Children: orEmpty(children[i.Name]), Tags: orEmpty(i.Tags),
			Enabled: i.Enabled, Links: links, Params: params, Discovered: discovered, EffectiveMTU: i.MTU,
			Vendor: optString(i.Vendor), Product: optString(i.Product), FirmwareVersion: optString(i.FirmwareVersion),
			LinkConnected: i.LinkConnected, InterfaceSpeed: i.InterfaceSpeed, LinkSpeed: i.LinkSpeed,
			NUMANode: i.NUMANode, SRIOVMaxVF: i.SRIOVMaxVF,
			ResourceURI:      fmt.Sprintf("%s/nodes/%s/interfaces/%d/", apiRoot, systemID, i.ID),
			LinkSpeedWarning: optString(lifecycle.InterfaceWarning(&i)),
			Neighbours:       orEmpty(i.Neighbours),
		})
	}
	return out
}

// subnetJSON is the subnet of a link's address (prefix: the address with its prefix length)
// as upstream names it: by its network, 192.0.2.0/24.
func subnetJSON(prefix string) map[string]any {
	cidr := prefix
	if p, err := netip.ParsePrefix(prefix); err == nil {
		cidr = p.Masked().String()
	}
	return map[string]any{"cidr": cidr, "name": cidr, "vlan": defaultVLAN}
}

// orEmpty is l, or an empty list, so that JSON has [] rather than null.
func orEmpty[T any](l []T) []T {
	if l == nil {
		return []T{}
	}
	return l
}

// blockDeviceJSON is a physical disk as upstream renders it.
type blockDeviceJSON struct {
	ID                 int64    `json:"id"`
	SystemID           string   `json:"system_id"`
	Name               string   `json:"name"`
	Path               string   `json:"path"`
	IDPath             string   `json:"id_path"`
	Model              string   `json:"model"`
	Serial             string   `json:"serial"`
	Size               int64    `json:"size"`
	AvailableSize      int64    `json:"available_size"`
	UsedSize           int64    `json:"used_size"`
	BlockSize          int      `json:"block_size"`
	Tags               []string `json:"tags"`
	NUMANode           int      `json:"numa_node"`
	UUID               *string  `json:"uuid"`
	PartitionTableType *string  `json:"partition_table_type"`
	Partitions         []any    `json:"partitions"`
	Filesystem         any      `json:"filesystem"`
	StoragePool        any      `json:"storage_pool"`
	UsedFor            string   `json:"used_for"`
	Type               string   `json:"type"`
	FirmwareVersion    *string  `json:"firmware_version,omitempty"`
	ResourceURI        string   `json:"resource_uri"`
}

func renderDisks(systemID string, disks []store.BlockDevice, physical bool) []blockDeviceJSON {
	out := make([]blockDeviceJSON, 0, len(disks))
	for _, d := range disks {
		j := blockDeviceJSON{ID: d.ID, SystemID: systemID, Name: d.Name, Path: "/dev/disk/by-dname/" + d.Name,
			IDPath: d.IDPath, Model: d.Model, Serial: d.Serial, Size: d.Size, AvailableSize: d.Size,
			BlockSize: d.BlockSize, Tags: orEmpty(d.Tags), NUMANode: d.NUMANode, Partitions: []any{},
			UsedFor: "Unused", Type: "physical",
			ResourceURI: fmt.Sprintf("%s/nodes/%s/blockdevices/%d/", apiRoot, systemID, d.ID)}
		if physical {
			fw := d.FirmwareVersion
			j.FirmwareVersion = &fw
		}
		out = append(out, j)
	}
	return out
}

// machineDetails are what a machine's JSON needs beyond its row.
type machineDetails struct {
	Interfaces []store.Interface
	Disks      []store.BlockDevice
	// Statuses by summary name (commissioning, testing, cpu_test, memory_test, storage_test,
	// network_test, interface_test, other_test); absent means no results (-1, "Unknown").
	Statuses map[string]int
}

func statusLabel(n int) string {
	if n < 0 {
		return "Unknown"
	}
	return wire.ScriptStatus(n).Label()
}

// machineJSON is a machine as upstream renders it: every key of the user guide's sample,
// plus the hardware-sync fields. A struct, not a map, because machines read renders
// thousands of these.
type machineJSON struct {
	SystemID                     string            `json:"system_id"`
	Hostname                     string            `json:"hostname"`
	FQDN                         string            `json:"fqdn"`
	Description                  string            `json:"description"`
	Domain                       *domainJSON       `json:"domain"`
	Architecture                 string            `json:"architecture"`
	Status                       int               `json:"status"`
	StatusName                   string            `json:"status_name"`
	StatusMessage                string            `json:"status_message"`
	StatusAction                 string            `json:"status_action"`
	ErrorDescription             string            `json:"error_description"`
	Owner                        *string           `json:"owner"`
	OwnerData                    json.RawMessage   `json:"owner_data"`
	Locked                       bool              `json:"locked"`
	Netboot                      bool              `json:"netboot"`
	PowerType                    string            `json:"power_type"`
	PowerState                   string            `json:"power_state"`
	OSystem                      string            `json:"osystem"`
	DistroSeries                 string            `json:"distro_series"`
	HWEKernel                    *string           `json:"hwe_kernel"`
	MinHWEKernel                 string            `json:"min_hwe_kernel"`
	CPUCount                     int               `json:"cpu_count"`
	CPUSpeed                     int               `json:"cpu_speed"`
	Memory                       int64             `json:"memory"`
	SwapSize                     *int64            `json:"swap_size"`
	Storage                      float64           `json:"storage"`
	HardwareUUID                 *string           `json:"hardware_uuid"`
	HardwareInfo                 *hardwareInfoJSON `json:"hardware_info"`
	TagNames                     []string          `json:"tag_names"`
	NUMANodeSet                  []store.NUMANode  `json:"numanode_set"`
	InterfaceSet                 []interfaceJSON   `json:"interface_set"`
	BootInterface                *interfaceJSON    `json:"boot_interface"`
	IPAddresses                  []string          `json:"ip_addresses"`
	BlockDeviceSet               []blockDeviceJSON `json:"blockdevice_set"`
	PhysicalBlockDeviceSet       []blockDeviceJSON `json:"physicalblockdevice_set"`
	VirtualBlockDeviceSet        []any             `json:"virtualblockdevice_set"`
	ISCSIBlockDeviceSet          []any             `json:"iscsiblockdevice_set"`
	BootDisk                     any               `json:"boot_disk"`
	SpecialFilesystems           []any             `json:"special_filesystems"`
	VolumeGroups                 []any             `json:"volume_groups"`
	Raids                        []any             `json:"raids"`
	Bcaches                      []any             `json:"bcaches"`
	CacheSets                    []any             `json:"cache_sets"`
	Pool                         *namedJSON        `json:"pool"`
	Zone                         *namedJSON        `json:"zone"`
	Pod                          any               `json:"pod"`
	DefaultGateways              gatewaysJSON      `json:"default_gateways"`
	AddressTTL                   *int              `json:"address_ttl"`
	DisableIPv4                  bool              `json:"disable_ipv4"`
	BiosBootMethod               *string           `json:"bios_boot_method"`
	NodeType                     int               `json:"node_type"`
	NodeTypeName                 string            `json:"node_type_name"`
	CurrentCommissioningResultID *int64            `json:"current_commissioning_result_id"`
	CurrentTestingResultID       *int64            `json:"current_testing_result_id"`
	CurrentInstallationResultID  *int64            `json:"current_installation_result_id"`
	CommissioningStatus          int               `json:"commissioning_status"`
	CommissioningStatusName      string            `json:"commissioning_status_name"`
	TestingStatus                int               `json:"testing_status"`
	TestingStatusName            string            `json:"testing_status_name"`
	CPUTestStatus                int               `json:"cpu_test_status"`
	CPUTestStatusName            string            `json:"cpu_test_status_name"`
	MemoryTestStatus             int               `json:"memory_test_status"`
	MemoryTestStatusName         string            `json:"memory_test_status_name"`
	StorageTestStatus            int               `json:"storage_test_status"`
	StorageTestStatusName        string            `json:"storage_test_status_name"`
	NetworkTestStatus            int               `json:"network_test_status"`
	NetworkTestStatusName        string            `json:"network_test_status_name"`
	InterfaceTestStatus          int               `json:"interface_test_status"`
	InterfaceTestStatusName      string            `json:"interface_test_status_name"`
	OtherTestStatus              int               `json:"other_test_status"`
	OtherTestStatusName          string            `json:"other_test_status_name"`
	EnableHWSync                 bool              `json:"enable_hw_sync"`
	LastSync                     any               `json:"last_sync"`
	SyncInterval                 *int              `json:"sync_interval"`
	NextSync                     any               `json:"next_sync"`
	InstallKVM                   bool              `json:"install_kvm"`
	WorkloadAnnotations          json.RawMessage   `json:"workload_annotations"`
	// HardwareChanges is what changed between the last two commissionings (null before the
	// second); beyond upstream.
	HardwareChanges json.RawMessage `json:"hardware_changes"`
	// CurrentRunETA is when the running commissioning or testing should end (null otherwise,
	// and in listings); beyond upstream.
	CurrentRunETA *string `json:"current_run_eta"`
	// Upstream's keys for what this region does not model: no constraints kept from an
	// allocation, no kernel crash dumps, no ephemeral deployments, DPUs, parents or VMs.
	ConstraintsByType     json.RawMessage `json:"constraints_by_type"`
	EnableKernelCrashDump bool            `json:"enable_kernel_crash_dump"`
	EphemeralDeploy       bool            `json:"ephemeral_deploy"`
	IsDPU                 bool            `json:"is_dpu"`
	Parent                *string         `json:"parent"`
	VirtualMachineID      *int64          `json:"virtualmachine_id"`
	ResourceURI           string          `json:"resource_uri"`
}

var emptyObject = json.RawMessage("{}")

// hardwareChangesJSON is the machine's stored hardware changes, null when there are none.
func hardwareChangesJSON(m *store.Machine) json.RawMessage {
	if len(m.HardwareChanges) == 0 {
		return nil
	}
	return json.RawMessage(m.HardwareChanges)
}

// renderMachine gives a machine's JSON.
func renderMachine(m *store.Machine, d machineDetails) *machineJSON {
	ifs := renderInterfaces(m, d.Interfaces)
	numa := m.NUMANodes
	if len(numa) == 0 {
		// Before any inventory: one node with what is known.
		cores := make([]int64, m.CPUCount)
		for i := range cores {
			cores[i] = int64(i)
		}
		numa = []store.NUMANode{{Index: 0, Memory: m.Memory, Cores: cores}}
	}
	for i := range numa {
		if numa[i].Cores == nil {
			numa[i].Cores = []int64{}
		}
		if numa[i].Hugepages == nil {
			numa[i].Hugepages = []store.Hugepages{}
		}
	}
	var storage float64
	for _, disk := range d.Disks {
		storage += float64(disk.Size) / 1e6
	}
	out := &machineJSON{
		SystemID: m.SystemID, Hostname: m.Hostname, FQDN: m.Hostname + "." + m.Domain,
		Description: m.Description, Domain: newDomainJSON(m.Domain), Architecture: m.Architecture,
		Status: int(m.Status), StatusName: m.Status.Label(), StatusMessage: m.StatusMessage,
		ErrorDescription: m.ErrorDescription, Owner: optString(m.Owner), OwnerData: emptyObject,
		Locked: m.Locked, Netboot: m.Netboot, PowerType: m.PowerType, PowerState: m.PowerState,
		OSystem: m.OSystem, DistroSeries: m.DistroSeries, HWEKernel: optString(m.HWEKernel), MinHWEKernel: m.MinHWEKernel,
		CPUCount: m.CPUCount, CPUSpeed: m.CPUSpeed, Memory: m.Memory, SwapSize: m.SwapSize,
		HardwareUUID: optString(m.HardwareUUID), HardwareInfo: newHardwareInfo(m.HardwareInfo), TagNames: orEmpty(m.Tags),
		NUMANodeSet: numa, Storage: storage,
		InterfaceSet:   ifs,
		IPAddresses:    []string{},
		BlockDeviceSet: renderDisks(m.SystemID, d.Disks, false), PhysicalBlockDeviceSet: renderDisks(m.SystemID, d.Disks, true),
		VirtualBlockDeviceSet: []any{},
		ISCSIBlockDeviceSet:   []any{}, SpecialFilesystems: []any{}, VolumeGroups: []any{},
		Raids: []any{}, Bcaches: []any{}, CacheSets: []any{},
		Pool: defaultPool, Zone: defaultZone,
		BiosBootMethod: optString(m.BiosBootMethod), NodeTypeName: "Machine",
		CurrentCommissioningResultID: m.CurrentCommissioningSet,
		CurrentTestingResultID:       m.CurrentTestingSet,
		CurrentInstallationResultID:  m.CurrentInstallationSet,
		EnableHWSync:                 m.EnableHWSync, LastSync: formatTime(m.LastSync), InstallKVM: m.InstallKVM,
		WorkloadAnnotations: emptyObject, ConstraintsByType: emptyObject,
		HardwareChanges: hardwareChangesJSON(m),
		ResourceURI:     fmt.Sprintf("%s/machines/%s/", apiRoot, m.SystemID),
	}
	for k := range ifs {
		if m.BootInterfaceID != nil && ifs[k].ID == *m.BootInterfaceID {
			out.BootInterface = &ifs[k]
		}
	}
	if len(out.PhysicalBlockDeviceSet) > 0 {
		out.BootDisk = out.PhysicalBlockDeviceSet[0]
	}
	if m.EnableHWSync && m.SyncInterval > 0 {
		out.SyncInterval = &m.SyncInterval
		if m.LastSync != nil {
			out.NextSync = formatTime(ptrTime(m.LastSync.Add(time.Duration(m.SyncInterval) * time.Second)))
		}
	}
	for _, f := range []struct {
		name   string
		status *int
		label  *string
	}{
		{"commissioning", &out.CommissioningStatus, &out.CommissioningStatusName},
		{"testing", &out.TestingStatus, &out.TestingStatusName},
		{"cpu_test", &out.CPUTestStatus, &out.CPUTestStatusName},
		{"memory_test", &out.MemoryTestStatus, &out.MemoryTestStatusName},
		{"storage_test", &out.StorageTestStatus, &out.StorageTestStatusName},
		{"network_test", &out.NetworkTestStatus, &out.NetworkTestStatusName},
		{"interface_test", &out.InterfaceTestStatus, &out.InterfaceTestStatusName},
		{"other_test", &out.OtherTestStatus, &out.OtherTestStatusName},
	} {
		st, ok := d.Statuses[f.name]
		if !ok {
			st = -1
		}
		*f.status, *f.label = st, statusLabel(st)
	}
	return out
}

func ptrTime(t time.Time) *time.Time { return &t }
