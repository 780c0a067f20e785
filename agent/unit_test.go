package agent

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ulikunitz/xz"

	"maasgo/collectors"
	"maasgo/wire"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Config
		wantErr string
	}{
		{"flat", "metadata_url: http://r:5248/MAAS/metadata/\nconsumer_key: CK\ntoken_key: TK\ntoken_secret: TS\n",
			Config{MetadataURL: "http://r:5248/MAAS/metadata/", Credentials: wire.Credentials{ConsumerKey: "CK", TokenKey: "TK", TokenSecret: "TS"}}, ""},
		{"datasource", `datasource:
  MAAS: {metadata_url: "http://10.0.0.2:5248/MAAS/metadata/", consumer_key: CK, token_key: TK, token_secret: TS}
reporting:
  maas: {type: webhook, endpoint: "http://x/", consumer_key: CK}
`, Config{MetadataURL: "http://10.0.0.2:5248/MAAS/metadata/", Credentials: wire.Credentials{ConsumerKey: "CK", TokenKey: "TK", TokenSecret: "TS"}}, ""},
		{"anonymous enlistment", "datasource: {MAAS: {metadata_url: 'http://r/MAAS/metadata/'}}\n", Config{MetadataURL: "http://r/MAAS/metadata/"}, ""},
		{"null and unknown keys", "token_secret: null\nother: [1, 2]\nconsumer_secret: ''\n", Config{}, ""},
		{"not a mapping", "- a\n- b\n", Config{}, "want a YAML mapping"},
		{"empty", "", Config{}, "want a YAML mapping"},
		{"datasource without MAAS", "datasource: {Ec2: {}}\n", Config{}, "no MAAS mapping"},
		{"list value", "token_key: [a]\n", Config{}, "token_key: want a string"},
		{"bad yaml", "a: [\n", Config{}, "invalid YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigFill(t *testing.T) {
	c := Config{Credentials: wire.Credentials{TokenKey: "flag"}}
	c.Fill(Config{Credentials: wire.Credentials{TokenKey: "file", TokenSecret: "file-secret"}})
	if c.TokenKey != "flag" || c.TokenSecret != "file-secret" {
		t.Errorf("fill: %+v", c)
	}
}

func TestMetadataURL(t *testing.T) {
	tests := []struct{ base, want, err string }{
		{"http://10.0.0.2:5248/MAAS/metadata/", "http://10.0.0.2:5248/MAAS/metadata/2012-03-01/", ""},
		{"http://10.0.0.2:5248/MAAS/metadata", "http://10.0.0.2:5248/MAAS/metadata/2012-03-01/", ""},
		{"", "", "no metadata URL"},
		{"ftp://x/", "", "want http"},
	}
	for _, tt := range tests {
		got, err := MetadataURL(tt.base, DefaultAPIVersion)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v; want %q", tt.base, err, tt.err)
			}
			continue
		}
		if got != tt.want || err != nil {
			t.Errorf("%q: %q, %v; want %q", tt.base, got, err, tt.want)
		}
	}
	if got := BaseURL("http://10.0.0.2:5248/MAAS/metadata/2012-03-01/"); got != "http://10.0.0.2:5248" {
		t.Errorf("BaseURL: %q", got)
	}
}

const sampleIndex = `{"1.0": {
 "commissioning_scripts": [
  {"name": "maas-lshw", "path": "commissioning/maas-lshw", "script_result_id": 17, "script_version_id": 9,
   "timeout_seconds": 0.0, "parallel": 2, "hardware_type": 0, "parameters": {}, "packages": {},
   "for_hardware": [], "apply_configured_networking": false, "has_started": false, "has_finished": false,
   "default": true, "tags": ["deploy-info", "node"]},
  {"name": "cpu-a", "path": "commissioning/cpu-a", "script_result_id": 18, "script_version_id": 10,
   "timeout_seconds": 60.0, "parallel": 0, "hardware_type": 1,
   "parameters": {"zeta": {"type": "string", "value": "z"}, "alpha": {"type": "runtime", "value": 30}},
   "packages": {"apt": ["fio"], "snap": [{"name": "x", "channel": "edge"}]}}
 ],
 "testing_scripts": []
}}`

