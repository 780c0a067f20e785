package collectors

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jaypipes/ghw/pkg/baseboard"
	"github.com/jaypipes/ghw/pkg/bios"
	"github.com/jaypipes/ghw/pkg/chassis"
	"github.com/jaypipes/ghw/pkg/option"
	"github.com/jaypipes/ghw/pkg/product"
	"github.com/jaypipes/ghw/pkg/util"

	"maasgo/collectors/schema"
)

// systemCollector fills resources.system: DMI/SMBIOS strings through ghw's product,
// baseboard, chassis and bios packages (which fall back to the DeviceTree on boards without
// DMI), the SMBIOS chassis-type name, and the virtualization type detected from files.
//
// Reads: /sys/class/dmi/id/*, /sys/firmware/devicetree/base/{model,serial-number,
// compatible,chassis-type,chosen/u-boot,version,hypervisor}, plus the files of detectVirt.
//
// ghw reads the same files itself below the chroot that holds Roots.Sys; this collector
// reads them first through the FS so that a snapshot holds them. ghw v0.27.0 offers no way
// to silence its warnings outside its top-level package except GHW_DISABLE_WARNINGS, which
// the agent's main sets unless it runs verbosely.
type systemCollector struct{}

func (systemCollector) Name() string { return "system" }

const sysDMI = "/sys/class/dmi/id"

var dtProperties = []string{"model", "serial-number", "compatible", "chassis-type", "chosen/u-boot,version"}

