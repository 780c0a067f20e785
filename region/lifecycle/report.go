package lifecycle

import (
	"fmt"
	"slices"
	"strings"

	"maasgo/region/store"
	"maasgo/wire"
)

// KVMHostTag marks machines deployed with install_kvm once their deployment finished.
const KVMHostTag = "kvm-host"

// EndDeployment marks a deploying machine Deployed: it has booted its installed system.
func EndDeployment(tx *store.Tx, m *store.Machine) error {
	if m.Status != wire.NodeDeploying {
		return nil
	}
	if err := SetStatus(m, wire.NodeDeployed); err != nil {
		return err
	}
	m.PowerState = "on"
	desc := "deployment finished"
	if m.InstallKVM {
		// Deployed with install_kvm: the machine is now a KVM host, marked by its tag.
		if !slices.Contains(m.Tags, KVMHostTag) {
			m.Tags = append(m.Tags, KVMHostTag)
		}
		desc += "; the machine is a KVM host"
	}
	if err := tx.UpdateMachine(m); err != nil {
		return err
	}
	return tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Deployed", Description: desc})
}

// Event is a cloud-init or curtin reporting event sent to the status webhook.
type Event struct {
	Type        string // start, progress, finish
	Origin      string
	Name        string // slash path; no slash = top level
	Description string
	Failed      bool
	Files       map[string][]byte
}

// ReportEvent applies a reporting event: its files become script results as signals' do,
// with exit status 1 when the event failed; a top-level failure fails a commissioning or a
// deployment; the final cloud-init stage of a deploying machine finishes its deployment.
func ReportEvent(tx *store.Tx, m *store.Machine, ev Event, sig *Signals) error {
	if err := tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Node " + ev.Type, Level: "DEBUG",
		Description: strings.TrimSpace(fmt.Sprintf("%s: %s", ev.Name, ev.Description))}); err != nil {
		return err
	}
	if len(ev.Files) > 0 {
		exit := 0
		if ev.Failed {
			exit = 1
		}
		if err := sig.Process(tx, m, wire.Signal{Status: wire.SignalWorking, ExitStatus: &exit, Files: wire.SignalFiles(ev.Files)}); err != nil {
			return err
		}
	}
	topLevel := !strings.Contains(ev.Name, "/")
	if ev.Type != "finish" {
		return nil
	}
	switch {
	case ev.Failed && topLevel && m.Status == wire.NodeCommissioning:
		return failWith(tx, m, wire.NodeFailedCommissioning, "commissioning failed: "+ev.Description)
	case ev.Failed && topLevel && m.Status == wire.NodeDeploying:
		return failWith(tx, m, wire.NodeFailedDeployment, "installation failed: "+ev.Description)
	case !ev.Failed && ev.Name == "modules-final" && m.Status == wire.NodeDeploying:
		return EndDeployment(tx, m)
	}
	return nil
}

func failWith(tx *store.Tx, m *store.Machine, to wire.NodeStatus, reason string) error {
	from := m.Status
	if err := SetStatus(m, to); err != nil {
		return err
	}
	if err := abortUnfinished(tx, currentSets(m)); err != nil {
		return err
	}
	m.ErrorDescription = reason
	if err := tx.UpdateMachine(m); err != nil {
		return err
	}
	return tx.AddEvent(&store.Event{NodeID: m.ID, Type: to.Label(), Level: "ERROR", Description: fmt.Sprintf("%s → %s: %s", from.Label(), to.Label(), reason)})
}
