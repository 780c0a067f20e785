package lldp

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"maasgo/collectors"
)

// TestInterfaces picks the interfaces of the fixture machines: physical Ethernet, up, with
// a carrier. The two-socket server's bond members qualify; its VFs (down), the 400G port
// (no carrier), the bond, its VLAN and the loopback do not.
func TestInterfaces(t *testing.T) {
	for _, tt := range []struct {
		machine string
		want    []string
	}{
		{"two-socket-server", []string{"ens1f0", "ens1f1"}},
		{"virtio-vm", []string{"eth0"}},
	} {
		t.Run(tt.machine, func(t *testing.T) {
			root := filepath.Join("..", "..", "testdata", "machines", tt.machine, "root")
			f := collectors.NewFS(collectors.RootsAt(root), nil)
			got, err := Interfaces(f, collectors.ReplaySeams(root).Netlink)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Interfaces (-want +got):\n%s", diff)
			}
		})
	}
}
