package lifecycle

import (
	"errors"
	"slices"
	"time"

	"maasgo/region/store"
	"maasgo/wire"
)

// DefaultScriptEstimate is what a script without a known runtime or a timeout is expected
// to take.
const DefaultScriptEstimate = time.Minute

// RunScript is one result of a run as the estimate sees it: how the runner batches it, where
// it stands, and how long it is expected to take.
type RunScript struct {
	Name     string
	Parallel wire.Parallel
	Netconf  bool // applies the configured networking (the runner pools those apart)
	Status   wire.ScriptStatus
	Started  *time.Time
	Expected time.Duration
}

// Remaining is how long the unfinished part of a run should take from now. The scripts are
// batched as the runner batches them (agent.Plan: each serial script alone, each instance
// group together, the "any" pool in two batches, without and with configured networking);
// batches run one after another and a batch lasts as long as its longest script. A running
// script is expected to take what is left of its expected time; one past it, no more.
func Remaining(rs []RunScript, now time.Time) time.Duration {
	type key struct {
		kind int
		name string
	}
	batches := map[key]time.Duration{}
	var total time.Duration
	for i, r := range rs {
		var left time.Duration
		switch {
		case !r.Status.Unfinished():
			continue
		case r.Status.Running() && r.Started != nil:
			left = max(0, r.Expected-now.Sub(*r.Started))
		default:
			left = r.Expected
		}
		var k key
		switch r.Parallel {
		case wire.ParallelInstance:
			k = key{1, r.Name}
		case wire.ParallelAny:
			k = key{2, ""}
			if r.Netconf {
				k = key{3, ""}
			}
		default:
			total += left // alone in its batch
			_ = i
			continue
		}
		batches[k] = max(batches[k], left)
	}
	for _, d := range batches {
		total += d
	}
	return total
}

// RunETA estimates when the machine's current commissioning or testing run ends: nil when
// the machine is not commissioning or testing. Each script is expected to take what it took
// on this machine last time, else the median on machines with the same CPU count, memory and
// architecture, else its timeout, else DefaultScriptEstimate.
func RunETA(tx *store.Tx, m *store.Machine, now time.Time) (*time.Time, error) {
	var sets []int64
	switch m.Status {
	case wire.NodeCommissioning:
		for _, id := range []*int64{m.CurrentCommissioningSet, m.CurrentTestingSet} {
			if id != nil {
				sets = append(sets, *id)
			}
		}
	case wire.NodeTesting:
		if m.CurrentTestingSet != nil {
			sets = append(sets, *m.CurrentTestingSet)
		}
	}
	if len(sets) == 0 {
		return nil, nil
	}
	rs, err := tx.ScriptResults(sets, false)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, r := range rs {
		if r.Status.Unfinished() && !slices.Contains(names, r.ScriptName) {
			names = append(names, r.ScriptName)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	expected, err := ExpectedRuntimes(tx, m, names, sets[0])
	if err != nil {
		return nil, err
	}
	scripts := map[int64]*store.Script{}
	var run []RunScript
	for _, r := range rs {
		rsc := RunScript{Name: r.ScriptName, Status: r.Status, Started: r.Started, Expected: DefaultScriptEstimate}
		if r.ScriptID != nil {
			s, ok := scripts[*r.ScriptID]
			if !ok {
				s, err = tx.ScriptByID(*r.ScriptID)
				if errors.Is(err, store.ErrNotFound) {
					s, err = nil, nil
				} else if err != nil {
					return nil, err
				}
				scripts[*r.ScriptID] = s
			}
			if s != nil {
				rsc.Parallel, rsc.Netconf = s.Parallel, s.ApplyConfiguredNetworking
				if s.Timeout > 0 {
					rsc.Expected = s.Timeout
				}
			}
		}
		if d, ok := expected[r.ScriptName]; ok {
			rsc.Expected = d
		}
		run = append(run, rsc)
	}
	eta := now.Add(Remaining(run, now)).UTC().Truncate(time.Second)
	return &eta, nil
}

// ExpectedRuntimes gives, for each named script that ran before, how long it is expected to
// take on m: its runtime on m in a set older than beforeSet, else the median of its recent
// runtimes on machines like m.
func ExpectedRuntimes(tx *store.Tx, m *store.Machine, names []string, beforeSet int64) (map[string]time.Duration, error) {
	out, err := tx.LastRuntimes(m.ID, names, beforeSet)
	if err != nil {
		return nil, err
	}
	var rest []string
	for _, n := range names {
		if _, ok := out[n]; !ok {
			rest = append(rest, n)
		}
	}
	if len(rest) == 0 {
		return out, nil
	}
	peers, err := tx.PeerRuntimes(m, rest)
	if err != nil {
		return nil, err
	}
	for n, ds := range peers {
		slices.Sort(ds)
		out[n] = ds[len(ds)/2]
	}
	return out, nil
}