func TestParseIndex(t *testing.T) {
	x, err := ParseIndex([]byte(sampleIndex))
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Phases) != 2 || x.Phase(wire.ScriptTypeTesting) == nil || len(x.Phase(wire.ScriptTypeTesting).Scripts) != 0 {
		t.Fatalf("phases: %+v", x.Phases)
	}
	c := x.Phase(wire.ScriptTypeCommissioning).Scripts
	if c[0].Name != "cpu-a" || c[1].Name != "maas-lshw" || c[0].Pos != 1 || c[1].Of != 2 {
		t.Errorf("order: %s %s", c[0].Name, c[1].Name)
	}
	if diff := cmp.Diff([]string{"zeta", "alpha"}, c[0].ParamOrder); diff != "" {
		t.Errorf("parameter order (-want +got):\n%s", diff)
	}
	if c[0].ID != "18" || c[0].MsgName() != "cpu-a (id: 18, script_version_id: 10)" || c[0].OutName() != "cpu-a.18" {
		t.Errorf("names: %q %q %q", c[0].ID, c[0].MsgName(), c[0].OutName())
	}
	if len(c[0].Packages.Apt) != 1 || c[0].Packages.Snap[0].Channel != "edge" {
		t.Errorf("packages: %+v", c[0].Packages)
	}
	inv, err := (&resolver{}).resolve(c[0], "/s/cpu-a")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"/s/cpu-a", "--string=z", "--runtime=30"}, inv.Argv); diff != "" {
		t.Errorf("argv (-want +got):\n%s", diff)
	}
	if inv.Timeout != 30*time.Second || inv.Runtime != "30" {
		t.Errorf("timeout %s, RUNTIME %q", inv.Timeout, inv.Runtime)
	}
	inv, _ = (&resolver{}).resolve(c[1], "/s/l")
	if inv.Runtime != "0.0" || inv.Timeout != 0 {
		t.Errorf("no timeout: %s, RUNTIME %q", inv.Timeout, inv.Runtime)
	}
}

