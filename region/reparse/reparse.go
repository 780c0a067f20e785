// Package reparse derives a machine's inventory again from the raw hardware snapshot its
// last commissioning sent (50-maas-02-hardware-snapshot.tar.xz), with this region's
// collectors, so that a parser fix reaches the fleet without recommissioning. What the new
// parse changes is recorded as changes caused by the parser, not the hardware.
package reparse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"maasgo/collectors"
	"maasgo/collectors/schema"
	"maasgo/region/inventory"
	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/wire"
)

// SnapshotScript is the built-in script whose output is the hardware snapshot.
const SnapshotScript = "50-maas-02-hardware-snapshot.tar.xz"

// maxUnpacked bounds the files one snapshot may unpack to on the region's disk.
const maxUnpacked = 256 << 20

// Report is what a re-parse of one machine found and did.
type Report struct {
	SystemID    string             `json:"system_id"`
	ScriptSetID int64              `json:"script_set_id,omitempty"`
	Applied     bool               `json:"applied"` // the inventory changed and the machine has the new one
	Changes     []inventory.Change `json:"changes"`
	Note        string             `json:"note,omitempty"` // why nothing was re-parsed
}

// Reparser re-parses snapshots one at a time, unpacking each into a new directory under
// TempDir (the system's when empty) that it removes after.
type Reparser struct {
	Store   *store.Store
	TempDir string
	Log     *slog.Logger
	Now     func() time.Time
	mu      sync.Mutex
}

func (p *Reparser) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Machine re-parses the snapshot of the machine's current commissioning and applies the new
// inventory when it differs from the one the machine has.
func (p *Reparser) Machine(ctx context.Context, systemID string) (*Report, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rep := &Report{SystemID: systemID, Changes: []inventory.Change{}}
	var snap, inv *store.ScriptResult
	var stored []byte
	err := p.Store.View(ctx, func(tx *store.Tx) error {
		m, err := tx.MachineBySystemID(systemID)
		if err != nil {
			return err
		}
		if m.Status == wire.NodeCommissioning {
			rep.Note = "the machine is commissioning: re-parse it once it is done"
			return nil
		}
		if m.CurrentCommissioningSet == nil {
			rep.Note = "the machine was never commissioned"
			return nil
		}
		rep.ScriptSetID = *m.CurrentCommissioningSet
		rs, err := tx.ScriptResults([]int64{rep.ScriptSetID}, false)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r.Status != wire.ScriptPassed {
				continue
			}
			switch r.ScriptName {
			case SnapshotScript:
				if snap, err = tx.ScriptResultByID(r.ID, true); err != nil {
					return err
				}
			case lifecycle.InventoryScript:
				if inv, err = tx.ScriptResultByID(r.ID, true); err != nil {
					return err
				}
			}
		}
		if inv == nil {
			return nil
		}
		stored, err = lifecycle.StoredInventory(tx, inv)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("re-parse %s: %w", systemID, err)
	}
	switch {
	case rep.Note != "":
		return rep, nil
	case inv == nil:
		rep.Note = "its last commissioning sent no inventory"
		return rep, nil
	case snap == nil || len(lifecycle.ResultOutput(snap)) == 0:
		rep.Note = "its last commissioning sent no hardware snapshot (a runner other than maas-run-scripts, or an older one)"
		return rep, nil
	}
	before, err := inventory.Parse(stored)
	if err != nil {
		rep.Note = fmt.Sprintf("its stored inventory cannot be read: %v", err)
		return rep, nil
	}
	doc, data, err := p.derive(ctx, lifecycle.ResultOutput(snap), before)
	if err != nil {
		return nil, fmt.Errorf("re-parse %s: %w", systemID, err)
	}
	changes, err := inventory.Drift(before, doc)
	if err != nil {
		return nil, fmt.Errorf("re-parse %s: %w", systemID, err)
	}
	if len(changes) == 0 {
		return rep, nil
	}
	rep.Changes = changes
	err = p.Store.Update(ctx, func(tx *store.Tx) error {
		m, err := tx.MachineBySystemID(systemID)
		if err != nil {
			return err
		}
		if m.CurrentCommissioningSet == nil || *m.CurrentCommissioningSet != rep.ScriptSetID || m.Status == wire.NodeCommissioning {
			return errCommissioned
		}
		if err := lifecycle.ApplyReparsed(tx, m, inv, data, doc, changes, p.now()); err != nil {
			return err
		}
		return tx.UpdateMachine(m)
	})
	if errors.Is(err, errCommissioned) {
		rep.Note = "the machine was commissioned again while its snapshot was read: nothing applied"
		return rep, nil
	}
	if err != nil {
		return nil, fmt.Errorf("re-parse %s: %w", systemID, err)
	}
	rep.Applied = true
	return rep, nil
}

var errCommissioned = errors.New("commissioned again")

// derive runs the collectors over the unpacked snapshot and keeps what the commissioning
// script added to the document (storage-extra, machine-extra).
func (p *Reparser) derive(ctx context.Context, snapshot []byte, before *schema.Document) (*schema.Document, []byte, error) {
	dir, err := os.MkdirTemp(p.TempDir, "maas-reparse-")
	if err != nil {
		return nil, nil, fmt.Errorf("unpack the snapshot: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := collectors.UnpackSnapshotLimit(bytes.NewReader(snapshot), dir, maxUnpacked); err != nil {
		return nil, nil, fmt.Errorf("unpack the snapshot: %w", err)
	}
	log := p.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	doc := collectors.Collect(ctx, collectors.RootsAt(dir), collectors.ReplaySeams(dir), nil, log)
	doc.StorageExtra, doc.MachineExtra = before.StorageExtra, before.MachineExtra
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, nil, fmt.Errorf("encode the re-parsed inventory: %w", err)
	}
	parsed, err := inventory.Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("the re-parsed inventory: %w", err)
	}
	return parsed, data, nil
}
