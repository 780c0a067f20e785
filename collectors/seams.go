package collectors

import (
	"errors"

	"golang.org/x/sys/unix"
)

// Link is what the collectors need to know about one network link (RTM_GETLINK).
type Link struct {
	Index        int    `json:"index"`
	Name         string `json:"name"`
	Kind         string `json:"kind,omitempty"` // rtnetlink kind: "", "bond", "bridge", "vlan", "veth", ...
	MTU          int    `json:"mtu"`
	Flags        uint32 `json:"flags"` // IFF_* flags
	HardwareAddr string `json:"hwaddr,omitempty"`
	PermAddr     string `json:"perm_hwaddr,omitempty"`
	OperState    string `json:"operstate,omitempty"`
	ParentIndex  int    `json:"parent_index,omitempty"`
	MasterIndex  int    `json:"master_index,omitempty"`
	VlanID       int    `json:"vlan_id,omitempty"`
}

// Addr is one interface address (RTM_GETADDR).
type Addr struct {
	LinkIndex int    `json:"link_index"`
	IP        string `json:"ip"`
	PrefixLen int    `json:"prefix_len"`
}

// Netlinker lists links and addresses. The live implementation uses rtnetlink; tests and
// snapshots replay recorded answers.
type Netlinker interface {
	Links() ([]Link, error)
	Addrs() ([]Addr, error)
}

// DriverInfo is the answer to ETHTOOL_GDRVINFO.
type DriverInfo struct {
	Driver          string `json:"driver"`
	Version         string `json:"version,omitempty"`
	FirmwareVersion string `json:"firmware_version,omitempty"`
	BusInfo         string `json:"bus_info,omitempty"`
}

// LinkSettings is the answer to ETHTOOL_GLINKSETTINGS (or the legacy ETHTOOL_GSET, whose
// 32-bit mask is then the first word of Supported).
type LinkSettings struct {
	Speed       uint32   `json:"speed"` // Mbit/s; 0 or 0xffffffff when unknown
	Duplex      uint8    `json:"duplex"`
	Port        uint8    `json:"port"`
	Transceiver uint8    `json:"transceiver"`
	Autoneg     uint8    `json:"autoneg"`
	Supported   []uint32 `json:"supported,omitempty"` // link mode bitmap, 32 bits a word
	Legacy      bool     `json:"legacy,omitempty"`    // answered by ETHTOOL_GSET
}

// Ethtooler answers the SIOCETHTOOL questions the network collector asks. Errors are
// unix.Errno values where the kernel gave one (EOPNOTSUPP: the driver does not implement
// the request).
type Ethtooler interface {
	DriverInfo(ifname string) (DriverInfo, error)
	PermAddr(ifname string) (string, error)
	LinkDetected(ifname string) (bool, error) // ETHTOOL_GLINK
	LinkSettings(ifname string) (LinkSettings, error)
}

// Uname is the answer to uname(2) plus the host name.
type Uname struct {
	Sysname  string `json:"sysname"`
	Release  string `json:"release"`
	Machine  string `json:"machine"`
	Hostname string `json:"hostname"`
}

// Hoster answers questions about the running kernel.
type Hoster interface {
	Uname() (Uname, error)
}

// Seams bundles the non-filesystem sources of the collectors.
type Seams struct {
	Netlink Netlinker
	Ethtool Ethtooler
	Host    Hoster
}

// isUnsupported reports whether err means "this device or driver does not do that".
func isUnsupported(err error) bool {
	return errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOTSUP) ||
		errors.Is(err, unix.ENODEV) || errors.Is(err, unix.EINVAL)
}
