package lifecycle

import (
	"fmt"
	"strings"
	"time"

	"maasgo/region/inventory"
	"maasgo/region/store"
	"maasgo/wire"
)

// ProfileResult names the result the region adds to a commissioning whose machine has an
// expected hardware profile: passed when the inventory matches it, failed (which fails the
// commissioning unless suppressed) naming each mismatch.
const ProfileResult = "hardware-profile"

// checkProfile compares the inventory inv just reported with the machine's expected profile,
// if it has one, and records the outcome as the hardware-profile result of inv's set.
func checkProfile(tx *store.Tx, m *store.Machine, inv *store.ScriptResult, facts *inventory.Facts) error {
	hp, err := tx.HardwareProfileOf(m)
	if err != nil || hp == nil {
		return err
	}
	src := "the machine's own profile"
	if hp.Tag != "" {
		src = "the profile of tag " + hp.Tag
	}
	var out strings.Builder
	status, exit := wire.ScriptPassed, 0
	p, err := inventory.ParseProfile([]byte(hp.Profile))
	if err != nil {
		status, exit = wire.ScriptFailed, 2
		fmt.Fprintf(&out, "%s cannot be used: %v\n", src, err)
	} else if miss := p.Check(facts); len(miss) > 0 {
		status, exit = wire.ScriptFailed, 1
		fmt.Fprintf(&out, "The hardware does not match %s:\n", src)
		for _, s := range miss {
			fmt.Fprintf(&out, "  %s\n", s)
		}
	} else {
		fmt.Fprintf(&out, "The hardware matches %s.\n", src)
	}
	fmt.Fprintf(&out, "\n%s", hp.Profile)
	now := time.Now()
	rs, err := tx.ScriptResults([]int64{inv.SetID}, false)
	if err != nil {
		return err
	}
	r := &store.ScriptResult{SetID: inv.SetID, ScriptName: ProfileResult}
	for i := range rs {
		if rs[i].ScriptName == ProfileResult {
			r = &rs[i]
		}
	}
	text := []byte(out.String())
	r.Status, r.ExitStatus, r.Started, r.Ended = status, &exit, &now, &now
	r.Output, r.Stdout, r.Stderr, r.Result, r.HasOutput = text, text, nil, nil, true
	if r.ID == 0 {
		err = tx.CreateScriptResult(r)
	} else {
		err = tx.UpdateScriptResult(r)
	}
	if err != nil || status == wire.ScriptPassed {
		return err
	}
	return tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Hardware profile mismatch", Level: "WARNING",
		Description: strings.TrimSpace(strings.SplitN(out.String(), "\n\n", 2)[0])})
}

// ProfileOfMachine is the profile of a commissioned machine as it is (inventory.ProfileOf of
// its last inventory): to expect of machines like it.
func ProfileOfMachine(tx *store.Tx, m *store.Machine) (*inventory.Profile, error) {
	if m.CurrentCommissioningSet == nil {
		return nil, fmt.Errorf("%s was never commissioned: its hardware is unknown", m.Hostname)
	}
	rs, err := tx.ScriptResults([]int64{*m.CurrentCommissioningSet}, false)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if r.ScriptName != InventoryScript || r.Status != wire.ScriptPassed {
			continue
		}
		data, err := StoredInventory(tx, &r)
		if err != nil {
			return nil, err
		}
		facts, err := inventory.FromJSON(data)
		if err != nil {
			return nil, fmt.Errorf("the inventory of %s: %w", m.Hostname, err)
		}
		return inventory.ProfileOf(facts), nil
	}
	return nil, fmt.Errorf("%s's last commissioning sent no inventory", m.Hostname)
}
