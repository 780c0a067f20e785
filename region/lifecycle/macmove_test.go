package lifecycle_test

import (
	"strings"
	"testing"

	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// TestInterfaceMovesToReporter: a machine whose commissioning reports NICs another machine
// holds takes them over, as upstream does; the other machine loses them, and both machines'
// events name the interface, its MAC and the other machine.
func TestInterfaceMovesToReporter(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			st := open(t, e)
			a, _ := netMachine(t, st, "mv-a", "a1", wire.NodeDeployed)
			b, _ := netMachine(t, st, "mv-b", "b1", wire.NodeDeployed)
			// b now reports a's eth0 (the card moved).
			f := netFacts()
			for k := range f.Interfaces {
				f.Interfaces[k].MACAddress = strings.Replace(f.Interfaces[k].MACAddress, "0a", "b1", 1)
			}
			f.Interfaces[0].MACAddress = "02:00:00:00:a1:00"
			update(t, st, func(tx *store.Tx) error {
				fresh, err := tx.MachineByID(b.ID)
				if err != nil {
					return err
				}
				if err := lifecycle.ApplyInventory(tx, fresh, f); err != nil {
					return err
				}
				return tx.UpdateMachine(fresh)
			})
			if got := interfacesByName(t, st, b)["eth0"].MACAddress; got != "02:00:00:00:a1:00" {
				t.Errorf("b's eth0: %q; want a's card", got)
			}
			for name, i := range interfacesByName(t, st, a) {
				if i.MACAddress == "02:00:00:00:a1:00" {
					t.Errorf("a still holds %s (%s)", name, i.MACAddress)
				}
			}
			if got := events(t, st, a, "Interface moved"); len(got) != 1 || !strings.Contains(got[0], "eth0 (02:00:00:00:a1:00) moved to mv-b") {
				t.Errorf("a's events: %q", got)
			}
			if got := events(t, st, b, "Interface moved"); len(got) != 1 || !strings.Contains(got[0], "eth0 (02:00:00:00:a1:00) moved here from mv-a") {
				t.Errorf("b's events: %q", got)
			}
		})
	}
}
