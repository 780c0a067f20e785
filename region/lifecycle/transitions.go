// Package lifecycle moves machines through their states: the allowed transitions, and the
// operations (allocate, deploy, release, commission, abort) that change a machine, its owner
// and its events inside one store transaction.
package lifecycle

import (
	"fmt"

	"maasgo/region/store"
	"maasgo/wire"
)

// transitions lists, for each status, the statuses a machine may move to
// (upstream's NODE_TRANSITIONS, the parts this region drives).
var transitions = map[wire.NodeStatus][]wire.NodeStatus{
	wire.NodeNew: {wire.NodeCommissioning, wire.NodeMissing, wire.NodeReady, wire.NodeRetired, wire.NodeBroken,
		wire.NodeEnteringRescueMode, wire.NodeTesting},
	wire.NodeCommissioning: {wire.NodeFailedCommissioning, wire.NodeReady, wire.NodeRetired, wire.NodeMissing,
		wire.NodeBroken, wire.NodeNew, wire.NodeTesting},
	wire.NodeFailedCommissioning: {wire.NodeCommissioning, wire.NodeMissing, wire.NodeRetired, wire.NodeBroken,
		wire.NodeEnteringRescueMode, wire.NodeTesting},
	wire.NodeReady: {wire.NodeCommissioning, wire.NodeAllocated, wire.NodeReserved, wire.NodeRetired,
		wire.NodeMissing, wire.NodeBroken, wire.NodeEnteringRescueMode, wire.NodeTesting, wire.NodeDeploying},
	wire.NodeReserved: {wire.NodeReady, wire.NodeAllocated, wire.NodeRetired, wire.NodeMissing, wire.NodeBroken,
		wire.NodeEnteringRescueMode, wire.NodeTesting},
	wire.NodeAllocated: {wire.NodeReady, wire.NodeRetired, wire.NodeDeploying, wire.NodeMissing, wire.NodeBroken,
		wire.NodeReleasing, wire.NodeDiskErasing, wire.NodeEnteringRescueMode, wire.NodeTesting},
	wire.NodeDeploying: {wire.NodeAllocated, wire.NodeDeployed, wire.NodeRetired, wire.NodeMissing, wire.NodeBroken,
		wire.NodeFailedDeployment, wire.NodeReleasing, wire.NodeDiskErasing, wire.NodeReady},
	wire.NodeFailedDeployment: {wire.NodeAllocated, wire.NodeMissing, wire.NodeBroken, wire.NodeReleasing, wire.NodeDiskErasing,
		wire.NodeReady, wire.NodeDeploying, wire.NodeEnteringRescueMode, wire.NodeTesting, wire.NodeCommissioning},
	// Commissioning a deployed machine recommissions it: an operator's explicit choice to boot
	// the running workload's machine into the ephemeral environment (upstream refuses it).
	wire.NodeDeployed: {wire.NodeAllocated, wire.NodeMissing, wire.NodeBroken, wire.NodeDiskErasing,
		wire.NodeReleasing, wire.NodeEnteringRescueMode, wire.NodeReady, wire.NodeTesting, wire.NodeCommissioning},
	wire.NodeMissing: {wire.NodeNew, wire.NodeReady, wire.NodeAllocated, wire.NodeBroken, wire.NodeRetired},
	wire.NodeRetired: {wire.NodeNew, wire.NodeReady, wire.NodeBroken, wire.NodeMissing},
	wire.NodeBroken: {wire.NodeCommissioning, wire.NodeReady, wire.NodeDeployed, wire.NodeMissing, wire.NodeRetired,
		wire.NodeEnteringRescueMode, wire.NodeTesting},
	wire.NodeReleasing: {wire.NodeReady, wire.NodeBroken, wire.NodeMissing, wire.NodeFailedReleasing,
		wire.NodeDiskErasing},
	wire.NodeFailedReleasing:   {wire.NodeReady, wire.NodeBroken, wire.NodeMissing, wire.NodeReleasing, wire.NodeDiskErasing},
	wire.NodeDiskErasing:       {wire.NodeReady, wire.NodeFailedDiskErasing, wire.NodeBroken, wire.NodeMissing},
	wire.NodeFailedDiskErasing: {wire.NodeDiskErasing, wire.NodeReady, wire.NodeBroken, wire.NodeMissing},
	wire.NodeTesting: {wire.NodeFailedTesting, wire.NodeReady, wire.NodeNew, wire.NodeDeployed, wire.NodeAllocated,
		wire.NodeBroken, wire.NodeMissing, wire.NodeCommissioning},
	wire.NodeFailedTesting: {wire.NodeTesting, wire.NodeCommissioning, wire.NodeReady, wire.NodeBroken,
		wire.NodeMissing, wire.NodeRetired, wire.NodeDeployed},
	wire.NodeRescueMode:               {wire.NodeExitingRescueMode, wire.NodeBroken, wire.NodeMissing},
	wire.NodeEnteringRescueMode:       {wire.NodeRescueMode, wire.NodeFailedEnteringRescueMode, wire.NodeBroken},
	wire.NodeFailedEnteringRescueMode: {wire.NodeEnteringRescueMode, wire.NodeReady, wire.NodeBroken},
	wire.NodeExitingRescueMode:        {wire.NodeReady, wire.NodeDeployed, wire.NodeBroken, wire.NodeFailedExitingRescueMode},
	wire.NodeFailedExitingRescueMode:  {wire.NodeExitingRescueMode, wire.NodeBroken},
}

