// Package schema holds the wire types of the machine-resources JSON document: the shape that
// MAAS's machine-resources binary prints (LXD's api.Resources plus the networks map and the
// host information) and that the region reads back. Field names and omitempty choices follow
// spec/hardware.md §2.2–§2.4 so that an upstream region accepts the document. The package
// imports nothing but the standard library so both the agent and the region can use it.
package schema

import "encoding/json"

// APIVersion is the only api_version the region accepts.
const APIVersion = "1.0"

// APIExtensions is the fixed list of extensions upstream's machine-resources reports.
var APIExtensions = []string{
	"resources",
	"resources_cpu_socket",
	"resources_gpu",
	"resources_numa",
	"resources_v2",
	"resources_disk_sata",
	"resources_network_firmware",
	"resources_disk_id",
	"resources_usb_pci",
	"resources_cpu_threads_numa",
	"resources_cpu_core_die",
	"api_os",
	"resources_system",
	"resources_pci_iommu",
	"resources_network_usb",
	"resources_disk_address",
}

// RequiredExtensions are the extensions the region insists on (process_lxd_results).
var RequiredExtensions = []string{"resources", "resources_v2", "api_os", "resources_system", "resources_usb_pci"}

// Document is the whole machine-resources JSON document.
type Document struct {
	APIExtensions []string                `json:"api_extensions"`
	APIVersion    string                  `json:"api_version"`
	Environment   Environment             `json:"environment"`
	Resources     Resources               `json:"resources"`
	Networks      map[string]NetworkState `json:"networks"`

	// StorageExtra and MachineExtra are added by the 50-maas-01-commissioning script.
	StorageExtra json.RawMessage `json:"storage-extra,omitempty"`
	MachineExtra json.RawMessage `json:"machine-extra,omitempty"`

	// CollectorErrors maps a collector name to the error that stopped it. It is not part of
	// upstream's document; the region ignores unknown keys.
	CollectorErrors map[string]string `json:"collector_errors,omitempty"`
}

// Environment describes the kernel, OS and collector.
type Environment struct {
	Kernel             string `json:"kernel"`
	KernelArchitecture string `json:"kernel_architecture"`
	KernelVersion      string `json:"kernel_version"`
	OSName             string `json:"os_name"`
	OSVersion          string `json:"os_version"`
	Server             string `json:"server"`
	ServerName         string `json:"server_name"`
	ServerVersion      string `json:"server_version"`
}

// Resources is LXD's api.Resources.
type Resources struct {
	CPU     CPU     `json:"cpu"`
	Memory  Memory  `json:"memory"`
	GPU     GPU     `json:"gpu"`
	Network Network `json:"network"`
	Storage Storage `json:"storage"`
	USB     USB     `json:"usb"`
	PCI     PCI     `json:"pci"`
	System  System  `json:"system"`
}

// CPU lists the sockets and the number of online logical CPUs.
type CPU struct {
	Architecture string      `json:"architecture"`
	Sockets      []CPUSocket `json:"sockets"`
	Total        uint64      `json:"total"`
}

// CPUSocket is one physical package.
type CPUSocket struct {
	Name             string     `json:"name,omitempty"`
	Vendor           string     `json:"vendor,omitempty"`
	Socket           uint64     `json:"socket"`
	Cache            []CPUCache `json:"cache,omitempty"`
	Cores            []CPUCore  `json:"cores"`
	Frequency        uint64     `json:"frequency,omitempty"`
	FrequencyMinimum uint64     `json:"frequency_minimum,omitempty"`
	FrequencyTurbo   uint64     `json:"frequency_turbo,omitempty"`
}

// CPUCache is one cache level of a socket.
type CPUCache struct {
	Level uint64 `json:"level"`
	Type  string `json:"type"`
	Size  uint64 `json:"size"`
}

// CPUCore is one core of a socket.
type CPUCore struct {
	Core      uint64      `json:"core"`
	Die       uint64      `json:"die"`
	Threads   []CPUThread `json:"threads"`
	Frequency uint64      `json:"frequency,omitempty"`
}

// CPUThread is one logical CPU.
type CPUThread struct {
	ID       int64  `json:"id"`
	NUMANode uint64 `json:"numa_node"`
	Thread   uint64 `json:"thread"`
	Online   bool   `json:"online"`
	Isolated bool   `json:"isolated"`
}

// Memory holds totals in bytes.
type Memory struct {
	Nodes          []MemoryNode `json:"nodes,omitempty"`
	HugepagesTotal uint64       `json:"hugepages_total"`
	HugepagesUsed  uint64       `json:"hugepages_used"`
	HugepagesSize  uint64       `json:"hugepages_size"`
	Used           uint64       `json:"used"`
	Total          uint64       `json:"total"`
}