func TestParseIndexErrors(t *testing.T) {
	entry := func(name, path string, id int) string {
		return fmt.Sprintf(`{"name": %q, "path": %q, "script_result_id": %d, "script_version_id": 1, "timeout_seconds": 0, "parallel": 0, "hardware_type": 0}`, name, path, id)
	}
	tests := []struct{ name, in, err string }{
		{"no 1.0", `{}`, `no "1.0"`},
		{"not json", `{`, "index.json"},
		{"name with slash", `{"1.0": {"testing_scripts": [` + entry("a/b", "testing/a", 1) + `]}}`, "cannot be a file name"},
		{"dot dot name", `{"1.0": {"testing_scripts": [` + entry("..", "testing/a", 1) + `]}}`, "cannot be a file name"},
		{"escaping path", `{"1.0": {"testing_scripts": [` + entry("a", "../../bin/sh", 1) + `]}}`, "leaves the scripts directory"},
		{"absolute path", `{"1.0": {"testing_scripts": [` + entry("a", "/bin/sh", 1) + `]}}`, "not relative"},
		{"repeated id", `{"1.0": {"testing_scripts": [` + entry("a", "testing/a", 1) + `,` + entry("b", "testing/b", 1) + `]}}`, "appears twice"},
		{"bad packages", `{"1.0": {"testing_scripts": [{"name": "a", "path": "testing/a", "packages": {"apt": {"x": 1}}}]}}`, "packages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseIndex([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("err %v; want %q", err, tt.err)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	mk := func(name string, par wire.Parallel, hw wire.HardwareType, netconf bool, apt ...string) *Script {
		s := &Script{}
		s.Name, s.Parallel, s.HardwareType, s.ApplyConfiguredNetworking = name, par, hw, netconf
		s.Packages.Apt = apt
		return s
	}
	list := []*Script{
		mk("z-node-serial", wire.ParallelDisabled, wire.HardwareNode, false),
		mk("disk", wire.ParallelInstance, wire.HardwareStorage, false),
		mk("a-any-pkg", wire.ParallelAny, wire.HardwareNode, false, "fio"),
		mk("b-any", wire.ParallelAny, wire.HardwareNode, false),
		mk("cpu-serial", wire.ParallelDisabled, wire.HardwareCPU, false),
		mk("net-any", wire.ParallelAny, wire.HardwareNetwork, true),
		mk("disk", wire.ParallelInstance, wire.HardwareStorage, false),
		mk("mem", wire.ParallelInstance, wire.HardwareMemory, false),
	}
	Order(list)
	var got []string
	for _, b := range Plan(list) {
		var names []string
		for _, s := range b.Scripts {
			names = append(names, s.Name)
		}
		got = append(got, fmt.Sprintf("%s shared=%v netconf=%v", strings.Join(names, ","), b.SharedInstall, b.Netconf))
	}
	want := []string{
		"cpu-serial shared=false netconf=false",
		"z-node-serial shared=false netconf=false",
		"mem shared=true netconf=false",
		"disk,disk shared=true netconf=false",
		"b-any,a-any-pkg shared=false netconf=false",
		"net-any shared=false netconf=true",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
}

// machine builds a fixture tree with two disks, a loop device and two interfaces.
func machine(t *testing.T) Roots {
	t.Helper()
	dir := t.TempDir()
	w := func(p, data string) {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w("sys/class/block/sda/dev", "8:0\n")
	w("sys/class/block/sda/device/model", "Samsung SSD 850 \n")
	w("run/udev/data/b8:0", "E:ID_MODEL=Samsung_SSD_850\nE:ID_MODEL_ENC=Samsung\\x20SSD\\x20850\\x20\\x20\nE:ID_SERIAL_SHORT=S21NNXAGB12345\n")
	w("sys/class/block/nvme0n1/dev", "259:0\n")
	w("sys/class/block/nvme0n1/device/model", "QEMU NVMe Ctrl\n")
	w("sys/class/block/nvme0n1/device/serial", "deadbeef\n")
	w("sys/class/block/loop0/dev", "7:0\n")
	w("sys/class/block/sda1/dev", "8:1\n")
	w("sys/class/block/sda1/partition", "1\n")
	w("sys/class/net/ens3/address", "52:54:00:aa:bb:cc\n")
	w("sys/class/net/ens4/address", "52:54:00:dd:ee:ff\n")
	w("sys/class/net/lo/address", "00:00:00:00:00:00\n")
	w("dev/disk/by-id/virtio-xyz", "")
	return collectors.RootsAt(dir)
}

func TestResolveParameters(t *testing.T) {
	roots := machine(t)
	storage := func(v any, format string) map[string]wire.ResolvedParam {
		return map[string]wire.ResolvedParam{"storage": {Type: "storage", Value: v, ArgumentFormat: format}}
	}
	dev := func(model, serial, idPath string) map[string]any {
		return map[string]any{"id": 1, "name": "old", "model": model, "serial": serial, "id_path": idPath}
	}
	tests := []struct {
		name   string
		params map[string]wire.ResolvedParam
		want   []string
		err    string
	}{
		{"udev model and serial", storage(dev("Samsung SSD 850", "S21NNXAGB12345", "/dev/disk/by-id/x"), ""), []string{"--storage=/dev/sda"}, ""},
		{"ID_MODEL spelling", storage(dev("Samsung_SSD_850", "S21NNXAGB12345", ""), "{path} {model}"), []string{"/dev/sda", "Samsung_SSD_850"}, ""},
		{"sysfs model and serial", storage(dev("QEMU NVMe Ctrl", "deadbeef", ""), "--dev={input}"), []string{"--dev=/dev/nvme0n1"}, ""},
		{"no serial: id_path", storage(dev("", "", "/dev/disk/by-id/virtio-xyz"), ""), []string{"--storage=/dev/disk/by-id/virtio-xyz"}, ""},
		{"not found: id_path", storage(dev("Other", "123", "/dev/disk/by-id/virtio-xyz"), ""), []string{"--storage=/dev/disk/by-id/virtio-xyz"}, ""},
		{"not found: id_path missing", storage(dev("Gone", "123", "/dev/disk/by-id/gone"), ""), nil, "Storage device 'Gone' with serial '123' not found!"},
		{"not found", storage(dev("Gone", "123", ""), ""), nil, "Storage device 'Gone' with serial '123' not found!"},
		{"all", storage("all", ""), nil, "did not detect any storage devices"},
		{"interface by MAC", map[string]wire.ResolvedParam{"iface": {Type: "interface",
			Value: map[string]any{"id": 3, "name": "eth9", "mac_address": "52:54:00:DD:EE:FF", "vendor": "v", "product": "p"}}},
			[]string{"--interface=ens4"}, ""},
		{"interface missing", map[string]wire.ResolvedParam{"iface": {Type: "interface",
			Value: map[string]any{"id": 3, "name": "eth9", "mac_address": "52:54:00:00:00:01", "vendor": "v", "product": "p"}}},
			nil, "with MAC address 52:54:00:00:00:01 has not been found"},
		{"url", map[string]wire.ResolvedParam{"u": {Type: "url", Value: "example.com", ArgumentFormat: "--url={input}"}}, []string{"--url=example.com"}, ""},
		{"boolean", map[string]wire.ResolvedParam{"b": {Type: "boolean", Value: true}}, []string{"--boolean=True"}, ""},
		{"split on spaces", map[string]wire.ResolvedParam{"s": {Type: "string", Value: "a  b", ArgumentFormat: "-x {input}"}}, []string{"-x", "a", "b"}, ""},
		{"bad placeholder", map[string]wire.ResolvedParam{"s": {Type: "string", Value: "a", ArgumentFormat: "{nope}"}}, nil, "no value for {nope}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Script{}
			s.Name, s.Parameters = "x", tt.params
			r := &resolver{roots: roots}
			inv, err := r.resolve(s, "/x")
			if tt.err != "" {
				if !errors.Is(err, errParams) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v; want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(append([]string{"/x"}, tt.want...), inv.Argv); diff != "" {
				t.Errorf("argv (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInterfaceNamesFromNetplan(t *testing.T) {
	roots := machine(t)
	np := filepath.Join(roots.Etc, "netplan")
	os.MkdirAll(np, 0o755)
	os.WriteFile(filepath.Join(np, "50-cloud-init.yaml"), []byte(`network:
  version: 2
  ethernets:
    eth0:
      match: {macaddress: "52:54:00:AA:BB:CC"}
      set-name: ens3
      dhcp4: true
    eth1:
      macaddress: "52:54:00:11:11:11"
      addresses: [10.0.0.2/24]
    bondslave:
      match: {macaddress: "52:54:00:22:22:22"}
  bonds:
    bond0: {interfaces: [bondslave], dhcp4: yes, macaddress: "52:54:00:33:33:33"}
`), 0o644)
	os.WriteFile(filepath.Join(np, "junk.yaml"), []byte("{{{{"), 0o644)
	got := InterfaceNames(collectors.NewFS(roots, nil))
	want := map[string]string{"52:54:00:aa:bb:cc": "ens3", "52:54:00:11:11:11": "eth1", "52:54:00:33:33:33": "bond0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	os.RemoveAll(np)
	got = InterfaceNames(collectors.NewFS(roots, nil))
	want = map[string]string{"52:54:00:aa:bb:cc": "ens3", "52:54:00:dd:ee:ff": "ens4"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sysfs fallback (-want +got):\n%s", diff)
	}
}

type tarEntry struct {
	name string
	typ  byte
	mode int64
	body string
	link string
}

func makeTar(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: typ, Mode: mode, Size: int64(len(e.body)), Linkname: e.link}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	return buf.Bytes()
}

func TestExtractScripts(t *testing.T) {
	tests := []struct {
		name    string
		entries []tarEntry
		err     bool
		files   map[string]string // relative to the storage directory
	}{
		{"scripts and netplan", []tarEntry{
			{name: "commissioning/", typ: tar.TypeDir},
			{name: "commissioning/a", body: "#!/bin/sh\n"},
			{name: "./testing/b", body: "B", mode: 0o4755},
			{name: "index.json", body: "{}", mode: 0o644},
			{name: "../config/netplan.yaml", body: "network: {}", mode: 0o644},
		}, false, map[string]string{"scripts/commissioning/a": "#!/bin/sh\n", "scripts/testing/b": "B",
			"scripts/index.json": "{}", "config/netplan.yaml": "network: {}"}},
		{"escape", []tarEntry{{name: "../../etc/passwd", body: "x"}}, true, nil},
		{"other escape via ..", []tarEntry{{name: "../config/other.yaml", body: "x"}}, true, nil},
		{"inner ..", []tarEntry{{name: "testing/../../x", body: "x"}}, true, nil},
		{"absolute", []tarEntry{{name: "/etc/x", body: "x"}}, true, nil},
		{"symlink", []tarEntry{{name: "testing/l", typ: tar.TypeSymlink, link: "/etc/passwd"}}, true, nil},
		{"hard link", []tarEntry{{name: "testing/l", typ: tar.TypeLink, link: "index.json"}}, true, nil},
		{"netplan as directory", []tarEntry{{name: "../config/netplan.yaml", typ: tar.TypeDir}}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storage := t.TempDir()
			err := ExtractScripts(bytes.NewReader(makeTar(t, tt.entries)), filepath.Join(storage, "scripts"), filepath.Join(storage, "config"))
			if tt.err {
				if !errors.Is(err, ErrUnsafeArchive) {
					t.Fatalf("err %v; want ErrUnsafeArchive", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for p, want := range tt.files {
				got, err := os.ReadFile(filepath.Join(storage, p))
				if err != nil || string(got) != want {
					t.Errorf("%s: %q, %v; want %q", p, got, err, want)
				}
			}
			fi, _ := os.Stat(filepath.Join(storage, "scripts/testing/b"))
			if fi.Mode().Perm() != 0o755 || fi.Mode()&os.ModeSetuid != 0 {
				t.Errorf("mode %v", fi.Mode())
			}
		})
	}
}

func TestExtractCompressed(t *testing.T) {
	raw := makeTar(t, []tarEntry{{name: "testing/x", body: "hello"}})
	var gz, x bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	xw, _ := xz.NewWriter(&x)
	xw.Write(raw)
	xw.Close()
	for name, data := range map[string][]byte{"plain": raw, "gzip": gz.Bytes(), "xz": x.Bytes()} {
		dir := t.TempDir()
		if err := ExtractScripts(bytes.NewReader(data), dir, filepath.Join(dir, "c")); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "testing/x")); string(b) != "hello" {
			t.Errorf("%s: %q", name, b)
		}
	}
}

func TestCappedFile(t *testing.T) {
	const max = 8 << 10
	head := int64(max / 2)
	ring := int64(max) - head - markerReserve
	for _, size := range []int64{0, 1, head, head + ring, head + ring + 1, 3 * max, 10*max + 123} {
		for _, chunk := range []int{1, 7, 4096, 100000} {
			if chunk == 1 && size > max {
				continue
			}
			t.Run(fmt.Sprintf("%d/%d", size, chunk), func(t *testing.T) {
				stream := make([]byte, size)
				rng := rand.New(rand.NewPCG(uint64(size), 1))
				for i := range stream {
					stream[i] = byte('a' + rng.IntN(26))
				}
				path := filepath.Join(t.TempDir(), "out")
				c, err := createCapped(path, max)
				if err != nil {
					t.Fatal(err)
				}
				for p := stream; len(p) > 0; {
					n := min(chunk, len(p))
					c.Write(p[:n])
					p = p[n:]
				}
				if err := c.Close(); err != nil {
					t.Fatal(err)
				}
				got, _ := os.ReadFile(path)
				if size <= head+ring {
					if !bytes.Equal(got, stream) {
						t.Fatalf("uncapped stream changed: %d bytes, want %d", len(got), size)
					}
					return
				}
				if int64(len(got)) > max {
					t.Errorf("stored %d bytes; cap %d", len(got), max)
				}
				if !bytes.Equal(got[:head], stream[:head]) || !bytes.Equal(got[int64(len(got))-ring:], stream[size-ring:]) {
					t.Errorf("head or tail lost")
				}
				marker := string(got[head : int64(len(got))-ring])
				if !strings.Contains(marker, fmt.Sprintf("%d bytes left out", size-head-ring)) {
					t.Errorf("marker %q", marker)
				}
			})
		}
	}
}

func TestParseBMCConfig(t *testing.T) {
	tests := []struct{ in, typ, params, err string }{
		{"power_type: ipmi\npower_address: 10.0.0.1\npower_pass: 'x'\nk_g: null\nn: 1.5\nlist: [a, 2]\n", "ipmi",
			`{"power_address": "10.0.0.1", "power_pass": "x", "k_g": null, "n": 1.5, "list": ["a", 2]}`, ""},
		{"power_type: redfish\n", "redfish", "{}", ""},
		{"power_address: x\n", "", "", "no power_type"},
		{"- a\n", "", "", "want a mapping"},
		{"power_type: [a]\n", "", "", "power_type must be a string"},
	}
	for _, tt := range tests {
		typ, params, err := ParseBMCConfig([]byte(tt.in))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v; want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || typ != tt.typ || params != tt.params {
			t.Errorf("%q: %q %q %v", tt.in, typ, params, err)
		}
	}
}

func TestAddLinkState(t *testing.T) {
	up, down := true, false
	tests := []struct {
		name   string
		before *string
		ls     LinkState
		want   string // "" = no file
	}{
		{"nothing known", nil, LinkState{}, ""},
		{"no file, down", nil, LinkState{Connected: &down}, "link_connected: false\n"},
		{"no file, up", nil, LinkState{Connected: &up, LinkSpeed: 1000, InterfaceSpeed: 10000},
			"link_connected: true\nlink_speed: 1000\ninterface_speed: 10000\n"},
		{"key set by the script", ptr("link_connected: true\n"), LinkState{Connected: &down, InterfaceSpeed: 100},
			"link_connected: true\ninterface_speed: 100\n"},
		{"merge", ptr("status: failed\nresults: {a: 1}\n"), LinkState{Connected: &down},
			"status: failed\nresults: {a: 1}\nlink_connected: false\n"},
		{"skipped", ptr("status: skipped\n"), LinkState{Connected: &up, LinkSpeed: 25000},
			"status: skipped\nlink_connected: true\nlink_speed: 25000\n"},
		{"not a mapping", ptr("- x\n"), LinkState{Connected: &down}, "- x\n"},
		{"not YAML", ptr("a: [\n"), LinkState{Connected: &down}, "a: [\n"},
		{"empty", ptr(""), LinkState{Connected: &down}, "link_connected: false\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "r.yaml")
			if tt.before != nil {
				os.WriteFile(p, []byte(*tt.before), 0o644)
			}
			if err := AddLinkState(p, tt.ls); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(p)
			if tt.want == "" {
				if err == nil {
					t.Errorf("file written: %q", got)
				}
				return
			}
			if string(got) != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
			if _, err := wire.ParseResult(got); err != nil && tt.name != "not a mapping" && tt.name != "not YAML" {
				t.Errorf("the region would refuse %q: %v", got, err)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestDiagnoseStart(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), mode)
		return p
	}
	tests := []struct{ path, want string }{
		{write("noshebang", "echo hi\n", 0o755), "has no shebang line"},
		{write("noexec", "#!/bin/sh\n", 0o644), "is not executable"},
		{write("nointerp", "#!/no/such/sh -e\n", 0o755), "interpreter /no/such/sh named by the shebang line"},
		{filepath.Join(dir, "missing"), "does not exist"},
	}
	for _, tt := range tests {
		sink, err := openSink(outputFiles{Combined: tt.path + ".c", Stdout: tt.path + ".o", Stderr: tt.path + ".e"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		res := runProcess(t.Context(), []string{tt.path}, nil, 0, 0, sink, false, nil)
		sink.Close()
		if res.StartErr == nil || res.ExitStatus != 2 || !strings.Contains(res.Diagnosis, tt.want) {
			t.Errorf("%s: %v exit %d %q; want %q", filepath.Base(tt.path), res.StartErr, res.ExitStatus, res.Diagnosis, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 8 * time.Second}
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 10: 8 * time.Second, 1000: 8 * time.Second} {
		for i := 0; i < 20; i++ {
			if d := b.Delay(attempt); d < want/2 || d > want {
				t.Errorf("attempt %d: %s; want between %s and %s", attempt, d, want/2, want)
			}
		}
	}
}

func TestPyFormat(t *testing.T) {
	got, err := pyFormat("{{x}} --a={a} {b}}}", map[string]string{"a": "1", "b": "2"})
	if err != nil || got != "{x} --a=1 2}" {
		t.Errorf("%q %v", got, err)
	}
	for _, bad := range []string{"{", "}", "{a", "{c}"} {
		if _, err := pyFormat(bad, map[string]string{"a": "1"}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestLockStorage(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lockStorage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockStorage(dir); !errors.Is(err, ErrBusy) {
		t.Errorf("second lock: %v; want ErrBusy", err)
	}
	unlock()
	unlock2, err := lockStorage(dir)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	unlock2()
}
