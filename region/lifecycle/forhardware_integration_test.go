package lifecycle_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"maasgo/region/library"
	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// hwScript is a script for some hardware: typ commissioning or testing, forHW its
// for_hardware as a YAML list.
func hwScript(t *testing.T, tx *store.Tx, name, typ, tags, forHW string) {
	t.Helper()
	body := fmt.Sprintf("#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: %s\n# script_type: %s\n# tags: [%s]\n# for_hardware: %s\n# --- End MAAS 1.0 script metadata ---\nexit 0\n",
		name, typ, tags, forHW)
	if _, err := library.Create(tx, library.Request{Body: []byte(body)}); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
}

// setResults are the results of a set by script name.
func setResults(t *testing.T, st *store.Store, set *int64) map[string][]store.ScriptResult {
	t.Helper()
	out := map[string][]store.ScriptResult{}
	if set == nil {
		return out
	}
	st.View(context.Background(), func(tx *store.Tx) error {
		rs, err := tx.ScriptResults([]int64{*set}, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			out[r.ScriptName] = append(out[r.ScriptName], r)
		}
		return nil
	})
	return out
}

// which lists which of names the set holds, and with what status.
func which(t *testing.T, st *store.Store, set *int64, names ...string) []string {
	t.Helper()
	rs := setResults(t, st, set)
	var out []string
	for _, n := range names {
		for _, r := range rs[n] {
			out = append(out, n+" "+r.Status.Label())
		}
	}
	sort.Strings(out)
	return out
}

