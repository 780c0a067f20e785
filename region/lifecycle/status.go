package lifecycle

import (
	"maasgo/region/store"
	"maasgo/wire"
)

// OverallStatus summarises results as upstream's get_overall_status: running beats pending
// beats aborted beats failures beats degraded beats passed; suppressed results are ignored;
// no results is -1.
func OverallStatus(rs []store.ScriptResult) int {
	ts := make([]store.ResultTally, len(rs))
	for i, r := range rs {
		ts[i] = store.ResultTally{Status: r.Status, Suppressed: r.Suppressed, Count: 1}
	}
	return TallyStatus(ts)
}

// TallyStatus is OverallStatus from tallies of results (store.Tx.ResultTallies) rather than
// the results themselves.
func TallyStatus(ts []store.ResultTally) int {
	if len(ts) == 0 {
		return -1
	}
	has := map[wire.ScriptStatus]bool{}
	for _, t := range ts {
		if !t.Suppressed {
			has[t.Status] = true
		}
	}
	switch {
	case has[wire.ScriptRunning] || has[wire.ScriptApplyingNetconf] || has[wire.ScriptInstalling]:
		return int(wire.ScriptRunning)
	case has[wire.ScriptPending]:
		return int(wire.ScriptPending)
	case has[wire.ScriptAborted]:
		return int(wire.ScriptAborted)
	case has[wire.ScriptFailed] || has[wire.ScriptFailedApplyingNetconf] || has[wire.ScriptFailedInstalling] || has[wire.ScriptTimedOut]:
		return int(wire.ScriptFailed)
	case has[wire.ScriptDegraded]:
		return int(wire.ScriptDegraded)
	}
	return int(wire.ScriptPassed)
}
