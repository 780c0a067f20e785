package collectors

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"maasgo/collectors/schema"
)

// The live tests compare the collectors on the running machine with the kernel's own
// views and with iproute2. They need root (ethtool, DMI serials); set
// MACHINE_RESOURCES_SKIP_LIVE=1 to skip them.
func liveDoc(t *testing.T, rec *Recorder) *schema.Document {
	t.Helper()
	if os.Geteuid() != 0 || os.Getenv("MACHINE_RESOURCES_SKIP_LIVE") != "" {
		t.Skip("live tests need root")
	}
	seams, closeSeams, err := LiveSeams()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeSeams)
	if rec != nil {
		seams = RecordingSeams(seams, rec)
	}
	doc := Collect(context.Background(), HostRoots(), seams, rec, nil)
	if len(doc.CollectorErrors) != 0 {
		t.Fatalf("collector errors: %v", doc.CollectorErrors)
	}
	return doc
}

func TestLiveMatchesKernel(t *testing.T) {
	doc := liveDoc(t, nil)

	cpuinfo, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(strings.Count(string(cpuinfo), "\nprocessor") + boolInt(strings.HasPrefix(string(cpuinfo), "processor"))); doc.Resources.CPU.Total != want {
		t.Errorf("cpu total = %d, /proc/cpuinfo lists %d", doc.Resources.CPU.Total, want)
	}

	meminfo, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	mi, err := parseMeminfo(string(meminfo))
	if err != nil {
		t.Fatal(err)
	}
	if total := doc.Resources.Memory.Total; total < mi.Total || total > mi.Total+mi.Total/4+(512<<20) {
		t.Errorf("memory total %d is not close above MemTotal %d", total, mi.Total)
	}

	out, err := exec.Command("ip", "-j", "link").Output()
	if err != nil {
		t.Skipf("ip -j link: %v", err)
	}
	var links []struct {
		Ifname  string   `json:"ifname"`
		Address string   `json:"address"`
		MTU     int      `json:"mtu"`
		Flags   []string `json:"flags"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		t.Fatal(err)
	}
	if len(links) != len(doc.Networks) {
		t.Errorf("ip lists %d links, networks has %d", len(links), len(doc.Networks))
	}
	for _, l := range links {
		n, ok := doc.Networks[l.Ifname]
		if !ok {
			t.Errorf("link %s missing from networks", l.Ifname)
			continue
		}
		wantMAC := l.Address
		if wantMAC == "00:00:00:00:00:00" {
			wantMAC = ""
		}
		up := "down"
		for _, f := range l.Flags {
			if f == "UP" {
				up = "up"
			}
		}
		if n.Hwaddr != wantMAC || n.Mtu != l.MTU || n.State != up {
			t.Errorf("%s: hwaddr %q mtu %d state %s; ip says %q %d %s", l.Ifname, n.Hwaddr, n.Mtu, n.State, wantMAC, l.MTU, up)
		}
	}

	ents, err := os.ReadDir("/sys/block")
	if err != nil {
		t.Fatal(err)
	}
	disks := map[string]uint64{}
	for _, d := range doc.Resources.Storage.Disks {
		disks[d.ID] = d.Size
	}
	for _, e := range ents {
		if _, err := os.Stat("/sys/block/" + e.Name() + "/device"); err != nil {
			continue
		}
		raw, err := os.ReadFile("/sys/block/" + e.Name() + "/size")
		if err != nil {
			t.Fatal(err)
		}
		sectors, _ := strconv.ParseUint(strings.TrimSpace(string(raw)), 10, 64)
		if got, ok := disks[e.Name()]; !ok || got != sectors*512 {
			t.Errorf("disk %s: size %d (listed %v), sysfs says %d", e.Name(), got, ok, sectors*512)
		}
		delete(disks, e.Name())
	}
	if len(disks) != 0 {
		t.Errorf("disks not in /sys/block: %v", disks)
	}

	for _, c := range doc.Resources.Network.Cards {
		for _, p := range c.Ports {
			raw, err := os.ReadFile("/sys/class/net/" + p.ID + "/address")
			if err == nil && p.Address == "" {
				t.Errorf("port %s has no address (sysfs %q)", p.ID, strings.TrimSpace(string(raw)))
			}
		}
	}

	if _, err := exec.LookPath("systemd-detect-virt"); err == nil {
		want := VirtPhysical
		if exec.Command("systemd-detect-virt", "--container", "--quiet").Run() == nil {
			want = VirtContainer
		} else if exec.Command("systemd-detect-virt", "--vm", "--quiet").Run() == nil {
			want = VirtMachine
		}
		if got := doc.Resources.System.Type; got != want {
			t.Errorf("system type = %q, systemd-detect-virt says %q", got, want)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestLiveSnapshotRoundTrip records the running machine and replays the snapshot.
func TestLiveSnapshotRoundTrip(t *testing.T) {
	rec := NewRecorder()
	first := encode(t, liveDoc(t, rec))
	var buf bytes.Buffer
	if err := rec.WriteTarXZ(&buf); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := UnpackSnapshot(&buf, dir); err != nil {
		t.Fatal(err)
	}
	second := encode(t, collectTree(t, dir, nil))
	if !bytes.Equal(first, second) {
		t.Errorf("replay differs from the live document")
	}
}

func BenchmarkCollectLive(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	seams, closeSeams, err := LiveSeams()
	if err != nil {
		b.Fatal(err)
	}
	defer closeSeams()
	for b.Loop() {
		Collect(context.Background(), HostRoots(), seams, nil, nil)
	}
}

var _ = unix.IFF_UP

func TestHostUname(t *testing.T) {
	u, err := HostUname()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("uname", "-m").Output()
	if err != nil {
		t.Skipf("uname -m: %v", err)
	}
	if want := strings.TrimSpace(string(out)); u.Machine != want || u.Sysname != "Linux" {
		t.Errorf("HostUname = %+v; uname -m says %s", u, want)
	}
}
