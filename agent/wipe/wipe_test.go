package wipe

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// These tests erase temp files only, found through a fake sysfs tree and a fake /dev: none
// reads the real /sys or opens a real disk.

// fakeDev describes one device of a fake sysfs tree.
type fakeDev struct {
	name          string
	dev           string
	removable, ro bool
	partitions    map[string]string // name → major:minor
	holders       []string
	fileSize      int64 // the size of its file under the fake /dev (0: no file)
}

// fakeTree makes sys/, proc/ and dev/ under a temp dir.
func fakeTree(t *testing.T, devs []fakeDev, mountinfo string) (sys, proc, dev string) {
	t.Helper()
	root := t.TempDir()
	sys, proc, dev = filepath.Join(root, "sys"), filepath.Join(root, "proc"), filepath.Join(root, "dev")
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b := func(v bool) string {
		if v {
			return "1\n"
		}
		return "0\n"
	}
	for _, d := range devs {
		dir := filepath.Join(sys, "block", d.name)
		write(filepath.Join(dir, "dev"), d.dev+"\n")
		write(filepath.Join(dir, "removable"), b(d.removable))
		write(filepath.Join(dir, "ro"), b(d.ro))
		for p, mm := range d.partitions {
			write(filepath.Join(dir, p, "dev"), mm+"\n")
			write(filepath.Join(dir, p, "partition"), "1\n")
		}
		for _, h := range d.holders {
			write(filepath.Join(dir, "holders", h), "")
		}
		if d.fileSize > 0 {
			write(filepath.Join(dev, d.name), "")
			if err := os.Truncate(filepath.Join(dev, d.name), d.fileSize); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(filepath.Join(proc, "self", "mountinfo"), mountinfo)
	write(filepath.Join(proc, "swaps"), "Filename Type Size Used Priority\n")
	return sys, proc, dev
}

// patterned makes a file of size bytes, every byte 0xA5.
func patterned(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.WriteFile(path, bytes.Repeat([]byte{0xA5}, int(size)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestQuickErase(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name       string
		size       int64
		zeroRanges [][2]int64 // expected zero ranges; everything else keeps its pattern
	}{
		{"large", 10 * mib, [][2]int64{{0, 2 * mib}, {8 * mib, 10 * mib}}},
		{"exactly twice the span", 4 * mib, [][2]int64{{0, 4 * mib}}},
		{"smaller than the span", 3 * mib / 2, [][2]int64{{0, 3 * mib / 2}}},
		{"odd size", 5*mib + 123, [][2]int64{{0, 2 * mib}, {3*mib + 123, 5*mib + 123}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "disk.img")
			patterned(t, p, tc.size)
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			size, err := Size(f)
			if err != nil || size != tc.size {
				t.Fatalf("Size = %d, %v; want %d", size, err, tc.size)
			}
			if err := QuickErase(f, size); err != nil {
				t.Fatal(err)
			}
			f.Close()
			got, _ := os.ReadFile(p)
			if int64(len(got)) != tc.size {
				t.Fatalf("size changed to %d", len(got))
			}
			for i, c := range got {
				zero := false
				for _, r := range tc.zeroRanges {
					zero = zero || (int64(i) >= r[0] && int64(i) < r[1])
				}
				if want := byte(0xA5); zero {
					want = 0
					if c != want {
						t.Fatalf("byte %d = %#x; want 0", i, c)
					}
				} else if c != want {
					t.Fatalf("byte %d = %#x; want the pattern kept", i, c)
				}
			}
		})
	}
}

func TestFullErase(t *testing.T) {
	size := int64(bufSize*2 + 4097) // more than the buffer, not a multiple of it
	p := filepath.Join(t.TempDir(), "disk.img")
	patterned(t, p, size)
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	if err := FullErase(f, size, &progress); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, _ := os.ReadFile(p)
	if int64(len(got)) != size || bytes.IndexFunc(got, func(r rune) bool { return r != 0 }) >= 0 {
		t.Errorf("file not all zeros (size %d)", len(got))
	}
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if len(lines) != 10 || !strings.Contains(lines[9], "100%") {
		t.Errorf("progress = %q; want ten lines ending at 100%%", progress.String())
	}
}

func TestListDisks(t *testing.T) {
	sys, _, dev := fakeTree(t, []fakeDev{
		{name: "sda", dev: "8:0"}, {name: "nvme0n1", dev: "259:0"}, {name: "vdb", dev: "252:16"},
		{name: "loop0", dev: "7:0"}, {name: "ram0", dev: "1:0"}, {name: "zram0", dev: "251:0"},
		{name: "dm-0", dev: "253:0"}, {name: "md127", dev: "9:127"}, {name: "sr0", dev: "11:0"},
		{name: "sdb", dev: "8:16", removable: true}, {name: "sdc", dev: "8:32", ro: true},
	}, "")
	disks, err := ListDisks(sys, dev)
	if err != nil {
		t.Fatal(err)
	}
	want := []Disk{
		{Name: "nvme0n1", Path: filepath.Join(dev, "nvme0n1"), Dev: "259:0"},
		{Name: "sda", Path: filepath.Join(dev, "sda"), Dev: "8:0"},
		{Name: "vdb", Path: filepath.Join(dev, "vdb"), Dev: "252:16"},
	}
	if diff := cmp.Diff(want, disks); diff != "" {
		t.Errorf("ListDisks (-want +got):\n%s", diff)
	}
}

func TestNamed(t *testing.T) {
	sys, _, dev := fakeTree(t, []fakeDev{{name: "loop3", dev: "7:3"}, {name: "sdc", dev: "8:32", ro: true}}, "")
	for _, tc := range []struct {
		arg, err string
	}{
		{"loop3", ""},
		{filepath.Join(dev, "loop3"), ""},
		{"../sda", "not a block device name"},
		{"/etc/passwd", "not a block device name"},
		{"..", "not a block device name"},
		{"sdz", "not a whole block device"},
		{"sdc", "read-only"},
	} {
		d, err := Named(sys, dev, []string{tc.arg})
		if tc.err == "" {
			if err != nil || len(d) != 1 || d[0].Path != filepath.Join(dev, "loop3") {
				t.Errorf("Named(%q) = %v, %v", tc.arg, d, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("Named(%q) error = %v; want %q", tc.arg, err, tc.err)
		}
	}
}

func TestRun(t *testing.T) {
	const size = 6 << 20
	mountinfo := "22 1 252:1 / / rw - ext4 /dev/vda1 rw\n23 22 0:5 / /proc rw - proc proc rw\n"
	devs := []fakeDev{
		{name: "vda", dev: "252:0", partitions: map[string]string{"vda1": "252:1"}, fileSize: size},
		{name: "vdb", dev: "252:16", fileSize: size, holders: []string{"dm-0"}},
		{name: "vdc", dev: "252:32", fileSize: size},
	}
	t.Run("refuses the root disk before writing anything", func(t *testing.T) {
		sys, proc, dev := fakeTree(t, devs, mountinfo)
		for _, d := range []string{"vda", "vdb", "vdc"} {
			patterned(t, filepath.Join(dev, d), size)
		}
		var out bytes.Buffer
		err := Run(Options{SysRoot: sys, ProcRoot: proc, DevRoot: dev, Quick: true, Out: &out})
		if err == nil || !strings.Contains(err.Error(), "vda: in use: holds the root file system") {
			t.Fatalf("Run = %v; want the root disk refused", err)
		}
		for _, d := range []string{"vda", "vdb", "vdc"} {
			if b, _ := os.ReadFile(filepath.Join(dev, d)); b[0] != 0xA5 {
				t.Errorf("%s was written to", d)
			}
		}
	})
	t.Run("mounted by source path", func(t *testing.T) {
		sys, proc, dev := fakeTree(t, devs, "")
		mi := filepath.Join(proc, "self", "mountinfo")
		if err := os.WriteFile(mi, []byte(strings.ReplaceAll("30 1 0:40 / /mnt rw - ext4 DEV/vdcp2 rw\n", "DEV", dev)), 0o644); err != nil {
			t.Fatal(err)
		}
		err := Run(Options{SysRoot: sys, ProcRoot: proc, DevRoot: dev, Devices: []string{"vdc"}, Out: &bytes.Buffer{}})
		if err == nil || !strings.Contains(err.Error(), "mounted on /mnt") {
			t.Fatalf("Run = %v; want vdc refused", err)
		}
	})
	t.Run("named devices, secure falls back", func(t *testing.T) {
		sys, proc, dev := fakeTree(t, devs, mountinfo)
		for _, d := range []string{"vdb", "vdc"} {
			patterned(t, filepath.Join(dev, d), size)
		}
		var out bytes.Buffer
		err := Run(Options{SysRoot: sys, ProcRoot: proc, DevRoot: dev, Devices: []string{"vdb", "vdc"}, Secure: true, Out: &out})
		if err != nil {
			t.Fatalf("Run: %v\n%s", err, &out)
		}
		for _, d := range []string{"vdb", "vdc"} {
			b, _ := os.ReadFile(filepath.Join(dev, d))
			if len(b) != size || bytes.IndexFunc(b, func(r rune) bool { return r != 0 }) >= 0 {
				t.Errorf("%s not zeroed", d)
			}
		}
		for _, want := range []string{"vdb: secure erase not supported here, falling back to full erase", "vdb: held by [dm-0]", "vdc: erased", "Erased 2 disks."} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, &out)
			}
		}
	})
	t.Run("no disks", func(t *testing.T) {
		sys, proc, dev := fakeTree(t, []fakeDev{{name: "loop0", dev: "7:0"}}, "")
		var out bytes.Buffer
		if err := Run(Options{SysRoot: sys, ProcRoot: proc, DevRoot: dev, Out: &out}); err != nil || !strings.Contains(out.String(), "No disks") {
			t.Errorf("Run = %v, %q", err, &out)
		}
	})
	t.Run("missing device node fails", func(t *testing.T) {
		sys, proc, dev := fakeTree(t, []fakeDev{{name: "vdz", dev: "252:64"}}, "")
		err := Run(Options{SysRoot: sys, ProcRoot: proc, DevRoot: dev, Out: &bytes.Buffer{}})
		if err == nil || !strings.Contains(err.Error(), "1 of 1 disks not erased") {
			t.Errorf("Run = %v", err)
		}
	})
}
