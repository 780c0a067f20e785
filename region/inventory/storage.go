package inventory

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"maasgo/collectors/schema"
)

// disk is a collector disk plus the multipath mark of lun condensing.
type disk struct {
	schema.StorageDisk
	multipath bool
}

var (
	devPathRE = regexp.MustCompile(`^(\w+)-([\da-fA-F:\.]+)-(\w+)-(.*)$`)
	lunREs    = map[string][]*regexp.Regexp{
		"fc":    {regexp.MustCompile(`^(\w+)-(lun-(0x)?[\da-fA-F]+)$`)},
		"vmbus": {regexp.MustCompile(`^(\w+)-(lun-(0x)?[\da-fA-F]+)$`)},
		"sas": {
			regexp.MustCompile(`^(0x[\da-fA-F]+)-(lun-(0x)?[\da-fA-F]+)$`),
			regexp.MustCompile(`^exp0x[\da-fA-F]+-phy((?:0x)?[\da-fA-F]+)-(lun-(0x)?[\da-fA-F]+)$`),
			regexp.MustCompile(`^phy((?:0x)?[\da-fA-F]+)-(lun-(0x)?[\da-fA-F]+)$`),
		},
		"ip": {regexp.MustCompile(`^[\.\-\w:]+-iscsi-([\.\-\w:]+)-(lun-(0x)?[\da-fA-F]+)$`)},
	}
)

// condenseLUNs folds the paths of one multipath LUN (same serial and LUN over fc, vmbus,
// sas or iscsi) into the path with the lowest id, and sorts the result by id.
func condenseLUNs(disks []schema.StorageDisk) []disk {
	type key struct{ serial, lun string }
	groups := map[key][]disk{}
	var keys []key
	var out []disk
	for _, d := range disks {
		m := devPathRE.FindStringSubmatch(d.DevicePath)
		if m == nil || m[3] == "usb" {
			out = append(out, disk{StorageDisk: d})
			continue
		}
		if m[1] == "pci" && d.PCIAddress == "" {
			d.PCIAddress = m[2]
		}
		matched := false
		if d.Serial != "" {
			for _, re := range lunREs[m[3]] {
				if mm := re.FindStringSubmatch(m[4]); mm != nil {
					k := key{d.Serial, mm[2]}
					if _, ok := groups[k]; !ok {
						keys = append(keys, k)
					}
					groups[k] = append(groups[k], disk{StorageDisk: d})
					matched = true
					break
				}
			}
		}
		if !matched {
			out = append(out, disk{StorageDisk: d})
		}
	}
	for _, k := range keys {
		paths := groups[k]
		sort.SliceStable(paths, func(i, j int) bool { return paths[i].ID < paths[j].ID })
		c := paths[0]
		c.multipath = len(paths) > 1
		for _, p := range paths[1:] {
			if c.DeviceID == "" && p.DeviceID != "" {
				c.DeviceID = p.DeviceID
			}
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// blockDevices applies the skips, id_path rule and tags of §4.1 and sums the storage.
func blockDevices(disks []schema.StorageDisk, nodes map[uint64]bool) ([]BlockDevice, float64, error) {
	out := []BlockDevice{}
	var total uint64
	for _, d := range condenseLUNs(disks) {
		if d.ReadOnly || d.Type == "cdrom" || strings.HasPrefix(d.ID, "bcache") {
			continue
		}
		idPath := ""
		if d.DeviceID != "" {
			idPath = "/dev/disk/by-id/" + d.DeviceID
		}
		if idPath == "" || d.Serial == "" {
			idPath = "/dev/" + d.ID
		}
		if d.Size <= MinBlockDeviceSize || strings.HasPrefix(idPath, "/dev/loop") {
			continue
		}
		if !nodes[d.NUMANode] {
			return nil, 0, fmt.Errorf("%w: disk %s is on node %d", ErrUnknownNUMANode, d.ID, d.NUMANode)
		}
		bs := d.BlockSize
		if bs == 0 {
			bs = 512
		}
		out = append(out, BlockDevice{
			Name: d.ID, IDPath: idPath, Model: d.Model, Serial: d.Serial, Size: d.Size, BlockSize: bs,
			FirmwareVersion: d.FirmwareVersion, NUMANode: d.NUMANode, Tags: diskTags(d),
		})
		total += d.Size
	}
	return out, float64(total) / 1e6, nil
}

func diskTags(d disk) []string {
	tags := []string{}
	if d.RPM != 0 {
		tags = append(tags, "rotary", fmt.Sprintf("%drpm", d.RPM))
	} else if !d.multipath {
		tags = append(tags, "ssd")
	}
	if d.multipath {
		tags = append(tags, "multipath")
	}
	if d.Removable {
		tags = append(tags, "removable")
	}
	if d.Type == "sata" {
		tags = append(tags, "sata")
	}
	return tags
}