func (systemCollector) Collect(_ context.Context, env *Env, doc *schema.Document) error {
	f := env.FS
	sys := schema.System{}
	virt, err := detectVirt(f)
	if err != nil {
		return err
	}
	sys.Type = virt
	hasDMI := f.IsDir(sysDMI)
	hasDT := f.IsDir("/sys/firmware/devicetree/base")
	if hasDMI {
		ents, err := f.ReadDir(sysDMI)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if e.Type&fs.ModeDir == 0 && e.Type&fs.ModeSymlink == 0 {
				if _, err := f.ReadFile(sysDMI + "/" + e.Name); err != nil && !errors.Is(err, fs.ErrPermission) {
					return err
				}
			}
		}
	} else if hasDT {
		for _, p := range dtProperties {
			if _, err := f.ReadFile("/sys/firmware/devicetree/base/" + p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	if !hasDMI && !hasDT {
		doc.Resources.System = sys
		return nil
	}
	if filepath.Base(env.Roots.Sys) != "sys" {
		return fmt.Errorf("sys root %s must be a directory named sys for ghw", env.Roots.Sys)
	}
	opts := []any{option.WithChroot(filepath.Dir(env.Roots.Sys)), option.WithDisableTools()}
	p, err := product.New(opts...)
	if err != nil {
		return fmt.Errorf("read product: %w", err)
	}
	b, err := baseboard.New(opts...)
	if err != nil {
		return fmt.Errorf("read baseboard: %w", err)
	}
	c, err := chassis.New(opts...)
	if err != nil {
		return fmt.Errorf("read chassis: %w", err)
	}
	bi, err := bios.New(opts...)
	if err != nil {
		return fmt.Errorf("read bios: %w", err)
	}
	sys.UUID, sys.Vendor, sys.Product = known(p.UUID), known(p.Vendor), known(p.Name)
	sys.Family, sys.Version, sys.Sku, sys.Serial = known(p.Family), known(p.Version), known(p.SKU), known(p.SerialNumber)
	sys.Firmware = &schema.SystemFirmware{Vendor: known(bi.Vendor), Date: known(bi.Date), Version: known(bi.Version)}
	sys.Chassis = &schema.SystemChassis{
		Vendor: known(c.Vendor), Type: ChassisTypeName(known(c.Type)), Serial: known(c.SerialNumber), Version: known(c.Version),
	}
	sys.Motherboard = &schema.SystemMotherboard{
		Vendor: known(b.Vendor), Product: known(b.Product), Serial: known(b.SerialNumber), Version: known(b.Version),
	}
	doc.Resources.System = sys
	return nil
}

// known maps ghw's "unknown" placeholder back to the empty string LXD reports.
func known(s string) string {
	if s == util.UNKNOWN {
		return ""
	}
	return s
}

// chassisTypes are the SMBIOS chassis types (DMTF DSP0134, 7.4.1) with the names LXD uses.
var chassisTypes = [...]string{
	1: "Other", 2: "Unknown", 3: "Desktop", 4: "Low Profile Desktop", 5: "Pizza Box", 6: "Mini Tower",
	7: "Tower", 8: "Portable", 9: "Laptop", 10: "Notebook", 11: "Hand Held", 12: "Docking Station",
	13: "All in One", 14: "Sub Notebook", 15: "Space-saving", 16: "Lunch Box", 17: "Main Server Chassis",
	18: "Expansion Chassis", 19: "SubChassis", 20: "Bus Expansion Chassis", 21: "Peripheral Chassis",
	22: "RAID Chassis", 23: "Rack Mount Chassis", 24: "Sealed-case PC", 25: "Multi-system chassis",
	26: "Compact PCI", 27: "Advanced TCA", 28: "Blade", 29: "Blade Enclosure", 30: "Tablet",
	31: "Convertible", 32: "Detachable", 33: "IoT Gateway", 34: "Embedded PC", 35: "Mini PC", 36: "Stick PC",
}

// ChassisTypeName returns the SMBIOS name of a chassis_type number ("23" → "Rack Mount
// Chassis"), or "" when the number is unknown.
func ChassisTypeName(n string) string {
	v, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || v <= 0 || v >= len(chassisTypes) {
		return ""
	}
	return chassisTypes[v]
}

// Virtualization types reported in system.type.
const (
	VirtContainer = "container"
	VirtMachine   = "virtual-machine"
	VirtPhysical  = "physical"
)

// hypervisorVendors are DMI strings that only virtual machines report.
var hypervisorVendors = []string{
	"QEMU", "KVM", "VMware", "VMW", "innotek GmbH", "VirtualBox", "Xen", "Bochs", "Parallels",
	"BHYVE", "Amazon EC2", "Google Compute Engine", "OpenStack", "Apple Virtualization", "ACRN",
}

// detectVirt tells a container, a virtual machine and a physical machine apart from files
// alone, in the spirit of systemd-detect-virt (containers first, as LXD asks): the
// container= variable of PID 1, /.dockerenv, /run/.containerenv, /run/systemd/container
// and OpenVZ's /proc/vz; then the x86 hypervisor CPU flag, DMI vendor strings, Xen, the
// DeviceTree hypervisor node and s390x's /proc/sysinfo.
func detectVirt(f *FS) (string, error) {
	// Only the container= entry of PID 1's environment is kept in a recording.
	data, rp, err := f.ReadFileUnrecorded("/proc/1/environ")
	switch {
	case err == nil:
		var keep []byte
		value := ""
		for _, kv := range strings.Split(string(data), "\x00") {
			if v, ok := strings.CutPrefix(kv, "container="); ok {
				keep, value = append([]byte(kv), 0), v
				break
			}
		}
		f.Record(rp, keep)
		if value != "" {
			return VirtContainer, nil
		}
	case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission):
		return "", err
	}
	for _, p := range []string{"/.dockerenv", "/run/.containerenv"} {
		if f.Exists(p) {
			return VirtContainer, nil
		}
	}
	if s, err := readOptString(f, "/run/systemd/container"); err != nil && !errors.Is(err, fs.ErrPermission) {
		return "", err
	} else if s != "" {
		return VirtContainer, nil
	}
	if f.Exists("/proc/vz") && !f.Exists("/proc/bc") {
		return VirtContainer, nil
	}
	procs, global, err := readCPUInfo(f)
	if err != nil {
		return "", err
	}
	for _, m := range []map[string]string{global, firstProc(procs)} {
		for _, flag := range strings.Fields(m["flags"]) {
			if flag == "hypervisor" {
				return VirtMachine, nil
			}
		}
	}
	for _, name := range []string{"sys_vendor", "product_name", "board_vendor", "bios_vendor", "product_version"} {
		s, err := readOptString(f, sysDMI+"/"+name)
		if err != nil && !errors.Is(err, fs.ErrPermission) {
			return "", err
		}
		for _, v := range hypervisorVendors {
			if strings.Contains(s, v) {
				return VirtMachine, nil
			}
		}
		if name == "product_name" && s == "Virtual Machine" {
			return VirtMachine, nil
		}
	}
	if t, err := readOptString(f, "/sys/hypervisor/type"); err != nil {
		return "", err
	} else if t != "" {
		caps, err := readOptString(f, "/proc/xen/capabilities")
		if err != nil {
			return "", err
		}
		if !strings.Contains(caps, "control_d") {
			return VirtMachine, nil
		}
	}
	if f.Exists("/sys/firmware/devicetree/base/hypervisor") {
		return VirtMachine, nil
	}
	if s, err := readOptString(f, "/proc/sysinfo"); err != nil {
		return "", err
	} else if strings.Contains(s, "Control Program:") {
		return VirtMachine, nil
	}
	return VirtPhysical, nil
}

func firstProc(procs map[int64]map[string]string) map[string]string {
	var best int64 = -1
	for id := range procs {
		if best < 0 || id < best {
			best = id
		}
	}
	return procs[best]
}
