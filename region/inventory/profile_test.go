package inventory

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func fixtureFacts(t *testing.T, machine string) *Facts {
	t.Helper()
	f, err := FromDocument(fixtureDoc(t, machine))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]Size{"1000204886016": 1000204886016, "960G": 960e9, "1.92 TB": 1.92e12, "512GiB": 512 << 30, "2tib": 2 << 40, "0": 0} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "G", "-1G", "12 parsecs", "1e400", "1..2G", "99999999999999999999T"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

func TestParseProfile(t *testing.T) {
	p, err := ParseProfile([]byte("cpu_count: 8\nmemory: 2048\ndisks:\n  - {count: 2, size: 900G, type: ssd}\n  - {count: 1, size: 4T, type: hdd}\nnics:\n  - {count: 2, speed: 25000}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := &Profile{CPUCount: 8, Memory: 2048, Disks: []DiskGroup{{Count: 2, Size: 900e9, Type: "ssd"}, {Count: 1, Size: 4e12, Type: "hdd"}},
		NICs: []NICGroup{{Count: 2, Speed: 25000}}}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("profile (-want +got):\n%s", diff)
	}
	for in, msg := range map[string]string{
		"":                                  "empty",
		"cpus: 8\n":                         "field cpus not found",
		"disks: [{count: 0}]\n":             "disks[0]: count 0",
		"disks: [{count: 1, type: tape}]\n": `type "tape"`,
		"disks: [{count: 1, size: lots}]\n": `size "lots"`,
		"nics: [{count: -1}]\n":             "nics[0]: count -1",
		"memory: 0\n":                       "checks nothing",
		"- a list\n":                        "cannot unmarshal",
		strings.Repeat("#", 70000):          "larger than",
	} {
		if _, err := ParseProfile([]byte(in)); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseProfile(%.40q): %v, want an error with %q", in, err, msg)
		}
	}
	// A profile written out reads back the same.
	again, err := ParseProfile(p.YAML())
	if err != nil || !cmp.Equal(p, again) {
		t.Errorf("round trip: %v %v", again, err)
	}
}

// TestProfileCheck: the two-socket server matches the profile taken from it; with a DIMM, a
// disk and a NIC gone and a link at 1G it fails, naming each.
func TestProfileCheck(t *testing.T) {
	f := fixtureFacts(t, "two-socket-server")
	p := ProfileOf(f)
	if got := p.Check(f); len(got) != 0 {
		t.Fatalf("the machine does not match its own profile: %v", got)
	}
	if p.CPUCount != 8 || p.Memory != 2048 || len(p.Disks) != 3 {
		t.Errorf("profile of the two-socket server: %+v", p)
	}
	// Half of node 1's memory gone, sdb pulled, ens1f1 at 1G, the 25G ports' count one short.
	broken := fixtureFacts(t, "two-socket-server")
	broken.Memory -= 512
	var disks []BlockDevice
	for _, d := range broken.BlockDevices {
		if d.Name != "sdb" {
			disks = append(disks, d)
		}
	}
	broken.BlockDevices = disks
	for i := range broken.Interfaces {
		if broken.Interfaces[i].Name == "ens1f1" {
			broken.Interfaces[i].LinkSpeed = 1000
		}
	}
	got := p.Check(broken)
	want := []string{
		"memory: 1536 MiB, the profile wants 2048 MiB",
		"disks: 0 of 1 HDDs of at least 4001 GB found",
		"nics: 1 of 2 connected physical interfaces with a link of at least 25000 Mbit/s found",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mismatches (-want +got):\n%s", diff)
	}
	// A written profile: two SSDs of 900 GB or more (the NVMe disk counts as one), a disk of
	// any kind, 8 CPUs.
	written, err := ParseProfile([]byte("cpu_count: 8\ndisks: [{count: 2, size: 900G, type: ssd}, {count: 1}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := written.Check(f); len(got) != 0 {
		t.Errorf("written profile: %v", got)
	}
	if got := written.Check(broken); len(got) != 1 || got[0] != "disks: 0 of 1 disks found" {
		t.Errorf("written profile on the broken machine: %v", got)
	}
}

func FuzzParseProfile(f *testing.F) {
	f.Add([]byte("cpu_count: 8\nmemory: 2048\ndisks: [{count: 2, size: 900G, type: ssd}]\nnics: [{count: 1, speed: 1000}]\n"))
	f.Add([]byte("{}"))
	if b, err := os.ReadFile("../../testdata/machines/two-socket-server/inventory.json"); err == nil {
		f.Add(b)
	}
	facts := &Facts{CPUCount: 8, Memory: 2048, BlockDevices: []BlockDevice{{Name: "sda", Size: 1e12, Tags: []string{"ssd"}}}}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProfile(b)
		if err != nil {
			return
		}
		p.Check(facts)
		if _, err := ParseProfile(p.YAML()); err != nil {
			t.Fatalf("a parsed profile does not read back: %v\n%s", err, p.YAML())
		}
	})
}
