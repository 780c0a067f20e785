package api

import (
	"fmt"
	"time"

	"maasgo/region/store"
	"maasgo/wire"
)

const apiRoot = "/MAAS/api/2.0"

// The region has one fabric, VLAN, zone, pool and domain; machines point at them as upstream's do.
var (
	defaultVLAN = map[string]any{
		"vid": 0, "mtu": 1500, "dhcp_on": false, "external_dhcp": nil, "relay_vlan": nil,
		"fabric": "fabric-0", "primary_rack": nil, "name": "untagged", "id": 5001, "space": "undefined",
		"secondary_rack": nil, "fabric_id": 0, "resource_uri": apiRoot + "/vlans/5001/",
	}
	defaultPool = map[string]any{"name": "default", "description": "Default pool", "id": 0,
		"resource_uri": apiRoot + "/resourcepool/0/"}
	defaultZone = map[string]any{"name": "default", "description": "", "id": 1,
		"resource_uri": apiRoot + "/zones/default/"}
	defaultGateways = map[string]any{
		"ipv4": map[string]any{"gateway_ip": nil, "link_id": nil},
		"ipv6": map[string]any{"gateway_ip": nil, "link_id": nil},
	}
)

func domainJSON(name string) map[string]any {
	return map[string]any{"authoritative": true, "ttl": nil, "resource_record_count": 0, "name": name,
		"id": 0, "is_default": true, "resource_uri": apiRoot + "/domains/0/"}
}

