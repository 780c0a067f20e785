package agent

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"maasgo/collectors"
)

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("metadata_url: http://x/\ntoken_key: a\n"))
	f.Add([]byte("datasource:\n  MAAS: {metadata_url: 'http://x/', consumer_key: c}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("datasource: {MAAS: [1]}"))
	f.Add([]byte("tls_fingerprint: " + strings.Repeat("ab", 32) + "\ntls_ca: |\n  -----BEGIN CERTIFICATE-----\n  AAAA\n  -----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil && c != (Config{}) {
			t.Fatalf("error with a partial config: %+v", c)
		}
		if err == nil {
			if _, err := c.TLS.Config(); err != nil || c.TLS.Insecure {
				t.Fatalf("accepted unusable TLS settings %+v: %v", c.TLS, err)
			}
		}
	})
}

func FuzzParseIndex(f *testing.F) {
	f.Add([]byte(sampleIndex))
	f.Add([]byte(`{"1.0": {"testing_scripts": [{"name": "a", "path": "testing/a", "parameters": {"s": {"type": "storage", "value": {"model": 1}}}}]}}`))
	f.Add([]byte(`{"1.0": null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := ParseIndex(data)
		if err != nil {
			return
		}
		for _, p := range x.Phases {
			for _, s := range p.Scripts {
				if checkName(s.Name) != nil || checkScriptPath(s.Path) != nil {
					t.Fatalf("accepted %q at %q", s.Name, s.Path)
				}
				// Resolution of any accepted entry must not panic.
				r := &resolver{roots: collectors.RootsAt(t.TempDir())}
				r.resolve(s, "/x")
				describeParams(s)
			}
			Plan(p.Scripts)
		}
	})
}

// FuzzExtractScripts unpacks arbitrary archives into a directory inside a sandbox and checks
// that nothing appears outside it except config/netplan.yaml.
func FuzzExtractScripts(f *testing.F) {
	seed := func(entries ...tarEntry) []byte { return makeTar(f, entries) }
	f.Add(seed(tarEntry{name: "testing/a", body: "x"}, tarEntry{name: "../config/netplan.yaml", body: "n"}))
	f.Add(seed(tarEntry{name: "../../x", body: "x"}))
	f.Add(seed(tarEntry{name: "a/", typ: tar.TypeDir}, tarEntry{name: "a/../../b", body: "x"}))
	f.Add(seed(tarEntry{name: "l", typ: tar.TypeSymlink, link: ".."}, tarEntry{name: "l/x", body: "x"}))
	f.Add([]byte{0x1f, 0x8b, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		sandbox := t.TempDir()
		storage := filepath.Join(sandbox, "storage")
		scripts := filepath.Join(storage, "scripts")
		config := filepath.Join(storage, "config")
		ExtractScripts(bytes.NewReader(data), scripts, config)
		filepath.WalkDir(sandbox, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			rel, _ := filepath.Rel(sandbox, p)
			switch {
			case rel == "." || rel == "storage" || rel == "storage/config" || rel == "storage/config/netplan.yaml":
			case strings.HasPrefix(rel, "storage/scripts"):
				if d.Type()&fs.ModeSymlink != 0 {
					t.Fatalf("symlink extracted: %s", rel)
				}
				if fi, err := d.Info(); err == nil && fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 {
					t.Fatalf("setuid file extracted: %s", rel)
				}
			default:
				t.Fatalf("extraction wrote outside the scripts directory: %s", rel)
			}
			return nil
		})
	})
}

func FuzzParseNetplan(f *testing.F) {
	f.Add([]byte("network:\n  ethernets:\n    e: {match: {macaddress: 'aa'}, dhcp4: true, set-name: x}\n"))
	f.Add([]byte("network: [1]\n"))
	f.Add([]byte("network: {bonds: {b: {macaddress: [1], addresses: []}}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for mac, name := range ParseNetplan(data) {
			if mac != strings.ToLower(mac) || name == "" && mac == "" {
				t.Fatalf("bad entry %q → %q", mac, name)
			}
		}
	})
}

func FuzzParseBMCConfig(f *testing.F) {
	f.Add([]byte("power_type: ipmi\npower_address: 1.2.3.4\nx: [1, {a: b}]\n"))
	f.Add([]byte("power_type: ipmi\na: &a [*a, *a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		typ, params, err := ParseBMCConfig(data)
		if err != nil {
			return
		}
		if typ == "" {
			t.Fatal("no power type")
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(params), &v); err != nil {
			t.Fatalf("power parameters are not a JSON object: %q: %v", params, err)
		}
	})
}

func FuzzPyFormat(f *testing.F) {
	f.Add("--storage={path}", "/dev/sda")
	f.Add("{{}}{", "x")
	f.Fuzz(func(t *testing.T, format, value string) {
		out, err := pyFormat(format, map[string]string{"path": value, "input": value})
		if err == nil && !strings.Contains(format, "{") && !strings.Contains(format, "}") && out != format {
			t.Fatalf("plain text changed: %q → %q", format, out)
		}
	})
}