// MemoryNode is the memory of one NUMA node, in bytes.
type MemoryNode struct {
	NUMANode       uint64 `json:"numa_node"`
	HugepagesUsed  uint64 `json:"hugepages_used"`
	HugepagesTotal uint64 `json:"hugepages_total"`
	Used           uint64 `json:"used"`
	Total          uint64 `json:"total"`
}

// GPU lists display controllers.
type GPU struct {
	Cards []GPUCard `json:"cards"`
	Total uint64    `json:"total"`
}

// GPUCard is one display controller.
type GPUCard struct {
	Driver        string                 `json:"driver,omitempty"`
	DriverVersion string                 `json:"driver_version,omitempty"`
	DRM           *GPUCardDRM            `json:"drm,omitempty"`
	SRIOV         *GPUCardSRIOV          `json:"sriov,omitempty"`
	Nvidia        *GPUCardNvidia         `json:"nvidia,omitempty"`
	Mdev          map[string]GPUCardMdev `json:"mdev,omitempty"`
	NUMANode      uint64                 `json:"numa_node"`
	PCIAddress    string                 `json:"pci_address,omitempty"`
	Vendor        string                 `json:"vendor,omitempty"`
	VendorID      string                 `json:"vendor_id,omitempty"`
	Product       string                 `json:"product,omitempty"`
	ProductID     string                 `json:"product_id,omitempty"`
	USBAddress    string                 `json:"usb_address,omitempty"`
}

// GPUCardDRM is the DRM view of a card.
type GPUCardDRM struct {
	ID            uint64 `json:"id"`
	CardName      string `json:"card_name"`
	CardDevice    string `json:"card_device"`
	ControlName   string `json:"control_name,omitempty"`
	ControlDevice string `json:"control_device,omitempty"`
	RenderName    string `json:"render_name,omitempty"`
	RenderDevice  string `json:"render_device,omitempty"`
}

// GPUCardSRIOV describes the virtual functions of a GPU.
type GPUCardSRIOV struct {
	CurrentVFs uint64    `json:"current_vfs"`
	MaximumVFs uint64    `json:"maximum_vfs"`
	VFs        []GPUCard `json:"vfs"`
}

// GPUCardNvidia holds NVIDIA specific data (never filled by this collector).
type GPUCardNvidia struct {
	CUDAVersion  string `json:"cuda_version,omitempty"`
	NVRMVersion  string `json:"nvrm_version,omitempty"`
	Brand        string `json:"brand"`
	Model        string `json:"model"`
	UUID         string `json:"uuid,omitempty"`
	Architecture string `json:"architecture,omitempty"`
	CardName     string `json:"card_name"`
	CardDevice   string `json:"card_device"`
}

// GPUCardMdev is a mediated device profile (never filled by this collector).
type GPUCardMdev struct {
	API         string   `json:"api"`
	Available   uint64   `json:"available"`
	Name        string   `json:"name,omitempty"`
	Description string   `json:"description,omitempty"`
	Devices     []string `json:"devices"`
}

// Network lists network cards; Total counts cards and their VFs.
type Network struct {
	Cards []NetworkCard `json:"cards"`
	Total uint64        `json:"total"`
}

// NetworkCard is one network controller (one PCI function, USB device or other bus device).
type NetworkCard struct {
	Driver          string            `json:"driver,omitempty"`
	DriverVersion   string            `json:"driver_version,omitempty"`
	Ports           []NetworkCardPort `json:"ports,omitempty"`
	SRIOV           *NetworkCardSRIOV `json:"sriov,omitempty"`
	VDPA            *NetworkCardVDPA  `json:"vdpa,omitempty"`
	NUMANode        uint64            `json:"numa_node"`
	PCIAddress      string            `json:"pci_address,omitempty"`
	Vendor          string            `json:"vendor,omitempty"`
	VendorID        string            `json:"vendor_id,omitempty"`
	Product         string            `json:"product,omitempty"`
	ProductID       string            `json:"product_id,omitempty"`
	FirmwareVersion string            `json:"firmware_version,omitempty"`
	USBAddress      string            `json:"usb_address,omitempty"`
}

