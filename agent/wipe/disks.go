// Package wipe erases a machine's disks on release (upstream's wipe-disks release script):
// it lists the disks from sysfs, refuses those in use, and zeroes each one, whole or only its
// first and last 2 MiB. Every root it reads (sysfs, /proc, /dev) is passed in, so tests run
// on a fake tree and files, never on the disks of the machine they run on.
package wipe

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Disk is one block device to erase.
type Disk struct {
	Name string // the kernel name: sda, nvme0n1, loop3
	Path string // the device node: <dev root>/<name>
	Dev  string // "major:minor" from sysfs, empty when unknown
}

// namePattern is what a kernel block device name looks like: no slash, no dot-dot.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_:!+-]*(\.[A-Za-z0-9_:!+-]+)*$`)

// ValidName reports whether name is a plain block device name, safe to join to /dev and /sys.
func ValidName(name string) bool {
	return len(name) <= 64 && namePattern.MatchString(name)
}

// skipped are the name prefixes of devices never erased unless named: virtual, RAM, mapper,
// software RAID, optical and floppy devices.
var skipped = []string{"loop", "ram", "zram", "dm-", "md", "sr", "fd", "nbd"}

// ListDisks lists the disks under sysRoot/block that an erase takes by default: physical,
// writable, not removable, sorted by name.
func ListDisks(sysRoot, devRoot string) ([]Disk, error) {
	entries, err := os.ReadDir(filepath.Join(sysRoot, "block"))
	if err != nil {
		return nil, fmt.Errorf("list block devices: %w", err)
	}
	var out []Disk
	for _, e := range entries {
		name := e.Name()
		if !ValidName(name) || hasPrefix(name, skipped) {
			continue
		}
		if flag(sysRoot, name, "removable") || flag(sysRoot, name, "ro") {
			continue
		}
		out = append(out, disk(sysRoot, devRoot, name))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Named resolves the devices given on the command line: NAME or <dev root>/NAME, each a
// whole block device listed in sysRoot/block. Named devices are taken even when ListDisks
// would skip them (a loop device, a removable disk), but never when read-only.
func Named(sysRoot, devRoot string, args []string) ([]Disk, error) {
	var out []Disk
	for _, a := range args {
		name := strings.TrimPrefix(a, strings.TrimSuffix(devRoot, "/")+"/")
		if !ValidName(name) {
			return nil, fmt.Errorf("%q is not a block device name (want NAME or %s/NAME)", a, devRoot)
		}
		if _, err := os.Stat(filepath.Join(sysRoot, "block", name)); err != nil {
			return nil, fmt.Errorf("%s: not a whole block device in %s/block", name, sysRoot)
		}
		if flag(sysRoot, name, "ro") {
			return nil, fmt.Errorf("%s: the device is read-only", name)
		}
		out = append(out, disk(sysRoot, devRoot, name))
	}
	return out, nil
}

func disk(sysRoot, devRoot, name string) Disk {
	d := Disk{Name: name, Path: filepath.Join(devRoot, name)}
	if b, err := os.ReadFile(filepath.Join(sysRoot, "block", name, "dev")); err == nil {
		d.Dev = strings.TrimSpace(string(b))
	}
	return d
}

// partitionDevs are the "major:minor" of a disk's partitions (sysfs subdirectories with a
// partition file).
func partitionDevs(sysRoot, name string) []string {
	entries, err := os.ReadDir(filepath.Join(sysRoot, "block", name))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		dir := filepath.Join(sysRoot, "block", name, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "partition")); err != nil {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(dir, "dev")); err == nil {
			out = append(out, strings.TrimSpace(string(b)))
		}
	}
	return out
}

// holders are the devices built on a disk or its partitions (LVM, RAID, dm-crypt).
func holders(sysRoot, name string) []string {
	var out []string
	dirs := []string{filepath.Join(sysRoot, "block", name)}
	if entries, err := os.ReadDir(dirs[0]); err == nil {
		for _, e := range entries {
			if _, err := os.Stat(filepath.Join(dirs[0], e.Name(), "partition")); err == nil {
				dirs = append(dirs, filepath.Join(dirs[0], e.Name()))
			}
		}
	}
	for _, d := range dirs {
		entries, _ := os.ReadDir(filepath.Join(d, "holders"))
		for _, e := range entries {
			out = append(out, e.Name())
		}
	}
	return out
}

func flag(sysRoot, name, file string) bool {
	b, err := os.ReadFile(filepath.Join(sysRoot, "block", name, file))
	if err != nil {
		return false
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return err == nil && v != 0
}

func hasPrefix(name string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// errInUse says a disk is mounted, holds the root file system or is used as swap.
var errInUse = errors.New("in use")
