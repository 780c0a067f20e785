package collectors

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCPUCollector(t *testing.T) {
	tests := []struct {
		name      string
		build     func(tree)
		wantTotal uint64
		check     func(t *testing.T, tr tree)
	}{
		{
			name: "two sockets two nodes with cpufreq",
			build: func(tr tree) {
				for id := 0; id < 4; id++ {
					tr.cpu(id, id/2, 0, id/2, true)
				}
				tr.file("sys/devices/system/cpu/isolated", "3\n")
				tr.file("proc/cpuinfo", "processor\t: 0\nmodel name\t: Xeon @ 2.10GHz\nvendor_id\t: GenuineIntel\n\nprocessor\t: 2\nmodel name\t: Xeon @ 2.10GHz\nvendor_id\t: GenuineIntel\n")
			},
			wantTotal: 4,
			check: func(t *testing.T, tr tree) {
				doc := tr.run(cpuCollector{}, Seams{})
				s := doc.Resources.CPU.Sockets
				if len(s) != 2 || s[1].Socket != 1 || s[1].Name != "Xeon @ 2.10GHz" {
					t.Fatalf("sockets = %+v", s)
				}
				th := s[1].Cores[0].Threads
				if len(th) != 2 || th[0].ID != 2 || th[0].NUMANode != 1 || th[1].Thread != 1 || !th[1].Isolated {
					t.Errorf("socket 1 threads = %+v", th)
				}
				if s[0].Frequency != 2100 || s[0].FrequencyMinimum != 1000 || s[0].FrequencyTurbo != 3700 {
					t.Errorf("frequencies = %d/%d/%d", s[0].Frequency, s[0].FrequencyMinimum, s[0].FrequencyTurbo)
				}
			},
		},
		{
			name: "no cpufreq, one offline cpu, one without topology",
			build: func(tr tree) {
				tr.cpu(0, 0, 0, 0, false)
				tr.cpu(1, 0, 1, 0, false)
				tr.file("sys/devices/system/cpu/cpu1/online", "0\n")
				tr.dir("sys/devices/system/cpu/cpu2")
			},
			wantTotal: 2,
			check: func(t *testing.T, tr tree) {
				doc := tr.run(cpuCollector{}, Seams{})
				c := doc.Resources.CPU.Sockets[0]
				if c.Frequency != 0 || c.FrequencyTurbo != 0 || c.Name != "" {
					t.Errorf("socket = %+v", c)
				}
				if c.Cores[1].Threads[0].Online {
					t.Error("cpu1 should be offline")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := newTree(t)
			tt.build(tr)
			doc := tr.run(cpuCollector{}, Seams{})
			if got := doc.Resources.CPU.Total; got != tt.wantTotal {
				t.Errorf("total = %d, want %d", got, tt.wantTotal)
			}
			if doc.Resources.CPU.Architecture != "x86_64" {
				t.Errorf("architecture = %q", doc.Resources.CPU.Architecture)
			}
			tt.check(t, tr)
		})
	}
}

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		in      string
		want    []int64
		wantErr bool
	}{
		{"", nil, false},
		{"3", []int64{3}, false},
		{"0-2,5,7-8", []int64{0, 1, 2, 5, 7, 8}, false},
		{"2-1", nil, true},
		{"a", nil, true},
		{"-1", nil, true},
	}
	for _, tt := range tests {
		got, err := parseCPUList(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseCPUList(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("parseCPUList(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseCPUInfo(t *testing.T) {
	in := "processor : 0\ncpu : POWER9 (raw), altivec supported\n\nprocessor : 8\ncpu : POWER9\n\ntimebase : 512000000\nplatform : PowerNV\n"
	procs, global := parseCPUInfo(in)
	if procs[0]["cpu"] != "POWER9 (raw), altivec supported" || procs[8]["cpu"] != "POWER9" {
		t.Errorf("procs = %v", procs)
	}
	if global["platform"] != "PowerNV" {
		t.Errorf("global = %v", global)
	}
}

func TestParseCacheSize(t *testing.T) {
	for in, want := range map[string]uint64{"": 0, "32K": 32768, "16M": 16 << 20, "512": 512} {
		got, err := parseCacheSize(in)
		if err != nil || got != want {
			t.Errorf("parseCacheSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseCacheSize("xK"); err == nil {
		t.Error("parseCacheSize(xK) did not fail")
	}
}
