package collectors

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"maasgo/collectors/schema"
)

// storageCollector fills resources.storage: every /sys/class/block entry backed by a device
// (so not loop, zram, dm or md devices), with udev properties, by-id and by-path names, the
// NUMA node of the nearest ancestor that has one, and partitions.
//
// Reads: /sys/class/block/*/{dev,size,ro,removable,wwid,serial,device,device/{subsystem,
// model,firmware_rev,wwid,serial},queue/{rotational,physical_block_size},<partitions>},
// numa_node of ancestors, /run/udev/data/bM:m, /dev/disk/by-id, /dev/disk/by-path,
// /proc/self/mountinfo.
type storageCollector struct{}

func (storageCollector) Name() string { return "storage" }

const sysClassBlock = "/sys/class/block"

func (storageCollector) Collect(_ context.Context, env *Env, doc *schema.Document) error {
	f := env.FS
	ents, err := f.ReadDir(sysClassBlock)
	if err != nil {
		return err
	}
	byID, err := diskLinks(f, "/dev/disk/by-id")
	if err != nil {
		return err
	}
	byPath, err := diskLinks(f, "/dev/disk/by-path")
	if err != nil {
		return err
	}
	mounted, err := mountedDevices(f)
	if err != nil {
		return err
	}
	out := schema.Storage{Disks: []schema.StorageDisk{}}
	for _, e := range ents {
		base := sysClassBlock + "/" + e.Name
		if strings.HasPrefix(e.Name, "rbd") || !f.Exists(base+"/device") || !f.Exists(base+"/dev") {
			continue
		}
		d, err := readDisk(env, e.Name, byID, byPath, mounted)
		if err != nil {
			return err
		}
		out.Disks = append(out.Disks, d)
		out.Total += 1 + uint64(len(d.Partitions))
	}
	doc.Resources.Storage = out
	return nil
}

// diskLinks maps a resolved device path ("/dev/sda") to the link names in dir pointing at
// it, sorted.
func diskLinks(f *FS, dir string) (map[string][]string, error) {
	out := map[string][]string{}
	ents, err := f.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if e.Type&fs.ModeSymlink == 0 {
			continue
		}
		t, err := f.Readlink(dir + "/" + e.Name)
		if err != nil {
			return nil, err
		}
		if !path.IsAbs(t) {
			t = path.Join(dir, t)
		}
		out[t] = append(out[t], e.Name)
	}
	for k := range out {
		sort.Strings(out[k])
	}
	return out, nil
}

// lastLink returns the lexicographically last link name for /dev/<name> (upstream keeps
// the last match of a sorted directory walk).
func lastLink(links map[string][]string, name string) string {
	l := links["/dev/"+name]
	if len(l) == 0 {
		return ""
	}
	return l[len(l)-1]
}

// mountedDevices returns the "major:minor" numbers that appear in /proc/self/mountinfo.
func mountedDevices(f *FS) (map[string]bool, error) {
	out := map[string]bool{}
	data, err := f.ReadFile("/proc/self/mountinfo")
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, mm := range parseMountinfoDevices(string(data)) {
		out[mm] = true
	}
	return out, nil
}

// parseMountinfoDevices returns the third field (major:minor) of every mountinfo line.
func parseMountinfoDevices(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 3 && strings.Contains(fields[2], ":") {
			out = append(out, fields[2])
		}
	}
	return out
}