// Allowed reports whether a machine may move from one status to another.
func Allowed(from, to wire.NodeStatus) bool {
	if from == to {
		return true
	}
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// StateError says an operation is not allowed in the machine's current state; the API answers
// it with 409 and the message.
type StateError struct{ Msg string }

func (e *StateError) Error() string { return e.Msg }

// StateErrorf makes a StateError.
func StateErrorf(format string, args ...any) error {
	return &StateError{Msg: fmt.Sprintf(format, args...)}
}

// SetStatus moves m to status to, checking the transition, and keeps the previous status.
// Testing that fails keeps the status the machine had before its tests, which an override
// goes back to; testing a deployed machine again after a failure keeps Deployed too, which
// the machine goes back to when the tests pass or are aborted.
// A New or Ready machine has no owner: whoever commissioned or tested it owned it only
// meanwhile, as upstream. The caller saves m.
func SetStatus(m *store.Machine, to wire.NodeStatus) error {
	if !Allowed(m.Status, to) {
		return StateErrorf("Machine %s cannot go from %s to %s.", m.Hostname, m.Status.Label(), to.Label())
	}
	keep := (m.Status == wire.NodeTesting && to == wire.NodeFailedTesting) ||
		(m.Status == wire.NodeFailedTesting && to == wire.NodeTesting && m.PreviousStatus == wire.NodeDeployed)
	if m.Status != to {
		if !keep {
			m.PreviousStatus = m.Status
		}
		m.Status = to
	}
	if to == wire.NodeNew || to == wire.NodeReady {
		m.OwnerID, m.Owner = nil, ""
	}
	return nil
}

// claim makes by the owner of an unowned machine while it is commissioned or tested, so that
// other users may not abort or change it meanwhile (upstream does the same).
func claim(m *store.Machine, by *store.User) {
	if m.OwnerID == nil && by != nil {
		m.OwnerID, m.Owner = &by.ID, by.Username
	}
}

// Abort stops a commissioning, a test, a deployment or a disk erasing: the machine returns to
// where it was before (Allocated for a deployment, Failed disk erasing for an erasing, which
// keeps its owner) and the unfinished results become ABORTED.
func Abort(tx *store.Tx, m *store.Machine, by *store.User, comment string) error {
	var to wire.NodeStatus
	switch m.Status {
	case wire.NodeCommissioning, wire.NodeTesting:
		to = m.PreviousStatus
		if to == m.Status || to == wire.NodeCommissioning || to == wire.NodeTesting {
			to = wire.NodeNew
		}
		if !Allowed(m.Status, to) {
			to = wire.NodeNew
			if m.Status == wire.NodeTesting {
				to = wire.NodeReady
			}
		}
	case wire.NodeDeploying:
		to = wire.NodeAllocated
	case wire.NodeDiskErasing:
		to = wire.NodeFailedDiskErasing // upstream's abort_disk_erasing
	default:
		return StateErrorf("Cannot abort %s: only commissioning, testing, deploying or disk erasing can be aborted, and the machine is %s.", m.Hostname, m.Status.Label())
	}
	if err := abortUnfinished(tx, currentSets(m)); err != nil {
		return err
	}
	from := m.Status
	if err := SetStatus(m, to); err != nil {
		return err
	}
	if err := tx.UpdateMachine(m); err != nil {
		return err
	}
	desc := fmt.Sprintf("%s aborted by %s, back to %s", from.Label(), username(by), to.Label())
	if comment != "" {
		desc += ": " + comment
	}
	return tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Aborted", Description: desc, Username: username(by)})
}

// OverrideFailedTesting lets a machine whose tests failed be used (upstream's
// override_failed_testing): it goes back to Deployed when it was tested deployed, otherwise
// to Ready. The failed results stay as they are (suppress them to hide them); the event
// names who overrode the tests and why.
func OverrideFailedTesting(tx *store.Tx, m *store.Machine, by *store.User, comment string) error {
	if m.Status != wire.NodeFailedTesting {
		return StateErrorf("Cannot override failed testing of %s: the machine is %s; only a machine in Failed testing can be.", m.Hostname, m.Status.Label())
	}
	to := wire.NodeReady
	// Machines that failed before the previous status was kept through testing have Testing
	// there; for them, as upstream, a deployed operating system means Deployed.
	if m.PreviousStatus == wire.NodeDeployed || (m.PreviousStatus == wire.NodeTesting && m.OSystem != "") {
		to = wire.NodeDeployed
	}
	if err := SetStatus(m, to); err != nil {
		return err
	}
	m.ErrorDescription = ""
	if err := tx.UpdateMachine(m); err != nil {
		return err
	}
	desc := fmt.Sprintf("failed testing overridden by %s, now %s", username(by), to.Label())
	if comment != "" {
		desc += ": " + comment
	}
	return tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Overrode failed testing", Level: "WARNING", Description: desc, Username: username(by)})
}
