package collectors

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"path"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"maasgo/collectors/schema"
)

// networkCollector fills resources.network: one card per PCI function (or other bus device)
// behind /sys/class/net, its ports with permanent MAC, link state, speed and supported
// modes (ethtool), SR-IOV virtual functions attached to their physical function, and PCI
// network controllers without a network interface.
//
// Reads: /sys/class/net/*/{device,address,dev_port,type}, the device's {driver,
// driver/module/version,vendor,device,numa_node (nearest),sriov_totalvfs,sriov_numvfs,
// physfn}, a USB NIC's idVendor/idProduct/busnum/devnum, /sys/bus/pci/devices/*/class,
// pci.ids and usb.ids; the Ethtool seam (GDRVINFO, GPERMADDR, GLINK, GLINKSETTINGS/GSET)
// and the Netlink seam (carrier when GLINK is unsupported).
type networkCollector struct{}

func (networkCollector) Name() string { return "network" }

const sysClassNet = "/sys/class/net"

type cardBuild struct {
	card   schema.NetworkCard
	dev    string
	parent string // PCI address of the physical function, for VFs
}

func (networkCollector) Collect(_ context.Context, env *Env, doc *schema.Document) error {
	f := env.FS
	ents, err := f.ReadDir(sysClassNet)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	release := ""
	if u, err := env.Uname(); err == nil {
		release = u.Release
	}
	carrier := map[string]bool{}
	if links, err := env.Links(); err == nil {
		for _, l := range links {
			carrier[l.Name] = l.Flags&unix.IFF_LOWER_UP != 0
		}
	}
	var order []*cardBuild
	byKey := map[string]*cardBuild{}
	for _, e := range ents {
		nd := sysClassNet + "/" + e.Name
		if !f.Exists(nd + "/device") {
			continue
		}
		dev, err := f.Resolve(nd + "/device")
		if err != nil {
			return err
		}
		var drv DriverInfo
		haveDrv := false
		if env.Seams.Ethtool != nil {
			if d, err := env.Seams.Ethtool.DriverInfo(e.Name); err == nil {
				drv, haveDrv = d, true
			}
		}
		pciAddr := ""
		if isPCIAddress(drv.BusInfo) {
			pciAddr = drv.BusInfo
		} else {
			pciAddr = pciAncestor(dev)
		}
		key := pciAddr
		if key == "" {
			key = dev
		}
		cb := byKey[key]
		if cb == nil {
			cb = &cardBuild{dev: dev}
			if err := fillCard(env, &cb.card, dev, release); err != nil {
				return err
			}
			cb.card.PCIAddress = pciAddr
			if haveDrv {
				cb.card.FirmwareVersion = drv.FirmwareVersion
			}
			if f.Exists(dev + "/physfn") {
				pf, err := f.Resolve(dev + "/physfn")
				if err != nil {
					return err
				}
				cb.parent = path.Base(pf)
			}
			byKey[key] = cb
			order = append(order, cb)
		}
		port, err := readPort(env, e.Name, carrier)
		if err != nil {
			return err
		}
		cb.card.Ports = append(cb.card.Ports, port)
	}
	// PCI network controllers without a network interface.
	pciEnts, err := f.ReadDir("/sys/bus/pci/devices")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, e := range pciEnts {
		if byKey[e.Name] != nil {
			continue
		}
		class, err := readOptString(f, "/sys/bus/pci/devices/"+e.Name+"/class")
		if err != nil {
			return err
		}
		if !strings.HasPrefix(class, "0x02") {
			continue
		}
		dev, err := f.Resolve("/sys/bus/pci/devices/" + e.Name)
		if err != nil {
			return err
		}
		cb := &cardBuild{dev: dev}
		if err := fillCard(env, &cb.card, dev, release); err != nil {
			return err
		}
		cb.card.PCIAddress = e.Name
		if f.Exists(dev + "/physfn") {
			pf, err := f.Resolve(dev + "/physfn")
			if err != nil {
				return err
			}
			cb.parent = path.Base(pf)
		}
		byKey[e.Name] = cb
		order = append(order, cb)
	}
	out := schema.Network{Cards: []schema.NetworkCard{}}
	vfs := map[string][]schema.NetworkCard{}
	for _, cb := range order {
		if cb.parent != "" && byKey[cb.parent] != nil {
			vfs[cb.parent] = append(vfs[cb.parent], cb.card)
		}
	}
	for _, cb := range order {
		if cb.parent != "" && byKey[cb.parent] != nil {
			continue
		}
		c := cb.card
		if c.SRIOV != nil {
			c.SRIOV.VFs = vfs[c.PCIAddress]
			sort.Slice(c.SRIOV.VFs, func(i, j int) bool { return c.SRIOV.VFs[i].PCIAddress < c.SRIOV.VFs[j].PCIAddress })
			out.Total += uint64(len(c.SRIOV.VFs))
		}
		out.Cards = append(out.Cards, c)
		out.Total++
	}
	doc.Resources.Network = out
	return nil
}

