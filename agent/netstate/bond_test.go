package netstate_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"maasgo/agent/netstate"
)

// copyTree copies the recorded sysfs tree under testdata into a temporary directory.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(src, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestSysfsBonding reads a bond's members from a recorded sysfs tree (an active-backup bond
// of eth0 and eth1) and writes the kernel's -member and +member commands.
func TestSysfsBonding(t *testing.T) {
	sys := filepath.Join(copyTree(t, "testdata/bonding"), "sys")
	b := netstate.SysfsBonding{Sys: sys}
	slaves, err := b.Slaves("bond0")
	if err != nil || strings.Join(slaves, " ") != "eth0 eth1" {
		t.Fatalf("slaves %v, %v", slaves, err)
	}
	file := filepath.Join(sys, "class", "net", "bond0", "bonding", "slaves")
	for _, tc := range []struct {
		do   func() error
		want string
	}{
		{func() error { return b.Release("bond0", "eth1") }, "-eth1"},
		{func() error { return b.Enslave("bond0", "eth1") }, "+eth1"},
	} {
		if err := os.WriteFile(file, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := tc.do(); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(file); string(got) != tc.want {
			t.Errorf("wrote %q, want %q", got, tc.want)
		}
	}
	for _, tc := range []struct{ bond, slave, want string }{
		{"eth0", "eth1", "open the slaves of bond eth0"}, // not a bond: nothing is created
		{"../bond0", "eth1", "not an interface name"},
		{"bond0", "eth1\n+eth9", "not an interface name"},
	} {
		err := b.Release(tc.bond, tc.slave)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("release %s from %s: %v, want %q", tc.slave, tc.bond, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(sys, "class", "net", "eth0", "bonding")); !os.IsNotExist(err) {
		t.Errorf("a bonding directory appeared for eth0: %v", err)
	}
}
