package collectors

import (
	"context"
	"errors"
	"io/fs"
	"strconv"
	"strings"

	"maasgo/collectors/schema"
)

// pciCollector fills resources.pci with every PCI function.
//
// Reads: /sys/bus/pci/devices/*/{vendor,device,driver,driver/module/version,numa_node,
// iommu_group,vpd}, pci.ids.
type pciCollector struct{}

func (pciCollector) Name() string { return "pci" }

func (pciCollector) Collect(_ context.Context, env *Env, doc *schema.Document) error {
	f := env.FS
	out := schema.PCI{Devices: []schema.PCIDevice{}}
	ents, err := f.ReadDir("/sys/bus/pci/devices")
	if errors.Is(err, fs.ErrNotExist) {
		doc.Resources.PCI = out
		return nil
	}
	if err != nil {
		return err
	}
	release := ""
	if u, err := env.Uname(); err == nil {
		release = u.Release
	}
	for _, e := range ents {
		dev, err := f.Resolve("/sys/bus/pci/devices/" + e.Name)
		if err != nil {
			return err
		}
		d := schema.PCIDevice{PCIAddress: e.Name}
		if d.Driver, d.DriverVersion, err = driverInfo(f, dev, release); err != nil {
			return err
		}
		if d.NUMANode, err = numaNode(f, dev); err != nil {
			return err
		}
		if d.VendorID, err = readHexID(f, dev+"/vendor"); err != nil {
			return err
		}
		if d.ProductID, err = readHexID(f, dev+"/device"); err != nil {
			return err
		}
		d.Vendor, d.Product = env.ids.PCI(d.VendorID, d.ProductID)
		if g := f.LinkBase(dev + "/iommu_group"); g != "" {
			if v, err := strconv.ParseUint(g, 10, 64); err == nil {
				d.IOMMUGroup = v
			}
		}
		if f.Exists(dev + "/vpd") {
			data, err := f.ReadFile(dev + "/vpd")
			if err == nil {
				d.VPD = parseVPD(data)
			} else {
				env.Log.Debug("unreadable vpd", "device", e.Name, "error", err)
			}
		}
		out.Devices = append(out.Devices, d)
	}
	out.Total = uint64(len(out.Devices))
	doc.Resources.PCI = out
	return nil
}

// parseVPD decodes PCI vital product data: the identifier string (product name) and the
// keywords of the read-only and read-write sections, without the checksum and the
// reserved-space keywords.
func parseVPD(b []byte) schema.PCIVPD {
	var v schema.PCIVPD
	for i := 0; i < len(b); {
		tag := b[i]
		if tag&0x80 == 0 { // small resource
			if tag>>3 == 0x0f { // end tag
				break
			}
			i += 1 + int(tag&0x07)
			continue
		}
		if i+3 > len(b) {
			break
		}
		n := int(b[i+1]) | int(b[i+2])<<8
		start, end := i+3, i+3+n
		if end > len(b) {
			break
		}
		body := b[start:end]
		switch tag {
		case 0x82:
			v.ProductName = strings.TrimSpace(strings.TrimRight(string(body), "\x00"))
		case 0x90, 0x91:
			for j := 0; j+3 <= len(body); {
				key := string(body[j : j+2])
				l := int(body[j+2])
				if j+3+l > len(body) {
					break
				}
				val := body[j+3 : j+3+l]
				j += 3 + l
				if key == "RV" || key == "RW" || key[0] < 0x20 {
					continue
				}
				if v.Entries == nil {
					v.Entries = map[string]string{}
				}
				v.Entries[key] = strings.TrimSpace(strings.TrimRight(string(val), "\x00"))
			}
		}
		i = end
	}
	return v
}