// fillCard reads the driver, ids, names, NUMA node and SR-IOV capacity of a device.
func fillCard(env *Env, c *schema.NetworkCard, dev, release string) error {
	f := env.FS
	var err error
	if c.Driver, c.DriverVersion, err = driverInfo(f, dev, release); err != nil {
		return err
	}
	if c.NUMANode, err = numaNode(f, dev); err != nil {
		return err
	}
	if f.LinkBase(dev+"/subsystem") == "usb" {
		usbDev := path.Dir(dev)
		if c.VendorID, err = readHexID(f, usbDev+"/idVendor"); err != nil {
			return err
		}
		if c.ProductID, err = readHexID(f, usbDev+"/idProduct"); err != nil {
			return err
		}
		c.Vendor, c.Product = env.ids.USB(c.VendorID, c.ProductID)
		c.USBAddress = usbAncestor(f, usbDev)
		return nil
	}
	if c.VendorID, err = readHexID(f, dev+"/vendor"); err != nil {
		return err
	}
	if c.ProductID, err = readHexID(f, dev+"/device"); err != nil {
		return err
	}
	if c.VendorID != "" {
		c.Vendor, c.Product = env.ids.PCI(c.VendorID, c.ProductID)
	}
	if maxVFs, ok, err := readUint(f, dev+"/sriov_totalvfs"); err != nil {
		return err
	} else if ok {
		cur, _, err := readUint(f, dev+"/sriov_numvfs")
		if err != nil {
			return err
		}
		c.SRIOV = &schema.NetworkCardSRIOV{CurrentVFs: cur, MaximumVFs: maxVFs}
	}
	return nil
}

// readPort fills one port from sysfs and the ethtool seam. A port is kept even when the
// driver answers none of the ethtool requests.
func readPort(env *Env, name string, carrier map[string]bool) (schema.NetworkCardPort, error) {
	f := env.FS
	nd := sysClassNet + "/" + name
	p := schema.NetworkCardPort{ID: name}
	var err error
	if v, _, err := readUint(f, nd+"/dev_port"); err != nil {
		return p, err
	} else {
		p.Port = v
	}
	typ, _, err := readUint(f, nd+"/type")
	if err != nil {
		return p, err
	}
	switch typ {
	case unix.ARPHRD_ETHER:
		p.Protocol = "ethernet"
	case unix.ARPHRD_INFINIBAND:
		p.Protocol = "infiniband"
	default:
		p.Protocol = "unknown"
	}
	et := env.Seams.Ethtool
	if et != nil {
		if a, err := et.PermAddr(name); err == nil {
			p.Address = a
		}
	}
	if p.Address == "" {
		if p.Address, err = readOptString(f, nd+"/address"); err != nil {
			return p, err
		}
	}
	p.LinkDetected = carrier[name]
	if et == nil {
		return p, nil
	}
	if up, err := et.LinkDetected(name); err == nil {
		p.LinkDetected = up
	} else if !isUnsupported(err) {
		return p, fmt.Errorf("link state of %s: %w", name, err)
	}
	s, err := et.LinkSettings(name)
	if err != nil {
		if isUnsupported(err) {
			return p, nil
		}
		return p, fmt.Errorf("link settings of %s: %w", name, err)
	}
	applyLinkSettings(&p, s)
	return p, nil
}

// applyLinkSettings copies ethtool link settings into a port. Speed and duplex are only
// reported while a link is detected, and an unknown speed is never reported.
func applyLinkSettings(p *schema.NetworkCardPort, s LinkSettings) {
	p.AutoNegotiation = s.Autoneg == 1
	p.PortType = portTypeName(s.Port)
	switch s.Transceiver {
	case 0:
		p.TransceiverType = "internal"
	case 1:
		p.TransceiverType = "external"
	}
	p.SupportedModes = supportedModes(s.Supported)
	p.SupportedPorts = supportedPorts(s.Supported)
	if !p.LinkDetected {
		return
	}
	switch s.Duplex {
	case 0:
		p.LinkDuplex = "half"
	case 1:
		p.LinkDuplex = "full"
	}
	if speedKnown(s.Speed) {
		p.LinkSpeed = uint64(s.Speed)
	}
}

// InterfacesByMAC maps the lower-case MAC address of every interface under /sys/class/net
// to its name, leaving out interfaces without an address or with an all-zero one (the
// loopback). Where interfaces share an address, the last by name wins. A machine without
// /sys/class/net gives an empty map.
//
// Reads: /sys/class/net/*/address.
func InterfacesByMAC(f *FS) (map[string]string, error) {
	ents, err := f.ReadDir(sysClassNet)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	out := map[string]string{}
	for _, e := range ents {
		mac, _ := f.ReadString(sysClassNet + "/" + e.Name + "/address")
		if mac = strings.ToLower(mac); mac != "" && mac != "00:00:00:00:00:00" {
			out[mac] = e.Name
		}
	}
	return out, nil
}

// arphrdEther is the link type of Ethernet interfaces (/sys/class/net/*/type).
const arphrdEther = "1"

// PhysicalMACs lists the MAC addresses of the machine's physical Ethernet interfaces, sorted
// and each once: the interfaces under /sys/class/net with a device (not bridges, bonds,
// VLANs, tunnels or the loopback), of Ethernet type, with a non-zero address. A bond's member
// reports the bond's address in address; its own is the permanent one in
// bonding_slave/perm_hwaddr. None is not an error; a machine without /sys/class/net is.
//
// Reads: /sys/class/net/*/{device,type,bonding_slave/perm_hwaddr,address}.
func PhysicalMACs(f *FS) ([]string, error) {
	ents, err := f.ReadDir(sysClassNet)
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range ents {
		nd := sysClassNet + "/" + e.Name
		if !f.Exists(nd + "/device") {
			continue
		}
		if typ, _ := f.ReadString(nd + "/type"); typ != arphrdEther {
			continue
		}
		addr, _ := f.ReadString(nd + "/bonding_slave/perm_hwaddr")
		if addr == "" {
			addr, _ = f.ReadString(nd + "/address")
		}
		hw, err := net.ParseMAC(addr)
		if err != nil || len(hw) != 6 {
			continue
		}
		if mac := macString(hw); mac != "" && !seen[mac] {
			seen[mac] = true
			out = append(out, mac)
		}
	}
	sort.Strings(out)
	return out, nil
}
