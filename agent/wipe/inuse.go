package wipe

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// checkFree refuses a disk that is mounted (it or one of its partitions, the root file
// system included: procRoot/self/mountinfo gives each mount's major:minor) or used as swap
// (procRoot/swaps). Holders (LVM, RAID) are reported but left to O_EXCL, which fails on a
// device the kernel holds open.
func checkFree(d Disk, sysRoot, procRoot string) error {
	devs := append([]string{d.Dev}, partitionDevs(sysRoot, d.Name)...)
	devs = slices.DeleteFunc(devs, func(s string) bool { return s == "" })
	mounts, err := os.Open(filepath.Join(procRoot, "self", "mountinfo"))
	if err != nil {
		return fmt.Errorf("%s: cannot tell whether it is mounted: %w", d.Name, err)
	}
	defer mounts.Close()
	sc := bufio.NewScanner(mounts)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		// id parent major:minor root mountpoint options ... - fstype source superoptions
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		src := ""
		if i := slices.Index(f, "-"); i >= 0 && i+2 < len(f) {
			src = f[i+2]
		}
		if slices.Contains(devs, f[2]) || src == d.Path || strings.HasPrefix(src, d.Path) && isPartitionSuffix(strings.TrimPrefix(src, d.Path)) {
			what := "mounted on " + f[4]
			if f[4] == "/" {
				what = "holds the root file system"
			}
			return fmt.Errorf("%s: %w: %s", d.Name, errInUse, what)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: read mountinfo: %w", d.Name, err)
	}
	if b, err := os.ReadFile(filepath.Join(procRoot, "swaps")); err == nil {
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 0 && (f[0] == d.Path || strings.HasPrefix(f[0], d.Path) && isPartitionSuffix(strings.TrimPrefix(f[0], d.Path))) {
				return fmt.Errorf("%s: %w: swap on %s", d.Name, errInUse, f[0])
			}
		}
	}
	return nil
}

// isPartitionSuffix reports whether s is what follows a disk's path in a partition's: "1",
// "p1".
func isPartitionSuffix(s string) bool {
	s = strings.TrimPrefix(s, "p")
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