// NetworkCardPort is one network interface of a card.
type NetworkCardPort struct {
	ID              string                     `json:"id"`
	Address         string                     `json:"address,omitempty"`
	Port            uint64                     `json:"port"`
	Protocol        string                     `json:"protocol"`
	SupportedModes  []string                   `json:"supported_modes,omitempty"`
	SupportedPorts  []string                   `json:"supported_ports,omitempty"`
	PortType        string                     `json:"port_type,omitempty"`
	TransceiverType string                     `json:"transceiver_type,omitempty"`
	AutoNegotiation bool                       `json:"auto_negotiation"`
	LinkDetected    bool                       `json:"link_detected"`
	LinkSpeed       uint64                     `json:"link_speed,omitempty"`
	LinkDuplex      string                     `json:"link_duplex,omitempty"`
	Infiniband      *NetworkCardPortInfiniband `json:"infiniband,omitempty"`
}

// NetworkCardPortInfiniband holds InfiniBand device nodes (never filled by this collector).
type NetworkCardPortInfiniband struct {
	IsSMName   string `json:"issm_name,omitempty"`
	IsSMDevice string `json:"issm_device,omitempty"`
	MADName    string `json:"mad_name,omitempty"`
	MADDevice  string `json:"mad_device,omitempty"`
	VerbName   string `json:"verb_name,omitempty"`
	VerbDevice string `json:"verb_device,omitempty"`
}

// NetworkCardSRIOV describes the virtual functions of a card.
type NetworkCardSRIOV struct {
	CurrentVFs uint64        `json:"current_vfs"`
	MaximumVFs uint64        `json:"maximum_vfs"`
	VFs        []NetworkCard `json:"vfs"`
}

// NetworkCardVDPA describes a vDPA device (never filled by this collector).
type NetworkCardVDPA struct {
	Name   string `json:"name"`
	Device string `json:"device"`
}

// Storage lists disks; Total counts disks and partitions.
type Storage struct {
	Disks []StorageDisk `json:"disks"`
	Total uint64        `json:"total"`
}

// StorageDisk is one block device backed by a device.
type StorageDisk struct {
	ID              string             `json:"id"`
	Device          string             `json:"device"`
	Model           string             `json:"model,omitempty"`
	Type            string             `json:"type,omitempty"`
	ReadOnly        bool               `json:"read_only"`
	Mounted         bool               `json:"mounted"`
	Size            uint64             `json:"size"`
	Removable       bool               `json:"removable"`
	WWN             string             `json:"wwn,omitempty"`
	NUMANode        uint64             `json:"numa_node"`
	DevicePath      string             `json:"device_path,omitempty"`
	BlockSize       uint64             `json:"block_size"`
	FirmwareVersion string             `json:"firmware_version,omitempty"`
	RPM             uint64             `json:"rpm"`
	Serial          string             `json:"serial,omitempty"`
	DeviceID        string             `json:"device_id"`
	Partitions      []StoragePartition `json:"partitions"`
	PCIAddress      string             `json:"pci_address,omitempty"`
	USBAddress      string             `json:"usb_address,omitempty"`
	DeviceFSUUID    string             `json:"device_fs_uuid"`
	UsedBy          string             `json:"used_by,omitempty"`
}

// StoragePartition is one partition of a disk.
type StoragePartition struct {
	ID           string `json:"id"`
	Device       string `json:"device"`
	ReadOnly     bool   `json:"read_only"`
	Size         uint64 `json:"size"`
	Partition    uint64 `json:"partition"`
	Mounted      bool   `json:"mounted"`
	DeviceFSUUID string `json:"device_fs_uuid"`
}

// USB lists USB devices.
type USB struct {
	Devices []USBDevice `json:"devices"`
	Total   uint64      `json:"total"`
}

// USBDevice is one USB device.
type USBDevice struct {
	BusAddress    uint64         `json:"bus_address"`
	DeviceAddress uint64         `json:"device_address"`
	Serial        string         `json:"serial"`
	Interfaces    []USBInterface `json:"interfaces"`
	Vendor        string         `json:"vendor"`
	VendorID      string         `json:"vendor_id"`
	Product       string         `json:"product"`
	ProductID     string         `json:"product_id"`
	Speed         float64        `json:"speed"`
}

// USBInterface is one interface of a USB device.
type USBInterface struct {
	Class         string `json:"class"`
	ClassID       uint64 `json:"class_id"`
	Driver        string `json:"driver"`
	DriverVersion string `json:"driver_version"`
	Number        uint64 `json:"number"`
	SubClass      string `json:"subclass"`
	SubClassID    uint64 `json:"subclass_id"`
}

// PCI lists PCI functions.
type PCI struct {
	Devices []PCIDevice `json:"devices"`
	Total   uint64      `json:"total"`
}

// PCIDevice is one PCI function.
type PCIDevice struct {
	Driver        string `json:"driver"`
	DriverVersion string `json:"driver_version"`
	NUMANode      uint64 `json:"numa_node"`
	PCIAddress    string `json:"pci_address"`
	Vendor        string `json:"vendor"`
	VendorID      string `json:"vendor_id"`
	Product       string `json:"product"`
	ProductID     string `json:"product_id"`
	IOMMUGroup    uint64 `json:"iommu_group"`
	VPD           PCIVPD `json:"vpd"`
}

