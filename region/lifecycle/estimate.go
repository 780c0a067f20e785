package lifecycle

import (
	"errors"
	"slices"
	"sync"
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
	for _, r := range rs {
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
func (rt *Runtimes) RunETA(tx *store.Tx, m *store.Machine, now time.Time) (*time.Time, error) {
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
	expected, err := rt.Expected(tx, m, names, sets[0])
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

// Runtimes says how long scripts are expected to take (run estimates). It remembers the
// runtimes of machine classes (architecture, CPU count, memory) for a while, so that a fleet
// of alike machines asks the database once, not once per machine; a nil *Runtimes remembers
// nothing.
type Runtimes struct {
	mu    sync.Mutex
	peers map[peerKey]peerEntry
}

type peerKey struct {
	arch   string
	cpus   int
	memory int64
	script string
}

type peerEntry struct {
	median time.Duration
	at     time.Time
}

// peerTTL is how long a class's runtime is remembered; maxPeers bounds the entries kept.
const (
	peerTTL    = 30 * time.Second
	noPeersTTL = 5 * time.Second
	maxPeers   = 10000
)

// Expected gives, for each named script that ran before, how long it is expected to take on
// m: its runtime on m in a set older than beforeSet, else the median of its recent runtimes
// on machines like m.
func (rt *Runtimes) Expected(tx *store.Tx, m *store.Machine, names []string, beforeSet int64) (map[string]time.Duration, error) {
	out, err := tx.LastRuntimes(m.ID, names, beforeSet)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	var rest []string
	for _, n := range names {
		if _, ok := out[n]; ok {
			continue
		}
		if d, ok := rt.remembered(m, n, now); ok {
			if d >= 0 {
				out[n] = d
			}
			continue
		}
		rest = append(rest, n)
	}
	if len(rest) == 0 {
		return out, nil
	}
	peers, err := tx.PeerRuntimes(m, rest)
	if err != nil {
		return nil, err
	}
	for _, n := range rest {
		ds := peers[n]
		if len(ds) == 0 {
			rt.remember(m, n, -1, now) // none yet
			continue
		}
		slices.Sort(ds)
		out[n] = ds[len(ds)/2]
		rt.remember(m, n, out[n], now)
	}
	return out, nil
}

func (rt *Runtimes) remembered(m *store.Machine, script string, now time.Time) (time.Duration, bool) {
	if rt == nil {
		return 0, false
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	e, ok := rt.peers[peerKey{m.Architecture, m.CPUCount, m.Memory, script}]
	ttl := peerTTL
	if e.median < 0 {
		// None found: asked again soon, when the class's first machines may have finished.
		ttl = noPeersTTL
	}
	if !ok || now.Sub(e.at) > ttl {
		return 0, false
	}
	return e.median, true
}

// remember keeps a class's median, or -1 for none found yet.
func (rt *Runtimes) remember(m *store.Machine, script string, d time.Duration, now time.Time) {
	if rt == nil {
		return
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.peers == nil || len(rt.peers) >= maxPeers {
		rt.peers = map[peerKey]peerEntry{}
	}
	rt.peers[peerKey{m.Architecture, m.CPUCount, m.Memory, script}] = peerEntry{median: d, at: now}
}
