package collectors

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// readUint reads a decimal unsigned integer file. ok is false when the file does not exist.
func readUint(f *FS, p string) (v uint64, ok bool, err error) {
	s, err := f.ReadString(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	v, err = strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("parse %s: %w", p, err)
	}
	return v, true, nil
}

// readInt reads a decimal integer file. ok is false when the file does not exist.
func readInt(f *FS, p string) (v int64, ok bool, err error) {
	s, err := f.ReadString(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	v, err = strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("parse %s: %w", p, err)
	}
	return v, true, nil
}

// readOptString reads a file and trims it; a missing file gives "".
func readOptString(f *FS, p string) (string, error) {
	s, err := f.ReadString(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	return s, err
}

// readHexID reads a sysfs id file such as "0x8086" and returns "8086".
func readHexID(f *FS, p string) (string, error) {
	s, err := readOptString(f, p)
	if err != nil || s == "" {
		return "", err
	}
	s = strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"))
	if _, err := strconv.ParseUint(s, 16, 32); err != nil {
		return "", fmt.Errorf("parse %s: %w", p, err)
	}
	for len(s) < 4 {
		s = "0" + s
	}
	return s, nil
}

var pciAddrRE = regexp.MustCompile(`^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$`)

// isPCIAddress reports whether s looks like "0000:00:1f.2".
func isPCIAddress(s string) bool { return pciAddrRE.MatchString(s) }

// pciAncestor returns the nearest PCI function at or above the resolved sysfs path dev.
func pciAncestor(dev string) string {
	for p := dev; p != "/" && p != "."; p = path.Dir(p) {
		if b := path.Base(p); isPCIAddress(b) {
			return b
		}
	}
	return ""
}

// usbAncestor returns "bus:dev" of the nearest USB device at or above the resolved path dev.
func usbAncestor(f *FS, dev string) string {
	for p := dev; p != "/" && p != "." && strings.HasPrefix(p, "/sys/devices/"); p = path.Dir(p) {
		b := path.Base(p)
		if strings.Contains(b, ":") || !strings.Contains(b, "-") {
			continue
		}
		bus, ok1, _ := readUint(f, p+"/busnum")
		num, ok2, _ := readUint(f, p+"/devnum")
		if ok1 && ok2 {
			return fmt.Sprintf("%d:%d", bus, num)
		}
	}
	return ""
}

// numaNode walks up from the resolved sysfs path dev to the nearest numa_node file and
// returns its value; -1 and a missing file both give 0 (unknown, reported as node 0).
func numaNode(f *FS, dev string) (uint64, error) {
	for p := dev; p != "/sys" && p != "/" && p != "."; p = path.Dir(p) {
		v, ok, err := readInt(f, p+"/numa_node")
		if err != nil {
			return 0, err
		}
		if ok {
			if v < 0 {
				return 0, nil
			}
			return uint64(v), nil
		}
	}
	return 0, nil
}

// driverInfo returns the driver bound to a device and its version: the module's version
// file, or the kernel release for built-in and unversioned drivers.
func driverInfo(f *FS, dev, release string) (driver, version string, err error) {
	driver = f.LinkBase(dev + "/driver")
	if driver == "" {
		return "", "", nil
	}
	version, err = readOptString(f, dev+"/driver/module/version")
	if err != nil {
		return "", "", err
	}
	if version == "" {
		version = release
	}
	return driver, version, nil
}