func readDisk(env *Env, name string, byID, byPath map[string][]string, mounted map[string]bool) (schema.StorageDisk, error) {
	f := env.FS
	base := sysClassBlock + "/" + name
	d := schema.StorageDisk{ID: name, Partitions: []schema.StoragePartition{}}
	var err error
	if d.Device, err = f.ReadString(base + "/dev"); err != nil {
		return d, err
	}
	sectors, _, err := readUint(f, base+"/size")
	if err != nil {
		return d, err
	}
	d.Size = sectors * 512
	ro, _, err := readUint(f, base+"/ro")
	if err != nil {
		return d, err
	}
	d.ReadOnly = ro == 1
	rem, _, err := readUint(f, base+"/removable")
	if err != nil {
		return d, err
	}
	d.Removable = rem == 1
	d.Mounted = mounted[d.Device]
	if bs, _, err := readUint(f, base+"/queue/physical_block_size"); err != nil {
		return d, err
	} else {
		d.BlockSize = bs
	}
	rot, _, err := readUint(f, base+"/queue/rotational")
	if err != nil {
		return d, err
	}
	dev, err := f.Resolve(base + "/device")
	if err != nil {
		return d, err
	}
	u, err := readUdev(f, 'b', d.Device)
	if err != nil {
		return d, err
	}

	d.Type = f.LinkBase(base + "/device/subsystem")
	switch {
	case u.Env["ID_CDROM"] == "1":
		d.Type = "cdrom"
	case u.Env["ID_USB_DRIVER"] == "usb-storage":
		d.Type = "usb"
	case u.Env["ID_ATA_SATA"] == "1":
		d.Type = "sata"
	case d.Removable && strings.HasPrefix(name, "sr"):
		d.Type = "cdrom"
	}

	switch {
	case u.Env["ID_MODEL_ENC"] != "":
		d.Model = decodeUdevEnc(u.Env["ID_MODEL_ENC"])
	case u.Env["ID_MODEL"] != "":
		d.Model = strings.TrimSpace(strings.ReplaceAll(u.Env["ID_MODEL"], "_", " "))
	default:
		if d.Model, err = readOptString(f, base+"/device/model"); err != nil {
			return d, err
		}
	}

	for _, k := range []string{"SCSI_IDENT_SERIAL", "ID_SCSI_SERIAL", "ID_SERIAL_SHORT", "ID_SERIAL"} {
		if v := u.Env[k]; v != "" {
			d.Serial = v
			break
		}
	}
	if d.Serial == "" {
		for _, p := range []string{base + "/device/serial", base + "/serial"} {
			if d.Serial, err = readOptString(f, p); err != nil {
				return d, err
			}
			if d.Serial != "" {
				break
			}
		}
	}

	for _, p := range []string{base + "/wwid", base + "/device/wwid"} {
		if d.WWN, err = readOptString(f, p); err != nil {
			return d, err
		}
		if d.WWN != "" {
			break
		}
	}
	if d.WWN == "" {
		if v := u.Env["ID_WWN_WITH_EXTENSION"]; v != "" {
			d.WWN = v
		} else {
			d.WWN = u.Env["ID_WWN"]
		}
	}

	if d.FirmwareVersion, err = readOptString(f, base+"/device/firmware_rev"); err != nil {
		return d, err
	}
	if d.FirmwareVersion == "" {
		d.FirmwareVersion = u.Env["ID_REVISION"]
	}

	if v := u.Env["ID_ATA_ROTATION_RATE_RPM"]; v != "" {
		if rpm, err := strconv.ParseUint(v, 10, 64); err == nil {
			d.RPM = rpm
		}
	}
	if d.RPM == 0 && rot == 1 {
		d.RPM = 1
	}

	d.DeviceID = lastLink(byID, name)
	d.DevicePath = lastLink(byPath, name)
	d.DeviceFSUUID = u.Env["ID_FS_UUID"]
	if d.NUMANode, err = numaNode(f, dev); err != nil {
		return d, err
	}
	d.PCIAddress = pciAncestor(dev)
	d.USBAddress = usbAncestor(f, dev)

	disk, err := f.Resolve(base)
	if err != nil {
		return d, err
	}
	parts, err := f.ReadDir(disk)
	if err != nil {
		return d, err
	}
	for _, p := range parts {
		if p.Type&fs.ModeDir == 0 || !strings.HasPrefix(p.Name, name) {
			continue
		}
		pdir := disk + "/" + p.Name
		num, ok, err := readUint(f, pdir+"/partition")
		if err != nil {
			return d, err
		}
		if !ok {
			continue
		}
		part := schema.StoragePartition{ID: p.Name, Partition: num}
		if part.Device, err = f.ReadString(pdir + "/dev"); err != nil {
			return d, err
		}
		sz, _, err := readUint(f, pdir+"/size")
		if err != nil {
			return d, err
		}
		part.Size = sz * 512
		pro, _, err := readUint(f, pdir+"/ro")
		if err != nil {
			return d, err
		}
		part.ReadOnly = pro == 1
		part.Mounted = mounted[part.Device]
		pu, err := readUdev(f, 'b', part.Device)
		if err != nil {
			return d, err
		}
		part.DeviceFSUUID = pu.Env["ID_FS_UUID"]
		d.Partitions = append(d.Partitions, part)
	}
	sort.Slice(d.Partitions, func(i, j int) bool { return d.Partitions[i].Partition < d.Partitions[j].Partition })
	return d, nil
}

// BlockDevice is a whole disk as `lsblk --exclude 1,2,7 -d` lists it, with every spelling
// of its model and serial that udev and sysfs give, for matching a storage parameter's model
// and serial the way upstream's runner does.
type BlockDevice struct {
	Name    string   // sda, nvme0n1
	MajMin  string   // 8:0
	Models  []string // ID_MODEL, decoded ID_MODEL_ENC, device/model
	Serials []string // ID_SCSI_SERIAL, ID_SERIAL_SHORT, ID_SERIAL, device/serial
}

// lsblkExcluded are the block majors `lsblk --exclude 1,2,7` leaves out: RAM disks,
// floppies and loop devices.
var lsblkExcluded = map[string]bool{"1": true, "2": true, "7": true}

// BlockDevices lists the whole disks under /sys/class/block, sorted by name: every entry
// that is not a partition and whose major is not excluded, backed by a device or not (unlike
// the storage collector's disks). A file it cannot read counts as empty.
//
// Reads: /sys/class/block/*/{partition,dev,device/model,device/serial}, /run/udev/data/bM:m.
func BlockDevices(f *FS) ([]BlockDevice, error) {
	ents, err := f.ReadDir(sysClassBlock)
	if err != nil {
		return nil, fmt.Errorf("list block devices: %w", err)
	}
	var out []BlockDevice
	for _, e := range ents {
		base := sysClassBlock + "/" + e.Name
		if f.Exists(base + "/partition") {
			continue
		}
		mm, _ := f.ReadString(base + "/dev")
		if major, _, _ := strings.Cut(mm, ":"); mm == "" || lsblkExcluded[major] {
			continue
		}
		u, _ := readUdev(f, 'b', mm)
		model, _ := f.ReadString(base + "/device/model")
		serial, _ := f.ReadString(base + "/device/serial")
		out = append(out, BlockDevice{
			Name:    e.Name,
			MajMin:  mm,
			Models:  nonEmptyUnique(u.Env["ID_MODEL"], decodeUdevEnc(u.Env["ID_MODEL_ENC"]), model),
			Serials: nonEmptyUnique(u.Env["ID_SCSI_SERIAL"], u.Env["ID_SERIAL_SHORT"], u.Env["ID_SERIAL"], serial),
		})
	}
	return out, nil
}

// nonEmptyUnique returns the values trimmed, without empty ones and repeats, in order.
func nonEmptyUnique(vals ...string) []string {
	var out []string
	for _, v := range vals {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
