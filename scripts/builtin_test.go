package scripts

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"maasgo/wire"
)

// builtinWant is upstream's table of built-in scripts (hardware.md §1.2, §1.3) for the
// scripts the project ships.
type builtinWant struct {
	typ         wire.ScriptType
	hw          wire.HardwareType
	parallel    wire.Parallel
	timeout     time.Duration
	destructive bool
	tags        []string // effective tags, automatic ones included
	params      Parameters
	packages    wire.Packages
	results     []string
	applyNet    bool // apply_configured_networking
}

var storageParam = Parameters{{Name: "storage", Type: ParamStorage, ArgumentFormat: "{path}"}}

var interfaceParam = Parameter{Name: "interface", Type: ParamInterface}

// urlParam is upstream's url parameter of internet-connectivity (its description is ours).
var urlParam = Parameter{Name: "url", Type: ParamURL, Default: ptr("https://connectivity-check.ubuntu.com"), Required: ptr(true), AllowList: ptr(true),
	Description: "A comma-separated list of URLs, host names or IP addresses the interface must reach. Hosts, IP addresses and icmp:// URLs " +
		"are pinged; http:// and https:// URLs are fetched; tcp://host:port and the other TCP schemes (ftp://, smtp://, ...) are connected to."}

// The network-throughput parameters (ours: upstream has no throughput test).
var (
	throughputPeerParam = Parameter{Name: "peer", Type: ParamString, Title: "Peer",
		Description:    `HOST[:PORT] of a host running "maas-run-scripts throughput serve" (port 5249 when not given); default: the region's host.`,
		ArgumentFormat: "--peer={input}", Required: ptr(false)}
	minFractionParam = Parameter{Name: "min-fraction", Type: ParamString, Title: "Minimum fraction of the link speed",
		Description:    "Each direction below this share of the link speed (0 to 1) makes the result degraded; 0 judges nothing.",
		ArgumentFormat: "--min-fraction={input}", Default: ptr("0.7"), Required: ptr(false)}
	durationParam = Parameter{Name: "duration", Type: ParamString, Title: "Duration",
		Description:    "How long to measure each direction (a Go duration, at least 100ms and at most what the peer allows: 1m by default).",
		ArgumentFormat: "--duration={input}", Default: ptr("10s"), Required: ptr(false)}
	// lldpWaitParam is maas-lldp-neighbours' (ours).
	lldpWaitParam = Parameter{Name: "wait", Type: ParamString, Title: "Listening time",
		Description:    "How long to listen for LLDP frames (a Go duration, e.g. 35s); LLDP agents send every 30 s.",
		ArgumentFormat: "--wait={input}", Default: ptr("35s"), Required: ptr(false)}
)

var badblocksResults = []string{"badblocks", "read_errors", "write_errors", "comparison_errors"}

