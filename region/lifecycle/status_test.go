package lifecycle

import (
	"testing"

	"maasgo/region/store"
	"maasgo/wire"
)

func TestOverallStatus(t *testing.T) {
	r := func(st wire.ScriptStatus, suppressed bool) store.ScriptResult {
		return store.ScriptResult{Status: st, Suppressed: suppressed}
	}
	for _, tc := range []struct {
		name string
		rs   []store.ScriptResult
		want int
	}{
		{"none", nil, -1},
		{"passed", []store.ScriptResult{r(wire.ScriptPassed, false)}, int(wire.ScriptPassed)},
		{"running beats pending", []store.ScriptResult{r(wire.ScriptPending, false), r(wire.ScriptInstalling, false)}, int(wire.ScriptRunning)},
		{"pending beats failed", []store.ScriptResult{r(wire.ScriptFailed, false), r(wire.ScriptPending, false)}, int(wire.ScriptPending)},
		{"aborted beats failed", []store.ScriptResult{r(wire.ScriptTimedOut, false), r(wire.ScriptAborted, false)}, int(wire.ScriptAborted)},
		{"a timeout is a failure", []store.ScriptResult{r(wire.ScriptTimedOut, false), r(wire.ScriptDegraded, false)}, int(wire.ScriptFailed)},
		{"degraded beats passed", []store.ScriptResult{r(wire.ScriptPassed, false), r(wire.ScriptDegraded, false)}, int(wire.ScriptDegraded)},
		{"suppressed failures are ignored", []store.ScriptResult{r(wire.ScriptPassed, false), r(wire.ScriptFailed, true)}, int(wire.ScriptPassed)},
	} {
		if got := OverallStatus(tc.rs); got != tc.want {
			t.Errorf("%s: %d; want %d", tc.name, got, tc.want)
		}
	}
}
