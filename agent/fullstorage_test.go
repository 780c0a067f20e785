package agent_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"maasgo/agent"
	"maasgo/agent/agenttest"
	"maasgo/internal/smallfs"
	"maasgo/wire"
)

// TestFullStorage runs a script that prints more than the storage directory (a 256 KiB
// tmpfs) holds, then scripts that print a line each into the full directory. No result is a
// silent pass: each is failed, its signal says the output could not be kept and why, the
// final FAILED names them, and the run fails. The journal's reserve still records and
// delivers every signal (the records of the scripts after the first need more room than the
// log's last page has).
func TestFullStorage(t *testing.T) {
	storage := smallfs.Mount(t, "256k")
	f := agenttest.NewFake(t)
	scripts := []agenttest.Script{{Body: agenttest.NewScript("t-big", wire.ScriptTypeTesting, "",
		`head -c 1000000 /dev/zero | tr '\0' x; echo done`)}}
	for i := 0; i < 8; i++ {
		scripts = append(scripts, agenttest.Script{Body: agenttest.NewScript(fmt.Sprintf("t-more-%d", i), wire.ScriptTypeTesting, "", "echo a line")})
	}
	f.Offer(t, scripts...)
	h := agenttest.NewHarness(t, f)
	h.Agent.StorageDir = storage
	sum, err := h.Run(t)
	if !errors.Is(err, agent.ErrScriptsFailed) {
		t.Fatalf("run: %v; want ErrScriptsFailed", err)
	}
	for _, oc := range sum.Outcomes {
		if !oc.OutputLost || oc.Status != wire.ScriptFailed {
			t.Errorf("outcome %+v; want failed, its output lost", oc)
		}
	}
	if len(sum.Outcomes) != 9 {
		t.Fatalf("%d outcomes; want 9", len(sum.Outcomes))
	}
	if sum.Unsent != 0 || sum.Unrecorded != 0 || sum.Final != wire.SignalFailed {
		t.Errorf("%d unsent, %d unrecorded, final %q; want every signal delivered, FAILED", sum.Unsent, sum.Unrecorded, sum.Final)
	}
	var finished, final agenttest.Received
	for _, r := range f.Received() {
		switch {
		case r.Get("script_result_id") == "1" && r.Get("exit_status") != "":
			finished = r
		case r.Get("status") == wire.SignalFailed:
			final = r
		}
	}
	if msg := finished.Get("error"); !strings.Contains(msg, "its output could not be kept") || !strings.Contains(msg, "no space left on device") ||
		finished.Get("exit_status") != "1" {
		t.Errorf("the result's signal: exit %s, error %q; want exit 1 and the reason", finished.Get("exit_status"), msg)
	}
	if msg := final.Get("error"); !strings.HasPrefix(msg, "9 test scripts failed to run; the output of t-big, t-more-0, ") {
		t.Errorf("final FAILED %q", msg)
	}
	for _, res := range f.Results(t) {
		if res.Status != wire.ScriptFailed || res.Stores != 1 {
			t.Errorf("the region has %s %s, stored %d times; want failed, once", res.Name, res.Status.Label(), res.Stores)
		}
	}
	if st := f.NodeStatus(t); st != wire.NodeFailedTesting {
		t.Errorf("node %s", st.Label())
	}
	out := h.Out.String()
	for _, w := range []string{"t-big ... failed: output not kept (exit 0)", "The output of 9 scripts could not be kept"} {
		if !strings.Contains(out, w) {
			t.Errorf("the console lacks %q", w)
		}
	}
	if !strings.Contains(h.Log.String(), "the output of a script could not be kept") {
		t.Errorf("the log does not say the output was lost")
	}
}

// TestJournalUnwritable breaks the journal in the middle of a run (the script replaces its
// files directory with a file): the result cannot be recorded, and the run must not claim
// that its results are delivered.
func TestJournalUnwritable(t *testing.T) {
	f := agenttest.NewFake(t)
	f.Offer(t, agenttest.Script{Body: agenttest.NewScript("t-breaker", wire.ScriptTypeTesting, "",
		`j="$(dirname "$MAAS_RESOURCES_FILE")/journal"; rm -rf "$j/files"; : > "$j/files"; echo broke it`)})
	h := agenttest.NewHarness(t, f)
	sum, err := h.Run(t)
	if err == nil || !strings.Contains(err.Error(), "record r0/testing/1/finish: journal: ") {
		t.Fatalf("run: %v; want the failed record named", err)
	}
	if sum.Unrecorded != 1 {
		t.Errorf("%d unrecorded; want the result's signal", sum.Unrecorded)
	}
	out := h.Out.String()
	if strings.Contains(out, "All results are delivered") || !strings.Contains(out, "1 signals could not be recorded in the journal, so are not delivered") {
		t.Errorf("the summary claims delivery of what was not recorded:\n%s", out)
	}
}
