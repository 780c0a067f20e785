package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHintsFor(t *testing.T) {
	tests := []struct {
		in, platform string
	}{
		{`{}`, "generic"},
		{`{"resources": {"system": {"motherboard": null}}}`, "generic"},
		{`{"resources": {"system": {"motherboard": {"vendor": "Dell Inc.", "product": "0W23H8"}}}}`, "generic"},
		{`{"resources": {"system": {"motherboard": {"vendor": "NVIDIA", "product": "DGX"}}}}`, "nvidia-dgx"},
		{`{"resources": {"system": {"motherboard": {"vendor": "nvidia", "product": "NVIDIA DGX"}}}}`, "nvidia-dgx"},
		{`{"resources": {"system": {"motherboard": {"vendor": "NVIDIA", "product": "DGX A100"}}}}`, "generic"},
	}
	for _, tt := range tests {
		h, err := hintsFor([]byte(tt.in))
		if err != nil || h.Platform != tt.platform || h.Tags == nil || len(h.Tags) != 0 {
			t.Errorf("hintsFor(%s) = %+v, %v; want %s and no tags", tt.in, h, err, tt.platform)
		}
	}
	if _, err := hintsFor([]byte("not json")); err == nil {
		t.Error("hintsFor(not json): no error")
	}
}

func FuzzHintsFor(f *testing.F) {
	f.Add([]byte(`{"resources": {"system": {"motherboard": {"vendor": "NVIDIA", "product": "DGX"}}}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := hintsFor(data)
		if err == nil && h.Platform != "generic" && h.Platform != "nvidia-dgx" {
			t.Errorf("platform %q", h.Platform)
		}
	})
}

// TestMachineConfigHintsScript runs the 40-maas-01-machine-config-hints built-in as the
// runner does on a fixture machine's inventory: it prints upstream's document, and writes
// it to MAAS_MACHINE_EXTRA_FILE unless the runner reads a machine tree.
func TestMachineConfigHintsScript(t *testing.T) {
	agentBin := agentAs(t, "maas-run-remote-scripts")
	script := builtinScript(t, "commissioning/40-maas-01-machine-config-hints")
	resources, err := filepath.Abs("../../testdata/machines/two-socket-server/machine-resources.json")
	if err != nil {
		t.Fatal(err)
	}
	const want = "{\n    \"platform\": \"generic\",\n    \"tags\": []\n}"
	for _, tree := range []bool{false, true} {
		extra := filepath.Join(t.TempDir(), "machine-extra.json")
		cmd := exec.Command("sh", script)
		cmd.Env = append(os.Environ(), "MAAS_RUN_SCRIPTS="+agentBin, "MAAS_RESOURCES_FILE="+resources, "MAAS_MACHINE_EXTRA_FILE="+extra)
		if tree {
			cmd.Env = append(cmd.Env, "MAAS_MACHINE_ROOT="+t.TempDir())
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("40-maas-01-machine-config-hints: %v\n%s", err, stderr.String())
		}
		if diff := cmp.Diff(want+"\n", string(out)); diff != "" {
			t.Errorf("stdout (-want +got):\n%s", diff)
		}
		data, err := os.ReadFile(extra)
		switch {
		case tree && err == nil:
			t.Errorf("wrote %s for a machine tree", extra)
		case !tree && string(data) != want:
			t.Errorf("%s = %q, %v; want %q", extra, data, err, want)
		}
	}
	cmd := exec.Command("sh", script)
	cmd.Env = append(os.Environ(), "MAAS_RUN_SCRIPTS="+agentBin, "MAAS_RESOURCES_FILE="+filepath.Join(t.TempDir(), "missing.json"))
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("without the resources file: no error\n%s", out)
	}
}