// TestForHardwareScripts: scripts whose for_hardware the machine is not known to have stay
// out of its commissioning; once its modaliases and then its inventory show the hardware, the
// ones the commissioning asked for by tag are added pending and listed in the scripts the
// machine downloads next. A later commissioning or test knows the hardware from the start.
func TestForHardwareScripts(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			st := open(t, e)
			var m *store.Machine
			admin := &store.User{Username: "admin", IsAdmin: true}
			update(t, st, func(tx *store.Tx) (err error) {
				if err := tx.CreateUser(admin); err != nil {
					return err
				}
				hwScript(t, tx, "x710-firmware", "commissioning", "firmware", "[pci:8086:1572]")
				hwScript(t, tx, "dell-bios", "commissioning", "firmware", `["system_vendor:Dell Inc."]`)
				hwScript(t, tx, "hpe-bios", "commissioning", "firmware", `["system_vendor:HPE", "usb:174c:07d1"]`)
				hwScript(t, tx, "x710-by-name", "commissioning", "other", "[pci:8086:1572]")
				hwScript(t, tx, "plain", "commissioning", "firmware", "[]")
				hwScript(t, tx, "x710-test", "testing", "nic", `["modalias:pci:v00008086d00001572*"]`)
				hwScript(t, tx, "usb-test", "testing", "usb", "[usb:174c:07d1]")
				m, err = lifecycle.CreateMachine(tx, lifecycle.CreateOptions{Hostname: "hw", Architecture: "amd64",
					MACs: []string{"3c:fd:fe:00:00:02"}}, admin)
				if err != nil {
					return err
				}
				return lifecycle.StartCommissioning(tx, m, lifecycle.CommissionOptions{
					CommissioningScripts: []string{"firmware", "x710-by-name"}, TestingScripts: []string{"none"}}, admin)
			})
			hwNames := []string{"x710-firmware", "dell-bios", "hpe-bios", "x710-by-name", "plain"}
			if got, want := which(t, st, m.CurrentCommissioningSet, hwNames...), []string{"plain Pending"}; !slices.Equal(got, want) {
				t.Errorf("first commissioning, hardware unknown: %q; want %q", got, want)
			}

			// The modaliases show the X710: the script the commissioning asked for by tag is
			// added; the one asked for by name is not (upstream adds by the set's tags only).
			mods := "pci:v00008086d00001572sv00008086sd00000001bc02sc00i00\npci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00\n"
			id := setResults(t, st, m.CurrentCommissioningSet)[lifecycle.ModaliasesScript][0].ID
			m = signal(t, st, m, finished(lifecycle.ModaliasesScript, &id, 0, map[string]string{"": mods, ".out": mods}))
			if got, want := which(t, st, m.CurrentCommissioningSet, hwNames...), []string{"plain Pending", "x710-firmware Pending"}; !slices.Equal(got, want) {
				t.Errorf("after the modaliases: %q; want %q", got, want)
			}
			// The machine downloads the scripts again after the built-in ones: x710-firmware is listed.
			st.View(context.Background(), func(tx *store.Tx) error {
				fresh, err := tx.MachineByID(m.ID)
				if err != nil {
					t.Fatal(err)
				}
				ps, err := lifecycle.PendingScripts(tx, fresh)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.ContainsFunc(ps, func(p lifecycle.Pending) bool {
					return p.List == "commissioning_scripts" && p.Entry.Name == "x710-firmware" && !*p.Entry.HasStarted
				}) {
					t.Error("x710-firmware is not in the scripts the machine downloads")
				}
				return nil
			})

			// The inventory shows a Dell: dell-bios is added, once.
			resources, err := os.ReadFile("../../testdata/machines/two-socket-server/machine-resources.json")
			if err != nil {
				t.Fatal(err)
			}
			m = signal(t, st, m, finished(lifecycle.InventoryScript, nil, 0, map[string]string{".out": string(resources)}))
			m = signal(t, st, m, finished(lifecycle.ModaliasesScript, &id, 0, map[string]string{".out": mods}))
			want := []string{"dell-bios Pending", "plain Pending", "x710-firmware Pending"}
			if got := which(t, st, m.CurrentCommissioningSet, hwNames...); !slices.Equal(got, want) {
				t.Errorf("after the inventory: %q; want %q", got, want)
			}
			if got := events(t, st, m, "Commissioning"); !slices.ContainsFunc(got, func(e string) bool {
				return strings.Contains(e, "x710-firmware added")
			}) {
				t.Errorf("no event for the added script: %q", got)
			}

			// A machine that is not commissioning gets no scripts added.
			m = signal(t, st, m, wire.Signal{Status: wire.SignalOK})
			if m.Status != wire.NodeReady {
				t.Fatalf("after OK the machine is %s", m.Status.Label())
			}
			done := m.CurrentCommissioningSet

			// The next commissioning knows the hardware from the start: what matches is in,
			// by tag or by name; what does not is left out without a result.
			update(t, st, func(tx *store.Tx) error {
				fresh, err := tx.MachineByID(m.ID)
				if err != nil {
					return err
				}
				m = fresh
				return lifecycle.StartCommissioning(tx, m, lifecycle.CommissionOptions{
					CommissioningScripts: []string{"firmware", "x710-by-name"}, TestingScripts: []string{"nic", "usb"}}, admin)
			})
			want = []string{"dell-bios Pending", "plain Pending", "x710-by-name Pending", "x710-firmware Pending"}
			if got := which(t, st, m.CurrentCommissioningSet, hwNames...); !slices.Equal(got, want) {
				t.Errorf("second commissioning: %q; want %q", got, want)
			}
			if got, want := which(t, st, m.CurrentTestingSet, "x710-test", "usb-test"), []string{"x710-test Pending"}; !slices.Equal(got, want) {
				t.Errorf("second commissioning's tests: %q; want %q", got, want)
			}
			if got := which(t, st, done, hwNames...); !slices.Equal(got, []string{"dell-bios Aborted", "plain Aborted", "x710-firmware Aborted"}) {
				t.Errorf("the first commissioning after the second started: %q", got)
			}

			// Tests for hardware the machine lacks are not run; none left is an error. What is
			// known comes from the current commissioning, as upstream's Node.modaliases.
			id = setResults(t, st, m.CurrentCommissioningSet)[lifecycle.ModaliasesScript][0].ID
			m = signal(t, st, m, finished(lifecycle.ModaliasesScript, &id, 0, map[string]string{".out": mods}))
			m = signal(t, st, m, wire.Signal{Status: wire.SignalOK})
			update(t, st, func(tx *store.Tx) error {
				fresh, err := tx.MachineByID(m.ID)
				if err != nil {
					return err
				}
				err = lifecycle.StartTesting(tx, fresh, []string{"usb-test"}, nil, false, admin)
				if err == nil || !strings.Contains(err.Error(), "No testing scripts selected") {
					t.Errorf("testing usb-test on a machine without the device: %v", err)
				}
				if err := lifecycle.StartTesting(tx, fresh, []string{"usb", "nic"}, nil, false, admin); err != nil {
					return err
				}
				m = fresh
				return nil
			})
			if got, want := which(t, st, m.CurrentTestingSet, "x710-test", "usb-test"), []string{"x710-test Pending"}; !slices.Equal(got, want) {
				t.Errorf("testing: %q; want %q", got, want)
			}
		})
	}
}
