package lifecycle

// This file applies what maas-lldp-neighbours reports: the LLDP neighbours (switch, port,
// VLAN) the agent heard on each interface become the interfaces' neighbours.

import (
	"fmt"
	"slices"

	"maasgo/region/store"
	"maasgo/wire"
)

// NeighboursScript is the commissioning script whose output (wire.Neighbours as JSON) names
// each interface's LLDP neighbours.
const NeighboursScript = "maas-lldp-neighbours"

// applyNeighbours stores the neighbours a passed maas-lldp-neighbours result reports: each
// interface of the machine gets those listed under its name, an interface the output does
// not name gets none. An output the region cannot read fails the result and says why in an
// event.
func applyNeighbours(tx *store.Tx, m *store.Machine, r *store.ScriptResult, out []byte) error {
	doc, err := wire.DecodeNeighbours(out)
	if err != nil {
		return unusable(tx, m, r, "the neighbours", err)
	}
	n, err := storeNeighbours(tx, m, doc)
	if err != nil {
		return err
	}
	return tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Neighbours",
		Description: fmt.Sprintf("LLDP neighbours heard on %d of %d interfaces", n, len(doc.Interfaces))})
}

// storeNeighbours gives every interface of m the neighbours doc lists under its name and
// reports on how many interfaces some were heard.
func storeNeighbours(tx *store.Tx, m *store.Machine, doc *wire.Neighbours) (int, error) {
	all, err := tx.Interfaces(m.ID)
	if err != nil {
		return 0, err
	}
	heard := 0
	for _, i := range all[m.ID] {
		nb := doc.Interfaces[i.Name]
		if len(nb) > 0 {
			heard++
		}
		if slices.EqualFunc(i.Neighbours, nb, sameNeighbour) {
			continue
		}
		i.Neighbours = nb
		if err := tx.UpdateInterface(&i); err != nil {
			return 0, err
		}
	}
	return heard, nil
}

func sameNeighbour(a, b wire.Neighbour) bool {
	return a.ChassisID == b.ChassisID && a.ChassisIDType == b.ChassisIDType && a.PortID == b.PortID &&
		a.PortIDType == b.PortIDType && a.PortDescription == b.PortDescription && a.SystemName == b.SystemName &&
		a.SystemDesc == b.SystemDesc && a.VLAN == b.VLAN && a.TTL == b.TTL &&
		slices.Equal(a.ManagementAddresses, b.ManagementAddresses)
}

// reapplyNeighbours stores again the neighbours of the current commissioning run's passed
// maas-lldp-neighbours result, if it has one, after the inventory created or renamed
// interfaces: the two results may arrive in either order.
func reapplyNeighbours(tx *store.Tx, m *store.Machine) error {
	if m.CurrentCommissioningSet == nil {
		return nil
	}
	rs, err := tx.ScriptResults([]int64{*m.CurrentCommissioningSet}, false)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.ScriptName != NeighboursScript || r.Status != wire.ScriptPassed {
			continue
		}
		full, err := tx.ScriptResultByID(r.ID, true)
		if err != nil {
			return err
		}
		doc, err := wire.DecodeNeighbours(ResultOutput(full))
		if err != nil {
			return nil // it passed, so it was read when it arrived
		}
		_, err = storeNeighbours(tx, m, doc)
		return err
	}
	return nil
}

// ResultOutput is what a result printed: its stdout, or its combined output when the
// machine sent no stdout.
func ResultOutput(r *store.ScriptResult) []byte {
	if len(r.Stdout) > 0 {
		return r.Stdout
	}
	return r.Output
}