var wantBuiltins = map[string]builtinWant{
	"20-maas-02-dhcp-unconfigured-ifaces": {typ: wire.ScriptTypeCommissioning, parallel: wire.ParallelDisabled, timeout: 10 * time.Second, tags: []string{"node"}},
	"20-maas-03-machine-resources":        {typ: wire.ScriptTypeCommissioning, parallel: wire.ParallelDisabled, timeout: time.Minute, tags: []string{"deploy-info", "node"}},
	"30-maas-01-bmc-config":               {typ: wire.ScriptTypeCommissioning, parallel: wire.ParallelDisabled, timeout: 5 * time.Minute, tags: []string{"bmc-config", "node"}},
	"40-maas-01-machine-config-hints":     {typ: wire.ScriptTypeCommissioning, parallel: wire.ParallelDisabled, timeout: time.Minute, tags: []string{"node"}},
	"50-maas-01-commissioning":            {typ: wire.ScriptTypeCommissioning, parallel: wire.ParallelDisabled, timeout: time.Minute, tags: []string{"deploy-info", "node"}},
	"50-maas-02-hardware-snapshot.tar.xz": {typ: wire.ScriptTypeCommissioning, parallel: wire.ParallelDisabled, timeout: time.Minute, tags: []string{"deploy-info", "node"}},
	"maas-support-info":                   {typ: wire.ScriptTypeCommissioning, parallel: wire.ParallelAny, timeout: 5 * time.Minute, tags: []string{"deploy-info", "node"}},
	"maas-lshw":                           {typ: wire.ScriptTypeCommissioning, parallel: wire.ParallelAny, timeout: 5 * time.Minute, tags: []string{"deploy-info", "node"}},
	"maas-list-modaliases":                {typ: wire.ScriptTypeCommissioning, parallel: wire.ParallelAny, timeout: 10 * time.Second, tags: []string{"deploy-info", "node"}},
	"maas-get-fruid-api-data":             {typ: wire.ScriptTypeCommissioning, parallel: wire.ParallelAny, timeout: time.Minute, tags: []string{"node"}},
	"maas-kernel-cmdline":                 {typ: wire.ScriptTypeCommissioning, parallel: wire.ParallelAny, timeout: 10 * time.Second, tags: []string{"node"}},
	"maas-lldp-neighbours":                {typ: wire.ScriptTypeCommissioning, parallel: wire.ParallelAny, timeout: time.Minute, tags: []string{"lldp", "node"}, params: Parameters{lldpWaitParam}},
	"maas-serial-ports":                   {typ: wire.ScriptTypeCommissioning, parallel: wire.ParallelAny, timeout: 10 * time.Second, tags: []string{"deploy-info", "node"}},

	"wipe-disks": {typ: wire.ScriptTypeRelease, parallel: wire.ParallelDisabled, destructive: true, tags: []string{"node", "destructive"},
		params: Parameters{
			{Name: "secure_erase", Type: ParamBoolean, Title: "Secure erase", Description: "Use the drive's secure erase when it supports it; disks that do not are zeroed.",
				ArgumentFormat: "--secure-erase={input}", Default: ptr("false"), Required: ptr(false)},
			{Name: "quick_erase", Type: ParamBoolean, Title: "Quick erase", Description: "Zero only the first and last 2 MiB of each disk (partition tables and superblocks).",
				ArgumentFormat: "--quick-erase={input}", Default: ptr("false"), Required: ptr(false)}}},

	"smartctl-validate":   {typ: wire.ScriptTypeTesting, hw: wire.HardwareStorage, parallel: wire.ParallelInstance, timeout: 5 * time.Minute, tags: []string{"commissioning", "storage"}, params: storageParam, packages: wire.Packages{Apt: []string{"smartmontools"}}},
	"smartctl-short":      {typ: wire.ScriptTypeTesting, hw: wire.HardwareStorage, parallel: wire.ParallelInstance, timeout: 10 * time.Minute, tags: []string{"storage"}, params: storageParam, packages: wire.Packages{Apt: []string{"smartmontools"}}},
	"smartctl-long":       {typ: wire.ScriptTypeTesting, hw: wire.HardwareStorage, parallel: wire.ParallelInstance, tags: []string{"storage"}, params: storageParam, packages: wire.Packages{Apt: []string{"smartmontools"}}},
	"smartctl-conveyance": {typ: wire.ScriptTypeTesting, hw: wire.HardwareStorage, parallel: wire.ParallelInstance, tags: []string{"storage"}, params: storageParam, packages: wire.Packages{Apt: []string{"smartmontools"}}},
	"badblocks": {typ: wire.ScriptTypeTesting, hw: wire.HardwareStorage, parallel: wire.ParallelInstance, tags: []string{"storage"},
		params: Parameters{{Name: "storage", Type: ParamStorage}}, results: badblocksResults},
	"badblocks-destructive": {typ: wire.ScriptTypeTesting, hw: wire.HardwareStorage, parallel: wire.ParallelInstance, destructive: true, tags: []string{"storage", "destructive"},
		params: Parameters{{Name: "storage", Type: ParamStorage}}, results: badblocksResults},
	"fio": {typ: wire.ScriptTypeTesting, hw: wire.HardwareStorage, parallel: wire.ParallelInstance, destructive: true, tags: []string{"storage", "destructive"},
		params: storageParam, packages: wire.Packages{Apt: []string{"fio"}},
		results: []string{"random_read", "random_read_iops", "sequential_read", "sequential_read_iops", "random_write", "random_write_iops", "sequential_write", "sequential_write_iops"}},
	"memtester":              {typ: wire.ScriptTypeTesting, hw: wire.HardwareMemory, parallel: wire.ParallelDisabled, tags: []string{"memory"}, packages: wire.Packages{Apt: []string{"memtester"}}},
	"stress-ng-cpu-short":    {typ: wire.ScriptTypeTesting, hw: wire.HardwareCPU, parallel: wire.ParallelDisabled, timeout: 5 * time.Minute, tags: []string{"cpu"}, packages: wire.Packages{Apt: []string{"stress-ng"}}},
	"stress-ng-cpu-long":     {typ: wire.ScriptTypeTesting, hw: wire.HardwareCPU, parallel: wire.ParallelDisabled, timeout: 14 * time.Hour, tags: []string{"cpu"}, packages: wire.Packages{Apt: []string{"stress-ng"}}},
	"stress-ng-memory-short": {typ: wire.ScriptTypeTesting, hw: wire.HardwareMemory, parallel: wire.ParallelDisabled, timeout: 5 * time.Minute, tags: []string{"memory"}, packages: wire.Packages{Apt: []string{"stress-ng"}}},
	"stress-ng-memory-long":  {typ: wire.ScriptTypeTesting, hw: wire.HardwareMemory, parallel: wire.ParallelDisabled, timeout: 14 * time.Hour, tags: []string{"memory"}, packages: wire.Packages{Apt: []string{"stress-ng"}}},
	"7z": {typ: wire.ScriptTypeTesting, hw: wire.HardwareCPU, parallel: wire.ParallelDisabled, timeout: 300 * time.Second, tags: []string{"cpu"}, packages: wire.Packages{Apt: []string{"p7zip-full"}},
		results: []string{"compression_ru_mips", "compression_rating_mips", "decompression_ru_mips", "decompression_rating_mips"}},
	"ntp": {typ: wire.ScriptTypeTesting, hw: wire.HardwareNetwork, parallel: wire.ParallelAny, timeout: time.Minute, tags: []string{"ntp", "network"}},
	"internet-connectivity": {typ: wire.ScriptTypeTesting, hw: wire.HardwareNetwork, parallel: wire.ParallelInstance, timeout: 5 * time.Minute,
		tags: []string{"internet", "network-validation", "network"}, params: Parameters{interfaceParam, urlParam}, applyNet: true},
	"gateway-connectivity": {typ: wire.ScriptTypeTesting, hw: wire.HardwareNetwork, parallel: wire.ParallelInstance, timeout: 5 * time.Minute,
		tags: []string{"network-validation", "network"}, params: Parameters{interfaceParam}, applyNet: true},
	"rack-controller-connectivity": {typ: wire.ScriptTypeTesting, hw: wire.HardwareNetwork, parallel: wire.ParallelInstance, timeout: 5 * time.Minute,
		tags: []string{"network-validation", "network"}, params: Parameters{interfaceParam}, applyNet: true},
	"network-throughput": {typ: wire.ScriptTypeTesting, hw: wire.HardwareNetwork, parallel: wire.ParallelDisabled, timeout: 3 * time.Minute,
		tags: []string{"throughput", "network"}, params: Parameters{interfaceParam, throughputPeerParam, minFractionParam, durationParam}, applyNet: true,
		results: []string{"send_mbps", "receive_mbps", "link_speed", "min_mbps"}},
}

