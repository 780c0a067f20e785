package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"maasgo/region/config"
	"maasgo/region/store"
	"maasgo/wire"
)

// ScriptTimeoutGrace is how long past its timeout a running script may go before the region
// marks it timed out. It matches the runner's upstream grace, so a runner that honours the
// timeout as written reports first.
const ScriptTimeoutGrace = 5 * time.Minute

// busy are the statuses in which a machine must keep reporting, with the status it fails to.
var busy = map[wire.NodeStatus]wire.NodeStatus{
	wire.NodeCommissioning: wire.NodeFailedCommissioning,
	wire.NodeTesting:       wire.NodeFailedTesting,
	wire.NodeDeploying:     wire.NodeFailedDeployment,
	wire.NodeDiskErasing:   wire.NodeFailedDiskErasing,
}

// CheckTimeouts fails the machines that stopped reporting and the scripts that ran past their
// timeout (upstream's status monitor): a busy machine whose current set has not pinged for
// node_timeout (or that never reported before its status expired) fails, its running results
// become TIMEDOUT and its pending ones ABORTED; a RUNNING result past started + timeout +
// grace becomes TIMEDOUT and fails its machine. A running may_reboot script extends the wait.
// It returns the system ids of the machines it failed.
func CheckTimeouts(tx *store.Tx, now time.Time, grace time.Duration) ([]string, error) {
	timeout, err := config.NodeTimeout(tx)
	if err != nil {
		return nil, err
	}
	var statuses []wire.NodeStatus
	for s := range busy {
		statuses = append(statuses, s)
	}
	ms, err := tx.Machines(store.MachineFilter{Statuses: statuses})
	if err != nil {
		return nil, err
	}
	var failed []string
	for i := range ms {
		m := &ms[i]
		reason, err := silence(tx, m, now, timeout)
		if err != nil {
			return nil, err
		}
		if reason == "" {
			continue
		}
		if err := failMachine(tx, m, reason); err != nil {
			return nil, err
		}
		failed = append(failed, m.SystemID)
	}

	running, err := tx.RunningResults()
	if err != nil {
		return nil, err
	}
	for i := range running {
		r := &running[i]
		if r.ScriptID == nil || r.Started == nil {
			continue
		}
		s, err := tx.ScriptByID(*r.ScriptID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		limit := s.Timeout
		if rt := runtimeParam(r); rt > 0 {
			limit = rt
		}
		if limit <= 0 || now.Before(r.Started.Add(limit+grace)) {
			continue
		}
		set, err := tx.ScriptSetByID(r.SetID)
		if err != nil {
			return nil, err
		}
		m, err := tx.MachineByID(set.NodeID)
		if err != nil {
			return nil, err
		}
		r.Status = wire.ScriptTimedOut
		end := now
		r.Ended = &end
		if err := tx.UpdateScriptResult(r); err != nil {
			return nil, err
		}
		reason := fmt.Sprintf("%s ran past its timeout of %s", r.ScriptName, wire.FormatTimedelta(limit))
		if err := tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Script timed out", Level: "ERROR", Description: reason}); err != nil {
			return nil, err
		}
		if _, ok := busy[m.Status]; ok {
			if err := failMachine(tx, m, reason); err != nil {
				return nil, err
			}
			failed = append(failed, m.SystemID)
		}
	}
	return failed, nil
}

// silence says why a busy machine is overdue, or "" when it is not. The clock starts when the
// set began (the status began) and restarts at every signal; node_timeout is read now, so a
// change applies to machines already busy.
func silence(tx *store.Tx, m *store.Machine, now time.Time, timeout time.Duration) (string, error) {
	setID := setFor(m)
	if setID == nil {
		return "", nil
	}
	set, err := tx.ScriptSetByID(*setID)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	ref, what := set.Created, "report"
	if set.LastPing != nil {
		ref, what = *set.LastPing, "report again"
	}
	if now.Sub(ref) <= timeout {
		return "", nil
	}
	rs, err := tx.ScriptResults([]int64{*setID}, false)
	if err != nil {
		return "", err
	}
	for _, r := range rs {
		if !r.Status.Running() || r.ScriptID == nil {
			continue
		}
		if s, err := tx.ScriptByID(*r.ScriptID); err == nil && s.MayReboot {
			return "", nil // it may be rebooting: wait for it
		}
	}
	return fmt.Sprintf("Machine did not %s within node_timeout (%d minutes) while %s", what, int(timeout/time.Minute),
		strings.ToLower(m.Status.Label())), nil
}

// failMachine moves a busy machine to its failed status: running results become TIMEDOUT,
// pending ones ABORTED.
func failMachine(tx *store.Tx, m *store.Machine, reason string) error {
	to, ok := busy[m.Status]
	if !ok {
		return nil
	}
	rs, err := tx.ScriptResults(currentSets(m), false)
	if err != nil {
		return err
	}
	now := time.Now()
	for i := range rs {
		r := &rs[i]
		switch {
		case r.Status.Running():
			r.Status = wire.ScriptTimedOut
		case r.Status == wire.ScriptPending:
			r.Status = wire.ScriptAborted
		default:
			continue
		}
		r.Ended = &now
		if err := tx.UpdateScriptResult(r); err != nil {
			return err
		}
	}
	from := m.Status
	if err := SetStatus(m, to); err != nil {
		return err
	}
	m.ErrorDescription = reason
	if err := tx.UpdateMachine(m); err != nil {
		return err
	}
	return tx.AddEvent(&store.Event{NodeID: m.ID, Type: to.Label(), Level: "ERROR",
		Description: fmt.Sprintf("%s → %s: %s", from.Label(), to.Label(), reason)})
}

// runtimeParam is a result's runtime parameter, which overrides the script's timeout.
func runtimeParam(r *store.ScriptResult) time.Duration {
	params := map[string]wire.ResolvedParam{}
	if err := json.Unmarshal(r.Parameters, &params); err != nil {
		return 0
	}
	for _, p := range params {
		if p.Type == "runtime" {
			if f, ok := p.Value.(float64); ok && f > 0 {
				return time.Duration(f * float64(time.Second))
			}
		}
	}
	return 0
}
