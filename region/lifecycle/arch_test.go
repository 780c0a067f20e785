package lifecycle_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"maasgo/region/inventory"
	"maasgo/region/lifecycle"
	"maasgo/wire"
)

// TestArchitecturesAgree follows every kernel name of every architecture (wire.Arches) the
// way a machine goes: the agent names its architecture at registration (wire.MachineArch),
// the API checks it (lifecycle.NormalizeArchitecture), and commissioning's inventory writes
// it. An architecture the region takes passes all three with the same name; any other is
// refused by all three, saying which ones the region takes.
func TestArchitecturesAgree(t *testing.T) {
	accepted := strings.Join(wire.MachineArchitectures(), ", ")
	check := func(t *testing.T, uname string, a wire.Arch, known bool) {
		agentArch, agentErr := wire.MachineArch(uname)
		apiArch, apiErr := lifecycle.NormalizeArchitecture(a.Debian)
		facts, invErr := inventory.FromJSON(mustJSON(t, uname))
		if known && a.Machines {
			if agentErr != nil || apiErr != nil || invErr != nil {
				t.Fatalf("refused: agent %v; API %v; inventory %v", agentErr, apiErr, invErr)
			}
			if agentArch != a.Debian || apiArch != a.Debian+"/generic" || facts.Architecture != apiArch {
				t.Errorf("agent %q, API %q, inventory %q; want %s", agentArch, apiArch, facts.Architecture, a.Debian)
			}
			return
		}
		for _, err := range []error{agentErr, invErr} {
			if !errors.Is(err, wire.ErrUnknownArch) || !strings.Contains(err.Error(), "\""+uname+"\"") || !strings.Contains(err.Error(), accepted) {
				t.Errorf("error %v; want inventory.ErrUnknownArch naming %q and listing %s", err, uname, accepted)
			}
		}
		var fe lifecycle.FieldErrors
		if known && (!errors.As(apiErr, &fe) || len(fe["architecture"]) != 1 || !strings.Contains(fe["architecture"][0], accepted)) {
			t.Errorf("API: %v; want a field error on architecture listing %s", apiErr, accepted)
		}
	}
	for _, a := range wire.Arches {
		for _, uname := range a.Uname {
			t.Run(uname, func(t *testing.T) { check(t, uname, a, true) })
		}
	}
	for _, uname := range []string{"sparc64", "", "x86-64"} {
		t.Run("unknown "+uname, func(t *testing.T) { check(t, uname, wire.Arch{}, false) })
	}
	// The two bugs this table fixed: a riscv64 machine could register, then its inventory
	// failed; a mips inventory wrote an architecture the API refuses.
	if f, err := inventory.FromJSON(mustJSON(t, "riscv64")); err != nil || f.Architecture != "riscv64/generic" {
		t.Errorf("riscv64 inventory: %v, %v", f, err)
	}
	if _, err := lifecycle.NormalizeArchitecture("riscv64"); err != nil {
		t.Errorf("riscv64 registration: %v", err)
	}
	if _, err := inventory.FromJSON(mustJSON(t, "mips")); !errors.Is(err, inventory.ErrUnknownArch) {
		t.Errorf("mips inventory: %v", err)
	}
	if _, err := lifecycle.NormalizeArchitecture("mips"); err == nil {
		t.Error("mips registration accepted")
	}
}

// mustJSON is the user guide's VM's inventory (a fixture) as a machine of kernelArch reports it.
func mustJSON(t *testing.T, kernelArch string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../testdata/machines/qemu-1g/machine-resources.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	doc["environment"].(map[string]any)["kernel_architecture"] = kernelArch
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