func TestBuiltins(t *testing.T) {
	builtins, err := Builtins()
	if err != nil {
		t.Fatalf("Builtins: %v", err)
	}
	seen := map[string]bool{}
	var paths []string
	for _, b := range builtins {
		paths = append(paths, b.Path)
		if seen[b.Name] {
			t.Errorf("%s: name used twice", b.Name)
		}
		seen[b.Name] = true
		if b.Path != b.Type.Dir()+"/"+b.Name {
			t.Errorf("%s: path %q does not match the type and name", b.Name, b.Path)
		}
		if !bytes.HasPrefix(b.Body, []byte("#!/bin/sh\n")) {
			t.Errorf("%s: want a #!/bin/sh script", b.Name)
		}
		if b.Metadata.Title == "" || b.Metadata.Description == "" {
			t.Errorf("%s: want a title and a description", b.Name)
		}
		want, ok := wantBuiltins[b.Name]
		if !ok {
			t.Errorf("%s: not in the expected table", b.Name)
			continue
		}
		md := b.Metadata
		got := builtinWant{
			typ: md.ScriptType, hw: md.HardwareType, parallel: md.Parallel, timeout: md.Timeout,
			destructive: md.Destructive, tags: b.Tags(), params: md.Parameters, packages: md.Packages,
			applyNet: md.ApplyConfiguredNetworking,
		}
		for _, r := range md.Results {
			got.results = append(got.results, r.Name)
			if r.Title == "" {
				t.Errorf("%s: result %s has no title", b.Name, r.Name)
			}
		}
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(builtinWant{})); diff != "" {
			t.Errorf("%s metadata mismatch (-want +got):\n%s", b.Name, diff)
		}
		if md.MayReboot || md.Recommission || len(md.ForHardware) > 0 || len(md.Ignored) > 0 {
			t.Errorf("%s: unexpected settings %+v", b.Name, md)
		}
	}
	for name := range wantBuiltins {
		if !seen[name] {
			t.Errorf("%s: missing from the built-ins", name)
		}
	}
	for i := 1; i < len(paths); i++ {
		if paths[i-1] >= paths[i] {
			t.Errorf("built-ins not sorted by path: %q before %q", paths[i-1], paths[i])
		}
	}
}

func TestBuiltinFS(t *testing.T) {
	body, err := fs.ReadFile(FS(), "testing/fio")
	if err != nil {
		t.Fatalf("read testing/fio: %v", err)
	}
	md, err := Parse(body)
	if err != nil || md.Name != "fio" {
		t.Errorf("Parse(testing/fio) = %v, %v; want fio", md, err)
	}
}

// TestBuiltinSyntax checks every built-in with "sh -n", and with shellcheck when it is
// installed.
func TestBuiltinSyntax(t *testing.T) {
	builtins, err := Builtins()
	if err != nil {
		t.Fatalf("Builtins: %v", err)
	}
	shellcheck, _ := exec.LookPath("shellcheck")
	dir := t.TempDir()
	for _, b := range builtins {
		p := filepath.Join(dir, b.Name)
		if err := os.WriteFile(p, b.Body, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("sh", "-n", p).CombinedOutput(); err != nil {
			t.Errorf("%s: sh -n: %v\n%s", b.Path, err, out)
		}
		if shellcheck == "" {
			continue
		}
		if out, err := exec.Command(shellcheck, "-s", "sh", p).CombinedOutput(); err != nil {
			t.Errorf("%s: shellcheck: %v\n%s", b.Path, err, out)
		}
	}
	if shellcheck == "" {
		t.Log("shellcheck is not installed; checked the syntax only")
	}
}
