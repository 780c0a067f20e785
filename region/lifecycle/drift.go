package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"maasgo/collectors/schema"
	"maasgo/region/inventory"
	"maasgo/region/store"
	"maasgo/wire"
)

// HardwareChanges is what changed in a machine's hardware between two commissionings: the
// machine's hardware_changes and the answer of its hardware_changes op.
type HardwareChanges struct {
	// ScriptSetID is the commissioning the changes were found in; PreviousScriptSetID the
	// one it was compared with.
	ScriptSetID         int64 `json:"script_set_id"`
	PreviousScriptSetID int64 `json:"previous_script_set_id"`
	// Cause is "hardware" for a commissioning's comparison with the previous one, "parser"
	// for a re-parse of the same commissioning's snapshot (the hardware did not change; how
	// it is read did).
	Cause    string             `json:"cause"`
	Detected time.Time          `json:"detected"`
	Changes  []inventory.Change `json:"changes"`
}

// recordDrift compares the inventory a commissioning just reported with the machine's
// previous one and keeps the differences on the machine (which the caller saves), with an
// event when there are any. A first commissioning, or a previous inventory the region can no
// longer read, records nothing.
func recordDrift(tx *store.Tx, m *store.Machine, r *store.ScriptResult, doc *schema.Document) error {
	prev, err := tx.PreviousPassed(m.ID, wire.ResultCommissioning, InventoryScript, r.SetID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("read the previous inventory of %s: %w", m.SystemID, err)
	}
	// A previous inventory derived again by a newer parser stands in for what was sent, so
	// that what the parser changed is not taken for a change of the hardware.
	data, err := StoredInventory(tx, prev)
	if err != nil {
		return err
	}
	before, err := inventory.Parse(data)
	if err != nil {
		return nil
	}
	changes, err := inventory.Drift(before, doc)
	if err != nil {
		return nil
	}
	if changes == nil {
		changes = []inventory.Change{}
	}
	hc := HardwareChanges{ScriptSetID: r.SetID, PreviousScriptSetID: prev.SetID, Cause: "hardware", Detected: time.Now().UTC().Truncate(time.Second), Changes: changes}
	if m.HardwareChanges, err = json.Marshal(hc); err != nil {
		return fmt.Errorf("encode the hardware changes of %s: %w", m.SystemID, err)
	}
	if len(changes) == 0 {
		return nil
	}
	return tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Hardware changed", Level: "WARNING",
		Description: driftSummary(changes, "hardware", "since the previous commissioning")})
}

// driftSummary says what changed in one line: the first five changes and how many more.
func driftSummary(changes []inventory.Change, what, since string) string {
	parts := make([]string, 0, 6)
	for i, c := range changes {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(changes)-5))
			break
		}
		parts = append(parts, c.String())
	}
	noun := "changes"
	if len(changes) == 1 {
		noun = "change"
	}
	return fmt.Sprintf("%d %s %s %s: %s", len(changes), what, noun, since, strings.Join(parts, "; "))
}

// ApplyReparsed gives m (which the caller saves) the inventory derived again from the
// hardware snapshot of its commissioning set by a newer parser, standing in for what the
// inventory result inv sent: its facts, the differences as hardware_changes caused by the
// parser, and an event. doc is the new document as JSON, parsed its decoding.
func ApplyReparsed(tx *store.Tx, m *store.Machine, inv *store.ScriptResult, doc []byte, parsed *schema.Document, changes []inventory.Change, now time.Time) error {
	facts, err := inventory.FromDocument(parsed)
	if err != nil {
		return fmt.Errorf("re-parsed inventory of %s: %w", m.SystemID, err)
	}
	if err := ApplyInventory(tx, m, facts); err != nil {
		return err
	}
	if err := tx.PutReparsedInventory(inv.ID, doc, now); err != nil {
		return err
	}
	hc := HardwareChanges{ScriptSetID: inv.SetID, PreviousScriptSetID: inv.SetID, Cause: "parser", Detected: now.UTC().Truncate(time.Second), Changes: changes}
	if m.HardwareChanges, err = json.Marshal(hc); err != nil {
		return fmt.Errorf("encode the hardware changes of %s: %w", m.SystemID, err)
	}
	return tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Inventory re-parsed",
		Description: driftSummary(changes, "inventory", "from reading the hardware snapshot again (the parser changed, not the hardware)")})
}

// StoredInventory is the inventory an inventory result stands for: the one a newer parser
// derived again from its commissioning's snapshot (ApplyReparsed), else what the result sent.
// r's output is read when r was loaded without it.
func StoredInventory(tx *store.Tx, r *store.ScriptResult) ([]byte, error) {
	data, ok, err := tx.ReparsedInventory(r.ID)
	if err != nil || ok {
		return data, err
	}
	if !r.HasOutput {
		if r, err = tx.ScriptResultByID(r.ID, true); err != nil {
			return nil, err
		}
	}
	return ResultOutput(r), nil
}
