package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"maasgo/agent"
)

// lanPrint1 is "ipmitool lan print 1" as recorded on a machine whose BMC has 10.245.143.4.
const lanPrint1 = "../../agent/bmc/testdata/ipmitool-lan-print-1.txt"

// recordedIPMI answers "ipmitool lan print" on channel 1 only, from the recording.
type recordedIPMI struct{}

func (recordedIPMI) LANPrint(_ context.Context, ch int) (string, error) {
	if ch != 1 {
		return "", fmt.Errorf("invalid channel %d", ch)
	}
	data, err := os.ReadFile(lanPrint1)
	return string(data), err
}

// bmcMachine writes a machine tree with the given files (path below the root: content;
// "@file" copies a file).
func bmcMachine(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		if f, ok := strings.CutPrefix(content, "@"); ok {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			content = string(data)
		}
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const type42Redfish = "@../../agent/bmc/testdata/type42-usb-redfish.raw"

func TestBMCConfigRun(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		existing bool   // BMC_CONFIG_PATH exists already
		mark     bool   // --mark-skipped
		out      string // in stdout
		config   string // the power_type written; "" = skipped
	}{
		{name: "none", files: map[string]string{"proc/cpuinfo": "flags : fpu vmx\n"}, out: "INFO: no BMC: no Redfish host interface (SMBIOS type 42), and no IPMI device (/dev/ipmi0, /dev/ipmi/0, /dev/ipmidev/0): nothing to report"},
		{name: "none marked", files: map[string]string{"proc/cpuinfo": "flags : fpu vmx\n"}, mark: true, out: "INFO: no BMC: no Redfish host interface"},
		{name: "virtual", files: map[string]string{"proc/cpuinfo": "flags : fpu hypervisor\n", "dev/ipmi0": ""}, out: "the machine is virtual (hypervisor flag in /proc/cpuinfo): nothing to report"},
		{name: "virtual marked", files: map[string]string{"proc/cpuinfo": "flags : fpu hypervisor\n", "dev/ipmi0": ""}, mark: true, out: "the machine is virtual (hypervisor flag in /proc/cpuinfo), skipping"},
		{name: "done before", files: map[string]string{"dev/ipmi0": ""}, existing: true, out: "previously run commissioning script, skipping"},
		{name: "ipmi", files: map[string]string{"dev/ipmi0": ""}, out: "ipmi BMC detected at 10.245.143.4 (MAC 0c:c4:7a:3e:b0:a1, LAN channel 1)", config: "ipmi"},
		{name: "redfish", files: map[string]string{"sys/firmware/dmi/entries/42-0/raw": type42Redfish}, out: "redfish BMC detected at 10.0.0.9", config: "redfish"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := bmcMachine(t, tt.files)
			dir := t.TempDir()
			config, result := filepath.Join(dir, "bmc-config.yaml"), filepath.Join(dir, "result.yaml")
			if tt.existing {
				if err := os.WriteFile(config, []byte("power_type: manual\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var stdout, stderr bytes.Buffer
			if err := runBMCConfig(t.Context(), &stdout, &stderr, root, tt.mark, config, result, recordedIPMI{}); err != nil {
				t.Fatalf("runBMCConfig: %v\n%s", err, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.out) {
				t.Errorf("stdout %q; want %q", stdout.String(), tt.out)
			}
			res, _ := os.ReadFile(result)
			data, err := os.ReadFile(config)
			if tt.config == "" {
				if skipped := string(res) == "status: skipped\n"; skipped != (tt.mark || tt.existing) {
					t.Errorf("result %q; want skipped: %v", res, tt.mark || tt.existing)
				}
				if !tt.existing && err == nil {
					t.Errorf("wrote %s: %q", config, data)
				}
				return
			}
			if len(res) != 0 {
				t.Errorf("result %q; want none", res)
			}
			if typ, _, err := agent.ParseBMCConfig(data); err != nil || typ != tt.config {
				t.Errorf("the runner reads %q as %q, %v; want %s", data, typ, err, tt.config)
			}
		})
	}
	if err := runBMCConfig(t.Context(), &bytes.Buffer{}, &bytes.Buffer{}, t.TempDir(), false, "", "", nil); err == nil || !strings.Contains(err.Error(), "BMC_CONFIG_PATH") {
		t.Errorf("without BMC_CONFIG_PATH: %v", err)
	}
}

// TestBMCConfigScript runs the 30-maas-01-bmc-config built-in as the runner does (the agent
// as maas-run-remote-scripts in MAAS_RUN_SCRIPTS, the machine tree in MAAS_MACHINE_ROOT), with
// an ipmitool on PATH that plays the recorded answers, and reads BMC_CONFIG_PATH as the
// runner does.
func TestBMCConfigScript(t *testing.T) {
	agentBin := agentAs(t, "maas-run-remote-scripts")
	script := builtinScript(t, "commissioning/30-maas-01-bmc-config")
	lan, err := filepath.Abs(lanPrint1)
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	fake := "#!/bin/sh\n[ \"$*\" = \"lan print 1\" ] || { echo \"Invalid channel\" >&2; exit 1; }\ncat '" + lan + "'\n"
	if err := os.WriteFile(filepath.Join(bin, "ipmitool"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		files  map[string]string
		params string // the power parameters the runner sends; "" = none
	}{
		{"none", map[string]string{"proc/cpuinfo": "flags : fpu vmx\n"}, ""},
		{"ipmi", map[string]string{"dev/ipmi0": "", "sys/firmware/efi/efivars/x": ""},
			`{"power_address": "10.245.143.4", "power_user": "", "power_pass": "", "power_boot_type": "efi", "mac_address": "0c:c4:7a:3e:b0:a1"}`},
		{"redfish", map[string]string{"sys/firmware/dmi/entries/42-0/raw": type42Redfish},
			`{"power_address": "10.0.0.9", "power_user": "", "power_pass": ""}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := bmcMachine(t, tt.files)
			dir := t.TempDir()
			config, result := filepath.Join(dir, "bmc-config.yaml"), filepath.Join(dir, "result.yaml")
			cmd := exec.Command("sh", script)
			cmd.Env = append(os.Environ(), "MAAS_RUN_SCRIPTS="+agentBin, "MAAS_MACHINE_ROOT="+root,
				"BMC_CONFIG_PATH="+config, "RESULT_PATH="+result, "PATH="+bin+":/usr/bin:/bin")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("30-maas-01-bmc-config: %v\n%s", err, out)
			}
			data, err := os.ReadFile(config)
			if tt.params == "" {
				if res, _ := os.ReadFile(result); err == nil || len(res) != 0 || !strings.Contains(string(out), "nothing to report") {
					t.Errorf("config %q, result %q; want neither\n%s", data, res, out)
				}
				return
			}
			typ, params, err := agent.ParseBMCConfig(data)
			if err != nil || typ != tt.name || params != tt.params {
				t.Errorf("the runner sends %q %s (%v); want %q %s\n%s", typ, params, err, tt.name, tt.params, out)
			}
		})
	}
}
