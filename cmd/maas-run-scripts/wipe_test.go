package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"maasgo/scripts"
)

// The wipe-disks tests erase temp files through a fake sysfs tree, or a loop device over a
// temp file that the test names explicitly: never a disk of the machine they run on.

// fakeWipeTree makes a fake sysfs, proc and dev with one disk, vdx, backed by a patterned
// file of size bytes.
func fakeWipeTree(t *testing.T, size int) (sys, proc, dev string) {
	t.Helper()
	root := t.TempDir()
	sys, proc, dev = filepath.Join(root, "sys"), filepath.Join(root, "proc"), filepath.Join(root, "dev")
	files := map[string]string{
		filepath.Join(sys, "block", "vdx", "dev"):       "252:48\n",
		filepath.Join(sys, "block", "vdx", "removable"): "0\n",
		filepath.Join(sys, "block", "vdx", "ro"):        "0\n",
		filepath.Join(proc, "self", "mountinfo"):        "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n",
		filepath.Join(dev, "vdx"):                       strings.Repeat("\xa5", size),
	}
	for p, s := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return sys, proc, dev
}

// checkQuickErased checks that the first and last 2 MiB of data are zero and the rest kept.
func checkQuickErased(t *testing.T, data []byte) {
	t.Helper()
	const span = 2 << 20
	for i, c := range data {
		edge := i < span || i >= len(data)-span
		if edge && c != 0 || !edge && c != 0xa5 {
			t.Fatalf("byte %d of %d = %#x (edge %v)", i, len(data), c, edge)
		}
	}
}

func TestWipeDisksFakeTree(t *testing.T) {
	sys, proc, dev := fakeWipeTree(t, 6<<20)
	out, _, err := run(t, "wipe-disks", "--quick-erase", "--sysfs", sys, "--proc", proc, "--dev", dev)
	if err != nil {
		t.Fatalf("wipe-disks: %v\n%s", err, out)
	}
	if !strings.Contains(out, "vdx: quick erase") || !strings.Contains(out, "Erased 1 disks.") {
		t.Errorf("output:\n%s", out)
	}
	b, _ := os.ReadFile(filepath.Join(dev, "vdx"))
	checkQuickErased(t, b)
}

func TestWipeDisksRefusesBadNames(t *testing.T) {
	sys, proc, dev := fakeWipeTree(t, 1<<20)
	for _, arg := range []string{"../vdx", "/etc/passwd", "sdq"} {
		if _, _, err := run(t, "wipe-disks", "--sysfs", sys, "--proc", proc, "--dev", dev, arg); err == nil {
			t.Errorf("wipe-disks %s: no error", arg)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dev, "vdx"))
	if b[0] != 0xa5 {
		t.Error("vdx was written to")
	}
}

// TestWipeDisksScriptFlags runs the built-in release script with a stand-in runner and checks
// the flags its boolean parameters become.
func TestWipeDisksScriptFlags(t *testing.T) {
	body, err := fs.ReadFile(scripts.FS(), "release/wipe-disks")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script, runner := filepath.Join(dir, "wipe-disks"), filepath.Join(dir, "runner")
	if err := os.WriteFile(script, body, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(runner, []byte("#!/bin/sh\necho \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--secure-erase=false", "--quick-erase=false"}, "wipe-disks"},
		{[]string{"--secure-erase=True", "--quick-erase=false"}, "wipe-disks --secure-erase"},
		{[]string{"--secure-erase=false", "--quick-erase=true"}, "wipe-disks --quick-erase"},
		{nil, "wipe-disks"},
	} {
		cmd := exec.Command(script, tc.args...)
		cmd.Env = append(os.Environ(), "MAAS_RUN_SCRIPTS="+runner)
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != tc.want {
			t.Errorf("wipe-disks %v = %q, %v; want %q", tc.args, out, err, tc.want)
		}
	}
}

// TestWipeDisksLoop erases a loop device over a temp file, named explicitly, with the real
// sysfs, /proc and /dev. It needs root and a working losetup.
func TestWipeDisksLoop(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to set up a loop device")
	}
	losetup, err := exec.LookPath("losetup")
	if err != nil {
		t.Skip("losetup is not installed")
	}
	const size = 8 << 20
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, bytes.Repeat([]byte{0xa5}, size), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(losetup, "--find", "--show", img).Output()
	if err != nil {
		t.Skipf("losetup does not work here: %v", err)
	}
	loop := strings.TrimSpace(string(out))
	if !strings.HasPrefix(loop, "/dev/loop") {
		t.Fatalf("losetup gave %q", loop)
	}
	detached := false
	detach := func() {
		if !detached {
			detached = true
			if out, err := exec.Command(losetup, "-d", loop).CombinedOutput(); err != nil {
				t.Errorf("losetup -d %s: %v\n%s", loop, err, out)
			}
		}
	}
	defer detach()
	if _, err := os.Stat(filepath.Join("/sys/block", filepath.Base(loop))); err != nil {
		t.Skipf("%s is not in /sys/block here", loop)
	}
	stdout, _, err := run(t, "wipe-disks", "--quick-erase", loop)
	if err != nil {
		t.Fatalf("wipe-disks --quick-erase %s: %v\n%s", loop, err, stdout)
	}
	detach()
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	checkQuickErased(t, b)
}
