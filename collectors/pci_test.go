package collectors

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"maasgo/collectors/schema"
)

func TestParseVPD(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want schema.PCIVPD
	}{
		{"full", vpdFixture(), schema.PCIVPD{
			ProductName: "NVIDIA ConnectX-7 HHHL adapter Card, 400GbE",
			Entries:     map[string]string{"PN": "MCX75310AAS-NEAT", "EC": "A7", "SN": "MT2301X00000", "V0": "PCIeGen5 x16"},
		}},
		{"empty", nil, schema.PCIVPD{}},
		{"truncated name", []byte{0x82, 10, 0, 'a'}, schema.PCIVPD{}},
		{"truncated keyword", []byte{0x82, 1, 0, 'x', 0x90, 5, 0, 'S', 'N', 9, 'a', 'b'}, schema.PCIVPD{ProductName: "x"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, parseVPD(tt.in)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestIDsLookup(t *testing.T) {
	tr := newTree(t)
	tr.file("usr/share/hwdata/pci.ids", "# comment\n8086  Intel Corporation\n\t1000  82542 Gigabit\n\t\t1000 0001  subsystem\n\t10d3  82574L Gigabit Network Connection\n1af4  Red Hat, Inc.\nC 02  Network controller\n")
	rec := NewRecorder()
	db := newIDsDB(NewFS(RootsAt(tr.root), rec))
	tests := []struct{ v, d, wantV, wantD string }{
		{"8086", "10d3", "Intel Corporation", "82574L Gigabit Network Connection"},
		{"8086", "ffff", "Intel Corporation", ""},
		{"1af4", "0001", "Red Hat, Inc.", ""},
		{"dead", "beef", "", ""},
	}
	for _, tt := range tests {
		v, d := db.PCI(tt.v, tt.d)
		if v != tt.wantV || d != tt.wantD {
			t.Errorf("PCI(%s, %s) = %q, %q; want %q, %q", tt.v, tt.d, v, d, tt.wantV, tt.wantD)
		}
	}
	got := string(rec.entries()["usr/share/hwdata/pci.ids"].data)
	want := "# reduced copy: only the lines this machine uses\n8086  Intel Corporation\n\t10d3  82574L Gigabit Network Connection\n1af4  Red Hat, Inc.\n"
	if got != want {
		t.Errorf("recorded pci.ids = %q, want %q", got, want)
	}
	if v, _ := newIDsDB(NewFS(RootsAt(t.TempDir()), nil)).PCI("8086", "10d3"); v != "" {
		t.Errorf("lookup without a database = %q", v)
	}
}

func TestEnvironmentCollector(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  [2]string
	}{
		{"os-release", map[string]string{"etc/os-release": "ID=\"Ubuntu\"\nVERSION_ID='24.04'\n"}, [2]string{"ubuntu", "24.04"}},
		{"ubuntu core falls back to lsb-release", map[string]string{"etc/os-release": "ID=ubuntu-core\n", "etc/lsb-release": "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\n"}, [2]string{"ubuntu", "22.04"}},
		{"usr/lib os-release", map[string]string{"usr/lib/os-release": "ID=debian\nVERSION_ID=12\n"}, [2]string{"debian", "12"}},
		{"nothing", nil, [2]string{"", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTree(t)
			for p, c := range tt.files {
				tr.file(p, c)
			}
			e := tr.run(environmentCollector{}, Seams{}).Environment
			if got := [2]string{e.OSName, e.OSVersion}; got != tt.want {
				t.Errorf("os = %v, want %v", got, tt.want)
			}
			if e.KernelArchitecture != "x86_64" || e.Server != "maas-machine-resources" || e.ServerName != "test" {
				t.Errorf("environment = %+v", e)
			}
		})
	}
}

// TestFailingCollectorDoesNotStopOthers checks that an error is recorded and the rest of
// the document is still filled.
func TestFailingCollectorDoesNotStopOthers(t *testing.T) {
	tr := newTree(t)
	tr.file("proc/meminfo", "MemTotal: 1024 kB\n")
	doc := Run(t.Context(), NewEnv(RootsAt(tr.root), Seams{Host: fakeHost{}}, nil, nil), Default())
	if doc.CollectorErrors["networks"] == "" || doc.CollectorErrors["cpu"] == "" {
		t.Errorf("errors = %v", doc.CollectorErrors)
	}
	if doc.Resources.Memory.Total != 1<<20 {
		t.Errorf("memory total = %d", doc.Resources.Memory.Total)
	}
	if doc.Resources.CPU.Sockets == nil || doc.Resources.Storage.Disks == nil {
		t.Error("a failed collector left a null list")
	}
}