// PCIVPD holds the vital product data of a PCI function.
type PCIVPD struct {
	ProductName string            `json:"product_name,omitempty"`
	Entries     map[string]string `json:"entries,omitempty"`
}

// System is the DMI/SMBIOS view of the machine plus its virtualization type.
type System struct {
	UUID        string             `json:"uuid"`
	Vendor      string             `json:"vendor"`
	Product     string             `json:"product"`
	Family      string             `json:"family"`
	Version     string             `json:"version"`
	Sku         string             `json:"sku"`
	Serial      string             `json:"serial"`
	Type        string             `json:"type"`
	Firmware    *SystemFirmware    `json:"firmware"`
	Chassis     *SystemChassis     `json:"chassis"`
	Motherboard *SystemMotherboard `json:"motherboard"`
}

// SystemFirmware is the BIOS/UEFI firmware.
type SystemFirmware struct {
	Vendor  string `json:"vendor"`
	Date    string `json:"date"`
	Version string `json:"version"`
}

// SystemChassis is the enclosure; Type is the SMBIOS chassis-type name.
type SystemChassis struct {
	Vendor  string `json:"vendor"`
	Type    string `json:"type"`
	Serial  string `json:"serial"`
	Version string `json:"version"`
}

// SystemMotherboard is the baseboard.
type SystemMotherboard struct {
	Vendor  string `json:"vendor"`
	Product string `json:"product"`
	Serial  string `json:"serial"`
	Version string `json:"version"`
}

// NetworkState is the state of one network interface (LXD's api.NetworkState).
type NetworkState struct {
	Addresses []NetworkAddress `json:"addresses"`
	Counters  NetworkCounters  `json:"counters"`
	Hwaddr    string           `json:"hwaddr"`
	Mtu       int              `json:"mtu"`
	State     string           `json:"state"`
	Type      string           `json:"type"`
	Bond      *NetworkBond     `json:"bond"`
	Bridge    *NetworkBridge   `json:"bridge"`
	VLAN      *NetworkVLAN     `json:"vlan"`
	OVN       *NetworkStateOVN `json:"ovn"`
	// Link is this project's extension, not LXD's: the carrier and speed of an Ethernet
	// interface that no card port describes (a veth, say: it has no device), so that the
	// region knows whether it is connected. Nil for the others.
	Link *NetworkLink `json:"link,omitempty"`
}

// NetworkLink is the link of an interface without a card port, named as a port's fields.
type NetworkLink struct {
	LinkDetected bool   `json:"link_detected"`
	LinkSpeed    uint64 `json:"link_speed,omitempty"` // Mbit/s while connected; 0 unknown
}

// NetworkAddress is one address of an interface; Netmask is the prefix length.
type NetworkAddress struct {
	Family  string `json:"family"`
	Address string `json:"address"`
	Netmask string `json:"netmask"`
	Scope   string `json:"scope"`
}

// NetworkCounters are the interface counters from /proc/net/dev.
type NetworkCounters struct {
	BytesReceived   uint64 `json:"bytes_received"`
	BytesSent       uint64 `json:"bytes_sent"`
	PacketsReceived uint64 `json:"packets_received"`
	PacketsSent     uint64 `json:"packets_sent"`
}

// NetworkBond is the bonding state of a bond interface.
type NetworkBond struct {
	Mode           string   `json:"mode"`
	TransmitPolicy string   `json:"transmit_policy"`
	UpDelay        uint64   `json:"up_delay"`
	DownDelay      uint64   `json:"down_delay"`
	MIIFrequency   uint64   `json:"mii_frequency"`
	MIIState       string   `json:"mii_state"`
	LowerDevices   []string `json:"lower_devices"`
}

// NetworkBridge is the state of a Linux bridge.
type NetworkBridge struct {
	ID            string   `json:"id"`
	STP           bool     `json:"stp"`
	ForwardDelay  uint64   `json:"forward_delay"`
	VLANDefault   uint64   `json:"vlan_default"`
	VLANFiltering bool     `json:"vlan_filtering"`
	UpperDevices  []string `json:"upper_devices"`
}

// NetworkVLAN is the VLAN of a VLAN interface.
type NetworkVLAN struct {
	LowerDevice string `json:"lower_device"`
	VID         uint64 `json:"vid"`
}

// NetworkStateOVN is OVN state (never filled by this collector).
type NetworkStateOVN struct {
	Chassis string `json:"chassis"`
}