// interfaceJSON is an interface as upstream renders DISPLAYED_INTERFACE_FIELDS.
type interfaceJSON struct {
	SystemID        string         `json:"system_id"`
	ID              int64          `json:"id"`
	Name            string         `json:"name"`
	Type            string         `json:"type"`
	VLAN            map[string]any `json:"vlan"`
	MACAddress      string         `json:"mac_address"`
	Parents         []string       `json:"parents"`
	Children        []string       `json:"children"`
	Tags            []string       `json:"tags"`
	Enabled         bool           `json:"enabled"`
	Links           []any          `json:"links"`
	Params          any            `json:"params"`
	Discovered      []any          `json:"discovered"`
	EffectiveMTU    int            `json:"effective_mtu"`
	Vendor          *string        `json:"vendor"`
	Product         *string        `json:"product"`
	FirmwareVersion *string        `json:"firmware_version"`
	LinkConnected   bool           `json:"link_connected"`
	InterfaceSpeed  int64          `json:"interface_speed"`
	LinkSpeed       int64          `json:"link_speed"`
	NUMANode        int            `json:"numa_node"`
	SRIOVMaxVF      int            `json:"sriov_max_vf"`
	ResourceURI     string         `json:"resource_uri"`
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func renderInterfaces(systemID string, ifs []store.Interface) []interfaceJSON {
	children := map[string][]string{}
	for _, i := range ifs {
		for _, p := range i.Parents {
			children[p] = append(children[p], i.Name)
		}
	}
	out := make([]interfaceJSON, 0, len(ifs))
	for _, i := range ifs {
		links := make([]any, 0, len(i.Links))
		for k, l := range i.Links {
			link := map[string]any{"id": i.ID*100 + int64(k), "mode": l.Mode}
			if l.Address != "" {
				link["ip_address"] = l.Address
			}
			if l.Subnet != "" {
				link["subnet"] = map[string]any{"cidr": l.Subnet, "name": l.Subnet, "vlan": defaultVLAN}
			}
			links = append(links, link)
		}
		var params any = ""
		if i.Params != "" {
			params = i.Params
		}
		out = append(out, interfaceJSON{
			SystemID: systemID, ID: i.ID, Name: i.Name, Type: i.Type, VLAN: defaultVLAN, MACAddress: i.MACAddress,
			Parents: orEmpty(i.Parents), Children: orEmpty(children[i.Name]), Tags: orEmpty(i.Tags),
			Enabled: i.Enabled, Links: links, Params: params, Discovered: []any{}, EffectiveMTU: i.MTU,
			Vendor: optString(i.Vendor), Product: optString(i.Product), FirmwareVersion: optString(i.FirmwareVersion),
			LinkConnected: i.LinkConnected, InterfaceSpeed: i.InterfaceSpeed, LinkSpeed: i.LinkSpeed,
			NUMANode: i.NUMANode, SRIOVMaxVF: i.SRIOVMaxVF,
			ResourceURI: fmt.Sprintf("%s/nodes/%s/interfaces/%d/", apiRoot, systemID, i.ID),
		})
	}
	return out
}

func orEmpty(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// machineDetails are what a machine's JSON needs beyond its row.
type machineDetails struct {
	Interfaces []store.Interface
	// Statuses by summary name (commissioning, testing, cpu_test, memory_test, storage_test,
	// network_test, interface_test, other_test); absent means no results (-1, "Unknown").
	Statuses map[string]int
}

var hardwareInfoKeys = []string{"system_vendor", "system_product", "system_family", "system_version",
	"system_sku", "system_serial", "cpu_model", "mainboard_vendor", "mainboard_product", "mainboard_serial",
	"mainboard_version", "mainboard_firmware_vendor", "mainboard_firmware_date", "mainboard_firmware_version",
	"chassis_vendor", "chassis_type", "chassis_serial", "chassis_version"}

func statusLabel(n int) string {
	if n < 0 {
		return "Unknown"
	}
	return wire.ScriptStatus(n).Label()
}

// renderMachine gives a machine's JSON with every key of upstream's machine read.
func renderMachine(m *store.Machine, d machineDetails) map[string]any {
	ifs := renderInterfaces(m.SystemID, d.Interfaces)
	var boot any
	for k := range ifs {
		if m.BootInterfaceID != nil && ifs[k].ID == *m.BootInterfaceID {
			boot = ifs[k]
		}
	}
	hw := make(map[string]string, len(hardwareInfoKeys))
	for _, k := range hardwareInfoKeys {
		hw[k] = "Unknown"
		if v := m.HardwareInfo[k]; v != "" {
			hw[k] = v
		}
	}
	cores := make([]int, m.CPUCount)
	for i := range cores {
		cores[i] = i
	}
	var owner, uuid, bootMethod, swap, hwe any
	if m.Owner != "" {
		owner = m.Owner
	}
	if m.HardwareUUID != "" {
		uuid = m.HardwareUUID
	}
	if m.BiosBootMethod != "" {
		bootMethod = m.BiosBootMethod
	}
	if m.SwapSize != nil {
		swap = *m.SwapSize
	}
	if m.HWEKernel != "" {
		hwe = m.HWEKernel
	}
	out := map[string]any{
		"system_id": m.SystemID, "hostname": m.Hostname, "fqdn": m.Hostname + "." + m.Domain,
		"description": m.Description, "domain": domainJSON(m.Domain), "architecture": m.Architecture,
		"status": int(m.Status), "status_name": m.Status.Label(), "status_message": m.StatusMessage,
		"status_action": "", "error_description": m.ErrorDescription,
		"owner": owner, "owner_data": map[string]any{}, "locked": m.Locked, "netboot": m.Netboot,
		"power_type": m.PowerType, "power_state": m.PowerState,
		"osystem": m.OSystem, "distro_series": m.DistroSeries, "hwe_kernel": hwe, "min_hwe_kernel": m.MinHWEKernel,
		"cpu_count": m.CPUCount, "cpu_speed": m.CPUSpeed, "memory": m.Memory, "swap_size": swap,
		"storage": 0.0, "hardware_uuid": uuid, "hardware_info": hw, "tag_names": orEmpty(m.Tags),
		"numanode_set":  []any{map[string]any{"index": 0, "memory": m.Memory, "cores": cores, "hugepages_set": []any{}}},
		"interface_set": ifs, "boot_interface": boot, "ip_addresses": []any{},
		"blockdevice_set": []any{}, "physicalblockdevice_set": []any{}, "virtualblockdevice_set": []any{},
		"iscsiblockdevice_set": []any{}, "boot_disk": nil, "special_filesystems": []any{}, "volume_groups": []any{},
		"raids": []any{}, "bcaches": []any{}, "cache_sets": []any{},
		"pool": defaultPool, "zone": defaultZone, "pod": nil, "default_gateways": defaultGateways,
		"address_ttl": nil, "disable_ipv4": false, "bios_boot_method": bootMethod,
		"node_type": 0, "node_type_name": "Machine",
		"current_commissioning_result_id": optID(m.CurrentCommissioningSet),
		"current_testing_result_id":       optID(m.CurrentTestingSet),
		"current_installation_result_id":  optID(m.CurrentInstallationSet),
		"enable_hw_sync":                  m.EnableHWSync, "last_sync": formatTime(m.LastSync),
		"sync_interval": nil, "next_sync": nil, "install_kvm": m.InstallKVM,
		"workload_annotations": map[string]any{},
		"resource_uri":         fmt.Sprintf("%s/machines/%s/", apiRoot, m.SystemID),
	}
	if m.EnableHWSync && m.SyncInterval > 0 {
		out["sync_interval"] = m.SyncInterval
		if m.LastSync != nil {
			out["next_sync"] = formatTime(ptrTime(m.LastSync.Add(time.Duration(m.SyncInterval) * time.Second)))
		}
	}
	for _, k := range []string{"commissioning", "testing", "cpu_test", "memory_test", "storage_test",
		"network_test", "interface_test", "other_test"} {
		st, ok := d.Statuses[k]
		if !ok {
			st = -1
		}
		out[k+"_status"] = st
		out[k+"_status_name"] = statusLabel(st)
	}
	return out
}

func optID(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func ptrTime(t time.Time) *time.Time { return &t }
