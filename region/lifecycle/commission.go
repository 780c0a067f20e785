package lifecycle

import (
	"maasgo/region/store"
	"maasgo/wire"
)

// CommissionOptions select what a commissioning runs.
type CommissionOptions struct {
	// CommissioningScripts are names or tags of scripts to run besides the built-in ones.
	CommissioningScripts []string
	// TestingScripts are names or tags of tests to run afterwards; ["none"] runs none.
	TestingScripts []string
	EnableSSH      bool
	SkipNetworking bool
	SkipStorage    bool
}

// StartCommissioning moves m to COMMISSIONING.
func StartCommissioning(tx *store.Tx, m *store.Machine, opts CommissionOptions, by *store.User) error {
	if err := SetStatus(m, wire.NodeCommissioning); err != nil {
		return err
	}
	m.EnableSSH, m.SkipNetworking, m.SkipStorage = opts.EnableSSH, opts.SkipNetworking, opts.SkipStorage
	m.ErrorDescription = ""
	if err := tx.UpdateMachine(m); err != nil {
		return err
	}
	return tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Commissioning", Description: "started by " + username(by), Username: username(by)})
}
