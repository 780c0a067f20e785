package agent

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"maasgo/wire"
)

// statusWords is how a progress line names an outcome.
func statusWords(oc Outcome) string {
	switch oc.Status {
	case wire.ScriptPassed:
		return "passed"
	case wire.ScriptFailed:
		if oc.OutputLost {
			return fmt.Sprintf("failed: output not kept (exit %d)", oc.ExitStatus)
		}
		if oc.ExitStatus == 2 && strings.HasPrefix(oc.Note, "Unable to") {
			return "could not run"
		}
		return fmt.Sprintf("failed (exit %d)", oc.ExitStatus)
	case wire.ScriptTimedOut:
		return "timed out"
	case wire.ScriptDegraded:
		return "degraded"
	case wire.ScriptSkipped:
		return "skipped"
	case wire.ScriptFailedInstalling:
		return fmt.Sprintf("failed installing packages (exit %d)", oc.ExitStatus)
	case wire.ScriptFailedApplyingNetconf:
		return "failed to apply the network configuration"
	}
	return strings.ToLower(oc.Status.Label())
}

// FormatRuntime renders a duration for a person: "0.3 s", "12.0 s", "2m5s".
func FormatRuntime(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// progress prints the line of a finished script: "[3/15] maas-lshw ... passed in 1.2 s", and
// how long the phase has left when the region gave every script left an estimate.
func (r *run) progress(pc *phaseCtx, s *Script, oc Outcome) {
	name := s.Name
	if s.ScriptResultID != nil && s.Parallel == wire.ParallelInstance {
		name = fmt.Sprintf("%s (id: %d)", s.Name, *s.ScriptResultID)
	}
	line := fmt.Sprintf("[%d/%d] %s ... %s", s.Pos, s.Of, name, statusWords(oc))
	if oc.Runtime > 0 || oc.Status == wire.ScriptPassed {
		line += " in " + FormatRuntime(oc.Runtime)
	}
	if oc.Note != "" {
		line += ": " + oc.Note
	}
	if left, ok := r.remaining(pc, s); ok && left > 0 {
		line += fmt.Sprintf(" (about %s left in %s)", FormatRuntime(left), pc.phase.Name())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintln(r.a.Out, line)
}

// printSummary prints the end-of-run summary.
func (r *run) printSummary(sum Summary, err error) {
	out := r.a.Out
	counts := map[string]int{}
	var order []string
	for _, oc := range sum.Outcomes {
		w := strings.SplitN(statusWords(oc), " (", 2)[0]
		if counts[w] == 0 {
			order = append(order, w)
		}
		counts[w]++
	}
	sort.Strings(order)
	parts := make([]string, 0, len(order))
	for _, w := range order {
		parts = append(parts, fmt.Sprintf("%d %s", counts[w], w))
	}
	fmt.Fprintf(out, "\nSummary: %d scripts", len(sum.Outcomes))
	if len(parts) > 0 {
		fmt.Fprintf(out, ": %s", strings.Join(parts, ", "))
	}
	resumed := 0
	for _, oc := range sum.Outcomes {
		if oc.Resumed {
			resumed++
		}
	}
	if resumed > 0 {
		fmt.Fprintf(out, "; %d recorded before this resume", resumed)
	}
	fmt.Fprintf(out, " (%s)\n", FormatRuntime(sum.Elapsed))
	for _, oc := range sum.Outcomes {
		if oc.Failed() {
			fmt.Fprintf(out, "  %s %s: output in %s\n", oc.Name, statusWords(oc), oc.OutDir)
		}
	}
	lost := 0
	for _, oc := range sum.Outcomes {
		if oc.OutputLost {
			lost++
		}
	}
	if lost > 0 {
		fmt.Fprintf(out, "The output of %d scripts could not be kept (is %s full?); their results are reported failed.\n", lost, r.a.StorageDir)
	}
	switch {
	case sum.Unrecorded > 0:
		fmt.Fprintf(out, "%d signals could not be recorded in the journal, so are not delivered; %d recorded ones are not delivered yet.\n",
			sum.Unrecorded, sum.Unsent)
	case r.a.NoSend && r.a.Held != "":
		fmt.Fprintf(out, "Results are held (%s): %d signals are kept in %s.\n", r.a.Held, sum.Unsent, r.dir)
	case r.a.NoSend:
		fmt.Fprintf(out, "Results are not sent (--no-send): %d signals are kept in %s; `maas-run-scripts send %s` uploads them.\n",
			sum.Unsent, r.dir, r.a.StorageDir)
	case sum.Unsent > 0:
		fmt.Fprintf(out, "%d signals are not delivered yet; `maas-run-scripts send %s` uploads them.\n", sum.Unsent, r.a.StorageDir)
	default:
		fmt.Fprintln(out, "All results are delivered.")
	}
	switch {
	case errors.Is(err, ErrScriptsRefused):
		fmt.Fprintf(out, "No script ran: %v.\n", err)
	case err != nil && !errors.Is(err, ErrScriptsFailed):
		fmt.Fprintf(out, "The run stopped early (%v); `maas-run-scripts resume %s` finishes it.\n", err, r.a.StorageDir)
	}
}

// remaining is how long the phase should still take once s is done: the batches run one after
// another, each as long as its longest unfinished script (the region's estimated_runtime from
// earlier runs), the running one less what it has run. ok is false when a script left has no
// estimate.
func (r *run) remaining(pc *phaseCtx, done *Script) (time.Duration, bool) {
	if pc == nil || len(pc.plan) == 0 {
		return 0, false
	}
	var total time.Duration
	for i := pc.batch; i < len(pc.plan); i++ {
		var longest time.Duration
		for _, s := range pc.plan[i].Scripts {
			if s == done {
				continue
			}
			if _, finished := r.recorded(pc, s); finished {
				continue
			}
			if s.EstimatedSeconds <= 0 {
				return 0, false
			}
			longest = max(longest, time.Duration(s.EstimatedSeconds*float64(time.Second)))
		}
		if i == pc.batch {
			longest = max(0, longest-time.Since(pc.batchStart))
		}
		total += longest
	}
	return total, true
}
