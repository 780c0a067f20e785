package collectors

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"maasgo/collectors/schema"
)

func TestMemoryCollector(t *testing.T) {
	const meminfo = "MemTotal: 3000000 kB\nMemFree: 1000000 kB\nBuffers: 0 kB\nCached: 0 kB\nHugePages_Total: 2\nHugePages_Free: 1\nHugepagesize: 2048 kB\n"
	tests := []struct {
		name  string
		build func(tr tree)
		want  schema.Memory
	}{
		{
			name: "online blocks win over MemTotal, offline blocks do not count",
			build: func(tr tree) {
				tr.file("proc/meminfo", meminfo)
				tr.file("sys/devices/system/memory/block_size_bytes", "8000000\n")
				tr.memBlock(0, -1)
				tr.memBlock(1, -1)
				tr.file("sys/devices/system/memory/memory2/online", "0\n")
			},
			want: schema.Memory{HugepagesTotal: 4 << 20, HugepagesUsed: 2 << 20, HugepagesSize: 2 << 20, Used: 0, Total: 256 << 20},
		},
		{
			name: "no memory blocks falls back to MemTotal; nodes from node meminfo",
			build: func(tr tree) {
				tr.file("proc/meminfo", meminfo)
				tr.file("sys/devices/system/node/node0/meminfo", "Node 0 MemTotal: 2000000 kB\nNode 0 MemUsed: 1000 kB\nNode 0 HugePages_Total: 2\nNode 0 HugePages_Free: 2\n")
				tr.file("sys/devices/system/node/node1/meminfo", "Node 1 MemTotal: 1000000 kB\nNode 1 MemUsed: 2000 kB\n")
			},
			want: schema.Memory{
				Nodes: []schema.MemoryNode{
					{NUMANode: 0, HugepagesTotal: 4 << 20, Used: 1000 * 1024, Total: 2000000 * 1024},
					{NUMANode: 1, Used: 2000 * 1024, Total: 1000000 * 1024},
				},
				HugepagesTotal: 4 << 20, HugepagesUsed: 2 << 20, HugepagesSize: 2 << 20, Used: 2000000 * 1024, Total: 3000000 * 1024,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := newTree(t)
			tt.build(tr)
			got := tr.run(memoryCollector{}, Seams{}).Resources.Memory
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("memory (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseMeminfo(t *testing.T) {
	m, err := parseMeminfo("MemTotal:  16 kB\nNode 3 MemUsed: 2 kB\nHugePages_Total: 7\nHugepagesize: 1 GB\n")
	if err != nil {
		t.Fatal(err)
	}
	want := meminfo{Total: 16384, Used: 2048, HugepagesTotal: 7, HugepagesSize: 1 << 30}
	if m != want {
		t.Errorf("got %+v, want %+v", m, want)
	}
	if _, err := parseMeminfo("MemTotal: lots kB\n"); err == nil {
		t.Error("bad value did not fail")
	}
}
